//! The Python env provider (`plugins/python-env`), built from source with
//! componentize-py and wasm-tools from the test virtualenv, once per test
//! binary. Missing tools are a failure that says how to install them, never a
//! skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::Digest;

use super::servers::venv;

/// Set in the build's environment: the component must not carry it.
pub const BUILD_ENV_CANARY: &str = "REQFLO_BUILD_CANARY";

/// A component built for this test binary.
#[derive(Debug)]
pub struct Built {
    /// Where it is, under `target/tmp/`.
    pub path: PathBuf,
    /// Its SHA-256, hex, for a `sha256:` pin.
    pub sha256: String,
}

/// The Python provider, built on first use and compiled into the tests'
/// component cache, so the tests that use it do not all compile it at once.
pub fn python_env_provider() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let built = build();
        warm_cache(&built);
        built
    })
}

fn build() -> Built {
    for tool in ["componentize-py", "wasm-tools"] {
        let path = venv().join("bin").join(tool);
        assert!(
            path.is_file(),
            "{} is missing: run scripts/install-test-servers (it installs componentize-py and wasm-tools into {})",
            path.display(),
            venv().display()
        );
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // One file per process, since test processes may run side by side; the
    // ones earlier runs left (18 MB each) go once they are surely unused.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-env");
    remove_stale(&dir);
    let out = dir.join(format!("provider-{}.wasm", std::process::id()));
    let output = Command::new("bash")
        .arg(root.join("plugins/python-env/build"))
        .arg(&out)
        .env("REQFLO_TEST_VENV", venv())
        .env(BUILD_ENV_CANARY, super::CANARY)
        .output()
        .expect("bash runs plugins/python-env/build");
    assert!(
        output.status.success(),
        "plugins/python-env/build failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&out).expect("the build wrote its component");
    Built {
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        path: out,
    }
}

/// Delete components that earlier runs built, and their compiled code in the
/// tests' component cache (34 MB each), once they are surely unused: every
/// build has another digest, so nothing else would ever remove them.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache");
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(600));
        if !stale || !entry.file_name().to_string_lossy().starts_with("provider-") {
            continue;
        }
        if let Ok(bytes) = std::fs::read(entry.path()) {
            let digest = hex::encode(sha2::Sha256::digest(&bytes));
            for compiled in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
                if compiled.file_name().to_string_lossy().starts_with(&digest) {
                    let _ = std::fs::remove_file(compiled.path());
                }
            }
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

/// Resolve one secret through the component, which compiles it into the cache.
fn warm_cache(built: &Built) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = [
        (
            "reqflo.yaml",
            format!(
                "environments:\n  test:\n    variables: {{base_url: \"http://127.0.0.1:9\"}}\n    secrets: [py]\nproviders:\n  py:\n    plugin: \"{}\"\n    sha256: {}\n    grants: {{env: [WARM]}}\n",
                built.path.display(),
                built.sha256
            ),
        ),
        (
            "templates/t.yaml",
            "method: GET\nurl: \"{{base_url}}/\"\nheaders: {X: \"{{key}}\"}\n".into(),
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: t\n    values: {key: {type: secret, name: WARM}}\n"
                .into(),
        ),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, text).expect("write project file");
    }
    super::reqflo(
        dir.path(),
        &["check", "j", "--resolve"],
        &[("WARM", "warm-value")],
    )
    .expect_code(0)
    .expect_output("secret WARM: resolves via py");
}
