//! The encoded forms a secret value takes on the wire and in logs.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use zeroize::Zeroizing;

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

/// How a pattern's match is widened to the span it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The match is the span.
    Plain,
    /// Base64 digits that depend only on the value's bytes: the digit on
    /// each side also holds some of its bits, and padding may follow.
    Base64,
}

/// The forms a value takes in a request, a response or a log line that the
/// matcher looks for as they are. Escapes (JSON, HTML, percent) are not
/// listed: the redactor reads them decoded ([`super::views`]), so any mix of
/// them is the value itself there. What is listed is what no decoding
/// undoes: the value, the same with `+` and spaces swapped (a query read by a
/// server), as the URL parser reshapes it, as base64 and base64url at each of
/// the three byte offsets inside a larger blob, and as hex.
pub fn encoded_forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    patterns(value).into_iter().map(|(form, _)| form).collect()
}

/// [`encoded_forms`], each with its [`Kind`].
pub(super) fn patterns(value: &[u8]) -> Vec<(Zeroizing<Vec<u8>>, Kind)> {
    let mut forms: Vec<(Zeroizing<Vec<u8>>, Kind)> = Vec::new();
    let mut push = |form: Vec<u8>, kind: Kind| {
        let form = Zeroizing::new(form);
        if !forms.iter().any(|(f, _)| **f == *form) {
            forms.push((form, kind));
        }
    };
    push(value.to_vec(), Kind::Plain);
    // The percent view reads every `+` as a space; so does a server reading a
    // raw value pasted into a query, and a form encoder writes a space as `+`.
    let swap = |form: &[u8], from: u8, to: u8| -> Vec<u8> {
        form.iter()
            .map(|&b| if b == from { to } else { b })
            .collect()
    };
    push(swap(value, b'+', b' '), Kind::Plain);
    push(swap(value, b' ', b'+'), Kind::Plain);
    if let Ok(text) = std::str::from_utf8(value) {
        for form in parsed_url_forms(text) {
            // As printed when nothing in it needed a `%` (found in the text
            // as it is), and as the percent view reads it.
            let decoded: Vec<u8> = percent_encoding::percent_decode(form.as_bytes()).collect();
            push(swap(&decoded, b'+', b' '), Kind::Plain);
            push(decoded, Kind::Plain);
        }
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for form in embedded_base64(engine, value) {
            // Base64 in a query string, read by the percent view.
            push(swap(&form, b'+', b' '), Kind::Base64);
            push(form, Kind::Base64);
        }
    }
    push(hex::encode(value).into_bytes(), Kind::Plain);
    push(hex::encode_upper(value).into_bytes(), Kind::Plain);
    forms
}

/// The base64 characters that depend only on `value`'s bytes when it sits at
/// each of the three offsets (mod 3) inside a larger encoded blob: whatever
/// surrounds it, these characters appear.
fn embedded_base64(engine: &base64::engine::GeneralPurpose, value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut shifted = Zeroizing::new(vec![0u8; offset]);
        shifted.extend_from_slice(value);
        let encoded = Zeroizing::new(engine.encode(&*shifted));
        let start = (8 * offset).div_ceil(6);
        let end = (8 * (offset + value.len())) / 6;
        if end > start && end <= encoded.len() {
            out.push(encoded.as_bytes()[start..end].to_vec());
        }
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
