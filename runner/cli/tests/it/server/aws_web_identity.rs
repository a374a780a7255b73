//! The Cloud Runner on EKS: a worker resolves an AWS secret with a web
//! identity only (IAM roles for service accounts), against a real moto that
//! serves STS `AssumeRoleWithWebIdentity` and checks every later call's
//! signature. No static AWS key is anywhere on the server: not in its
//! environment, not among its managed values.
//!
//! A server's providers never read the server's own environment: the
//! variables in `grants.env` are managed values. The admin registers the
//! role's ARN and the token file's path (what EKS puts in a pod's
//! `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE`) and the token file is
//! granted by `$AWS_WEB_IDENTITY_TOKEN_FILE`; it is read from the server's
//! disk at each run, as Kubernetes rotates it.

use serde_json::json;

use super::{Server, call, data_text, examples, run_example};
use crate::common::assert_absent;
use crate::common::servers::{self, MOTO_SETUP_IAM_ACTIONS};

/// The region moto keeps the secret in.
const REGION: &str = "eu-west-2";
/// The demo API's key, held by Secrets Manager (moto).
const VALUE: &str = "sk_aws/Web+Identity=4d1e";
/// The projected service-account token (moto does not check its signature).
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cmVxZmxvOnJ1bm5lciJ9.c2lnbmF0dXJlLW9mLXRoZS1rdWJlbGV0";
/// The role moto_setup.py creates, allowed secretsmanager:*.
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/reqflo-role";

#[test]
fn a_worker_resolves_an_aws_secret_with_a_web_identity_only() {
    // A moto of this test's own: its auth counter is changed below.
    let spec = json!({ "secrets": [{ "name": "cloud-runner/payments", "versions": [{ "string": VALUE }] }] });
    let actions = MOTO_SETUP_IAM_ACTIONS + 1;
    let moto = servers::moto(actions);
    servers::moto_setup(&moto, REGION, actions, &spec);
    // moto checks every call's SigV4 signature now, and refuses an unsigned
    // one; AssumeRoleWithWebIdentity is unsigned by design (the token is the
    // proof). moto's test API lets exactly one more action through
    // unchecked: the worker's STS call. The read that follows must be signed
    // with the keys STS issued, and moto checks them against the role.
    reset_auth(&moto.server.url, 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        data.join("server.yaml"),
        format!(
            "providers:\n  aws:\n    plugin: builtin:aws\n    config: {{region: {REGION}, endpoint: \"{url}\"}}\n    grants:\n      env: [AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ENDPOINT_URL_STS]\n      files: [$AWS_WEB_IDENTITY_TOKEN_FILE]\n      hosts: [\"{authority}\"]\n",
            url = moto.server.url,
            authority = moto.server.authority
        ),
    )
    .expect("server.yaml");
    let api = demo_api::spawn(VALUE).expect("demo api");
    let example = examples(dir.path());
    // The server's environment holds no AWS key (the harness clears it).
    let server = Server::start(&data);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();
    let token_path = token_file.display().to_string();
    let description = "the aws provider's web identity";
    for registered in [
        json!({"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": token_path, "description": description, "journeys": []}),
        json!({"name": "AWS_ROLE_ARN", "value": ROLE_ARN, "description": description, "journeys": []}),
        json!({"name": "AWS_ENDPOINT_URL_STS", "value": moto.server.url, "description": description, "journeys": []}),
        json!({"name": "PAYMENTS_API_KEY", "provider": "aws", "reference": "cloud-runner/payments", "journeys": ["payment-flow"]}),
    ] {
        let (status, answer) = call(
            &url,
            "POST",
            "/api/secrets",
            &admin,
            Some(registered),
            &mut seen,
        );
        assert_eq!(status, 201, "{answer}");
    }

    let base = format!("base_url={}", api.base_url());
    let run = run_example(&example, &url, &["--var", &base, "-v"], Some(&admin));
    run.expect_code(0).expect_output("payment-flow passed");
    assert!(api.requests() >= 1, "the demo API got the key");

    // moto received the read signed with temporary keys (an `ASIA` key ID
    // and a session token), which only its STS could have issued.
    let reads: Vec<_> = servers::moto_requests(&moto, "secretsmanager.GetSecretValue")
        .into_iter()
        .filter(|(headers, _)| {
            !headers["User-Agent"]
                .as_str()
                .is_some_and(|agent| agent.starts_with("Boto3"))
        })
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    let authorization = reads[0].0["Authorization"].as_str().unwrap_or_default();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=ASIA"),
        "{authorization}"
    );
    assert!(reads[0].0["X-Amz-Security-Token"].is_string());

    // The run's history, events and reports, the audit, the managed values'
    // list: none holds the value or the token, and no AWS key is managed.
    let (_, runs) = call(&url, "GET", "/api/runs", &admin, None, &mut seen);
    let id = runs["runs"][0]["id"].as_str().expect("a run").to_string();
    let (_, shown) = call(
        &url,
        "GET",
        &format!("/api/runs/{id}"),
        &admin,
        None,
        &mut seen,
    );
    assert_eq!(shown["status"], "passed", "{shown}");
    for path in [
        format!("/api/runs/{id}/events"),
        format!("/api/runs/{id}/report/json"),
        format!("/api/runs/{id}/report/junit"),
        format!("/api/runs/{id}/report/html"),
        "/api/audit".to_string(),
    ] {
        let (status, _) = call(&url, "GET", &path, &admin, None, &mut seen);
        assert_eq!(status, 200, "{path}");
    }
    let (_, managed) = call(&url, "GET", "/api/secrets", &admin, None, &mut seen);
    let managed = managed.to_string();
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert!(!managed.contains(key), "{key} is managed: {managed}");
    }
    let mut everything = vec![run.all(), server.log()];
    everything.extend(seen.iter().cloned());
    drop(server);
    everything.push(data_text(&data));
    for text in &everything {
        assert_absent(text, VALUE, "a web identity run on the server");
        assert_absent(text, TOKEN, "a web identity run on the server");
    }
}

/// moto's test API: let the next `actions` AWS actions through unchecked.
fn reset_auth(moto: &str, actions: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let answer = reqwest::Client::new()
            .post(format!("{moto}/moto-api/reset-auth"))
            .body(actions.to_string())
            .send()
            .await
            .expect("moto answers");
        assert!(answer.status().is_success(), "{:?}", answer.text().await);
    });
}
