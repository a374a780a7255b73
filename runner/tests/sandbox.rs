//! The plugin sandbox, tested with real components: a hostile provider that
//! tries to escape, loop, bloat and crash, and the built-in file provider.

mod common;

use std::time::{Duration, Instant};

use common::{CANARY, TestProject, assert_absent, plugin, project};
use sha2::Digest;

const ECHO_JOURNEY: &str =
    "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: S}}\n";

/// A project whose secret `S` is resolved by the hostile plugin with `reference`.
fn hostile(reference: &str, extra_provider_lines: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    limits: {{timeout_ms: 1000, memory_mib: 32}}\n{extra_provider_lines}secrets:\n  S: {{reference: \"{reference}\"}}\n"
    );
    project(&[("reqflo.yaml", &config), ("journeys/j.yaml", ECHO_JOURNEY)])
}

#[test]
fn a_plugin_sees_no_environment_variable_it_was_not_granted() {
    let p = hostile("env:UNGRANTED_SECRET", "");
    let run = p.run(&["run", "j"], &[("UNGRANTED_SECRET", CANARY)]);
    run.expect_code(3)
        .expect_output("env UNGRANTED_SECRET is not visible");
    assert_absent(&run.all(), CANARY, "ungranted env");
    assert_eq!(p.api.requests(), 0);

    let p = hostile("env-count", "");
    p.run(&["run", "j"], &[("A", "1"), ("B", "2"), ("PATH", "/bin")])
        .expect_code(3)
        .expect_output("0 environment variables visible");

    let p = hostile("env-count", "    grants: {env: [GRANTED]}\n");
    p.run(&["run", "j"], &[("GRANTED", "1"), ("OTHER", "2")])
        .expect_code(3)
        .expect_output("1 environment variables visible");
}

#[test]
fn a_plugin_reads_no_file() {
    let p = hostile("file:/etc/hostname", "");
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("cannot read /etc/hostname");
    // Not even the project's own files.
    let p = hostile("file:reqflo.yaml", "");
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("cannot read reqflo.yaml");
}

#[test]
fn a_plugin_that_loops_forever_is_stopped_promptly() {
    let p = hostile("loop", "");
    let started = Instant::now();
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("provider `hostile`")
        .expect_output("failed to resolve `loop`: exceeded its CPU budget of 1s");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn a_plugin_that_allocates_without_bound_hits_its_memory_cap() {
    let p = hostile("alloc", "");
    let started = Instant::now();
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("failed to resolve `alloc`: exceeded its memory limit of 32 MiB");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_plugin_that_panics_or_hangs_fails_cleanly() {
    let p = hostile("panic", "");
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("crashed (panic or abort); it printed: hostile provider panics on purpose");
    let p = hostile("sleep", "");
    let started = Instant::now();
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("did not answer within 1s");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_host_carries_on_after_a_plugin_fault() {
    // check --resolve resolves each secret independently through one process.
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    limits: {timeout_ms: 500}\nsecrets:\n  LOOPS: {reference: loop}\n  PANICS: {reference: panic}\n  WORKS: {reference: \"value:a-fine-value\"}\n";
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: LOOPS}}\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: PANICS}}\n  - id: c\n    template: echo\n    values: {key: {type: secret, name: WORKS}}\n";
    let p = project(&[("reqflo.yaml", config), ("journeys/j.yaml", journey)]);
    p.run(&["check", "j", "--resolve"], &[])
        .expect_code(3)
        .expect_output("secret LOOPS: provider `hostile`")
        .expect_output("secret PANICS: provider `hostile`")
        .expect_output("secret WORKS: resolves via hostile");
}

#[test]
fn a_custom_plugin_is_refused_when_its_pin_does_not_match() {
    let bytes = std::fs::read(plugin("reqflo_test_hostile")).expect("plugin built");
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    let good = hostile("value:pinned-value", &format!("    sha256: {digest}\n"));
    good.run(&["run", "j"], &[]).expect_code(0);
    good.run(&["plugins", "list"], &[])
        .expect_code(0)
        .expect_output(&digest)
        .expect_output("pinned, matches");

    let wrong = "0".repeat(64);
    let bad = hostile("value:pinned-value", &format!("    sha256: {wrong}\n"));
    bad.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("does not match its sha256 pin");
    assert_eq!(bad.api.requests(), 0);
    bad.run(&["plugins", "list"], &[])
        .expect_output("PIN MISMATCH");
}

#[test]
fn files_that_are_not_components_are_refused_with_the_plugin_named() {
    for (name, bytes) in [
        ("garbage.wasm", b"not wasm at all".to_vec()),
        ("truncated.wasm", {
            let mut b = std::fs::read(plugin("reqflo_test_hostile")).expect("built");
            b.truncate(b.len() / 2);
            b
        }),
    ] {
        let config = format!(
            "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [bad]\nproviders:\n  bad: {{plugin: ./{name}}}\n"
        );
        let p = project(&[("reqflo.yaml", &config), ("journeys/j.yaml", ECHO_JOURNEY)]);
        std::fs::write(p.path(name), bytes).expect("write");
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output(&format!(
                "{name} (provider `bad`) is not a valid WebAssembly component"
            ));
    }
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\n    secrets: [gone]\nproviders:\n  gone: {plugin: ./missing.wasm}\n";
    let p = project(&[("reqflo.yaml", config), ("journeys/j.yaml", ECHO_JOURNEY)]);
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("cannot read plugin");
}

#[test]
fn a_component_that_imports_sockets_is_refused_before_it_runs() {
    // A listener the plugin would reach if it were allowed to run.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let target = listener.local_addr().expect("addr").to_string();
    let sockets = plugin("reqflo_test_sockets").display().to_string();
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [raw]\nproviders:\n  raw: {{plugin: \"{sockets}\", grants: {{hosts: [\"{target}\"]}}}}\nsecrets:\n  S: {{reference: \"{target}\"}}\n"
    );
    let p = project(&[("reqflo.yaml", &config), ("journeys/j.yaml", ECHO_JOURNEY)]);
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("(provider `raw`) does not fit reqflo's plugin interface")
        .expect_output("wasi:sockets");
    assert!(listener.accept().is_err(), "the plugin connected");
    assert_eq!(p.api.requests(), 0);
}

fn file_project(file_name: &str, contents: &str, reference: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [file]\nproviders:\n  file:\n    plugin: builtin:file\n    config: {{path: {file_name}}}\nsecrets:\n  S: {{reference: \"{reference}\"}}\n"
    );
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: S}}\n    expect:\n      json: {\"$.headers['x-key']\": \"the-file-value\"}\n";
    let p = project(&[("reqflo.yaml", &config), ("journeys/j.yaml", journey)]);
    std::fs::write(p.path(file_name), contents).expect("write secret file");
    p
}

#[test]
fn the_file_provider_reads_yaml_json_and_dotenv() {
    let cases = [
        ("secrets.yaml", "S: the-file-value\n", "S"),
        (
            "nested.yml",
            "payments:\n  api: {key: the-file-value}\n",
            "payments.api.key",
        ),
        ("secrets.json", "{\"S\": \"the-file-value\"}", "S"),
        (
            ".env",
            "# comment\nexport OTHER=x\nS=\"the-file-value\"\n",
            "S",
        ),
        ("local.env", "S=the-file-value # trailing comment\n", "S"),
    ];
    for (file, contents, reference) in cases {
        let p = file_project(file, contents, reference);
        let run = p.run(&["run", "j", "-v"], &[]);
        run.expect_code(0).expect_output("[redacted:S]");
        assert!(!run.all().contains("the-file-value"), "{file}: value shown");
    }
}

#[test]
fn a_broken_secret_file_is_reported_without_its_contents() {
    let p = file_project("secrets.yaml", "S: [unclosed the-file-value\n", "S");
    let run = p.run(&["run", "j"], &[]);
    run.expect_code(3)
        .expect_output("secrets.yaml is not a valid secret file: syntax error at line");
    assert!(
        !run.all().contains("unclosed"),
        "file contents must not be quoted"
    );

    let p = file_project("secrets.yaml", "OTHER: x1234\n", "S");
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("secret `S` not found (tried file: no `S` in secrets.yaml)");
}

#[test]
fn the_env_provider_resolves_the_reference_from_the_registry() {
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  S: {reference: REAL_NAME}\n";
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: S}}\n    expect:\n      json: {\"$.headers['x-key']\": {exists: true}}\n";
    let p = project(&[("reqflo.yaml", config), ("journeys/j.yaml", journey)]);
    p.run(&["run", "j"], &[("REAL_NAME", CANARY)])
        .expect_code(0);
    p.run(&["run", "j"], &[("S", CANARY)])
        .expect_code(3)
        .expect_output("environment variable REAL_NAME is not set");
    // --secrets picks one provider for the whole run.
    p.run(&["run", "j", "--secrets", "file"], &[("REAL_NAME", CANARY)])
        .expect_code(3)
        .expect_output("tried file:");
    p.run(&["run", "j", "--secrets", "vault"], &[])
        .expect_code(1);
}
