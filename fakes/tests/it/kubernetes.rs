//! The fake Kubernetes TokenReview answers as the TokenReview v1 reference says.

use reqflo_fakes::kubernetes::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A cluster with a reviewer (`vault/vault`, bound to system:auth-delegator)
/// and a workload (`payments/reqflo`).
fn cluster() -> FakeKubernetes {
    FakeKubernetes::spawn(&[
        ServiceAccount::new("vault", "vault").reviewer(),
        ServiceAccount::new("payments", "reqflo"),
    ])
    .unwrap()
}

/// POST `body` to the review route with `bearer`: the status and the JSON.
async fn post(fake: &FakeKubernetes, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{TOKEN_REVIEWS_PATH}", fake.url()))
        .json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

fn spec(token: &str) -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
}

#[tokio::test]
async fn an_issued_token_is_its_service_account() {
    let fake = cluster();
    let reviewer = fake.token("vault", "vault").unwrap();
    let token = fake.token("payments", "reqflo").unwrap();
    let (status, review) = post(&fake, Some(&reviewer), spec(&token)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(review["kind"], "TokenReview");
    assert_eq!(review["apiVersion"], "authentication.k8s.io/v1");
    let status = &review["status"];
    assert_eq!(status["authenticated"], true);
    assert_eq!(
        status["user"]["username"],
        "system:serviceaccount:payments:reqflo"
    );
    assert_eq!(status["user"]["uid"], "uid-payments-reqflo");
    assert_eq!(
        status["user"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:payments",
            "system:authenticated"
        ])
    );
    assert_eq!(status["audiences"], json!([API_AUDIENCE]));
    assert_eq!(
        fake.reviews(),
        [Review {
            reviewer: "system:serviceaccount:vault:vault".into(),
            authenticated: Some("system:serviceaccount:payments:reqflo".into()),
        }]
    );

    // The token is a JWT whose claims name the same account.
    let claims = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:payments:reqflo");
    assert_eq!(claims["kubernetes.io"]["namespace"], "payments");
    assert_eq!(
        claims["kubernetes.io"]["serviceaccount"]["uid"],
        "uid-payments-reqflo"
    );

    // kind and apiVersion may be left out: the route says what it is.
    let (status, review) = post(&fake, Some(&reviewer), json!({"spec": {"token": token}})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(review["status"]["authenticated"], true);
}

#[tokio::test]
async fn unknown_revoked_and_other_audience_tokens_are_not_authenticated() {
    let fake = cluster();
    let reviewer = fake.token("vault", "vault").unwrap();
    let token = fake.token("payments", "reqflo").unwrap();
    let not_ours = format!("{token}x");
    for (body, error) in [
        (spec(&not_ours), "token lookup failed"),
        (
            json!({"spec": {"token": token, "audiences": ["vault"]}}),
            "is invalid for the target audiences",
        ),
    ] {
        let (status, review) = post(&fake, Some(&reviewer), body).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(review["status"].get("authenticated").is_none(), "{review}");
        assert_eq!(review["status"]["user"], json!({}));
        let said = review["status"]["error"].as_str().unwrap();
        assert!(said.contains(error), "{said}");
    }
    fake.revoke(&token);
    let (_, review) = post(&fake, Some(&reviewer), spec(&token)).await;
    assert!(review["status"].get("authenticated").is_none(), "{review}");
    let authenticated: Vec<_> = fake
        .reviews()
        .into_iter()
        .map(|r| r.authenticated)
        .collect();
    assert_eq!(authenticated, [None, None, None]);
}

#[tokio::test]
async fn the_caller_must_be_a_known_reviewer_and_the_body_a_token_review() {
    let fake = cluster();
    let reviewer = fake.token("vault", "vault").unwrap();
    let token = fake.token("payments", "reqflo").unwrap();
    let (status, body) = post(&fake, None, spec(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "Unauthorized");
    assert_eq!(body["code"], 401);
    // A workload's own token may not review (no system:auth-delegator).
    let (status, body) = post(&fake, Some(&token), spec(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["reason"], "Forbidden");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("system:serviceaccount:payments:reqflo")
    );
    for bad in [
        json!({"kind": "SubjectAccessReview", "spec": {"token": token}}),
        json!({"apiVersion": "authentication.k8s.io/v1beta1", "spec": {"token": token}}),
        json!({"spec": {}}),
    ] {
        let (status, body) = post(&fake, Some(&reviewer), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["reason"], "BadRequest");
    }
    assert!(fake.reviews().is_empty());
}
