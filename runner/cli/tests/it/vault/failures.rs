//! What goes wrong, and what is shown when it does: a token without
//! access, a server down, sealed or outside the grants, the address and
//! configuration mistakes; and no value or token in any output of a run
//! that passes or fails.

use super::{
    Bao, OTHER, echoes, line, pays, provider, secrets, shared_provider, token, vault_project,
};
use crate::common::servers::{self, OPENBAO_ROOT_TOKEN};
use crate::common::{
    self, CANARY, assert_absent, assert_redacted, every_channel, read_report, show_last,
};

use serde_json::{Value, json};

#[test]
fn a_token_without_access_is_denied() {
    let bao = Bao::shared();
    bao.write("denied/allowed", json!({ "k": CANARY }));
    bao.write("denied/forbidden", json!({ "k": OTHER }));
    bao.policy("denied-reader", &["secret/data/denied/allowed"]);
    let limited = "lim/Ited+Tok=en4Denied";
    bao.token(limited, &["denied-reader"], 0);

    let entries = secrets(&[
        ("ALLOWED", "denied/allowed#k"),
        ("FORBIDDEN", "denied/forbidden#k"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["ALLOWED", "FORBIDDEN"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(limited));
    run.expect_code(3);
    let out = run.all();
    assert!(
        line(&out, "ALLOWED").contains("resolves via vault"),
        "{out}"
    );
    assert!(
        line(&out, "FORBIDDEN").contains(
            "access denied: the token may not read \"denied/forbidden\" in mount \"secret\" (403)"
        ),
        "{out}"
    );
    let run = p.run(&["run", "j", "-v"], &token(limited));
    run.expect_code(3).expect_output(
        "provider `vault` (builtin:vault) failed to resolve `denied/forbidden#k`: access denied",
    );
    assert_eq!(p.api.requests(), 0);
    for (text, context) in [(out.as_str(), "check"), (&run.all(), "run -v")] {
        for value in [CANARY, OTHER, limited] {
            assert_absent(text, value, context);
        }
    }
}

#[test]
fn a_server_that_is_down_is_unavailable_and_named() {
    // A port held by a socket that never listens: nothing can take it while
    // the test runs, and every connection to it is refused.
    let down = common::refused_port();
    let authority = format!("127.0.0.1:{}", down.port);
    let address = format!("http://{authority}");
    let providers = provider(
        &format!("address: \"{address}\""),
        "VAULT_TOKEN",
        &format!("\"{authority}\""),
    );
    let entries = secrets(&[("S", "down/app#k")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &echoes(&["S"]));
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output(&format!(
            "failed to resolve `down/app#k`: unavailable: cannot connect to Vault at {address} \
             (connection refused)"
        ));
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn a_server_outside_the_grants_is_never_reached() {
    let bao = servers::openbao();
    let providers = provider(
        &format!("address: \"{}\"", bao.url),
        "VAULT_TOKEN",
        "\"127.0.0.1:9\"",
    );
    let entries = secrets(&[("S", "grants/app#k")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &echoes(&["S"]));
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output(&format!(
            "tried to reach {}, which is not in its grants.hosts",
            bao.url
        ));
}

#[test]
fn a_sealed_server_is_unavailable() {
    // Sealing the shared server would break the other tests: this one gets
    // its own.
    let sealed = servers::openbao_dev("openbao-sealed");
    let bao = Bao::at(&sealed.url);
    bao.write("sealed/app", json!({ "k": CANARY }));
    bao.call("PUT", "sys/seal", Value::Null);

    let providers = provider(
        &format!("address: \"{}\"", sealed.url),
        "VAULT_TOKEN",
        &format!("\"{}\"", sealed.authority),
    );
    let entries = secrets(&[("S", "sealed/app#k")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &echoes(&["S"]));
    let run = p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3).expect_output(&format!(
        "unavailable: Vault at {} is sealed; unseal it and run again",
        sealed.url
    ));
    assert_absent(&run.all(), CANARY, "sealed");
}

#[test]
fn the_address_may_come_from_vault_addr_and_config_mistakes_are_named() {
    let bao = Bao::shared();
    bao.write("addr/app", json!({ "api_key": CANARY }));
    let server = servers::openbao();
    let entries = secrets(&[("S", "addr/app#api_key")]);
    let from_env = provider(
        "",
        "VAULT_ADDR, VAULT_TOKEN",
        &format!("\"{}\"", server.authority),
    );
    let p = vault_project(CANARY, "vault", &from_env, &entries, &pays(&["S"]));
    let env = [
        ("VAULT_ADDR", server.url.as_str()),
        ("VAULT_TOKEN", OPENBAO_ROOT_TOKEN),
    ];
    p.run(&["run", "j"], &env).expect_code(0);
    // VAULT_ADDR is set but not granted: the sandbox does not see it.
    let ungranted = provider("", "VAULT_TOKEN", &format!("\"{}\"", server.authority));
    let p = vault_project(CANARY, "vault", &ungranted, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &env)
        .expect_code(3)
        .expect_output("no Vault address: set config.address, or set VAULT_ADDR and list it under the provider's grants.env");

    let cases = [
        (
            "adress: \"http://x\"",
            "unknown config key `adress` for the Vault provider",
        ),
        (
            "kv_version: 3",
            "config.kv_version is \"3\"; it must be 1 or 2",
        ),
        (
            "auth: ldap",
            "config.auth is \"ldap\"; it must be `token`, `approle`, `jwt` or `kubernetes`",
        ),
    ];
    for (config, message) in cases {
        let providers = provider(config, "VAULT_TOKEN", &format!("\"{}\"", server.authority));
        let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["S"]));
        p.run(&["run", "j"], &env)
            .expect_code(3)
            .expect_output(message);
    }
    // A token VAULT_TOKEN does not hold: not granted.
    let p = vault_project(
        CANARY,
        "vault",
        &provider(
            &format!("address: \"{}\"", server.url),
            "",
            &format!("\"{}\"", server.authority),
        ),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &env)
        .expect_code(3)
        .expect_output("VAULT_TOKEN is not visible to the Vault provider");
}

#[test]
fn values_and_tokens_never_leave_unredacted() {
    let bao = Bao::shared();
    bao.write(
        "redaction/app",
        json!({ "api_key": CANARY, "signing": OTHER }),
    );
    bao.policy("redaction-reader", &["secret/data/redaction/*"]);
    let reader = "red/Act+ion=Tok9";
    bao.token(reader, &["redaction-reader"], 0);
    let entries = secrets(&[
        ("KEY", "redaction/app#api_key"),
        ("SIGNING", "redaction/app#signing"),
        ("NO_KEY", "redaction/app#nope"),
        ("ALL", "redaction/app"),
    ]);
    let mut journey = pays(&["KEY"]);
    journey.push_str(
        "  - id: sign\n    template: echo\n    values: {key: {type: secret, name: SIGNING}}\n",
    );
    let p = vault_project(CANARY, "vault", &shared_provider(""), &entries, &journey);
    // Last, a step that fails showing both values: each reaches every
    // channel, to be redacted there.
    show_last(&p, &["KEY", "SIGNING"]);

    let mut outputs = Vec::new();
    for vault_token in [reader, OPENBAO_ROOT_TOKEN] {
        let shown = every_channel(&p, &token(vault_token));
        for (context, text) in &shown {
            assert_redacted(text, "KEY", context);
            assert_redacted(text, "SIGNING", context);
        }
        outputs.extend(shown);
    }
    // Error output: a missing key and a key listing.
    let failing = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["KEY", "NO_KEY", "ALL"]),
    );
    for vault_token in [reader, OPENBAO_ROOT_TOKEN] {
        let run = failing.run(&["check", "j", "--resolve"], &token(vault_token));
        run.expect_code(3).expect_output("no key \"nope\"");
        outputs.push(("check --resolve".to_string(), run.all()));
        let run = failing.run(
            &["run", "j", "-v", "--report-json", "r.json"],
            &token(vault_token),
        );
        run.expect_code(3);
        outputs.push(("failed run -v".to_string(), run.all()));
        // A failed run writes its report too: a missing one was deleted for a leak.
        let report = read_report(&run, &failing.path("r.json"));
        outputs.push(("failed run's r.json".to_string(), report));
    }
    for (context, text) in &outputs {
        for value in [CANARY, OTHER, reader] {
            assert_absent(text, value, context);
        }
        // The root token is the word "root", which the HTML report's
        // stylesheet has (`:root`); the canary-shaped `reader` token covers
        // that report, and the root token everything else.
        if context != "html/index.html" {
            assert_absent(text, OPENBAO_ROOT_TOKEN, context);
        }
    }
}
