//! The canary: a secret with `/`, `+` and `=` sent in every way a request can
//! carry it, echoed back by the server, on success, on a failed expectation, on
//! a server error and on a runtime error. Neither it nor any encoded form may
//! appear in stdout or stderr; and each of those a test checks must show the
//! secret got there, as its `[redacted:NAME]` marker, or its absence proves
//! nothing.

use crate::common;

use common::{CANARY, Run, assert_absent, assert_hidden, project};

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
        "method: GET\nurl: \"{{base_url}}/status/500?k={{key}}\"\nheaders:\n  X-Key: \"{{key}}\"\n",
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

/// The `-v` dumps on stderr, one per request in the order sent: each is the
/// request (from its `> METHOD URL` line) and the response (from its first
/// `<` line) as printed.
fn dumps(stderr: &str) -> Vec<(String, String)> {
    let request_line = |line: &str| {
        line.strip_prefix("> ")
            .and_then(|rest| rest.split_once(' '))
            .is_some_and(|(method, url)| {
                !method.is_empty()
                    && method.bytes().all(|b| b.is_ascii_uppercase())
                    && url.starts_with("http")
            })
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for line in stderr.lines() {
        if request_line(line) {
            out.push((String::new(), String::new()));
        }
        let Some((request, response)) = out.last_mut() else {
            panic!("stderr holds {line:?} before any request dump:\n{stderr}");
        };
        let part = if response.is_empty() && !line.starts_with('<') {
            request
        } else {
            response
        };
        part.push_str(line);
        part.push('\n');
    }
    out
}

/// Fail unless a line of `part` holds `fragment` and the `CANARY_KEY` marker.
fn assert_marked(part: &str, fragment: &str, context: &str) {
    assert!(
        part.lines()
            .any(|l| l.contains(fragment) && l.contains("[redacted:CANARY_KEY]")),
        "{context}: no line with {fragment:?} and [redacted:CANARY_KEY] in:\n{part}"
    );
}

#[test]
fn success_with_verbose_dumps_never_shows_the_canary() {
    let run = run_with(&all_channels(), &[], &["run", "j", "-v"]);
    run.expect_code(0);
    // stdout: only the query step's line shows where the secret went (the
    // others' secrets are in headers and bodies, which step lines leave out).
    let query_line = run
        .stdout
        .lines()
        .find(|l| l.contains(" query "))
        .expect("the query step's line");
    assert_hidden(query_line, "CANARY_KEY", CANARY, "stdout, the query step");
    assert_absent(&run.stdout, CANARY, "stdout");
    assert_absent(&run.stderr, CANARY, "stderr");
    // stderr: each step's request as sent and the server's echo of it, which
    // shows the server got the secret, each hold the marker where it went.
    let dumps = dumps(&run.stderr);
    let expected: [(&str, &str, &[&str], &[&str]); 6] = [
        (
            "header",
            "> GET ",
            &["> authorization: Bearer [redacted:CANARY_KEY]"],
            &["\"authorization\":\"Bearer [redacted:CANARY_KEY]\""],
        ),
        (
            "query",
            "> GET ",
            &["?key=[redacted:CANARY_KEY]&again=[redacted:CANARY_KEY]"],
            &[
                "\"key\":\"[redacted:CANARY_KEY]\"",
                "\"again\":\"[redacted:CANARY_KEY]\"",
            ],
        ),
        (
            "json",
            "> POST ",
            &["{\"key\":\"[redacted:CANARY_KEY]\",\"wrapped\":\"x-[redacted:CANARY_KEY]-y\"}"],
            &[
                "\\\"key\\\":\\\"[redacted:CANARY_KEY]\\\"",
                "\\\"wrapped\\\":\\\"x-[redacted:CANARY_KEY]-y\\\"",
            ],
        ),
        (
            "form",
            "> POST ",
            &["key=[redacted:CANARY_KEY]"],
            &["\"body\":\"key=[redacted:CANARY_KEY]\""],
        ),
        (
            "basic",
            "> GET ",
            // Where in the credential the marker falls is the redactor's
            // business; it must be in the Authorization header.
            &["> authorization: Basic "],
            &["\"authorization\":\"Basic "],
        ),
        (
            "raw",
            "> POST ",
            &["raw [redacted:CANARY_KEY] text"],
            &["\"body\":\"raw [redacted:CANARY_KEY] text\""],
        ),
    ];
    assert_eq!(
        dumps.len(),
        expected.len(),
        "one dump per step:\n{}",
        run.stderr
    );
    for ((request, response), (step, first, sent, echoed)) in dumps.iter().zip(expected) {
        assert!(
            request.starts_with(first),
            "{step}: the request dump starts with {first:?}:\n{request}"
        );
        assert!(
            response.starts_with("< 200 "),
            "{step}: the response dump:\n{response}"
        );
        for fragment in sent {
            assert_marked(request, fragment, &format!("{step}: the request dump"));
        }
        for fragment in echoed {
            assert_marked(response, fragment, &format!("{step}: the echoed response"));
        }
        assert_absent(request, CANARY, &format!("{step}: the request dump"));
        assert_absent(response, CANARY, &format!("{step}: the echoed response"));
    }
}

#[test]
fn a_failed_expectation_quoting_the_value_is_redacted() {
    let journey = "steps:\n  - id: header\n    template: echo-header\n    values: {key: {type: secret, name: CANARY_KEY}}\n    expect:\n      json:\n        \"$.headers.authorization\": nope\n";
    for verbose in [false, true] {
        let args: &[&str] = if verbose {
            &["run", "j", "-v"]
        } else {
            &["run", "j"]
        };
        let run = run_with(journey, &[], args);
        run.expect_code(4);
        // The failure line on stdout quotes the value the server echoed.
        assert!(
            run.stdout
                .contains("expected \"nope\", got \"Bearer [redacted:CANARY_KEY]\""),
            "{}",
            run.stdout
        );
        assert_hidden(&run.stdout, "CANARY_KEY", CANARY, "stdout");
        if verbose {
            assert_hidden(&run.stderr, "CANARY_KEY", CANARY, "stderr (-v dumps)");
        } else {
            // No dumps without -v: stderr carries nothing at all.
            assert_eq!(run.stderr, "", "stderr without -v");
        }
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
    // The step line's URL (stdout) and the dump of the request and of the
    // server's 500 (stderr) carry the secret.
    assert_hidden(&run.stdout, "CANARY_KEY", CANARY, "stdout (the step line)");
    assert!(
        run.stderr.contains("> x-key: [redacted:CANARY_KEY]")
            && run.stderr.contains("< 500 Internal Server Error"),
        "stderr: the dumps of the request and of the 500\n{}",
        run.stderr
    );
    assert_hidden(&run.stderr, "CANARY_KEY", CANARY, "stderr (-v dumps)");
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
    run.expect_code(3);
    // The error on stdout quotes the rendered URL, secret and all.
    assert!(
        run.stdout.contains(
            "renders an invalid URL (relative URL without a base): not a url [redacted:CANARY_KEY]"
        ),
        "{}",
        run.stdout
    );
    assert_hidden(&run.stdout, "CANARY_KEY", CANARY, "stdout (the error)");
    // The request was never built, so never dumped: stderr carries nothing.
    assert_eq!(run.stderr, "", "stderr");
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
    run.expect_code(4);
    // The demo API's first token is deterministic: prove it was hidden.
    let token = format!("tok_{:016x}", 1u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    // stdout: the failure line quotes the token the server echoed back.
    assert!(
        run.stdout
            .contains("expected it to be absent, got \"Bearer [redacted:token]\""),
        "{}",
        run.stdout
    );
    assert_hidden(&run.stdout, "token", &token, "stdout, captured token");
    // stderr: the key in the first request, the token in the response that
    // brought it and in the request and echo that sent it on. (No stdout
    // line quotes the key, so it is checked where it goes.)
    assert_hidden(&run.stderr, "CANARY_KEY", CANARY, "stderr, the key");
    assert_hidden(&run.stderr, "token", &token, "stderr, captured token");
    assert!(
        run.stderr.contains("\"token\":\"[redacted:token]\"")
            && run
                .stderr
                .contains("> authorization: Bearer [redacted:token]"),
        "stderr: the token where it came in and where it went out\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("pay_0001"),
        "plain captures stay visible"
    );
}

#[test]
fn plugin_error_text_is_redacted_and_stripped_of_escapes() {
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nproviders:\n  hostile: {plugin: \"@HOSTILE@\"}\nsecrets:\n  LEAKY:\n    provider: hostile\n    reference: \"error:\\e[31mstolen cAn4ry/Se+cret=Zq9\\e[0m\"\n";
    let journey = "steps:\n  - id: a\n    template: echo-header\n    values: {key: {type: secret, name: CANARY_KEY}}\n  - id: b\n    template: echo-header\n    values: {key: {type: secret, name: LEAKY}}\n";
    let run = run_with(journey, &[("reqflo.yaml", config)], &["run", "j", "-v"]);
    run.expect_code(3);
    // The run stops while resolving, before any journey: the plugin's error
    // (quoting the canary) is on stderr, and stdout carries nothing.
    assert!(
        run.stderr.contains("stolen [redacted:CANARY_KEY]"),
        "{}",
        run.stderr
    );
    assert_hidden(&run.stderr, "CANARY_KEY", CANARY, "stderr, plugin error");
    assert_eq!(run.stdout, "", "stdout");
    assert!(
        !run.all().contains('\u{1b}'),
        "terminal escapes must be stripped"
    );
}

#[test]
fn listings_never_show_values() {
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  CANARY_KEY: {description: the canary, journeys: [j]}\n";
    let journey = all_channels();
    let mut files = TEMPLATES.to_vec();
    files.push(("journeys/j.yaml", journey.as_str()));
    files.push(("reqflo.yaml", config));
    let p = project(&files);
    // `check --resolve` really resolves the value, and must say only that it
    // did. The two listings never resolve anything (no marker can show the
    // value reached them): they are checked only for the raw value and its
    // forms, with the value in their environment.
    let check = p.run(&["check", "j", "--resolve"], &[("CANARY_KEY", CANARY)]);
    check
        .expect_code(0)
        .expect_output("secret CANARY_KEY: resolves via env");
    assert_absent(&check.all(), CANARY, "check j --resolve");
    for args in [&["secrets", "list"][..], &["plugins", "list"][..]] {
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
    run.expect_code(0);
    // What the URL parser makes of it, independently of the redactor.
    let url = reqwest::Url::parse(&format!("http://h/echo/{ODD}?q={ODD}")).expect("url");
    let path = url.path().trim_start_matches("/echo/").to_string();
    let query = url
        .query()
        .unwrap_or("")
        .trim_start_matches("q=")
        .to_string();
    // The step line (stdout) and the request dump (stderr) both show the URL:
    // the marker in the path and in the query, and no form of the value.
    for (channel, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            text.contains("/echo/[redacted:ODD_KEY]?q=[redacted:ODD_KEY]"),
            "{channel}: the URL, redacted in path and query:\n{text}"
        );
        for form in [ODD, &path, &query] {
            assert!(
                !text.contains(form),
                "{channel}: found {form:?} in:\n{text}"
            );
        }
        assert_absent(text, ODD, channel);
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
    // stdout: the failure line quotes the token; stderr: the response that
    // brought it, and the key in the request.
    assert_hidden(&run.stdout, "token", &token, "stdout, the failed step");
    assert!(
        run.stderr.contains("\"token\":\"[redacted:token]\""),
        "stderr: the response dump\n{}",
        run.stderr
    );
    assert_hidden(&run.stderr, "token", &token, "stderr, the response dump");
    assert_hidden(
        &run.stderr,
        "CANARY_KEY",
        CANARY,
        "stderr, the request dump",
    );
}
