//! The fake Secret Manager answers as Google's REST v1 reference says.

use std::time::{Duration, Instant};

use reqflo_fakes::gcp::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: &str = "sk_test_fake/Key+1=";

fn sample() -> FakeSecretManager {
    FakeSecretManager::spawn(SecretManagerData::sample(KEY)).unwrap()
}

/// GET `path` with `token`; the status and the JSON body (Null if not JSON).
async fn get(fake: &FakeSecretManager, token: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", fake.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn access(project: &str, secret: &str, version: &str) -> String {
    format!("/v1/projects/{project}/secrets/{secret}/versions/{version}:access")
}

/// The regional `:access` path of `version` of `secret` in `location`.
fn regional_access(project: &str, location: &str, secret: &str, version: &str) -> String {
    format!(
        "/v1/projects/{project}/locations/{location}/secrets/{secret}/versions/{version}:access"
    )
}

/// The sample, with regional secrets: `eu-key` in europe-west1 (v1 `eu_v1`,
/// alias `prod`; v2 `eu_v2`) and `stripe-key` in us-east1, an ID the sample
/// also has globally.
fn regional_sample() -> FakeSecretManager {
    use VersionState::Enabled;
    let data = SecretManagerData::sample(KEY)
        .regional_secret(
            "europe-west1",
            "eu-key",
            &[("eu_v1", Enabled), ("eu_v2", Enabled)],
        )
        .alias("eu-key", "prod", 1)
        .regional_secret("us-east1", "stripe-key", &[("us_v1", Enabled)]);
    FakeSecretManager::spawn(data).unwrap()
}

/// The JSON of a successful `:access` of version `name` holding `payload`.
fn accessed(name: &str, payload: &str) -> Value {
    let bytes = payload.as_bytes();
    json!({"name": name, "payload": {"data": base64(bytes), "dataCrc32c": crc32c(bytes).to_string()}})
}

fn error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

#[test]
fn crc32c_and_base64_match_their_specifications() {
    // RFC 3720 B.4's check value, and an all-zero block from its test vectors.
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(b""), 0);
    // RFC 4648 section 10.
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
    }
    assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
}

#[tokio::test]
async fn access_returns_the_payload_in_base64_with_its_crc32c() {
    let fake = sample();
    for version in ["latest", "3"] {
        let (status, body) = get(
            &fake,
            Some(FULL_TOKEN),
            &access(SAMPLE_PROJECT_ID, "stripe-key", version),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({
                "name": format!("projects/{SAMPLE_PROJECT_NUMBER}/secrets/stripe-key/versions/3"),
                "payload": {"data": base64(KEY.as_bytes()), "dataCrc32c": crc32c(KEY.as_bytes()).to_string()},
            })
        );
    }
    // By project number too; and the JSON secret holds the key under api_key.
    let path = access(&SAMPLE_PROJECT_NUMBER.to_string(), "stripe-config", "1");
    let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["name"],
        format!("projects/{SAMPLE_PROJECT_NUMBER}/secrets/stripe-config/versions/1")
    );
    let data = body["payload"]["data"].as_str().unwrap();
    let config =
        json!({"api_key": KEY, "account": "acct_fake_0001", "webhook_secret": "whsec_fake_0001"});
    assert_eq!(data, base64(config.to_string().as_bytes()));
}

#[tokio::test]
async fn missing_secrets_and_versions_are_404_in_googles_words() {
    let fake = sample();
    let n = SAMPLE_PROJECT_NUMBER;
    let cases = [
        (
            access(SAMPLE_PROJECT_ID, "nope", "latest"),
            format!("Secret [projects/{n}/secrets/nope] not found or has no versions."),
        ),
        (
            access(SAMPLE_PROJECT_ID, "no-versions", "latest"),
            format!("Secret [projects/{n}/secrets/no-versions] not found or has no versions."),
        ),
        (
            access(SAMPLE_PROJECT_ID, "stripe-key", "4"),
            format!("Secret Version [projects/{n}/secrets/stripe-key/versions/4] not found."),
        ),
    ];
    for (path, message) in cases {
        let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, error(404, "NOT_FOUND", &message), "{path}");
    }
    for bad in ["0", "01", "-1"] {
        let path = access(SAMPLE_PROJECT_ID, "stripe-key", bad);
        let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{bad}");
    }
    // A name is a version alias; one the secret does not define is not found.
    let path = access(SAMPLE_PROJECT_ID, "stripe-key", "x");
    let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
}

#[tokio::test]
async fn regional_secrets_are_read_under_their_location() {
    let fake = regional_sample();
    let n = SAMPLE_PROJECT_NUMBER;
    let eu = format!("projects/{n}/locations/europe-west1/secrets/eu-key");
    for (project, version, answer) in [
        (
            SAMPLE_PROJECT_ID.to_string(),
            "latest",
            accessed(&format!("{eu}/versions/2"), "eu_v2"),
        ),
        (
            n.to_string(),
            "1",
            accessed(&format!("{eu}/versions/1"), "eu_v1"),
        ),
        (
            SAMPLE_PROJECT_ID.to_string(),
            "prod",
            accessed(&format!("{eu}/versions/1"), "eu_v1"),
        ),
    ] {
        let path = regional_access(&project, "europe-west1", "eu-key", version);
        let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, answer, "{path}");
    }
    // One ID, global and in us-east1: two secrets, each at its own route.
    let path = regional_access(SAMPLE_PROJECT_ID, "us-east1", "stripe-key", "latest");
    let (_, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    let us = format!("projects/{n}/locations/us-east1/secrets/stripe-key/versions/1");
    assert_eq!(body, accessed(&us, "us_v1"));
    let path = access(SAMPLE_PROJECT_ID, "stripe-key", "latest");
    let (_, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    let global = format!("projects/{n}/secrets/stripe-key/versions/3");
    assert_eq!(body, accessed(&global, KEY));
    assert_eq!(fake.access_calls(), 5);

    // Metadata routes answer regionally too, without a payload.
    let (status, secret) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/projects/acme-payments/locations/europe-west1/secrets/eu-key",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(secret["name"], eu);
    assert!(secret.get("replication").is_none(), "{secret}");
    let (status, version) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/projects/acme-payments/locations/europe-west1/secrets/eu-key/versions/prod",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["name"], format!("{eu}/versions/1"));
    assert_eq!(version["state"], "ENABLED");
    assert!(version.get("payload").is_none(), "{version}");
}

#[tokio::test]
async fn global_and_regional_secrets_are_not_found_at_each_others_routes() {
    let fake = regional_sample();
    let n = SAMPLE_PROJECT_NUMBER;
    let cases = [
        // A global secret asked for under a location.
        (
            regional_access(SAMPLE_PROJECT_ID, "europe-west1", "stripe-config", "latest"),
            format!(
                "Secret [projects/{n}/locations/europe-west1/secrets/stripe-config] not found \
                 or has no versions."
            ),
        ),
        // A regional secret asked for globally, or under another location.
        (
            access(SAMPLE_PROJECT_ID, "eu-key", "1"),
            format!("Secret [projects/{n}/secrets/eu-key] not found or has no versions."),
        ),
        (
            regional_access(SAMPLE_PROJECT_ID, "us-east1", "eu-key", "latest"),
            format!(
                "Secret [projects/{n}/locations/us-east1/secrets/eu-key] not found or has no \
                 versions."
            ),
        ),
        // A version the regional secret does not have.
        (
            regional_access(SAMPLE_PROJECT_ID, "europe-west1", "eu-key", "3"),
            format!(
                "Secret Version [projects/{n}/locations/europe-west1/secrets/eu-key/versions/3] \
                 not found."
            ),
        ),
    ];
    for (path, message) in cases {
        let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, error(404, "NOT_FOUND", &message), "{path}");
    }
    let (_, body) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/projects/acme-payments/locations/europe-west1/secrets/stripe-key",
    )
    .await;
    assert_eq!(
        body,
        error(
            404,
            "NOT_FOUND",
            &format!("Secret [projects/{n}/locations/europe-west1/secrets/stripe-key] not found.")
        )
    );
    // Tokens and IAM hold regionally as they do globally.
    let path = regional_access(SAMPLE_PROJECT_ID, "europe-west1", "eu-key", "latest");
    assert_eq!(get(&fake, None, &path).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = get(&fake, Some(STRIPE_ONLY_TOKEN), &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        error(
            403,
            "PERMISSION_DENIED",
            "Permission 'secretmanager.versions.access' denied for resource \
             'projects/acme-payments/locations/europe-west1/secrets/eu-key/versions/latest' \
             (or it may not exist)."
        )
    );
    let path = regional_access(SAMPLE_PROJECT_ID, "us-east1", "stripe-key", "1");
    assert_eq!(
        get(&fake, Some(STRIPE_ONLY_TOKEN), &path).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn disabled_and_destroyed_versions_are_failed_preconditions() {
    let fake = sample();
    let n = SAMPLE_PROJECT_NUMBER;
    for (version, state) in [("1", "DESTROYED"), ("2", "DISABLED")] {
        let path = access(SAMPLE_PROJECT_ID, "stripe-key", version);
        let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let message = format!(
            "Secret Version [projects/{n}/secrets/stripe-key/versions/{version}] is in {state} state."
        );
        assert_eq!(body, error(400, "FAILED_PRECONDITION", &message));
        assert!(!body.to_string().contains("sk_test_"), "{body}");
    }
    // `latest` is the newest version whatever its state.
    let fake = FakeSecretManager::spawn(SecretManagerData::new("p-1", 1).token("t").secret(
        "s",
        &[
            ("one", VersionState::Enabled),
            ("two", VersionState::Disabled),
        ],
    ))
    .unwrap();
    let (status, body) = get(&fake, Some("t"), &access("p-1", "s", "latest")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["status"], "FAILED_PRECONDITION");
}

#[tokio::test]
async fn tokens_are_checked_on_every_route() {
    let fake = sample();
    let path = access(SAMPLE_PROJECT_ID, "stripe-key", "latest");
    for token in [None, Some("ya29.wrong")] {
        let (status, body) = get(&fake, token, &path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], 401);
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    }
    let (status, _) = get(&fake, None, "/v1/projects/acme-payments/secrets/stripe-key").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(&fake, None, "/elsewhere").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A scoped token reads its secret and is denied the others, as IAM would.
    let (status, _) = get(&fake, Some(STRIPE_ONLY_TOKEN), &path).await;
    assert_eq!(status, StatusCode::OK);
    let other = access(SAMPLE_PROJECT_ID, "stripe-config", "latest");
    let (status, body) = get(&fake, Some(STRIPE_ONLY_TOKEN), &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        error(
            403,
            "PERMISSION_DENIED",
            "Permission 'secretmanager.versions.access' denied for resource \
             'projects/acme-payments/secrets/stripe-config/versions/latest' (or it may not exist)."
        )
    );
    // Another project is out of every token's reach.
    let (status, body) = get(
        &fake,
        Some(FULL_TOKEN),
        &access("other-project", "stripe-key", "1"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
}

#[tokio::test]
async fn metadata_routes_never_carry_a_payload() {
    let fake = sample();
    let n = SAMPLE_PROJECT_NUMBER;
    let (status, secret) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/projects/acme-payments/secrets/stripe-key",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(secret["name"], format!("projects/{n}/secrets/stripe-key"));
    assert_eq!(secret["replication"], json!({"automatic": {}}));
    let (_, missing) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/projects/acme-payments/secrets/nope",
    )
    .await;
    assert_eq!(
        missing,
        error(
            404,
            "NOT_FOUND",
            &format!("Secret [projects/{n}/secrets/nope] not found.")
        )
    );
    for (version, state) in [
        ("1", "DESTROYED"),
        ("2", "DISABLED"),
        ("3", "ENABLED"),
        ("latest", "ENABLED"),
    ] {
        let path = format!("/v1/projects/acme-payments/secrets/stripe-key/versions/{version}");
        let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
        assert_eq!(status, StatusCode::OK, "{version}");
        assert_eq!(body["state"], state, "{version}");
        assert_eq!(body.get("destroyTime").is_some(), state == "DESTROYED");
        assert!(body.get("payload").is_none());
        assert!(!body.to_string().contains("sk_test"), "{body}");
    }
    let (status, _) = get(
        &fake,
        Some(FULL_TOKEN),
        "/v1/projects/acme-payments/secrets/stripe-key/versions/3:destroy",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = reqwest::Client::new()
        .post(format!(
            "{}{}",
            fake.url(),
            access(SAMPLE_PROJECT_ID, "stripe-key", "3")
        ))
        .bearer_auth(FULL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn switches_corrupt_or_drop_the_checksum_and_force_failures() {
    let fake = sample();
    let path = access(SAMPLE_PROJECT_ID, "stripe-key", "3");
    let good = crc32c(KEY.as_bytes());
    fake.set_checksum(Checksum::Corrupt);
    let (_, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(body["payload"]["data"], base64(KEY.as_bytes()));
    assert_eq!(
        body["payload"]["dataCrc32c"],
        good.wrapping_add(1).to_string()
    );
    fake.set_checksum(Checksum::Omitted);
    let (_, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(body["payload"], json!({"data": base64(KEY.as_bytes())}));
    fake.set_checksum(Checksum::Correct);
    let (_, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(body["payload"]["dataCrc32c"], good.to_string());

    fake.set_failure(Some((503, "UNAVAILABLE")));
    let (status, body) = get(&fake, Some(FULL_TOKEN), &path).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["status"], "UNAVAILABLE");
    assert_eq!(body["error"]["code"], 503);
    // A bad token is still told so first.
    let (status, _) = get(&fake, Some("nope"), &path).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    fake.set_failure(None);
    assert_eq!(get(&fake, Some(FULL_TOKEN), &path).await.0, StatusCode::OK);
}

#[tokio::test]
async fn requests_are_logged_and_can_be_slowed_down() {
    let fake = sample();
    let path = access(SAMPLE_PROJECT_ID, "stripe-key", "latest");
    get(&fake, Some(FULL_TOKEN), &path).await;
    get(
        &fake,
        None,
        "/v1/projects/acme-payments/secrets/stripe-key?view=full",
    )
    .await;
    assert_eq!(
        fake.requests(),
        [
            format!("GET {path}"),
            "GET /v1/projects/acme-payments/secrets/stripe-key?view=full".to_string()
        ]
    );
    assert_eq!(fake.access_calls(), 1);

    fake.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    get(&fake, Some(FULL_TOKEN), &path).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn data_round_trips_through_json_and_refuses_unknown_fields() {
    let data = SecretManagerData::sample(KEY);
    let text = serde_json::to_string(&data).unwrap();
    let back: SecretManagerData = serde_json::from_str(&text).unwrap();
    assert_eq!(back.secrets.len(), 3);
    assert_eq!(back.secrets[0].versions[0].state, VersionState::Destroyed);
    let minimal: SecretManagerData = serde_json::from_str(
        r#"{"project_id": "p", "project_number": 1, "secrets": [{"id": "s", "versions": [{"payload": "v"}]}]}"#,
    )
    .unwrap();
    assert_eq!(minimal.secrets[0].versions[0].state, VersionState::Enabled);
    assert_eq!(minimal.secrets[0].location, None);
    // A regional secret keeps its location; a global one writes none.
    let regional = SecretManagerData::new("p", 1)
        .secret("g", &[])
        .regional_secret("europe-west1", "r", &[]);
    let text = serde_json::to_string(&regional).unwrap();
    assert_eq!(text.matches("\"location\"").count(), 1, "{text}");
    let back: SecretManagerData = serde_json::from_str(&text).unwrap();
    assert_eq!(back.secrets[1].location.as_deref(), Some("europe-west1"));
    assert!(
        serde_json::from_str::<SecretManagerData>(
            r#"{"project_id": "p", "project_number": 1, "extra": 1}"#
        )
        .is_err()
    );
}

#[test]
fn binary_serves_the_sample_and_refuses_bad_data() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let binary = env!("CARGO_BIN_EXE_fake-gcp-secret-manager");
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
        .strip_prefix("fake Secret Manager listening on ")
        .unwrap()
        .to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body: Value = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{url}{}",
                access(SAMPLE_PROJECT_ID, "stripe-key", "latest")
            ))
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
    assert_eq!(
        body["name"],
        format!("projects/{SAMPLE_PROJECT_NUMBER}/secrets/stripe-key/versions/3")
    );

    let dir = std::env::temp_dir().join(format!("fake-gcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"project_id\": 3}").unwrap();
    for (data, code) in [(bad.clone(), 2), (dir.join("missing.json"), 2)] {
        let output = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(code), "{}", data.display());
        assert!(String::from_utf8_lossy(&output.stderr).contains("data file"));
    }
    let output = Command::new(binary).arg("--port").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}
