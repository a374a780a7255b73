//! Builds the plugin workspace (`../../plugins`) into WebAssembly components, so
//! the built-in providers can be embedded in the binary and the test plugins
//! are on disk for the integration tests.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A built-in's component is the artifact of the crate `reqflo-plugin-NAME`
/// (a provider) or `reqflo-hook-NAME` (a request hook); which built-ins exist
/// is listed once, in reqflo-core (`plugins::BUILTINS`), and a unit test
/// checks that each one is embedded.
const BUILTIN_PREFIXES: &[&str] = &["reqflo_plugin_", "reqflo_hook_"];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let plugins = manifest_dir.join("../../plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is TARGET/PROFILE/build/reqflo-HASH/out: share TARGET, but use a
    // folder of its own so this nested build never waits on the outer one's lock.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("wasm-plugins"))
        .unwrap_or_else(|| out_dir.join("wasm-plugins"));

    // Watch everything under plugins/ except a target/ folder a hand build left.
    for entry in std::fs::read_dir(&plugins)
        .expect("plugins/ exists")
        .flatten()
    {
        if entry.file_name() != "target" {
            println!("cargo:rerun-if-changed={}", entry.path().display());
        }
    }
    println!("cargo:rerun-if-changed=../../wit");
    println!("cargo:rerun-if-env-changed=REQFLO_PLUGINS_PROFILE");

    // A provider that is also an rlib (for native users such as the fuzz
    // targets) gets no LTO from `cargo build`, which makes its component
    // about a sixth larger; `cargo rustc --crate-type cdylib` builds the
    // component alone, with LTO. The rest build together.
    let dual = dual_crates(&plugins);
    let mut build = plugin_cargo(&plugins, &target_dir, "build");
    build.arg("--workspace");
    for name in &dual {
        build.args(["--exclude", name]);
    }
    // While several plugins are being written at once, a developer can set
    // REQFLO_PLUGINS_KEEP_GOING=1 to build the others and keep the last good
    // artifact of a broken one (with a warning). CI never sets it.
    let keep_going = env::var("REQFLO_PLUGINS_KEEP_GOING").is_ok_and(|v| v == "1");
    if keep_going {
        build.arg("--keep-going");
    }
    println!("cargo:rerun-if-env-changed=REQFLO_PLUGINS_KEEP_GOING");
    let mut ok = run(build);
    for name in &dual {
        let mut component = plugin_cargo(&plugins, &target_dir, "rustc");
        component.args(["-p", name, "--lib", "--crate-type", "cdylib"]);
        ok &= run(component);
    }
    if !ok && keep_going {
        println!("cargo:warning=some plugins failed to build; using their last good artifacts");
    } else if !ok {
        panic!(
            "building the plugins failed; is the wasm32-wasip2 target installed? \
             (rustup target add wasm32-wasip2)"
        );
    }

    let artifacts = target_dir.join("wasm32-wasip2").join("release");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&artifacts)
        .expect("the plugin build wrote its artifacts")
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name().into_string().ok()?;
            let stem = file.strip_suffix(".wasm")?;
            let name = BUILTIN_PREFIXES
                .iter()
                .find_map(|prefix| stem.strip_prefix(prefix))?;
            Some((name.replace('_', "-"), entry.path()))
        })
        .collect();
    found.sort();
    let mut embedded = String::from("/// Built-in plugins and hooks: (name, component bytes).\n");
    embedded.push_str("pub const BUILTIN_COMPONENTS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &found {
        embedded.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    embedded.push_str("];\n");
    std::fs::write(out_dir.join("builtin_components.rs"), embedded).expect("write OUT_DIR file");

    // Integration tests load the test plugins from here.
    println!(
        "cargo:rustc-env=REQFLO_TEST_PLUGIN_DIR={}",
        artifacts.display()
    );
}

/// `cargo SUBCOMMAND --release --target wasm32-wasip2` on the plugin
/// workspace, without the outer build's host flags.
fn plugin_cargo(plugins: &Path, target_dir: &Path, subcommand: &str) -> Command {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            subcommand,
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(plugins);
    // The outer build's flags are for the host, not for wasm.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
    ] {
        command.env_remove(var);
    }
    command
}

fn run(mut command: Command) -> bool {
    command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the plugins: {e}"))
        .success()
}

/// The packages directly under `plugins/` whose library is both a cdylib
/// and an rlib.
fn dual_crates(plugins: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(plugins)
        .expect("plugins/ exists")
        .flatten()
    {
        let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else {
            continue;
        };
        let dual = manifest.lines().any(|line| {
            line.starts_with("crate-type")
                && line.contains("\"cdylib\"")
                && line.contains("\"rlib\"")
        });
        let name = manifest.lines().find_map(|line| {
            let value = line.strip_prefix("name")?.trim_start().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        });
        if let (true, Some(name)) = (dual, name) {
            names.push(name);
        }
    }
    names.sort();
    names
}
