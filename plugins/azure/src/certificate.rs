//! A client certificate, as `EnvironmentCredential` reads it: the PEM file
//! `AZURE_CLIENT_CERTIFICATE_PATH` names holds the app's private key and its
//! certificate; the proof sent to Azure AD is a JWT signed with the key (a
//! client assertion, as
//! <https://learn.microsoft.com/entra/identity-platform/certificate-credentials>
//! describes it): `x5t` and `x5t#S256` name the certificate, and with
//! `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` the chain rides along in `x5c` for
//! subject name/issuer authentication.
//!
//! The sandbox reads only files in the provider's `grants.files`:
//! `$AZURE_CLIENT_CERTIFICATE_PATH` grants the one the variable names. The
//! host copies a granted file once, when the provider's sandbox starts (once
//! a run); the plugin reads its copy at each token request, so a certificate
//! renewed during a run is used from the next run. Neither the key nor the
//! file's text is ever quoted.

use std::time::{SystemTime, UNIX_EPOCH};

use reqflo_plugin_jwt as jwt;
use reqflo_plugin_sdk::env;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::aad::token_url;
use crate::settings::{ClientCredentials, read_granted_file};

/// The variable naming the PEM file of the key and certificate.
pub const PATH_ENV: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
/// The password of a PKCS#12 file or an encrypted key: refused.
const PASSWORD_ENV: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/// `true` or `1`: send the certificate chain in `x5c`.
const SEND_CHAIN_ENV: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
/// How long an assertion may be used, in seconds: MSAL's ten minutes.
const LIFETIME_SECS: u64 = 600;
/// The command that turns what Azure's portal and `az` export into a file
/// reqflo reads.
const CONVERT: &str = "openssl pkcs12 -in cert.pfx -nodes -out cert.pem";

/// A client assertion for `client`, signed now with the key in the file
/// `AZURE_CLIENT_CERTIFICATE_PATH` names.
pub fn assertion(
    client: &ClientCredentials,
    read: &impl env::Read,
    now: SystemTime,
) -> Result<String, Error> {
    // Say no rather than half-support: a password means PKCS#12 or an
    // encrypted key, which this provider does not decrypt.
    if env::optional(read, PASSWORD_ENV)?.is_some_and(|p| !p.is_empty()) {
        return Err(Error::Unavailable(format!(
            "{PASSWORD_ENV} is set, but reqflo reads only unencrypted PEM files of a key and \
             its certificate: convert the file (`{CONVERT}`), point {PATH_ENV} at the PEM \
             file and unset {PASSWORD_ENV}"
        )));
    }
    let (path, bytes) = read_granted_file(
        read,
        PATH_ENV,
        "the path of a PEM file holding the client certificate and its private key",
        "or use a client secret",
    )?;
    let pkcs12 = || {
        Error::Unavailable(format!(
            "{PATH_ENV} names {path}, which is not a PEM file (a PKCS#12 .pfx?): reqflo reads \
             only unencrypted PEM files of a key and its certificate; convert it (`{CONVERT}`)"
        ))
    };
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".pfx") || lower.ends_with(".p12") {
        return Err(pkcs12());
    }
    let text = String::from_utf8(bytes)
        .ok()
        .filter(|text| text.contains("-----BEGIN "))
        .ok_or_else(pkcs12)?;
    let named =
        |why: jwt::Error| Error::Unavailable(format!("{PATH_ENV} names {path}, which {why}"));
    let key = jwt::Key::from_pem(&text).map_err(named)?;
    let chain = jwt::certificates(&text).map_err(named)?;
    let leaf = chain.first().ok_or_else(|| {
        Error::Unavailable(format!(
            "{PATH_ENV} names {path}, which holds no certificate (a `-----BEGIN \
             CERTIFICATE-----` block): put the certificate registered for client {} beside \
             its key",
            client.client_id
        ))
    })?;
    let mut header = Map::new();
    header.insert("x5t".into(), leaf.x5t().into());
    header.insert("x5t#S256".into(), leaf.x5t_s256().into());
    if sends_chain(read)? {
        let x5c: Vec<Value> = chain.iter().map(|c| c.x5c().into()).collect();
        header.insert("x5c".into(), x5c.into());
    }
    let issued = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = json!({
        "aud": token_url(client),
        "iss": client.client_id,
        "sub": client.client_id,
        "jti": guid()?,
        "nbf": issued,
        "iat": issued,
        "exp": issued + LIFETIME_SECS,
    });
    key.sign(header, &claims).map_err(named)
}

/// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` as Azure's SDKs read it: `true` or `1`.
fn sends_chain(read: &impl env::Read) -> Result<bool, Error> {
    Ok(env::optional(read, SEND_CHAIN_ENV)?
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1"))
}

/// A random (version 4) GUID, so that Azure AD never sees a `jti` twice.
fn guid() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| {
        Error::Unavailable(
            "the system's random source failed while signing a client assertion".into(),
        )
    })?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use reqflo_plugin_sdk::env::fake;
    use reqflo_plugin_sdk::testing::{TempFile, accepted, jwt_parts, refused};

    use super::*;

    /// The jwt crate's test key and its self-signed certificate (openssl).
    pub(crate) const KEY: &str = include_str!("../../jwt/tests/keys/rsa2048.pem");
    pub(crate) const CERT: &str = include_str!("../../jwt/tests/keys/cert.pem");
    const EC: &str = include_str!("../../jwt/tests/keys/ec.pem");
    /// `openssl x509 -in cert.pem -fingerprint -sha1`, as base64url.
    const X5T: &str = "SfZQebmMOyhD1aEfSR4jsEWm1I4";

    fn client() -> ClientCredentials {
        ClientCredentials {
            authority: accepted(
                crate::wire::parse_origin("https://login.microsoftonline.com")
                    .map_err(|why| Error::Unavailable(why.to_string())),
            ),
            tenant: "tenant-1".into(),
            client_id: "app-1".into(),
            secret_env: "AZURE_CLIENT_SECRET".into(),
        }
    }

    #[test]
    fn the_assertion_names_the_certificate_and_the_token_endpoint() {
        let file = TempFile::new("bundle.pem", &format!("{KEY}\n{CERT}"));
        let path = file.path();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let first = accepted(assertion(&client(), &fake(&[(PATH_ENV, path)]), now));
        let (header, claims) = jwt_parts(&first);
        assert_eq!(
            header,
            json!({
                "alg": "RS256",
                "typ": "JWT",
                "x5t": X5T,
                "x5t#S256": jwt::certificates(CERT).ok().and_then(|c| c.first().map(|c| c.x5t_s256())),
            })
        );
        let jti = claims["jti"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            claims,
            json!({
                "aud": "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token",
                "iss": "app-1",
                "sub": "app-1",
                "jti": jti,
                "nbf": 1_700_000_000u64,
                "iat": 1_700_000_000u64,
                "exp": 1_700_000_600u64,
            })
        );
        // A GUID, version 4, fresh each time.
        assert!(
            jti.len() == 36 && jti.as_bytes()[14] == b'4' && jti.matches('-').count() == 4,
            "{jti}"
        );
        let (_, again) = jwt_parts(&accepted(assertion(
            &client(),
            &fake(&[(PATH_ENV, path)]),
            now,
        )));
        assert_ne!(again["jti"], claims["jti"]);
        // With the chain: x5c is the certificate's DER, base64.
        for (value, sent) in [("true", true), ("1", true), ("false", false), ("", false)] {
            let vars = [(PATH_ENV, path), (SEND_CHAIN_ENV, value)];
            let (header, _) = jwt_parts(&accepted(assertion(&client(), &fake(&vars), now)));
            let der = CERT
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>();
            assert_eq!(
                header.get("x5c") == Some(&json!([der])),
                sent,
                "{value}: {header}"
            );
        }
    }

    #[test]
    fn refusals_name_the_variable_and_never_the_key() {
        let now = SystemTime::now();
        let refused_with = |text: &str, name: &str, extra: &[(&str, &str)]| {
            let file = TempFile::new(name, text);
            let path = file.path();
            let mut vars = vec![(PATH_ENV, path)];
            vars.extend_from_slice(extra);
            let m = refused(assertion(&client(), &fake(&vars), now), "unavailable");
            assert!(
                m.starts_with(&format!("{PATH_ENV} names {path}, which ")) || extra.len() == 1,
                "{m}"
            );
            for line in KEY
                .lines()
                .chain(EC.lines())
                .filter(|l| !l.starts_with("-----"))
            {
                assert!(!m.contains(line), "{m}");
            }
            m
        };
        let m = refused_with(CERT, "cert-only.pem", &[]);
        assert!(m.contains("holds no private key"), "{m}");
        let m = refused_with(KEY, "key-only.pem", &[]);
        assert!(m.contains("holds no certificate"), "{m}");
        let m = refused_with(&format!("{EC}{CERT}"), "ec.pem", &[]);
        assert!(m.contains("not an RSA key"), "{m}");
        let m = refused_with("\u{30}\u{82}binary", "cert.pem.bin", &[]);
        assert!(m.contains("not a PEM file") && m.contains(CONVERT), "{m}");
        let m = refused_with(&format!("{KEY}{CERT}"), "cert.pfx", &[]);
        assert!(m.contains("PKCS#12"), "{m}");
        let m = refused_with(
            &format!("{KEY}{CERT}"),
            "with-password.pem",
            &[(PASSWORD_ENV, "pw")],
        );
        assert!(
            m.starts_with("AZURE_CLIENT_CERTIFICATE_PASSWORD is set")
                && m.contains(CONVERT)
                && !m.contains("pw"),
            "{m}"
        );
        let broken = KEY.replace("MII", "M!I");
        let m = refused_with(&format!("{broken}{CERT}"), "broken.pem", &[]);
        assert!(m.contains("does not parse"), "{m}");
        // Not granted (so not in the sandbox), or not set.
        let gone = fake(&[(PATH_ENV, "/nowhere/cert.pem")]);
        assert_eq!(
            refused(assertion(&client(), &gone, now), "unavailable"),
            "AZURE_CLIENT_CERTIFICATE_PATH names /nowhere/cert.pem, but it is not there, or not \
             granted: list `$AZURE_CLIENT_CERTIFICATE_PATH` under the provider's grants.files"
        );
        let unset = refused(assertion(&client(), &fake(&[]), now), "unavailable");
        assert!(
            unset.starts_with("AZURE_CLIENT_CERTIFICATE_PATH is not visible"),
            "{unset}"
        );
    }
}
