//! How a channel puts the case's text on the wire: independent encoders
//! (the `url` crate as reqwest uses it, serde_json, base64, hex, and
//! per-character mixes written from the specs), never the redactor's own.

use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::Channel;

/// A URL channel's text as the `url` crate writes it.
pub(super) fn url_text(channel: Channel, text: &str) -> Option<String> {
    match channel {
        Channel::UrlPath | Channel::UrlQuery | Channel::UrlPassword => {
            let (before, after) = framing(channel);
            url::Url::parse(&format!("{before}{text}{after}"))
                .ok()
                .map(String::from)
        }
        Channel::QueryPair => {
            let mut url = url::Url::parse("https://example.com/p").ok()?;
            url.query_pairs_mut().append_pair("k", text);
            Some(url.into())
        }
        _ => None,
    }
}

/// The fixed text a URL channel puts before and after the case's text
/// (a query pair's is what `append_pair` writes before it).
pub(super) fn framing(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::UrlPath => ("https://example.com/", ""),
        Channel::UrlQuery => ("https://example.com/?", ""),
        Channel::UrlPassword => ("https://user:", "@example.com/"),
        Channel::QueryPair => ("https://example.com/p?k=", ""),
        _ => ("", ""),
    }
}

pub(super) fn base64_engine(channel: Channel) -> Option<&'static GeneralPurpose> {
    match channel {
        Channel::Base64 => Some(&STANDARD),
        Channel::Base64NoPad => Some(&STANDARD_NO_PAD),
        Channel::Base64Url => Some(&URL_SAFE),
        Channel::Base64UrlNoPad => Some(&URL_SAFE_NO_PAD),
        _ => None,
    }
}

pub(super) fn json_ascii(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
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

/// `text` as a JSON string's content, each character as `choices` say.
pub(super) fn json_mixed(text: &str, choices: &mut impl Iterator<Item = u8>) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let choice = choices.next().unwrap_or(1) % 3;
        if choice == 0 && !matches!(c, '"' | '\\') && !c.is_control() {
            out.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let hex = format!("{unit:04x}");
            out.push_str("\\u");
            out.push_str(&if choice == 2 { hex.to_uppercase() } else { hex });
        }
    }
    out
}

/// `text` as HTML, each character as `choices` say.
pub(super) fn html_mixed(text: &str, choices: &mut impl Iterator<Item = u8>) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let code = u32::from(c);
        match choices.next().unwrap_or(1) % 5 {
            0 if !matches!(c, '&' | '<' | '>' | '"' | '\'') => out.push(c),
            0 | 1 => out.push_str(&format!("&#{code};")),
            2 => out.push_str(&format!("&#x00{code:x};")),
            3 => out.push_str(&format!("&#X{code:X};")),
            _ => {
                let mut buf = [0; 4];
                let spelled = &*c.encode_utf8(&mut buf);
                match entities::ENTITIES
                    .iter()
                    .find(|e| e.characters == spelled && e.entity.ends_with(';'))
                {
                    Some(e) => out.push_str(e.entity),
                    None => out.push_str(&format!("&#{code};")),
                }
            }
        }
    }
    out
}

/// `text` percent-encoded, each byte as `choices` say.
pub(super) fn percent_mixed(text: &str, choices: &mut impl Iterator<Item = u8>) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match (choices.next().unwrap_or(1) % 4, b) {
            (0, b' ') => out.push('+'),
            (0, b) if b.is_ascii_alphanumeric() => out.push(char::from(b)),
            (2, b) => out.push_str(&format!("%{b:02x}")),
            (_, b) => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Put `text` on the wire; `None` when that channel cannot carry it.
pub(super) fn encode(channel: Channel, text: &str, choices: &[u8]) -> Option<Vec<u8>> {
    let mut choices = choices.iter().copied().chain(std::iter::repeat(1));
    let json = || serde_json::to_string(text).ok();
    Some(match channel {
        Channel::Raw => text.as_bytes().to_vec(),
        Channel::PlusAsSpace => text.replace('+', " ").into_bytes(),
        Channel::UrlPath | Channel::UrlQuery | Channel::UrlPassword | Channel::QueryPair => {
            url_text(channel, text)?.into_bytes()
        }
        Channel::Form => form_urlencoded::byte_serialize(text.as_bytes())
            .collect::<String>()
            .into_bytes(),
        Channel::Json => json()?.into_bytes(),
        Channel::JsonAscii => json_ascii(&json()?).into_bytes(),
        Channel::JsonSlash => json()?.replace('/', "\\/").into_bytes(),
        Channel::Html => text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
            .into_bytes(),
        Channel::Base64 | Channel::Base64NoPad | Channel::Base64Url | Channel::Base64UrlNoPad => {
            base64_engine(channel)?.encode(text).into_bytes()
        }
        Channel::Hex => hex::encode(text).into_bytes(),
        Channel::HexUpper => hex::encode_upper(text).into_bytes(),
        Channel::JsonMixed => json_mixed(text, &mut choices).into_bytes(),
        Channel::HtmlMixed => html_mixed(text, &mut choices).into_bytes(),
        Channel::PercentMixed => percent_mixed(text, &mut choices).into_bytes(),
        Channel::Base64Wrapped => STANDARD
            .encode(text)
            .as_bytes()
            .chunks(76)
            .collect::<Vec<_>>()
            .join(&b"\r\n"[..]),
        Channel::Base64UrlOfJsonMixed => URL_SAFE_NO_PAD
            .encode(format!("{{\"k\":\"{}\"}}", json_mixed(text, &mut choices)))
            .into_bytes(),
    })
}
