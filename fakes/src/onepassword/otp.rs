//! The current code of an OTP field, as Connect 1.4.0 and later send it in
//! the field's `totp` ("Added the generated TOTP code to the body of OTP
//! fields in Items", Connect's changelog; the `totp` of the Connect Go SDK's
//! `ItemField`), computed the way RFC 6238 says from an `otpauth://totp/…`
//! URI in Google's key URI format
//! (<https://github.com/google/google-authenticator/wiki/Key-Uri-Format>).

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// The code of the `otpauth://totp/…` URI `uri` (or bare base32 secret) at
/// `unix_seconds`; None when the URI is not one the fake can compute.
pub fn totp_code(uri: &str, unix_seconds: u64) -> Option<String> {
    let (secret, algorithm, digits, period) = match uri.strip_prefix("otpauth://totp/") {
        Some(rest) => {
            let query = rest.split_once('?').map_or("", |(_, query)| query);
            let param = |name: &str| {
                form_urlencoded::parse(query.as_bytes())
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value.into_owned())
            };
            (
                param("secret")?,
                param("algorithm").unwrap_or_else(|| "SHA1".to_string()),
                param("digits").map_or(Some(6), |d| d.parse().ok())?,
                param("period").map_or(Some(30), |p| p.parse().ok())?,
            )
        }
        None => (uri.to_string(), "SHA1".to_string(), 6, 30),
    };
    let secret: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .collect();
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.to_ascii_uppercase().as_bytes())
        .ok()?;
    if period == 0 || !(1..=10).contains(&digits) {
        return None;
    }
    let counter = (unix_seconds / period).to_be_bytes();
    let mac = match algorithm.to_ascii_uppercase().as_str() {
        "SHA1" => sign::<Hmac<Sha1>>(&key, &counter)?,
        "SHA256" => sign::<Hmac<Sha256>>(&key, &counter)?,
        "SHA512" => sign::<Hmac<Sha512>>(&key, &counter)?,
        _ => return None,
    };
    // RFC 4226 §5.3: the low nibble of the last byte picks four bytes.
    let offset = usize::from(*mac.last()? & 0x0f);
    let word = u32::from_be_bytes(mac.get(offset..offset + 4)?.try_into().ok()?) & 0x7fff_ffff;
    let code = u64::from(word) % 10u64.pow(digits);
    Some(format!("{code:0width$}", width = digits as usize))
}

fn sign<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).ok()?;
    mac.update(message);
    Some(mac.finalize().into_bytes().to_vec())
}
