//! The web UI in headless Chromium (`browser/ui.mjs`): an admin registers
//! the key, a builder composes a journey in Build mode, runs it and watches
//! it pass, with axe-core
//! on every screen and the canary looked for in every response, cookie and
//! storage. Needs Debian's chromium and the browser folder's npm packages;
//! `.ci/run` installs both and runs it with `--ignored`.

use std::path::Path;

use serde_json::json;

use super::{Server, call, examples};
use crate::common::CANARY;

#[test]
#[ignore = "needs /usr/bin/chromium and runner/cli/tests/it/browser/node_modules (see CONTRIBUTING)"]
fn a_person_registers_a_secret_and_watches_a_run_pass_in_the_browser() {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && browser.join("node_modules/@axe-core/playwright").exists(),
        "install the browser test's parts: apt-get install chromium && npm ci --prefix runner/cli/tests/it/browser"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    // The example, served read-only from a folder.
    let example = examples(dir.path());
    std::fs::write(
        data.join("server.yaml"),
        format!("projects:\n  payments: \"{}\"\n", example.display()),
    )
    .expect("server.yaml");
    let api = demo_api::spawn(CANARY).expect("demo api");
    let server = Server::start(&data);
    let admin = server.admin.clone().expect("admin token");
    let mut seen = Vec::new();
    let (status, builder) = call(
        &server.url,
        "POST",
        "/api/tokens",
        &admin,
        Some(json!({"name": "qa", "role": "builder"})),
        &mut seen,
    );
    assert_eq!(status, 201, "{builder}");
    let builder = builder["token"].as_str().expect("token").to_string();
    // A project with templates and no journey yet, for Build mode.
    let templates = |name: &str| {
        std::fs::read_to_string(example.join(format!("templates/{name}.yaml"))).expect("template")
    };
    let files = json!({"files": {
        "reqflo.yaml": "environments:\n  sandbox:\n    variables: {base_url: \"http://127.0.0.1:8080\"}\n",
        "templates/post-payment.yaml": templates("post-payment"),
        "templates/get-payment.yaml": templates("get-payment"),
    }});
    let (status, answer) = call(
        &server.url,
        "PUT",
        "/api/projects/shop",
        &builder,
        Some(files),
        &mut seen,
    );
    assert_eq!(status, 200, "{answer}");
    let output = std::process::Command::new("node")
        .arg(browser.join("ui.mjs"))
        .args([&server.url, &admin, &builder, CANARY, &api.base_url()])
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "the browser walk failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    assert!(api.requests() >= 2, "the demo API received the run");
    crate::common::assert_absent(&server.log(), CANARY, "the server's log");
}
