//! Captures from every part of a response (cookie, status, duration, body
//! by regular expression, URL) and the filters that shape them; cookie and
//! duration expectations; a secret capture stays secret through its filters.

use base64::Engine as _;
use serde_json::Value;

use crate::common::{CANARY, assert_absent, project};

#[test]
fn captures_read_every_part_of_a_response_and_filters_shape_them() {
    let journey = r#"
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: K}, amount: 5}
    capture:
      session: {cookie: session}
      code: {status: true}
      took: {duration: true}
      number: {regex: '"id":"pay_(\d+)"', filters: [to-int]}
      tail: {jsonpath: $.token, filters: [{split: "_"}, {nth: -1}]}
      resource: {url: true, filters: [{regex: "/v1/(\\w+)"}]}
      status_text: {body: true, filters: [{jsonpath: $.status}]}
    expect:
      status: 201
      cookies: {session: {starts-with: sess_}}
      duration: {lt: 30s, ">=": 0}
  - id: echo
    template: echo
    values:
      key: {type: capture, step: create, name: session}
    expect:
      json: {"$.headers['x-key']": {starts-with: sess_}}
"#;
    let p = project(&[("journeys/j.yaml", journey)]);
    let report = p.path("report.json");
    let report_arg = report.display().to_string();
    p.run(
        &["run", "j", "--report-json", &report_arg],
        &[("K", CANARY)],
    )
    .expect_code(0);
    let text = std::fs::read_to_string(&report).expect("report");
    let report: Value = serde_json::from_str(&text).expect("json");
    let captures = &report["journeys"][0]["steps"][0]["captures"];
    let value = |name: &str| {
        captures
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == name))
            .map(|c| c["value"].clone())
            .unwrap_or_else(|| panic!("no capture {name}: {captures}"))
    };
    assert_eq!(value("session"), "sess_1", "{captures}");
    assert_eq!(value("code"), 201);
    assert!(value("took").is_u64(), "{captures}");
    assert_eq!(value("number"), 1);
    assert!(
        value("tail").as_str().is_some_and(|t| t.len() == 16),
        "{captures}"
    );
    assert_eq!(value("resource"), "payments");
    assert_eq!(value("status_text"), "succeeded");
}

#[test]
fn cookie_and_duration_expectations_fail_with_what_came() {
    let cases = [
        (
            "cookies: {session: {starts-with: nope}}",
            "cookie session: expected starts with \"nope\", got `sess_1`",
        ),
        (
            "cookies: {theme: {exists: true}}",
            "cookie theme: expected it to exist",
        ),
        ("duration: {lt: 0ms}", "duration: expected < 0 ms, took"),
    ];
    for (expect, message) in cases {
        let journey = format!(
            "steps:\n  - id: one\n    template: post-payment\n    values: {{key: {{type: secret, name: K}}, amount: 5}}\n    expect:\n      {expect}\n"
        );
        let p = project(&[("journeys/j.yaml", &journey)]);
        p.run(&["run", "j"], &[("K", CANARY)])
            .expect_code(4)
            .expect_output(message);
    }
}

#[test]
fn a_bad_capture_or_filter_is_named_at_its_place() {
    let cases = [
        (
            "capture: {x: {cookie: a, header: b}}",
            "capture `x` needs exactly one of",
            "j.yaml:5:",
        ),
        (
            "capture: {x: {status: true, filters: [lowercase]}}",
            "no filter `lowercase`",
            "j.yaml:5:",
        ),
        (
            "capture: {x: {regex: \"(\"}}",
            "is not a regular expression",
            "j.yaml:5:",
        ),
        (
            "expect: {duration: {lt: soon}}",
            "`soon` is not a duration",
            "j.yaml:5:",
        ),
        (
            "expect: {duration: {matches: x}}",
            "`duration` takes comparisons",
            "j.yaml:5:",
        ),
    ];
    for (entry, message, place) in cases {
        let journey = format!(
            "steps:\n  - id: one\n    template: status\n    values: {{code: 200}}\n    {entry}\n"
        );
        let p = project(&[("journeys/j.yaml", &journey)]);
        let run = p.run(&["check", "j"], &[]);
        run.expect_code(2).expect_output(message);
        run.expect_output(place);
    }
    // A filter that fails at run time says which, and shows no value.
    let journey = "steps:\n  - id: one\n    template: post-payment\n    values: {key: {type: secret, name: K}, amount: 5}\n    capture:\n      x: {jsonpath: $.token, filters: [{split: \"_\"}, {nth: 5}]}\n";
    let p = project(&[("journeys/j.yaml", journey)]);
    let run = p.run(&["run", "j"], &[("K", CANARY)]);
    run.expect_output("capture `x`: `nth: 5`: the list has 2 elements");
    assert_ne!(run.code, 0);
}

#[test]
fn a_secret_capture_stays_secret_through_its_filters() {
    // The server hands back a value base64-encoded (as in a JWT payload or
    // a `data:` URL); decoded, it is a credential.
    let inner = "decoded-credential-7f3a9c";
    let encoded = base64::engine::general_purpose::STANDARD.encode(inner);
    let journey = format!(
        r#"
steps:
  - id: fetch
    template: echo
    values: {{key: "{encoded}"}}
    capture:
      credential:
        jsonpath: "$.headers['x-key']"
        filters: [base64-decode]
        secret: true
  - id: use
    template: echo
    values:
      key: {{type: capture, step: fetch, name: credential}}
    expect:
      json: {{"$.headers['x-key']": {{equals: "not it"}}}}
"#
    );
    let p = project(&[("journeys/j.yaml", &journey)]);
    let reports = p.path("reports");
    let json = reports.join("r.json").display().to_string();
    let junit = reports.join("r.xml").display().to_string();
    let html = reports.join("html").display().to_string();
    let run = p.run(
        &[
            "run",
            "j",
            "-v",
            "--report-json",
            &json,
            "--report-junit",
            &junit,
            "--report-html",
            &html,
        ],
        &[],
    );
    // The second step fails, quoting the header as its marker.
    run.expect_code(4).expect_output("[redacted:credential]");
    // On the console, the encoded form shows once: in the first request,
    // which sent the journey's own literal before anything said it was
    // secret. The response that echoes it, and all after, are redacted.
    let console = run.all();
    assert!(!console.contains(inner), "{console}");
    assert_eq!(console.matches(&encoded).count(), 1, "{console}");
    assert_absent(
        &console.replacen(&encoded, "", 1),
        inner,
        "the console and -v dumps",
    );
    for file in [&json, &junit] {
        let text = std::fs::read_to_string(file).expect("report");
        assert_absent(&text, inner, file);
    }
    let mut html_text = String::new();
    for entry in std::fs::read_dir(&html).expect("html").flatten() {
        html_text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    assert_absent(&html_text, inner, "the HTML report");
}
