//! One-time passwords: `?attribute=otp` (or `totp`) on an OTP field gives its
//! current code.
//!
//! Connect (1.4.0 and later) sends the current code beside the field's
//! `otpauth://` URI, as `totp`; that code is used as sent. Without it (an
//! older Connect), the code is computed here from the URI as RFC 6238 says
//! (<https://www.rfc-editor.org/rfc/rfc6238>), with the parameters of
//! Google's key URI format
//! (<https://github.com/google/google-authenticator/wiki/Key-Uri-Format>):
//! a base32 `secret`, `algorithm` SHA1, SHA256 or SHA512, `digits` and
//! `period`, by default SHA1, 6 and 30.
//!
//! The URI's secret is a credential: no message here quotes the URI or any
//! part of it.

use hmac::{EagerHash, Hmac, KeyInit, Mac};
use reqflo_plugin_sdk::http::percent_decode;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::Error;
use crate::item::Field;
use crate::reference::Reference;

/// The hash under the HMAC (`algorithm=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA-1, the default.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// What a TOTP code is computed from. Not `Debug`: it holds the secret.
pub struct Totp {
    key: Vec<u8>,
    algorithm: Algorithm,
    digits: u32,
    period: u64,
}

/// The most digits a code can have: the truncated HMAC is a 31-bit number.
const MAX_DIGITS: u32 = 10;

impl Totp {
    /// The parameters of an `otpauth://totp/…` URI, or of a bare base32
    /// secret (as 1Password takes one) with the defaults. The error says
    /// what is wrong without quoting any of `text`.
    pub fn parse(text: &str) -> Result<Totp, String> {
        let text = text.trim();
        let Some(rest) = strip_prefix_ignore_case(text, "otpauth://") else {
            return Ok(Totp {
                key: decode_secret(text)?,
                algorithm: Algorithm::Sha1,
                digits: 6,
                period: 30,
            });
        };
        let (kind, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if kind.eq_ignore_ascii_case("hotp") {
            return Err(
                "it is a counter-based (HOTP) password, which needs a counter \
                        kept between uses; only time-based (TOTP) ones are supported"
                    .to_string(),
            );
        }
        if !kind.eq_ignore_ascii_case("totp") {
            return Err("it is an otpauth:// URI of neither type totp nor hotp".to_string());
        }
        let query = rest.split_once('?').map_or("", |(_, query)| query);
        let mut totp = Totp {
            key: Vec::new(),
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
        };
        let mut secret = None;
        for (key, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            // Values are percent-encoded, as the Key URI Format writes them.
            let value = percent_decode(value)
                .ok_or("its URI has a parameter that is not percent-encoded UTF-8 text")?;
            let value = value.as_str();
            match key.to_ascii_lowercase().as_str() {
                "secret" => secret = Some(value.to_string()),
                "algorithm" => totp.algorithm = algorithm(value)?,
                "digits" => {
                    totp.digits = value
                        .parse()
                        .ok()
                        .filter(|d| (1..=MAX_DIGITS).contains(d))
                        .ok_or_else(|| {
                            format!("its digits is not a number from 1 to {MAX_DIGITS}")
                        })?;
                }
                "period" => {
                    totp.period = value
                        .parse()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or("its period is not a whole number of seconds above 0")?;
                }
                // issuer, image, counter…: nothing a code depends on.
                _ => {}
            }
        }
        let secret = secret.ok_or("its URI has no secret")?;
        totp.key = decode_secret(&secret)?;
        Ok(totp)
    }

    /// The code for `unix_seconds`.
    pub fn at(&self, unix_seconds: u64) -> String {
        hotp(
            &self.key,
            self.algorithm,
            self.digits,
            unix_seconds / self.period,
        )
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn algorithm(name: &str) -> Result<Algorithm, String> {
    match name.to_ascii_uppercase().as_str() {
        "SHA1" => Ok(Algorithm::Sha1),
        "SHA256" => Ok(Algorithm::Sha256),
        "SHA512" => Ok(Algorithm::Sha512),
        _ => Err("its algorithm is not SHA1, SHA256 or SHA512".to_string()),
    }
}

/// A base32 secret as people write it: any case, maybe with spaces, dashes
/// or `=` padding.
fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = secret
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '=' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if cleaned.is_empty() {
        return Err("its secret is empty".to_string());
    }
    data_encoding::BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .map_err(|_| "its secret is not base32".to_string())
}

/// RFC 4226's HOTP (§5.3: dynamic truncation) of `counter`, `digits` long.
fn hotp(key: &[u8], algorithm: Algorithm, digits: u32, counter: u64) -> String {
    let message = counter.to_be_bytes();
    let mac = match algorithm {
        Algorithm::Sha1 => hmac::<Sha1>(key, &message),
        Algorithm::Sha256 => hmac::<Sha256>(key, &message),
        Algorithm::Sha512 => hmac::<Sha512>(key, &message),
    };
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word: [u8; 4] = mac
        .get(offset..offset + 4)
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or_default();
    let truncated = u64::from(u32::from_be_bytes(word) & 0x7fff_ffff);
    let code = truncated % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

fn hmac<D: EagerHash>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this cannot fail.
    match <Hmac<D> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The current code of `field`, which `reference` asks for with
/// `?attribute=otp`, at `unix_seconds`.
pub fn code(field: &Field, reference: &Reference, unix_seconds: u64) -> Result<String, Error> {
    let Reference {
        field: name, item, ..
    } = reference;
    let kind = field.kind.as_deref().unwrap_or("");
    if !kind.eq_ignore_ascii_case("OTP") {
        let kind = if kind.is_empty() { "none" } else { kind };
        return Err(Error::InvalidReference(format!(
            "field {name:?} of item {item:?} is not a one-time password (its type is {kind}, \
             not OTP): ?attribute=otp asks for the current code of an OTP field"
        )));
    }
    if let Some(code) = field.totp.as_deref().filter(|c| !c.is_empty()) {
        return Ok(code.to_string());
    }
    let uri = field.value.as_deref().filter(|v| !v.trim().is_empty());
    let uri = uri.ok_or_else(|| {
        Error::NotFound(format!(
            "one-time password field {name:?} of item {item:?} has no value"
        ))
    })?;
    let totp = Totp::parse(uri).map_err(|why| {
        Error::InvalidReference(format!(
            "the one-time password in field {name:?} of item {item:?} cannot be used: {why}"
        ))
    })?;
    Ok(totp.at(unix_seconds))
}

/// Seconds since the Unix epoch by the wall clock (wasi:clocks in the
/// component); a clock before 1970 is read as the epoch itself.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    /// RFC 6238 Appendix B's seeds: the ASCII digits "1234567890" repeated
    /// to the hash's length (20, 32 and 64 bytes), in base32.
    fn seed(algorithm: &str, bytes: usize) -> String {
        let ascii: Vec<u8> = b"1234567890".iter().copied().cycle().take(bytes).collect();
        let secret = data_encoding::BASE32_NOPAD.encode(&ascii);
        format!("otpauth://totp/RFC:6238?secret={secret}&algorithm={algorithm}&digits=8")
    }

    fn totp(text: &str) -> Totp {
        match Totp::parse(text) {
            Ok(totp) => totp,
            Err(why) => panic!("{why}"),
        }
    }

    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let sha1 = totp(&seed("SHA1", 20));
        let sha256 = totp(&seed("SHA256", 32));
        let sha512 = totp(&seed("sha512", 64));
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, one, two_five_six, five_twelve) in table {
            assert_eq!(sha1.at(time), one, "SHA1 at {time}");
            assert_eq!(sha256.at(time), two_five_six, "SHA256 at {time}");
            assert_eq!(sha512.at(time), five_twelve, "SHA512 at {time}");
        }
    }

    #[test]
    fn defaults_bare_secrets_and_loose_spelling() {
        // Google's example key: SHA1, 6 digits, 30 seconds unless said.
        let uri = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
        let code = totp(uri).at(59);
        assert_eq!(code.len(), 6);
        for same in [
            "JBSWY3DPEHPK3PXP",
            " jbsw y3dp ehpk 3pxp ",
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=6&period=30&algorithm=SHA1",
            "OTPAUTH://TOTP/x?SECRET=jbswy3dpehpk3pxp",
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP%3D%3D%3D",
            // Every value is percent-decoded, escapes in either case.
            "otpauth://totp/x?secret=JBSW%20Y3DP%2dEHPK%33PXP%3d&period=%33%30&algorithm=SH%41%31",
        ] {
            assert_eq!(totp(same).at(59), code, "{same}");
        }
        let sha256 = "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256";
        assert_eq!(
            totp("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=SHA%32%356").at(59),
            totp(sha256).at(59)
        );
        // The step is the period: 30 s by default, as said otherwise.
        let every_30 = totp(uri);
        assert_eq!(every_30.at(30), every_30.at(59));
        assert_ne!(every_30.at(59), every_30.at(60));
        let minute = totp(&format!("{uri}&period=60&digits=8"));
        assert_eq!(minute.at(60), minute.at(119));
        assert_eq!(minute.at(60).len(), 8);
    }

    #[test]
    fn unusable_uris_say_why_without_quoting_the_secret() {
        let secret = "JBSWY3DPEHPK3PXP";
        let cases = [
            (
                format!("otpauth://hotp/x?secret={secret}&counter=1"),
                "HOTP",
            ),
            (format!("otpauth://motp/x?secret={secret}"), "neither type"),
            (
                format!("otpauth://totp/x?secret={secret}&issuer=%FF"),
                "not percent-encoded",
            ),
            ("otpauth://totp/x?issuer=Acme".to_string(), "no secret"),
            ("otpauth://totp/x?secret=".to_string(), "secret is empty"),
            ("otpauth://totp/x?secret=0189!".to_string(), "not base32"),
            (
                format!("otpauth://totp/x?secret={secret}&algorithm=MD5"),
                "algorithm",
            ),
            (
                format!("otpauth://totp/x?secret={secret}&digits=11"),
                "digits",
            ),
            (
                format!("otpauth://totp/x?secret={secret}&digits=six"),
                "digits",
            ),
            (
                format!("otpauth://totp/x?secret={secret}&period=0"),
                "period",
            ),
            (
                format!("otpauth://totp/x?secret={secret}&period=-30"),
                "period",
            ),
        ];
        for (uri, why) in cases {
            let message = match Totp::parse(&uri) {
                Ok(_) => panic!("{uri} was accepted"),
                Err(message) => message,
            };
            assert!(message.contains(why), "{uri}: {message}");
            assert!(!message.contains(secret), "{message}");
        }
    }

    fn field(json: &str) -> Field {
        match serde_json::from_str(json) {
            Ok(field) => field,
            Err(e) => panic!("fixture: {e}"),
        }
    }

    const OTP_REFERENCE: &str = "op://Ops/GitHub/one-time password?attribute=otp";

    #[test]
    fn connects_code_is_used_as_sent() {
        let reference = accepted(parse(OTP_REFERENCE));
        let sent = field(
            r#"{"id": "TOTP_x", "type": "OTP", "value": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP",
                "totp": "123456"}"#,
        );
        assert_eq!(code(&sent, &reference, 59), Ok("123456".to_string()));
        // An older Connect sends no code: it is computed from the URI.
        let computed = field(
            r#"{"id": "TOTP_x", "type": "OTP", "value": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"}"#,
        );
        let expected = totp("JBSWY3DPEHPK3PXP").at(59);
        assert_eq!(code(&computed, &reference, 59), Ok(expected));
    }

    #[test]
    fn other_fields_and_bad_uris_are_refused_by_name() {
        let reference = accepted(parse(OTP_REFERENCE));
        let password = field(r#"{"id": "password", "type": "CONCEALED", "value": "hunter22"}"#);
        let message = refused(code(&password, &reference, 59), "invalid-reference");
        assert_eq!(
            message,
            "field \"one-time password\" of item \"GitHub\" is not a one-time password (its type \
             is CONCEALED, not OTP): ?attribute=otp asks for the current code of an OTP field"
        );
        let untyped = field(r#"{"id": "x", "value": "JBSWY3DPEHPK3PXP"}"#);
        let message = refused(code(&untyped, &reference, 59), "invalid-reference");
        assert!(message.contains("its type is none"), "{message}");

        let empty = field(r#"{"id": "x", "type": "OTP"}"#);
        let message = refused(code(&empty, &reference, 59), "not-found");
        assert!(message.ends_with("has no value"), "{message}");

        let hotp = field(
            r#"{"id": "x", "type": "OTP", "value": "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP"}"#,
        );
        let message = refused(code(&hotp, &reference, 59), "invalid-reference");
        assert!(
            message.starts_with(
                "the one-time password in field \"one-time password\" of item \"GitHub\" \
                 cannot be used: it is a counter-based (HOTP) password"
            ),
            "{message}"
        );
        assert!(!message.contains("JBSWY3DPEHPK3PXP"), "{message}");
    }

    mod provider {
        use std::sync::atomic::{AtomicU64, Ordering};

        use reqflo_plugin_sdk::Config;
        use reqflo_plugin_sdk::env;
        use reqflo_plugin_sdk::http::{Response, Scripted};
        use reqflo_plugin_sdk::testing::{accepted, refused};

        use crate::Error;
        use crate::lookup::Provider;
        use crate::settings::Settings;

        const VAULT: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvv";
        const ITEM: &str = "iiiiiiiiiiiiiiiiiiiiiiiiii";
        /// RFC 6238's SHA-1 seed, "12345678901234567890", in base32.
        const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

        /// The one test's clock (a `fn` cannot capture one).
        static NOW: AtomicU64 = AtomicU64::new(59);

        fn now() -> u64 {
            NOW.load(Ordering::SeqCst)
        }

        /// A Connect server holding one item with a code Connect computed,
        /// one without (as before Connect 1.4.0), and a password.
        fn connect() -> Scripted {
            let item = format!(
                r#"{{"id": "{ITEM}", "title": "GitHub", "fields": [
                    {{"id": "TOTP_a", "type": "OTP", "label": "sent",
                      "value": "otpauth://totp/GitHub:ci?secret={SEED}&digits=8", "totp": "55501234"}},
                    {{"id": "TOTP_b", "type": "OTP", "label": "computed",
                      "value": "otpauth://totp/GitHub:ci?secret={SEED}&digits=8&issuer=GitHub"}},
                    {{"id": "password", "type": "CONCEALED", "purpose": "PASSWORD",
                      "label": "password", "value": "hunter22"}}
                ]}}"#
            );
            let mut server = Scripted::new().otherwise(Ok(Response::new(404, "")));
            let base = format!("http://connect:8080/v1/vaults/{VAULT}");
            server.add(
                base.clone(),
                Ok(Response::new(
                    200,
                    format!(r#"{{"id": "{VAULT}", "name": "Ops"}}"#),
                )),
            );
            for _ in 0..4 {
                server.add(
                    format!("{base}/items/{ITEM}"),
                    Ok(Response::new(200, item.clone())),
                );
            }
            server
        }

        fn resolve(
            provider: &mut Provider,
            server: &mut Scripted,
            field: &str,
        ) -> Result<String, Error> {
            let reference = format!("op://{VAULT}/{ITEM}/{field}");
            let env = env::fake(&[("OP_CONNECT_TOKEN", "the-token")]);
            let bytes = provider.resolve(&reference, server, env)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }

        #[test]
        fn the_current_code_as_connect_sent_it_or_computed_at_each_resolve() {
            let settings = accepted(Settings::from_config(Config::of(&[(
                "host",
                "http://connect:8080",
            )])));
            let mut provider = Provider::new(settings).with_clock(now);
            let mut server = connect();
            let mut get = |field: &str| resolve(&mut provider, &mut server, field);
            assert_eq!(get("sent?attribute=otp"), Ok("55501234".into()));
            // RFC 6238 Appendix B, SHA-1, at 59 s and then at 1111111109 s.
            assert_eq!(get("computed?attribute=totp"), Ok("94287082".into()));
            NOW.store(1_111_111_109, Ordering::SeqCst);
            assert_eq!(get("TOTP_b?attribute=otp"), Ok("07081804".into()));
            // The URI itself is still the field's value.
            assert!(get("computed").is_ok_and(|uri| uri.starts_with("otpauth://totp/")));
            let message = refused(get("password?attribute=totp"), "invalid-reference");
            assert!(message.contains("\"password\" of item"), "{message}");
            assert!(message.contains("is not a one-time password"), "{message}");
            assert!(!message.contains("hunter22"), "{message}");
        }
    }
}
