//! The built-in 1Password provider against a local FAKE Connect server
//! (`reqflo-fakes`: no real Connect server can run here), and the host's
//! network grants that every networked plugin goes through.

use crate::common;

use std::time::{Duration, Instant};

use common::{
    CANARY, TestProject, assert_absent, assert_hidden, every_channel, project, show_last,
};
use reqflo_fakes::onepassword::{
    ConnectData, DEPLOY_ITEM_ID, DEPLOY_OTP_SECRET, FakeConnect, LEGACY_CREDENTIAL, LEGACY_ITEM_ID,
    LEGACY_ITEM_TITLE, OPS_VAULT_ID, PAYMENTS_VAULT_ID, STRIPE_FILE_ID, STRIPE_FILE_NAME,
    STRIPE_ITEM_ID, totp_code,
};

/// The webhook signing secret kept in a section of the sample item.
const WEBHOOK: &str = "whsec/Ca+nary=Webhook7";

/// A fake Connect server holding [`CANARY`] as the Stripe credential. The
/// runtime owns the server's task and must outlive the test's runs.
struct Connect {
    fake: FakeConnect,
    _runtime: tokio::runtime::Runtime,
}

impl Connect {
    fn start() -> Connect {
        Connect::serving(ConnectData::sample(CANARY, WEBHOOK))
    }

    fn serving(data: ConnectData) -> Connect {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let fake = runtime
            .block_on(FakeConnect::spawn(data))
            .expect("fake Connect starts");
        Connect {
            fake,
            _runtime: runtime,
        }
    }

    /// `host:port` of the fake, as a grant.
    fn grant(&self) -> String {
        self.fake.addr().to_string()
    }

    /// Requests whose path starts with `prefix`.
    fn count(&self, prefix: &str) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

/// A project whose environment resolves through provider `op` (the 1Password
/// plugin granted `hosts`), with `secrets` as registry lines and one echo step
/// per name in `used`.
fn op_project(hosts: &str, provider_extra: &str, secrets: &str, used: &[&str]) -> TestProject {
    op_project_with_key(CANARY, hosts, provider_extra, secrets, used)
}

/// [`op_project`] whose demo API accepts `key` as its bearer key.
fn op_project_with_key(
    key: &str,
    hosts: &str,
    provider_extra: &str,
    secrets: &str,
    used: &[&str],
) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [op]\n\
         providers:\n  op:\n    plugin: builtin:onepassword\n    grants:\n      env: [OP_CONNECT_HOST, OP_CONNECT_TOKEN]\n      hosts: [{hosts}]\n\
         {provider_extra}secrets:\n{secrets}"
    );
    let mut journey = String::from("steps:\n");
    for (i, name) in used.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    common::project_with_key(
        key,
        &[("reqflo.yaml", &config), ("journeys/j.yaml", &journey)],
    )
}

fn env<'a>(connect: &'a str, token: &'a str) -> [(&'a str, &'a str); 2] {
    [("OP_CONNECT_HOST", connect), ("OP_CONNECT_TOKEN", token)]
}

#[test]
fn resolves_by_names_by_ids_and_inside_a_section() {
    let c = Connect::start();
    // The fake, like Connect, filters names by case: `payments` and `STRIPE
    // SANDBOX` are found only by the provider's listing without case.
    let secrets = format!(
        "  BY_NAME: {{reference: \"op://payments/STRIPE SANDBOX/Credential\"}}\n\
         \x20 BY_ID: {{reference: \"op://{PAYMENTS_VAULT_ID}/{STRIPE_ITEM_ID}/credential\"}}\n\
         \x20 IN_SECTION: {{reference: \"op://Payments/Stripe Sandbox/Webhooks/signing secret\"}}\n"
    );
    let p = op_project(
        &c.grant(),
        "",
        &secrets,
        &["BY_NAME", "BY_ID", "IN_SECTION"],
    );
    // The payments steps prove the right values were injected: the demo API
    // accepts only CANARY as its key, and a second one only WEBHOOK.
    let webhook_api = demo_api::spawn(WEBHOOK).expect("second demo API starts");
    std::fs::write(
        p.path("templates/post-webhook-payment.yaml"),
        format!(
            "method: POST\nurl: \"{}/v1/payments\"\nheaders:\n  Authorization: \"Bearer {{{{key}}}}\"\njson:\n  amount: 7\n",
            webhook_api.base_url()
        ),
    )
    .expect("write template");
    std::fs::write(
        p.path("journeys/pay.yaml"),
        "steps:\n  - id: pay\n    template: post-payment\n    values: {key: {type: secret, name: BY_NAME}, amount: 5}\n    expect: {status: 201}\n  - id: pay-by-id\n    template: post-payment\n    values: {key: {type: secret, name: BY_ID}, amount: 6}\n    expect: {status: 201}\n  - id: pay-in-section\n    template: post-webhook-payment\n    values: {key: {type: secret, name: IN_SECTION}}\n    expect: {status: 201}\n",
    )
    .expect("write journey");
    let url = c.fake.url();
    let run = p.run(&["run", "pay", "j", "-v"], &env(&url, "full-token"));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 5, "two payments and three echoes");
    assert_eq!(webhook_api.requests(), 1, "the section field's payment");
    // `-v` (stderr) shows both values where they went, redacted: the echo of
    // IN_SECTION, and CANARY under the name it resolved first.
    assert_hidden(&run.stderr, "IN_SECTION", WEBHOOK, "1Password run with -v");
    assert_absent(&run.stderr, CANARY, "1Password run with -v");
    assert!(
        ["BY_NAME", "BY_ID"]
            .iter()
            .any(|name| run.stderr.contains(&format!("[redacted:{name}]"))),
        "CANARY never reached -v:\n{}",
        run.stderr
    );
}

#[test]
fn the_provider_keeps_the_contract_against_the_fake() {
    let c = Connect::start();
    let url = format!("http://{}", c.grant());
    let all = common::passes_contract(
        "onepassword",
        &[
            "--grant-env",
            "OP_CONNECT_HOST",
            "--grant-env",
            "OP_CONNECT_TOKEN",
            "--grant-host",
            &c.grant(),
            "--reference",
            "op://Payments/Stripe Sandbox/credential",
            "--missing",
            "op://Payments/No Such Item/credential",
        ],
        &env(&url, "full-token"),
    );
    assert_absent(&all, CANARY, "plugin test of builtin:onepassword");
}

#[test]
fn ten_fields_of_one_item_cost_one_item_fetch() {
    let c = Connect::start();
    let mut secrets = String::new();
    let mut names = Vec::new();
    // The same item named in different cases and by several fields.
    for (i, field) in [
        "credential",
        "Credential",
        "username",
        "Webhooks/signing secret",
        "webhooks/Signing Secret",
    ]
    .iter()
    .enumerate()
    {
        let item = if i % 2 == 0 {
            "Stripe Sandbox"
        } else {
            "stripe sandbox"
        };
        secrets.push_str(&format!(
            "  F{i}: {{reference: \"op://Payments/{item}/{field}\"}}\n"
        ));
        names.push(format!("F{i}"));
    }
    let used: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = op_project(&c.grant(), "", &secrets, &used);
    let url = c.fake.url();
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(0);
    let item_fetches = c.count(&format!(
        "GET /v1/vaults/{PAYMENTS_VAULT_ID}/items/{STRIPE_ITEM_ID}"
    ));
    assert_eq!(item_fetches, 1, "requests: {:#?}", c.fake.requests());
    assert_eq!(c.count("GET /v1/vaults?"), 1, "{:#?}", c.fake.requests());
}

#[test]
fn not_found_names_the_level_that_is_missing() {
    let c = Connect::start();
    let secrets = "  NO_VAULT: {reference: \"op://Nope/Stripe Sandbox/credential\"}\n\
                   \x20 NO_ITEM: {reference: \"op://Payments/Nope/credential\"}\n\
                   \x20 NO_FIELD: {reference: \"op://Payments/Stripe Sandbox/nope\"}\n\
                   \x20 NO_SECTION: {reference: \"op://Payments/Stripe Sandbox/Nope/signing secret\"}\n\
                   \x20 BAD_REF: {reference: \"op://Payments/Stripe Sandbox\"}\n\
                   \x20 BAD_QUERY: {reference: \"op://Payments/Stripe Sandbox/credential?attribute=ssh-key\"}\n";
    let p = op_project(
        &c.grant(),
        "",
        secrets,
        &[
            "NO_VAULT",
            "NO_ITEM",
            "NO_FIELD",
            "NO_SECTION",
            "BAD_REF",
            "BAD_QUERY",
        ],
    );
    let url = c.fake.url();
    let run = p.run(&["check", "j", "--resolve"], &env(&url, "full-token"));
    run.expect_code(3);
    let out = run.all();
    let line = |name: &str| {
        out.lines()
            .find(|l| l.contains(&format!("secret {name}:")))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{out}"))
            .to_string()
    };
    assert!(line("NO_VAULT").contains("vault \"Nope\""), "{out}");
    assert!(line("NO_ITEM").contains("\"Nope\""), "{out}");
    assert!(line("NO_ITEM").contains("Payments"), "{out}");
    assert!(line("NO_FIELD").contains("\"nope\""), "{out}");
    assert!(line("NO_SECTION").contains("Nope"), "{out}");
    assert!(line("BAD_REF").contains("invalid reference"), "{out}");
    assert!(line("BAD_QUERY").contains("ssh-key"), "{out}");
    assert!(line("BAD_QUERY").contains("is not one of"), "{out}");
    assert_absent(&out, CANARY, "not-found messages");
}

#[test]
fn a_file_attachment_is_a_secret_a_journey_sends() {
    let c = Connect::start();
    // The sample's file holds CANARY, the one key the demo API accepts.
    let secrets =
        format!("  FILE: {{reference: \"op://Payments/Stripe Sandbox/{STRIPE_FILE_NAME}\"}}\n");
    let p = op_project(&c.grant(), "", &secrets, &["FILE"]);
    std::fs::write(
        p.path("journeys/pay.yaml"),
        "steps:\n  - id: pay\n    template: post-payment\n    values: {key: {type: secret, name: FILE}, amount: 5}\n    expect: {status: 201}\n",
    )
    .expect("write journey");
    let url = c.fake.url();
    let run = p.run(&["run", "pay", "-v"], &env(&url, "full-token"));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1, "the payment");
    let content = format!(
        "GET /v1/vaults/{PAYMENTS_VAULT_ID}/items/{STRIPE_ITEM_ID}/files/{STRIPE_FILE_ID}/content"
    );
    assert_eq!(c.count(&content), 1, "{:#?}", c.fake.requests());
    assert!(run.stderr.contains("[redacted:FILE]"), "{}", run.stderr);
    assert_absent(&run.all(), CANARY, "a run sending a file attachment");
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The sample, plus an item "GitHub" in vault Ops with a CONCEALED
/// `password` and a one-time password field of `uri`.
fn with_github_otp(uri: &str) -> ConnectData {
    let mut data = ConnectData::sample(CANARY, WEBHOOK);
    let ops = data
        .vaults
        .iter_mut()
        .find(|v| v.id == OPS_VAULT_ID)
        .expect("the sample has vault Ops");
    ops.items.push(serde_json::json!({
        "id": "gh7xq2m4k9c3v8b5n1d6f0j2wz",
        "title": "GitHub",
        "vault": {"id": OPS_VAULT_ID},
        "category": "LOGIN",
        "fields": [
            {"id": "password", "type": "CONCEALED", "purpose": "PASSWORD",
             "label": "password", "value": "gh-password-never-a-code"},
            {"id": "TOTP_gh2fa", "type": "OTP", "label": "one-time password", "value": uri},
        ],
    }));
    data
}

#[test]
fn a_one_time_password_is_sent_as_its_current_code() {
    let now = unix_now();
    // A period of ten days whose current step has a minute or more left: the
    // run then never straddles two codes, so the one this test works out now
    // is the run's. (Steps of 864000 s and 864001 s end some 2000 s apart,
    // so one of the two always fits.)
    let period = [864_000u64, 864_001]
        .into_iter()
        .find(|p| p - now % p > 60)
        .expect("one period fits");
    let uri =
        format!("otpauth://totp/GitHub:ci?secret={DEPLOY_OTP_SECRET}&digits=8&period={period}");
    let code = totp_code(&uri, now).expect("the fake computes the code");
    let secrets = "  OTP: {reference: \"op://Ops/GitHub/one-time password?attribute=otp\"}\n\
                   \x20 TOTP: {reference: \"op://Ops/GitHub/one-time password?attribute=totp\"}\n";
    // The demo API accepts only the code as its key: each payment proves
    // the step sent the code of the moment.
    let journey = "steps:\n  - id: pay\n    template: post-payment\n    values: {key: {type: secret, name: OTP}, amount: 5}\n    expect: {status: 201}\n  - id: pay-again\n    template: post-payment\n    values: {key: {type: secret, name: TOTP}, amount: 6}\n    expect: {status: 201}\n";
    // As Connect 1.4.0 and later (the code sent as `totp`), then as an older
    // Connect (only the URI: the plugin computes the code on its clock).
    for connect_sends_the_code in [true, false] {
        let c = Connect::serving(with_github_otp(&uri));
        c.fake.set_totp_codes(connect_sends_the_code);
        let p = op_project_with_key(&code, &c.grant(), "", secrets, &[]);
        std::fs::write(p.path("journeys/pay.yaml"), journey).expect("write journey");
        let url = c.fake.url();
        let run = p.run(&["run", "pay", "-v"], &env(&url, "full-token"));
        run.expect_code(0);
        assert_eq!(p.api.requests(), 2, "both payments");
        let out = run.all();
        // Both names hold the same code: `-v` shows it under the first.
        assert!(out.contains("[redacted:OTP]"), "{out}");
        assert_absent(&out, &code, "a run sending a one-time password");
        assert_absent(&out, DEPLOY_OTP_SECRET, "a run sending a one-time password");
        assert!(!out.contains("otpauth"), "{out}");
    }
}

#[test]
fn only_an_otp_field_has_a_one_time_password() {
    let c = Connect::serving(with_github_otp(&format!(
        "otpauth://totp/GitHub:ci?secret={DEPLOY_OTP_SECRET}"
    )));
    let url = c.fake.url();
    let secrets = "  NOT_OTP: {reference: \"op://Ops/GitHub/password?attribute=totp\"}\n";
    let p = op_project(&c.grant(), "", secrets, &["NOT_OTP"]);
    let run = p.run(&["check", "j", "--resolve"], &env(&url, "full-token"));
    run.expect_code(3).expect_output(
        "field \"password\" of item \"GitHub\" is not a one-time password (its type is \
         CONCEALED, not OTP)",
    );
    assert!(
        !run.all().contains("gh-password-never-a-code"),
        "{}",
        run.all()
    );
}

#[test]
fn an_archived_item_is_found_by_id_only() {
    let c = Connect::start();
    let secrets = format!(
        "  BY_NAME: {{reference: \"op://Payments/{LEGACY_ITEM_TITLE}/credential\"}}\n\
         \x20 BY_ID: {{reference: \"op://Payments/{LEGACY_ITEM_ID}/credential\"}}\n"
    );
    let url = c.fake.url();
    let by_name = op_project(&c.grant(), "", &secrets, &["BY_NAME"]);
    let run = by_name.run(&["check", "j", "--resolve"], &env(&url, "full-token"));
    run.expect_code(3);
    let out = run.all();
    assert!(
        out.contains(&format!(
            "item \"{LEGACY_ITEM_TITLE}\" in vault \"Payments\" is archived"
        )),
        "{out}"
    );
    let by_id = op_project(&c.grant(), "", &secrets, &["BY_ID"]);
    let run = by_id.run(&["check", "j", "--resolve"], &env(&url, "full-token"));
    run.expect_code(0);
    assert_absent(
        &run.all(),
        LEGACY_CREDENTIAL,
        "check --resolve of an archived item",
    );
}

#[test]
fn a_bad_token_and_a_vault_out_of_scope_are_denied() {
    let c = Connect::start();
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";
    let p = op_project(&c.grant(), "", secrets, &["S"]);
    p.run(&["run", "j"], &env(&url, "not-a-token"))
        .expect_code(3)
        .expect_output("provider `op`")
        .expect_output("401");
    assert_eq!(p.api.requests(), 0);

    // The payments-only token sees no vault "Ops" by name, and is refused it by ID.
    let secrets = format!(
        "  BY_NAME: {{reference: \"op://Ops/Deploy Key/password\"}}\n\
         \x20 BY_ID: {{reference: \"op://{OPS_VAULT_ID}/{DEPLOY_ITEM_ID}/password\"}}\n"
    );
    let p = op_project(&c.grant(), "", &secrets, &["BY_NAME", "BY_ID"]);
    let run = p.run(
        &["check", "j", "--resolve"],
        &env(&url, "payments-only-token"),
    );
    run.expect_code(3);
    let out = run.all();
    assert!(
        out.lines()
            .any(|l| l.contains("secret BY_NAME:") && l.contains("vault \"Ops\"")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains("secret BY_ID:")
            && l.contains("access denied")
            && l.contains("403")),
        "{out}"
    );
    assert!(!out.contains("ops-deploy-value-1234"), "{out}");
}

#[test]
fn a_slow_server_times_out_with_a_clear_error() {
    let c = Connect::start();
    c.fake.set_delay(Duration::from_secs(30));
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";
    let p = op_project(
        &c.grant(),
        "    limits: {timeout_ms: 1000}\n",
        secrets,
        &["S"],
    );
    let started = Instant::now();
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("did not answer in time");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_redirect_to_another_host_is_not_followed() {
    let c = Connect::start();
    let elsewhere = Connect::start();
    c.fake.set_redirect(Some(elsewhere.fake.url()));
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";
    // Even with both hosts granted, a redirect is never followed for the plugin.
    let hosts = format!("\"{}\", \"{}\"", c.grant(), elsewhere.grant());
    let p = op_project(&hosts, "", secrets, &["S"]);
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("redirect")
        .expect_output(&elsewhere.grant());
    assert_eq!(c.fake.requests().len(), 1);
    assert!(elsewhere.fake.requests().is_empty());
}

#[test]
fn a_host_outside_the_grants_is_refused_and_named() {
    let c = Connect::start();
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";
    let p = op_project("\"127.0.0.1:9\"", "", secrets, &["S"]);
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("provider `op` (builtin:onepassword)")
        .expect_output(&format!(
            "tried to reach http://{}, which is not in its grants.hosts (its grants.hosts are 127.0.0.1:9)",
            c.grant()
        ));
    assert!(c.fake.requests().is_empty(), "{:#?}", c.fake.requests());
}

/// A project resolving `S` through the hostile test plugin with `reference`.
fn hostile(reference: &str, grants: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    limits: {{timeout_ms: 2000}}\n{grants}secrets:\n  S: {{reference: \"{reference}\"}}\n"
    );
    project(&[
        ("reqflo.yaml", &config),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: S}}\n",
        ),
    ])
}

#[test]
fn a_plugin_without_host_grants_has_no_network() {
    let c = Connect::start();
    let url = format!("{}/heartbeat", c.fake.url());
    for action in ["http", "http-quiet"] {
        let p = hostile(&format!("{action}:{url}"), "");
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output("provider `hostile`")
            .expect_output(&format!(
                "tried to reach http://{}, but it has no grants.hosts (no network)",
                c.grant()
            ));
        assert_eq!(p.api.requests(), 0);
    }
    assert!(c.fake.requests().is_empty());
}

#[test]
fn a_plugin_reaches_exactly_its_granted_hosts() {
    let c = Connect::start();
    let heartbeat = format!("{}/heartbeat", c.fake.url());
    // Granted: the fetch goes through the host and its body becomes the value.
    let p = hostile(
        &format!("http:{heartbeat}"),
        &format!("    grants: {{hosts: [\"{}\"]}}\n", c.grant()),
    );
    // "." is shorter than any secret may be: resolution fails after the fetch.
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("is shorter than 4 bytes");
    assert_eq!(c.count("GET /heartbeat"), 1);

    // The same host on another port, or named differently, is not the grant.
    let other_port = format!("127.0.0.1:{}", c.fake.addr().port() ^ 1);
    for grant in [other_port.as_str(), "localhost", "https://127.0.0.1"] {
        let p = hostile(
            &format!("http-quiet:{heartbeat}"),
            &format!("    grants: {{hosts: [\"{grant}\"]}}\n"),
        );
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output("which is not in its grants.hosts");
    }
    assert_eq!(c.count("GET /heartbeat"), 1);
}

#[test]
fn a_response_over_the_cap_never_reaches_the_plugin() {
    // The demo API is the granted host; it answers 20 MB, over the 16 MiB cap.
    let p = hostile(
        "http:@BASE@/bytes/20000000",
        "    grants: {hosts: [\"@HOST@\"]}\n",
    );
    let config = std::fs::read_to_string(p.path("reqflo.yaml")).expect("config");
    let host = p.api.base_url().trim_start_matches("http://").to_string();
    std::fs::write(p.path("reqflo.yaml"), config.replace("@HOST@", &host)).expect("write");
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("provider `hostile`")
        .expect_output("HttpResponseBodySize");
    // The one request the API saw is the plugin's fetch; the journey sent nothing.
    assert_eq!(p.api.requests(), 1);
}

#[test]
fn bad_host_grants_are_config_errors_with_a_position() {
    let p = hostile(
        "value:whatever",
        "    grants: {hosts: [\"127.0.0.1:8200\", \"https://vault.example.com/v1/secret\"]}\n",
    );
    p.run(&["check", "j"], &[])
        .expect_code(1)
        .expect_output("in grants.hosts: `https://vault.example.com/v1/secret` is not a host grant")
        .expect_output("reqflo.yaml:9:");
}

#[test]
fn secrets_list_shows_the_op_reference_and_never_a_value() {
    let c = Connect::start();
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\", provider: op, description: Stripe key}\n";
    let p = op_project(&c.grant(), "", secrets, &["S"]);
    let run = p.run(&["secrets", "list"], &env(&url, "full-token"));
    run.expect_code(0)
        .expect_output("op://Payments/Stripe Sandbox/credential");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("S ") && l.contains(" op "))
    );
    assert_absent(&run.all(), CANARY, "secrets list");
    // Listing never asks the server anything.
    assert!(c.fake.requests().is_empty());
}

#[test]
fn reports_of_a_1password_run_hold_no_value() {
    let c = Connect::start();
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n\
                   \x20 W: {reference: \"op://Payments/Stripe Sandbox/Webhooks/signing secret\"}\n";
    let p = op_project(&c.grant(), "", secrets, &["S", "W"]);
    // After the echoes, a step that fails showing both values: each reaches
    // every channel, to be redacted there.
    show_last(&p, &["S", "W"]);
    let channels = every_channel(&p, &env(&url, "full-token"));
    for (name, value) in [("S", CANARY), ("W", WEBHOOK)] {
        for (channel, text) in &channels {
            assert_hidden(
                text,
                name,
                value,
                &format!("1Password run with -v: {channel}"),
            );
        }
    }
}

/// A private CA and a TLS front for the fake Connect server, signed by it for
/// 127.0.0.1. Returns the HTTPS address and the CA's PEM.
fn tls_front(c: &Connect) -> (std::net::SocketAddr, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use tokio_rustls::rustls;

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .expect("server config");
    let addr = crate::common::tls::front(&c._runtime, config, c.fake.addr());
    (addr, ca.pem())
}

#[test]
fn https_to_a_private_server_needs_its_ca_file() {
    let c = Connect::start();
    let (addr, ca_pem) = tls_front(&c);
    let url = format!("https://{addr}");
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";

    // webpki roots alone do not trust a private CA.
    let p = op_project(&format!("\"{addr}\""), "", secrets, &["S"]);
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("TLS certificate not accepted");
    assert!(c.fake.requests().is_empty());

    // With the CA file, the same server is trusted.
    let p = op_project(
        &format!("\"https://{addr}\""),
        "    ca_file: ca.pem\n",
        secrets,
        &["S"],
    );
    std::fs::write(p.path("ca.pem"), &ca_pem).expect("write CA");
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(0);
    assert_eq!(c.fake.requests().len(), 3, "{:#?}", c.fake.requests());
    p.run(&["plugins", "list"], &[])
        .expect_code(0)
        .expect_output("extra CA:");

    // A CA file that is not there is a configuration error with a position.
    let p = op_project(
        &format!("\"{addr}\""),
        "    ca_file: missing.pem\n",
        secrets,
        &["S"],
    );
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(1)
        .expect_output("ca_file")
        .expect_output("missing.pem does not exist")
        .expect_output("reqflo.yaml:");
}
