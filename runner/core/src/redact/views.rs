//! Decoded views: a text read as JSON string escapes, as HTML character
//! references, or as percent-encoding, each byte of the reading mapped back
//! to the source bytes that spell it.
//!
//! A value can be escaped one character at a time, each character its own
//! way (`\u0061`, `\u0041`, `a`; `&#34;`, `&#x22;`, `&quot;`), so a value with
//! k escapable characters has 2^k spellings: listing them cannot keep up.
//! Decoding the text instead gives one reading in which every spelling is
//! the value itself, and the same matcher finds it there.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The most source bytes one decoded byte can take, over every view: an
/// ASCII character as an HTML reference (`&DiacriticalGrave;` for a
/// backtick, 18 bytes; a numeric reference is cut at [`MAX_DIGITS`]), read
/// again inside base64 (4/3), wrapped at 64 columns. A test checks it
/// against the table.
pub(super) const MAX_EXPANSION: usize = 25;

/// Digits a numeric character reference may have (leading zeros included):
/// it bounds how far back a stream must look.
const MAX_DIGITS: usize = 8;

/// The longest named reference, without `&` and `;` (`CounterClockwiseContourIntegral`).
const MAX_NAME: usize = 32;

/// A reading of (part of) a text: its bytes, and for each byte the source
/// span that spells it.
#[derive(Default)]
pub(super) struct View {
    pub(super) bytes: Vec<u8>,
    from: Vec<u32>,
    to: Vec<u32>,
}

impl View {
    fn with_capacity(n: usize) -> View {
        View {
            bytes: Vec::with_capacity(n),
            from: Vec::with_capacity(n),
            to: Vec::with_capacity(n),
        }
    }

    /// Bytes spelled together by `from..to` of the input.
    fn push(&mut self, bytes: &[u8], from: usize, to: usize) {
        for &b in bytes {
            self.bytes.push(b);
            self.from.push(from as u32);
            self.to.push(to as u32);
        }
    }

    /// One byte spelled by the source span `(from, to)`.
    pub(super) fn push_mapped(&mut self, byte: u8, (from, to): (usize, usize)) {
        self.push(&[byte], from, to);
    }

    /// `other`'s bytes after this view's.
    pub(super) fn append(&mut self, other: View) {
        self.bytes.extend_from_slice(&other.bytes);
        self.from.extend_from_slice(&other.from);
        self.to.extend_from_slice(&other.to);
    }

    /// `start..end` of this view widened so that its source span begins and
    /// ends between two spellings (never inside an escape) at places
    /// `clean` admits; the view's two ends always are.
    pub(super) fn widened(
        &self,
        start: usize,
        end: usize,
        clean: impl Fn(usize) -> bool,
    ) -> (usize, usize) {
        let mut s = start;
        while s > 0 && !clean(self.from[s] as usize) {
            s -= 1;
        }
        let mut e = end;
        while e < self.bytes.len() && !clean(self.to[e - 1] as usize) {
            e += 1;
        }
        (s, e)
    }

    /// The source span that spells `start..end` of this view.
    pub(super) fn source(&self, start: usize, end: usize) -> (usize, usize) {
        (self.from[start] as usize, self.to[end - 1] as usize)
    }

    /// `bytes` as they are, at `offset` in the source.
    pub(super) fn identity(bytes: &[u8], offset: usize) -> View {
        let mut view = View::with_capacity(bytes.len());
        view.bytes.extend_from_slice(bytes);
        view.from
            .extend((0..bytes.len()).map(|i| (offset + i) as u32));
        view.to
            .extend((0..bytes.len()).map(|i| (offset + i + 1) as u32));
        view
    }
}

/// The escape syntaxes a view decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Syntax {
    /// JSON (and JavaScript) string escapes: `\uXXXX` with surrogate pairs,
    /// `\xHH`, `\/` and the short escapes.
    Json,
    /// HTML and XML character references: named, `&#NN;`, `&#xHH;`.
    Html,
    /// Percent-encoding, `+` for a space. Every `+` (written or decoded)
    /// reads as a space, so that any mix of `+`, `%2B` and `%20` reads the
    /// same; values are matched in the same canonical form.
    Percent,
}

impl Syntax {
    /// Every syntax.
    pub(super) const ALL: [Syntax; 3] = [Syntax::Json, Syntax::Html, Syntax::Percent];

    /// The byte every escape of this syntax starts with.
    pub(super) fn trigger(self) -> u8 {
        match self {
            Syntax::Json => b'\\',
            Syntax::Html => b'&',
            Syntax::Percent => b'%',
        }
    }

    /// Decode `input[start..end]`, spans given in `input`'s coordinates.
    pub(super) fn decode(self, input: &[u8], start: usize, end: usize) -> View {
        let mut view = View::with_capacity(end - start);
        let mut at = start;
        while at < end {
            let byte = input[at];
            let escape = if byte == self.trigger() {
                match self {
                    Syntax::Json => json_escape(&input[at..end]),
                    Syntax::Html => html_reference(&input[at..end]),
                    Syntax::Percent => percent_escape(&input[at..end]),
                }
            } else {
                None
            };
            match escape {
                Some((decoded, len)) => {
                    view.push(decoded.as_slice(), at, at + len);
                    at += len;
                }
                None => {
                    let byte = if self == Syntax::Percent && byte == b'+' {
                        b' '
                    } else {
                        byte
                    };
                    view.push(&[byte], at, at + 1);
                    at += 1;
                }
            }
        }
        view
    }
}

/// Up to four bytes of UTF-8, the decoding of one escape.
struct Decoded {
    bytes: [u8; 4],
    len: usize,
}

impl Decoded {
    fn byte(b: u8) -> Decoded {
        Decoded {
            bytes: [b, 0, 0, 0],
            len: 1,
        }
    }

    /// A code point; one that is no character (a lone surrogate, beyond
    /// U+10FFFF) reads as U+FFFD, which no escaper writes for a value.
    fn char(code: u32) -> Decoded {
        let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut bytes = [0; 4];
        let len = c.encode_utf8(&mut bytes).len();
        Decoded { bytes, len }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn hex_value(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// `n` hex digits at the start of `bytes`.
fn hex_digits(bytes: &[u8], n: usize) -> Option<u32> {
    let digits = bytes.get(..n)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | hex_value(b)?))
}

/// A JSON or JavaScript escape at the start of `s` (which starts with `\`):
/// what it decodes to and how long it is.
fn json_escape(s: &[u8]) -> Option<(Decoded, usize)> {
    let byte = |b| Some((Decoded::byte(b), 2));
    match *s.get(1)? {
        b'u' => {
            let unit = hex_digits(&s[2..], 4)?;
            if (0xD800..0xDC00).contains(&unit)
                && s.get(6..8) == Some(b"\\u")
                && let Some(low) = hex_digits(&s[8..], 4)
                && (0xDC00..0xE000).contains(&low)
            {
                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Some((Decoded::char(code), 12));
            }
            Some((Decoded::char(unit), 6))
        }
        b'x' => Some((Decoded::char(hex_digits(&s[2..], 2)?), 4)),
        b'n' => byte(b'\n'),
        b't' => byte(b'\t'),
        b'r' => byte(b'\r'),
        b'b' => byte(0x08),
        b'f' => byte(0x0c),
        b'v' => byte(0x0b),
        b'0' => byte(0),
        c @ (b'"' | b'\\' | b'/' | b'\'') => byte(c),
        _ => None,
    }
}

/// A character reference at the start of `s` (which starts with `&`).
fn html_reference(s: &[u8]) -> Option<(Decoded, usize)> {
    if s.get(1) == Some(&b'#') {
        let (radix, skip) = match s.get(2) {
            Some(b'x' | b'X') => (16, 3),
            _ => (10, 2),
        };
        let digits = s[skip..]
            .iter()
            .take(MAX_DIGITS + 1)
            .take_while(|b| char::from(**b).is_digit(radix))
            .count();
        if digits == 0 || digits > MAX_DIGITS || s.get(skip + digits) != Some(&b';') {
            return None;
        }
        let code = s[skip..skip + digits].iter().fold(0u32, |acc, &b| {
            acc * radix + char::from(b).to_digit(radix).unwrap_or(0)
        });
        return Some((Decoded::char(code), skip + digits + 1));
    }
    let name_len = s[1..]
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if name_len == 0 || name_len > MAX_NAME || s.get(1 + name_len) != Some(&b';') {
        return None;
    }
    let name = std::str::from_utf8(&s[1..1 + name_len]).ok()?;
    let chars = named_references().get(name)?;
    let mut decoded = Decoded {
        bytes: [0; 4],
        len: 0,
    };
    // Two references decode to more than four bytes (a character and a
    // combining mark): only the first character is kept, so they never
    // match, which is the safe side of a value nobody writes that way.
    let first = chars.chars().next()?;
    decoded.len = first.encode_utf8(&mut decoded.bytes).len();
    Some((decoded, name_len + 2))
}

/// HTML5's named character references (`amp` → `&`), from the `entities`
/// crate's copy of the WHATWG table; only the forms ending in `;`.
fn named_references() -> &'static HashMap<&'static str, &'static str> {
    static TABLE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        entities::ENTITIES
            .iter()
            .filter_map(|e| {
                let name = e.entity.strip_prefix('&')?.strip_suffix(';')?;
                Some((name, e.characters))
            })
            .collect()
    })
}

/// A `%XX` escape at the start of `s`, `+` read as a space.
fn percent_escape(s: &[u8]) -> Option<(Decoded, usize)> {
    let byte = hex_digits(&s[1..], 2)? as u8;
    Some((Decoded::byte(if byte == b'+' { b' ' } else { byte }), 3))
}

/// The parts of `text` to decode for `syntax`: around each escape, as far
/// as a match holding it can reach (`reach` source bytes), merged. A match
/// in a view holds at least one escape (a match without one is the value as
/// it is, found in the text itself), so nothing outside these parts can
/// hold one.
pub(super) fn windows(text: &[u8], syntax: Syntax, reach: usize) -> Vec<(usize, usize)> {
    // A window may start inside an escape, which then reads wrongly: the
    // margin keeps such a start out of any match's reach.
    let margin = reach + 16;
    let mut out: Vec<(usize, usize)> = Vec::new();
    for at in memchr::memchr_iter(syntax.trigger(), text) {
        let start = at.saturating_sub(margin);
        let end = (at + margin).min(text.len());
        match out.last_mut() {
            Some(last) if last.1 >= start => last.1 = end,
            _ => out.push((start, end)),
        }
        if end == text.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(syntax: Syntax, text: &str) -> String {
        let view = syntax.decode(text.as_bytes(), 0, text.len());
        String::from_utf8_lossy(&view.bytes).into_owned()
    }

    #[test]
    fn json_reads_every_escape() {
        assert_eq!(
            read(
                Syntax::Json,
                r#"a\u0026\u003C\u003e\"\\\/\n\x41\uD83D\uDE00\ud83d\ude00z"#
            ),
            "a&<>\"\\/\nA😀😀z"
        );
        // A lone surrogate, a bad escape and a cut one stay harmless.
        assert_eq!(read(Syntax::Json, r"\uD800x\q\u12"), "\u{fffd}x\\q\\u12");
    }

    #[test]
    fn html_reads_named_decimal_and_hex_references() {
        assert_eq!(
            read(
                Syntax::Html,
                "&#34;&#x22;&#X0022;&quot;&#0000043;&plus;&amp;&CounterClockwiseContourIntegral;&nope;&#;"
            ),
            "\"\"\"\"++&\u{2233}&nope;&#;"
        );
        // Too many digits is not a reference (it bounds a stream's look-back).
        assert_eq!(read(Syntax::Html, "&#000000065;"), "&#000000065;");
    }

    #[test]
    fn percent_reads_either_case_and_plus_as_a_space() {
        assert_eq!(
            read(Syntax::Percent, "a%2Fb%2fc+d%2Be%20%zz"),
            "a/b/c d e %zz"
        );
    }

    #[test]
    fn each_byte_maps_to_the_source_that_spells_it() {
        let text = "x&#34;y";
        let view = Syntax::Html.decode(text.as_bytes(), 0, text.len());
        assert_eq!(view.source(1, 2), (1, 6));
        assert_eq!(view.source(0, 3), (0, 7));
    }

    /// No named reference spells a byte in more source bytes than
    /// [`MAX_EXPANSION`] allows once read again inside wrapped base64 (4/3,
    /// and a line break every 64 digits): a stream's look-back holds.
    #[test]
    fn max_expansion_covers_every_named_reference() {
        let widest = entities::ENTITIES
            .iter()
            .filter(|e| e.entity.ends_with(';'))
            .map(|e| e.entity.len().div_ceil(e.characters.len()))
            .max()
            .expect("a table");
        assert!(widest * 4 * 66 <= MAX_EXPANSION * 3 * 64, "{widest}");
        // A numeric reference: `&#x`, eight digits, `;` for one byte.
        const { assert!((3 + MAX_DIGITS + 1) * 4 * 66 <= MAX_EXPANSION * 3 * 64) };
    }

    #[test]
    fn windows_cover_each_escape_and_merge() {
        let text = format!(
            "{}\\n{}\\t{}",
            "a".repeat(100),
            "b".repeat(10),
            "c".repeat(100)
        );
        let windows = windows(text.as_bytes(), Syntax::Json, 20);
        assert_eq!(windows, vec![(100 - 36, 112 + 36)]);
        assert!(super::windows(b"no escapes", Syntax::Json, 20).is_empty());
    }
}
