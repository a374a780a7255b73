//! Writing your own provider: `reqflo plugin new` scaffolds a crate that
//! builds into a component and passes its own test; the component resolves
//! a secret in a journey by path with a `sha256:` pin; `reqflo plugin
//! inspect` describes components and refuses what is not one.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{CANARY, assert_absent, plugin, project, reqflo};
use sha2::Digest;

/// Where scaffolds are built, so their dependencies are compiled once.
fn scaffold_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/scaffold-build")
}

/// Run cargo in `dir` as a provider author would, with the build shared.
fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new("cargo");
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scaffold_target());
    // The outer build's settings are for this repository, not the scaffold;
    // without RUSTUP_TOOLCHAIN, the scaffold's rust-toolchain.toml decides.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTUP_TOOLCHAIN",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
    ] {
        command.env_remove(var);
    }
    match command.output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run cargo: {e}"),
    }
}

fn expect_success(what: &str, output: &std::process::Output) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

const PAYMENT_JOURNEY: &str = "steps:\n  - id: pay\n    template: post-payment\n    values:\n      key: {type: secret, name: PAYMENTS_API_KEY}\n      amount: 1000\n    expect: {status: 201}\n";

fn project_config(wasm: &str, pin: &str) -> String {
    format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [acme]\nproviders:\n  acme:\n    plugin: {wasm}\n    sha256: \"sha256:{pin}\"\n    config: {{prefix: ACME_}}\n    grants:\n      env: [ACME_PAYMENTS_KEY]\nsecrets:\n  PAYMENTS_API_KEY:\n    reference: PAYMENTS_KEY\n"
    )
}

#[test]
fn a_scaffold_builds_passes_its_test_and_resolves_a_secret_in_a_journey() {
    let work = tempfile::tempdir().expect("temp dir");
    let new = reqflo(work.path(), &["plugin", "new", "acme-env"], &[]);
    new.expect_code(0)
        .expect_output("created provider crate `acme-env`")
        .expect_output("cargo build --release --target wasm32-wasip2")
        .expect_output("target/wasm32-wasip2/release/acme_env.wasm");
    let crate_dir = work.path().join("acme-env");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        "README.md",
        "src/lib.rs",
    ] {
        assert!(crate_dir.join(file).is_file(), "missing {file}");
    }

    // The one documented build command, then the crate's own test.
    expect_success(
        "cargo build",
        &cargo(
            &crate_dir,
            &["build", "--release", "--target", "wasm32-wasip2"],
        ),
    );
    let tested = expect_success("cargo test", &cargo(&crate_dir, &["test"]));
    assert!(tested.contains("1 passed"), "{tested}");
    // It depends on the SDK (this checkout's), not on a copy of it.
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("reqflo-plugin-sdk = { version = \"0.1.0\", path = "),
        "{manifest}"
    );
    assert!(!crate_dir.join("reqflo-plugin-sdk").exists());
    // The provider is its config type and its lookup: about 20 lines of Rust
    // beside its comments and its test.
    let source = std::fs::read_to_string(crate_dir.join("src/lib.rs")).expect("lib.rs");
    let provider = source.split("#[cfg(test)]").next().unwrap_or_default();
    let code = provider
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count();
    assert!(code <= 22, "{code} lines of Rust:\n{provider}");

    let built = scaffold_target().join("wasm32-wasip2/release/acme_env.wasm");
    let bytes = std::fs::read(&built).expect("the component was built");
    let digest = sha256_hex(&bytes);

    // Inspect it: a provider of the released world, asking only for the
    // environment, with the digest to pin.
    let built_path = built.display().to_string();
    let inspected = reqflo(work.path(), &["plugin", "inspect", &built_path], &[]);
    inspected
        .expect_code(0)
        .expect_output(&format!("sha256   {digest}"))
        .expect_output("world    secret-provider of reqflo:plugin@0.1.0")
        .expect_output("loads    yes")
        .expect_output("reqflo:plugin/provider@0.1.0: configure, resolve")
        .expect_output("wasi:cli/environment");
    assert!(
        !inspected.stdout.contains("REFUSED"),
        "{}",
        inspected.stdout
    );

    // It keeps the providers' contract.
    let contract = reqflo(
        work.path(),
        &[
            "plugin",
            "test",
            &built_path,
            "--config",
            "prefix=ACME_",
            "--grant-env",
            "ACME_PAYMENTS_KEY",
            "--reference",
            "PAYMENTS_KEY",
            "--missing",
            "NOPE",
        ],
        &[("ACME_PAYMENTS_KEY", CANARY)],
    );
    contract
        .expect_code(0)
        .expect_output(&format!("resolves `PAYMENTS_KEY`: {} bytes", CANARY.len()))
        .expect_output("ok    `NOPE` is not-found")
        .expect_output("8 passed, 0 failed, 1 skipped");
    assert_absent(&contract.all(), CANARY, "plugin test of the scaffold");

    // Used by path with a pin: the secret reaches the server (which answers
    // 201 only to the right bearer key) and never the output.
    let config = project_config("./plugins/acme.wasm", &digest);
    let p = project(&[
        ("reqflo.yaml", &config),
        ("journeys/pay.yaml", PAYMENT_JOURNEY),
    ]);
    std::fs::create_dir_all(p.path("plugins")).expect("mkdir");
    std::fs::write(p.path("plugins/acme.wasm"), &bytes).expect("copy component");
    let run = p.run(&["run", "pay", "-v"], &[("ACME_PAYMENTS_KEY", CANARY)]);
    run.expect_code(0).expect_output("pay passed");
    assert_eq!(p.api.requests(), 1);
    assert_absent(
        &run.all(),
        CANARY,
        "a journey through the scaffolded provider",
    );

    // Without the variable: not found, said plainly, and nothing is sent.
    let unset = p.run(&["run", "pay"], &[("OTHER", CANARY)]);
    unset
        .expect_code(3)
        .expect_output("ACME_PAYMENTS_KEY is not set; list it under this provider's grants.env");
    assert_eq!(p.api.requests(), 1, "nothing is sent without the secret");
    assert_absent(&unset.all(), CANARY, "an unset variable");

    // A changed file with a stale pin is refused before anything is sent.
    let mut changed = bytes.clone();
    changed.extend_from_slice(b"\0");
    std::fs::write(p.path("plugins/acme.wasm"), &changed).expect("change component");
    let stale = p.run(&["run", "pay"], &[("ACME_PAYMENTS_KEY", CANARY)]);
    stale
        .expect_code(3)
        .expect_output("does not match its sha256 pin")
        .expect_output(&digest);
    assert_eq!(p.api.requests(), 1);
    assert_absent(&stale.all(), CANARY, "a stale pin");

    // `check` hashes the file too: it refuses the stale pin (a configuration
    // error, exit 1) naming the provider, both digests and the pin's line.
    let changed_digest = sha256_hex(&changed);
    let checked = p.run(&["check", "pay"], &[("ACME_PAYMENTS_KEY", CANARY)]);
    checked
        .expect_code(1)
        .expect_output("provider `acme` does not match its sha256 pin")
        .expect_output(&digest)
        .expect_output(&changed_digest)
        .expect_output("reqflo.yaml:");
    assert_eq!(p.api.requests(), 1, "check sends nothing");
}

#[test]
fn plugin_test_passes_a_good_provider_and_names_what_a_bad_one_breaks() {
    let work = tempfile::tempdir().expect("temp dir");
    let good = reqflo(
        work.path(),
        &[
            "plugin",
            "test",
            "builtin:env",
            "--grant-env",
            "MY_KEY",
            "--reference",
            "MY_KEY",
            "--missing",
            "NOT_SET_ANYWHERE",
        ],
        &[("MY_KEY", CANARY)],
    );
    good.expect_code(0)
        .expect_output("ok    configure refuses an unknown key: invalid-reference")
        .expect_output("ok    `NOT_SET_ANYWHERE` is not-found")
        .expect_output("skip  an unreachable server is not not-found")
        .expect_output("8 passed, 0 failed, 1 skipped");
    assert_absent(&good.all(), CANARY, "plugin test of builtin:env");

    // builtin:file, handed its secret file as `run` hands it.
    std::fs::write(
        work.path().join("secrets.yaml"),
        format!("stripe:\n  api_key: \"{CANARY}\"\n"),
    )
    .expect("secret file");
    let file = reqflo(
        work.path(),
        &[
            "plugin",
            "test",
            "builtin:file",
            "--config",
            "path=secrets.yaml",
            "--secret-file",
            "secrets.yaml",
            "--reference",
            "stripe.api_key",
            "--missing",
            "stripe.nope",
        ],
        &[],
    );
    file.expect_code(0)
        .expect_output("8 passed, 0 failed, 1 skipped");
    assert_absent(&file.all(), CANARY, "plugin test of builtin:file");

    // The hostile provider takes any config, calls a leak of its credential
    // "unavailable", and traps on `panic`: each is named, none shows the value.
    let hostile = plugin("reqflo_test_hostile").display().to_string();
    let bad = reqflo(
        work.path(),
        &[
            "plugin",
            "test",
            &hostile,
            "--grant-env",
            "MY_KEY",
            "--reference",
            "env:MY_KEY",
            "--missing",
            "leak:MY_KEY:base64",
        ],
        &[("MY_KEY", CANARY)],
    );
    bad.expect_code(4)
        .expect_output("FAIL  configure refuses an unknown key: it accepted")
        .expect_output("ok    resolves `env:MY_KEY`")
        .expect_output("FAIL  `leak:MY_KEY:base64` is not-found: unavailable")
        .expect_output("FAIL  no message holds the value or a granted credential: 1 message(s) did")
        .expect_output("failed");
    assert_absent(&bad.all(), CANARY, "plugin test of a leaking provider");

    // --grant-file lends it a file, as grants.files does; its text is
    // redacted like a granted variable's.
    std::fs::write(work.path().join("token"), CANARY).expect("token file");
    let token = work.path().join("token").display().to_string();
    let reference = format!("file:{token}");
    let granted = reqflo(
        work.path(),
        &[
            "plugin",
            "test",
            &hostile,
            "--grant-file",
            "token",
            "--reference",
            &reference,
        ],
        &[],
    );
    granted.expect_code(4).expect_output(&format!(
        "ok    resolves `{reference}`: {} bytes",
        CANARY.len()
    ));
    assert_absent(&granted.all(), CANARY, "plugin test with a granted file");

    // A provider that takes most of its time budget fails the limits check.
    let slow = reqflo(
        work.path(),
        &[
            "plugin",
            "test",
            &hostile,
            "--reference",
            "sleep",
            "--timeout-ms",
            "300",
        ],
        &[],
    );
    slow.expect_code(4)
        .expect_output("FAIL  within its limits: slowest call");

    // What is not a provider, or not there, is a usage error.
    reqflo(
        work.path(),
        &["plugin", "test", "builtin:nope", "--reference", "x"],
        &[],
    )
    .expect_code(1)
    .expect_output("there is no built-in plugin `nope`");
    reqflo(
        work.path(),
        &[
            "plugin",
            "test",
            "builtin:env",
            "--reference",
            "x",
            "--config",
            "novalue",
        ],
        &[],
    )
    .expect_code(1)
    .expect_output("--config novalue: write KEY=VALUE");
}

#[test]
fn inspect_describes_the_built_in_components() {
    let work = tempfile::tempdir().expect("temp dir");
    for (name, artifact) in [
        ("env", "reqflo_plugin_env"),
        ("vault", "reqflo_plugin_vault"),
    ] {
        let path = plugin(artifact);
        let digest = sha256_hex(&std::fs::read(&path).expect("built-in component"));
        let by_path = reqflo(
            work.path(),
            &["plugin", "inspect", &path.display().to_string()],
            &[],
        );
        by_path
            .expect_code(0)
            .expect_output(&format!("sha256   {digest}"))
            .expect_output(&format!("pin      sha256: \"{digest}\""))
            .expect_output("world    secret-provider of reqflo:plugin@0.1.0")
            .expect_output("loads    yes")
            .expect_output("reqflo:plugin/secrets@0.1.0");
        let builtin = format!("builtin:{name}");
        reqflo(work.path(), &["plugins", "inspect", &builtin], &[])
            .expect_code(0)
            .expect_output(&format!("plugin   {builtin}"))
            .expect_output(&format!("sha256   {digest}"));
    }
    // The networked providers ask for wasi:http, which reqflo bounds by grants.
    reqflo(work.path(), &["plugin", "inspect", "builtin:vault"], &[])
        .expect_code(0)
        .expect_output("wasi:http/outgoing-handler")
        .expect_output("HTTP requests: only to its grants.hosts");
}

#[test]
fn inspect_describes_hooks_as_hooks() {
    let work = tempfile::tempdir().expect("temp dir");
    for (name, artifact) in [
        ("hmac-signature", "reqflo_hook_hmac_signature"),
        ("oauth2", "reqflo_hook_oauth2"),
    ] {
        let digest = sha256_hex(&std::fs::read(plugin(artifact)).expect("built-in hook"));
        reqflo(
            work.path(),
            &["plugin", "inspect", &format!("builtin:{name}")],
            &[],
        )
        .expect_code(0)
        .expect_output(&format!("sha256   {digest}"))
        .expect_output("(under the hook in reqflo.yaml)")
        .expect_output("world    request-hook of reqflo:plugin@0.2.0")
        .expect_output("loads    yes: reqflo can use it as a request hook")
        .expect_output("reqflo:plugin/hook@0.2.0: configure, on-request")
        .expect_output("environment variables: a hook gets none");
    }
    // A hook that imports wasi:http is checked against the hook linker,
    // which has none: refused, and inspect says so.
    let net = plugin("reqflo_test_hostile_hook_net").display().to_string();
    reqflo(work.path(), &["plugin", "inspect", &net], &[])
        .expect_code(0)
        .expect_output("world    request-hook of reqflo:plugin@0.2.0")
        .expect_output("loads    no:")
        .expect_output("does not fit reqflo's hook interface")
        .expect_output("REFUSED: hooks get no wasi:http");
    reqflo(work.path(), &["plugin", "inspect", "builtin:oauth3"], &[])
        .expect_code(1)
        .expect_output("hooks: hmac-signature, oauth2");
}

/// The README's own hook (`plugins/examples/bearer-hook`), used by path with
/// a pin: the demo API answers 201 only when the key it places is right.
#[test]
fn the_readme_hook_example_places_its_secret_and_nothing_leaks() {
    let component = plugin("reqflo_example_bearer_hook");
    let digest = sha256_hex(&std::fs::read(&component).expect("example hook built"));
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    hooks: [bearer]\n\
         hooks:\n  bearer:\n    plugin: \"{}\"\n    sha256: \"{digest}\"\n    secrets: [PAYMENTS_API_KEY]\n",
        component.display()
    );
    let template =
        "method: POST\nurl: \"{{base_url}}/v1/payments\"\njson: {amount: 5, currency: usd}\n";
    let journey = "steps:\n  - {id: pay, template: bare-payment, expect: {status: 201}}\n";
    let p = project(&[
        ("reqflo.yaml", &config),
        ("templates/bare-payment.yaml", template),
        ("journeys/pay.yaml", journey),
    ]);
    let run = p.run(&["run", "pay", "-v"], &[("PAYMENTS_API_KEY", CANARY)]);
    run.expect_code(0)
        .expect_output("authorization: Bearer [redacted:PAYMENTS_API_KEY]");
    assert_eq!(p.api.requests(), 1);
    assert_absent(&run.all(), CANARY, "the README's hook");

    // The wrong key placed the same way: the server refuses it.
    let wrong = p.run(&["run", "pay"], &[("PAYMENTS_API_KEY", "not-the-key")]);
    wrong.expect_code(4).expect_output("401");

    // Its own config check: exit 1 at the hook's entry.
    let bad = config.replace("    secrets:", "    config: {headr: X-Key}\n    secrets:");
    std::fs::write(
        p.path("reqflo.yaml"),
        bad.replace("@BASE@", "http://127.0.0.1:9"),
    )
    .expect("write reqflo.yaml");
    p.run(&["run", "pay"], &[("PAYMENTS_API_KEY", CANARY)])
        .expect_code(1)
        .expect_output("refused its configuration")
        .expect_output("unknown config `headr`");
}

#[test]
fn inspect_flags_a_component_that_imports_sockets() {
    let work = tempfile::tempdir().expect("temp dir");
    let sockets = plugin("reqflo_test_sockets").display().to_string();
    let run = reqflo(work.path(), &["plugin", "inspect", &sockets], &[]);
    run.expect_code(0)
        .expect_output("wasi:sockets/")
        .expect_output("REFUSED: reqflo links no wasi:sockets")
        .expect_output("loads    no:");
}

#[test]
fn inspect_refuses_what_is_not_a_component() {
    let work = tempfile::tempdir().expect("temp dir");
    let component = std::fs::read(plugin("reqflo_plugin_env")).expect("env component");
    // Cut inside a section. (A cut that falls between sections leaves a
    // valid component that exports nothing; inspect then says it won't load.)
    std::fs::write(
        work.path().join("truncated.wasm"),
        &component[..component.len() / 2],
    )
    .expect("write");
    std::fs::write(work.path().join("notes.txt"), "not wasm at all\n").expect("write");
    // A core module: the 8-byte header of version 1, and nothing else.
    std::fs::write(work.path().join("core.wasm"), b"\0asm\x01\0\0\0").expect("write");
    let cases = [
        (
            "truncated.wasm",
            "truncated.wasm is not a valid WebAssembly component",
        ),
        ("notes.txt", "notes.txt is not a WebAssembly file"),
        (
            "core.wasm",
            "core.wasm is a core WebAssembly module, not a component",
        ),
        ("missing.wasm", "cannot read missing.wasm"),
        ("builtin:nope", "there is no built-in plugin `nope`"),
    ];
    for (file, message) in cases {
        let run = reqflo(work.path(), &["plugin", "inspect", file], &[]);
        run.expect_code(1).expect_output(message);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn plugin_new_refuses_bad_names_and_folders_in_use() {
    let work = tempfile::tempdir().expect("temp dir");
    for name in ["Acme", "1acme", "acme/x", "acme-", "std", "a b", ""] {
        let run = reqflo(work.path(), &["plugin", "new", name], &[]);
        run.expect_code(1)
            .expect_output("cannot name a provider crate");
    }
    assert_eq!(
        std::fs::read_dir(work.path())
            .expect("read")
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name() != ".home"))
            .count(),
        0,
        "a refused name writes nothing"
    );

    let used = work.path().join("used");
    std::fs::create_dir_all(&used).expect("mkdir");
    std::fs::write(used.join("keep.txt"), "mine").expect("write");
    reqflo(
        work.path(),
        &["plugin", "new", "acme", "--dir", "used"],
        &[],
    )
    .expect_code(1)
    .expect_output("exists and is not empty");
    assert_eq!(
        std::fs::read_to_string(used.join("keep.txt")).expect("read"),
        "mine"
    );
    assert!(!used.join("Cargo.toml").exists());
    std::fs::write(work.path().join("a-file"), "x").expect("write");
    reqflo(
        work.path(),
        &["plugin", "new", "acme", "--dir", "a-file"],
        &[],
    )
    .expect_code(1)
    .expect_output("exists and is a file");

    // An empty folder is fine.
    std::fs::create_dir_all(work.path().join("empty")).expect("mkdir");
    reqflo(
        work.path(),
        &["plugin", "new", "acme", "--dir", "empty"],
        &[],
    )
    .expect_code(0)
    .expect_output("cd empty");
    assert!(work.path().join("empty/src/lib.rs").is_file());
}

#[test]
fn plugin_is_an_alias_of_plugins() {
    let work = tempfile::tempdir().expect("temp dir");
    let help = reqflo(work.path(), &["plugin", "--help"], &[]);
    help.expect_code(0)
        .expect_output("new")
        .expect_output("inspect");
    let top = reqflo(work.path(), &["--help"], &[]);
    top.expect_code(0).expect_output("plugin");
}
