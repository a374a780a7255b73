//! PEM blocks in a text that may hold several (a key and its certificate
//! chain, as Azure's client certificate files do), and certificates' thumbprints.

use crate::Error;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::sha2::{Digest as _, Sha256};

/// One decoded PEM block.
pub(crate) struct Block {
    /// The label between `BEGIN ` and the dashes.
    pub(crate) label: String,
    /// The block's bytes (DER), wiped when dropped would be better, but the
    /// key parser copies them anyway; they never leave this crate.
    pub(crate) der: Vec<u8>,
}

/// Every `-----BEGIN …-----` … `-----END …-----` block in `text`, in order.
/// Text between blocks (OpenSSL's "Bag Attributes" lines) is passed over.
pub(crate) fn blocks(text: &str) -> Result<Vec<Block>, Error> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from = &rest[start..];
        let label = begin_label(&from["-----BEGIN ".len()..])?;
        let end_line = format!("-----END {label}-----");
        let Some(end) = from.find(&end_line) else {
            return Err(Error::Malformed {
                label,
                reason: "it has no END line".into(),
            });
        };
        let whole = &from[..end + end_line.len()];
        let (_, der) =
            pem_rfc7468::decode_vec(whole.as_bytes()).map_err(|error| Error::Malformed {
                label: label.clone(),
                reason: error.to_string(),
            })?;
        found.push(Block { label, der });
        rest = &from[whole.len()..];
    }
    Ok(found)
}

/// The label of a BEGIN line, from just after `BEGIN `: capitals, digits
/// and spaces up to `-----` on the same line (RFC 7468). Anything else is
/// a damaged line, refused without quoting it: past a BEGIN line that lost
/// its dashes lies the key itself.
fn begin_label(line: &str) -> Result<String, Error> {
    let malformed = || Error::Malformed {
        label: "BEGIN".into(),
        reason: "its BEGIN line is not `-----BEGIN LABEL-----`".into(),
    };
    let end = line.find("-----").ok_or_else(malformed)?;
    let label = &line[..end];
    let fine = !label.is_empty()
        && label.len() <= 40
        && label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
    fine.then(|| label.to_owned()).ok_or_else(malformed)
}

/// An X.509 certificate, as DER bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate(Vec<u8>);

impl Certificate {
    /// The SHA-1 thumbprint, base64url: a JWT header's `x5t`.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&self.0))
    }

    /// The SHA-256 thumbprint, base64url: a JWT header's `x5t#S256`.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(&self.0))
    }

    /// The DER, base64 (not url-safe): one entry of a JWT header's `x5c`.
    pub fn x5c(&self) -> String {
        STANDARD.encode(&self.0)
    }
}

/// The `CERTIFICATE` blocks of `text`, in order (the leaf first, as PEM
/// chains are written).
pub fn certificates(text: &str) -> Result<Vec<Certificate>, Error> {
    Ok(blocks(text)?
        .into_iter()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| Certificate(block.der))
        .collect())
}
