//! The fake Azure answers as Azure AD's and Key Vault's docs say.

use std::time::{Duration, Instant};

use reqflo_fakes::azure::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn sample() -> FakeAzure {
    FakeAzure::spawn(AzureData::sample("api-key-latest", "db-pass-word"))
        .await
        .unwrap()
}

/// GET a vault `path` (with its query) with `token`: status, JSON body, and
/// the `WWW-Authenticate` header.
async fn get(
    fake: &FakeAzure,
    token: Option<&str>,
    path: &str,
) -> (StatusCode, Value, Option<String>) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", fake.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, challenge)
}

/// POST the token route of `tenant` with `form`: status and JSON body.
async fn token(fake: &FakeAzure, tenant: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", fake.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn credentials<'a>(secret: &'a str, scope: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

async fn issue(fake: &FakeAzure) -> String {
    let (status, body) = token(fake, TENANT_ID, &credentials(CLIENT_SECRET, VAULT_SCOPE)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn secret_path(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("/secrets/{name}/{v}?api-version=7.5"),
        None => format!("/secrets/{name}?api-version=7.5"),
    }
}

#[tokio::test]
async fn issues_random_bearer_tokens_for_the_right_credentials() {
    let fake = sample().await;
    let (status, body) = token(&fake, TENANT_ID, &credentials(CLIENT_SECRET, VAULT_SCOPE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let first = body["access_token"].as_str().unwrap().to_string();
    let second = issue(&fake).await;
    assert_ne!(first, second);
    assert!(first.len() >= 32);
    assert_eq!(fake.issued_tokens(), [first.clone(), second]);
    let (status, secret, _) = get(&fake, Some(&first), &secret_path(PAYMENTS_KEY_NAME, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(secret["value"], "api-key-latest");
}

/// A tenant, a form, and the status, `error` and AADSTS number it gets.
type Refusal = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    StatusCode,
    &'static str,
    u64,
);

/// The client credentials grant with a federated token as its assertion.
fn federated(assertion: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
        ("scope", VAULT_SCOPE),
    ]
}

#[tokio::test]
async fn a_trusted_federated_token_is_a_client_assertion() {
    let fake = sample().await;
    let (status, body) = token(&fake, TENANT_ID, &federated(FEDERATED_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
    let (status, body) = token(&fake, TENANT_ID, &federated("eyJ.other.sig")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 70021);
    assert!(!body.to_string().contains("eyJ.other.sig"));
    let mut wrong_type = federated(FEDERATED_TOKEN);
    wrong_type[2].1 = "urn:other";
    let (status, _) = token(&fake, TENANT_ID, &wrong_type).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn token_refusals_are_azure_ad_errors_without_the_secret() {
    let fake = sample().await;
    let cases: Vec<Refusal> = vec![
        (
            TENANT_ID,
            credentials("wrong-secret", VAULT_SCOPE).to_vec(),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
        ),
        (
            TENANT_ID,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("scope", VAULT_SCOPE),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000216,
        ),
        (
            "another-tenant",
            credentials(CLIENT_SECRET, VAULT_SCOPE).to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
        ),
        (
            TENANT_ID,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "x"),
                ("scope", VAULT_SCOPE),
            ],
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
        ),
        (
            TENANT_ID,
            credentials(CLIENT_SECRET, "https://graph.microsoft.com/.default").to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
        ),
        (
            TENANT_ID,
            vec![("grant_type", "password"), ("client_id", CLIENT_ID)],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
        ),
        (
            TENANT_ID,
            vec![("grant_type", "client_credentials")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
        ),
    ];
    for (tenant, form, status, error, aadsts) in cases {
        let (got, body) = token(&fake, tenant, &form).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{body}"
        );
        assert_eq!(body["error_codes"], serde_json::json!([aadsts]));
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("AADSTS{aadsts}: ")),
            "{description}"
        );
        assert!(!description.contains("wrong-secret"));
        assert!(!body.to_string().contains(CLIENT_SECRET));
    }
    assert!(fake.issued_tokens().is_empty());
}

#[tokio::test]
async fn latest_and_pinned_versions_as_secret_bundles() {
    let fake = sample().await;
    let (status, latest, _) = get(
        &fake,
        Some(STATIC_TOKEN),
        &secret_path(PAYMENTS_KEY_NAME, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(latest["value"], "api-key-latest");
    assert_eq!(
        latest["id"],
        format!(
            "{}/secrets/{PAYMENTS_KEY_NAME}/{PAYMENTS_KEY_VERSION}",
            fake.url()
        )
    );
    assert_eq!(latest["attributes"]["enabled"], true);
    assert_eq!(
        latest["attributes"]["recoveryLevel"],
        "Recoverable+Purgeable"
    );
    // Names and versions are case-insensitive, as in Key Vault.
    let path = secret_path(
        "Payments-API-Key",
        Some(&PAYMENTS_KEY_OLD_VERSION.to_uppercase()),
    );
    let (status, old, _) = get(&fake, Some(STATIC_TOKEN), &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(old["value"], PAYMENTS_KEY_OLD_VALUE);

    let (_, db, _) = get(
        &fake,
        Some(STATIC_TOKEN),
        &secret_path(DB_CREDENTIALS_NAME, None),
    )
    .await;
    assert_eq!(db["contentType"], "application/json");
    let value: Value = serde_json::from_str(db["value"].as_str().unwrap()).unwrap();
    assert_eq!(value["password"], "db-pass-word");
    assert_eq!(value["username"], DB_USERNAME);
}

#[tokio::test]
async fn missing_disabled_and_forbidden_secrets() {
    let fake = sample().await;
    let (status, body, _) = get(&fake, Some(STATIC_TOKEN), &secret_path("nope", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "SecretNotFound");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("A secret with (name/id) nope was not found")
    );
    let path = secret_path(PAYMENTS_KEY_NAME, Some("00000000000000000000000000000000"));
    let (status, body, _) = get(&fake, Some(STATIC_TOKEN), &path).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &Value::from("SecretNotFound"))
    );

    for path in [
        secret_path(RETIRED_NAME, None),
        secret_path(ROTATING_NAME, None),
        secret_path(ROTATING_NAME, Some(ROTATING_NEW_VERSION)),
    ] {
        let (status, body, _) = get(&fake, Some(STATIC_TOKEN), &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"]["code"], "Forbidden");
        assert_eq!(body["error"]["innererror"]["code"], "SecretDisabled");
    }
    let (status, body, _) = get(
        &fake,
        Some(STATIC_TOKEN),
        &secret_path(ROTATING_NAME, Some(ROTATING_OLD_VERSION)),
    )
    .await;
    assert_eq!(
        (status, &body["value"]),
        (StatusCode::OK, &Value::from(ROTATING_OLD_VALUE))
    );

    // The limited token reads its one secret and is refused the others.
    let (status, _, _) = get(
        &fake,
        Some(LIMITED_TOKEN),
        &secret_path(PAYMENTS_KEY_NAME, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = get(
        &fake,
        Some(LIMITED_TOKEN),
        &secret_path(DB_CREDENTIALS_NAME, None),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["innererror"]["code"], "AccessDenied");
}

#[tokio::test]
async fn the_vault_wants_a_known_live_token_and_an_api_version() {
    let fake = sample().await;
    let path = secret_path(PAYMENTS_KEY_NAME, None);
    for token in [None, Some("made-up-token")] {
        let (status, body, challenge) = get(&fake, token, &path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(body["error"]["code"], "Unauthorized");
        assert_eq!(
            challenge.unwrap(),
            format!(
                "Bearer authorization=\"{}/{TENANT_ID}\", resource=\"https://vault.azure.net\"",
                fake.url()
            )
        );
    }
    for query in ["", "?api-version=9.9", "?api_version=7.5"] {
        let (status, body, _) = get(
            &fake,
            Some(STATIC_TOKEN),
            &format!("/secrets/{PAYMENTS_KEY_NAME}{query}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["code"], "BadParameter");
    }
    for version in API_VERSIONS {
        let path = format!("/secrets/{PAYMENTS_KEY_NAME}?api-version={version}");
        assert_eq!(
            get(&fake, Some(STATIC_TOKEN), &path).await.0,
            StatusCode::OK
        );
    }

    // An issued token stops working when it expires.
    fake.set_token_lifetime(Duration::from_millis(300));
    let (_, body) = token(&fake, TENANT_ID, &credentials(CLIENT_SECRET, VAULT_SCOPE)).await;
    assert_eq!(body["expires_in"], 0);
    let short = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(get(&fake, Some(&short), &path).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get(&fake, Some(&short), &path).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Unknown routes and methods answer Key Vault-shaped errors.
    assert_eq!(
        get(&fake, Some(STATIC_TOKEN), "/keys/x?api-version=7.5")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let response = reqwest::Client::new()
        .get(format!("{}/{TENANT_ID}/oauth2/v2.0/token", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn forced_failures_delay_and_the_request_log() {
    let fake = sample().await;
    let path = secret_path(PAYMENTS_KEY_NAME, None);
    fake.set_vault_status(Some(429));
    let response = reqwest::Client::new()
        .get(format!("{}{path}", fake.url()))
        .bearer_auth(STATIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Throttled");
    fake.set_vault_status(Some(503));
    let (status, body, _) = get(&fake, Some(STATIC_TOKEN), &path).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            &Value::from("ServiceUnavailable")
        )
    );
    fake.set_vault_status(None);
    assert_eq!(
        get(&fake, Some(STATIC_TOKEN), &path).await.0,
        StatusCode::OK
    );

    fake.set_token_status(Some(503));
    let (status, body) = token(&fake, TENANT_ID, &credentials(CLIENT_SECRET, VAULT_SCOPE)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("temporarily_unavailable")
        )
    );
    fake.set_token_status(None);
    issue(&fake).await;

    fake.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    get(&fake, None, &path).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    fake.set_delay(Duration::ZERO);

    let token_route = format!("POST /{TENANT_ID}/oauth2/v2.0/token");
    assert_eq!(
        fake.requests(),
        [
            format!("GET {path}"),
            format!("GET {path}"),
            format!("GET {path}"),
            token_route.clone(),
            token_route,
            format!("GET {path}"),
        ]
    );
    // The log never holds a body, so never a client secret.
    assert!(fake.requests().iter().all(|r| !r.contains(CLIENT_SECRET)));

    // Dropping the fake stops it.
    let url = fake.url();
    drop(fake);
    assert!(reqwest::get(format!("{url}{path}")).await.is_err());
}

/// The jwt crate's test key and its self-signed certificate (made with
/// openssl for the tests alone).
const TEST_KEY: &str = include_str!("../../../plugins/jwt/tests/keys/rsa2048.pem");
const TEST_CERT: &str = include_str!("../../../plugins/jwt/tests/keys/cert.pem");
/// `openssl x509 -in cert.pem -outform der | openssl dgst -sha1 -binary`, base64url.
const TEST_X5T: &str = "SfZQebmMOyhD1aEfSR4jsEWm1I4";

/// The sample, with the test certificate registered for [`CLIENT_ID`].
async fn with_certificate() -> FakeAzure {
    let mut data = AzureData::sample("api-key-latest", "db-pass-word");
    data.clients[0].certificates = vec![TEST_CERT.to_string()];
    FakeAzure::spawn(data).await.unwrap()
}

/// An RS256 JWT of `header` (beside `alg` and `typ`) and `claims`, signed
/// with the test key.
fn signed(header: Value, claims: Value) -> String {
    let mut full = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    full.as_object_mut()
        .unwrap()
        .extend(header.as_object().unwrap().clone());
    reqflo_fakes::jwt::sign(&full, &claims, TEST_KEY).unwrap()
}

/// Claims as the Azure SDKs write them, for `fake`'s token endpoint, valid
/// from `from` seconds (relative to now) for ten minutes.
fn claims(fake: &FakeAzure, from: i64) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    serde_json::json!({
        "aud": format!("{}/{TENANT_ID}/oauth2/v2.0/token", fake.url()),
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "jti": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "nbf": now + from,
        "iat": now + from,
        "exp": now + from + 600,
    })
}

#[tokio::test]
async fn a_registered_certificate_s_assertion_gets_a_token() {
    let fake = with_certificate().await;
    let good = signed(serde_json::json!({"x5t": TEST_X5T}), claims(&fake, 0));
    let (status, body) = token(&fake, TENANT_ID, &federated(&good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, secret, _) = get(
        &fake,
        body["access_token"].as_str(),
        &secret_path(PAYMENTS_KEY_NAME, None),
    )
    .await;
    assert_eq!(
        (status, secret["value"].as_str()),
        (StatusCode::OK, Some("api-key-latest"))
    );
}

#[tokio::test]
async fn bad_certificate_assertions_get_entra_s_codes() {
    let fake = with_certificate().await;
    let x5t = serde_json::json!({"x5t": TEST_X5T});
    let mut wrong_aud = claims(&fake, 0);
    wrong_aud["aud"] = "https://login.microsoftonline.com/other/oauth2/v2.0/token".into();
    let mut wrong_iss = claims(&fake, 0);
    wrong_iss["iss"] = "someone-else".into();
    let good = signed(x5t.clone(), claims(&fake, 0));
    // The claims changed after signing: the signature no longer holds.
    let (head, rest) = good.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_claims = {
        use base64::Engine as _;
        let mut more = claims(&fake, 0);
        more["jti"] = "another".into();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(more.to_string())
    };
    let tampered = format!("{head}.{forged_claims}.{signature}");
    let cases = [
        (
            "unknown thumbprint",
            signed(
                serde_json::json!({"x5t": "AAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
                claims(&fake, 0),
            ),
            700027,
        ),
        (
            "unknown SHA-256 thumbprint",
            signed(serde_json::json!({"x5t#S256": "AAAA"}), claims(&fake, 0)),
            700027,
        ),
        ("tampered", tampered, 700027),
        ("expired", signed(x5t.clone(), claims(&fake, -3600)), 700024),
        (
            "not yet valid",
            signed(x5t.clone(), claims(&fake, 3600)),
            700024,
        ),
        ("wrong audience", signed(x5t.clone(), wrong_aud), 700023),
        ("wrong issuer", signed(x5t.clone(), wrong_iss), 700021),
    ];
    for (what, assertion, aadsts) in cases {
        let because = match what {
            "tampered" => "failed signature validation",
            "unknown thumbprint" | "unknown SHA-256 thumbprint" => "not registered on application",
            _ => "Client assertion",
        };
        let (status, body) = token(&fake, TENANT_ID, &federated(&assertion)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"], "invalid_client", "{what}");
        assert_eq!(
            body["error_codes"],
            serde_json::json!([aadsts]),
            "{what}: {body}"
        );
        assert!(!body.to_string().contains(&assertion), "{what}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(because), "{what}: {description}");
    }
    // An `exp` at u64's end is the client's choice, not a crash of the fake.
    let mut endless = claims(&fake, 0);
    endless["exp"] = u64::MAX.into();
    let (status, body) = token(&fake, TENANT_ID, &federated(&signed(x5t.clone(), endless))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A client with no certificate registered: the same as an unknown one.
    let bare = sample().await;
    let (status, body) = token(&bare, TENANT_ID, &federated(&signed(x5t, claims(&bare, 0)))).await;
    assert_eq!(
        (status, &body["error_codes"]),
        (StatusCode::UNAUTHORIZED, &serde_json::json!([700027]))
    );
}
