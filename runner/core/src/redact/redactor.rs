//! The redactor: every known secret form, matched in one aho-corasick pass.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use zeroize::Zeroizing;

use super::forms::encoded_forms;
use super::sample::Sampler;

/// Shorter patterns would mask ordinary text.
const MIN_PATTERN: usize = 4;

#[derive(Default)]
struct Inner {
    patterns: Vec<Zeroizing<Vec<u8>>>,
    markers: Vec<String>,
    matcher: Option<AhoCorasick>,
    /// A cheaper first look for text that holds no pattern, when the
    /// patterns are long enough for it to pay.
    sampler: Option<Sampler>,
    /// The matcher could not be built: redact everything rather than nothing.
    broken: bool,
    /// The longest pattern: how far back a stream must look.
    longest: usize,
}

impl Inner {
    /// Whether any pattern occurs in `bytes`: the sampled first look when
    /// there is one, else the matcher's own scan.
    fn holds_any(&self, matcher: &AhoCorasick, bytes: &[u8]) -> bool {
        match &self.sampler {
            Some(sampler) => sampler.may_match(bytes, |around| matcher.is_match(around)),
            None => matcher.is_match(bytes),
        }
    }
}

/// Replaces every known secret form with `[redacted:NAME]`. Each run owns
/// one, knowing that run's values; [`Redactor::for_run`] also shows it to the
/// process-wide view ([`super::live`]) for as long as the run holds it.
#[derive(Default)]
pub struct Redactor {
    inner: RwLock<Inner>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forms = self.inner.read().map(|i| i.patterns.len()).unwrap_or(0);
        f.debug_struct("Redactor").field("forms", &forms).finish()
    }
}

impl Redactor {
    /// A redactor for one run, seen by the process-wide view until the last
    /// clone of it is dropped (its values are zeroed then).
    pub fn for_run() -> Arc<Redactor> {
        let redactor = Arc::new(Redactor::default());
        super::live::register(&redactor);
        redactor
    }

    /// Learn a value and its encoded forms, shown as `[redacted:label]`.
    pub fn add(&self, label: &str, value: &[u8]) {
        let marker = format!("[redacted:{label}]");
        let forms = encoded_forms(value);
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        for form in forms {
            if form.len() < MIN_PATTERN {
                continue;
            }
            match inner.patterns.iter().position(|p| **p == *form) {
                // A plugin's granted variable (`$KEY`) that also resolves as a
                // run secret is shown under the name the journey uses.
                Some(at)
                    if inner.markers[at].starts_with("[redacted:$") && !label.starts_with('$') =>
                {
                    inner.markers[at] = marker.clone();
                }
                Some(_) => {}
                None => {
                    inner.longest = inner.longest.max(form.len());
                    inner.patterns.push(form);
                    inner.markers.push(marker.clone());
                }
            }
        }
        // A contiguous NFA, never the DFA aho-corasick picks for few patterns:
        // the DFA's build time grows with the square of a pattern's length
        // (a 4 KiB value took 11 s, 16 KiB did not finish), and a secret may
        // be a PEM key or a large token. The NFA builds 30 × 64 KiB in ~0.2 s.
        match AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(inner.patterns.iter().map(|p| p.as_slice()))
        {
            Ok(matcher) => inner.matcher = Some(matcher),
            Err(_) => inner.broken = true,
        }
        inner.sampler = Sampler::new(&inner.patterns);
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
        if !inner.holds_any(matcher, bytes) {
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

    /// Redact the front of `pending` as far as later bytes cannot change the
    /// outcome (all of it when `at_end`), appending to `out`. Returns how many
    /// bytes of `pending` were consumed; the rest must wait for more input.
    pub(super) fn redact_prefix(&self, pending: &[u8], at_end: bool, out: &mut Vec<u8>) -> usize {
        let inner = match self.inner.read() {
            Ok(inner) if !inner.broken => inner,
            _ => {
                out.extend_from_slice(b"[redacted]");
                return pending.len();
            }
        };
        let Some(matcher) = &inner.matcher else {
            out.extend_from_slice(pending);
            return pending.len();
        };
        // A match starting before `settled` is wholly inside `pending`, whatever
        // comes next, because no pattern is longer than `longest`.
        let settled = if at_end {
            pending.len()
        } else {
            pending
                .len()
                .saturating_sub(inner.longest.saturating_sub(1))
        };
        let mut last = 0;
        for m in matcher.find_iter(pending) {
            if m.start() >= settled {
                break;
            }
            out.extend_from_slice(&pending[last..m.start()]);
            out.extend_from_slice(inner.markers[m.pattern().as_usize()].as_bytes());
            last = m.end();
        }
        let consumed = last.max(settled);
        out.extend_from_slice(&pending[last..consumed]);
        consumed
    }

    /// Whether any known form occurs in `bytes` (the final check on files).
    pub fn finds(&self, bytes: &[u8]) -> bool {
        self.inner
            .read()
            .ok()
            .and_then(|i| i.matcher.as_ref().map(|m| i.holds_any(m, bytes)))
            .unwrap_or(false)
    }
}

/// Make plugin-supplied text safe to print: redacted first (so neither the cut
/// nor the loss of newlines can break a value apart), then without control
/// characters (no terminal escapes, no fake extra lines) and bounded in length.
pub fn sanitize_plugin_text(redactor: &Redactor, text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let text = redactor.redact(text);
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
        let url =
            |written: &str| url::Url::parse(&written.replace("{v}", value)).expect("a valid URL");
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
}
