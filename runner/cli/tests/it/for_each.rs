//! `for_each:`: a journey run once per row (written in it, or from a CSV or
//! JSON file of the project), each row's fields its inputs and each row a
//! journey of its own in the report; bad rows are named at their place.

use serde_json::Value;

use crate::common::{CANARY, assert_absent, project};

const STEPS: &str = r#"
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: K}, amount: {type: input, name: amount}}
    expect:
      json: {"$.amount": {"<": 100}, "$.currency": usd}
"#;

fn report(p: &crate::common::TestProject, journey: &str) -> (crate::common::Run, Value) {
    let path = p.path("r.json").display().to_string();
    let run = p.run(&["run", journey, "--report-json", &path], &[("K", CANARY)]);
    let text = std::fs::read_to_string(p.path("r.json")).unwrap_or_default();
    (run, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["journeys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|j| {
            let field = |k: &str| j[k].as_str().unwrap_or_default().to_string();
            (field("name"), field("outcome"))
        })
        .collect()
}

#[test]
fn each_row_is_a_run_of_its_own_from_the_journey_a_csv_or_a_json_file() {
    let inline = format!(
        "inputs: {{amount: {{default: 1}}}}\nfor_each:\n  - {{amount: 5}}\n  - {{amount: 500}}\n  - {{amount: 7}}\n{STEPS}"
    );
    let csv = format!(
        "inputs: {{amount: {{default: 1}}}}\nfor_each: {{file: data/amounts.csv}}\n{STEPS}"
    );
    let json = format!(
        "inputs: {{amount: {{default: 1}}}}\nfor_each: {{file: data/amounts.json}}\n{STEPS}"
    );
    let p = project(&[
        ("journeys/inline.yaml", &inline),
        ("journeys/csv.yaml", &csv),
        ("journeys/json.yaml", &json),
        ("data/amounts.csv", "amount\n5\n500\n7\n"),
        (
            "data/amounts.json",
            "[{\"amount\": 5}, {\"amount\": 500}, {\"amount\": 7}]",
        ),
    ]);
    for name in ["inline", "csv", "json"] {
        let (run, report) = report(&p, name);
        // The second row fails (500 is not < 100); the third still runs.
        run.expect_code(4);
        let expected: Vec<(String, String)> = [("1", "passed"), ("2", "failed"), ("3", "passed")]
            .iter()
            .map(|(n, o)| (format!("{name}[{n}]"), o.to_string()))
            .collect();
        assert_eq!(outcomes(&report), expected, "{name}: {report}");
        // A CSV field takes its input's type: 500 is a number the server accepts.
        run.expect_output("$.amount: expected < 100, got 500");
        assert_absent(&run.all(), CANARY, name);
    }
    let check = p.run(&["check", "csv"], &[]);
    check.expect_code(0).expect_output("ok csv[3]");
}

#[test]
fn bad_rows_are_named_at_their_place() {
    let cases = [
        (
            "for_each:\n  - {amount: 5, colour: red}\n",
            "",
            "row 1: `colour` is no input of the journey",
            "j.yaml:3:",
        ),
        (
            "for_each: {file: data/rows.csv}\n",
            "amount\n5\n6,7\n",
            "data/rows.csv:3:",
            "j.yaml:2:",
        ),
        (
            "for_each: {file: data/rows.csv}\n",
            "amount\nfive\n",
            "input `amount` must be a number, got `five`",
            "j.yaml:2:",
        ),
        (
            "for_each: {file: data/rows.json}\n",
            "{\"amount\": 5}",
            "expected a list of objects",
            "j.yaml:2:",
        ),
        (
            "for_each: {file: ../rows.csv}\n",
            "",
            "is not a path inside the project",
            "j.yaml:2:",
        ),
        (
            "for_each: {file: data/missing.csv}\n",
            "",
            "cannot read data/missing.csv",
            "j.yaml:2:",
        ),
        ("for_each: []\n", "", "`for_each:` has no rows", "j.yaml:2:"),
    ];
    for (for_each, data, message, place) in cases {
        let journey = format!("inputs: {{amount: {{default: 1}}}}\n{for_each}{STEPS}");
        let file = if for_each.contains(".json") {
            "data/rows.json"
        } else {
            "data/rows.csv"
        };
        let mut files = vec![("journeys/j.yaml", journey.as_str())];
        if !data.is_empty() {
            files.push((file, data));
        }
        let p = project(&files);
        let run = p.run(&["check", "j"], &[]);
        run.expect_code(2).expect_output(message);
        run.expect_output(place);
    }
}
