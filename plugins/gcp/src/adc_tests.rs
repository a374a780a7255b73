//! Application Default Credentials end to end, with scripted answers: each
//! kind of credentials file, the chain's order, and renewal before expiry.

use base64::Engine as _;
use reqflo_plugin_sdk::http::Scripted;
use reqflo_plugin_sdk::testing::{TempFile, accepted, form_field, form_fields, jwt_parts, refused};
use reqflo_plugin_sdk::{Config, env};
use serde_json::{Value, json};

use crate::Error;
use crate::lookup::Provider;
use crate::reference::parse;
use crate::settings::Settings;

const ENDPOINT: &str = "http://127.0.0.1:8085";
const TOKEN_URL: &str = "http://127.0.0.1:8090/token";
const STS_URL: &str = "http://127.0.0.1:8090/v1/token";
const IAM_URL: &str = "http://127.0.0.1:8090/v1/projects/-/serviceAccounts/app@acme.iam.gserviceaccount.com:generateAccessToken";
const LATEST: &str = "/v1/projects/acme/secrets/stripe/versions/latest:access";
const OTHER: &str = "/v1/projects/acme/secrets/other/versions/latest:access";
const EMAIL: &str = "reqflo@acme.iam.gserviceaccount.com";
/// Credentials that must never be shown.
const CLIENT_SECRET: &str = "GOCSPX-canary/Secret+1";
const REFRESH_TOKEN: &str = "1//canary-refresh/Token+2";
const SUBJECT_TOKEN: &str = "eyJ.canary-subject.Token3";

fn service_account_file(name: &str) -> TempFile {
    let json = json!({
        "type": "service_account",
        "private_key_id": "kid-1",
        "private_key": include_str!("../../jwt/tests/keys/rsa2048.pem"),
        "client_email": EMAIL,
        "token_uri": TOKEN_URL,
    });
    TempFile::new(name, &json.to_string())
}

fn provider() -> Provider {
    let config = Config::of(&[("project", "acme"), ("endpoint", ENDPOINT)]);
    Provider::new(accepted(Settings::from_config(config)))
}

fn resolve(
    provider: &mut Provider,
    server: &mut Scripted,
    vars: &[(&str, &str)],
    reference: &str,
) -> Result<String, Error> {
    provider
        .resolve(&accepted(parse(reference)), server, env::fake(vars))
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Why a provider of its own cannot read `stripe` with `vars`: the message
/// of an error of `kind`.
fn refusal(server: &mut Scripted, vars: &[(&str, &str)], kind: &str) -> String {
    refused(resolve(&mut provider(), server, vars, "stripe"), kind)
}

/// Secret Manager answering `stripe` and `other`.
fn secrets() -> Scripted {
    let body = |data: &str| {
        json!({"payload": {"data": base64::engine::general_purpose::STANDARD.encode(data)}})
            .to_string()
    };
    Scripted::new()
        .answer(format!("{ENDPOINT}{LATEST}"), 200, body("sk_1"))
        .answer(format!("{ENDPOINT}{OTHER}"), 200, body("o_1"))
}

/// The bearer tokens Secret Manager was sent, in order.
fn bearers(server: &Scripted) -> Vec<String> {
    server
        .sent()
        .filter(|r| r.url.starts_with(ENDPOINT))
        .filter_map(|r| r.header_value("authorization"))
        .map(|v| v.trim_start_matches("Bearer ").to_string())
        .collect()
}

/// The form fields of each request to `url`.
fn forms(server: &Scripted, url: &str) -> Vec<Vec<(String, String)>> {
    server
        .sent()
        .filter(|r| r.url == url)
        .map(|r| form_fields(&r.body))
        .collect()
}

fn token(access_token: &str, expires_in: u64) -> String {
    json!({"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"})
        .to_string()
}

#[test]
fn a_service_account_key_signs_an_assertion_and_its_token_is_renewed_before_expiry() {
    let file = service_account_file("sa.json");
    let vars = [("GOOGLE_APPLICATION_CREDENTIALS", file.path())];
    // The first token lives a minute (inside the five-minute margin): the
    // second secret renews it; the second lives an hour.
    let mut server = secrets()
        .answer(TOKEN_URL, 200, token("ya29.sa-1", 60))
        .answer(TOKEN_URL, 200, token("ya29.sa-2", 3599));
    let mut provider = provider();
    let got: Vec<_> = ["stripe", "other", "stripe/versions/latest#x"]
        .into_iter()
        .map(|reference| {
            resolve(&mut provider, &mut server, &vars, reference)
                .map_err(|e| format!("{}: {}", e.kind(), e.message()))
        })
        .collect();
    // The third reads the version the first fetched (no call), and finds no
    // JSON in it.
    assert_eq!(
        got,
        [
            Ok("sk_1".to_string()),
            Ok("o_1".to_string()),
            Err(
                "invalid-reference: #x picks a key of a JSON object, but the latest version \
                 of secret \"stripe\" in project \"acme\" does not hold a JSON object"
                    .to_string()
            )
        ]
    );
    assert_eq!(bearers(&server), ["ya29.sa-1", "ya29.sa-2"]);
    let forms = forms(&server, TOKEN_URL);
    assert_eq!(forms.len(), 2);
    let form = &forms[0];
    assert_eq!(
        form_field(form, "grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let (header, claims) = jwt_parts(form_field(form, "assertion"));
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
    );
    assert_eq!(claims["iss"], EMAIL);
    assert_eq!(claims["aud"], TOKEN_URL);
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
    assert!(iat.is_some_and(|iat| iat > 1_700_000_000), "{claims}");
    assert_eq!(exp.zip(iat).map(|(e, i)| e - i), Some(3600));
    assert!(
        server.sent().filter(|r| r.url == TOKEN_URL).all(|r| {
            r.header_value("content-type") == Some("application/x-www-form-urlencoded")
        })
    );
}

#[test]
fn a_refused_key_is_denied_naming_the_account() {
    let file = service_account_file("sa-refused.json");
    let path = file.path();
    let vars = [("GOOGLE_APPLICATION_CREDENTIALS", path)];
    let mut server = secrets().answer(
        TOKEN_URL,
        400,
        r#"{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}"#,
    );
    let m = refusal(&mut server, &vars, "denied");
    assert_eq!(
        m,
        "the token endpoint at http://127.0.0.1:8090 refused the key of service account \
         reqflo@acme.iam.gserviceaccount.com (400 invalid_grant): the key may be deleted or \
         disabled, or this machine's clock is off"
    );
    // A server error is unavailable; no Secret Manager call was made.
    let mut down = secrets().answer(TOKEN_URL, 503, "busy");
    let m = refusal(&mut down, &vars, "unavailable");
    assert!(
        m.ends_with(
            "answered 503 for the key of service account reqflo@acme.iam.gserviceaccount.com"
        ),
        "{m}"
    );
    assert!(bearers(&server).is_empty() && bearers(&down).is_empty());
}

#[test]
fn an_authorized_user_refreshes_and_bills_its_quota_project() {
    let json = json!({"type": "authorized_user", "client_id": "123.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
        "quota_project_id": "billing-project", "token_uri": TOKEN_URL});
    let file = TempFile::new("user.json", &json.to_string());
    let path = file.path();
    let vars = [("GOOGLE_APPLICATION_CREDENTIALS", path)];
    let mut server = secrets().answer(TOKEN_URL, 200, token("ya29.user", 3599));
    assert_eq!(
        accepted(resolve(&mut provider(), &mut server, &vars, "stripe")),
        "sk_1"
    );
    let form = &forms(&server, TOKEN_URL)[0];
    assert_eq!(
        form.iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [
            ("grant_type", "refresh_token"),
            ("client_id", "123.apps.googleusercontent.com"),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
        ]
    );
    assert_eq!(bearers(&server), ["ya29.user"]);
    assert_eq!(
        server.header_values("x-goog-user-project"),
        [None, Some("billing-project")]
    );
    let mut revoked = secrets().answer(TOKEN_URL, 400, r#"{"error": "invalid_grant"}"#);
    let m = refusal(&mut revoked, &vars, "denied");
    assert!(m.contains("refused the refresh token of OAuth client 123.apps.googleusercontent.com (400 invalid_grant)"), "{m}");
    assert!(!m.contains("canary"), "{m}");
}

#[test]
fn an_external_account_exchanges_its_subject_token_and_impersonates() {
    let subject = TempFile::new("subject.jwt", &format!("{SUBJECT_TOKEN}\n"));
    let json = json!({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": STS_URL,
        "service_account_impersonation_url": IAM_URL,
        "credential_source": {"file": subject.path()},
    });
    let file = TempFile::new("external.json", &json.to_string());
    let path = file.path();
    let vars = [("GOOGLE_APPLICATION_CREDENTIALS", path)];
    // The first impersonated token has expired already: refused, never
    // sent; the next resolve asks again, and that token lives long.
    let impersonated = |token: &str, expire_time: &str| {
        json!({"accessToken": token, "expireTime": expire_time}).to_string()
    };
    let mut server = secrets()
        .answer(STS_URL, 200, token("ya29.federated", 3599))
        .answer(
            IAM_URL,
            200,
            impersonated("ya29.impersonated-1", "2001-01-01T00:00:00Z"),
        )
        .answer(
            IAM_URL,
            200,
            impersonated("ya29.impersonated-2", "2099-12-31T23:59:59.5+00:00"),
        );
    let mut provider = provider();
    let expired = refused(
        resolve(&mut provider, &mut server, &vars, "stripe"),
        "unavailable",
    );
    assert_eq!(
        expired,
        "IAM Credentials at http://127.0.0.1:8090 gave an access token that has already \
         expired; this machine's clock may be off"
    );
    assert_eq!(
        accepted(resolve(&mut provider, &mut server, &vars, "stripe")),
        "sk_1"
    );
    assert_eq!(
        accepted(resolve(&mut provider, &mut server, &vars, "other")),
        "o_1"
    );
    let form = &forms(&server, STS_URL)[0];
    assert_eq!(
        form.iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ),
            (
                "audience",
                "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k"
            ),
            ("scope", "https://www.googleapis.com/auth/cloud-platform"),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token"
            ),
            ("subject_token", SUBJECT_TOKEN),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ]
    );
    let iam: Vec<_> = server.sent().filter(|r| r.url == IAM_URL).collect();
    assert_eq!(iam.len(), 2, "an expired token is asked for again");
    assert_eq!(
        iam[0].header_value("authorization"),
        Some("Bearer ya29.federated")
    );
    assert_eq!(forms(&server, STS_URL).len(), 2);
    let body: Value = serde_json::from_slice(&iam[0].body).unwrap_or(Value::Null);
    assert_eq!(
        body,
        json!({"scope": ["https://www.googleapis.com/auth/cloud-platform"], "lifetime": "3600s"})
    );
    assert_eq!(
        bearers(&server),
        ["ya29.impersonated-2", "ya29.impersonated-2"]
    );

    // The pool may not impersonate the account: denied, naming it.
    let mut refused_iam = secrets()
        .answer(STS_URL, 200, token("ya29.federated", 3599))
        .answer(
            IAM_URL,
            403,
            r#"{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "x"}}"#,
        );
    let m = refusal(&mut refused_iam, &vars, "denied");
    assert!(
        m.contains("service account app@acme.iam.gserviceaccount.com (403 PERMISSION_DENIED)"),
        "{m}"
    );
    // STS refuses the subject token: denied, naming the audience, not the token.
    let mut refused_sts = secrets().answer(
        STS_URL,
        400,
        r#"{"error": "invalid_grant", "error_description": "eyJ.canary"}"#,
    );
    let m = refusal(&mut refused_sts, &vars, "denied");
    assert!(
        m.contains("refused the subject token for //iam.googleapis.com/projects/1/"),
        "{m}"
    );
    assert!(!m.contains("canary"), "{m}");
}

#[test]
fn an_earlier_link_wins() {
    let file = service_account_file("sa-order.json");
    let path = file.path();
    let metadata =
        "http://127.0.0.1:8089/computeMetadata/v1/instance/service-accounts/default/token";
    let server = || {
        secrets()
            .answer(TOKEN_URL, 200, token("ya29.from-key", 3599))
            .answer(metadata, 200, token("ya29.from-metadata", 3599))
    };
    let cases = [
        // A ready token beats the file, which beats the metadata server.
        (
            vec![
                ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.ready"),
                ("GOOGLE_APPLICATION_CREDENTIALS", path),
                ("GCE_METADATA_HOST", "127.0.0.1:8089"),
            ],
            "ya29.ready",
        ),
        (
            vec![
                ("GOOGLE_APPLICATION_CREDENTIALS", path),
                ("GCE_METADATA_HOST", "127.0.0.1:8089"),
            ],
            "ya29.from-key",
        ),
        (
            vec![
                ("HOME", "/nowhere"),
                ("GCE_METADATA_HOST", "127.0.0.1:8089"),
            ],
            "ya29.from-metadata",
        ),
    ];
    for (vars, used) in cases {
        let mut server = server();
        accepted(resolve(&mut provider(), &mut server, &vars, "stripe"));
        assert_eq!(bearers(&server), [used], "{vars:?}");
        // Only the winning link was asked for a token.
        assert_eq!(
            server.urls().len(),
            if used == "ya29.ready" { 1 } else { 2 }
        );
    }
    // Without any link, the message names each.
    let m = refusal(&mut server(), &[], "unavailable");
    assert!(
        m.contains("GOOGLE_OAUTH_ACCESS_TOKEN")
            && m.contains("GOOGLE_APPLICATION_CREDENTIALS")
            && m.contains("config.metadata: true"),
        "{m}"
    );
}
