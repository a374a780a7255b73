//! Reports: JSON against its published schema, JUnit read by a JUnit parser,
//! HTML self-contained; and the canary matrix: every report format, plus
//! stdout and stderr with `-v`, for passing, failing and erroring runs, with a
//! canary secret and a canary captured token. Zero hits allowed.

mod common;

use std::path::Path;

use common::{CANARY, TestProject, assert_absent, project};

/// The demo API's first payment token: captured with `secret: true`.
fn canary_token() -> String {
    format!("tok_{:016x}", 1u64.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

const ECHO_ALL: &str = "method: POST\nurl: \"{{base_url}}/echo?key={{key}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n  X-Token: \"{{token}}\"\njson:\n  key: \"{{key}}\"\n  token: \"{{token}}\"\n";

/// A journey that sends the canary key and the captured canary token every way
/// and gets them echoed back; `tail` decides how it ends.
fn journey(tail: &str) -> String {
    format!(
        r#"
steps:
  - id: create
    template: post-payment
    values: {{key: {{type: secret, name: CANARY_KEY}}, amount: 5}}
    capture:
      token: {{jsonpath: $.token, secret: true}}
      id: $.id
    expect: {{status: 201}}
  - id: echo
    template: echo-all
    values:
      key: {{type: secret, name: CANARY_KEY}}
      token: {{type: capture, step: create, name: token}}
{tail}"#
    )
}

const PASS: &str = "    expect: {status: 200, json: {\"$.method\": POST}}\n";
const FAIL: &str =
    "    expect:\n      json: {\"$.headers.authorization\": nope, \"$.body\": {exists: false}}\n";
const ERROR: &str =
    "  - id: broken\n    template: dead\n    values: {key: {type: secret, name: CANARY_KEY}}\n";

fn reports_project(tail: &str) -> TestProject {
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dead = format!("method: GET\nurl: \"http://127.0.0.1:{dead_port}/x?k={{{{key}}}}\"\n");
    let journey = journey(tail);
    project(&[
        ("templates/echo-all.yaml", ECHO_ALL),
        ("templates/dead.yaml", &dead),
        ("journeys/j.yaml", &journey),
    ])
}

fn run_with_reports(p: &TestProject, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "run",
        "j",
        "-v",
        "--report-json",
        "out/report.json",
        "--report-junit",
        "out/junit.xml",
        "--report-html",
        "out/html",
    ];
    args.extend_from_slice(extra);
    p.run(&args, &[("CANARY_KEY", CANARY)])
}

fn read(p: &TestProject, name: &str) -> String {
    std::fs::read_to_string(p.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_clean(p: &TestProject, run: &common::Run, what: &str) {
    let token = canary_token();
    for (channel, text) in [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        ("json", read(p, "out/report.json")),
        ("junit", read(p, "out/junit.xml")),
        ("html", read(p, "out/html/index.html")),
    ] {
        assert_absent(&text, CANARY, &format!("{what} run, {channel}"));
        assert_absent(
            &text,
            &token,
            &format!("{what} run, {channel} (captured token)"),
        );
    }
}

#[test]
fn the_canary_matrix_has_zero_hits() {
    for (what, tail, code) in [
        ("passing", PASS, 0),
        ("failing", FAIL, 4),
        ("erroring", ERROR, 3),
    ] {
        let p = reports_project(tail);
        let run = run_with_reports(&p, &[]);
        run.expect_code(code);
        assert!(p.api.requests() >= 2, "{what}: the secret really was sent");
        assert_clean(&p, &run, what);
        let json = read(&p, "out/report.json");
        assert!(
            json.contains("[redacted:CANARY_KEY]"),
            "{what}: the key was in the report, redacted"
        );
        assert!(
            json.contains("[redacted:token]"),
            "{what}: the token was in the report, redacted"
        );
    }
}

#[test]
fn a_run_that_cannot_resolve_still_writes_clean_reports() {
    let p = reports_project(PASS);
    let run = p.run(
        &[
            "run",
            "j",
            "--report-json",
            "out/report.json",
            "--report-junit",
            "out/junit.xml",
            "--report-html",
            "out/html",
        ],
        &[],
    );
    run.expect_code(3)
        .expect_output("secret `CANARY_KEY` not found");
    let json: serde_json::Value = serde_json::from_str(&read(&p, "out/report.json")).expect("json");
    assert_eq!(json["outcome"], "error");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("not found"))
    );
    let junit =
        junit_parser::from_reader(std::io::Cursor::new(read(&p, "out/junit.xml"))).expect("junit");
    assert_eq!(junit.errors, 1);
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn the_json_report_follows_the_published_schema() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema"))
            .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    for (tail, outcome) in [(PASS, "passed"), (FAIL, "failed"), (ERROR, "error")] {
        let p = reports_project(tail);
        run_with_reports(&p, &[]);
        let report: serde_json::Value =
            serde_json::from_str(&read(&p, "out/report.json")).expect("json");
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "schema violations: {errors:#?}");
        assert_eq!(report["outcome"], outcome);
        let steps = report["journeys"][0]["steps"].as_array().expect("steps");
        assert_eq!(steps[0]["captures"][0]["value"], "[redacted:token]");
        assert_eq!(steps[0]["captures"][1]["value"], "pay_0001");
        assert_eq!(steps[0]["response"]["status"], 201);
    }
    // A failed expectation records expected and actual.
    let p = reports_project(FAIL);
    run_with_reports(&p, &[]);
    let report: serde_json::Value =
        serde_json::from_str(&read(&p, "out/report.json")).expect("json");
    let failed = &report["journeys"][0]["steps"][1]["expectations"][0];
    assert_eq!(failed["passed"], false);
    assert_eq!(failed["expected"], "\"nope\"");
    assert_eq!(failed["actual"], "\"Bearer [redacted:CANARY_KEY]\"");
}

#[test]
fn the_junit_report_is_read_by_a_junit_parser() {
    let p = reports_project(FAIL);
    run_with_reports(&p, &[]).expect_code(4);
    let junit =
        junit_parser::from_reader(std::io::Cursor::new(read(&p, "out/junit.xml"))).expect("junit");
    assert_eq!(
        (junit.tests, junit.failures, junit.errors, junit.skipped),
        (2, 1, 0, 0)
    );
    let suite = &junit.suites[0];
    assert_eq!(suite.name, "j (test)");
    assert_eq!(suite.cases[0].original_name, "create");
    assert_eq!(suite.cases[0].classname.as_deref(), Some("j"));
    assert!(suite.cases[0].status.is_success());
    match &suite.cases[1].status {
        junit_parser::TestStatus::Failure(f) => {
            assert!(
                f.message
                    .contains("$.headers.authorization: expected \"nope\""),
                "{}",
                f.message
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }

    let p = reports_project(ERROR);
    run_with_reports(&p, &[]).expect_code(3);
    let junit =
        junit_parser::from_reader(std::io::Cursor::new(read(&p, "out/junit.xml"))).expect("junit");
    assert_eq!(
        (junit.tests, junit.failures, junit.errors, junit.skipped),
        (3, 0, 1, 0)
    );
}

#[test]
fn the_html_report_is_one_self_contained_page() {
    let p = reports_project(FAIL);
    run_with_reports(&p, &[]).expect_code(4);
    let html = read(&p, "out/html/index.html");
    for needle in [
        "<details class=\"step failed\" id=\"step-echo\"",
        "<details class=\"step passed\" id=\"step-create\"",
        "Expectations",
        "[redacted:CANARY_KEY]",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    // No network fetches: no external scripts, styles, images or fonts.
    for forbidden in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(
            !html.contains(forbidden),
            "external reference {forbidden:?}"
        );
    }
    // The only file written is index.html.
    let files: Vec<_> = std::fs::read_dir(p.path("out/html"))
        .expect("dir")
        .collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn quiet_prints_only_the_summary() {
    let p = reports_project(PASS);
    let run = p.run(&["run", "j", "--quiet"], &[("CANARY_KEY", CANARY)]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run.stdout.starts_with("j passed: 2 of 2 steps ok"));
}

/// Needs Debian's chromium and `npm ci --prefix runner/tests/browser`;
/// `.ci/run` installs both and runs this with `--include-ignored`.
#[test]
#[ignore = "needs /usr/bin/chromium and runner/tests/browser/node_modules (see README)"]
fn the_html_report_expands_in_headless_chromium() {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && browser.join("node_modules/playwright-core").exists(),
        "install the browser test's parts: apt-get install chromium && npm ci --prefix runner/tests/browser"
    );
    let p = reports_project(FAIL);
    run_with_reports(&p, &[]).expect_code(4);
    let mut args = vec![
        browser.join("expand.mjs").display().to_string(),
        p.path("out/html/index.html").display().to_string(),
    ];
    if let Some(shot) = std::env::var_os("REQFLO_REPORT_SCREENSHOT") {
        args.push(shot.to_string_lossy().into_owned());
    }
    let output = std::process::Command::new("node")
        .args(&args)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "browser check failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn several_journeys_share_one_report() {
    let ok = "steps:\n  - id: one\n    template: status\n    values: {code: 200}\n    expect: {status: 200}\n";
    let p = project(&[("journeys/a.yaml", ok), ("journeys/b.yaml", ok)]);
    p.run(
        &[
            "run",
            "--all",
            "--report-json",
            "r.json",
            "--report-junit",
            "j.xml",
        ],
        &[],
    )
    .expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&read(&p, "r.json")).expect("json");
    let names: Vec<&str> = report["journeys"]
        .as_array()
        .expect("journeys")
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let junit = junit_parser::from_reader(std::io::Cursor::new(read(&p, "j.xml"))).expect("junit");
    assert_eq!((junit.suites.len(), junit.tests), (2, 2));
}
