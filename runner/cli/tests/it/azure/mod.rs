//! The built-in Azure Key Vault provider against a local FAKE Azure
//! (`reqflo-fakes`: neither Key Vault nor Azure AD can run here), through the
//! real `reqflo` binary and the real plugin sandbox.

use crate::common;

use std::time::{Duration, Instant};

use common::{
    CANARY, TestProject, assert_absent, assert_redacted, every_channel, project_with_key,
    read_report, show_last,
};
use reqflo_fakes::azure::{
    AzureData, CLIENT_ID, CLIENT_SECRET, DB_CREDENTIALS_NAME, FEDERATED_TOKEN, FakeAzure,
    LIMITED_TOKEN, PAYMENTS_KEY_NAME, PAYMENTS_KEY_OLD_VALUE, PAYMENTS_KEY_OLD_VERSION,
    RETIRED_NAME, ROTATING_NAME, ROTATING_OLD_VERSION, STATIC_TOKEN, TENANT_ID,
};

/// The password inside the `db-credentials` JSON: a second canary.
const DB_PASSWORD: &str = "db/Pa+ss=Word9";

/// A fake Azure (vault and Azure AD on one address) whose `payments-api-key`
/// is `api_key` and whose `db-credentials` password is `db_password`. The
/// runtime must outlive the test's runs.
struct Azure {
    fake: FakeAzure,
    _runtime: tokio::runtime::Runtime,
}

impl Azure {
    fn start() -> Azure {
        Azure::with(CANARY, DB_PASSWORD)
    }

    fn with(api_key: &str, db_password: &str) -> Azure {
        Azure::serving(AzureData::sample(api_key, db_password))
    }

    fn serving(data: AzureData) -> Azure {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let fake = runtime
            .block_on(FakeAzure::spawn(data))
            .expect("fake Azure starts");
        Azure {
            fake,
            _runtime: runtime,
        }
    }

    /// `host:port` of the fake, as a grant.
    fn grant(&self) -> String {
        self.fake.addr().to_string()
    }

    /// Requests whose `METHOD /path` starts with `prefix`, ignoring case (Key
    /// Vault names are case-insensitive).
    fn count(&self, prefix: &str) -> usize {
        let prefix = prefix.to_ascii_lowercase();
        self.fake
            .requests()
            .iter()
            .filter(|r| r.to_ascii_lowercase().starts_with(&prefix))
            .count()
    }

    fn token_requests(&self) -> usize {
        self.count(&format!("POST /{TENANT_ID}/oauth2/v2.0/token"))
    }

    fn vault_requests(&self) -> usize {
        self.count("GET /secrets/")
    }

    /// The provider's lines for a ready-made token in `AZURE_ACCESS_TOKEN`.
    fn static_token(&self) -> String {
        format!(
            "    config: {{vault_url: \"{}\"}}\n    grants:\n      env: [AZURE_ACCESS_TOKEN]\n      hosts: [\"{}\"]\n",
            self.fake.url(),
            self.grant()
        )
    }

    /// The provider's lines for client credentials, Azure AD being the fake.
    fn client_credentials(&self) -> String {
        format!(
            "    config:\n      vault_url: \"{url}\"\n      tenant_id: {TENANT_ID}\n      client_id: {CLIENT_ID}\n      authority: \"{url}\"\n    grants:\n      env: [AZURE_CLIENT_SECRET]\n      hosts: [\"{}\"]\n",
            self.grant(),
            url = self.fake.url(),
        )
    }

    /// Every credential of the run that must never be printed: the client
    /// secret and every token the fake issued.
    fn credentials(&self) -> Vec<String> {
        let mut all = self.fake.issued_tokens();
        all.push(CLIENT_SECRET.to_string());
        all
    }
}

/// A project whose environment resolves through provider `kv` (the Azure
/// plugin, set up by `provider`), with `secrets` as registry lines, one echo
/// step per name in `echoed`, and one payment (which the demo API accepts
/// only with `key`) per name in `paid`.
fn kv_project(
    key: &str,
    provider: &str,
    secrets: &str,
    echoed: &[&str],
    paid: &[&str],
) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [kv]\n\
         providers:\n  kv:\n    plugin: builtin:azure\n{provider}secrets:\n{secrets}"
    );
    let mut journey = String::from("steps:\n");
    for (i, name) in echoed.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: echo{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    for (i, name) in paid.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: pay{i}\n    template: post-payment\n    values: {{key: {{type: secret, name: {name}}}, amount: 5}}\n    expect: {{status: 201}}\n"
        ));
    }
    project_with_key(
        key,
        &[("reqflo.yaml", &config), ("journeys/j.yaml", &journey)],
    )
}

const STATIC_ENV: [(&str, &str); 1] = [("AZURE_ACCESS_TOKEN", STATIC_TOKEN)];
const CLIENT_ENV: [(&str, &str); 1] = [("AZURE_CLIENT_SECRET", CLIENT_SECRET)];

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

/// The jwt crate's test key and its self-signed certificate (made with
/// openssl for the tests alone): an app's client certificate file.
const CLIENT_KEY: &str = include_str!("../../../../plugins/jwt/tests/keys/rsa2048.pem");
const CLIENT_CERT: &str = include_str!("../../../../plugins/jwt/tests/keys/cert.pem");

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
fn a_bad_or_limited_static_token_is_denied() {
    let az = Azure::start();
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &az.static_token(), &secrets, &["S"], &[]);
    let bad = "bad/Tok+en=Azure1";
    let run = p.run(&["run", "j", "-v"], &[("AZURE_ACCESS_TOKEN", bad)]);
    run.expect_code(3)
        .expect_output(
            "provider `kv` (builtin:azure) failed to resolve `payments-api-key`: access denied",
        )
        .expect_output("rejected the access token (401)")
        .expect_output("check AZURE_ACCESS_TOKEN");
    assert_absent(&run.all(), bad, "bad token");
    assert_eq!(p.api.requests(), 0);

    // A token without the permission: 403, with Key Vault's codes.
    let secrets = format!("  DB: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n");
    let p = kv_project(CANARY, &az.static_token(), &secrets, &["DB"], &[]);
    let run = p.run(&["run", "j"], &[("AZURE_ACCESS_TOKEN", LIMITED_TOKEN)]);
    run.expect_code(3)
        .expect_output(
            "access denied: the identity may not read secret `db-credentials` (latest version)",
        )
        .expect_output("(403, Forbidden, AccessDenied)");
    assert_absent(&run.all(), LIMITED_TOKEN, "limited token");
    assert_absent(&run.all(), DB_PASSWORD, "limited token");
    // Which gate said no, and what opens it: a vault on Azure RBAC, and a
    // vault whose firewall refuses the caller.
    let secrets = format!("  DB: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n");
    for (rbac, firewall_closed, says) in [
        (
            true,
            false,
            "(403, Forbidden, ForbiddenByRbac): the vault uses Azure RBAC: grant the identity the `Key Vault Secrets User` role",
        ),
        (
            false,
            true,
            "(403, Forbidden, ForbiddenByFirewall): the vault's firewall refused this caller's address",
        ),
    ] {
        let data = AzureData {
            rbac,
            firewall_closed,
            ..AzureData::sample(CANARY, DB_PASSWORD)
        };
        let gated = Azure::serving(data);
        let p = kv_project(CANARY, &gated.static_token(), &secrets, &["DB"], &[]);
        let run = p.run(&["run", "j"], &[("AZURE_ACCESS_TOKEN", LIMITED_TOKEN)]);
        run.expect_code(3).expect_output(says);
        assert_absent(&run.all(), DB_PASSWORD, "a 403");
    }
    // Key Vault authorizes before it looks: a name the token may not read
    // is denied whether or not it exists (the fake did "not found" first).
    let secrets = "  NOPE: {reference: no-such-secret}\n";
    let p = kv_project(CANARY, &az.static_token(), secrets, &["NOPE"], &[]);
    p.run(&["run", "j"], &[("AZURE_ACCESS_TOKEN", LIMITED_TOKEN)])
        .expect_code(3)
        .expect_output("(403, Forbidden, AccessDenied)");

    // No token at all: say which variable to set, and ask nothing.
    let before = az.vault_requests();
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("AZURE_ACCESS_TOKEN is not visible to the Azure Key Vault provider");
    assert_eq!(az.vault_requests(), before);
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
fn throttling_and_server_errors_are_unavailable_and_name_the_server() {
    let az = Azure::start();
    let url = az.fake.url();
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &az.client_credentials(), &secrets, &["S"], &[]);

    az.fake.set_vault_status(Some(429));
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "unavailable: Key Vault at {url} is throttling requests (429) while reading \
             secret `payments-api-key` (latest version)"
        ));
    az.fake.set_vault_status(Some(503));
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "Key Vault at {url} answered 503 (ServiceUnavailable)"
        ));
    az.fake.set_vault_status(None);

    az.fake.set_token_status(Some(503));
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "unavailable: Azure AD at {url} answered 503 while getting a token for client \
             {CLIENT_ID} in tenant {TENANT_ID}"
        ));
    az.fake.set_token_status(None);
    p.run(&["run", "j"], &CLIENT_ENV).expect_code(0);
    assert_eq!(p.api.requests(), 1);
}

#[test]
fn a_slow_vault_times_out_with_a_clear_error() {
    let az = Azure::start();
    az.fake.set_delay(Duration::from_secs(30));
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let provider = format!("{}    limits: {{timeout_ms: 1000}}\n", az.static_token());
    let p = kv_project(CANARY, &provider, &secrets, &["S"], &[]);
    let started = Instant::now();
    p.run(&["run", "j"], &STATIC_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "Key Vault at {} did not answer in time while reading secret `payments-api-key`",
            az.fake.url()
        ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn azure_ad_outside_the_grants_is_refused_and_named() {
    let az = Azure::start();
    // The vault is granted; the authority (another port) is not.
    let provider = az.client_credentials().replace(
        &format!("authority: \"{}\"", az.fake.url()),
        "authority: \"http://127.0.0.1:9\"",
    );
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &provider, &secrets, &["S"], &[]);
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output("provider `kv` (builtin:azure)")
        .expect_output(&format!(
            "tried to reach http://127.0.0.1:9, which is not in its grants.hosts (its grants.hosts are {})",
            az.grant()
        ));
    assert!(az.fake.requests().is_empty(), "{:#?}", az.fake.requests());
}

#[test]
fn configuration_errors_are_named() {
    let az = Azure::start();
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let grants = format!("    grants: {{hosts: [\"{}\"]}}\n", az.grant());
    for (config, expected) in [
        ("    config: {}\n", "config.vault_url is required"),
        (
            "    config: {vault_url: \"http://127.0.0.1:1\", vault: x}\n",
            "unknown config key `vault` for the Azure Key Vault provider",
        ),
        (
            "    config: {vault_url: \"http://127.0.0.1:1\", tenant_id: t}\n",
            "client credentials need both config.tenant_id and config.client_id",
        ),
        (
            "    config: {vault_url: \"https://v.vault.azure.net/secrets\"}\n",
            "config.vault_url is not a usable Key Vault URL",
        ),
    ] {
        let p = kv_project(CANARY, &format!("{config}{grants}"), &secrets, &["S"], &[]);
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output("provider `kv` (builtin:azure) failed to resolve `payments-api-key`: configuration refused")
            .expect_output(expected);
    }
    assert!(az.fake.requests().is_empty());
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
