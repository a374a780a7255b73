//! Client certificate assertions, checked as Microsoft Entra ID documents
//! them (<https://learn.microsoft.com/entra/identity-platform/certificate-credentials>):
//! an RS256 JWT whose header names a certificate registered for the app
//! (`x5t`, the SHA-1 thumbprint, or `x5t#S256`), signed with that
//! certificate's key, with `iss` = `sub` = the client ID, `aud` = the token
//! endpoint and a current `nbf`..`exp`. Refusals carry the AADSTS codes the
//! Azure SDKs' troubleshooting guide lists
//! (<https://learn.microsoft.com/azure/developer/java/sdk/troubleshooting-authentication-service-principal>):
//! 700027 (unregistered certificate, bad signature), 700021 (wrong
//! issuer/subject), 700023 (wrong audience), 700024 (outside its valid time).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::DecodePublicKey as _;
use serde_json::Value;
use sha1::Digest as _;
use x509_cert::der::{DecodePem as _, Encode as _};

use super::aad::AadError;
use crate::jwt;

/// A certificate registered for an app: its thumbprints and public key.
pub(super) struct Registered {
    x5t: String,
    x5t_s256: String,
    key: jwt::PublicKey,
}

impl Registered {
    /// Read a PEM certificate, as uploaded under the app's Certificates &
    /// secrets; `None` if it is not an RSA certificate.
    pub(super) fn from_pem(pem: &str) -> Option<Registered> {
        let certificate = x509_cert::Certificate::from_pem(pem).ok()?;
        let der = certificate.to_der().ok()?;
        let spki = certificate
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .ok()?;
        let key = rsa::PublicKey::from_public_key_der(&spki).ok()?;
        Some(Registered {
            x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)),
            key: rsa::pkcs1v15::VerifyingKey::new(key),
        })
    }
}

/// Whether `assertion` looks like a certificate assertion (its header names
/// a certificate) rather than a federated token.
pub(super) fn names_a_certificate(assertion: &str) -> bool {
    jwt::parts(assertion)
        .is_some_and(|(header, _)| header.get("x5t").is_some() || header.get("x5t#S256").is_some())
}

/// Check `assertion` for `client_id` against its registered certificates;
/// `audience` is this token endpoint's URL.
pub(super) fn check(
    assertion: &str,
    client_id: &str,
    audience: &str,
    registered: &[Registered],
) -> Result<(), AadError> {
    let refuse = |aadsts: u32, why: &str| AadError::invalid_client(aadsts, why);
    let Some((header, claims)) = jwt::parts(assertion) else {
        return Err(refuse(50027, "JWT token is invalid or malformed."));
    };
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
    if text(&claims, "iss").as_deref() != Some(client_id)
        || text(&claims, "sub").as_deref() != Some(client_id)
    {
        return Err(refuse(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    if text(&claims, "aud").as_deref() != Some(audience) {
        return Err(refuse(
            700023,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    let unregistered = "The certificate with identifier used to sign the client assertion is \
                        not registered on application.";
    let certificate = registered
        .iter()
        .find(
            |c| match (text(&header, "x5t#S256"), text(&header, "x5t")) {
                (Some(s256), _) => s256 == c.x5t_s256,
                (None, Some(sha1)) => sha1 == c.x5t,
                (None, None) => false,
            },
        )
        .ok_or_else(|| refuse(700027, unregistered))?;
    let bad_signature = || refuse(700027, "Client assertion failed signature validation.");
    if text(&header, "alg").as_deref() != Some("RS256") {
        return Err(bad_signature());
    }
    if !jwt::verify(assertion, &certificate.key) {
        return Err(bad_signature());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    // Entra allows a few minutes of clock skew.
    let skew = 300;
    let current = match (time("nbf"), time("exp")) {
        // Saturating: the client chose `exp`.
        (nbf, Some(exp)) => {
            nbf.is_none_or(|nbf| nbf <= now + skew) && now < exp.saturating_add(skew)
        }
        (_, None) => false,
    };
    if !current {
        return Err(refuse(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}
