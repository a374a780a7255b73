//! Reading the KV engines of the shared OpenBao: the latest and pinned
//! versions, a named or only key, what is missing or not a single value,
//! fall-through to the next provider, KV v1, one read per secret, a
//! namespace, odd characters in paths, and the provider contract.

use super::{Bao, OTHER, echoes, line, pays, secrets, shared_provider, token, vault_project};
use crate::common::servers::{self, OPENBAO_ROOT_TOKEN};
use crate::common::{self, CANARY, assert_absent};

use serde_json::{Value, json};

#[test]
fn reads_the_latest_version_and_a_pinned_older_one() {
    let bao = Bao::shared();
    let old = "0ld/Ver+sion=Key1";
    bao.write("versions/stripe", json!({ "api_key": old }));
    bao.write("versions/stripe", json!({ "api_key": CANARY }));

    let latest = secrets(&[("LATEST", "versions/stripe#api_key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &latest,
        &pays(&["LATEST"]),
    );
    let run = p.run(&["run", "j", "-v"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1);
    for value in [CANARY, old, OPENBAO_ROOT_TOKEN] {
        assert_absent(&run.all(), value, "run -v of the latest version");
    }

    // Both orders of key and version pin version 1.
    let pinned = secrets(&[
        ("PINNED", "versions/stripe#api_key?version=1"),
        ("URL_ORDER", "versions/stripe?version=1#api_key"),
    ]);
    let p = vault_project(
        old,
        "vault",
        &shared_provider(""),
        &pinned,
        &pays(&["PINNED", "URL_ORDER"]),
    );
    let run = p.run(&["run", "j", "-v"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    for value in [CANARY, old] {
        assert_absent(&run.all(), value, "run -v of a pinned version");
    }
}

#[test]
fn picks_a_named_key_or_the_only_key() {
    let bao = Bao::shared();
    bao.write(
        "keys/multi",
        json!({ "username": "svc-payments-user", "api_key": CANARY }),
    );
    bao.write("keys/single", json!({ "token": CANARY }));
    bao.write(
        "keys/typed",
        json!({ "port": 123456789, "nested": { "a": 1 }, "list": [1, 2] }),
    );

    let named = secrets(&[("MULTI", "keys/multi#api_key"), ("SINGLE", "keys/single")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &named,
        &pays(&["MULTI", "SINGLE"]),
    );
    let run = p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 2);

    // A number is handed on as its JSON text.
    let number = secrets(&[("NUMBER", "keys/typed#port")]);
    let p = vault_project(
        "123456789",
        "vault",
        &shared_provider(""),
        &number,
        &pays(&["NUMBER"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(0);
}

#[test]
fn no_key_on_a_multi_key_secret_lists_key_names_and_no_values() {
    let bao = Bao::shared();
    bao.write(
        "nokey/multi",
        json!({ "username": "svc-nokey-user", "api_key": CANARY }),
    );
    bao.write(
        "nokey/typed",
        json!({ "nested": { "a": CANARY }, "list": [CANARY] }),
    );
    let entries = secrets(&[
        ("ALL_KEYS", "nokey/multi"),
        ("OBJECT", "nokey/typed#nested"),
        ("ARRAY", "nokey/typed#list"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["ALL_KEYS", "OBJECT", "ARRAY"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3);
    let out = run.all();
    let all_keys = line(&out, "ALL_KEYS");
    assert!(all_keys.contains("invalid reference"), "{out}");
    assert!(
        all_keys.contains(
            "secret \"nokey/multi\" has 2 keys (\"api_key\", \"username\"); name one with `#key`"
        ),
        "{out}"
    );
    assert!(
        line(&out, "OBJECT").contains("holds a JSON object, not a single value"),
        "{out}"
    );
    assert!(line(&out, "ARRAY").contains("holds a JSON array"), "{out}");
    assert!(!out.contains("svc-nokey-user"), "{out}");
    assert_absent(&out, CANARY, "key-listing errors");

    // The same error stops a run before anything is sent.
    let run = p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3)
        .expect_output("provider `vault` (builtin:vault) failed to resolve `nokey/multi`");
    assert_eq!(p.api.requests(), 0);
    assert_absent(&run.all(), CANARY, "run error");
}

#[test]
fn missing_paths_keys_and_versions_are_not_found() {
    let bao = Bao::shared();
    for value in [CANARY, OTHER, "third/Ver+sion=3"] {
        bao.write("missing/app", json!({ "k": value }));
    }
    bao.call(
        "POST",
        "secret/delete/missing/app",
        json!({ "versions": [1] }),
    );
    bao.call(
        "PUT",
        "secret/destroy/missing/app",
        json!({ "versions": [2] }),
    );
    let entries = secrets(&[
        ("NO_PATH", "missing/nope#k"),
        ("NO_KEY", "missing/app#nope"),
        ("DELETED", "missing/app#k?version=1"),
        ("DESTROYED", "missing/app#k?version=2"),
        ("NO_VERSION", "missing/app#k?version=9"),
        ("MOUNT_IN_PATH", "secret/data/missing/app#k"),
        ("LATEST", "missing/app#k"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&[
            "NO_PATH",
            "NO_KEY",
            "DELETED",
            "DESTROYED",
            "NO_VERSION",
            "MOUNT_IN_PATH",
            "LATEST",
        ]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3);
    let out = run.all();
    let expect = |name: &str, text: &str| {
        let l = line(&out, name);
        assert!(l.contains("not found"), "{name}: {l}");
        assert!(l.contains(text), "{name}: expected {text:?} in {l}");
    };
    expect(
        "NO_PATH",
        "no secret at \"missing/nope\" in mount \"secret\"",
    );
    expect(
        "NO_KEY",
        "no key \"nope\" in secret \"missing/app\" (its keys: \"k\")",
    );
    expect(
        "DELETED",
        "version 1 of secret \"missing/app\" in mount \"secret\" was deleted",
    );
    expect(
        "DESTROYED",
        "version 2 of secret \"missing/app\" in mount \"secret\" was destroyed",
    );
    expect(
        "NO_VERSION",
        "no secret at \"missing/app\" (version 9) in mount \"secret\"",
    );
    expect(
        "MOUNT_IN_PATH",
        "no secret at \"secret/data/missing/app\" in mount \"secret\"; references are \
         relative to the mount, so this may be \"missing/app\"",
    );
    assert!(line(&out, "LATEST").contains("resolves via vault"), "{out}");
    for value in [CANARY, OTHER] {
        assert_absent(&out, value, "not-found messages");
    }
}

#[test]
fn a_missing_secret_falls_through_to_the_next_provider() {
    // No `reference:`, so the name is the reference: a path for vault, a
    // variable for env.
    let entries = "  FALLTHROUGH_KEY: {description: in env only}\n";
    let p = vault_project(
        CANARY,
        "vault, env",
        &shared_provider(""),
        entries,
        &pays(&["FALLTHROUGH_KEY"]),
    );
    let env = [
        ("VAULT_TOKEN", OPENBAO_ROOT_TOKEN),
        ("FALLTHROUGH_KEY", CANARY),
    ];
    p.run(&["check", "j", "--resolve"], &env)
        .expect_code(0)
        .expect_output("secret FALLTHROUGH_KEY: resolves via env");
    p.run(&["run", "j"], &env).expect_code(0);
}

#[test]
fn the_provider_keeps_the_contract_against_openbao() {
    let bao = Bao::shared();
    bao.write("contract/app", json!({ "key": CANARY }));
    let server = servers::openbao();
    let address = format!("address={}", server.url);
    let all = common::passes_contract(
        "vault",
        &[
            "--config",
            &address,
            "--grant-env",
            "VAULT_TOKEN",
            "--grant-host",
            &server.authority,
            "--reference",
            "contract/app#key",
            "--missing",
            "contract/none#key",
        ],
        &token(OPENBAO_ROOT_TOKEN),
    );
    assert_absent(&all, CANARY, "plugin test of builtin:vault");
}

#[test]
fn reads_a_kv_v1_mount() {
    let bao = Bao::shared();
    bao.call(
        "POST",
        "sys/mounts/kv1-test",
        json!({ "type": "kv", "options": { "version": "1" } }),
    );
    bao.call(
        "POST",
        "kv1-test/app/db",
        json!({ "api_key": CANARY, "user": "u" }),
    );
    let entries = secrets(&[("V1", "app/db#api_key")]);
    let providers = shared_provider("mount: kv1-test, kv_version: 1");
    let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["V1"]));
    let run = p.run(&["run", "j", "-v"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    assert_absent(&run.all(), CANARY, "KV v1 run");

    // KV v1 keeps no versions: pinning one is a mistake, said before any request.
    let pinned = secrets(&[("PINNED", "app/db#api_key?version=1")]);
    let p = vault_project(CANARY, "vault", &providers, &pinned, &pays(&["PINNED"]));
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output("invalid reference: `?version=` needs a KV version 2 engine, and mount \"kv1-test\" is configured with kv_version: 1");

    // A KV v2 mount read as v1 is a configuration error, not "not found".
    bao.write("kv1/app", json!({ "api_key": CANARY }));
    let entries = secrets(&[("V2_AS_V1", "kv1/app#api_key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider("kv_version: 1"),
        &entries,
        &pays(&["V2_AS_V1"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output("mount \"secret\" is a KV version 2 engine")
        .expect_output("set config.kv_version to 2");
}

#[test]
fn several_keys_of_one_secret_cost_one_read() {
    let bao = Bao::shared();
    bao.write(
        "cache/app",
        json!({ "a": CANARY, "b": "second/Key+Value=1", "c": "third/Key+Value=2" }),
    );
    bao.write("cache/other", json!({ "a": OTHER }));
    bao.policy("cache-reader", &["secret/data/cache/*"]);
    // A token that may make exactly one request: three keys of one secret
    // must cost that one read.
    let one_use = "one/Use+Tok=en5Cache";
    bao.token(one_use, &["cache-reader"], 1);
    let entries = secrets(&[
        ("A", "cache/app#a"),
        ("B", "cache/app#b"),
        ("C", "cache/app#c"),
        ("O", "cache/other#a"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["A", "B", "C"]),
    );
    p.run(&["run", "j"], &token(one_use)).expect_code(0);
    assert_eq!(p.api.requests(), 3);

    // The control: two secrets need two reads, and a one-use token allows one.
    let another = "two/Use+Tok=en6Cache";
    bao.token(another, &["cache-reader"], 1);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["A", "O"]),
    );
    p.run(&["run", "j"], &token(another))
        .expect_code(3)
        .expect_output("failed to resolve `cache/other#a`: access denied")
        .expect_output("(403)");
}

#[test]
fn a_namespace_is_sent_with_every_request() {
    let bao = Bao::shared();
    bao.call("POST", "sys/namespaces/ns-test", Value::Null);
    bao.call_in(
        Some("ns-test"),
        "POST",
        "sys/mounts/secret",
        json!({ "type": "kv", "options": { "version": "2" } }),
    );
    bao.call_in(
        Some("ns-test"),
        "POST",
        "secret/data/ns/app",
        json!({ "data": { "api_key": CANARY } }),
    );
    let entries = secrets(&[("S", "ns/app#api_key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider("namespace: ns-test/"),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(0);
    // Outside the namespace the same path holds nothing.
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output("no secret at \"ns/app\" in mount \"secret\"");
}

#[test]
fn odd_characters_in_paths_are_percent_encoded() {
    let bao = Bao::shared();
    // "odd/team a/é%1" and "odd/x..y", as the API takes them.
    bao.call(
        "POST",
        "secret/data/odd/team%20a/%C3%A9%251",
        json!({ "data": { "api key": CANARY } }),
    );
    bao.call(
        "POST",
        "secret/data/odd/x..y",
        json!({ "data": { "k": OTHER } }),
    );
    let entries = secrets(&[("S", "odd/team a/é%1#api key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(0);

    let entries = secrets(&[
        ("DOTS", "odd/x..y#k"),
        ("TRAVERSAL", "odd/../../sys/seal-status"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["DOTS", "TRAVERSAL"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3);
    let out = run.all();
    assert!(line(&out, "DOTS").contains("resolves via vault"), "{out}");
    assert!(
        line(&out, "TRAVERSAL").contains(
            "invalid reference: the path of \"odd/../../sys/seal-status\" has a `..` segment"
        ),
        "{out}"
    );
}
