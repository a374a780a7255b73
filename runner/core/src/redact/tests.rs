//! The redactor against the wire: every form real encoders give a value.

use super::{Redactor, sanitize_plugin_text};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const CANARY: &str = "cAn4ry/Se+cret=";

fn redactor() -> Redactor {
    let r = Redactor::default();
    r.add("KEY", CANARY.as_bytes());
    r
}

/// A value as large as a plugin may hand over (64 KiB), with all its
/// encoded forms: the matcher must build quickly (the DFA did not) and
/// still find it.
#[test]
fn a_large_value_is_redacted() {
    let value: String = (0..64 * 1024)
        .map(|i| char::from(b'A' + (i * 7 % 26) as u8))
        .collect();
    let r = Redactor::default();
    r.add("PEM", value.as_bytes());
    r.add("KEY", CANARY.as_bytes());
    let text = format!("key={value}; b64={}", STANDARD.encode(&value));
    let out = r.redact(&text);
    assert!(!out.contains(&value[..64]), "{}", &out[..200]);
    assert!(out.contains("[redacted:PEM]"));
}

#[test]
fn a_run_secret_takes_its_label_over_a_granted_variable() {
    let r = Redactor::default();
    r.add("$KEY", CANARY.as_bytes());
    r.add("PAYMENTS_KEY", CANARY.as_bytes());
    r.add("$OTHER", CANARY.as_bytes());
    let out = r.redact(&format!("a {CANARY} b")).into_owned();
    assert_eq!(out, "a [redacted:PAYMENTS_KEY] b");
}

/// The forms `value` takes on the wire, each made by the encoder that
/// makes it (the `url` crate as reqwest prints URLs, form_urlencoded,
/// serde_json, base64, hex) or spelled out here, never by
/// `encoded_forms`: the redactor is checked against the wire, not
/// against its own list.
fn wire_forms(value: &str) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let url = |written: &str| url::Url::parse(&written.replace("{v}", value)).expect("a valid URL");
    let mut pair = url("https://h/p");
    pair.query_pairs_mut().append_pair("k", value);
    // A `/` ends a password written into a URL: set it as a client does.
    let mut with_password = url("https://u@h/");
    with_password.set_password(Some(value)).expect("a password");
    let password = with_password.password().expect("password").to_string();
    let lower_hex = |keep: fn(u8) -> bool, space: &str| -> String {
        value
            .bytes()
            .map(|b| match b {
                b' ' => space.to_string(),
                b if keep(b) => char::from(b).to_string(),
                b => format!("%{b:02x}"),
            })
            .collect()
    };
    let json = serde_json::to_string(value).expect("json");
    let json = json[1..json.len() - 1].to_string();
    let json_ascii: String = json
        .chars()
        .map(|c| match c {
            c if c.is_ascii() => c.to_string(),
            c => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .map(|unit| format!("\\u{unit:04x}"))
                .collect(),
        })
        .collect();
    let mut forms = vec![
        ("raw", value.to_string()),
        ("raw in a query, + read as a space", value.replace('+', " ")),
        (
            "percent-encoded",
            utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        ),
        (
            "percent-encoded, lowercase hex",
            lower_hex(|b| b.is_ascii_alphanumeric(), "%20"),
        ),
        (
            "in a URL path",
            url("https://h/a/{v}").path()["/a/".len()..].to_string(),
        ),
        (
            "in a URL query",
            url("https://h/?{v}").query().expect("query").to_string(),
        ),
        ("as a URL password", password),
        (
            "a query pair",
            pair.query().expect("query")["k=".len()..].to_string(),
        ),
        (
            "a form field",
            form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        ),
        (
            "a form field, lowercase hex",
            lower_hex(|b| b.is_ascii_alphanumeric() || b"*-._".contains(&b), "+"),
        ),
        ("a JSON string", json.clone()),
        ("a JSON string, / escaped", json.replace('/', "\\/")),
        ("a JSON string, ASCII only", json_ascii),
        (
            "HTML text",
            value
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;"),
        ),
        ("base64", STANDARD.encode(value)),
        ("base64, unpadded", STANDARD_NO_PAD.encode(value)),
        ("base64url", URL_SAFE.encode(value)),
        ("base64url, unpadded", URL_SAFE_NO_PAD.encode(value)),
        ("hex", hex::encode(value)),
        ("hex, uppercase", hex::encode_upper(value)),
    ];
    // Inside a larger base64 blob, at each offset mod 3: Basic credentials.
    for user in ["a", "ab", "abc"] {
        forms.push((
            "in Basic credentials",
            STANDARD.encode(format!("{user}:{value}")),
        ));
    }
    // ... and base64url: a JWT's payload (the value as it is, not
    // JSON-escaped: base64 of another form is not a form of its own).
    forms.push((
        "in a base64url blob",
        URL_SAFE_NO_PAD.encode(format!("{{\"k\":\"{value}\"}}")),
    ));
    forms
}

#[test]
fn redacts_every_form_the_wire_gives_a_value() {
    for value in [CANARY, "p\u{e4} ss<&>\"'{x}/+=~*"] {
        let r = Redactor::default();
        r.add("KEY", value.as_bytes());
        let forms = wire_forms(value);
        let distinct: std::collections::BTreeSet<&str> =
            forms.iter().map(|(_, form)| form.as_str()).collect();
        // The value needs escaping in most forms: this is not one form
        // checked twenty times.
        assert!(distinct.len() >= 12, "{value:?}: {distinct:?}");
        for (what, form) in &forms {
            let text = format!("before {form} after");
            let out = r.redact(&text);
            assert!(
                out.contains("[redacted:KEY]") && !out.contains(form.as_str()),
                "{value:?} {what} ({form}) not redacted: {out}"
            );
        }
    }
}

#[test]
fn catches_value_inside_basic_credentials_at_any_offset() {
    let r = redactor();
    for user in ["u", "us", "usr", "alice"] {
        let header = STANDARD.encode(format!("{user}:{CANARY}"));
        let out = r.redact(&header);
        assert!(
            out.contains("[redacted:KEY]"),
            "missed Basic for user {user}"
        );
    }
}

#[test]
fn longest_overlapping_value_wins() {
    let r = Redactor::default();
    r.add("SHORT", b"abcdefgh");
    r.add("LONG", b"abcdefgh-ijkl");
    assert_eq!(r.redact("x abcdefgh-ijkl y"), "x [redacted:LONG] y");
    assert_eq!(r.redact("x abcdefgh y"), "x [redacted:SHORT] y");
}

#[test]
fn catches_the_forms_urls_print() {
    let r = Redactor::default();
    r.add("PW", "pa ss+wörd{x}".as_bytes());
    for written in ["https://h/a/{v}", "https://h/?k={v}", "https://u:{v}@h/"] {
        let raw = written.replace("{v}", "pa ss+wörd{x}");
        let url = url::Url::parse(&raw).expect("valid url");
        let out = r.redact(url.as_str());
        assert!(out.contains("[redacted:PW]"), "missed in {url}");
    }
}

/// Found by fuzzing (fuzz/corpus/redact): the URL parser drops line breaks
/// and tabs, turns `\` into `/` in a path, and starts a query or fragment
/// at a `?` or `#` in the value, escaping each part its own way.
#[test]
fn catches_values_the_url_parser_reshapes() {
    for (written, value) in [
        ("https://h/?{v}", "!3\n\0\0\x005"),
        ("https://h/a/{v}", "tab\tbed value"),
        ("https://h/a/{v}", "ab#c d`e"),
        ("https://h/?k={v}", "ab#c d`e"),
        ("https://h/a/{v}", "back\\slash x"),
        ("https://h/a/{v}", "p th?q y#f `z"),
        ("https://h/a/{v}", "back\\slash#then\\x y"),
        (
            "https://user:{v}@example.com/",
            "\\'`\u{1a}=`#\u{1a}\"='\\\u{1f}=  ",
        ),
        (
            "https://user:{v}@example.com/",
            "\0@Aja'j\u{11}j@Example.com/\\*j",
        ),
    ] {
        let r = Redactor::default();
        r.add("PW", value.as_bytes());
        let url = url::Url::parse(&written.replace("{v}", value)).expect("valid url");
        let out = r.redact(url.as_str());
        assert!(out.contains("[redacted:PW]"), "{value:?} missed in {url}");
    }
}

#[test]
fn debug_shows_how_many_forms_never_a_value() {
    let shown = format!("{:?}", redactor());
    assert!(shown.starts_with("Redactor { forms: "), "{shown}");
    assert!(
        !shown.contains(CANARY) && !shown.contains("cAn4ry"),
        "{shown}"
    );
}

#[test]
fn plugin_text_loses_control_characters() {
    let clean = sanitize_plugin_text(&Redactor::default(), "bad\u{1b}[31mred\nline");
    assert!(!clean.contains('\u{1b}'));
    assert!(!clean.contains('\n'));
}

/// A run may derive a bounded number of values (a lower bound here, so the
/// test is quick); a value it knows already is not counted, and the one past
/// the bound is still learned, so the error path that follows leaks nothing.
#[test]
fn derived_values_are_bounded_and_known_ones_are_not_counted() {
    const LIMIT: usize = 300;
    let r = redactor();
    r.limit_derived(LIMIT);
    for _ in 0..3 {
        r.add_derived("KEY", CANARY.as_bytes())
            .expect("a known value is not new");
    }
    for i in 0..LIMIT {
        r.add_derived("SIG", format!("sig-{i:08}").as_bytes())
            .expect("within the bound");
    }
    let error = r
        .add_derived("SIG", b"one-too-many")
        .expect_err("past the bound");
    assert!(
        error
            .to_string()
            .contains("derived more than 20000 secret values"),
        "{error}"
    );
    assert_eq!(r.redact("x one-too-many y"), "x [redacted:SIG] y");
    assert_eq!(r.redact("a sig-00000042 b"), "a [redacted:SIG] b");
}
