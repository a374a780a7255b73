//! RS256 JSON Web Tokens for providers that prove who they are with a key:
//! Google service-account assertions (RFC 7523's JWT bearer grant) and
//! Microsoft Entra client certificates. Keys and certificates come as PEM
//! text, read from a file the provider was granted.
//!
//! No error or `Debug` output holds key material: a key prints as its size.

mod pem;

pub use pem::{Certificate, certificates};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value};
use std::fmt;

/// Why a key could not be read or a token not signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The text holds no `PRIVATE KEY` block.
    NoKey,
    /// A PEM block or the key inside it does not parse; the reason is the decoder's.
    Malformed {
        /// The block's label, such as `PRIVATE KEY`.
        label: String,
        /// What the decoder said (never any of the block's bytes).
        reason: String,
    },
    /// The key is encrypted with a passphrase (`ENCRYPTED PRIVATE KEY`).
    Encrypted,
    /// The key is not an RSA key (RS256 needs one).
    NotRsa,
    /// The key is shorter than 2048 bits, which no identity provider accepts.
    TooShort(usize),
    /// The signer failed (a key that parsed but cannot sign).
    Sign(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoKey => f.write_str("holds no private key (a `-----BEGIN PRIVATE KEY-----` block)"),
            Error::Malformed { label, reason } => write!(f, "has a `{label}` block that does not parse: {reason}"),
            Error::Encrypted => f.write_str(
                "holds an encrypted private key; reqflo reads unencrypted PEM keys only (decrypt it with `openssl pkey`)",
            ),
            Error::NotRsa => f.write_str("holds a private key that is not an RSA key; RS256 needs one"),
            Error::TooShort(bits) => write!(f, "holds a {bits}-bit RSA key; at least 2048 bits are needed"),
            Error::Sign(reason) => write!(f, "holds a key that cannot sign: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

/// An RSA private key that signs RS256 tokens.
#[derive(Clone)]
pub struct Key {
    signer: rsa::pkcs1v15::SigningKey<Sha256>,
    bits: usize,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(RS256, {} bits)", self.bits)
    }
}

impl Key {
    /// Reads the first private key in `text`: PKCS#8 (`BEGIN PRIVATE KEY`, as
    /// Google's key files and most tools write it) or PKCS#1 (`BEGIN RSA
    /// PRIVATE KEY`). Other blocks, such as certificates, are passed over.
    pub fn from_pem(text: &str) -> Result<Key, Error> {
        let block = pem::blocks(text)?
            .into_iter()
            .find(|block| block.label.ends_with("PRIVATE KEY"))
            .ok_or(Error::NoKey)?;
        let malformed = |reason: String| Error::Malformed {
            label: block.label.clone(),
            reason,
        };
        let key = match block.label.as_str() {
            "PRIVATE KEY" => {
                rsa::PrivateKey::from_pkcs8_der(&block.der).map_err(|error| match error {
                    // The algorithm identifier names another kind of key (EC, Ed25519).
                    rsa::pkcs8::Error::PublicKey(_) => Error::NotRsa,
                    _ => malformed(error.to_string()),
                })?
            }
            "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(&block.der)
                .map_err(|error| malformed(error.to_string()))?,
            "ENCRYPTED PRIVATE KEY" => return Err(Error::Encrypted),
            _ => return Err(Error::NotRsa),
        };
        let bits = key.size() * 8;
        if bits < 2048 {
            return Err(Error::TooShort(bits));
        }
        Ok(Key {
            signer: rsa::pkcs1v15::SigningKey::new(key),
            bits,
        })
    }

    /// Signs `claims` as a compact JWT. The header is `alg: RS256`, `typ: JWT`
    /// and the fields of `header` (a key ID, a certificate thumbprint).
    pub fn sign(&self, header: Map<String, Value>, claims: &Value) -> Result<String, Error> {
        let mut full = Map::new();
        full.insert("alg".into(), "RS256".into());
        full.insert("typ".into(), "JWT".into());
        full.extend(header);
        let mut token = String::new();
        URL_SAFE_NO_PAD.encode_string(Value::Object(full).to_string(), &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut token);
        let signature = self
            .signer
            .try_sign(token.as_bytes())
            .map_err(|error| Error::Sign(error.to_string()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests;
