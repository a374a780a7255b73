//! Application Default Credentials through the real component: a
//! service-account key, an authorized user and an external account (with
//! impersonation) named by `GOOGLE_APPLICATION_CREDENTIALS`, and the metadata
//! server, each against **fakes** of Google's token services
//! (`reqflo_fakes::google_token`, `reqflo_fakes::gce_metadata`) whose tokens
//! the fake Secret Manager accepts.

use super::{CANARY, NUMBER, PROJECT, WEBHOOK, config};
use crate::common::{TestProject, assert_absent, project};

use reqflo_fakes::gcp::{FakeSecretManager, SecretManagerData, VersionState};
use reqflo_fakes::google_token::{FakeGoogleToken, GoogleTokenData};

/// The key the jwt crate's tests use (made with openssl).
const KEY_PEM: &str = include_str!("../../../../../plugins/jwt/tests/keys/rsa2048.pem");
const EMAIL: &str = "reqflo@acme-payments.iam.gserviceaccount.com";
/// An authorized user's credentials: never in any output.
const CLIENT_ID: &str = "764086051850-canary.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-cAn4ry/Client+Secret=1";
const REFRESH_TOKEN: &str = "1//cAn4ry/Refresh+Token=2";
/// An external account's subject token, pool and impersonated account.
const SUBJECT_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.cAn4ry-Subject.Token3";
const AUDIENCE: &str = "//iam.googleapis.com/projects/270012345678/locations/global/workloadIdentityPools/ci/providers/github";
const APP: &str = "app@acme-payments.iam.gserviceaccount.com";

/// Secret Manager with `stripe-key` ([`CANARY`]) and `other` ([`WEBHOOK`]),
/// accepting `tokens`.
fn secret_manager(tokens: &[&str]) -> FakeSecretManager {
    let mut data = SecretManagerData::new(PROJECT, NUMBER)
        .secret("stripe-key", &[(CANARY, VersionState::Enabled)])
        .secret("other", &[(WEBHOOK, VersionState::Enabled)]);
    for token in tokens {
        data = data.token(token);
    }
    FakeSecretManager::spawn(data).expect("fake Secret Manager starts")
}

/// A journey reading `KEY` then `OTHER`, the provider granted `grants`
/// (lines under `grants:`).
fn chain_project(f: &FakeSecretManager, grants: &str) -> TestProject {
    let reqflo = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [gcp]\n\
         providers:\n  gcp:\n    plugin: builtin:gcp\n    config: {{{}}}\n    grants:\n{grants}\
         secrets:\n  KEY: {{reference: stripe-key}}\n  OTHER: {{reference: other}}\n",
        config(f)
    );
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: KEY}}\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: OTHER}}\n";
    project(&[("reqflo.yaml", &reqflo), ("journeys/j.yaml", journey)])
}

/// Grants of `GOOGLE_APPLICATION_CREDENTIALS`, its file, `files` more, and
/// the hosts of `f` and `token`.
fn file_grants(f: &FakeSecretManager, token: &FakeGoogleToken, files: &str) -> String {
    format!(
        "      env: [GOOGLE_APPLICATION_CREDENTIALS]\n      files: [$GOOGLE_APPLICATION_CREDENTIALS{files}]\n\
         \x20     hosts: [\"{}\", \"{}\"]\n",
        f.addr(),
        token.addr()
    )
}

/// Write `json` as the project's credentials file; its path.
fn credentials_file(p: &TestProject, json: &serde_json::Value) -> String {
    let path = p.path("adc.json");
    std::fs::write(&path, json.to_string()).expect("write credentials file");
    path.display().to_string()
}

/// A token endpoint that knows the authorized user and gives `access`.
fn user_token_endpoint(access: &str) -> FakeGoogleToken {
    let data = GoogleTokenData::new(&[access], 3599).user(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN);
    FakeGoogleToken::spawn(data).expect("fake token endpoint")
}

/// The authorized user's credentials file, with `refresh_token`.
fn user_file(token: &FakeGoogleToken, refresh_token: &str) -> serde_json::Value {
    serde_json::json!({"type": "authorized_user", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "refresh_token": refresh_token,
        "quota_project_id": PROJECT, "token_uri": token.token_uri()})
}

/// The lines of the PEM key's body: none may be printed.
fn key_lines() -> Vec<&'static str> {
    KEY_PEM
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 20)
        .collect()
}

#[test]
fn a_service_account_key_signs_its_way_to_tokens_renewed_mid_run() {
    // Two tokens the token endpoint hands out in turn, each living a minute:
    // inside the provider's five-minute margin, so the second secret's read
    // renews it (with a newly signed assertion) rather than reusing it.
    let (first, second) = ("ya29.c.sa/Tok+en=1", "ya29.c.sa/Tok+en=2");
    let token = FakeGoogleToken::spawn(
        GoogleTokenData::new(&[first, second], 60)
            .service_account(EMAIL, "3f1c2a-key-id", KEY_PEM)
            .expect("the test key"),
    )
    .expect("fake token endpoint");
    let f = secret_manager(&[first, second]);
    let p = chain_project(&f, &file_grants(&f, &token, ""));
    let path = credentials_file(
        &p,
        &serde_json::json!({
            "type": "service_account", "project_id": PROJECT, "private_key_id": "3f1c2a-key-id",
            "private_key": KEY_PEM, "client_email": EMAIL, "client_id": "1234567890",
            "token_uri": token.token_uri(),
        }),
    );
    let run = p.run(
        &["run", "j", "-v"],
        &[("GOOGLE_APPLICATION_CREDENTIALS", &path)],
    );
    run.expect_code(0);
    assert_eq!(
        token.tokens_given(),
        2,
        "a token about to expire is renewed"
    );
    assert_eq!(f.access_calls(), 2);
    for value in [CANARY, WEBHOOK, first, second] {
        assert_absent(&run.all(), value, "a run on a service account key");
    }
    for line in key_lines() {
        assert!(!run.all().contains(line), "a line of the key was printed");
    }

    // A key the endpoint does not know (another account's email): denied,
    // naming the account, the endpoint's code and nothing of the key.
    let other = credentials_file(
        &p,
        &serde_json::json!({"type": "service_account", "private_key": KEY_PEM,
            "client_email": "stranger@acme-payments.iam.gserviceaccount.com",
            "token_uri": token.token_uri()}),
    );
    let run = p.run(&["run", "j"], &[("GOOGLE_APPLICATION_CREDENTIALS", &other)]);
    run.expect_code(3)
        .expect_output("access denied")
        .expect_output("refused the key of service account stranger@acme-payments.iam.gserviceaccount.com (400 invalid_grant)");
    for line in key_lines() {
        assert!(!run.all().contains(line), "a line of the key was printed");
    }
}

#[test]
fn an_authorized_user_refreshes_and_never_shows_its_secrets() {
    let access = "ya29.a0-user/Tok+en=1";
    let token = user_token_endpoint(access);
    let f = secret_manager(&[access]);
    let p = chain_project(&f, &file_grants(&f, &token, ""));
    let path = credentials_file(&p, &user_file(&token, REFRESH_TOKEN));
    let env = [("GOOGLE_APPLICATION_CREDENTIALS", path.as_str())];
    let run = p.run(&["run", "j", "-v"], &env);
    run.expect_code(0);
    assert_eq!(token.tokens_given(), 1, "an hour-long token serves the run");
    for value in [CANARY, WEBHOOK, access, CLIENT_SECRET, REFRESH_TOKEN] {
        assert_absent(&run.all(), value, "a run as an authorized user");
    }
    // A revoked refresh token: denied, naming the client, not its secrets.
    credentials_file(&p, &user_file(&token, "1//cAn4ry/Revoked+Token=3"));
    let run = p.run(&["run", "j"], &env);
    run.expect_code(3)
        .expect_output("access denied")
        .expect_output(&format!(
            "refresh token of OAuth client {CLIENT_ID} (400 invalid_grant)"
        ))
        .expect_output("gcloud auth application-default login");
    for value in [CLIENT_SECRET, "1//cAn4ry/Revoked+Token=3"] {
        assert_absent(&run.all(), value, "a refused authorized user");
    }
}

#[test]
fn gclouds_well_known_file_is_read_from_a_granted_home() {
    let access = "ya29.a0-gcloud/Tok+en=1";
    let token = user_token_endpoint(access);
    let f = secret_manager(&[access]);
    let home = tempfile::tempdir().expect("temp dir");
    let gcloud = home.path().join(".config/gcloud");
    std::fs::create_dir_all(&gcloud).expect("gcloud folder");
    let user = user_file(&token, REFRESH_TOKEN);
    std::fs::write(
        gcloud.join("application_default_credentials.json"),
        user.to_string(),
    )
    .expect("write gcloud's file");
    let grants = format!(
        "      env: [HOME]\n      files: [~/.config/gcloud/application_default_credentials.json]\n\
         \x20     hosts: [\"{}\", \"{}\"]\n",
        f.addr(),
        token.addr()
    );
    let p = chain_project(&f, &grants);
    let home = home.path().display().to_string();
    let run = p.run(&["run", "j", "-v"], &[("HOME", home.as_str())]);
    run.expect_code(0);
    assert_eq!(token.tokens_given(), 1);
    for value in [CANARY, WEBHOOK, access, CLIENT_SECRET, REFRESH_TOKEN] {
        assert_absent(&run.all(), value, "a run on gcloud's file");
    }
    // Without the file granted, there is no link left: each one is named.
    let p = chain_project(
        &f,
        &grants.replace(
            "~/.config/gcloud/application_default_credentials.json",
            "~/elsewhere.json",
        ),
    );
    p.run(&["run", "j"], &[("HOME", home.as_str())])
        .expect_code(3)
        .expect_output("GOOGLE_OAUTH_ACCESS_TOKEN is not visible")
        .expect_output("GOOGLE_APPLICATION_CREDENTIALS");
    assert_eq!(token.tokens_given(), 1);
}

#[test]
fn an_external_account_exchanges_a_granted_token_file_and_impersonates() {
    // STS hands out the federated token, IAM Credentials the account's:
    // Secret Manager accepts only the latter.
    let (federated, impersonated) = ("ya29.d.federated/Tok+en", "ya29.c.impersonated/Tok+en");
    let token =
        FakeGoogleToken::spawn(GoogleTokenData::new(&[federated, impersonated], 3599).pool(
            AUDIENCE,
            SUBJECT_TOKEN,
            &[APP],
        ))
        .expect("fake STS");
    let f = secret_manager(&[impersonated]);
    let dir = tempfile::tempdir().expect("temp dir");
    let subject = dir.path().join("token.json");
    std::fs::write(
        &subject,
        serde_json::json!({"id_token": SUBJECT_TOKEN}).to_string(),
    )
    .expect("subject token file");
    let subject = subject.display().to_string();
    let account = |subject_file: &str| {
        serde_json::json!({
            "type": "external_account", "audience": AUDIENCE,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": token.sts_url(),
            "service_account_impersonation_url": token.impersonation_url(APP),
            "credential_source": {"file": subject_file,
                "format": {"type": "json", "subject_token_field_name": "id_token"}},
        })
    };
    let granted = chain_project(&f, &file_grants(&f, &token, &format!(", \"{subject}\"")));
    let path = credentials_file(&granted, &account(&subject));
    let env = [("GOOGLE_APPLICATION_CREDENTIALS", path.as_str())];
    let run = granted.run(&["run", "j", "-v"], &env);
    run.expect_code(0);
    assert_eq!(token.tokens_given(), 2, "one exchange, one impersonation");
    for value in [CANARY, WEBHOOK, SUBJECT_TOKEN, federated, impersonated] {
        assert_absent(&run.all(), value, "a run on an external account");
    }

    // The subject token's file not granted: named, with what to grant.
    let ungranted = chain_project(&f, &file_grants(&f, &token, ""));
    let path = credentials_file(&ungranted, &account(&subject));
    ungranted
        .run(&["run", "j"], &[("GOOGLE_APPLICATION_CREDENTIALS", &path)])
        .expect_code(3)
        .expect_output(&format!(
            "credential_source.file names {subject}, but it is not there, or not granted"
        ));
    // An AWS source is refused, saying why.
    let mut aws = account(&subject);
    aws["credential_source"] = serde_json::json!({"environment_id": "aws1",
        "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"});
    let path = credentials_file(&granted, &aws);
    granted
        .run(&["run", "j"], &[("GOOGLE_APPLICATION_CREDENTIALS", &path)])
        .expect_code(3)
        .expect_output("an AWS credential source (`environment_id`) is not supported");
    assert_eq!(token.tokens_given(), 2);
}

#[test]
fn on_google_cloud_the_metadata_servers_token_is_used_and_renewed() {
    use reqflo_fakes::gce_metadata::FakeMetadata;
    // Two tokens the metadata server hands out in turn, each living a
    // minute: inside the provider's five-minute margin, so every fetch of a
    // new secret renews it. Secret Manager accepts both.
    let (first, second) = ("ya29.meta/Tok+en=1", "ya29.meta/Tok+en=2");
    let metadata = FakeMetadata::spawn(&[first, second], 60).expect("fake metadata server");
    let data = SecretManagerData::new(PROJECT, NUMBER)
        .token(first)
        .token(second)
        .secret("stripe-key", &[(CANARY, VersionState::Enabled)])
        .secret("other", &[(WEBHOOK, VersionState::Enabled)]);
    let f = FakeSecretManager::spawn(data).expect("fake Secret Manager starts");
    let secrets = "  KEY: {reference: stripe-key}\n  OTHER: {reference: other}\n";
    // No token variable at all: only the metadata server's address and host.
    let reqflo = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [gcp]\n\
         providers:\n  gcp:\n    plugin: builtin:gcp\n    config: {{{}}}\n\
         \x20   grants:\n      env: [GCE_METADATA_HOST]\n      hosts: [\"{}\", \"{}\"]\n\
         secrets:\n{secrets}",
        config(&f),
        f.addr(),
        metadata.host()
    );
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: KEY}}\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: OTHER}}\n";
    let p = project(&[("reqflo.yaml", &reqflo), ("journeys/j.yaml", journey)]);
    let run = p.run(
        &["run", "j", "-v"],
        &[("GCE_METADATA_HOST", &metadata.host())],
    );
    run.expect_code(0);
    assert_eq!(
        metadata.tokens_given(),
        2,
        "a token about to expire is renewed"
    );
    for value in [CANARY, WEBHOOK, first, second] {
        assert_absent(&run.all(), value, "a run on the metadata server's tokens");
    }

    // A metadata server the provider may not reach: the host says so.
    let closed = reqflo.replace(&format!(", \"{}\"", metadata.host()), "");
    let p = project(&[("reqflo.yaml", &closed), ("journeys/j.yaml", journey)]);
    p.run(&["run", "j"], &[("GCE_METADATA_HOST", &metadata.host())])
        .expect_code(3)
        .expect_output("which is not in its grants.hosts");
    assert_eq!(metadata.tokens_given(), 2);
}
