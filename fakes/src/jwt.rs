//! Compact RS256 JWTs (RFC 7519 over RFC 7515), as the token fakes verify
//! the assertions clients sign (Entra ID's certificate assertions, Google's
//! service-account assertions) and as their tests sign them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use serde_json::Value;

/// An RS256 public key, as a fake holds a registered one.
pub type PublicKey = rsa::pkcs1v15::VerifyingKey<rsa::sha2::Sha256>;

/// The header and claims of a compact JWT (three parts, the first two
/// base64url JSON); `None` for anything else.
pub fn parts(jwt: &str) -> Option<(Value, Value)> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let decode = |part: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok();
    Some((decode(header)?, decode(claims)?))
}

/// Whether `jwt`'s signature (its third part) is `key`'s RS256 signature of
/// its first two parts.
pub fn verify(jwt: &str, key: &PublicKey) -> bool {
    let Some((signed, signature)) = jwt.rsplit_once('.') else {
        return false;
    };
    URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| rsa::pkcs1v15::Signature::try_from(bytes.as_slice()).ok())
        .is_some_and(|signature| key.verify(signed.as_bytes(), &signature).is_ok())
}

/// `header` and `claims` signed RS256 with the PKCS#8 PEM private key
/// `key_pem`, for tests and demos; `None` when the key is not one.
pub fn sign(header: &Value, claims: &Value, key_pem: &str) -> Option<String> {
    let key = rsa::PrivateKey::from_pkcs8_pem(key_pem).ok()?;
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key);
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer.sign(signed.as_bytes()).to_bytes();
    Some(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}
