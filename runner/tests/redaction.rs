//! The canary: a secret with `/`, `+` and `=` sent in every way a request can
//! carry it, echoed back by the server, on success, on a failed expectation, on
//! a server error and on a runtime error. Neither it nor any encoded form may
//! appear in stdout or stderr.

mod common;

use common::{CANARY, Run, assert_absent, project};

/// Sends the secret as a header, a query parameter, inside JSON, a form and
/// Basic credentials, to a server that echoes all of it back.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "templates/echo-header.yaml",
        "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n",
    ),
    (
        "templates/echo-query.yaml",
        "method: GET\nurl: \"{{base_url}}/echo?key={{key}}\"\nquery:\n  again: \"{{key}}\"\n",
    ),
    (
        "templates/echo-json.yaml",
        "method: POST\nurl: \"{{base_url}}/echo\"\njson:\n  key: \"{{key}}\"\n  wrapped: \"x-{{key}}-y\"\n",
    ),
    (
        "templates/echo-form.yaml",
        "method: POST\nurl: \"{{base_url}}/echo\"\nform:\n  key: \"{{key}}\"\n",
    ),
    (
        "templates/echo-basic.yaml",
        "method: GET\nurl: \"{{base_url}}/echo\"\nbasic_auth: {username: alice, password: \"{{key}}\"}\n",
    ),
    (
        "templates/echo-raw.yaml",
        "method: POST\nurl: \"{{base_url}}/echo\"\nbody: \"raw {{key}} text\"\n",
    ),
    (
        "templates/fail.yaml",
        "method: GET\nurl: \"{{base_url}}/status/500\"\nheaders:\n  X-Key: \"{{key}}\"\n",
    ),
];

fn journey(steps: &[(&str, &str)]) -> String {
    let mut text = String::from("steps:\n");
    for (id, template) in steps {
        text.push_str(&format!(
            "  - id: {id}\n    template: {template}\n    values: {{key: {{type: secret, name: CANARY_KEY}}}}\n"
        ));
    }
    text
}

fn all_channels() -> String {
    journey(&[
        ("header", "echo-header"),
        ("query", "echo-query"),
        ("json", "echo-json"),
        ("form", "echo-form"),
        ("basic", "echo-basic"),
        ("raw", "echo-raw"),
    ])
}

fn run_with(journey: &str, extra: &[(&str, &str)], args: &[&str]) -> Run {
    let mut files = TEMPLATES.to_vec();
    files.push(("journeys/j.yaml", journey));
    files.extend_from_slice(extra);
    let p = project(&files);
    p.run(args, &[("CANARY_KEY", CANARY)])
}

#[test]
fn success_with_verbose_dumps_never_shows_the_canary() {
    let run = run_with(&all_channels(), &[], &["run", "j", "-v"]);
    run.expect_code(0).expect_output("[redacted:CANARY_KEY]");
    assert_absent(&run.stdout, CANARY, "stdout");
    assert_absent(&run.stderr, CANARY, "stderr");
    // The dump really did include the echoed request, redacted.
    assert!(
        run.stderr.matches("[redacted:CANARY_KEY]").count() >= 10,
        "{}",
        run.stderr
    );
}

#[test]
fn a_failed_expectation_quoting_the_value_is_redacted() {
    let journey = "steps:\n  - id: header\n    template: echo-header\n    values: {key: {type: secret, name: CANARY_KEY}}\n    expect:\n      json:\n        \"$.headers.authorization\": nope\n";
    for args in [&["run", "j"][..], &["run", "j", "-v"][..]] {
        let run = run_with(journey, &[], args);
        run.expect_code(4)
            .expect_output("expected \"nope\", got \"Bearer [redacted:CANARY_KEY]\"");
        assert_absent(&run.all(), CANARY, "failed expectation");
    }
}

#[test]
fn a_server_error_is_redacted() {
    let journey = format!(
        "{}    expect: {{status: 200}}\n",
        journey(&[("fail", "fail")])
    );
    let run = run_with(&journey, &[], &["run", "j", "-v"]);
    run.expect_code(4)
        .expect_output("status: expected 200, got 500");
    assert_absent(&run.all(), CANARY, "server error");
}

#[test]
fn a_runtime_error_quoting_the_url_is_redacted() {
    let template = "method: GET\nurl: \"not a url {{key}}\"\n";
    let journey = "steps:\n  - id: bad\n    template: bad-url\n    values: {key: {type: secret, name: CANARY_KEY}}\n";
    let run = run_with(
        journey,
        &[("templates/bad-url.yaml", template)],
        &["run", "j", "-v"],
    );
    run.expect_code(3).expect_output("invalid URL");
    assert_absent(&run.all(), CANARY, "runtime error");
}

#[test]
fn a_token_captured_as_secret_is_redacted_everywhere_after() {
    let journey = r#"
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: CANARY_KEY}, amount: 7}
    capture:
      token: {jsonpath: $.token, secret: true}
      plain_id: $.id
  - id: echo
    template: echo-header
    values: {key: {type: capture, step: create, name: token}}
    expect:
      json: {"$.headers.authorization": {exists: false}}
"#;
    let mut files = TEMPLATES.to_vec();
    files.push(("journeys/j.yaml", journey));
    let p = project(&files);
    let run = p.run(&["run", "j", "-v"], &[("CANARY_KEY", CANARY)]);
    run.expect_code(4).expect_output("[redacted:token]");
    assert_absent(&run.all(), CANARY, "capture run");
    // The demo API's first token is deterministic: prove it was hidden.
    let token = format!("tok_{:016x}", 1u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    assert_absent(&run.all(), &token, "captured token");
    assert!(
        run.all().contains("pay_0001"),
        "plain captures stay visible"
    );
}

#[test]
fn plugin_error_text_is_redacted_and_stripped_of_escapes() {
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nproviders:\n  hostile: {plugin: \"@HOSTILE@\"}\nsecrets:\n  LEAKY:\n    provider: hostile\n    reference: \"error:\\e[31mstolen cAn4ry/Se+cret=Zq9\\e[0m\"\n";
    let journey = "steps:\n  - id: a\n    template: echo-header\n    values: {key: {type: secret, name: CANARY_KEY}}\n  - id: b\n    template: echo-header\n    values: {key: {type: secret, name: LEAKY}}\n";
    let run = run_with(journey, &[("reqflo.yaml", config)], &["run", "j", "-v"]);
    run.expect_code(3)
        .expect_output("stolen [redacted:CANARY_KEY]");
    assert_absent(&run.all(), CANARY, "plugin error");
    assert!(
        !run.all().contains('\u{1b}'),
        "terminal escapes must be stripped"
    );
}

#[test]
fn listings_never_show_values() {
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  CANARY_KEY: {description: the canary, journeys: [j]}\n";
    let mut files = TEMPLATES.to_vec();
    files.push(("journeys/j.yaml", &all_channels()));
    let p = {
        let journey = all_channels();
        let mut files = TEMPLATES.to_vec();
        files.push(("journeys/j.yaml", journey.as_str()));
        files.push(("reqflo.yaml", config));
        project(&files)
    };
    for args in [
        &["secrets", "list"][..],
        &["plugins", "list"][..],
        &["check", "j", "--resolve"][..],
    ] {
        let run = p.run(args, &[("CANARY_KEY", CANARY)]);
        run.expect_code(0);
        assert_absent(&run.all(), CANARY, &args.join(" "));
    }
    p.run(&["secrets", "list"], &[])
        .expect_output("CANARY_KEY")
        .expect_output("the canary");
}

#[test]
fn a_secret_pasted_into_a_url_is_redacted_in_its_url_encoded_form() {
    const ODD: &str = "pa ss+wörd{x}/=9";
    let template = "method: GET\nurl: \"{{base_url}}/echo/{{key}}?q={{key}}\"\n";
    let journey = "steps:\n  - id: u\n    template: in-url\n    values: {key: {type: secret, name: ODD_KEY}}\n";
    let p = project(&[
        ("templates/in-url.yaml", template),
        ("journeys/j.yaml", journey),
    ]);
    let run = p.run(&["run", "j", "-v"], &[("ODD_KEY", ODD)]);
    run.expect_output("[redacted:ODD_KEY]");
    // What the URL parser makes of it, independently of the redactor.
    let url = reqwest::Url::parse(&format!("http://h/echo/{ODD}?q={ODD}")).expect("url");
    let path = url.path().trim_start_matches("/echo/").to_string();
    let query = url
        .query()
        .unwrap_or("")
        .trim_start_matches("q=")
        .to_string();
    for form in [ODD.to_string(), path, query] {
        assert!(
            !run.all().contains(&form),
            "found {form:?} in:\n{}",
            run.all()
        );
    }
}

#[test]
fn a_secret_capture_is_hidden_even_when_the_step_fails() {
    let journey = r#"
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: CANARY_KEY}, amount: 7}
    capture:
      token: {jsonpath: $.token, secret: true}
    expect:
      status: 200
      json: {"$.token": {exists: false}}
"#;
    let mut files = TEMPLATES.to_vec();
    files.push(("journeys/j.yaml", journey));
    let p = project(&files);
    let run = p.run(&["run", "j", "-v"], &[("CANARY_KEY", CANARY)]);
    run.expect_code(4)
        .expect_output("status: expected 200, got 201")
        .expect_output("$.token: expected it to be absent, got \"[redacted:token]\"");
    let token = format!("tok_{:016x}", 1u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    assert_absent(&run.all(), &token, "failed step with a secret capture");
}
