//! The fake STS answers `AssumeRoleWithWebIdentity` as AWS's API reference
//! says: credentials in XML for the right token and role, an error code
//! otherwise.

use std::time::Duration;

use reqflo_fakes::aws_credentials::*;
use reqwest::StatusCode;

fn keys() -> IssuedKeys {
    IssuedKeys {
        access_key_id: "ASIAFAKEWEB1".into(),
        secret_access_key: "fake/secret+key".into(),
        session_token: Some("fake-session".into()),
    }
}

/// POST the form `pairs` to the fake STS; the status and the body.
async fn assume(fake: &FakeAwsCredentials, pairs: &[(&str, &str)]) -> (StatusCode, String) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let response = reqwest::Client::new()
        .post(format!("{}/", fake.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn form<'a>(token: &'a str, role: &'a str, session: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("RoleSessionName", session),
        ("WebIdentityToken", token),
    ]
}

#[tokio::test]
async fn sts_exchanges_the_right_token_and_names_what_is_wrong() {
    let fake = FakeAwsCredentials::spawn(keys(), Duration::from_secs(900)).unwrap();
    let (status, body) = assume(&fake, &form(WEB_IDENTITY_TOKEN, WEB_ROLE_ARN, "reqflo")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<AccessKeyId>ASIAFAKEWEB1</AccessKeyId>"),
        "{body}"
    );
    assert!(body.contains("<SessionToken>fake-session</SessionToken>"));
    assert!(body.contains("<Expiration>20"));
    assert_eq!(fake.credentials_given(), 1);

    for (pairs, status, code) in [
        (
            form("other.token", WEB_ROLE_ARN, "reqflo"),
            400,
            "InvalidIdentityToken",
        ),
        (
            form(WEB_IDENTITY_TOKEN, "arn:aws:iam::1:role/x", "reqflo"),
            403,
            "AccessDenied",
        ),
        (
            form(WEB_IDENTITY_TOKEN, WEB_ROLE_ARN, "a"),
            400,
            "ValidationError",
        ),
        (
            form(WEB_IDENTITY_TOKEN, WEB_ROLE_ARN, "has space"),
            400,
            "ValidationError",
        ),
        (vec![("Action", "AssumeRole")], 400, "InvalidAction"),
    ] {
        let (got, body) = assume(&fake, &pairs).await;
        assert_eq!(got.as_u16(), status, "{pairs:?}");
        assert!(
            body.contains(&format!("<Code>{code}</Code>")),
            "{pairs:?}: {body}"
        );
    }
    assert_eq!(fake.credentials_given(), 1, "refusals hand out nothing");
}
