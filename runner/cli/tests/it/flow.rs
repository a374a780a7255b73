//! Flow within a journey: `until:` polls a step until its response meets
//! the `expect:` syntax (interval, backoff, a maximum), `when:` runs a step
//! only when a value passes a test; both checked with positions, neither
//! shows a secret.

use serde_json::Value;

use crate::common::{CANARY, assert_absent, project};

const COUNT: &str = "method: POST\nurl: \"{{base_url}}/v1/count/{{n}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";

fn run_with_report(
    p: &crate::common::TestProject,
    journey: &str,
    args: &[&str],
) -> (crate::common::Run, Value) {
    let path = p.path("r.json");
    let path_arg = path.display().to_string();
    let mut all = vec!["run", journey, "--report-json", &path_arg];
    all.extend_from_slice(args);
    let run = p.run(&all, &[("K", CANARY)]);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    (run, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn until_polls_a_step_until_its_response_meets_it_and_fails_after_the_maximum() {
    let journey = r#"
steps:
  - id: wait
    template: count
    values: {key: {type: secret, name: K}, n: job-1}
    until:
      json: {"$.count": {">=": 3}}
    poll: {interval: 10ms, backoff: 2, max: 5}
    expect:
      status: 201
"#;
    let p = project(&[
        ("templates/count.yaml", COUNT),
        ("journeys/poll.yaml", journey),
    ]);
    let (run, report) = run_with_report(&p, "poll", &[]);
    run.expect_code(0);
    let step = &report["journeys"][0]["steps"][0];
    assert_eq!(step["outcome"], "passed", "{step}");
    assert!(
        step["notes"]
            .to_string()
            .contains("until: met at attempt 3"),
        "{step}"
    );

    // Never met within the maximum: the step fails with what came last.
    let never = journey
        .replace("job-1", "job-2")
        .replace(">=\": 3", ">=\": 30")
        .replace("max: 5", "max: 3");
    std::fs::write(p.path("journeys/never.yaml"), never).expect("write");
    let (run, report) = run_with_report(&p, "never", &[]);
    run.expect_code(4)
        .expect_output("$.count: expected >= 30, got 3");
    let step = &report["journeys"][0]["steps"][0];
    assert!(
        step["notes"]
            .to_string()
            .contains("until: not met after 3 attempts"),
        "{step}"
    );
    assert_absent(&run.all(), CANARY, "the console");
}

#[test]
fn when_runs_a_step_only_when_its_value_passes() {
    let journey = r#"
inputs:
  region: {default: eu}
steps:
  - id: first
    template: count
    values: {key: {type: secret, name: K}, n: w-1}
    capture: {count: $.count}
  - id: only-in-us
    template: count
    when: {value: {type: input, name: region}, is: us}
    values: {key: {type: secret, name: K}, n: w-us}
  - id: after-the-first
    template: count
    when: {value: {type: capture, step: first, name: count}, is: {">=": 1}}
    values: {key: {type: secret, name: K}, n: w-2}
"#;
    let p = project(&[
        ("templates/count.yaml", COUNT),
        ("journeys/when.yaml", journey),
    ]);
    let (run, report) = run_with_report(&p, "when", &[]);
    run.expect_code(0);
    let steps = &report["journeys"][0]["steps"];
    assert_eq!(steps[0]["outcome"], "passed", "{steps}");
    assert_eq!(steps[1]["outcome"], "skipped", "{steps}");
    assert!(
        steps[1]["notes"]
            .to_string()
            .contains("`when:` did not hold"),
        "{steps}"
    );
    assert_eq!(
        steps[2]["outcome"], "passed",
        "the journey went on: {steps}"
    );
    let (run, report) = run_with_report(&p, "when", &["--input", "region=us"]);
    run.expect_code(0);
    assert_eq!(report["journeys"][0]["steps"][1]["outcome"], "passed");
}

#[test]
fn flow_mistakes_are_named_at_their_place() {
    let cases = [
        (
            "    when: {value: {type: secret, name: K}, is: x}\n",
            "`when:` cannot test a secret",
        ),
        ("    poll: {max: 3}\n", "this step has no `until:`"),
        (
            "    until: {status: 200}\n    poll: {max: 0}\n",
            "poll max: 1 to 1000 attempts, got 0",
        ),
        (
            "    until: {status: 200}\n    poll: {interval: soon}\n",
            "poll interval:",
        ),
        (
            "    until: {status: 200}\n    poll: {backoff: 0.5}\n",
            "poll backoff: a factor of 1 to 10",
        ),
        ("    until: {json: {\"nope\": 1}}\n", "is not a JSONPath"),
        (
            "    when: {value: {type: capture, step: later, name: x}, is: 1}\n",
            "no earlier step `later`",
        ),
    ];
    for (entry, message) in cases {
        let journey = format!(
            "steps:\n  - id: one\n    template: count\n    values: {{key: {{type: secret, name: K}}, n: x}}\n{entry}"
        );
        let p = project(&[
            ("templates/count.yaml", COUNT),
            ("journeys/j.yaml", &journey),
        ]);
        let run = p.run(&["check", "j"], &[("K", CANARY)]);
        run.expect_code(2).expect_output(message);
        // The mistake's own line: `poll:` is on the entry's second line.
        let line = if entry.contains("\n    poll") { 6 } else { 5 };
        run.expect_output(&format!("journeys/j.yaml:{line}:"));
    }
}
