//! The fake 1Password Connect server answers as Connect's API reference says.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqflo_fakes::onepassword::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn sample() -> FakeConnect {
    FakeConnect::spawn(ConnectData::sample("sk_test_cred", "whsec_sign"))
        .await
        .unwrap()
}

/// GET `path` with `token`; the status and the JSON body (Null if not JSON).
async fn get(fake: &FakeConnect, token: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", fake.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The field of `item` whose ID is `id`.
fn field(item: &Value, id: &str) -> Value {
    item["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap()
        .clone()
}

fn names(vaults: &Value) -> Vec<&str> {
    vaults
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn lists_vaults_and_filters_by_name_as_written() {
    let fake = sample().await;
    let (status, all) = get(&fake, Some(FULL_TOKEN), "/v1/vaults").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&all), ["Payments", "Ops"]);
    assert_eq!(all[0]["id"], PAYMENTS_VAULT_ID);
    assert_eq!(all[0]["items"], 1);
    assert_eq!(all[0]["type"], "USER_CREATED");

    // `+` and percent-encoding both decode; `eq` minds case, as Connect's
    // does (the provider lists and compares without case itself).
    let (_, found) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/vaults?filter=name+eq+%22Payments%22",
    )
    .await;
    assert_eq!(names(&found), ["Payments"]);
    let (_, other_case) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/vaults?filter=name+eq+%22pAYMENTS%22",
    )
    .await;
    assert_eq!(other_case, json!([]));
    let (_, none) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/vaults?filter=name%20eq%20%22Pay%22",
    )
    .await;
    assert_eq!(none, json!([]));

    // A scoped token sees only its vaults.
    let (_, scoped) = get(&fake, Some(PAYMENTS_ONLY_TOKEN), "/v1/vaults").await;
    assert_eq!(names(&scoped), ["Payments"]);

    for bad in ["name+ne+%22Ops%22", "title+eq+%22Ops%22", "name+eq+Ops", ""] {
        let (status, body) =
            get(&fake, Some(FULL_TOKEN), &format!("/v1/vaults?filter={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body, json!({"status": 400, "message": "Invalid filter"}));
    }
}

#[tokio::test]
async fn lists_item_summaries_by_title_and_tag() {
    let fake = sample().await;
    let path = format!("/v1/vaults/{PAYMENTS_VAULT_ID}/items");
    let (status, items) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(status, StatusCode::OK);
    let summary = &items[0];
    assert_eq!(summary["id"], STRIPE_ITEM_ID);
    assert_eq!(summary["title"], STRIPE_ITEM_TITLE);
    assert_eq!(summary["vault"]["id"], PAYMENTS_VAULT_ID);
    assert_eq!(summary["category"], "API_CREDENTIAL");
    for detail in ["fields", "sections", "files", "state"] {
        assert!(summary.get(detail).is_none(), "{detail}");
    }

    let stripe = json!([summary]);
    let by_title = format!("{path}?filter=title+eq+%22Stripe+Sandbox%22");
    assert_eq!(get(&fake, Some(FULL_TOKEN), &by_title).await.1, stripe);
    let other_case = format!("{path}?filter=title+eq+%22stripe+sandbox%22");
    assert_eq!(get(&fake, Some(FULL_TOKEN), &other_case).await.1, json!([]));
    let by_tag = format!("{path}?filter=tag%20eq%20%22stripe%22");
    assert_eq!(get(&fake, Some(FULL_TOKEN), &by_tag).await.1, stripe);
    let other = format!("{path}?filter=title+eq+%22Deploy+Key%22");
    assert_eq!(get(&fake, Some(FULL_TOKEN), &other).await.1, json!([]));
    let bad = format!("{path}?filter=name+eq+%22x%22");
    assert_eq!(
        get(&fake, Some(FULL_TOKEN), &bad).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn returns_the_full_item_by_id() {
    let fake = sample().await;
    let path = format!("/v1/vaults/{PAYMENTS_VAULT_ID}/items/{STRIPE_ITEM_ID}");
    let (status, item) = get(&fake, Some(PAYMENTS_ONLY_TOKEN), &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        item["sections"],
        json!([{"id": WEBHOOKS_SECTION_ID, "label": "Webhooks"}])
    );
    let stripe_field = |id: &str| field(&item, id);
    assert_eq!(
        stripe_field(CREDENTIAL_FIELD_ID),
        json!({"id": "credential", "type": "CONCEALED", "label": "credential", "value": "sk_test_cred"})
    );
    let signing = stripe_field(SIGNING_FIELD_ID);
    assert_eq!(signing["value"], "whsec_sign");
    assert_eq!(signing["label"], SIGNING_FIELD_LABEL);
    assert_eq!(signing["section"]["id"], WEBHOOKS_SECTION_ID);
    assert_eq!(stripe_field(USERNAME_FIELD_ID)["value"], STRIPE_USERNAME);

    let deploy = format!("/v1/vaults/{OPS_VAULT_ID}/items/{DEPLOY_ITEM_ID}");
    let (_, item) = get(&fake, Some(FULL_TOKEN), &deploy).await;
    let password = field(&item, PASSWORD_FIELD_ID);
    assert_eq!(password["value"], DEPLOY_PASSWORD_VALUE);
    assert_eq!(password["purpose"], "PASSWORD");
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn otp_fields_carry_their_uri_and_current_code_unless_told_not_to() {
    let fake = sample().await;
    let deploy = format!("/v1/vaults/{OPS_VAULT_ID}/items/{DEPLOY_ITEM_ID}");
    let otp = |item: &Value| field(item, DEPLOY_OTP_FIELD_ID);
    let before = unix_now();
    let (status, item) = get(&fake, Some(FULL_TOKEN), &deploy).await;
    let after = unix_now();
    assert_eq!(status, StatusCode::OK);
    let one_time = otp(&item);
    assert_eq!(one_time["type"], "OTP");
    assert_eq!(one_time["label"], DEPLOY_OTP_LABEL);
    let uri = one_time["value"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(
        uri.contains(&format!("secret={DEPLOY_OTP_SECRET}")),
        "{uri}"
    );
    // The code of the moment the fake answered, between the two readings.
    let code = one_time["totp"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    let candidates = [before, after].map(|t| totp_code(uri, t).unwrap());
    assert!(
        candidates.contains(&code.to_string()),
        "{code} vs {candidates:?}"
    );
    // Only OTP fields get one.
    assert!(field(&item, PASSWORD_FIELD_ID).get("totp").is_none());

    // As Connect before 1.4.0: the URI alone.
    fake.set_totp_codes(false);
    let (_, item) = get(&fake, Some(FULL_TOKEN), &deploy).await;
    assert!(otp(&item).get("totp").is_none(), "{item}");
    assert_eq!(otp(&item)["value"], uri);
}

#[test]
fn totp_codes_follow_rfc_6238_appendix_b() {
    // The seeds: "1234567890" repeated to 20, 32 and 64 bytes.
    let seed = |bytes: usize| {
        let ascii: Vec<u8> = b"1234567890".iter().copied().cycle().take(bytes).collect();
        data_encoding::BASE32_NOPAD.encode(&ascii)
    };
    let uri = |algorithm: &str, bytes: usize| {
        format!(
            "otpauth://totp/RFC?secret={}&algorithm={algorithm}&digits=8",
            seed(bytes)
        )
    };
    let cases = [
        (59, "94287082", "46119246", "90693936"),
        (1111111109, "07081804", "68084774", "25091201"),
        (1111111111, "14050471", "67062674", "99943326"),
        (1234567890, "89005924", "91819424", "93441116"),
        (2000000000, "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ];
    for (time, sha1, sha256, sha512) in cases {
        assert_eq!(totp_code(&uri("SHA1", 20), time).unwrap(), sha1);
        assert_eq!(totp_code(&uri("SHA256", 32), time).unwrap(), sha256);
        assert_eq!(totp_code(&uri("SHA512", 64), time).unwrap(), sha512);
    }
    // Defaults: SHA1, 6 digits, 30 s; the sample's is RFC 6238's SHA-1 seed.
    assert_eq!(totp_code(DEPLOY_OTP_SECRET, 59).unwrap(), "287082");
    let sample = format!("otpauth://totp/Ops:deploy?secret={DEPLOY_OTP_SECRET}&issuer=Ops");
    assert_eq!(totp_code(&sample, 59).unwrap(), "287082");
    for bad in [
        "otpauth://hotp/x?secret=GEZDGNBV",
        "otpauth://totp/x?issuer=Ops",
        "otpauth://totp/x?secret=not+base32!",
        "otpauth://totp/x?secret=GEZDGNBV&algorithm=MD5",
        "otpauth://totp/x?secret=GEZDGNBV&period=0",
    ] {
        assert_eq!(totp_code(bad, 59), None, "{bad}");
    }
}

#[tokio::test]
async fn archived_items_are_listed_with_their_state_and_read_by_id() {
    let fake = sample().await;
    let path = format!("/v1/vaults/{PAYMENTS_VAULT_ID}/items");
    let (_, items) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(items[1]["id"], LEGACY_ITEM_ID);
    assert_eq!(items[1]["state"], "ARCHIVED");
    assert!(items[1].get("fields").is_none());
    let by_title = format!("{path}?filter=title+eq+%22Stripe+Legacy%22");
    assert_eq!(
        get(&fake, Some(FULL_TOKEN), &by_title).await.1,
        json!([items[1]])
    );

    let (status, legacy) = get(&fake, Some(FULL_TOKEN), &format!("{path}/{LEGACY_ITEM_ID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(legacy["state"], "ARCHIVED");
    assert_eq!(legacy["fields"][0]["value"], LEGACY_CREDENTIAL);

    // The vault counts its active items only.
    let vault = format!("/v1/vaults/{PAYMENTS_VAULT_ID}");
    assert_eq!(get(&fake, Some(FULL_TOKEN), &vault).await.1["items"], 1);
}

/// GET `path` with `token`: the status, the content type and the raw body.
async fn get_bytes(fake: &FakeConnect, token: &str, path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", fake.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn serves_files_in_the_item_and_their_content_raw() {
    let fake = sample().await;
    let item = format!("/v1/vaults/{PAYMENTS_VAULT_ID}/items/{STRIPE_ITEM_ID}");
    let content_path = format!("{item}/files/{STRIPE_FILE_ID}/content");
    let (_, stripe) = get(&fake, Some(FULL_TOKEN), &item).await;
    assert_eq!(
        stripe["files"],
        json!([{
            "id": STRIPE_FILE_ID,
            "name": STRIPE_FILE_NAME,
            "size": "sk_test_cred".len(),
            "content_path": content_path,
        }])
    );

    let (status, kind, bytes) = get_bytes(&fake, PAYMENTS_ONLY_TOKEN, &content_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/octet-stream");
    assert_eq!(bytes, b"sk_test_cred");

    let missing = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (path, message) in [
        (format!("{item}/files/{missing}/content"), "file not found"),
        (
            format!(
                "/v1/vaults/{PAYMENTS_VAULT_ID}/items/{missing}/files/{STRIPE_FILE_ID}/content"
            ),
            "item not found",
        ),
    ] {
        assert_eq!(
            get(&fake, Some(FULL_TOKEN), &path).await,
            (
                StatusCode::NOT_FOUND,
                json!({"status": 404, "message": message})
            ),
            "{path}"
        );
    }
    assert_eq!(
        get(&fake, None, &content_path).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = get(
        &fake,
        Some(PAYMENTS_ONLY_TOKEN),
        &format!("/v1/vaults/{OPS_VAULT_ID}/items/{DEPLOY_ITEM_ID}/files/{missing}/content"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Content that is not base64 in the data is the fake's fault: 500.
    let mut data = ConnectData::sample("a", "b");
    data.vaults[0].items[0]["files"][0]["content"] = json!("not base64!");
    let broken = FakeConnect::spawn(data).await.unwrap();
    assert_eq!(
        get(&broken, Some(FULL_TOKEN), &content_path).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn every_v1_route_needs_a_known_token() {
    let fake = sample().await;
    let unauthorized = json!({"status": 401, "message": "Invalid token signature"});
    for path in [
        "/v1/vaults".to_string(),
        format!("/v1/vaults/{PAYMENTS_VAULT_ID}"),
        format!("/v1/vaults/{PAYMENTS_VAULT_ID}/items"),
        format!("/v1/vaults/{PAYMENTS_VAULT_ID}/items/{STRIPE_ITEM_ID}"),
        "/v1/no-such-route".to_string(),
    ] {
        for token in [None, Some("wrong-token")] {
            let (status, body) = get(&fake, token, &path).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token:?}");
            assert_eq!(body, unauthorized);
        }
    }

    // Health routes need none; unknown routes are 404 JSON.
    let response = reqwest::get(format!("{}/heartbeat", fake.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), ".");
    let (status, health) = get(&fake, None, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["name"], "1Password Connect API (fake)");
    let (status, body) = get(&fake, Some(FULL_TOKEN), "/v1/elsewhere").await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::NOT_FOUND, &json!(404))
    );
    assert_eq!(get(&fake, None, "/nowhere").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scoped_token_is_denied_other_vaults() {
    let fake = sample().await;
    let denied = json!({"status": 403, "message": "Authorization: Access denied"});
    for path in [
        format!("/v1/vaults/{OPS_VAULT_ID}"),
        format!("/v1/vaults/{OPS_VAULT_ID}/items"),
        format!("/v1/vaults/{OPS_VAULT_ID}/items/{DEPLOY_ITEM_ID}"),
        format!("/v1/vaults/{OPS_VAULT_ID}/items/{STRIPE_ITEM_ID}"),
    ] {
        let (status, body) = get(&fake, Some(PAYMENTS_ONLY_TOKEN), &path).await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, denied.clone()),
            "{path}"
        );
    }
    let (status, vault) = get(
        &fake,
        Some(PAYMENTS_ONLY_TOKEN),
        &format!("/v1/vaults/{PAYMENTS_VAULT_ID}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(vault["name"], PAYMENTS_VAULT_NAME);
}

#[tokio::test]
async fn unknown_vault_or_item_is_404() {
    let fake = sample().await;
    let no_vault = json!({"status": 404, "message": "vault not found"});
    let missing = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    for path in [
        format!("/v1/vaults/{missing}"),
        format!("/v1/vaults/{missing}/items"),
        format!("/v1/vaults/{missing}/items/{STRIPE_ITEM_ID}"),
    ] {
        assert_eq!(
            get(&fake, Some(FULL_TOKEN), &path).await,
            (StatusCode::NOT_FOUND, no_vault.clone()),
            "{path}"
        );
    }
    // An item of another vault is not in this one.
    let path = format!("/v1/vaults/{PAYMENTS_VAULT_ID}/items/{DEPLOY_ITEM_ID}");
    assert_eq!(
        get(&fake, Some(FULL_TOKEN), &path).await,
        (
            StatusCode::NOT_FOUND,
            json!({"status": 404, "message": "item not found"})
        )
    );
}

#[tokio::test]
async fn logs_every_request_in_order_with_its_raw_query() {
    let fake = sample().await;
    get(&fake, None, "/v1/vaults?filter=name+eq+%22Ops%22").await;
    get(
        &fake,
        Some(FULL_TOKEN),
        &format!("/v1/vaults/{OPS_VAULT_ID}/items"),
    )
    .await;
    get(&fake, None, "/heartbeat").await;
    assert_eq!(
        fake.requests(),
        [
            "GET /v1/vaults?filter=name+eq+%22Ops%22".to_string(),
            format!("GET /v1/vaults/{OPS_VAULT_ID}/items"),
            "GET /heartbeat".to_string(),
        ]
    );
}

#[tokio::test]
async fn delay_holds_back_every_response() {
    let fake = sample().await;
    fake.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = get(&fake, None, "/v1/vaults").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A sleep never ends early: a lower bound is no race.
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Back to zero: the fake says it held the next response back by nothing
    // (no upper bound on a clock, which a loaded machine can exceed).
    fake.set_delay(Duration::ZERO);
    let (status, _) = get(&fake, None, "/heartbeat").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        fake.delays(),
        [Duration::from_millis(300), Duration::ZERO],
        "{:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn redirect_answers_307_to_the_same_path_and_query() {
    let fake = sample().await;
    fake.set_redirect(Some("http://elsewhere.invalid:9".to_string()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/v1/vaults?filter=name+eq+%22Ops%22", "/heartbeat"] {
        let response = client
            .get(format!("{}{path}", fake.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            response.headers()["location"],
            format!("http://elsewhere.invalid:9{path}").as_str()
        );
    }
    fake.set_redirect(None);
    assert_eq!(
        get(&fake, Some(FULL_TOKEN), "/v1/vaults").await.0,
        StatusCode::OK
    );

    // Dropping the fake stops it.
    let url = fake.url();
    drop(fake);
    assert!(reqwest::get(format!("{url}/heartbeat")).await.is_err());
}

#[test]
fn binary_serves_the_sample_and_refuses_bad_data() {
    let binary = env!("CARGO_BIN_EXE_fake-onepassword-connect");
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("fake 1Password Connect listening on ")
        .unwrap()
        .to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let vaults: Value = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/v1/vaults"))
            .bearer_auth(FULL_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(names(&vaults), ["Payments", "Ops"]);

    let dir = std::env::temp_dir().join(format!("fake-op-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"vaults\": 3}").unwrap();
    for data in [bad.as_path(), dir.join("missing.json").as_path()] {
        let output = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
