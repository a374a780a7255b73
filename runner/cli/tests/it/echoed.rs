//! A server echoes the secret back the way real frameworks write it (Go's
//! encoding/json and html/template, Python's json, html and urllib, XML
//! character references, Basic credentials, a JWT payload, a `data:` URL,
//! MIME and PEM wrapping, hex): the console, `-v`, and the JSON, JUnit and
//! HTML reports of a run with a passing and a failing step hold none of it.

use std::process::Command;

use crate::common::{assert_absent, assert_redacted, every_channel, project, servers};

/// A value that every escaper has to escape: `&`, `<`, `"`, `+`, `/`, `=`,
/// Latin-1 and a character beyond the BMP.
const VALUE: &str = "Tok&en<\"+/é😀=9x";

const POST: &str =
    "method: POST\nurl: \"{{echo}}/forms?k={{key}}{{suffix}}\"\njson:\n  key: \"{{key}}\"\n";

#[test]
fn every_form_a_server_echoes_is_redacted_in_every_channel() {
    let sent = tempfile::NamedTempFile::new().expect("temp file");
    let mut command = Command::new(servers::tool("bin/python"));
    command
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/fixtures/echo_forms.py"
        ))
        .arg(sent.path());
    let echo = servers::spawn("echo-forms", command, "/ready");
    let journey = format!(
        "steps:\n\
         \x20 - id: passes\n    template: post\n    values: {{key: {{type: secret, name: ECHOED}}, echo: \"{url}\", suffix: \"\"}}\n    expect: {{status: 200}}\n\
         \x20 - id: fails\n    template: post\n    values: {{key: {{type: secret, name: ECHOED}}, echo: \"{url}\", suffix: \"&status=500\"}}\n    expect: {{status: 200}}\n",
        url = echo.url
    );
    let p = project(&[("templates/post.yaml", POST), ("journeys/j.yaml", &journey)]);
    let channels = every_channel(&p, &[("ECHOED", VALUE)]);

    // What the server wrote, form by form (each line `label: form`, the
    // wrapped ones over several lines), for both requests.
    let written = std::fs::read_to_string(sent.path()).expect("the server's bodies");
    let mut forms: Vec<(String, String)> = Vec::new();
    for line in written.lines() {
        match line.split_once(": ") {
            Some((label, form)) if !label.contains(' ') && !label.is_empty() => {
                forms.push((label.to_string(), form.to_string()))
            }
            _ => {
                if let Some((_, form)) = forms.last_mut() {
                    form.push('\n');
                    form.push_str(line);
                }
            }
        }
    }
    assert!(
        forms.len() >= 34,
        "the server wrote {} forms:\n{written}",
        forms.len()
    );
    for (channel, text) in &channels {
        assert_redacted(text, "ECHOED", channel);
        assert_absent(text, VALUE, channel);
        for (label, form) in &forms {
            // Each form is checked as a whole and by its lines (a channel
            // may show a wrapped body line by line, each with a prefix);
            // the server wraps so that every line holds some of the value.
            for piece in std::iter::once(form.as_str()).chain(form.lines()) {
                let piece = piece.trim_end_matches('\r');
                if piece.len() < 8 || piece.starts_with("-----") {
                    continue;
                }
                assert!(
                    !text.contains(piece),
                    "{channel}: the {label} form {piece:?} survives in:\n{text}"
                );
            }
        }
    }
    // The dumps show each form's line with the marker where the value was.
    let dumps = &channels[1].1;
    for label in [
        "go-json",
        "go-html",
        "jwt",
        "data-url",
        "percent-lower",
        "mixed-refs",
    ] {
        assert!(
            dumps
                .lines()
                .any(|l| l.contains(&format!("{label}: ")) && l.contains("[redacted:ECHOED]")),
            "-v: no {label} line with the marker in:\n{dumps}"
        );
    }
}
