//! From a secret version's contents to the bytes a reference asks for: the
//! whole SecretString, one key of it, or SecretBinary, as text or base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

use crate::Error;
use crate::api::SecretValue;
use crate::reference::{Encoding, Reference};

/// How many key names an error lists before it says "…".
const LISTED_KEYS: usize = 20;

/// The value `reference` selects from `secret`. No message quotes any part
/// of the secret but its key names.
pub fn select(secret: &SecretValue, reference: &Reference) -> Result<Vec<u8>, Error> {
    let bytes = match (&reference.key, &secret.string, &secret.binary) {
        (Some(key), Some(text), _) => pick(text, key, reference)?,
        (Some(_), None, _) => {
            return Err(Error::InvalidReference(format!(
                "{reference} holds SecretBinary, so `#key` has no JSON object to pick from; \
                 leave the key out"
            )));
        }
        (None, Some(text), _) => text.as_bytes().to_vec(),
        (None, None, Some(bytes)) => bytes.clone(),
        // `api::interpret` refuses an answer with neither.
        (None, None, None) => {
            return Err(Error::Unavailable(format!(
                "{reference} has neither SecretString nor SecretBinary"
            )));
        }
    };
    match reference.encoding {
        Encoding::Base64 => Ok(STANDARD.encode(&bytes).into_bytes()),
        Encoding::Text if std::str::from_utf8(&bytes).is_ok() => Ok(bytes),
        Encoding::Text => Err(Error::InvalidReference(format!(
            "{reference} holds binary data that is not UTF-8 text; add `?encoding=base64` \
             (or `&encoding=base64`) to the reference to get it base64-encoded"
        ))),
    }
}

/// One key of a SecretString holding a JSON object. A string is handed on as
/// it is; any other JSON value as the exact text the secret holds.
fn pick(text: &str, key: &str, reference: &Reference) -> Result<Vec<u8>, Error> {
    let not_an_object = || {
        Error::InvalidReference(format!(
            "{reference} does not hold a JSON object, so `#{key}` has nothing to pick from; \
             leave the key out to get the whole value"
        ))
    };
    let object: BTreeMap<String, &RawValue> =
        serde_json::from_str(text).map_err(|_| not_an_object())?;
    let Some(raw) = object.get(key) else {
        let mut names: Vec<String> = object
            .keys()
            .take(LISTED_KEYS)
            .map(|k| format!("{k:?}"))
            .collect();
        if object.len() > LISTED_KEYS {
            names.push("…".into());
        }
        let listed = if names.is_empty() {
            "it has none".to_string()
        } else {
            format!("its keys: {}", names.join(", "))
        };
        return Err(Error::NotFound(format!(
            "no key {key:?} in {reference} ({listed})"
        )));
    };
    let raw = raw.get();
    if raw == "null" {
        return Err(Error::NotFound(format!(
            "key {key:?} in {reference} is null"
        )));
    }
    if raw.starts_with('"') {
        let value: String = serde_json::from_str(raw).map_err(|_| not_an_object())?;
        Ok(value.into_bytes())
    } else {
        Ok(raw.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    fn text(value: &str) -> SecretValue {
        SecretValue {
            string: Some(value.to_string()),
            binary: None,
        }
    }

    fn binary(bytes: &[u8]) -> SecretValue {
        SecretValue {
            string: None,
            binary: Some(bytes.to_vec()),
        }
    }

    fn get(secret: &SecretValue, reference: &str) -> Result<String, Error> {
        select(secret, &accepted(parse(reference)))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    const JSON: &str = r#"{"api_key": "s3cr3t\"\u00e9", "port": 8443, "ratio": 1.50,
        "flag": true, "nested": {"a": [1, 2]}, "gone": null}"#;

    #[test]
    fn whole_strings_and_keys() {
        for (secret, reference, expected) in [
            ("plain value", "a", "plain value"),
            (JSON, "a", JSON),
            (JSON, "a#api_key", "s3cr3t\"é"),
            // Other values as the exact JSON text: 1.50 stays 1.50.
            (JSON, "a#port", "8443"),
            (JSON, "a#ratio", "1.50"),
            (JSON, "a#flag", "true"),
            (JSON, "a#nested", r#"{"a": [1, 2]}"#),
        ] {
            assert_eq!(
                accepted(get(&text(secret), reference)),
                expected,
                "{reference}"
            );
        }
    }

    #[test]
    fn missing_keys_list_names_never_values() {
        let message = refused(get(&text(JSON), "a#nope?stage=AWSPREVIOUS"), "not-found");
        assert_eq!(
            message,
            "no key \"nope\" in secret \"a\" (stage \"AWSPREVIOUS\") (its keys: \"api_key\", \
             \"flag\", \"gone\", \"nested\", \"port\", \"ratio\")"
        );
        assert!(!message.contains("s3cr3t"));
        assert_eq!(
            refused(get(&text(JSON), "a#gone"), "not-found"),
            "key \"gone\" in secret \"a\" is null"
        );
        let many: String = (0..30).map(|n| format!("\"k{n:02}\": 1,")).collect();
        let many = format!("{{{many} \"last\": 2}}");
        let message = refused(get(&text(&many), "a#nope"), "not-found");
        assert!(message.ends_with("\"k19\", …)"), "{message}");
        assert_eq!(
            refused(get(&text("{}"), "a#k"), "not-found"),
            "no key \"k\" in secret \"a\" (it has none)"
        );
    }

    #[test]
    fn keys_need_a_json_object() {
        for not_object in ["s3cr3t-plain", "[1, 2]", "\"s3cr3t\"", "{\"a\": 1"] {
            let message = refused(get(&text(not_object), "a#k"), "invalid-reference");
            assert!(message.contains("does not hold a JSON object"), "{message}");
            assert!(!message.contains("s3cr3t"), "{message}");
        }
        let message = refused(get(&binary(b"{\"k\": \"v\"}"), "a#k"), "invalid-reference");
        assert!(message.contains("holds SecretBinary"), "{message}");
    }

    #[test]
    fn binaries_as_text_or_base64() {
        assert_eq!(accepted(get(&binary("héllo".as_bytes()), "a")), "héllo");
        let raw = [0xff, 0xfe, 0x00, 0x80, b'r'];
        assert_eq!(
            refused(
                get(&binary(&raw), "a?stage=AWSPREVIOUS"),
                "invalid-reference"
            ),
            "secret \"a\" (stage \"AWSPREVIOUS\") holds binary data that is not UTF-8 text; \
             add `?encoding=base64` (or `&encoding=base64`) to the reference to get it \
             base64-encoded"
        );
        for (secret, reference, expected) in [
            (binary(&raw), "a?encoding=base64", "//4AgHI="),
            // Base64 of text works too (and of a picked key).
            (text("hi!?"), "a?encoding=base64", "aGkhPw=="),
            (text(r#"{"k": "hi!?"}"#), "a#k?encoding=base64", "aGkhPw=="),
        ] {
            assert_eq!(accepted(get(&secret, reference)), expected, "{reference}");
        }
    }
}
