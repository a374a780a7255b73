//! The fake Google token services answer as Google's OAuth, STS and IAM
//! Credentials references say, refusing what Google refuses.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqflo_fakes::google_token::{FakeGoogleToken, GoogleTokenData};
use reqflo_fakes::jwt;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The jwt crate's test key (made with openssl).
const KEY_PEM: &str = include_str!("../../../plugins/jwt/tests/keys/rsa2048.pem");
const EMAIL: &str = "reqflo@acme.iam.gserviceaccount.com";
const AUDIENCE: &str =
    "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k";
const SUBJECT: &str = "eyJ.subject.token";
const APP: &str = "app@acme.iam.gserviceaccount.com";

fn fake() -> FakeGoogleToken {
    let data = GoogleTokenData::new(&["ya29.one", "ya29.two", "ya29.three"], 60)
        .service_account(EMAIL, "kid-1", KEY_PEM)
        .unwrap()
        .user("client.apps", "client-secret", "1//refresh")
        .pool(AUDIENCE, SUBJECT, &[APP]);
    FakeGoogleToken::spawn(data).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An RS256 JWT of `header` and `claims`, signed with the test key.
fn jwt(header: Value, claims: Value) -> String {
    jwt::sign(&header, &claims, KEY_PEM).unwrap()
}

/// An assertion as a service account's key signs it, with `change` applied
/// to its claims.
fn assertion(fake: &FakeGoogleToken, change: impl FnOnce(&mut Value)) -> String {
    let iat = now();
    let mut claims = json!({"iss": EMAIL, "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": fake.token_uri(), "iat": iat, "exp": iat + 3600});
    change(&mut claims);
    jwt(
        json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"}),
        claims,
    )
}

/// POST `form` to `url`: the status and the JSON body.
async fn post_form(url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn jwt_bearer(fake: &FakeGoogleToken, assertion: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion),
    ];
    post_form(&fake.token_uri(), &form).await
}

#[tokio::test]
async fn a_signed_assertion_gets_the_next_token() {
    let fake = fake();
    let (status, body) = jwt_bearer(&fake, &assertion(&fake, |_| {})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"access_token": "ya29.one", "expires_in": 60, "token_type": "Bearer"})
    );
    // The tokens come in turn, the last one again once they run out.
    for expected in ["ya29.two", "ya29.three", "ya29.three"] {
        let (_, body) = jwt_bearer(&fake, &assertion(&fake, |_| {})).await;
        assert_eq!(body["access_token"], expected);
    }
    assert_eq!(fake.tokens_given(), 4);
}

#[tokio::test]
async fn bad_assertions_are_invalid_grants() {
    let fake = fake();
    let good = assertion(&fake, |_| {});
    // A signature that does not verify: one byte of it changed.
    let (signed, signature) = good.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    let tampered = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
    let wrong_kid = jwt(
        json!({"alg": "RS256", "kid": "kid-2"}),
        json!({"iss": EMAIL, "scope": "s", "aud": fake.token_uri(), "iat": now(), "exp": now() + 60}),
    );
    let unsigned = format!("{}.e30.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
    let cases = [
        (tampered, "Invalid JWT Signature."),
        (wrong_kid, "Invalid JWT Signature."),
        (unsigned, "Invalid JWT: the algorithm must be RS256"),
        (
            assertion(&fake, |c| {
                c["iss"] = json!("other@acme.iam.gserviceaccount.com")
            }),
            "Invalid grant: account not found",
        ),
        (
            assertion(&fake, |c| {
                c["aud"] = json!("https://oauth2.googleapis.com/token")
            }),
            "Invalid JWT: the audience must be the token endpoint's URL",
        ),
        (
            assertion(&fake, |c| c["scope"] = json!("")),
            "Invalid JWT: no scope",
        ),
        (
            assertion(&fake, |c| {
                c["iat"] = json!(now() - 7200);
                c["exp"] = json!(now() - 3600);
            }),
            "Invalid JWT: Token must be a short-lived token",
        ),
        (
            assertion(&fake, |c| c["exp"] = json!(now() + 7200)),
            "Invalid JWT: Token must be a short-lived token",
        ),
        (
            "not.a.jwt.at-all".to_string(),
            "Invalid JWT: not three parts",
        ),
    ];
    for (assertion, said) in cases {
        let (status, body) = jwt_bearer(&fake, &assertion).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{said}");
        assert_eq!(body["error"], "invalid_grant", "{said}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.starts_with(said), "{description}");
    }
    assert_eq!(fake.tokens_given(), 0);
}

#[tokio::test]
async fn refresh_tokens_need_their_client_and_secret() {
    let fake = fake();
    let refresh = |id: &'static str, secret: &'static str, token: &'static str| {
        let url = fake.token_uri();
        async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("client_secret", secret),
                ("refresh_token", token),
            ];
            post_form(&url, &form).await
        }
    };
    let (status, body) = refresh("client.apps", "client-secret", "1//refresh").await;
    assert_eq!(
        (status, body["access_token"].clone()),
        (StatusCode::OK, json!("ya29.one"))
    );
    let (status, body) = refresh("client.apps", "wrong", "1//refresh").await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_client"))
    );
    let (status, body) = refresh("client.apps", "client-secret", "1//other").await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );
    let (status, body) = post_form(&fake.token_uri(), &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("unsupported_grant_type"))
    );
    assert_eq!(fake.tokens_given(), 1);
}

/// STS's form for `subject_token` at `audience`.
async fn exchange(
    fake: &FakeGoogleToken,
    audience: &str,
    subject: &str,
    requested: &str,
) -> (StatusCode, Value) {
    let form = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("audience", audience),
        ("scope", "https://www.googleapis.com/auth/cloud-platform"),
        ("requested_token_type", requested),
        ("subject_token", subject),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
    ];
    post_form(&fake.sts_url(), &form).await
}

const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

#[tokio::test]
async fn sts_exchanges_a_pools_subject_token() {
    let fake = fake();
    let (status, body) = exchange(&fake, AUDIENCE, SUBJECT, ACCESS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"access_token": "ya29.one", "expires_in": 60, "token_type": "Bearer",
               "issued_token_type": ACCESS})
    );
    for (audience, subject, requested, error) in [
        (
            "//iam.googleapis.com/other",
            SUBJECT,
            ACCESS,
            "invalid_target",
        ),
        (AUDIENCE, "eyJ.forged", ACCESS, "invalid_grant"),
        (
            AUDIENCE,
            SUBJECT,
            "urn:ietf:params:oauth:token-type:id_token",
            "invalid_request",
        ),
    ] {
        let (status, body) = exchange(&fake, audience, subject, requested).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error))
        );
    }
    assert_eq!(fake.tokens_given(), 1);
}

async fn generate(
    fake: &FakeGoogleToken,
    email: &str,
    bearer: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(fake.impersonation_url(email))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn iam_credentials_impersonates_for_an_sts_token_of_a_trusted_pool() {
    let fake = fake();
    let (_, sts) = exchange(&fake, AUDIENCE, SUBJECT, ACCESS).await;
    let federated = sts["access_token"].as_str().unwrap().to_string();
    let scope =
        json!({"scope": ["https://www.googleapis.com/auth/cloud-platform"], "lifetime": "3600s"});
    let (status, body) = generate(&fake, APP, &federated, scope.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accessToken"], "ya29.two");
    let expires = humantime::parse_rfc3339(body["expireTime"].as_str().unwrap()).unwrap();
    assert!(expires > std::time::SystemTime::now());
    // A token STS did not issue, an account the pool may not use, no scope.
    let (status, body) = generate(&fake, APP, "ya29.two", scope.clone()).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED"))
    );
    let (status, body) = generate(
        &fake,
        "root@acme.iam.gserviceaccount.com",
        &federated,
        scope,
    )
    .await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::FORBIDDEN, Some("PERMISSION_DENIED"))
    );
    let (status, body) = generate(&fake, APP, &federated, json!({"scope": []})).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    assert_eq!(fake.tokens_given(), 2);
}
