//! Builds the plugin workspace (`../../plugins`) into WebAssembly components, so
//! the built-in providers can be embedded in the binary and the test plugins
//! are on disk for the integration tests.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Built-in plugins embedded in the binary: (provider name, crate's artifact).
const BUILTINS: &[(&str, &str)] = &[
    ("env", "reqflo_plugin_env"),
    ("file", "reqflo_plugin_file"),
    ("onepassword", "reqflo_plugin_onepassword"),
    ("vault", "reqflo_plugin_vault"),
    ("aws", "reqflo_plugin_aws"),
    ("gcp", "reqflo_plugin_gcp"),
    ("azure", "reqflo_plugin_azure"),
];

/// Built-in request hooks embedded in the binary: (hook name, crate's artifact).
const BUILTIN_HOOKS: &[(&str, &str)] = &[
    ("hmac-signature", "reqflo_hook_hmac_signature"),
    ("oauth2", "reqflo_hook_oauth2"),
];

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
    let mut embedded = String::from("/// Built-in plugins: (name, component bytes).\n");
    embedded.push_str("pub const BUILTIN_PLUGINS: &[(&str, &[u8])] = &[\n");
    for (name, artifact) in BUILTINS {
        let path = artifacts.join(format!("{artifact}.wasm"));
        assert!(path.is_file(), "missing plugin artifact {}", path.display());
        embedded.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    embedded.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), embedded).expect("write OUT_DIR file");

    let mut hooks = String::from("/// Built-in request hooks: (name, component bytes).\n");
    hooks.push_str("pub const BUILTIN_HOOKS: &[(&str, &[u8])] = &[\n");
    for (name, artifact) in BUILTIN_HOOKS {
        let path = artifacts.join(format!("{artifact}.wasm"));
        if !path.is_file() && keep_going {
            // Only while developing: the binary then says the hook is missing.
            println!("cargo:warning=built-in hook {name} is not built; it is left out");
            continue;
        }
        assert!(path.is_file(), "missing hook artifact {}", path.display());
        hooks.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    hooks.push_str("];\n");
    std::fs::write(out_dir.join("builtin_hooks.rs"), hooks).expect("write OUT_DIR file");

    // Integration tests load the test plugins from here.
    println!(
        "cargo:rustc-env=REQFLO_TEST_PLUGIN_DIR={}",
        artifacts.display()
    );
}
