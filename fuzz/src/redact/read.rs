//! How a piece of redacted output is read back for a channel, to look for
//! a secret in it.

use base64::Engine as _;
use base64::engine::GeneralPurpose;

use super::Channel;
use super::wire::base64_engine;

pub(super) fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    percent_encoding::percent_decode(bytes).collect()
}

/// What the URL parser does to any text it is given: tabs and line breaks
/// vanish, and in an http path `\` is `/`.
pub(super) fn url_normal(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect()
}

pub(super) fn json_unescape(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    let mut pending_high: Option<u16> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let Ok(unit) = u16::from_str_radix(&hex, 16) else {
                    out.push_str("\\u");
                    out.push_str(&hex);
                    continue;
                };
                if let Some(high) = pending_high.take()
                    && let Some(c) = char::decode_utf16([high, unit]).next().and_then(|r| r.ok())
                {
                    out.push(c);
                    continue;
                }
                match char::from_u32(u32::from(unit)) {
                    Some(c) => out.push(c),
                    None => pending_high = Some(unit),
                }
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out.into_bytes()
}

/// Every character reference read back: named ones by the WHATWG table,
/// numeric ones in either base.
pub(super) fn html_unescape(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut rest = &*text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let reference = rest.find(';').map(|end| &rest[..=end]);
        let decoded = reference.and_then(|r| {
            let body = &r[1..r.len() - 1];
            let code = if let Some(hex) = body.strip_prefix("#x").or(body.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = body.strip_prefix('#') {
                dec.parse().ok()
            } else {
                return entities::ENTITIES
                    .iter()
                    .find(|e| e.entity == r)
                    .map(|e| e.characters.to_string());
            };
            code.and_then(char::from_u32).map(String::from)
        });
        match (reference, decoded) {
            (Some(r), Some(decoded)) => {
                out.push_str(&decoded);
                rest = &rest[r.len()..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

/// A base64 or hex piece decoded at its true alignment: `origin` is where
/// the piece starts in the encoded text (decoding at other alignments would
/// "find" whatever the fuzzer likes in noise).
pub(super) fn aligned(channel: Channel, piece: &[u8], origin: usize) -> Option<Vec<u8>> {
    let is_base64 = base64_engine(channel).is_some()
        || matches!(
            channel,
            Channel::Base64Wrapped | Channel::Base64UrlOfJsonMixed
        );
    let (quantum, skip) = if is_base64 {
        (4, (4 - origin % 4) % 4)
    } else if matches!(channel, Channel::Hex | Channel::HexUpper) {
        (2, origin % 2)
    } else {
        return None;
    };
    let mut run: Vec<u8> = piece.get(skip..)?.to_vec();
    if quantum == 2 {
        run.truncate(run.len() / 2 * 2);
        return hex::decode(&run).ok();
    }
    run.retain(|&b| b != b'=');
    // A dangling single character holds no whole byte.
    if run.len() % 4 == 1 {
        run.pop();
    }
    let alphabet = if matches!(
        channel,
        Channel::Base64Url | Channel::Base64UrlNoPad | Channel::Base64UrlOfJsonMixed
    ) {
        base64::alphabet::URL_SAFE
    } else {
        base64::alphabet::STANDARD
    };
    let lenient = GeneralPurpose::new(
        &alphabet,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    lenient.decode(&run).ok()
}

/// A reading of a piece of output, how a secret is spelled in it, and
/// whether it is the piece decoded (so its framing may spell part of a
/// secret) rather than the piece as it is.
pub(super) type Reading = (Vec<u8>, fn(&[u8]) -> Vec<u8>, bool);

/// The ways `piece` of output is read back for `channel`, paired with the
/// form the secret is searched for in each.
pub(super) fn readings(
    channel: Channel,
    piece: &[u8],
    origin: Option<usize>,
    wire: &[u8],
) -> Vec<Reading> {
    fn same(b: &[u8]) -> Vec<u8> {
        b.to_vec()
    }
    fn plus(b: &[u8]) -> Vec<u8> {
        b.iter()
            .map(|&c| if c == b'+' { b' ' } else { c })
            .collect()
    }
    let mut out: Vec<Reading> = vec![(piece.to_vec(), same, false)];
    match channel {
        Channel::PlusAsSpace => out.push((piece.to_vec(), plus, false)),
        Channel::UrlPath | Channel::UrlQuery | Channel::UrlPassword => {
            out.push((url_normal(&percent_decode(piece)), url_normal, true));
        }
        Channel::QueryPair | Channel::Form => {
            out.push((percent_decode(&plus(piece)), same, true));
        }
        Channel::Json | Channel::JsonAscii | Channel::JsonSlash => {
            out.push((json_unescape(piece), same, true));
        }
        Channel::Html | Channel::HtmlMixed => out.push((html_unescape(piece), same, true)),
        Channel::JsonMixed => out.push((json_unescape(piece), same, true)),
        Channel::PercentMixed => out.push((plus(&percent_decode(&plus(piece))), plus, true)),
        Channel::Base64Wrapped => {
            // The piece as the unwrapped blob holds it, at its place there.
            let breaks = |b: &[u8]| b.iter().filter(|&&c| c == b'\r' || c == b'\n').count();
            let unwrapped: Vec<u8> = piece
                .iter()
                .copied()
                .filter(|&c| c != b'\r' && c != b'\n')
                .collect();
            let at = origin.map(|at| at - breaks(&wire[..at]));
            if let Some(decoded) = at.and_then(|at| aligned(channel, &unwrapped, at)) {
                out.push((decoded, same, true));
            }
        }
        Channel::Base64UrlOfJsonMixed => {
            if let Some(decoded) = origin.and_then(|at| aligned(channel, piece, at)) {
                // The JSON framing (`{"k":"` and `"}`) is the harness's, not
                // the text's: a secret ending in `"` spelled with the
                // closing quote is no finding (the text's own `"` is
                // escaped). Found by fuzzing (fuzz/corpus/redact/
                // secret-ending-in-a-quote-inside-base64-json).
                let body = decoded.strip_prefix(b"{\"k\":\"").unwrap_or(&decoded);
                let body = body.strip_suffix(b"\"}").unwrap_or(body);
                out.push((json_unescape(body), same, true));
            }
        }
        _ => {
            if let Some(decoded) = origin.and_then(|at| aligned(channel, piece, at)) {
                out.push((decoded, same, true));
            }
        }
    }
    out
}
