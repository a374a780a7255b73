//! The plugin sandbox, tested with real components: a hostile provider that
//! tries to escape, loop, bloat and crash, and the built-in file provider.

use crate::common;

use std::time::{Duration, Instant};

use common::{
    CANARY, Run, TestProject, assert_absent, assert_hidden, plugin, project, read_report,
};
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
    let run = p.run(&["run", "j"], &[("A", "1"), ("B", "2"), ("PATH", "/bin")]);
    run.expect_code(3);
    assert_eq!(visible_count(&run), 0);

    let p = hostile("env-count", "    grants: {env: [GRANTED]}\n");
    let run = p.run(&["run", "j"], &[("GRANTED", "1"), ("OTHER", "2")]);
    run.expect_code(3);
    assert_eq!(visible_count(&run), 1);
}

/// The whole number the hostile plugin's `env-count` reported in
/// "N environment variables visible" (all of N: "10" is not "0").
fn visible_count(run: &Run) -> usize {
    let out = run.all();
    let counts: Vec<usize> = out
        .match_indices(" environment variables visible")
        .map(|(at, _)| {
            let before = &out[..at];
            let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            before[at - digits..].parse().unwrap_or_else(|_| {
                panic!("no count before \"environment variables visible\" in:\n{out}")
            })
        })
        .collect();
    assert_eq!(counts.len(), 1, "one count expected in:\n{out}");
    counts[0]
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
fn a_plugin_reads_its_granted_files_and_nothing_beside_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = dir.path().join("token");
    let beside = dir.path().join("beside");
    std::fs::write(&token, CANARY).expect("token file");
    std::fs::write(&beside, "not granted").expect("file beside");
    let (token, beside) = (token.display().to_string(), beside.display().to_string());
    let by_path = format!("    grants: {{files: [\"{token}\"]}}\n");

    // Granted: read, sent, and redacted wherever it shows.
    let p = hostile(&format!("file:{token}"), &by_path);
    let run = p.run(&["run", "j", "-v"], &[]);
    run.expect_code(0);
    assert_absent(&run.all(), CANARY, "a granted file's text");
    assert_eq!(p.api.requests(), 1);
    // The file beside it, in the same folder, is not there.
    let p = hostile(&format!("file:{beside}"), &by_path);
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output(&format!("cannot read {beside}"));

    // `$NAME`: the file reqflo's own variable names; none when it is unset.
    let by_variable = "    grants: {files: [$TOKEN_FILE]}\n";
    let p = hostile(&format!("file:{token}"), by_variable);
    p.run(&["run", "j"], &[("TOKEN_FILE", &token)])
        .expect_code(0);
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output(&format!("cannot read {token}"));

    // A bad entry is a configuration error at its place.
    let p = hostile("value:whatever", "    grants: {files: [\"$1BAD\"]}\n");
    p.run(&["check", "j"], &[])
        .expect_code(1)
        .expect_output("in grants.files: `$1BAD` is not `$NAME`")
        .expect_output("reqflo.yaml:");
}

#[test]
fn each_secret_in_a_granted_credentials_file_is_redacted_on_its_own() {
    // A credentials file holds names beside its secrets: the plugin that
    // shows one value of it, in any form, shows only a marker; the profile
    // name and region it shows stay readable.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        format!("[ci-profile]\naws_secret_access_key = {CANARY}\nregion = eu-north-1\n"),
    )
    .expect("credentials file");
    let file = file.display().to_string();
    let grants = format!("    grants: {{files: [\"{file}\"]}}\n");
    for form in ["raw", "base64", "hex", "percent"] {
        let p = hostile(&format!("leak-file:{file}:2:{form}"), &grants);
        let run = p.run(&["run", "j", "-v", "--report-json", "r.json"], &[]);
        run.expect_code(3)
            .expect_output("leaking")
            .expect_output(&format!("[redacted:file {file}]"));
        assert_absent(&run.all(), CANARY, form);
        let report = std::fs::read_to_string(p.path("r.json")).expect("report");
        assert_absent(&report, CANARY, form);
        // What is no secret is shown as it is, in the plugin's encoding.
        let p = hostile(&format!("leak-file:{file}:3:{form}"), &grants);
        let shown = match form {
            "raw" => "eu-north-1",
            "base64" => "ZXUtbm9ydGgtMQ==",
            "hex" => "65752d6e6f7274682d31",
            _ => "eu%2Dnorth%2D1",
        };
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output(&format!("leaking {form}: {shown}"));
    }
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
        ("empty.wasm", Vec::new()),
        // An empty core module: valid WebAssembly, but not a component.
        ("module.wasm", b"\0asm\x01\0\0\0".to_vec()),
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
        let run = p.run(&["run", "j"], &[]);
        run.expect_code(3).expect_output(&format!(
            "{name} (provider `bad`) is not a valid WebAssembly component"
        ));
        if name == "module.wasm" {
            run.expect_output("it is a core WebAssembly module; build it for wasm32-wasip2");
        }
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

// The hostile-plugin suite: each attack is contained with a one-line error
// naming the provider and its plugin, and the host carries on (README: Hostile
// plugins).

/// The project of [`contained`]: `BAD` through the hostile plugin with
/// `reference`, then `GOOD` through the same provider.
fn bad_then_good(reference: &str, limits: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    limits: {{{limits}}}\nsecrets:\n  BAD: {{reference: \"{reference}\"}}\n  GOOD: {{reference: \"value:a-fine-value\"}}\n"
    );
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: BAD}}\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: GOOD}}\n";
    project(&[("reqflo.yaml", &config), ("journeys/j.yaml", journey)])
}

/// Resolve `BAD` (the hostile plugin doing `reference`) and then `GOOD` (the
/// same provider, a plain value) independently in one process: `BAD` must fail
/// with `expected`, naming the provider and the plugin, and `GOOD` must still
/// resolve. Then `run` must fail with exit 3 before any request is sent.
/// Returns the `check` and the `run` output.
fn contained(reference: &str, limits: &str, expected: &str) -> (Run, Run) {
    let p = bad_then_good(reference, limits);
    let named = format!(
        "provider `hostile` ({}) failed to resolve `{reference}`: ",
        plugin("reqflo_test_hostile").display()
    );
    let check = p.run(&["check", "j", "--resolve"], &[]);
    check
        .expect_code(3)
        .expect_output(&format!("secret BAD: {named}"))
        .expect_output(expected)
        .expect_output("secret GOOD: resolves via hostile");
    let run = p.run(&["run", "j"], &[]);
    run.expect_code(3)
        .expect_output(&format!("error: {named}"))
        .expect_output(expected);
    assert_eq!(p.api.requests(), 0, "a request was sent");
    (check, run)
}

#[test]
fn deep_recursion_overflows_the_plugins_stack_not_the_hosts() {
    contained("recurse", "timeout_ms: 5000", "overflowed its stack");
}

#[test]
fn a_huge_result_is_refused_at_the_hosts_limit() {
    // 100 MiB fits the plugin's memory (256 MiB), not the host's limit of one
    // secret; nor does 65 KiB.
    for (reference, size) in [("big:100", 100 << 20), ("big:65k", 65 << 10)] {
        contained(
            reference,
            "timeout_ms: 10000, memory_mib: 256",
            &format!(
                "was stopped: it made a secret of {size} bytes; a secret may hold at most 64 KiB"
            ),
        );
    }
    // Many secrets of 60 KiB, kept alive: the host's 16 MiB for all of them.
    contained(
        "many-big:300:60",
        "timeout_ms: 10000, memory_mib: 256",
        "was stopped: its secrets exceed 16 MiB in all",
    );
}

#[test]
fn a_huge_error_string_is_cut_short() {
    let (check, run) = contained(
        "error-big:20",
        "timeout_ms: 10000, memory_mib: 128",
        "unavailable: huge error:EEEE",
    );
    for output in [&check, &run] {
        let line = output
            .all()
            .lines()
            .find(|l| l.contains("huge error"))
            .map(str::to_string)
            .unwrap_or_default();
        assert!(line.ends_with('…'), "not marked as cut: {line}");
        assert!(line.chars().count() < 600, "{} chars", line.chars().count());
    }
}

#[test]
fn terminal_escapes_in_plugin_text_are_neutralised() {
    // CSI (colour, clear screen), OSC (window title, ended by BEL) and the
    // one-byte C1 CSI, through an error, a "not found" that a chain reports
    // and a panic message on stderr.
    let evil = "\\e[31mred\\e[2J\\e]0;owned\\a\\x9b1mdone";
    for (reference, shown) in [
        (format!("error:{evil}"), "unavailable: "),
        (format!("not-found:{evil}"), "not found (tried hostile: "),
        (format!("panic:{evil}"), "it printed: "),
    ] {
        let config = format!(
            "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [hostile, file]\nproviders:\n  hostile: {{plugin: \"@HOSTILE@\"}}\n  file: {{plugin: builtin:file, config: {{path: absent.yaml}}}}\nsecrets:\n  S: {{reference: \"{reference}\"}}\n"
        );
        let p = project(&[("reqflo.yaml", &config), ("journeys/j.yaml", ECHO_JOURNEY)]);
        std::fs::write(p.path("absent.yaml"), "OTHER: x1234\n").expect("write");
        let run = p.run(&["run", "j"], &[]);
        run.expect_code(3).expect_output(shown).expect_output("red");
        let all = run.all();
        for c in ['\u{1b}', '\u{7}', '\u{9b}'] {
            assert!(!all.contains(c), "{reference}: {c:?} reached the terminal");
        }
        assert_eq!(p.api.requests(), 0);
    }
}

#[test]
fn another_secrets_value_in_plugin_text_is_redacted() {
    // The plugin is granted the variable that holds another secret of the run
    // (resolved first, by the env provider), and tries to print it, disguised.
    for reference in [
        "leak:CANARY_KEY:raw",
        "leak:CANARY_KEY:base64",
        "leak:CANARY_KEY:hex",
        "leak:CANARY_KEY:percent",
        "leak-panic:CANARY_KEY:raw",
        "leak-panic:CANARY_KEY:base64",
    ] {
        let config = format!(
            "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    grants: {{env: [CANARY_KEY]}}\nsecrets:\n  CANARY_KEY: {{provider: env}}\n  LEAKY: {{provider: hostile, reference: \"{reference}\"}}\n"
        );
        let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: CANARY_KEY}}\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: LEAKY}}\n";
        let p = project(&[("reqflo.yaml", &config), ("journeys/j.yaml", journey)]);
        let run = p.run(&["run", "j", "-v"], &[("CANARY_KEY", CANARY)]);
        run.expect_code(3)
            .expect_output("provider `hostile`")
            .expect_output("leaking")
            .expect_output("[redacted:CANARY_KEY]");
        assert_absent(&run.all(), CANARY, reference);
        assert_eq!(p.api.requests(), 0);
    }
}

#[test]
fn a_granted_variables_value_in_plugin_text_is_redacted() {
    // PLUGIN_TOKEN is the plugin's own credential: granted to it, named by no
    // journey, so not a secret the run resolves. The plugin prints it anyway.
    for reference in [
        "leak:PLUGIN_TOKEN:raw",
        "leak:PLUGIN_TOKEN:base64",
        "leak:PLUGIN_TOKEN:hex",
        "leak-panic:PLUGIN_TOKEN:percent",
    ] {
        let config = format!(
            "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    grants: {{env: [PLUGIN_TOKEN]}}\nsecrets:\n  LEAKY: {{provider: hostile, reference: \"{reference}\"}}\n"
        );
        let journey = "steps:\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: LEAKY}}\n";
        let p = project(&[("reqflo.yaml", &config), ("journeys/j.yaml", journey)]);
        let run = p.run(
            &["run", "j", "-v", "--report-json", "r.json"],
            &[("PLUGIN_TOKEN", CANARY)],
        );
        run.expect_code(3)
            .expect_output("provider `hostile`")
            .expect_output("leaking")
            .expect_output("[redacted:$PLUGIN_TOKEN]");
        assert_absent(&run.all(), CANARY, reference);
        let report = read_report(&run, &p.path("r.json"));
        assert_hidden(&report, "$PLUGIN_TOKEN", CANARY, reference);
    }
}

/// What the hostile plugin's `stdout:NAME` writes to stdout before the value
/// (its `STDOUT_MARK`): no secret, so only the host discarding the plugin's
/// stdout, not the redactor, can keep it out of reqflo's output.
const PLUGIN_STDOUT_MARK: &str = "hostile-plugin-stdout-line";

#[test]
fn a_plugins_stdout_is_discarded() {
    // The plugin writes a line of its own and the value (raw and in base64)
    // to stdout, then resolves to the value; a write the host refused would
    // fail the resolution, so a resolved secret proves the lines were taken.
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    limits: {timeout_ms: 5000}\n    grants: {env: [PLUGIN_SECRET]}\nsecrets:\n  S: {reference: \"stdout:PLUGIN_SECRET\"}\n";
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: S}}\n    expect:\n      json: {\"$.headers['x-key']\": {exists: true}}\n";
    let p = project(&[("reqflo.yaml", config), ("journeys/j.yaml", journey)]);
    let run = p.run(
        &["run", "j", "-v", "--report-json", "r.json"],
        &[("PLUGIN_SECRET", CANARY)],
    );
    run.expect_code(0);
    // The value reached the API and came back in the echo: `-v` (stderr) and
    // the report show it redacted, so it was there to leak. (stdout has the
    // summary lines only: no value reaches it, and nor may the plugin's.)
    assert_eq!(p.api.requests(), 1);
    let report = read_report(&run, &p.path("r.json"));
    for (text, channel) in [(&run.stderr, "stderr (-v)"), (&report, "r.json")] {
        assert_hidden(text, "S", CANARY, channel);
    }
    for (text, channel) in [
        (&run.stdout, "stdout"),
        (&run.stderr, "stderr"),
        (&report, "r.json"),
    ] {
        assert!(
            !text.contains(PLUGIN_STDOUT_MARK),
            "{channel}: the plugin's stdout reached it:\n{text}"
        );
        assert_absent(text, CANARY, channel);
    }

    // A plugin that writes to stdout and then crashes: the error shows its
    // stderr (the panic message), never what it wrote to stdout.
    let crashing = config.replace("stdout:PLUGIN_SECRET", "stdout-panic:PLUGIN_SECRET");
    let p = project(&[("reqflo.yaml", &crashing), ("journeys/j.yaml", journey)]);
    let run = p.run(
        &["run", "j", "-v", "--report-json", "r.json"],
        &[("PLUGIN_SECRET", CANARY)],
    );
    run.expect_code(3).expect_output(
        "crashed (panic or abort); it printed: hostile provider panics after writing to stdout",
    );
    assert_eq!(p.api.requests(), 0);
    let report = read_report(&run, &p.path("r.json"));
    for (text, channel) in [
        (&run.stdout, "stdout"),
        (&run.stderr, "stderr"),
        (&report, "r.json"),
    ] {
        assert!(
            !text.contains(PLUGIN_STDOUT_MARK),
            "{channel}: the crashed plugin's stdout reached it:\n{text}"
        );
        assert_absent(text, CANARY, channel);
    }
}

#[test]
fn thousands_of_secrets_hit_the_handle_limit() {
    contained(
        "many:5000",
        "timeout_ms: 10000",
        "was stopped: it held more than 1024 secrets at once",
    );
    // The limit is on live handles: creating and dropping as many is fine.
    let p = bad_then_good("churn:5000", "timeout_ms: 10000");
    p.run(&["check", "j", "--resolve"], &[])
        .expect_code(0)
        .expect_output("secret BAD: resolves via hostile")
        .expect_output("secret GOOD: resolves via hostile");
}

#[test]
fn a_dropped_or_forged_handle_is_refused() {
    for reference in ["dropped", "forged"] {
        contained(
            reference,
            "timeout_ms: 5000",
            "a secret handle it does not hold",
        );
    }
}

#[test]
fn a_plugin_that_exits_or_returns_bytes_is_contained() {
    // WASI 0.2 exits with success or failure, no code: any failure is 1.
    contained("exit:7", "timeout_ms: 5000", "exited with status 1");
    contained(
        "bytes",
        "timeout_ms: 5000",
        "returned a value that is not UTF-8 text",
    );
}

#[test]
fn a_plugin_reaches_no_host_it_was_not_granted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let target = listener.local_addr().expect("addr");
    for action in ["http", "http-quiet"] {
        let reference = format!("{action}:http://{target}/");
        contained(
            &reference,
            "timeout_ms: 5000",
            &format!("access denied: tried to reach http://{target}"),
        );
    }
    assert!(listener.accept().is_err(), "the plugin connected");
}

/// A project using `component` as provider `odd` for `S`, and the env
/// provider for `OTHER`.
fn odd_component(component: &str, provider_lines: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\nproviders:\n  odd:\n    plugin: \"{component}\"\n{provider_lines}secrets:\n  S: {{provider: odd, reference: anything}}\n  OTHER: {{provider: env, reference: CANARY_KEY}}\n"
    );
    let journey = "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: S}}\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: OTHER}}\n";
    project(&[("reqflo.yaml", &config), ("journeys/j.yaml", journey)])
}

#[test]
fn a_component_importing_what_reqflo_does_not_provide_is_refused_before_it_runs() {
    // Its configure would call this listener first, if it ever ran.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let target = listener.local_addr().expect("addr");
    let alien = plugin("reqflo_test_alien_import").display().to_string();
    let p = odd_component(
        &alien,
        &format!(
            "    grants: {{hosts: [\"{target}\"]}}\n    config: {{call_home: \"http://{target}/\"}}\n"
        ),
    );
    let expected =
        format!("plugin {alien} (provider `odd`) does not fit reqflo's plugin interface");
    p.run(&["run", "j"], &[("CANARY_KEY", CANARY)])
        .expect_code(3)
        .expect_output(&expected)
        .expect_output("acme:thing/x@1.0.0");
    p.run(&["check", "j", "--resolve"], &[("CANARY_KEY", CANARY)])
        .expect_code(3)
        .expect_output(&format!("secret S: {expected}"))
        .expect_output("secret OTHER: resolves via env");
    assert!(listener.accept().is_err(), "the plugin ran");
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn a_component_built_for_another_wit_version_is_refused_naming_both() {
    let future = plugin("reqflo_test_future_wit").display().to_string();
    let p = odd_component(&future, "");
    let run = p.run(&["run", "j"], &[("CANARY_KEY", CANARY)]);
    run.expect_code(3)
        .expect_output(&format!("plugin {future} (provider `odd`)"))
        .expect_output("it targets reqflo:plugin@0.9.0")
        .expect_output("reqflo supports reqflo:plugin@0.1.0 for secret providers");
    p.run(&["check", "j", "--resolve"], &[("CANARY_KEY", CANARY)])
        .expect_code(3)
        .expect_output("secret S: plugin")
        .expect_output("secret OTHER: resolves via env");
    assert_eq!(p.api.requests(), 0);
}
