//! The built-in request hooks `hmac-signature` and `oauth2`, through the real
//! binary, against a local FAKE verifying server (`reqflo_fakes::verifier`: a
//! token endpoint per RFC 6749 §4.4 and an API that checks bearer tokens and
//! Stripe-style signatures). The server, not reqflo, decides whether what was
//! sent is right; and no key, client secret, token or signature may show up
//! in any output.

use crate::common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{CANARY, Run, TestProject, assert_absent, project, read_report};
use reqflo_fakes::verifier::{
    ClientAuth, FakeVerifier, SignatureScheme, VerifierData, hmac_sha256,
};

/// The OAuth client secret, shaped like [`CANARY`] so every encoding differs.
const CLIENT_SECRET: &str = "cL1ent/Se+cret=Oa7";
/// A signing key the server does not know.
const WRONG_KEY: &str = "wR0ng/Ke+y=Sig42";
/// A client secret the server does not know.
const WRONG_CLIENT_SECRET: &str = "wR0ng/Cl+ient=Oa9";
const CLIENT_ID: &str = "reqflo-ci";

/// The server: client [`CLIENT_ID`] with [`CLIENT_SECRET`], signing key [`CANARY`].
fn verifier() -> FakeVerifier {
    FakeVerifier::spawn(VerifierData::new(CLIENT_ID, CLIENT_SECRET, CANARY))
        .expect("fake verifier starts")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A project talking to `server`, with `hooks` (YAML lines under `hooks:`),
/// `env_hooks` attached to the environment and `journey` as journeys/j.yaml.
fn hooked_project(
    server: &FakeVerifier,
    hooks: &str,
    env_hooks: &str,
    journey: &str,
) -> TestProject {
    let reqflo = format!(
        "environments:\n  test:\n    variables: {{base_url: \"{base}\"}}\n    hooks: [{env_hooks}]\n\
         secrets:\n  SIGNING_KEY: {{hosts: [\"{host}\"]}}\n  CLIENT_SECRET: {{hosts: [\"{host}\"]}}\n\
         hooks:\n{hooks}",
        base = server.url(),
        host = server.host_port(),
    );
    project(&[
        ("reqflo.yaml", &reqflo),
        (
            "templates/webhook.yaml",
            "method: POST\nurl: \"{{base_url}}/webhooks/payments\"\njson:\n  type: payment.succeeded\n  amount: \"{{amount}}\"\n",
        ),
        (
            "templates/webhook-query.yaml",
            "method: POST\nurl: \"{{base_url}}/webhooks/payments\"\nquery: {attempt: \"1\"}\njson:\n  type: payment.succeeded\n  amount: \"{{amount}}\"\n",
        ),
        (
            "templates/secret-body.yaml",
            "method: POST\nurl: \"{{base_url}}/webhooks/payments\"\njson:\n  key: \"{{key}}\"\n",
        ),
        (
            "templates/thing.yaml",
            "method: GET\nurl: \"{{base_url}}/api/things/{{id}}\"\n",
        ),
        ("journeys/j.yaml", journey),
    ])
}

/// The signing hook, with `config` (a YAML flow map's inside).
fn sign_hook(config: &str) -> String {
    format!(
        "  sign:\n    plugin: builtin:hmac-signature\n    secrets: [SIGNING_KEY]\n    config: {{{config}}}\n"
    )
}

/// The OAuth hook against `server`, with `config` added.
fn oauth_hook(server: &FakeVerifier, config: &str) -> String {
    format!(
        "  auth:\n    plugin: builtin:oauth2\n    secrets: [CLIENT_SECRET]\n\
         \x20   config: {{token_url: \"{}/oauth/token\", client_id: {CLIENT_ID}{config}}}\n\
         \x20   grants: {{hosts: [\"{}\"]}}\n",
        server.url(),
        server.host_port()
    )
}

/// One signed webhook step, expecting the server to accept it.
const WEBHOOK_JOURNEY: &str = "steps:\n  - id: notify\n    template: webhook\n    hooks: [sign]\n    values: {amount: 1000}\n    expect:\n      status: 200\n      json: {\"$.verified\": true}\n";

/// `run j -v` with every report, and all of its output: stdout, stderr and
/// the three reports.
fn run_everything(p: &TestProject, env: &[(&str, &str)]) -> (Run, String) {
    let json = p.path("out/report.json");
    let junit = p.path("out/junit.xml");
    let html = p.path("out/html");
    let run = p.run(
        &[
            "run",
            "j",
            "-v",
            "--report-json",
            json.to_str().expect("utf-8 path"),
            "--report-junit",
            junit.to_str().expect("utf-8 path"),
            "--report-html",
            html.to_str().expect("utf-8 path"),
        ],
        env,
    );
    let mut all = run.all();
    for file in [json, junit, html.join("index.html")] {
        // Reports are written for failed runs too; a missing one is a report
        // reqflo deleted because it held a secret.
        all.push_str(&read_report(&run, &file));
    }
    (run, all)
}

/// Neither secret, no issued token and no signature the run could have sent
/// (any timestamp from `since` to now, over any body the server received).
fn assert_clean(server: &FakeVerifier, out: &str, since: u64, context: &str) {
    assert_absent(out, CANARY, context);
    assert_absent(out, CLIENT_SECRET, context);
    assert_absent(out, WRONG_KEY, context);
    assert_absent(out, WRONG_CLIENT_SECRET, context);
    for token in server.issued_tokens() {
        assert_absent(out, &token, context);
    }
    for verdict in server.verdicts() {
        for t in since.saturating_sub(1)..=now() + 1 {
            for key in [CANARY, WRONG_KEY] {
                let message = server.data().scheme.message(
                    &verdict.method,
                    &verdict.target,
                    t,
                    verdict.body.as_bytes(),
                );
                let raw = hmac_sha256(key.as_bytes(), &message);
                for form in signature_forms(&raw) {
                    assert!(
                        !out.contains(&form),
                        "{context}: a signature ({form}) in:\n{out}"
                    );
                }
            }
        }
    }
}

/// A signature as the hook may write it: hex, base64, base64url.
fn signature_forms(raw: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    vec![
        hex::encode(raw),
        STANDARD.encode(raw),
        URL_SAFE_NO_PAD.encode(raw),
    ]
}

#[test]
fn a_signed_webhook_post_is_verified_by_the_server() {
    let server = verifier();
    let p = hooked_project(&server, &sign_hook(""), "", WEBHOOK_JOURNEY);
    let since = now();
    let (run, out) = run_everything(&p, &[("SIGNING_KEY", CANARY)]);
    run.expect_code(0);
    let verdicts = server.verdicts();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert!(verdicts[0].accepted, "{verdicts:?}");
    assert_eq!(verdicts[0].target, "/webhooks/payments");
    assert!(verdicts[0].body.contains("payment.succeeded"));
    // -v shows the header, redacted.
    assert!(
        out.contains("X-Signature") || out.contains("x-signature"),
        "{out}"
    );
    assert_clean(&server, &out, since, "signed webhook");
}

#[test]
fn signature_header_encoding_and_timestamp_header_are_configurable() {
    // The server reads `t=…,v1=HEX` from `Stripe-Signature`; a base64 signature
    // in that header must be refused, a hex one accepted.
    let mut data = VerifierData::new(CLIENT_ID, CLIENT_SECRET, CANARY);
    data.signature_header = "Stripe-Signature".into();
    let server = FakeVerifier::spawn(data).expect("fake verifier starts");
    let config = "header: Stripe-Signature, timestamp_header: X-Timestamp, encoding: hex";
    let p = hooked_project(&server, &sign_hook(config), "", WEBHOOK_JOURNEY);
    let since = now();
    let (run, out) = run_everything(&p, &[("SIGNING_KEY", CANARY)]);
    run.expect_code(0);
    assert_clean(&server, &out, since, "Stripe-Signature");

    let config = "header: Stripe-Signature, encoding: base64";
    let p = hooked_project(&server, &sign_hook(config), "", WEBHOOK_JOURNEY);
    let (run, out) = run_everything(&p, &[("SIGNING_KEY", CANARY)]);
    run.expect_code(4);
    let last = server.verdicts().pop().expect("a verdict");
    assert!(!last.accepted);
    assert_clean(&server, &out, since, "base64 signature");
}

#[test]
fn method_path_and_base64_signatures_with_a_timestamp_header_verify() {
    let mut data = VerifierData::new(CLIENT_ID, CLIENT_SECRET, CANARY);
    data.scheme = SignatureScheme::MethodPath {
        timestamp_header: "X-Timestamp".into(),
    };
    let server = FakeVerifier::spawn(data).expect("fake verifier starts");
    let config = "message: \"{method}\\n{path}\\n{timestamp}\\n{body}\", format: \"{signature}\", \
                  encoding: base64, timestamp_header: X-Timestamp";
    let journey = "steps:\n  - id: notify\n    template: webhook-query\n    hooks: [sign]\n    values: {amount: 7}\n    expect: {status: 200}\n";
    let p = hooked_project(&server, &sign_hook(config), "", journey);
    let since = now();
    let (run, out) = run_everything(&p, &[("SIGNING_KEY", CANARY)]);
    run.expect_code(0);
    let verdicts = server.verdicts();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert!(verdicts[0].accepted, "{verdicts:?}");
    assert_eq!(verdicts[0].target, "/webhooks/payments?attempt=1");
    assert_clean(&server, &out, since, "method and path");
}

#[test]
fn a_wrong_signing_key_is_rejected_by_the_server() {
    let server = verifier();
    let p = hooked_project(&server, &sign_hook(""), "", WEBHOOK_JOURNEY);
    let since = now();
    let (run, out) = run_everything(&p, &[("SIGNING_KEY", WRONG_KEY)]);
    // The request went out, the server refused it: the step's expectation fails.
    run.expect_code(4).expect_output("401");
    let verdicts = server.verdicts();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert!(!verdicts[0].accepted);
    assert_eq!(verdicts[0].reason, "no signature matches");
    assert_clean(&server, &out, since, "wrong signing key");
}

#[test]
fn a_body_that_carries_a_secret_is_not_signed_and_not_sent() {
    let server = verifier();
    let journey = "steps:\n  - id: leaky\n    template: secret-body\n    hooks: [sign]\n    values: {key: {type: secret, name: CLIENT_SECRET}}\n";
    let p = hooked_project(&server, &sign_hook(""), "", journey);
    let since = now();
    let (run, out) = run_everything(
        &p,
        &[("SIGNING_KEY", CANARY), ("CLIENT_SECRET", CLIENT_SECRET)],
    );
    run.expect_code(3)
        .expect_output("hook `sign`")
        .expect_output("the request body carries a secret, so it cannot be signed");
    assert!(server.verdicts().is_empty(), "nothing may be sent");
    assert_clean(&server, &out, since, "secret body");
}

#[test]
fn bad_hook_config_is_refused_naming_the_key() {
    let server = verifier();
    for (config, message) in [
        ("encodng: hex", "unknown config `encodng`"),
        (
            "format: \"v1={timestamp}\"",
            "config `format` must use `{signature}` exactly once",
        ),
        (
            "message: \"{timestamp}.{bdy}\"",
            "config `message` has an unknown placeholder `{bdy}`",
        ),
        (
            "encoding: rot13",
            "config `encoding` is `rot13`; use hex, base64 or base64url",
        ),
    ] {
        let p = hooked_project(&server, &sign_hook(config), "", WEBHOOK_JOURNEY);
        let run = p.run(&["run", "j"], &[("SIGNING_KEY", CANARY)]);
        // A configuration error: exit 1, at the hook's entry in reqflo.yaml.
        run.expect_code(1)
            .expect_output("hook `sign` (builtin:hmac-signature) refused its configuration")
            .expect_output("reqflo.yaml:")
            .expect_output(message);
        assert_absent(&run.all(), CANARY, config);
    }
    assert!(server.verdicts().is_empty(), "nothing may be sent");
}

/// Three API calls with the OAuth hook on the environment.
const API_JOURNEY: &str = "steps:\n  - id: one\n    template: thing\n    values: {id: 1}\n    expect: {status: 200}\n  - id: two\n    template: thing\n    values: {id: 2}\n    expect: {status: 200}\n  - id: three\n    template: thing\n    values: {id: 3}\n    expect: {status: 200, json: {\"$.verified\": true}}\n";

#[test]
fn one_oauth_token_serves_every_step_and_the_server_accepts_it() {
    for (auth, expected) in [("", ClientAuth::Basic), (", auth: body", ClientAuth::Body)] {
        let server = verifier();
        let hooks = oauth_hook(
            &server,
            &format!(", scope: \"payments:read payments:write\"{auth}"),
        );
        let p = hooked_project(&server, &hooks, "auth", API_JOURNEY);
        let since = now();
        let (run, out) = run_everything(&p, &[("CLIENT_SECRET", CLIENT_SECRET)]);
        run.expect_code(0);
        let requests = server.token_requests();
        assert_eq!(requests.len(), 1, "one token for the run: {requests:?}");
        assert_eq!(requests[0].auth, expected);
        assert_eq!(requests[0].client_id.as_deref(), Some(CLIENT_ID));
        assert_eq!(
            requests[0].scope.as_deref(),
            Some("payments:read payments:write")
        );
        assert_eq!(requests[0].status, 200);
        let verdicts = server.verdicts();
        assert_eq!(verdicts.len(), 3, "{verdicts:?}");
        assert!(verdicts.iter().all(|v| v.accepted), "{verdicts:?}");
        assert_clean(&server, &out, since, "oauth");
    }
}

#[test]
fn audience_is_sent_and_a_step_can_carry_both_hooks() {
    let server = verifier();
    let hooks = format!(
        "{}{}",
        oauth_hook(&server, ", audience: \"https://api.example.com\""),
        sign_hook("")
    );
    // The webhook route checks the signature; the API route the token.
    let journey = "steps:\n  - id: call\n    template: thing\n    hooks: [auth]\n    values: {id: 9}\n    expect: {status: 200}\n  - id: notify\n    template: webhook\n    hooks: [auth, sign]\n    values: {amount: 5}\n    expect: {status: 200}\n";
    let p = hooked_project(&server, &hooks, "", journey);
    let since = now();
    let (run, out) = run_everything(
        &p,
        &[("CLIENT_SECRET", CLIENT_SECRET), ("SIGNING_KEY", CANARY)],
    );
    run.expect_code(0);
    let requests = server.token_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].audience.as_deref(),
        Some("https://api.example.com")
    );
    assert!(
        server.verdicts().iter().all(|v| v.accepted),
        "{:?}",
        server.verdicts()
    );
    assert_clean(&server, &out, since, "both hooks");
}

#[test]
fn a_wrong_client_secret_fails_naming_the_hook_and_the_token_url() {
    let server = verifier();
    let p = hooked_project(&server, &oauth_hook(&server, ""), "auth", API_JOURNEY);
    let since = now();
    let (run, out) = run_everything(&p, &[("CLIENT_SECRET", WRONG_CLIENT_SECRET)]);
    run.expect_code(3)
        .expect_output("hook `auth` (builtin:oauth2)")
        .expect_output(&format!("{}/oauth/token", server.url()));
    let requests = server.token_requests();
    assert_eq!(
        requests.len(),
        1,
        "the run stops at the first refusal: {requests:?}"
    );
    assert!(requests.iter().all(|r| r.status == 401), "{requests:?}");
    assert!(server.verdicts().is_empty(), "no API call without a token");
    assert_clean(&server, &out, since, "wrong client secret");
}

#[test]
fn a_key_bound_to_another_host_signs_nothing() {
    let server = verifier();
    let p = hooked_project(&server, &sign_hook(""), "", WEBHOOK_JOURNEY);
    // Rebind the signing key to another host: its HMAC is bound there too.
    let yaml = std::fs::read_to_string(p.path("reqflo.yaml")).expect("read reqflo.yaml");
    let rebound = yaml.replacen(
        &format!("SIGNING_KEY: {{hosts: [\"{}\"]}}", server.host_port()),
        "SIGNING_KEY: {hosts: [\"hooks.example.com\"]}",
        1,
    );
    assert_ne!(yaml, rebound);
    std::fs::write(p.path("reqflo.yaml"), rebound).expect("write reqflo.yaml");
    let since = now();
    let (run, out) = run_everything(&p, &[("SIGNING_KEY", CANARY)]);
    run.expect_code(3)
        .expect_output("hook `sign`")
        .expect_output("hooks.example.com");
    assert!(server.verdicts().is_empty(), "nothing may be sent");
    assert_clean(&server, &out, since, "key bound elsewhere");
}

#[test]
fn a_token_url_outside_the_grants_is_never_called() {
    let server = verifier();
    let hooks = oauth_hook(&server, "").replace(
        &format!("grants: {{hosts: [\"{}\"]}}", server.host_port()),
        "grants: {hosts: [\"auth.example.com\"]}",
    );
    let p = hooked_project(&server, &hooks, "auth", API_JOURNEY);
    let since = now();
    let (run, out) = run_everything(&p, &[("CLIENT_SECRET", CLIENT_SECRET)]);
    run.expect_code(3)
        .expect_output("hook `auth` (builtin:oauth2)")
        .expect_output("grants.hosts");
    assert!(
        server.token_requests().is_empty(),
        "the token endpoint was called"
    );
    assert!(server.verdicts().is_empty(), "nothing may be sent");
    assert_clean(&server, &out, since, "token URL outside the grants");
}

#[test]
fn a_bundle_carries_its_hooks_and_runs_them_elsewhere() {
    let server = verifier();
    let hooks = format!(
        "{}{}  unused:\n    plugin: builtin:hmac-signature\n    secrets: [UNUSED_KEY]\n",
        oauth_hook(&server, ""),
        sign_hook("")
    );
    // `auth` comes from the environment, `sign` from a step.
    let journey = "steps:\n  - id: call\n    template: thing\n    values: {id: 3}\n    expect: {status: 200}\n  - id: notify\n    template: webhook\n    hooks: [sign]\n    values: {amount: 5}\n    expect: {status: 200}\n";
    let p = hooked_project(&server, &hooks, "auth", journey);
    let env = [("CLIENT_SECRET", CLIENT_SECRET), ("SIGNING_KEY", CANARY)];
    let exported = p.run(&["export", "j"], &env);
    exported.expect_code(0);
    let bundle = &exported.stdout;
    for needle in [
        "hooks:",
        "builtin:oauth2",
        "builtin:hmac-signature",
        "SIGNING_KEY",
        "CLIENT_SECRET",
    ] {
        assert!(
            bundle.contains(needle),
            "bundle lacks {needle:?}:\n{bundle}"
        );
    }
    assert!(
        !bundle.contains("unused") && !bundle.contains("UNUSED_KEY"),
        "only the hooks the journey attaches:\n{bundle}"
    );

    let elsewhere = tempfile::tempdir().expect("tmp");
    std::fs::write(elsewhere.path().join("j.bundle.yaml"), bundle).expect("write");
    let since = now();
    let run = common::reqflo(
        elsewhere.path(),
        &["run", "--bundle", "j.bundle.yaml", "-v"],
        &env,
    );
    run.expect_code(0).expect_output("2 of 2 steps ok");
    let verdicts = server.verdicts();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert!(verdicts.iter().all(|v| v.accepted), "{verdicts:?}");
    assert_eq!(server.token_requests().len(), 1);
    let mut out = exported.all();
    out.push_str(&run.all());
    assert_clean(&server, &out, since, "bundle with hooks");
}

#[test]
fn an_expired_token_is_fetched_again_and_a_live_one_is_reused() {
    // The first token the server issues says it expires at once
    // (`expires_in: 0`); the second lives an hour. The server accepts both
    // all along, and says which token each call carried: the second call can
    // carry the second token only if reqflo fetched again, and the third
    // carries it again only if reqflo reused it. No clock decides anything.
    let mut data = VerifierData::new(CLIENT_ID, CLIENT_SECRET, CANARY);
    data.announced_lifetimes = vec![std::time::Duration::ZERO];
    let server = FakeVerifier::spawn(data).expect("fake verifier starts");
    let p = hooked_project(&server, &oauth_hook(&server, ""), "auth", API_JOURNEY);
    let since = now();
    let (run, out) = run_everything(&p, &[("CLIENT_SECRET", CLIENT_SECRET)]);
    run.expect_code(0).expect_output("3 of 3 steps ok");
    let requests = server.token_requests();
    assert_eq!(requests.len(), 2, "one token per lifetime: {requests:?}");
    assert!(requests.iter().all(|r| r.status == 200), "{requests:?}");
    let verdicts = server.verdicts();
    let carried: Vec<(bool, Option<usize>)> =
        verdicts.iter().map(|v| (v.accepted, v.token)).collect();
    assert_eq!(
        carried,
        [(true, Some(0)), (true, Some(1)), (true, Some(1))],
        "{verdicts:?}"
    );
    assert_clean(&server, &out, since, "token refetch");
}
