//! Journeys end to end against the demo API: the happy path, every value
//! source, each expectation kind, captures, cookies and timeouts.

use crate::common;

use common::{CANARY, assert_absent, project};

const PAYMENT_FLOW: &str = r#"
inputs:
  amount: {default: 1000}
steps:
  - id: create
    template: post-payment
    values:
      key: {type: secret, name: PAYMENTS_API_KEY}
      amount: {type: input, name: amount}
    capture:
      payment_id: $.id
    expect:
      status: 201
      json: {"$.status": succeeded}
  - id: read
    template: get-payment
    values:
      key: {type: secret, name: PAYMENTS_API_KEY}
      id: {type: capture, step: create, name: payment_id}
    expect:
      status: 200
      json: {"$.amount": 1000}
"#;

#[test]
fn happy_path_runs_every_step_with_the_secret_from_env() {
    let p = project(&[("journeys/payment-flow.yaml", PAYMENT_FLOW)]);
    let run = p.run(&["run", "payment-flow"], &[("PAYMENTS_API_KEY", CANARY)]);
    run.expect_code(0).expect_output("2 of 2 steps ok");
    assert_eq!(p.api.requests(), 2);
}

#[test]
fn the_server_rejects_a_wrong_key_and_the_expectation_fails() {
    let p = project(&[("journeys/payment-flow.yaml", PAYMENT_FLOW)]);
    let run = p.run(
        &["run", "payment-flow"],
        &[("PAYMENTS_API_KEY", "wrong-key-value")],
    );
    run.expect_code(4)
        .expect_output("status: expected 201, got 401")
        .expect_output("skip   read");
    assert_eq!(p.api.requests(), 1, "a failed step stops the journey");
}

#[test]
fn input_overrides_default_and_keeps_its_type() {
    let p = project(&[(
        "journeys/payment-flow.yaml",
        &PAYMENT_FLOW.replace("{default: 1000}", "{default: 5}"),
    )]);
    let run = p.run(
        &["run", "payment-flow", "--input", "amount=1000"],
        &[("PAYMENTS_API_KEY", CANARY)],
    );
    run.expect_code(0);
    let bad = p.run(
        &["run", "payment-flow", "--input", "amount=lots"],
        &[("PAYMENTS_API_KEY", CANARY)],
    );
    bad.expect_code(1)
        .expect_output("input `amount` must be a number");
    let unknown = p.run(
        &["run", "payment-flow", "--input", "amuont=1"],
        &[("PAYMENTS_API_KEY", CANARY)],
    );
    unknown
        .expect_code(1)
        .expect_output("has no input `amuont`");
}

#[test]
fn every_value_source_reaches_the_request() {
    let template = r#"
method: POST
url: "{{base_url}}/echo"
query:
  literal: "{{literal}}"
  long_literal: "{{long_literal}}"
  input: "{{input}}"
  variable: "{{region}}"
  uuid: "{{uuid}}"
  ts: "{{ts}}"
  hex: "{{hex}}"
headers:
  X-Key: "{{key}}"
  X-Captured: "{{captured}}"
json:
  number: "{{number}}"
  text: "n={{number}}"
"#;
    let journey = r#"
inputs:
  who: {}
steps:
  - id: first
    template: status
    values: {code: 200}
    capture:
      code_seen: $.status
      type_header: {header: content-type}
  - id: echo
    template: echo-all
    values:
      literal: plain
      long_literal: {type: literal, value: written-out}
      input: {type: input, name: who}
      uuid: {type: generate, kind: uuid}
      ts: {type: generate, kind: timestamp}
      hex: {type: generate, kind: random-hex, bytes: 4}
      key: {type: secret, name: API_KEY}
      captured: {type: capture, step: first, name: type_header}
      number: {type: capture, step: first, name: code_seen}
    capture:
      hex_seen: $.query.hex
    expect:
      status: 200
      json:
        "$.method": POST
        "$.query.literal": plain
        "$.query.long_literal": written-out
        "$.query.input": alice
        "$.query.variable": eu
        "$.query.uuid": {exists: true}
        "$.query.ts": {exists: true}
        "$.headers['x-captured']": application/json
        "$.body": "{\"number\":200,\"text\":\"n=200\"}"
"#;
    let p = project(&[
        ("templates/echo-all.yaml", template),
        ("journeys/sources.yaml", journey),
    ]);
    std::fs::write(
        p.path("reqflo.yaml"),
        format!(
            "environments:\n  test:\n    variables: {{base_url: \"{}\", region: eu}}\n",
            p.api.base_url()
        ),
    )
    .expect("write");
    let run = p.run(
        &[
            "run",
            "sources",
            "--input",
            "who=alice",
            "-v",
            "--report-json",
            "r.json",
        ],
        &[("API_KEY", CANARY)],
    );
    run.expect_code(0);
    // Generated values have their documented shapes.
    let uuid = run
        .stderr
        .split("uuid=")
        .nth(1)
        .map(|s| s.chars().take(36).collect::<String>())
        .expect("uuid in the dump");
    assert_eq!(uuid.matches('-').count(), 4, "uuid: {uuid}");
    // The random hex: 4 bytes as 8 hex digits in the URL reqflo sent, and the
    // same text where the server received it (its echo, captured).
    let report: serde_json::Value =
        serde_json::from_str(&common::read_report(&run, &p.path("r.json"))).expect("JSON report");
    let step = &report["journeys"][0]["steps"][1];
    let url = step["request"]["url"].as_str().expect("the request's URL");
    let sent = url
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("hex="))
        .unwrap_or_else(|| panic!("no hex= in {url}"));
    assert!(
        sent.len() == 8 && sent.bytes().all(|b| b.is_ascii_hexdigit()),
        "4 random bytes as hex: {sent:?}"
    );
    let captures = step["captures"].as_array().expect("captures");
    let received = captures
        .iter()
        .find(|c| c["name"] == "hex_seen")
        .unwrap_or_else(|| panic!("no hex_seen capture in {captures:?}"));
    assert_eq!(received["value"], sent, "what the server received");
}

#[test]
fn each_expectation_kind_fails_with_exit_4() {
    let cases = [
        ("status: 201", "status: expected 201, got 200"),
        ("status: [201, 204]", "status: expected 201 or 204, got 200"),
        (
            "headers: {content-type: text/html}",
            "header content-type: expected `text/html`",
        ),
        (
            "headers: {x-missing: {exists: true}}",
            "header x-missing: expected it to exist",
        ),
        (
            "headers: {content-type: {exists: false}}",
            "header content-type: expected it to be absent",
        ),
        (
            "json: {\"$.status\": 201}",
            "$.status: expected 201, got 200",
        ),
        (
            "json: {\"$.nothing\": {exists: true}}",
            "$.nothing: expected it to exist",
        ),
        (
            "json: {\"$.status\": {exists: false}}",
            "$.status: expected it to be absent",
        ),
        (
            "json: {\"$.status\": {equals: \"200\"}}",
            "$.status: expected \"200\", got 200",
        ),
    ];
    for (expect, message) in cases {
        let journey = format!(
            "steps:\n  - id: one\n    template: status\n    values: {{code: 200}}\n    expect:\n      {expect}\n"
        );
        let p = project(&[("journeys/j.yaml", &journey)]);
        p.run(&["run", "j"], &[])
            .expect_code(4)
            .expect_output(message);
    }
}

#[test]
fn cookies_are_kept_within_a_run() {
    let journey = r#"
steps:
  - id: create
    template: post-payment
    values: {key: {type: secret, name: K}, amount: 5}
  - id: me
    template: me
    expect: {status: 200, json: {"$.session": {exists: true}}}
"#;
    let p = project(&[("journeys/j.yaml", journey)]);
    p.run(&["run", "j"], &[("K", CANARY)]).expect_code(0);
    // A run that did not get the cookie first is refused.
    let alone = "steps:\n  - id: me\n    template: me\n    expect: {status: 200}\n";
    std::fs::write(p.path("journeys/alone.yaml"), alone).expect("write");
    p.run(&["run", "alone"], &[]).expect_code(4);
}

#[test]
fn a_slow_server_hits_the_timeout_with_exit_3() {
    let template = "method: GET\nurl: \"{{base_url}}/slow?ms=5000\"\n";
    let journey = "steps:\n  - id: wait\n    template: slow\n";
    let p = project(&[
        ("templates/slow.yaml", template),
        ("journeys/j.yaml", journey),
    ]);
    let started = std::time::Instant::now();
    p.run(&["run", "j", "--timeout", "300ms"], &[])
        .expect_code(3)
        .expect_output("no response within 300ms");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

#[test]
fn connection_refused_is_one_clear_line_with_exit_3() {
    let journey = "steps:\n  - id: one\n    template: status\n    values: {code: 200}\n";
    let p = project(&[("journeys/j.yaml", journey)]);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    std::fs::write(
        p.path("reqflo.yaml"),
        format!(
            "environments:\n  test:\n    variables: {{base_url: \"http://127.0.0.1:{port}\"}}\n"
        ),
    )
    .expect("write");
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("cannot connect");
}

#[test]
fn several_journeys_and_all_run_in_one_command() {
    let ok = "steps:\n  - id: one\n    template: status\n    values: {code: 200}\n    expect: {status: 200}\n";
    let p = project(&[("journeys/a.yaml", ok), ("journeys/b.yaml", ok)]);
    p.run(&["run", "a", "b"], &[])
        .expect_code(0)
        .expect_output("journey b");
    p.run(&["run", "--all"], &[])
        .expect_code(0)
        .expect_output("journey a");
    p.run(&["run", "nope"], &[])
        .expect_code(1)
        .expect_output("no journey `nope`");
}

#[test]
fn redirects_are_not_followed() {
    let template = "method: POST\nurl: \"{{base_url}}/redirect?to=http://127.0.0.1:9/echo\"\nheaders: {X-Key: \"{{key}}\"}\nbody: \"{{key}}\"\n";
    let journey = "steps:\n  - id: r\n    template: redirect\n    values: {key: {type: secret, name: K}}\n    expect: {status: 307, headers: {location: \"http://127.0.0.1:9/echo\"}}\n";
    let p = project(&[
        ("templates/redirect.yaml", template),
        ("journeys/j.yaml", journey),
    ]);
    p.run(&["run", "j"], &[("K", CANARY)]).expect_code(0);
    assert_eq!(p.api.requests(), 1);
}

#[test]
fn followed_redirects_keep_secrets_on_their_origin() {
    // A second API on another port: another origin.
    let other = demo_api::spawn(CANARY).expect("second demo API");
    let via = "method: GET\nurl: \"{{base_url}}/redirect\"\nquery: {to: \"{{to}}\"}\nheaders: {X-Key: \"{{key}}\"}\n";
    let post = "method: POST\nurl: \"{{base_url}}/redirect\"\nquery: {to: \"{{to}}\"}\njson: {token: \"{{key}}\"}\n";
    let journey = format!(
        r#"steps:
  - id: same
    template: via
    values: {{key: {{type: secret, name: K}}, to: "@BASE@/echo"}}
    follow_redirects: true
    expect:
      status: 200
      json: {{"$.headers['x-key']": {{exists: true}}}}
  - id: other
    template: via
    values: {{key: {{type: secret, name: K}}, to: "{}/echo"}}
    follow_redirects: true
    expect:
      status: 200
      json: {{"$.headers['x-key']": {{exists: false}}}}
    capture: {{landed: {{url: true}}}}
"#,
        other.base_url()
    );
    let p = project(&[
        ("templates/via.yaml", via),
        ("templates/post-via.yaml", post),
        ("journeys/j.yaml", &journey),
    ]);
    let report = p.path("r.json");
    let report_arg = report.display().to_string();
    let run = p.run(
        &["run", "j", "-v", "--report-json", &report_arg],
        &[("K", CANARY)],
    );
    run.expect_code(0);
    assert_absent(&run.all(), CANARY, "the run");
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.contains("`x-key` was not sent on"), "{text}");
    assert!(
        text.contains(&format!("{}/echo", other.base_url())),
        "the final URL: {text}"
    );
    assert_eq!(
        other.requests(),
        1,
        "the other origin got the hop, without the key"
    );

    // A body holding a secret is not re-sent to another origin.
    let posting = format!(
        "steps:\n  - id: p\n    template: post-via\n    values: {{key: {{type: secret, name: K}}, to: \"{}/echo\"}}\n    follow_redirects: true\n",
        other.base_url()
    );
    std::fs::write(p.path("journeys/posting.yaml"), posting).expect("write");
    let refused = p.run(&["run", "posting"], &[("K", CANARY)]);
    refused.expect_output("would re-send a body holding a secret to another origin; not followed");
    assert_ne!(refused.code, 0);
    assert_eq!(other.requests(), 1, "nothing more reached the other origin");
}

#[test]
fn inputs_are_prompted_for_on_a_terminal() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let p = project(&[("journeys/payment-flow.yaml", PAYMENT_FLOW)]);
    // `script` (util-linux) gives reqflo a pseudo-terminal; the answer is typed on it.
    let command = format!("{} run payment-flow", env!("CARGO_BIN_EXE_reqflo"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(p.dir.path())
        .env_clear()
        .env("HOME", p.path(".home"))
        .env("PATH", "/usr/bin:/bin")
        .env("PAYMENTS_API_KEY", CANARY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"7\n")
        .expect("type the answer");
    let output = child.wait_with_output().expect("finishes");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("amount [1000]: "), "prompt shown: {text}");
    // The typed 7 reached the request: the read-back step expected 1000.
    assert!(text.contains("$.amount: expected 1000, got 7"), "{text}");
    assert_eq!(output.status.code(), Some(4));
}

/// Run `reqflo ARGS` under `script`, which gives it a terminal; returns the raw
/// terminal output.
fn on_a_terminal(p: &common::TestProject, args: &str, env: &[(&str, &str)]) -> String {
    use std::process::{Command, Stdio};
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_reqflo"));
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(p.dir.path())
        .env_clear()
        .env("HOME", p.path(".home"))
        .env("PATH", "/usr/bin:/bin")
        .env("TERM", "xterm-256color")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_terminal_gets_progress_and_colour_unless_no_color() {
    let p = project(&[("journeys/payment-flow.yaml", PAYMENT_FLOW)]);
    let key = [("PAYMENTS_API_KEY", CANARY)];
    let shown = on_a_terminal(&p, "run payment-flow --no-prompt", &key);
    assert!(
        shown.contains(" 1/2 read"),
        "progress bar with the current step: {shown:?}"
    );
    assert!(shown.contains("\u{1b}[32mok"), "a green ok: {shown:?}");
    let plain = on_a_terminal(
        &p,
        "run payment-flow --no-prompt",
        &[key[0], ("NO_COLOR", "1")],
    );
    assert!(plain.contains(" 1/2 read"), "progress stays: {plain:?}");
    assert!(
        !plain.contains("\u{1b}[3"),
        "no colour with NO_COLOR: {plain:?}"
    );
    // Not a terminal: plain lines only, no progress.
    let piped = p.run(&["run", "payment-flow", "--no-prompt"], &key);
    assert!(!piped.all().contains('\u{1b}'), "{}", piped.all());
    common::assert_absent(&shown, CANARY, "terminal output");
}
