//! The redactor. Property: no secret survives.
//!
//! Secrets are arbitrary strings; the text around them is made of a plain
//! alphabet (no `%`, `\`, `&`, `+`: otherwise the fuzzer could spell a secret
//! in an encoding nobody uses and "find" it). The whole text is then put on
//! the wire in one of the forms the redactor claims to cover, by an
//! independent encoder (the `url` crate as reqwest uses it, serde_json,
//! base64, hex…). After redaction, every piece of output between two markers
//! is decoded back the same way; no secret may be found in it.

use std::io::Write as _;

use arbitrary::Arbitrary;
use reqflo_core::redact::{RedactingWriter, Redactor};

mod read;
mod wire;

use read::readings;
use wire::{encode, framing};

/// How the text reaches the redactor.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// As it is.
    Raw,
    /// Pasted raw into a query string; the server reads `+` as a space.
    PlusAsSpace,
    /// After `https://example.com/`: a path (and query or fragment after `?`, `#`).
    UrlPath,
    /// After `https://example.com/?`: a query (and a fragment after `#`).
    UrlQuery,
    /// As `https://user:TEXT@example.com/`.
    UrlPassword,
    /// A `query:` value: `url.query_pairs_mut().append_pair`.
    QueryPair,
    /// A form body (`application/x-www-form-urlencoded`).
    Form,
    /// A JSON string (serde_json).
    Json,
    /// A JSON string with every non-ASCII character as `\uXXXX` (Python's default).
    JsonAscii,
    /// A JSON string with `/` as `\/` (PHP's default).
    JsonSlash,
    /// HTML text (the HTML report).
    Html,
    /// Base64, standard alphabet, padded (e.g. Basic credentials).
    Base64,
    /// Base64 without padding.
    Base64NoPad,
    /// Base64url, padded.
    Base64Url,
    /// Base64url without padding (JWTs).
    Base64UrlNoPad,
    /// Lowercase hex.
    Hex,
    /// Uppercase hex.
    HexUpper,
    /// A JSON string, each character escaped its own way by the case's
    /// choices (raw, `\uXXXX` in either case, a short escape).
    JsonMixed,
    /// HTML text, each character its own way (raw, `&#N;`, `&#xH;` with or
    /// without leading zeros, a named reference).
    HtmlMixed,
    /// Percent-encoded, each byte its own way (raw, `%XX`, `%xx`, `+`).
    PercentMixed,
    /// Base64 wrapped at 76 columns with `\r\n` (MIME).
    Base64Wrapped,
    /// A JSON-mixed string inside base64url (a JWT payload).
    Base64UrlOfJsonMixed,
}

/// A piece of the plain text.
#[derive(Arbitrary, Debug)]
pub enum Piece {
    /// Filler, mapped onto the plain alphabet.
    Filler(Vec<u8>),
    /// The n-th secret.
    Secret(u8),
}

/// One input of the `redact` target.
#[derive(Arbitrary, Debug)]
pub struct Case {
    /// The secret values (those shorter than 4 bytes are refused by reqflo
    /// and skipped here).
    pub secrets: Vec<String>,
    /// The text, before encoding.
    pub pieces: Vec<Piece>,
    /// The encoding on the wire.
    pub channel: Channel,
    /// Where a stream is cut into writes.
    pub cuts: Vec<u16>,
    /// Per-character choices for the mixed channels.
    pub choices: Vec<u8>,
}

const PLAIN: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 .,:;=-_";

fn marker(i: usize) -> String {
    format!("[redacted:S{i}]")
}

/// Whether `needle` occurs in `haystack` clear of its first `head` and last
/// `tail` bytes (the framing a decoded piece of URL starts or ends with).
fn contains_within(haystack: &[u8], needle: &[u8], head: usize, tail: usize) -> bool {
    let end = haystack.len().saturating_sub(tail);
    if needle.is_empty() {
        return true;
    }
    haystack
        .windows(needle.len())
        .enumerate()
        .any(|(at, w)| w == needle && at >= head && at + needle.len() <= end)
}

/// How many bytes at the start and at the end of a piece of output, `len`
/// long and at `origin` in the wire, are the channel's framing rather than
/// the case's text (which spans `text` in the wire). Framing decodes to
/// itself (no `%`, `+`, `\`, tab or line break in it), so these counts hold
/// for the decoded piece too.
fn framed(len: usize, origin: usize, text: (usize, usize)) -> (usize, usize) {
    let head = text.0.saturating_sub(origin).min(len);
    let tail = (origin + len).saturating_sub(text.1).min(len);
    (head, tail)
}

/// Split redacted output at the markers: what is left between them, each
/// with where it came from in the text before redaction.
fn pieces<'a>(output: &'a [u8], markers: &[String], wire: &[u8]) -> Vec<(&'a [u8], Option<usize>)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    let mut from = 0;
    let mut push = |piece: &'a [u8]| {
        let origin = wire
            .get(from..)
            .and_then(|rest| rest.windows(piece.len().max(1)).position(|w| w == piece))
            .map(|p| p + from);
        if let Some(origin) = origin {
            from = origin + piece.len();
        }
        out.push((piece, origin));
    };
    while at < output.len() {
        if let Some(m) = markers
            .iter()
            .find(|m| output[at..].starts_with(m.as_bytes()))
        {
            push(&output[start..at]);
            at += m.len();
            start = at;
        } else {
            at += 1;
        }
    }
    push(&output[start..]);
    // The piece after the last marker is the wire's own end: its origin is
    // known, not searched for (a search may stop at an earlier copy).
    if let Some((piece, origin)) = out.last_mut()
        && !piece.is_empty()
        && wire.ends_with(piece)
    {
        *origin = Some(wire.len() - piece.len());
    }
    out
}

/// Fuzz target `redact`.
pub fn redact(case: Case) {
    check(case);
}

/// The check behind [`redact`]; false when the case says nothing (no secret
/// long enough, or text the channel cannot carry) and nothing was checked.
fn check(case: Case) -> bool {
    let secrets: Vec<String> = case
        .secrets
        .into_iter()
        .filter(|s| s.len() >= reqflo_core::secret::MIN_SECRET_BYTES)
        .take(4)
        .collect();
    if secrets.is_empty() {
        return false;
    }
    let markers: Vec<String> = (0..secrets.len()).map(marker).collect();
    // A secret spelled inside a marker is found there by construction.
    if secrets
        .iter()
        .any(|s| markers.iter().any(|m| m.contains(s.as_str())))
    {
        return false;
    }
    let mut text = String::new();
    for piece in case.pieces.iter().take(16) {
        match piece {
            Piece::Filler(bytes) => text.extend(
                bytes
                    .iter()
                    .take(64)
                    .map(|b| char::from(PLAIN[usize::from(*b) % PLAIN.len()])),
            ),
            Piece::Secret(n) => text.push_str(&secrets[usize::from(*n) % secrets.len()]),
        }
    }
    let Some(wire) = encode(case.channel, &text, &case.choices) else {
        return false;
    };
    // Where the case's text sits in the wire, between the channel's framing
    // (`https://user:` … `@example.com/`). The URL parser leaves the framing
    // as written; when it does not (an empty password is dropped), the case
    // says nothing.
    let (before, after) = framing(case.channel);
    if !wire.starts_with(before.as_bytes()) || !wire.ends_with(after.as_bytes()) {
        return false;
    }
    let text_span = (before.len(), wire.len().saturating_sub(after.len()));

    // libFuzzer runs millions of cases: the writer wants a &'static redactor,
    // so this one is leaked for the case and taken back at the end.
    let redactor: &'static Redactor = Box::leak(Box::default());
    for (i, secret) in secrets.iter().enumerate() {
        redactor.add(&format!("S{i}"), secret.as_bytes());
    }
    let output = redactor.redact_bytes(&wire).into_owned();

    // The same through a stream cut anywhere.
    let mut writer = RedactingWriter::with(Vec::new(), redactor);
    let mut at = 0;
    let mut cuts: Vec<usize> = case.cuts.iter().take(16).map(|&c| usize::from(c)).collect();
    cuts.sort_unstable();
    for cut in cuts {
        let end = cut.clamp(at, wire.len());
        writer.write_all(&wire[at..end]).expect("writing to a Vec");
        at = end;
    }
    writer.write_all(&wire[at..]).expect("writing to a Vec");
    let streamed = writer.finish().expect("writing to a Vec");
    assert_eq!(streamed, output, "a stream redacts like the whole text");
    if let Ok(text) = std::str::from_utf8(&wire) {
        assert_eq!(
            redactor.redact(text).as_bytes(),
            String::from_utf8_lossy(&output).as_bytes()
        );
    }
    // SAFETY: the writer that borrowed it is gone; nothing else holds it.
    drop(unsafe { Box::from_raw(redactor as *const Redactor as *mut Redactor) });

    for (piece, origin) in pieces(&output, &markers, &wire) {
        let framed = origin.map_or((0, 0), |at| framed(piece.len(), at, text_span));
        for (reading, spell, decoded) in readings(case.channel, piece, origin, &wire) {
            // In a decoded reading, a secret that runs into the framing is
            // spelled partly by the URL's own syntax (`:` + `a%20b` read as
            // `:a b`), in a form no encoder gives the secret: only there is
            // it no finding. Raw output is never excused: the redactor saw
            // the whole wire.
            let (head, tail) = if decoded { framed } else { (0, 0) };
            for secret in &secrets {
                let spelled = spell(secret.as_bytes());
                // A secret made only of what the channel drops says nothing.
                if spelled.len() < reqflo_core::secret::MIN_SECRET_BYTES {
                    continue;
                }
                assert!(
                    !contains_within(&reading, &spelled, head, tail),
                    "secret {secret:?} survives {:?} in {:?} (read as {:?})",
                    case.channel,
                    String::from_utf8_lossy(&output),
                    String::from_utf8_lossy(&reading),
                );
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Filler that maps onto `text` (which must be in the plain alphabet).
    fn filler(text: &str) -> Piece {
        Piece::Filler(
            text.bytes()
                .map(|c| PLAIN.iter().position(|&p| p == c).expect("plain") as u8)
                .collect(),
        )
    }

    fn case(secret: &str, pieces: Vec<Piece>, channel: Channel) -> Case {
        Case {
            secrets: vec![secret.to_string()],
            pieces,
            channel,
            cuts: vec![3, 17],
            choices: vec![0, 1, 2, 3, 4],
        }
    }

    #[test]
    fn framing_excuses_only_the_bytes_it_spells() {
        // The wire `https://user:` + `a%20b` + `@example.com/`, text at 13..18.
        let text = (13, 18);
        // The first piece holds all of the leading framing, the last all of
        // the trailing one; a piece inside the text holds none.
        assert_eq!(framed(31, 0, text), (13, 13));
        assert_eq!(framed(15, 0, text), (13, 0));
        assert_eq!(framed(5, 13, text), (0, 0));
        assert_eq!(framed(16, 15, text), (0, 13));
        // A piece that starts inside the framing (a marker took its start).
        assert_eq!(framed(6, 10, text), (3, 0));
        // A piece made only of framing.
        assert_eq!(framed(4, 2, text), (4, 0));

        // `:a b` in `https://user:a b@...`: the `:` is the URL's.
        let decoded = b"https://user:a b@example.com/";
        assert!(contains_within(decoded, b":a b", 0, 0));
        assert!(!contains_within(decoded, b":a b", 13, 13));
        // `a b@`: the `@` is the URL's.
        assert!(!contains_within(decoded, b"a b@", 13, 13));
        // What the text alone spells is never excused.
        assert!(contains_within(decoded, b"a b", 13, 13));
        let decoded = b"https://user:x:a b@example.com/";
        assert!(contains_within(decoded, b":a b", 13, 13));
    }

    /// Cases the checker used to skip whole (the secret starts with `/`,
    /// `?`, `:`, `=` or ends with `@`): now checked, and clean, whether the
    /// secret sits inside the text or against the framing.
    #[test]
    fn secrets_with_url_syntax_at_their_ends_are_checked() {
        for (channel, secrets) in [
            (Channel::UrlPath, ["/a b", "/a?b c", "\\a b"]),
            (Channel::UrlQuery, ["?a b", "?a#b c", "/a b"]),
            (Channel::UrlPassword, [":a b", "a b@", ":a;b@"]),
            (Channel::QueryPair, ["=a b", "?a=b", "&a=b c"]),
        ] {
            for secret in secrets {
                for pieces in [
                    vec![Piece::Secret(0)],
                    vec![filler("x"), Piece::Secret(0), filler("y")],
                    vec![Piece::Secret(0), filler("a"), Piece::Secret(0)],
                ] {
                    assert!(
                        check(case(secret, pieces, channel)),
                        "{secret:?} {channel:?}"
                    );
                }
            }
        }
    }

    /// Each mixed channel carries a value that needs escaping, and the
    /// redactor leaves nothing of it.
    #[test]
    fn mixed_escapes_and_wrapped_or_escaped_base64_are_checked() {
        for channel in [
            Channel::JsonMixed,
            Channel::HtmlMixed,
            Channel::PercentMixed,
            Channel::Base64Wrapped,
            Channel::Base64UrlOfJsonMixed,
        ] {
            for secret in ["p\u{e4} ss<&>\"'/+=", "\u{1F600}\u{2233} x%41\\u0041"] {
                let long = vec![
                    filler(&"y".repeat(60)),
                    Piece::Secret(0),
                    filler(&"z".repeat(60)),
                ];
                for pieces in [vec![filler("x"), Piece::Secret(0), filler("y")], long] {
                    assert!(
                        check(case(secret, pieces, channel)),
                        "{secret:?} {channel:?}"
                    );
                }
            }
        }
    }

    /// The harness's own doing, not a leak: the text `a b` after
    /// `https://user:` decodes to `:a b`, a secret's spelling that no
    /// encoder gives it (a password's `:` is `%3A`).
    #[test]
    fn a_secret_spelled_by_the_framing_and_the_text_is_no_finding() {
        redact(case(":a b", vec![filler("a b")], Channel::UrlPassword));
        redact(case("a b@", vec![filler("a b")], Channel::UrlPassword));
        redact(case("=a b", vec![filler("a b")], Channel::QueryPair));
        redact(case(
            "er::s@example.com",
            vec![filler(":s")],
            Channel::UrlPassword,
        ));
    }
}
