//! Reading Key Vault secrets from the fake: the latest and pinned
//! versions, the vault's own secret identifier, a key of a JSON secret,
//! not found and disabled secrets, one lookup per secret, the provider
//! contract, and no value or credential in any output.

use super::{Azure, CLIENT_ENV, DB_PASSWORD, STATIC_ENV, kv_project};
use crate::common::{self, CANARY, assert_absent, assert_redacted, every_channel, show_last};

use reqflo_fakes::azure::{
    CLIENT_ID, DB_CREDENTIALS_NAME, PAYMENTS_KEY_NAME, PAYMENTS_KEY_OLD_VALUE,
    PAYMENTS_KEY_OLD_VERSION, RETIRED_NAME, ROTATING_NAME, ROTATING_OLD_VERSION, STATIC_TOKEN,
    TENANT_ID,
};

/// The line of `check --resolve` output about secret `name`.
fn line_of(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.contains(&format!("secret {name}:")))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{out}"))
        .to_string()
}

#[test]
fn the_provider_keeps_the_contract_against_the_fake() {
    let az = Azure::start();
    let url = az.fake.url();
    let config = [
        format!("vault_url={url}"),
        format!("tenant_id={TENANT_ID}"),
        format!("client_id={CLIENT_ID}"),
        format!("authority={url}"),
    ];
    let mut args = Vec::new();
    for entry in &config {
        args.extend(["--config", entry.as_str()]);
    }
    let host = az.grant();
    args.extend([
        "--grant-env",
        "AZURE_CLIENT_SECRET",
        "--grant-host",
        &host,
        "--reference",
        PAYMENTS_KEY_NAME,
        "--missing",
        "no-such-secret",
    ]);
    let all = common::passes_contract("azure", &args, &CLIENT_ENV);
    for credential in az.credentials() {
        assert_absent(&all, &credential, "plugin test of builtin:azure");
    }
    assert_absent(&all, CANARY, "plugin test of builtin:azure");
}

#[test]
fn latest_and_pinned_versions() {
    let az = Azure::start();
    let secrets = format!(
        "  LATEST: {{reference: {PAYMENTS_KEY_NAME}}}\n\
         \x20 PINNED: {{reference: \"{PAYMENTS_KEY_NAME}/{PAYMENTS_KEY_OLD_VERSION}\"}}\n"
    );
    // The demo API takes only CANARY: the latest version is it.
    let p = kv_project(
        CANARY,
        &az.static_token(),
        &secrets,
        &["PINNED"],
        &["LATEST"],
    );
    let run = p.run(&["run", "j", "-v"], &STATIC_ENV);
    run.expect_code(0);
    assert_absent(&run.all(), CANARY, "Key Vault run with -v");
    assert_absent(&run.all(), PAYMENTS_KEY_OLD_VALUE, "Key Vault run with -v");
    assert_absent(&run.all(), STATIC_TOKEN, "Key Vault run with -v");
    assert_eq!(p.api.requests(), 2);

    // An API that takes only the old key accepts the pinned version.
    let p = kv_project(
        PAYMENTS_KEY_OLD_VALUE,
        &az.static_token(),
        &secrets,
        &[],
        &["PINNED"],
    );
    p.run(&["run", "j"], &STATIC_ENV).expect_code(0);
    assert_eq!(
        az.count(&format!(
            "GET /secrets/{PAYMENTS_KEY_NAME}/{PAYMENTS_KEY_OLD_VERSION}?api-version=7.5"
        )),
        2,
        "{:#?}",
        az.fake.requests()
    );
    assert_eq!(
        az.count(&format!("GET /secrets/{PAYMENTS_KEY_NAME}?api-version=7.5")),
        1
    );
}

#[test]
fn the_vaults_own_secret_identifier_is_a_reference() {
    let az = Azure::start();
    // As the portal and `az keyvault secret show` give it.
    let url = az.fake.url();
    let secrets = format!(
        "  BY_URI: {{reference: \"{url}/secrets/{PAYMENTS_KEY_NAME}\"}}\n\
         \x20 ELSEWHERE: {{reference: \"https://other.vault.azure.net/secrets/{PAYMENTS_KEY_NAME}\"}}\n"
    );
    let p = kv_project(CANARY, &az.static_token(), &secrets, &[], &["BY_URI"]);
    p.run(&["run", "j"], &STATIC_ENV).expect_code(0);
    let p = kv_project(CANARY, &az.static_token(), &secrets, &[], &["ELSEWHERE"]);
    p.run(&["run", "j"], &STATIC_ENV)
        .expect_code(3)
        .expect_output("is a secret of another vault than config.vault_url");
}

#[test]
fn a_json_key_of_a_secret() {
    // The DB password is the key the demo API wants.
    let az = Azure::with("api-key-not-used-1", CANARY);
    let secrets = format!(
        "  DB_PASSWORD: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n\
         \x20 DB_USER: {{reference: \"{DB_CREDENTIALS_NAME}#username\"}}\n\
         \x20 DB_PORT: {{reference: \"{DB_CREDENTIALS_NAME}#port\"}}\n"
    );
    let p = kv_project(
        CANARY,
        &az.static_token(),
        &secrets,
        &["DB_USER", "DB_PORT"],
        &["DB_PASSWORD"],
    );
    let run = p.run(&["run", "j", "-v"], &STATIC_ENV);
    run.expect_code(0);
    assert_absent(&run.all(), CANARY, "JSON key run with -v");
    // Three keys of one secret: one fetch.
    assert_eq!(az.vault_requests(), 1, "{:#?}", az.fake.requests());

    // A key that is not there, and a secret that is not JSON.
    let secrets = format!(
        "  NO_KEY: {{reference: \"{DB_CREDENTIALS_NAME}#nope\"}}\n\
         \x20 NOT_JSON: {{reference: \"{PAYMENTS_KEY_NAME}#password\"}}\n"
    );
    let p = kv_project(
        CANARY,
        &az.static_token(),
        &secrets,
        &["NO_KEY", "NOT_JSON"],
        &[],
    );
    let run = p.run(&["check", "j", "--resolve"], &STATIC_ENV);
    run.expect_code(3);
    let out = run.all();
    assert!(
        line_of(&out, "NO_KEY")
            .contains("secret `db-credentials` (latest version) has no JSON key \"nope\""),
        "{out}"
    );
    let not_json = line_of(&out, "NOT_JSON");
    assert!(not_json.contains("invalid reference"), "{out}");
    assert!(not_json.contains("does not hold one"), "{out}");
    assert_absent(&out, CANARY, "JSON key errors");
    assert!(!out.contains("api-key-not-used-1"), "{out}");
}

#[test]
fn not_found_and_bad_references_name_the_secret() {
    let az = Azure::start();
    let secrets = format!(
        "  NO_NAME: {{reference: no-such-secret}}\n\
         \x20 NO_VERSION: {{reference: \"{PAYMENTS_KEY_NAME}/00000000000000000000000000000000\"}}\n\
         \x20 BAD_NAME: {{reference: bad_name}}\n\
         \x20 BAD_VERSION: {{reference: \"{PAYMENTS_KEY_NAME}/not-a-version\"}}\n\
         \x20 A_URL: {{reference: \"https://myvault.vault.azure.net/secrets/x\"}}\n"
    );
    let names = ["NO_NAME", "NO_VERSION", "BAD_NAME", "BAD_VERSION", "A_URL"];
    let p = kv_project(CANARY, &az.static_token(), &secrets, &names, &[]);
    let run = p.run(&["check", "j", "--resolve"], &STATIC_ENV);
    run.expect_code(3);
    let out = run.all();
    let vault = az.fake.url();
    assert!(
        line_of(&out, "NO_NAME").contains(&format!(
            "secret `no-such-secret` (latest version) not found in Key Vault {vault}"
        )),
        "{out}"
    );
    assert!(
        line_of(&out, "NO_VERSION").contains(&format!(
            "secret `payments-api-key` version 00000000000000000000000000000000 not found in Key Vault {vault}"
        )),
        "{out}"
    );
    assert!(
        line_of(&out, "BAD_NAME").contains("invalid reference"),
        "{out}"
    );
    assert!(line_of(&out, "BAD_NAME").contains("'_'"), "{out}");
    assert!(
        line_of(&out, "BAD_VERSION").contains("not a Key Vault version"),
        "{out}"
    );
    assert!(line_of(&out, "A_URL").contains("config.vault_url"), "{out}");
    // Bad references never reach the vault.
    assert_eq!(az.vault_requests(), 2, "{:#?}", az.fake.requests());
    assert_absent(&out, CANARY, "not-found messages");
}

#[test]
fn a_disabled_secret_is_denied_and_named() {
    let az = Azure::start();
    let secrets = format!(
        "  RETIRED: {{reference: {RETIRED_NAME}}}\n\
         \x20 ROTATING: {{reference: {ROTATING_NAME}}}\n\
         \x20 ROTATING_OLD: {{reference: \"{ROTATING_NAME}/{ROTATING_OLD_VERSION}\"}}\n"
    );
    let p = kv_project(
        CANARY,
        &az.static_token(),
        &secrets,
        &["RETIRED", "ROTATING", "ROTATING_OLD"],
        &[],
    );
    let run = p.run(&["check", "j", "--resolve"], &STATIC_ENV);
    run.expect_code(3);
    let out = run.all();
    let retired = line_of(&out, "RETIRED");
    assert!(retired.contains("access denied"), "{out}");
    assert!(
        retired.contains("secret `retired-key` (latest version) is disabled in Key Vault"),
        "{out}"
    );
    assert!(line_of(&out, "ROTATING").contains("is disabled"), "{out}");
    assert!(!line_of(&out, "ROTATING_OLD").contains("disabled"), "{out}");
    assert!(!out.contains("retired-value-0001") && !out.contains("rotating-new-value-8"));
}

#[test]
fn lookups_are_cached_for_the_run() {
    let az = Azure::start();
    // Key Vault names are case-insensitive: these are one secret, and the
    // host asks once per distinct reference, so the plugin must do the rest.
    let spellings = [
        PAYMENTS_KEY_NAME,
        "Payments-Api-Key",
        "PAYMENTS-API-KEY",
        "payments-API-key",
    ];
    let mut secrets = String::new();
    let mut names = Vec::new();
    for (i, spelling) in spellings.iter().enumerate() {
        secrets.push_str(&format!("  K{i}: {{reference: {spelling}}}\n"));
        names.push(format!("K{i}"));
    }
    for key in ["username", "password", "port"] {
        secrets.push_str(&format!(
            "  DB_{key}: {{reference: \"{DB_CREDENTIALS_NAME}#{key}\"}}\n"
        ));
        names.push(format!("DB_{key}"));
    }
    let used: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = kv_project(CANARY, &az.client_credentials(), &secrets, &used, &["K1"]);
    p.run(&["run", "j"], &CLIENT_ENV).expect_code(0);
    assert_eq!(az.vault_requests(), 2, "{:#?}", az.fake.requests());
    assert_eq!(az.token_requests(), 1);
}

#[test]
fn reports_and_listings_of_an_azure_run_hold_no_value_or_credential() {
    let az = Azure::start();
    let secrets = format!(
        "  S: {{reference: {PAYMENTS_KEY_NAME}, provider: kv, description: Payments key}}\n\
         \x20 DB: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n"
    );
    let p = kv_project(
        CANARY,
        &az.client_credentials(),
        &secrets,
        &["S", "DB"],
        &["S"],
    );
    // Last, a step that fails showing both values: each reaches every
    // channel, to be redacted there.
    show_last(&p, &["S", "DB"]);
    let mut texts: Vec<(String, String)> = every_channel(&p, &CLIENT_ENV)
        .into_iter()
        .map(|(channel, text)| (text, channel))
        .collect();
    for (text, what) in &texts {
        assert_redacted(text, "S", what);
        assert_redacted(text, "DB", what);
    }
    let listing = p.run(&["secrets", "list"], &CLIENT_ENV);
    listing.expect_code(0).expect_output(PAYMENTS_KEY_NAME);
    texts.push((listing.all(), "secrets list".to_string()));
    // The fake checked the client secret, and issued the token the vault
    // calls carried.
    assert_eq!(az.fake.issued_tokens().len(), 1);
    for (text, what) in &texts {
        assert_absent(text, CANARY, what);
        assert_absent(text, DB_PASSWORD, what);
        for credential in az.credentials() {
            assert_absent(text, &credential, what);
        }
    }
}

#[test]
fn the_value_must_be_long_enough_to_redact() {
    // The host refuses values under 4 bytes, whatever the plugin fetched.
    let az = Azure::with("abc", DB_PASSWORD);
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &az.static_token(), &secrets, &["S"], &[]);
    p.run(&["run", "j"], &STATIC_ENV)
        .expect_code(3)
        .expect_output("is shorter than 4 bytes");
}
