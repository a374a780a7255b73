//! `reqflo import curl`: a curl command from API docs becomes a template and
//! a journey in a new project folder, its key a secret by name (never
//! written); the journey passes `check` and runs against the demo API with
//! the key given by name.

use crate::common::{CANARY, assert_absent, reqflo};

#[test]
fn a_curl_command_becomes_a_journey_that_runs_with_its_key_by_name() {
    let api = demo_api::spawn(CANARY).expect("demo api");
    let dir = tempfile::tempdir().expect("tempdir");
    let command = format!(
        "curl -X POST '{}/v1/payments' \\\n  -H 'Authorization: Bearer {CANARY}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"amount\": 1200, \"currency\": \"usd\"}}' -L",
        api.base_url()
    );
    let imported = reqflo(dir.path(), &["import", "curl", &command], &[]);
    imported
        .expect_code(0)
        .expect_output("wrote templates/post-payments.yaml and journeys/post-payments.yaml")
        .expect_output("API_TOKEN")
        .expect_output("from the `Authorization` header")
        .expect_output("`-L`: reqflo does not follow redirects");
    assert_absent(&imported.all(), CANARY, "the import's output");
    let mut written = String::new();
    for file in [
        "reqflo.yaml",
        "templates/post-payments.yaml",
        "journeys/post-payments.yaml",
    ] {
        written.push_str(&std::fs::read_to_string(dir.path().join(file)).expect(file));
    }
    assert_absent(&written, CANARY, "the files written");
    assert!(written.contains("Bearer {{API_TOKEN}}"), "{written}");

    reqflo(dir.path(), &["check", "post-payments"], &[]).expect_code(0);
    let run = reqflo(
        dir.path(),
        &["run", "post-payments", "-v"],
        &[("API_TOKEN", CANARY)],
    );
    run.expect_code(0)
        .expect_output("ok     post-payments POST");
    assert_absent(&run.all(), CANARY, "the run");
    assert!(api.requests() >= 1);

    // Not over what exists, unless asked; bad input is said, nothing written.
    reqflo(dir.path(), &["import", "curl", &command], &[])
        .expect_code(1)
        .expect_output("exists already");
    reqflo(dir.path(), &["import", "curl", &command, "--force"], &[]).expect_code(0);
    reqflo(
        dir.path(),
        &["import", "curl", "curl 'https://h.test", "--name", "bad"],
        &[],
    )
    .expect_code(1)
    .expect_output("an unclosed quote");
    reqflo(
        dir.path(),
        &["import", "curl", "curl -X POST", "--name", "bad"],
        &[],
    )
    .expect_code(1)
    .expect_output("no URL");
    assert!(!dir.path().join("journeys/bad.yaml").exists());
}
