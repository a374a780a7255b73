//! Property: random values, escaped one character at a time each its own way,
//! or put in base64 (at any offset, wrapped or not, escaped first or not), in
//! random text, never survive. The encoders here are written from the specs
//! (RFC 8259, the HTML character reference syntax, RFC 3986, RFC 4648), not
//! taken from the redactor.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;

use super::Redactor;

/// An escape syntax, each character spelled by its own choice.
#[derive(Clone, Copy, Debug)]
enum Escape {
    Json,
    Html,
    Percent,
}

/// How the value reaches the text.
#[derive(Clone, Debug)]
enum Form {
    Escaped(Escape),
    Base64 {
        url: bool,
        pad: bool,
        /// Bytes of payload before the value (its offset in the blob).
        lead: Vec<u8>,
        trail: Vec<u8>,
        /// Wrapped at 64 or 76 columns, with `\r\n` or `\n`.
        wrap: Option<(usize, bool)>,
        /// Escaped before it was encoded (a JWT payload, a `data:` URL).
        escaped: Option<Escape>,
    },
    Hex {
        upper: bool,
    },
}

fn hex_case(text: String, upper: bool) -> String {
    if upper {
        text.to_uppercase()
    } else {
        text.to_lowercase()
    }
}

/// `value` as a JSON string's content, each character by its own choice.
fn json(value: &str, choices: &mut impl Iterator<Item = u8>) -> String {
    let mut out = String::new();
    for c in value.chars() {
        let choice = choices.next().unwrap_or(0) % 4;
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\n' => Some("\\n"),
            '\t' => Some("\\t"),
            '\r' => Some("\\r"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            _ => None,
        };
        let must = matches!(c, '"' | '\\') || c.is_control();
        match (choice, short) {
            (0, _) if !must => out.push(c),
            (3, Some(short)) => out.push_str(short),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(
                        &hex_case(format!("\\u{unit:04x}"), choice == 2).replace("\\U", "\\u"),
                    );
                }
            }
        }
    }
    out
}

/// The names HTML gives one character, from the WHATWG table.
fn names(c: char) -> Vec<&'static str> {
    let mut buf = [0; 4];
    let spelled = &*c.encode_utf8(&mut buf);
    entities::ENTITIES
        .iter()
        .filter(|e| e.characters == spelled && e.entity.ends_with(';'))
        .map(|e| e.entity)
        .collect()
}

/// `value` as HTML text, each character by its own choice.
fn html(value: &str, choices: &mut impl Iterator<Item = u8>) -> String {
    let mut out = String::new();
    for c in value.chars() {
        let choice = choices.next().unwrap_or(0);
        let zeros = "0".repeat(usize::from(choices.next().unwrap_or(0) % 3));
        let code = u32::from(c);
        let must = matches!(c, '&' | '<' | '>' | '"' | '\'');
        match choice % 5 {
            0 if !must => out.push(c),
            1 => out.push_str(&format!("&#{zeros}{code};")),
            2 => out.push_str(&format!("&#x{zeros}{code:x};")),
            3 => out.push_str(&format!("&#X{zeros}{code:X};")),
            _ => match names(c).get(usize::from(choice) % 7) {
                Some(name) => out.push_str(name),
                None => out.push_str(&format!("&#{code};")),
            },
        }
    }
    out
}

/// `value` percent-encoded, each byte by its own choice, `+` for a space.
fn percent(value: &str, choices: &mut impl Iterator<Item = u8>) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match (choices.next().unwrap_or(0) % 4, b) {
            (0, b' ') => out.push('+'),
            (0 | 3, b) if b.is_ascii_graphic() && b != b'%' || b == b' ' => out.push(char::from(b)),
            (1, b) => out.push_str(&format!("%{b:02X}")),
            (_, b) => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

fn escape(how: Escape, value: &str, choices: &[u8]) -> String {
    let mut choices = choices.iter().copied().cycle();
    match how {
        Escape::Json => json(value, &mut choices),
        Escape::Html => html(value, &mut choices),
        Escape::Percent => percent(value, &mut choices),
    }
}

fn spell(form: &Form, value: &str, choices: &[u8]) -> String {
    match form {
        Form::Escaped(how) => escape(*how, value, choices),
        Form::Hex { upper } => hex_case(hex::encode(value), *upper),
        Form::Base64 {
            url,
            pad,
            lead,
            trail,
            wrap,
            escaped,
        } => {
            let inner = match escaped {
                Some(how) => escape(*how, value, choices),
                None => value.to_string(),
            };
            let mut payload = lead.clone();
            payload.extend_from_slice(inner.as_bytes());
            payload.extend_from_slice(trail);
            let engine = match (url, pad) {
                (false, true) => &STANDARD,
                (false, false) => &STANDARD_NO_PAD,
                (true, true) => &URL_SAFE,
                (true, false) => &URL_SAFE_NO_PAD,
            };
            let encoded = engine.encode(&payload);
            match wrap {
                None => encoded,
                Some((width, crlf)) => encoded
                    .as_bytes()
                    .chunks(*width)
                    .map(|line| String::from_utf8_lossy(line).into_owned())
                    .collect::<Vec<_>>()
                    .join(if *crlf { "\r\n" } else { "\n" }),
            }
        }
    }
}

fn escape_strategy() -> impl Strategy<Value = Escape> {
    prop_oneof![
        Just(Escape::Json),
        Just(Escape::Html),
        Just(Escape::Percent)
    ]
}

fn form_strategy() -> impl Strategy<Value = Form> {
    // Payload around the value: any bytes but the escapes' own first bytes,
    // which would join the value's first escape (`\` + `\u000a` is an
    // escaped backslash, then text).
    let bytes = || {
        prop::collection::vec(
            any::<u8>().prop_filter("no escape", |b| !b"\\&%".contains(b)),
            0..40,
        )
    };
    prop_oneof![
        escape_strategy().prop_map(Form::Escaped),
        any::<bool>().prop_map(|upper| Form::Hex { upper }),
        (
            any::<bool>(),
            any::<bool>(),
            bytes(),
            bytes(),
            prop::option::of((prop_oneof![Just(64usize), Just(76)], any::<bool>())),
            prop::option::of(escape_strategy()),
        )
            .prop_map(|(url, pad, lead, trail, wrap, escaped)| Form::Base64 {
                url,
                pad,
                lead,
                trail,
                wrap,
                escaped,
            }),
    ]
}

/// Values made of what needs escaping: ASCII, the escapers' own syntax,
/// Latin-1, CJK, characters beyond the BMP, control characters.
fn value_strategy() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => prop::char::range('a', 'z'),
        2 => prop::char::range('!', '~'),
        2 => prop::sample::select(vec!['"', '\\', '/', '<', '>', '&', '\'', '+', '%', ' ', '#', ';', '=']),
        1 => prop::sample::select(vec!['\n', '\t', '\u{1}', '\u{7f}']),
        1 => prop::sample::select(vec!['é', 'ä', 'ß', '€', '中', '∳', '😀', '𝔸']),
    ];
    prop::collection::vec(c, 4..20).prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn no_spelling_of_a_value_survives(
        value in value_strategy(),
        form in form_strategy(),
        choices in prop::collection::vec(any::<u8>(), 1..64),
        before in "[a-z0-9 .,:;={}\\[\\]\"-]{0,40}",
        after in "[a-z0-9 .,:;={}\\[\\]\"-]{0,40}",
    ) {
        let redactor = Redactor::default();
        redactor.add("K", value.as_bytes());
        let spelled = spell(&form, &value, &choices);
        let text = format!("{before}{spelled}{after}");
        let out = redactor.redact(&text);
        prop_assert!(out.contains("[redacted:K]"), "{form:?} {spelled:?} not found in {text:?}");
        prop_assert!(!out.contains(&spelled), "{form:?}: {out:?}");
        prop_assert!(!out.contains(&value), "{form:?}: {out:?}");
        // Escapes are redacted over exactly the span that spells the value.
        if let Form::Escaped(_) = form {
            prop_assert_eq!(out.into_owned(), format!("{before}[redacted:K]{after}"));
        }
    }
}
