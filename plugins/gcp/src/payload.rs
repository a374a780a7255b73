//! A version's payload: base64 as proto3 JSON sends `bytes`, checked against
//! its CRC32C, and optionally one key of a JSON object picked out of it.
//!
//! Nothing here derives `Debug` or quotes a payload: these bytes are the
//! secret.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use crc::{CRC_32_ISCSI, Crc};
use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::reference::Target;

/// CRC32C, the Castagnoli polynomial, as Secret Manager computes `dataCrc32c`.
const CASTAGNOLI: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// proto3 JSON writes `bytes` as standard base64 and accepts the URL-safe
/// alphabet and missing padding too; so does this.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// `SecretPayload` as the `:access` call returns it.
#[derive(Deserialize)]
pub struct Payload {
    /// The secret, base64; absent for an empty payload (proto3 omits defaults).
    #[serde(default)]
    data: Option<String>,
    /// CRC32C of the decoded bytes: an int64, which proto3 JSON writes as a
    /// decimal string (a bare number is accepted too).
    #[serde(rename = "dataCrc32c", default)]
    data_crc32c: Option<Value>,
}

/// The CRC32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    CASTAGNOLI.checksum(bytes)
}

/// The payload's bytes, refused when they do not match their checksum.
pub fn decode(target: &Target, payload: Option<Payload>) -> Result<Vec<u8>, Error> {
    let Some(payload) = payload else {
        return Err(empty(target));
    };
    let text = payload.data.unwrap_or_default();
    let data = STANDARD
        .decode(&text)
        .or_else(|_| URL_SAFE.decode(&text))
        .map_err(|_| {
            Error::Unavailable(format!(
                "Secret Manager sent a payload for {target} that is not base64; it was not used"
            ))
        })?;
    if let Some(sent) = payload.data_crc32c {
        let expected = match &sent {
            Value::String(text) => text.parse::<i64>().ok(),
            Value::Number(number) => number.as_i64(),
            _ => None,
        }
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            Error::Unavailable(format!(
                "Secret Manager sent a dataCrc32c for {target} that is not a CRC32C, so the \
                 payload cannot be checked; it was not used"
            ))
        })?;
        if crc32c(&data) != expected {
            return Err(Error::Unavailable(format!(
                "payload checksum mismatch for {target}: the bytes received do not match their \
                 dataCrc32c, so they were not used"
            )));
        }
    }
    if data.is_empty() {
        return Err(empty(target));
    }
    Ok(data)
}

fn empty(target: &Target) -> Error {
    Error::NotFound(format!("{target} has an empty payload"))
}

/// The value under `key` in the JSON object `data` holds: a string as it is, a
/// number or boolean as JSON writes it.
pub fn pick(target: &Target, data: &[u8], key: &str) -> Result<Vec<u8>, Error> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(data) else {
        return Err(Error::InvalidReference(format!(
            "#{key} picks a key of a JSON object, but {target} does not hold a JSON object"
        )));
    };
    match object.remove(key) {
        Some(Value::String(text)) => Ok(text.into_bytes()),
        Some(value @ (Value::Number(_) | Value::Bool(_))) => Ok(value.to_string().into_bytes()),
        Some(Value::Null) => Err(Error::NotFound(format!(
            "key {key:?} in the JSON of {target} is null"
        ))),
        Some(Value::Object(_) | Value::Array(_)) => Err(Error::InvalidReference(format!(
            "key {key:?} in the JSON of {target} holds an object or a list; #KEY picks a \
             string, a number or a boolean"
        ))),
        None => Err(Error::NotFound(format!(
            "no key {key:?} in the JSON of {target}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::target;
    use crate::reference::Version;

    fn payload(json: &str) -> Option<Payload> {
        match serde_json::from_str(json) {
            Ok(payload) => Some(payload),
            Err(e) => panic!("fixture: {e}"),
        }
    }

    fn decoded(json: &str) -> Result<String, (&'static str, String)> {
        decode(&target(Version::Latest), payload(json))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|e| (e.kind(), e.message().to_string()))
    }

    fn picked(json: &str, key: &str) -> Result<String, (&'static str, String)> {
        pick(&target(Version::Number(2)), json.as_bytes(), key)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|e| (e.kind(), e.message().to_string()))
    }

    #[test]
    fn crc32c_is_castagnoli() {
        // The check value of CRC-32C (RFC 3720, B.4) and of an empty input.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(b"hunter2"), 1_736_498_283);
    }

    #[test]
    fn checked_payloads() {
        assert_eq!(
            decoded(r#"{"data": "aHVudGVyMg==", "dataCrc32c": "1736498283"}"#),
            Ok("hunter2".into())
        );
        assert_eq!(
            decoded(r#"{"data": "aHVudGVyMg==", "dataCrc32c": 1736498283}"#),
            Ok("hunter2".into())
        );
        // No checksum (versions made before Google added them): nothing to check.
        assert_eq!(decoded(r#"{"data": "aHVudGVyMg=="}"#), Ok("hunter2".into()));
        // Unpadded and URL-safe base64 are proto3 JSON too.
        assert_eq!(decoded(r#"{"data": "aHVudGVyMg"}"#), Ok("hunter2".into()));
        assert_eq!(decoded(r#"{"data": "-_8="}"#).map(|s| s.len()), Ok(6));
    }

    #[test]
    fn a_checksum_mismatch_is_refused_without_the_value() {
        let (kind, message) =
            match decoded(r#"{"data": "aHVudGVyMg==", "dataCrc32c": "1736498284"}"#) {
                Err(e) => e,
                Ok(v) => panic!("accepted {v}"),
            };
        assert_eq!(kind, "unavailable");
        assert_eq!(
            message,
            "payload checksum mismatch for the latest version of secret \"stripe\" in project \
             \"acme\": the bytes received do not match their dataCrc32c, so they were not used"
        );
        for bad in ["\"-1\"", "\"4294967296\"", "\"x\"", "true", "1.5"] {
            let json = format!(r#"{{"data": "aHVudGVyMg==", "dataCrc32c": {bad}}}"#);
            let e = decoded(&json);
            assert!(
                e.as_ref()
                    .is_err_and(|(_, m)| m.contains("not a CRC32C") && !m.contains("hunter2")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn bad_and_empty_payloads() {
        let e = decoded(r#"{"data": "not base64!"}"#);
        assert!(e.is_err_and(|(kind, m)| kind == "unavailable" && m.contains("not base64")));
        let empty = (
            "not-found",
            "the latest version of secret \"stripe\" in project \"acme\" has an empty payload"
                .to_string(),
        );
        assert_eq!(decoded(r#"{}"#), Err(empty.clone()));
        assert_eq!(
            decoded(r#"{"data": "", "dataCrc32c": "0"}"#),
            Err(empty.clone())
        );
        assert_eq!(
            decode(&target(Version::Latest), None).map_err(|e| (e.kind(), e.message().to_string())),
            Err(empty)
        );
    }

    #[test]
    fn json_keys() {
        let json = r#"{"api_key": "sk_1", "port": 5432, "tls": true, "none": null,
                       "nested": {"a": 1}, "list": [1]}"#;
        assert_eq!(picked(json, "api_key"), Ok("sk_1".into()));
        assert_eq!(picked(json, "port"), Ok("5432".into()));
        assert_eq!(picked(json, "tls"), Ok("true".into()));
        assert_eq!(
            picked(json, "API_KEY"),
            Err((
                "not-found",
                "no key \"API_KEY\" in the JSON of version 2 of secret \"stripe\" in project \"acme\""
                    .into()
            ))
        );
        assert_eq!(picked(json, "none").map_err(|e| e.0), Err("not-found"));
        assert_eq!(
            picked(json, "nested").map_err(|e| e.0),
            Err("invalid-reference")
        );
        assert_eq!(
            picked(json, "list").map_err(|e| e.0),
            Err("invalid-reference")
        );
    }

    #[test]
    fn json_keys_need_a_json_object() {
        for data in ["sk_live_hunter2", "[1, 2]", "\"text\"", "{broken"] {
            let e = picked(data, "api_key");
            assert!(
                e.as_ref()
                    .is_err_and(|(kind, m)| *kind == "invalid-reference"
                        && m.ends_with("does not hold a JSON object")
                        && !m.contains("hunter2")),
                "{data}: {e:?}"
            );
        }
    }
}
