//! Builds the plugin workspace (`../../plugins`) into WebAssembly components, so
//! the built-in providers can be embedded in the binary and the test plugins
//! are on disk for the integration tests.

use std::env;
use std::path::PathBuf;
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

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&plugins);
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
    // While several plugins are being written at once, a developer can set
    // REQFLO_PLUGINS_KEEP_GOING=1 to build the others and keep the last good
    // artifact of a broken one (with a warning). CI never sets it.
    let keep_going = env::var("REQFLO_PLUGINS_KEEP_GOING").is_ok_and(|v| v == "1");
    if keep_going {
        command.arg("--keep-going");
    }
    println!("cargo:rerun-if-env-changed=REQFLO_PLUGINS_KEEP_GOING");
    let status = command.status().unwrap_or_else(|e| {
        panic!("cannot run cargo to build the plugins: {e}");
    });
    if !status.success() && keep_going {
        println!("cargo:warning=some plugins failed to build; using their last good artifacts");
    } else if !status.success() {
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
