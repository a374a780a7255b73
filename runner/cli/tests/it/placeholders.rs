//! Placeholders inside expectations: a value to equal, or a predicate's
//! argument, from an input, a variable, a capture or a secret. A secret is
//! compared only for equality and never shown in a failure.

use crate::common::{CANARY, assert_absent, encoded_forms, every_channel, project};

const PASSING: &str = r#"
inputs:
  amount: {default: 5}
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: K}, amount: {type: input, name: amount}}
    capture:
      id: $.id
      token: {jsonpath: $.token, secret: true}
    expect:
      json:
        "$.amount": {type: input, name: amount}
  - id: fetch
    template: get-payment
    values: {key: {type: secret, name: K}, id: {type: capture, step: create, name: id}}
    expect:
      json:
        "$.id": {type: capture, step: create, name: id}
        "$.amount": {">=": {type: input, name: amount}, "<": 100}
        "$.status": {"!=": {type: variable, name: failed_status}}
  - id: echo-key
    template: echo
    values: {key: {type: secret, name: K}}
    expect:
      json:
        "$.headers['x-key']": {type: secret, name: K}
  - id: echo-token
    template: echo
    values: {key: {type: capture, step: create, name: token}}
    expect:
      json:
        "$.headers['x-key']": {"==": {type: capture, step: create, name: token}}
"#;

#[test]
fn expectations_compare_with_inputs_variables_captures_and_secrets() {
    let p = project(&[
        ("journeys/j.yaml", PASSING),
        (
            "reqflo.yaml",
            "environments:\n  local:\n    variables: {base_url: \"@BASE@\", failed_status: failed}\n",
        ),
    ]);
    p.run(&["check", "j"], &[]).expect_code(0);
    p.run(&["run", "j"], &[("K", CANARY)])
        .expect_code(0)
        .expect_output("4 of 4 steps ok");
    // A variable given on the command line is what is compared with.
    p.run(
        &["run", "j", "--var", "failed_status=succeeded"],
        &[("K", CANARY)],
    )
    .expect_code(4)
    .expect_output(r#"$.status: expected != "succeeded", got "succeeded""#);
}

#[test]
fn a_failed_comparison_with_a_capture_says_what_was_wanted_and_what_came() {
    let journey = r#"
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: K}, amount: 5}
    capture: {id: $.id}
  - id: again
    template: post-payment
    values: {key: {type: secret, name: K}, amount: 5}
    expect:
      json:
        "$.id": {type: capture, step: create, name: id}
"#;
    let p = project(&[("journeys/j.yaml", journey)]);
    p.run(&["run", "j"], &[("K", CANARY)])
        .expect_code(4)
        .expect_output(r#"$.id: expected "pay_0001", got "pay_0002""#);
}

#[test]
fn a_secret_compared_in_an_expectation_is_never_shown() {
    // The echoed key is the secret, and the step says it must not be: it
    // fails, and says so by the secret's name on every channel.
    let journey = r#"
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: K}, amount: 5}
    capture:
      token: {jsonpath: $.token, secret: true}
  - id: echo
    template: echo
    values: {key: {type: secret, name: K}}
    expect:
      json:
        "$.headers['x-key']": {"!=": {type: secret, name: K}}
      headers:
        content-type: {type: capture, step: create, name: token}
"#;
    let p = project(&[("journeys/j.yaml", journey)]);
    let channels = every_channel(&p, &[("K", CANARY)]);
    let all: String = channels.iter().map(|(_, text)| text.as_str()).collect();
    assert!(
        all.contains("expected anything but the secret K, got \"[redacted:K]\""),
        "{all}"
    );
    assert!(
        all.contains("header content-type: expected the secret token, got `application/json`"),
        "{all}"
    );
    for (channel, text) in &channels {
        for form in encoded_forms(CANARY) {
            assert_absent(text, &form, channel);
        }
    }
}

#[test]
fn a_secret_is_compared_only_for_equality_and_never_decides_a_when() {
    let cases = [
        (
            r#"expect: {json: {"$.a": {contains: {type: secret, name: K}}}}"#,
            "a secret is compared only for equality, alone",
        ),
        (
            r#"expect: {json: {"$.a": {"==": {type: secret, name: K}, type: string}}}"#,
            "a secret is compared only for equality, alone",
        ),
        (
            r#"expect: {headers: {x-a: {type: generate, kind: uuid}}}"#,
            "not a value generated anew",
        ),
        (
            r#"expect: {json: {"$.a": {type: capture, step: later, name: x}}}"#,
            "no earlier step `later`",
        ),
        (
            r#"expect: {json: {"$.a": {">": {type: input, name: nope}, "<": "ten"}}}"#,
            "compares numbers",
        ),
        (
            r#"when: {value: 1, is: {type: secret, name: K}}"#,
            "`when:` cannot compare with a secret",
        ),
    ];
    for (entry, message) in cases {
        let journey = format!(
            "inputs: {{nope: {{default: 1}}}}\nsteps:\n  - id: one\n    template: status\n    values: {{code: 200}}\n    {entry}\n"
        );
        let p = project(&[("journeys/j.yaml", &journey)]);
        let run = p.run(&["check", "j"], &[]);
        run.expect_code(2).expect_output(message);
        run.expect_output("j.yaml:6:");
    }
}
