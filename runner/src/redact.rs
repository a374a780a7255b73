//! One redactor for every byte that leaves the process.
//!
//! It knows every secret value of the run (resolved or captured as secret) and
//! the forms the value takes on the wire: percent-encoded, form-encoded,
//! JSON-escaped, base64 and base64url (also embedded at any offset in a larger
//! base64 blob, which covers `user:value` Basic credentials), and hex. Matching
//! is one aho-corasick pass, leftmost-longest, so overlapping values and
//! encodings resolve to the longest.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

/// Shorter patterns would mask ordinary text.
const MIN_PATTERN: usize = 4;

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

#[derive(Default)]
struct Inner {
    patterns: Vec<Zeroizing<Vec<u8>>>,
    markers: Vec<String>,
    matcher: Option<AhoCorasick>,
    /// The matcher could not be built: redact everything rather than nothing.
    broken: bool,
}

/// Replaces every known secret form with `[redacted:NAME]`.
#[derive(Default)]
pub struct Redactor {
    inner: RwLock<Inner>,
}

/// The process-wide redactor: errors and panics are printed through it too.
pub fn global() -> &'static Redactor {
    static GLOBAL: OnceLock<Redactor> = OnceLock::new();
    GLOBAL.get_or_init(Redactor::default)
}

impl Redactor {
    /// Learn a value and its encoded forms, shown as `[redacted:label]`.
    pub fn add(&self, label: &str, value: &[u8]) {
        let marker = format!("[redacted:{label}]");
        let forms = encoded_forms(value);
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        for form in forms {
            if form.len() >= MIN_PATTERN && !inner.patterns.iter().any(|p| **p == *form) {
                inner.patterns.push(form);
                inner.markers.push(marker.clone());
            }
        }
        match AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(inner.patterns.iter().map(|p| p.as_slice()))
        {
            Ok(matcher) => inner.matcher = Some(matcher),
            Err(_) => inner.broken = true,
        }
    }

    /// Redact text.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Markers are ASCII and patterns cut at byte boundaries of matches, so
            // a lossy decode changes nothing unless a match split a character.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Redact bytes.
    pub fn redact_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        let inner = match self.inner.read() {
            Ok(inner) if !inner.broken => inner,
            // A poisoned lock (a panic mid-update) or a matcher that could not be
            // built: show nothing rather than risk a leak.
            _ => return Cow::Owned(b"[redacted]".to_vec()),
        };
        let Some(matcher) = &inner.matcher else {
            return Cow::Borrowed(bytes);
        };
        if !matcher.is_match(bytes) {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut last = 0;
        for m in matcher.find_iter(bytes) {
            out.extend_from_slice(&bytes[last..m.start()]);
            out.extend_from_slice(inner.markers[m.pattern().as_usize()].as_bytes());
            last = m.end();
        }
        out.extend_from_slice(&bytes[last..]);
        Cow::Owned(out)
    }

    /// Whether any known form occurs in `bytes` (the final check on files).
    pub fn finds(&self, bytes: &[u8]) -> bool {
        self.inner
            .read()
            .ok()
            .and_then(|i| i.matcher.as_ref().map(|m| m.is_match(bytes)))
            .unwrap_or(false)
    }
}

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
        let form: String = form_urlencoded::byte_serialize(value).collect();
        push(lower_hex_escapes(&form).into_bytes());
        push(form.into_bytes());
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

/// Make plugin-supplied text safe to print: redacted first (so neither the cut
/// nor the loss of newlines can break a value apart), then without control
/// characters (no terminal escapes, no fake extra lines) and bounded in length.
pub fn sanitize_plugin_text(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let text = global().redact(text);
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push(if c == '\n' || c == '\t' { ' ' } else { '�' });
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "cAn4ry/Se+cret=";

    fn redactor() -> Redactor {
        let r = Redactor::default();
        r.add("KEY", CANARY.as_bytes());
        r
    }

    #[test]
    fn redacts_raw_and_every_encoded_form() {
        let r = redactor();
        for form in encoded_forms(CANARY.as_bytes()) {
            let text = format!("before {} after", String::from_utf8_lossy(&form));
            let out = r.redact(&text);
            assert!(out.contains("[redacted:KEY]"), "not redacted: {text}");
            assert!(!out.contains(CANARY));
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
            let url = reqwest::Url::parse(&raw).expect("valid url");
            let out = r.redact(url.as_str());
            assert!(out.contains("[redacted:PW]"), "missed in {url}");
        }
    }

    #[test]
    fn plugin_text_loses_control_characters() {
        let clean = sanitize_plugin_text("bad\u{1b}[31mred\nline");
        assert!(!clean.contains('\u{1b}'));
        assert!(!clean.contains('\n'));
    }
}
