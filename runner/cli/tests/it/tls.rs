//! Credentials go over TLS only: a secret-bearing request, a provider's call
//! and a hook's token exchange to a host other than loopback over plain HTTP
//! are refused before anything is sent, unless the entry in reqflo.yaml says
//! `allow_http: true`.
//!
//! Every server here listens on 127.0.0.1 only, and the tests reach it as
//! `0.0.0.0`: Linux delivers a connection to 0.0.0.0 to the local host, but
//! reqflo counts 0.0.0.0 as "not loopback". So the refused request would
//! really have arrived, and the allowed one does.

use crate::common;

use common::{CANARY, TestProject, assert_absent, assert_hidden, project};
use reqflo_fakes::azure::{AzureData, CLIENT_ID, CLIENT_SECRET, FakeAzure, TENANT_ID};
use reqflo_fakes::verifier::{FakeVerifier, VerifierData};

/// The refusal every check ends with.
const REFUSED: &str = "over plain HTTP";
const OPT_IN: &str = "allow_http: true";

/// `http://127.0.0.1:PORT` as the same server seen from "another host".
fn off_loopback(url: &str) -> String {
    url.replace("127.0.0.1", "0.0.0.0")
}

/// A journey of one echo step carrying `KEY`, to the demo API reached as
/// `base_url`, with `entry` as KEY's registry lines.
fn echo_project(base_url: impl Fn(&str) -> String, entry: &str) -> TestProject {
    let p = project(&[]);
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"{}\"}}\nsecrets:\n  KEY: {{{entry}}}\n",
        base_url(&p.api.base_url())
    );
    std::fs::write(p.path("reqflo.yaml"), config).expect("write reqflo.yaml");
    std::fs::create_dir_all(p.path("journeys")).expect("mkdir");
    std::fs::write(
        p.path("journeys/j.yaml"),
        "steps:\n  - id: echo\n    template: echo\n    values: {key: {type: secret, name: KEY}}\n    expect: {status: 200}\n",
    )
    .expect("write journey");
    p
}

#[test]
fn a_secret_to_a_host_off_loopback_over_plain_http_is_refused_before_sending() {
    let p = echo_project(off_loopback, "description: the key");
    let run = p.run(&["run", "j", "-v"], &[("KEY", CANARY)]);
    run.expect_code(3)
        .expect_output("step `echo`: secret `KEY` would go to 0.0.0.0:")
        .expect_output(REFUSED)
        .expect_output("nothing was sent")
        .expect_output(OPT_IN);
    assert_eq!(p.api.requests(), 0, "nothing reached the server");
    assert_absent(&run.all(), CANARY, "refusal");

    // Saying so on the registry entry sends it: the server echoes the key back.
    let p = echo_project(off_loopback, "allow_http: true");
    let run = p.run(&["run", "j", "-v"], &[("KEY", CANARY)]);
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1);
    assert_hidden(&run.stderr, "KEY", CANARY, "-v dump of the allowed request");

    // Loopback needs no opt-in.
    let p = echo_project(|url| url.to_string(), "description: the key");
    p.run(&["run", "j"], &[("KEY", CANARY)]).expect_code(0);
    assert_eq!(p.api.requests(), 1);
}

#[test]
fn a_request_without_secrets_may_use_plain_http_anywhere() {
    let p = project(&[(
        "journeys/j.yaml",
        "steps:\n  - id: s\n    template: status\n    values: {code: 200}\n    expect: {status: 200}\n",
    )]);
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"{}\"}}\n",
        off_loopback(&p.api.base_url())
    );
    std::fs::write(p.path("reqflo.yaml"), config).expect("write reqflo.yaml");
    p.run(&["run", "j"], &[]).expect_code(0);
    assert_eq!(p.api.requests(), 1);
}

/// A project whose webhook step is signed by `builtin:hmac-signature` with
/// SIGNING_KEY (registry lines `key_entry`) and sent to `server` as `base`.
fn signed_project(base: &str, key_entry: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"{base}\"}}\n\
         secrets:\n  SIGNING_KEY: {{{key_entry}}}\n\
         hooks:\n  sign:\n    plugin: builtin:hmac-signature\n    secrets: [SIGNING_KEY]\n"
    );
    project(&[
        ("reqflo.yaml", &config),
        (
            "templates/webhook.yaml",
            "method: POST\nurl: \"{{base_url}}/webhooks/payments\"\njson:\n  type: payment.succeeded\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: notify\n    template: webhook\n    hooks: [sign]\n    expect:\n      json: {\"$.verified\": true}\n",
        ),
    ])
}

#[test]
fn a_signature_a_hook_derives_keeps_the_rule_of_its_key() {
    let server = FakeVerifier::spawn(VerifierData::new(CLIENT_ID, CLIENT_SECRET, CANARY))
        .expect("fake verifier starts");
    let base = off_loopback(&server.url());
    let p = signed_project(&base, "description: webhook key");
    let run = p.run(&["run", "j"], &[("SIGNING_KEY", CANARY)]);
    run.expect_code(3)
        .expect_output("secret `hmac(SIGNING_KEY)` would go to 0.0.0.0:")
        .expect_output(REFUSED);
    assert!(server.verdicts().is_empty(), "nothing was sent");
    assert_absent(&run.all(), CANARY, "refusal");

    let p = signed_project(&base, "allow_http: true");
    p.run(&["run", "j"], &[("SIGNING_KEY", CANARY)])
        .expect_code(0);
    let verdicts = server.verdicts();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
}

/// The OAuth hook against `server` reached at `base`, with `extra` lines on
/// the hook's entry; one API call with the token.
fn oauth_project(server: &FakeVerifier, base: &str, extra: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"{base}\"}}\n\
         hooks:\n  auth:\n    plugin: builtin:oauth2\n    secrets: [CLIENT_SECRET]\n\
         \x20   config: {{token_url: \"{base}/oauth/token\", client_id: {CLIENT_ID}}}\n\
         \x20   grants: {{hosts: [\"{}\"]}}\n{extra}",
        off_loopback(&server.host_port())
    );
    project(&[
        ("reqflo.yaml", &config),
        (
            "templates/api.yaml",
            "method: GET\nurl: \"{{base_url}}/api/things/1\"\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: call\n    template: api\n    hooks: [auth]\n    expect: {status: 200}\n",
        ),
    ])
}

#[test]
fn a_token_url_off_loopback_over_plain_http_is_refused() {
    let server = FakeVerifier::spawn(VerifierData::new(CLIENT_ID, CANARY, "unused-signing-key"))
        .expect("fake verifier starts");
    let base = off_loopback(&server.url());
    let p = oauth_project(&server, &base, "");
    let run = p.run(&["run", "j"], &[("CLIENT_SECRET", CANARY)]);
    run.expect_code(3)
        .expect_output("hook `auth` (builtin:oauth2)")
        .expect_output("token URL http://0.0.0.0:")
        .expect_output("client secret `CLIENT_SECRET` goes there over TLS only")
        .expect_output(OPT_IN);
    assert!(server.token_requests().is_empty(), "no token request");
    assert!(server.verdicts().is_empty(), "no API call");
    assert_absent(&run.all(), CANARY, "refusal");

    // The hook's entry opts in for the exchange; the token it gets is derived
    // from the client secret and bound like it, so the API call over plain
    // HTTP needs the secret's own opt-in as well.
    let p = oauth_project(
        &server,
        &base,
        "    allow_http: true\nsecrets:\n  CLIENT_SECRET: {allow_http: true}\n",
    );
    p.run(&["run", "j"], &[("CLIENT_SECRET", CANARY)])
        .expect_code(0);
    assert_eq!(server.token_requests().len(), 1);
    assert_eq!(server.verdicts().len(), 1);
}

#[test]
fn an_explicit_http_grant_off_loopback_is_a_configuration_error() {
    for (section, entry) in [
        (
            "providers",
            "  vault:\n    plugin: builtin:vault\n    grants:\n      hosts: [\"http://vault.example.com:8200\"]\n",
        ),
        (
            "hooks",
            "  auth:\n    plugin: builtin:oauth2\n    grants:\n      hosts: [\"http://auth.example.com\"]\n",
        ),
    ] {
        let config = format!("{section}:\n{entry}");
        let p = project(&[("reqflo.yaml", &config), ("journeys/j.yaml", "steps: []\n")]);
        p.run(&["check", "j"], &[])
            .expect_code(1)
            .expect_output("reqflo.yaml:5:")
            .expect_output("is plain HTTP to a host other than loopback")
            .expect_output(OPT_IN);
        // Loopback over http, and any host with the opt-in, are fine.
        for fixed in [
            entry
                .replace("vault.example.com", "127.0.0.1")
                .replace("auth.example.com", "[::1]"),
            format!("{entry}    allow_http: true\n"),
        ] {
            std::fs::write(p.path("reqflo.yaml"), format!("{section}:\n{fixed}")).expect("write");
            let check = p.run(&["check", "j"], &[]);
            assert!(
                !check.all().contains("plain HTTP"),
                "{section}: {fixed}\n{}",
                check.all()
            );
        }
    }
}

/// A project resolving KEY through provider `p` (`provider_lines` under it),
/// used in one echo step.
fn provider_project(provider_lines: &str, reference: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [p]\n\
         providers:\n  p:\n{provider_lines}secrets:\n  KEY: {{reference: \"{reference}\"}}\n"
    );
    project(&[
        ("reqflo.yaml", &config),
        (
            "journeys/j.yaml",
            "steps:\n  - id: echo\n    template: echo\n    values: {key: {type: secret, name: KEY}}\n",
        ),
    ])
}

#[test]
fn every_networked_provider_is_refused_plain_http_off_loopback() {
    // Nothing listens on port 9: a request that got past the check would
    // fail with "cannot connect", not with the refusal.
    // (provider, its lines in reqflo.yaml, a reference, its environment)
    type Case = (
        &'static str,
        String,
        &'static str,
        Vec<(&'static str, &'static str)>,
    );
    let cases: [Case; 4] = [
        (
            "vault",
            "    plugin: builtin:vault\n    config: {address: \"http://0.0.0.0:9\"}\n    grants: {env: [VAULT_TOKEN], hosts: [\"0.0.0.0:9\"]}\n".into(),
            "payments#key",
            vec![("VAULT_TOKEN", "root-token-canary")],
        ),
        (
            "aws",
            "    plugin: builtin:aws\n    config: {region: us-east-1, endpoint: \"http://0.0.0.0:9\"}\n    grants: {env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY], hosts: [\"0.0.0.0:9\"]}\n".into(),
            "payments",
            vec![
                ("AWS_ACCESS_KEY_ID", "AKIATESTTESTTEST0000"),
                ("AWS_SECRET_ACCESS_KEY", "aws/Secret+Key=canary0"),
            ],
        ),
        (
            "onepassword",
            "    plugin: builtin:onepassword\n    grants: {env: [OP_CONNECT_HOST, OP_CONNECT_TOKEN], hosts: [\"0.0.0.0:9\"]}\n".into(),
            "op://Payments/Stripe/credential",
            vec![
                ("OP_CONNECT_HOST", "http://0.0.0.0:9"),
                ("OP_CONNECT_TOKEN", "op/Connect+Token=canary"),
            ],
        ),
        (
            "azure",
            "    plugin: builtin:azure\n    config: {vault_url: \"http://0.0.0.0:9\"}\n    grants: {env: [AZURE_ACCESS_TOKEN], hosts: [\"0.0.0.0:9\"]}\n".into(),
            "payments-api-key",
            vec![("AZURE_ACCESS_TOKEN", "azure/Access+Token=canary")],
        ),
    ];
    for (name, lines, reference, env) in cases {
        let p = provider_project(&lines, reference);
        let run = p.run(&["run", "j"], &env);
        run.expect_code(3)
            .expect_output("tried to reach http://0.0.0.0:9 over plain HTTP")
            .expect_output(OPT_IN);
        assert!(
            !run.all().contains("cannot connect"),
            "{name}: the request was sent:\n{}",
            run.all()
        );
        assert_eq!(p.api.requests(), 0, "{name}: no step ran");
        for (_, value) in &env {
            if !value.starts_with("http") {
                assert_absent(&run.all(), value, name);
            }
        }
        // With the opt-in the request is made (and fails to connect).
        let p = provider_project(&format!("{lines}    allow_http: true\n"), reference);
        let run = p.run(&["run", "j"], &env);
        run.expect_code(3);
        assert!(
            !run.all().contains(REFUSED),
            "{name}: refused despite allow_http:\n{}",
            run.all()
        );
    }
}

/// A fake Azure on a runtime that lives as long as the test.
fn azure() -> (FakeAzure, tokio::runtime::Runtime) {
    crate::common::on_runtime(
        "fake Azure",
        FakeAzure::spawn(AzureData::sample(CANARY, "db/Pa+ss=Word9")),
    )
}

#[test]
fn azure_vault_url_and_authority_off_loopback_need_the_opt_in() {
    let (az, _runtime) = azure();
    let loopback = az.url();
    let away = off_loopback(&loopback);
    let grants = format!(
        "    grants:\n      env: [AZURE_CLIENT_SECRET]\n      hosts: [\"{}\", \"{}\"]\n",
        az.addr(),
        off_loopback(&az.addr().to_string())
    );
    for (vault_url, authority) in [(&away, &loopback), (&loopback, &away)] {
        let lines = format!(
            "    plugin: builtin:azure\n    config:\n      vault_url: \"{vault_url}\"\n      tenant_id: {TENANT_ID}\n      client_id: {CLIENT_ID}\n      authority: \"{authority}\"\n{grants}"
        );
        let p = provider_project(&lines, "payments-api-key");
        let env = [("AZURE_CLIENT_SECRET", CLIENT_SECRET)];
        let run = p.run(&["run", "j"], &env);
        run.expect_code(3)
            .expect_output(&format!("tried to reach {away} over plain HTTP"))
            .expect_output(OPT_IN);
        assert_absent(&run.all(), CLIENT_SECRET, "refusal");
        assert_eq!(p.api.requests(), 0);

        let p = provider_project(
            &format!("{lines}    allow_http: true\n"),
            "payments-api-key",
        );
        let run = p.run(&["run", "j", "-v"], &env);
        run.expect_code(0);
        assert_hidden(&run.stderr, "KEY", CANARY, "Azure over allowed http");
        assert_eq!(p.api.requests(), 1);
    }
}
