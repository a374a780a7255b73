//! A client certificate file (`AZURE_CLIENT_CERTIFICATE_PATH`) as the only
//! credential: the signed assertion, renewal, a file without a certificate,
//! a file not granted and a certificate Azure AD does not know.

use super::{Azure, DB_PASSWORD, kv_project};
use crate::common::{CANARY, assert_absent, assert_redacted, every_channel, show_last};

use std::time::Duration;

use reqflo_fakes::azure::{
    AzureData, CLIENT_ID, DB_CREDENTIALS_NAME, PAYMENTS_KEY_NAME, TENANT_ID,
};

/// The jwt crate's test key and its self-signed certificate (made with
/// openssl for the tests alone): an app's client certificate file.
const CLIENT_KEY: &str = include_str!("../../../../../plugins/jwt/tests/keys/rsa2048.pem");
const CLIENT_CERT: &str = include_str!("../../../../../plugins/jwt/tests/keys/cert.pem");

/// The provider's lines for the default chain with only a client
/// certificate granted (`files` as written, for the not-granted case).
fn certificate_provider(az: &Azure, files: &str) -> String {
    format!(
        "    config: {{vault_url: \"{}\"}}\n    grants:\n      \
         env: [AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, AZURE_CLIENT_CERTIFICATE_PATH]\n      \
         files: [{files}]\n      hosts: [\"{}\"]\n",
        az.fake.url(),
        az.grant()
    )
}

#[test]
fn a_client_certificate_file_is_the_only_credential_and_never_shown() {
    let mut data = AzureData::sample(CANARY, DB_PASSWORD);
    data.clients[0].certificates = vec![CLIENT_CERT.to_string()];
    let az = Azure::serving(data);
    // Inside the five-minute renewal margin: each fetch signs a new assertion.
    az.fake.set_token_lifetime(Duration::from_secs(240));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("client.pem");
    std::fs::write(&file, format!("{CLIENT_KEY}{CLIENT_CERT}")).expect("certificate file");
    let path = file.display().to_string();
    let url = az.fake.url();
    let env = [
        ("AZURE_TENANT_ID", TENANT_ID),
        ("AZURE_CLIENT_ID", CLIENT_ID),
        ("AZURE_AUTHORITY_HOST", url.as_str()),
        ("AZURE_CLIENT_CERTIFICATE_PATH", path.as_str()),
    ];
    let secrets = format!(
        "  S: {{reference: {PAYMENTS_KEY_NAME}}}\n\
         \x20 DB: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n"
    );
    let provider = certificate_provider(&az, "$AZURE_CLIENT_CERTIFICATE_PATH");
    let p = kv_project(CANARY, &provider, &secrets, &["S", "DB"], &["S"]);
    show_last(&p, &["S", "DB"]);
    let channels = every_channel(&p, &env);
    assert_eq!(az.vault_requests(), 2);
    assert_eq!(az.token_requests(), 2, "{:#?}", az.fake.requests());
    let key_lines: Vec<&str> = CLIENT_KEY
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    for (what, text) in &channels {
        assert_redacted(text, "S", what);
        assert_absent(text, CANARY, what);
        assert_absent(text, DB_PASSWORD, what);
        for credential in az.credentials() {
            assert_absent(text, &credential, what);
        }
        for line in &key_lines {
            assert!(
                !text.contains(line),
                "{what}: a line of the private key in:\n{text}"
            );
        }
    }

    // A file holding only the key: named, with the variable, and no key.
    std::fs::write(&file, CLIENT_KEY).expect("certificate file");
    let run = p.run(&["run", "j", "-v"], &env);
    run.expect_code(3).expect_output(&format!(
        "AZURE_CLIENT_CERTIFICATE_PATH names {path}, which holds no certificate"
    ));
    for line in &key_lines {
        assert!(
            !run.all().contains(line),
            "a line of the private key in:\n{}",
            run.all()
        );
    }

    // The file not granted: what to grant.
    std::fs::write(&file, format!("{CLIENT_KEY}{CLIENT_CERT}")).expect("certificate file");
    let ungranted = kv_project(
        CANARY,
        &certificate_provider(&az, ""),
        &secrets,
        &["S"],
        &[],
    );
    ungranted
        .run(&["run", "j"], &env)
        .expect_code(3)
        .expect_output(
            "but it is not there, or not granted: list `$AZURE_CLIENT_CERTIFICATE_PATH` under the \
         provider's grants.files",
        );

    // A certificate Azure AD does not know for the app: AADSTS700027, said so.
    let unregistered = Azure::start();
    let p = kv_project(
        CANARY,
        &certificate_provider(&unregistered, "$AZURE_CLIENT_CERTIFICATE_PATH"),
        &secrets,
        &["S"],
        &[],
    );
    let url = unregistered.fake.url();
    let mut env = env;
    env[2].1 = url.as_str();
    let run = p.run(&["run", "j"], &env);
    run.expect_code(3)
        .expect_output("Azure AD refused the client certificate in the file AZURE_CLIENT_CERTIFICATE_PATH names (invalid_client, AADSTS700027): the certificate is not registered for client");
    assert_eq!(unregistered.vault_requests(), 0);
}
