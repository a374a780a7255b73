//! Reading items from the fake Connect server: by names and IDs, inside a
//! section, ten fields for one fetch, the level that is missing, a file
//! attachment, an archived item, a bad token or a vault out of scope, the
//! provider contract, and no value in a listing or report.

use super::{Connect, WEBHOOK, env, op_project};
use crate::common::{self, CANARY, assert_absent, assert_hidden, every_channel, show_last};

use reqflo_fakes::onepassword::{
    DEPLOY_ITEM_ID, LEGACY_CREDENTIAL, LEGACY_ITEM_ID, LEGACY_ITEM_TITLE, OPS_VAULT_ID,
    PAYMENTS_VAULT_ID, STRIPE_FILE_ID, STRIPE_FILE_NAME, STRIPE_ITEM_ID,
};

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
