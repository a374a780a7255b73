//! Signatures checked against OpenSSL's for the same key and input (RS256 is
//! deterministic), thumbprints against `openssl x509 -fingerprint`, and every
//! refusal. The keys in tests/keys were made with `openssl genpkey` for these
//! tests alone.

use super::*;
use serde_json::json;

const RSA2048: &str = include_str!("../tests/keys/rsa2048.pem");
const RSA2048_PKCS1: &str = include_str!("../tests/keys/rsa2048-pkcs1.pem");
const RSA1024: &str = include_str!("../tests/keys/rsa1024.pem");
const EC: &str = include_str!("../tests/keys/ec.pem");
const CERT: &str = include_str!("../tests/keys/cert.pem");
/// `openssl dgst -sha256 -sign rsa2048.pem` over the same header and claims.
const EXPECTED: &str = include_str!("../tests/keys/expected-rs256.txt");

fn kid() -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("kid".into(), "k1".into());
    header
}

#[test]
fn a_pkcs8_or_pkcs1_key_signs_what_openssl_signs() {
    for pem in [RSA2048, RSA2048_PKCS1] {
        let key = Key::from_pem(pem).expect("the test key reads");
        let token = key
            .sign(kid(), &json!({"iss": "a", "exp": 1}))
            .expect("it signs");
        assert_eq!(token, EXPECTED.trim());
    }
}

#[test]
fn a_key_after_other_blocks_is_found_and_certificates_are_listed() {
    let bundle = format!("Bag Attributes\n    localKeyID: 01\n{CERT}\n{RSA2048}");
    let key = Key::from_pem(&bundle).expect("the key after the certificate reads");
    assert_eq!(format!("{key:?}"), "Key(RS256, 2048 bits)");
    let certificates = certificates(&bundle).expect("the certificate reads");
    assert_eq!(certificates.len(), 1);
    assert_eq!(certificates[0].x5t(), "SfZQebmMOyhD1aEfSR4jsEWm1I4");
    assert_eq!(
        certificates[0].x5t_s256(),
        "2x80go6Gxcb9-tpxMVBU8Fm2oB6BSDcPITnQ44r49Z0"
    );
    assert!(
        certificates[0].x5c().starts_with("MII"),
        "standard base64 of a DER sequence"
    );
}

#[test]
fn keys_that_cannot_sign_rs256_are_refused_by_kind() {
    assert_eq!(Key::from_pem(CERT).unwrap_err(), Error::NoKey);
    assert_eq!(Key::from_pem("").unwrap_err(), Error::NoKey);
    assert_eq!(Key::from_pem(EC).unwrap_err(), Error::NotRsa);
    assert_eq!(Key::from_pem(RSA1024).unwrap_err(), Error::TooShort(1024));
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(Key::from_pem(encrypted).unwrap_err(), Error::Encrypted);
}

#[test]
fn a_damaged_key_is_malformed_and_its_error_holds_none_of_it() {
    let body: Vec<&str> = RSA2048.lines().collect();
    // Drop a line from the middle: the base64 is whole, the DER is not.
    let damaged = [&body[..10], &body[11..]].concat().join("\n");
    let error = Key::from_pem(&damaged).unwrap_err();
    assert!(
        matches!(&error, Error::Malformed { label, .. } if label == "PRIVATE KEY"),
        "{error:?}"
    );
    let truncated = RSA2048.replace("-----END PRIVATE KEY-----", "");
    let error = Key::from_pem(&truncated).unwrap_err().to_string();
    assert_eq!(
        error,
        "has a `PRIVATE KEY` block that does not parse: it has no END line"
    );
    for line in &body[1..body.len() - 1] {
        for shown in [error.clone(), format!("{:?}", Key::from_pem(&damaged))] {
            assert!(!shown.contains(&line[..16]), "key text in {shown}");
        }
    }
}

#[test]
fn a_begin_line_without_its_dashes_is_refused_without_the_key() {
    // The BEGIN line lost its closing dashes: the text up to the next
    // dashes is the key's body, and must not become the "label" shown.
    let damaged = RSA2048.replacen("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY", 1);
    let error = Key::from_pem(&damaged).unwrap_err();
    let shown = format!("{error} {error:?}");
    assert_eq!(
        error.to_string(),
        "has a `BEGIN` block that does not parse: its BEGIN line is not `-----BEGIN LABEL-----`"
    );
    for line in RSA2048.lines().skip(1).take(3) {
        assert!(!shown.contains(&line[..16]), "key text in {shown}");
    }
}
