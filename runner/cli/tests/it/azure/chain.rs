//! The credential chain's token links against the fake Azure AD: client
//! credentials (one token for several secrets, a wrong secret refused),
//! workload identity's federated token file, a managed identity (and a
//! workload that has none), and renewal of a token about to expire.

use super::{Azure, CLIENT_ENV, DB_PASSWORD, kv_project};
use crate::common::{CANARY, assert_absent, read_report};

use std::time::Duration;

use reqflo_fakes::azure::{
    AzureData, CLIENT_ID, CLIENT_SECRET, DB_CREDENTIALS_NAME, FEDERATED_TOKEN, PAYMENTS_KEY_NAME,
    PAYMENTS_KEY_OLD_VALUE, PAYMENTS_KEY_OLD_VERSION, TENANT_ID,
};

#[test]
fn workload_identity_sends_the_federated_token_and_never_shows_it() {
    let az = Azure::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, FEDERATED_TOKEN).expect("token file");
    let provider = format!(
        "    config: {{vault_url: \"{}\", workload_identity: true}}\n    grants:\n      \
         env: [AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST]\n      \
         files: [$AZURE_FEDERATED_TOKEN_FILE]\n      hosts: [\"{}\"]\n",
        az.fake.url(),
        az.grant()
    );
    let secrets = format!("  KEY: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &provider, &secrets, &[], &["KEY"]);
    let path = file.display().to_string();
    let url = az.fake.url();
    let env = [
        ("AZURE_FEDERATED_TOKEN_FILE", path.as_str()),
        ("AZURE_TENANT_ID", TENANT_ID),
        ("AZURE_CLIENT_ID", CLIENT_ID),
        ("AZURE_AUTHORITY_HOST", url.as_str()),
    ];
    let run = p.run(&["run", "j", "-v"], &env);
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1);
    assert_eq!(az.token_requests(), 1);
    for value in [CANARY, FEDERATED_TOKEN] {
        assert_absent(&run.all(), value, "a workload identity run");
    }

    // A token Azure AD has no federated credential for: refused, named,
    // never shown.
    std::fs::write(&file, "eyJ.not-the-trusted-one.sig").expect("token file");
    let run = p.run(&["run", "j"], &env);
    run.expect_code(3)
        .expect_output("Azure AD refused the federated token")
        .expect_output("AADSTS70021");
    assert_absent(
        &run.all(),
        "eyJ.not-the-trusted-one.sig",
        "a refused federated token",
    );
}

#[test]
fn client_credentials_fetch_one_token_for_several_secrets() {
    let az = Azure::start();
    let secrets = format!(
        "  LATEST: {{reference: {PAYMENTS_KEY_NAME}}}\n\
         \x20 PINNED: {{reference: \"{PAYMENTS_KEY_NAME}/{PAYMENTS_KEY_OLD_VERSION}\"}}\n\
         \x20 DB_PASSWORD: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n\
         \x20 DB_USER: {{reference: \"{DB_CREDENTIALS_NAME}#username\"}}\n"
    );
    let p = kv_project(
        CANARY,
        &az.client_credentials(),
        &secrets,
        &["PINNED", "DB_PASSWORD", "DB_USER"],
        &["LATEST"],
    );
    let run = p.run(&["run", "j", "-v"], &CLIENT_ENV);
    run.expect_code(0);
    assert_eq!(az.token_requests(), 1, "{:#?}", az.fake.requests());
    assert_eq!(az.fake.issued_tokens().len(), 1);
    // payments latest, payments pinned, db-credentials once for both keys.
    assert_eq!(az.vault_requests(), 3, "{:#?}", az.fake.requests());
    let out = run.all();
    for value in [CANARY, PAYMENTS_KEY_OLD_VALUE, DB_PASSWORD] {
        assert_absent(&out, value, "client credentials run with -v");
    }
    for credential in az.credentials() {
        assert_absent(&out, &credential, "client credentials run with -v");
    }
}

#[test]
fn a_wrong_client_secret_is_denied_and_never_printed() {
    let az = Azure::start();
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &az.client_credentials(), &secrets, &["S"], &[]);
    let wrong = "wr0ng~Client/Se+cret=";
    let run = p.run(
        &["run", "j", "-v", "--report-json", "r.json"],
        &[("AZURE_CLIENT_SECRET", wrong)],
    );
    run.expect_code(3)
        .expect_output(
            "access denied: Azure AD refused the client credentials (invalid_client, \
             AADSTS7000215): check the client secret in AZURE_CLIENT_SECRET",
        )
        .expect_output(CLIENT_ID);
    // A failed run writes its report too: a missing one was deleted for a leak.
    let report = read_report(&run, &p.path("r.json"));
    for (text, what) in [(run.all(), "console"), (report, "r.json")] {
        assert_absent(&text, wrong, what);
        assert_absent(&text, CLIENT_SECRET, what);
        // Azure AD's description is never passed on.
        assert!(!text.contains("Trace ID"), "{what}: {text}");
    }
    assert_eq!(az.token_requests(), 1);
    assert_eq!(az.vault_requests(), 0);
    assert!(az.fake.issued_tokens().is_empty());
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn a_token_about_to_expire_is_renewed() {
    let az = Azure::start();
    // Four minutes is inside the five-minute renewal margin: each fetch needs
    // a fresh token, which the plugin learns from `expires_in`.
    az.fake.set_token_lifetime(Duration::from_secs(240));
    let secrets = format!(
        "  A: {{reference: {PAYMENTS_KEY_NAME}}}\n\
         \x20 B: {{reference: \"{PAYMENTS_KEY_NAME}/{PAYMENTS_KEY_OLD_VERSION}\"}}\n\
         \x20 C: {{reference: \"{DB_CREDENTIALS_NAME}#username\"}}\n"
    );
    let p = kv_project(
        CANARY,
        &az.client_credentials(),
        &secrets,
        &["A", "B", "C"],
        &[],
    );
    p.run(&["run", "j"], &CLIENT_ENV).expect_code(0);
    assert_eq!(az.token_requests(), 3, "{:#?}", az.fake.requests());
    assert_eq!(az.vault_requests(), 3);
}

#[test]
fn a_managed_identity_needs_no_secret_and_its_token_is_renewed() {
    let az = Azure::start();
    // Tokens living a minute are inside the provider's renewal margin: the
    // second secret is read with a new one.
    az.fake.set_token_lifetime(Duration::from_secs(60));
    let provider = format!(
        "    config: {{vault_url: \"{}\", managed_identity: true}}\n    grants:\n      env: [AZURE_POD_IDENTITY_AUTHORITY_HOST, IDENTITY_ENDPOINT, IDENTITY_HEADER]\n      hosts: [\"{}\"]\n",
        az.fake.url(),
        az.grant()
    );
    let secrets = format!(
        "  KEY: {{reference: {PAYMENTS_KEY_NAME}}}\n  DB: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n"
    );
    let p = kv_project(CANARY, &provider, &secrets, &["DB"], &["KEY"]);
    // A VM: the Instance Metadata Service (here the fake, as the SDKs'
    // AZURE_POD_IDENTITY_AUTHORITY_HOST points it).
    let run = p.run(
        &["run", "j", "-v"],
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &az.fake.url())],
    );
    run.expect_code(0);
    assert_eq!(
        az.count("GET /metadata/identity/oauth2/token"),
        2,
        "{:#?}",
        az.fake.requests()
    );
    for secret in az
        .credentials()
        .iter()
        .map(String::as_str)
        .chain([CANARY, DB_PASSWORD])
    {
        assert_absent(&run.all(), secret, "a managed identity run");
    }
    // App Service: its endpoint and header.
    let endpoint = format!("{}/msi/token", az.fake.url());
    p.run(
        &["run", "j"],
        &[
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", reqflo_fakes::azure::IDENTITY_HEADER),
        ],
    )
    .expect_code(0);
    assert_eq!(az.count("GET /msi/token"), 2);
}

#[test]
fn a_workload_without_an_identity_is_told_so() {
    let data = AzureData {
        managed_identity: false,
        ..AzureData::sample(CANARY, DB_PASSWORD)
    };
    let az = Azure::serving(data);
    let provider = format!(
        "    config: {{vault_url: \"{}\", managed_identity: true}}\n    grants:\n      env: [AZURE_POD_IDENTITY_AUTHORITY_HOST]\n      hosts: [\"{}\"]\n",
        az.fake.url(),
        az.grant()
    );
    let secrets = format!("  KEY: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &provider, &secrets, &[], &["KEY"]);
    p.run(
        &["run", "j"],
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &az.fake.url())],
    )
    .expect_code(3)
    .expect_output("has no identity to give (400)");
}
