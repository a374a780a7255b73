//! Reports: JSON against its published schema, JUnit read by a JUnit parser,
//! HTML self-contained; and the canary matrix: every report format, plus
//! stdout and stderr with `-v`, for passing, failing and erroring runs, with a
//! canary secret and a canary captured token. Zero hits allowed, and each
//! channel must show both secrets reached it, as their `[redacted:NAME]`
//! markers. Every report a test reads must exist: reqflo deletes a report that
//! held a secret, so a missing one is a leak, not a clean report.

use crate::common;

use std::path::Path;

use common::{CANARY, RefusedPort, Run, TestProject, assert_hidden, project, read_report};

/// The demo API's first payment token: captured with `secret: true`.
fn canary_token() -> String {
    format!("tok_{:016x}", 1u64.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

const ECHO_ALL: &str = "method: POST\nurl: \"{{base_url}}/echo?key={{key}}&token={{token}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n  X-Token: \"{{token}}\"\njson:\n  key: \"{{key}}\"\n  token: \"{{token}}\"\n";

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

/// A project whose journey `j` ends with `tail`, and the port its `dead`
/// template sends to: it refuses connections for as long as it is held.
fn reports_project(tail: &str) -> (TestProject, RefusedPort) {
    let dead_port = common::refused_port();
    let dead = format!(
        "method: GET\nurl: \"http://127.0.0.1:{}/x?k={{{{key}}}}\"\n",
        dead_port.port
    );
    let journey = journey(tail);
    let p = project(&[
        ("templates/echo-all.yaml", ECHO_ALL),
        ("templates/dead.yaml", &dead),
        ("journeys/j.yaml", &journey),
    ]);
    (p, dead_port)
}

fn run_with_reports(p: &TestProject, extra: &[&str]) -> Run {
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

/// The report `run` must have written at `name` in `p`.
fn written(p: &TestProject, run: &Run, name: &str) -> String {
    read_report(run, &p.path(name))
}

/// Every channel of a `-v` run with all three reports holds both markers
/// and no form of either value: the step lines (the echo step's URL carries
/// both), the dumps, and each report.
fn assert_clean(p: &TestProject, run: &Run, what: &str) {
    let token = canary_token();
    for (channel, text) in [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        ("json", written(p, run, "out/report.json")),
        ("junit", written(p, run, "out/junit.xml")),
        ("html", written(p, run, "out/html/index.html")),
    ] {
        assert_hidden(
            &text,
            "CANARY_KEY",
            CANARY,
            &format!("{what} run, {channel}"),
        );
        assert_hidden(
            &text,
            "token",
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
        let (p, _dead) = reports_project(tail);
        let run = run_with_reports(&p, &[]);
        run.expect_code(code);
        // Both requests reached the demo API (the third, erroring one goes to
        // a refused port), and the first got a 201: the API accepted the key,
        // so it got exactly the canary.
        assert_eq!(p.api.requests(), 2, "{what}: the secret really was sent");
        let json: serde_json::Value =
            serde_json::from_str(&written(&p, &run, "out/report.json")).expect("json");
        assert_eq!(
            json["journeys"][0]["steps"][0]["response"]["status"], 201,
            "{what}: the demo API accepted the canary key"
        );
        assert_clean(&p, &run, what);
    }
}

#[test]
fn a_passing_verbose_runs_junit_report_shows_markers_not_values() {
    // `-v` dumps go to stderr only: the JUnit writer records each step's
    // request line and status (and problems, of which a passing run has
    // none). The echo step's URL carries both secrets there.
    let (p, _dead) = reports_project(PASS);
    let run = run_with_reports(&p, &[]);
    run.expect_code(0);
    let text = written(&p, &run, "out/junit.xml");
    assert_hidden(&text, "CANARY_KEY", CANARY, "junit");
    assert_hidden(&text, "token", &canary_token(), "junit (captured token)");
    let junit = junit_parser::from_reader(std::io::Cursor::new(&text)).expect("junit");
    assert_eq!(
        (junit.tests, junit.failures, junit.errors, junit.skipped),
        (2, 0, 0, 0)
    );
    let cases = &junit.suites[0].cases;
    assert!(cases.iter().all(|c| c.status.is_success()), "{text}");
    let echo = cases
        .iter()
        .find(|c| c.original_name == "echo")
        .expect("the echo step's case");
    let out = echo
        .system_out
        .as_deref()
        .expect("the echo step's system-out");
    assert!(
        out.starts_with("POST http://127.0.0.1:")
            && out.contains("/echo?key=[redacted:CANARY_KEY]")
            && out.contains("token=[redacted:token]"),
        "{out}"
    );
    // The same line as written (junit-parser drops entity references such
    // as `&amp;` from the text it returns).
    assert!(
        text.contains(
            "/echo?key=[redacted:CANARY_KEY]&amp;token=[redacted:token] -&gt; 200</system-out>"
        ),
        "{text}"
    );
}

#[test]
fn a_run_that_cannot_resolve_still_writes_clean_reports() {
    let (p, _dead) = reports_project(PASS);
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
    // No value was ever resolved (so there is no marker to look for): the
    // reports must exist and say why the run stopped.
    let json: serde_json::Value =
        serde_json::from_str(&written(&p, &run, "out/report.json")).expect("json");
    assert_eq!(json["outcome"], "error");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("not found"))
    );
    let junit = junit_parser::from_reader(std::io::Cursor::new(written(&p, &run, "out/junit.xml")))
        .expect("junit");
    assert_eq!(junit.errors, 1);
    let html = written(&p, &run, "out/html/index.html");
    assert!(html.contains("not found"), "the HTML says why");
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn the_json_report_follows_the_published_schema() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema"))
            .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    for (tail, outcome, code) in [
        (PASS, "passed", 0),
        (FAIL, "failed", 4),
        (ERROR, "error", 3),
    ] {
        let (p, _dead) = reports_project(tail);
        let run = run_with_reports(&p, &[]);
        run.expect_code(code);
        let report: serde_json::Value =
            serde_json::from_str(&written(&p, &run, "out/report.json")).expect("json");
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
    let (p, _dead) = reports_project(FAIL);
    let run = run_with_reports(&p, &[]);
    run.expect_code(4);
    let report: serde_json::Value =
        serde_json::from_str(&written(&p, &run, "out/report.json")).expect("json");
    let failed = &report["journeys"][0]["steps"][1]["expectations"][0];
    assert_eq!(failed["passed"], false);
    assert_eq!(failed["expected"], "\"nope\"");
    assert_eq!(failed["actual"], "\"Bearer [redacted:CANARY_KEY]\"");
}

#[test]
fn the_junit_report_is_read_by_a_junit_parser() {
    let (p, _dead) = reports_project(FAIL);
    let run = run_with_reports(&p, &[]);
    run.expect_code(4);
    let junit = junit_parser::from_reader(std::io::Cursor::new(written(&p, &run, "out/junit.xml")))
        .expect("junit");
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

    let (p, _dead) = reports_project(ERROR);
    let run = run_with_reports(&p, &[]);
    run.expect_code(3);
    let junit = junit_parser::from_reader(std::io::Cursor::new(written(&p, &run, "out/junit.xml")))
        .expect("junit");
    assert_eq!(
        (junit.tests, junit.failures, junit.errors, junit.skipped),
        (3, 0, 1, 0)
    );
}

#[test]
fn the_html_report_is_one_self_contained_page() {
    let (p, _dead) = reports_project(FAIL);
    let run = run_with_reports(&p, &[]);
    run.expect_code(4);
    let html = written(&p, &run, "out/html/index.html");
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
    let (p, _dead) = reports_project(PASS);
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
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && browser.join("node_modules/playwright-core").exists(),
        "install the browser test's parts: apt-get install chromium && npm ci --prefix runner/tests/browser"
    );
    let (p, _dead) = reports_project(FAIL);
    let run = run_with_reports(&p, &[]);
    run.expect_code(4);
    // The page the browser opens must be there.
    written(&p, &run, "out/html/index.html");
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
    let run = p.run(
        &[
            "run",
            "--all",
            "--report-json",
            "r.json",
            "--report-junit",
            "j.xml",
        ],
        &[],
    );
    run.expect_code(0);
    let report: serde_json::Value =
        serde_json::from_str(&written(&p, &run, "r.json")).expect("json");
    let names: Vec<&str> = report["journeys"]
        .as_array()
        .expect("journeys")
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let junit =
        junit_parser::from_reader(std::io::Cursor::new(written(&p, &run, "j.xml"))).expect("junit");
    assert_eq!((junit.suites.len(), junit.tests), (2, 2));
}
