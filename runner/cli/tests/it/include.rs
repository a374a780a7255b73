//! `include:`: a step runs another journey's steps, its inputs given by the
//! step's values (a secret passed by name stays a handle), its captures
//! passed out under the step's id; bad includes are named at their place.

use serde_json::Value;

use crate::common::{CANARY, assert_absent, project, reqflo};

/// Creates a payment with the key it is given, keeps its id and token.
const PAY: &str = r#"
inputs:
  api_key: {description: the key to pay with}
  amount: {default: 1}
steps:
  - id: create
    template: post-payment
    values: {key: {type: input, name: api_key}, amount: {type: input, name: amount}}
    capture:
      id: $.id
      token: {jsonpath: $.token, secret: true}
    expect:
      json: {"$.amount": {type: input, name: amount}}
"#;

const CHECKOUT: &str = r#"
steps:
  - id: pay
    include: pay
    values: {api_key: {type: secret, name: K}, amount: 42}
  - id: fetch
    template: get-payment
    values: {key: {type: secret, name: K}, id: {type: capture, step: pay, name: id}}
    expect:
      json:
        "$.id": {type: capture, step: pay, name: id}
        "$.amount": 42
"#;

#[test]
fn an_included_journey_takes_values_in_and_passes_captures_out() {
    let p = project(&[
        ("journeys/pay.yaml", PAY),
        ("journeys/checkout.yaml", CHECKOUT),
    ]);
    p.run(&["check", "checkout"], &[])
        .expect_code(0)
        .expect_output("ok checkout (env test): 2 steps, secrets: K");
    let report = p.path("r.json").display().to_string();
    let run = p.run(
        &["run", "checkout", "-v", "--report-json", &report],
        &[("K", CANARY)],
    );
    run.expect_code(0).expect_output("2 of 2 steps ok");
    // The key went in by name and was redacted in the included step's dump.
    run.expect_output("[redacted:K]");
    assert_absent(&run.all(), CANARY, "the run's output");
    let text = std::fs::read_to_string(p.path("r.json")).expect("report");
    assert_absent(&text, CANARY, "the JSON report");
    let report: Value = serde_json::from_str(&text).expect("json");
    let ids: Vec<&str> = report["journeys"][0]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["pay/create", "fetch"], "{report}");

    // The bundle carries the included journey and its template.
    let exported = p.run(&["export", "checkout"], &[]);
    exported.expect_code(0);
    assert!(
        exported.stdout.contains("journeys/pay.yaml"),
        "{}",
        exported.stdout
    );
    assert!(exported.stdout.contains("templates/post-payment.yaml"));
    let elsewhere = tempfile::tempdir().expect("tmp");
    std::fs::write(elsewhere.path().join("b.yaml"), &exported.stdout).expect("write");
    reqflo(
        elsewhere.path(),
        &["run", "--bundle", "b.yaml"],
        &[("K", CANARY)],
    )
    .expect_code(0)
    .expect_output("2 of 2 steps ok");
}

#[test]
fn the_registry_is_asked_for_the_journey_that_runs() {
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  K: {journeys: [pay]}\n";
    let p = project(&[
        ("reqflo.yaml", config),
        (
            "journeys/pay.yaml",
            &PAY.replace("{type: input, name: api_key}", "{type: secret, name: K}"),
        ),
        (
            "journeys/checkout.yaml",
            "steps:\n  - id: pay\n    include: pay\n",
        ),
    ]);
    p.run(&["check", "pay"], &[]).expect_code(0);
    let run = p.run(&["check", "checkout"], &[]);
    run.expect_output("journey `checkout` may not use secret `K` (in included journey `pay`)");
    assert_ne!(run.code, 0);
}

#[test]
fn bad_includes_are_named_at_their_place() {
    let cases = [
        (
            "  - id: pay\n    include: nowhere\n",
            "no journey `nowhere`",
            "checkout.yaml:3:",
        ),
        (
            "  - id: pay\n    include: pay\n    values: {api_key: x, colour: red}\n",
            "journey `pay` declares no input `colour`",
            "checkout.yaml:4:",
        ),
        (
            "  - id: pay\n    include: pay\n",
            "journey `pay` is included without a value for its input `api_key`",
            "pay.yaml:",
        ),
        (
            "  - id: pay\n    include: pay\n    values: {api_key: x}\n    expect: {status: 200}\n",
            "an `include:` step takes `values:` only, not `expect:`",
            "checkout.yaml:5:",
        ),
        (
            "  - id: loop\n    include: checkout\n",
            "journeys include each other: checkout → checkout",
            "checkout.yaml:3:",
        ),
        (
            "  - id: pay\n    include: pay\n    values: {api_key: x}\n  - id: pay\n    include: pay\n    values: {api_key: x}\n",
            "step id `pay` is used twice",
            "checkout.yaml:5:",
        ),
    ];
    for (steps, message, place) in cases {
        let p = project(&[
            ("journeys/pay.yaml", PAY),
            ("journeys/checkout.yaml", &format!("steps:\n{steps}")),
        ]);
        let run = p.run(&["check", "checkout"], &[]);
        run.expect_code(2).expect_output(message);
        run.expect_output(place);
    }
}
