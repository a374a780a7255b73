//! The encoded forms a secret value takes on the wire and in logs.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

/// Bytes RFC 3986 leaves unencoded; what most URL encoders keep.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What the `url` crate (and so reqwest) escapes in a query: a secret pasted
/// into a URL is printed in this form.
const URL_QUERY: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>');
/// ... in a special (http) query, which also escapes `'`.
const URL_SPECIAL_QUERY: &AsciiSet = &URL_QUERY.add(b'\'');
/// ... in a path.
const URL_PATH: &AsciiSet = &URL_QUERY.add(b'?').add(b'`').add(b'{').add(b'}');
/// ... in `user:password@`.
const URL_USERINFO: &AsciiSet = &URL_PATH
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|');

/// ... in a fragment (after `#`), which the printed URL keeps.
const URL_FRAGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');

/// Every form a value may take in a request, a response or a log line.
pub fn encoded_forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut forms: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut push = |form: Vec<u8>| {
        let form = Zeroizing::new(form);
        if !forms.iter().any(|f| **f == *form) {
            forms.push(form);
        }
    };
    push(value.to_vec());
    // A raw value pasted into a query string reaches the server with `+` read as
    // a space; a server that echoes it back shows that form.
    if value.contains(&b'+') {
        push(
            value
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        );
    }
    if let Ok(text) = std::str::from_utf8(value) {
        for set in [
            NON_ALPHANUMERIC,
            UNRESERVED,
            URL_QUERY,
            URL_SPECIAL_QUERY,
            URL_PATH,
            URL_USERINFO,
        ] {
            let upper = utf8_percent_encode(text, set).to_string();
            push(lower_hex_escapes(&upper).into_bytes());
            push(upper.into_bytes());
        }
        for form in parsed_url_forms(text) {
            push(form.into_bytes());
        }
        let form: String = form_urlencoded::byte_serialize(value).collect();
        push(lower_hex_escapes(&form).into_bytes());
        push(form.into_bytes());
        // HTML reports escape these; the form is only new when the value has one.
        let html = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        push(html.into_bytes());
        if let Ok(json) = serde_json::to_string(text) {
            let inner = &json[1..json.len() - 1];
            push(inner.replace('/', "\\/").into_bytes());
            push(ascii_json(inner).into_bytes());
            push(inner.as_bytes().to_vec());
        }
    }
    for engine in [&STANDARD, &URL_SAFE] {
        push(engine.encode(value).into_bytes());
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        push(engine.encode(value).into_bytes());
        for form in embedded_base64(engine, value) {
            push(form);
        }
    }
    push(hex::encode(value).into_bytes());
    push(hex::encode_upper(value).into_bytes());
    forms
}

/// The base64 characters that depend only on `value`'s bytes when it sits at
/// each of the three offsets (mod 3) inside a larger encoded blob: whatever
/// surrounds it, these characters appear.
fn embedded_base64(engine: &base64::engine::GeneralPurpose, value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut shifted = vec![0u8; offset];
        shifted.extend_from_slice(value);
        let encoded = engine.encode(&shifted);
        let start = (8 * offset).div_ceil(6);
        let end = (8 * (offset + value.len())) / 6;
        if end > start && end <= encoded.len() {
            out.push(encoded.as_bytes()[start..end].to_vec());
        }
        shifted.iter_mut().for_each(|b| *b = 0);
    }
    out
}

/// Where in a URL a piece of text sits.
#[derive(Clone, Copy)]
enum UrlPart {
    Path,
    Query,
    Fragment,
}

/// The forms a value takes inside a URL written in a template, as the `url`
/// crate (reqwest's) parses and prints it: ASCII tabs and line breaks vanish,
/// a `\` in an http path is a `/`, and a `?` or `#` in the value starts the
/// query or the fragment, each escaped with its own set. Found by fuzzing
/// (fuzz/corpus/redact): these forms were missed.
fn parsed_url_forms(text: &str) -> Vec<String> {
    let stripped: String = text
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let mut forms = vec![
        url_pieces(&stripped, UrlPart::Path),
        url_pieces(&stripped, UrlPart::Query),
        url_pieces(&stripped, UrlPart::Fragment),
    ];
    if let Some(form) = password_past_the_host(&stripped) {
        forms.push(form);
    }
    if stripped.len() != text.len() {
        forms.push(utf8_percent_encode(&stripped, URL_USERINFO).to_string());
        forms.push(utf8_percent_encode(&stripped, URL_QUERY).to_string());
    }
    forms
}

/// A value pasted as a URL's password that holds `@host` and then `/`, `\`,
/// `?` or `#` reshapes the URL: its last `@` before that ends the user info,
/// the host after it is lowercased, and the rest is the path. Found by fuzzing
/// (fuzz/corpus/redact/at-sign-then-slash-in-password).
fn password_past_the_host(text: &str) -> Option<String> {
    let end = text.find(['/', '\\', '?', '#'])?;
    let at = text[..end].rfind('@')?;
    Some(format!(
        "{}{}{}",
        utf8_percent_encode(&text[..at], URL_USERINFO),
        text[at..end].to_ascii_lowercase(),
        url_pieces(&text[end..], UrlPart::Path)
    ))
}

/// Escape `text` as the URL parser does from `part` on, switching sets where
/// a `?` or `#` starts the next part.
fn url_pieces(text: &str, mut part: UrlPart) -> String {
    let mut out = String::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        match (part, c) {
            (UrlPart::Path, '?') => part = UrlPart::Query,
            (UrlPart::Path | UrlPart::Query, '#') => part = UrlPart::Fragment,
            // Only the path turns `\` into `/`; the query and the fragment
            // keep it (found by fuzzing: fuzz/corpus/redact/backslash-after-hash).
            (UrlPart::Path, '\\') => {
                out.push('/');
                continue;
            }
            _ => {
                let set = match part {
                    UrlPart::Path => URL_PATH,
                    UrlPart::Query => URL_SPECIAL_QUERY,
                    UrlPart::Fragment => URL_FRAGMENT,
                };
                out.extend(utf8_percent_encode(c.encode_utf8(&mut buf), set));
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// `%2F` → `%2f`: some encoders emit lowercase hex.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(h) = chars.next() {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

/// JSON escaping with every non-ASCII character as `\uXXXX` (Python's default).
fn ascii_json(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    for c in escaped.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}
