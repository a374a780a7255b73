//! Talking HTTP, minus the wire: the two requests this plugin sends, what can
//! come back, origins, encodings, and the messages for answers that are not
//! about any one secret (no answer, a redirect).
//!
//! The wire itself ([`WasiHttp`], over the SDK) exists only in the component; keeping it
//! behind [`Transport`] lets everything else be tested natively.

use std::fmt;

use crate::Error;

/// The largest answer read. A Key Vault secret is at most 25 KiB, and a token
/// answer a few KiB; anything bigger is a misbehaving server, not data.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The two requests the plugin sends.
pub trait Transport {
    /// `GET url` with `Authorization: Bearer {token}`.
    fn get(&mut self, url: &str, token: &str) -> Result<Answer, Failure>;
    /// `POST url` with an `application/x-www-form-urlencoded` body.
    fn post_form(&mut self, url: &str, form: &str) -> Result<Answer, Failure>;
    /// `GET url` with one header and no token (a managed identity endpoint's
    /// `Metadata: true` or `X-IDENTITY-HEADER`).
    fn get_with(&mut self, url: &str, header: (&str, &str)) -> Result<Answer, Failure>;
}

/// What a server answered, uninterpreted. Error bodies are read too (Azure
/// puts the reason's code there), but only their codes are ever shown.
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Location` header, kept to name a redirect's destination.
    pub location: Option<String>,
    /// The body, at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
}

/// Why no answer came back (the SDK's, shared by every provider).
pub use reqflo_plugin_sdk::http::Failure;

/// [`Transport`] over the host's wasi:http, through the SDK.
#[cfg(target_arch = "wasm32")]
pub struct WasiHttp;

#[cfg(target_arch = "wasm32")]
impl Transport for WasiHttp {
    fn get(&mut self, url: &str, token: &str) -> Result<Answer, Failure> {
        let request = reqflo_plugin_sdk::http::Request::get(url)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json");
        send(request)
    }

    fn post_form(&mut self, url: &str, form: &str) -> Result<Answer, Failure> {
        let request = reqflo_plugin_sdk::http::Request::post(url, form.as_bytes().to_vec())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        send(request)
    }

    fn get_with(&mut self, url: &str, (name, value): (&str, &str)) -> Result<Answer, Failure> {
        let request = reqflo_plugin_sdk::http::Request::get(url)
            .header(name, value.to_string())
            .header("accept", "application/json");
        send(request)
    }
}

#[cfg(target_arch = "wasm32")]
fn send(request: reqflo_plugin_sdk::http::Request) -> Result<Answer, Failure> {
    use reqflo_plugin_sdk::http;
    // Error bodies are read too: Azure says why (a code) only there.
    let response = http::send(request, http::Limits::read_all(MAX_BODY_BYTES))?;
    Ok(Answer {
        status: response.status,
        location: response.header("location").map(str::to_string),
        body: response.body,
    })
}

/// A server by its role and origin, as messages name it: "Key Vault at
/// https://myvault.vault.azure.net".
#[derive(Clone, Copy)]
pub struct Server<'a> {
    /// "Key Vault" or "Azure AD".
    pub role: &'a str,
    /// Where it is.
    pub origin: &'a Origin,
}

impl fmt::Display for Server<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.role, self.origin)
    }
}

/// The user-facing error for a request that got no answer; `doing` completes
/// "while …".
pub fn failure_error(server: Server<'_>, doing: &str, failure: &Failure) -> Error {
    match failure {
        Failure::Denied => Error::Denied(format!(
            "network access to {} was refused by the host: it is not in this provider's \
             grants.hosts",
            server.origin.authority()
        )),
        Failure::Refused => Error::Unavailable(format!(
            "cannot connect to {server} (connection refused) while {doing}"
        )),
        Failure::Timeout => {
            Error::Unavailable(format!("{server} did not answer in time while {doing}"))
        }
        Failure::TooLarge => Error::Unavailable(format!(
            "{server} answered with more data than reqflo accepts ({} MiB) while {doing}",
            MAX_BODY_BYTES >> 20
        )),
        Failure::Broken(kind) => {
            Error::Unavailable(format!("cannot talk to {server} ({kind}) while {doing}"))
        }
    }
}

/// Redirects are never followed (by the host, so neither here); name where it
/// pointed, but only its origin: a path or query may carry anything.
pub fn redirect_error(server: Server<'_>, answer: &Answer) -> Error {
    let destination = match answer
        .location
        .as_deref()
        .map(|l| server.origin.of_location(l))
    {
        Some(Some(to)) => format!("to {to}"),
        Some(None) => "to a location reqflo could not read".to_string(),
        None => "without a location".to_string(),
    };
    Error::Unavailable(format!(
        "{server} answered with a redirect ({}) {destination}; redirects are not followed",
        answer.status
    ))
}

/// An error code from a server (`SecretNotFound`, `invalid_client`), if it is
/// short and plain enough to show. Anything else from a body is never shown:
/// it may echo a request, and a request may carry a secret.
pub fn safe_code(code: Option<&str>) -> Option<&str> {
    code.filter(|c| {
        !c.is_empty()
            && c.len() <= 64
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
    })
}

/// Encode all but RFC 3986's unreserved characters, for a path segment.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An `application/x-www-form-urlencoded` body of `pairs`, as the WHATWG URL
/// standard encodes it (space as `+`).
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        form_component(key, &mut out);
        out.push('=');
        form_component(value, &mut out);
    }
    out
}

fn form_component(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'*' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
            _ if byte.is_ascii_alphanumeric() => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

/// The vault, Azure AD, or where a redirect pointed (the SDK's origin).
pub use reqflo_plugin_sdk::origin::Origin;

/// Parse a base URL (see [`Origin::parse_base`]). Azure's origins print as
/// users write vault URLs: without the default port.
pub fn parse_origin(url: &str) -> Result<Origin, &'static str> {
    Origin::parse_base(url).map(Origin::without_default_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{kind_and_message, origin};

    #[test]
    fn base_urls() {
        let origin = |url| crate::wire::parse_origin(url).map(|o| o.to_string());
        assert_eq!(
            origin("https://MyVault.vault.azure.net/"),
            Ok("https://myvault.vault.azure.net".into())
        );
        assert_eq!(
            origin("http://127.0.0.1:8080"),
            Ok("http://127.0.0.1:8080".into())
        );
        assert_eq!(origin("https://v:443"), Ok("https://v".into()));
        assert_eq!(origin("http://[::1]:9000"), Ok("http://[::1]:9000".into()));
        for bad in [
            "myvault.vault.azure.net",
            "ftp://v",
            "https://v/secrets",
            "https://v?x=1",
            "https://u:p@v",
            "https://v:0",
            "https://v:70000",
            "https://:1",
            "https://v ault",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
        let o = crate::wire::parse_origin("https://v.vault.azure.net").ok();
        assert_eq!(
            o.map(|o| o.authority()),
            Some("v.vault.azure.net:443".into())
        );
    }

    #[test]
    fn locations_name_only_their_origin() {
        let base = origin();
        let to = |location| base.of_location(location).map(|o| o.to_string());
        assert_eq!(
            to("https://evil.example/steal?token=abc"),
            Some("https://evil.example".into())
        );
        assert_eq!(to("//other:81/x"), Some("https://other:81".into()));
        assert_eq!(to("/x"), Some("https://myvault.vault.azure.net".into()));
        assert_eq!(to("javascript:alert(1)"), None);
    }

    #[test]
    fn encodings() {
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(
            form(&[
                ("grant_type", "client_credentials"),
                ("client_secret", "a+b=c&d e~"),
                ("scope", "https://vault.azure.net/.default"),
            ]),
            "grant_type=client_credentials&client_secret=a%2Bb%3Dc%26d+e%7E\
             &scope=https%3A%2F%2Fvault.azure.net%2F.default"
        );
    }

    #[test]
    fn codes_are_shown_only_when_plain() {
        assert_eq!(safe_code(Some("SecretNotFound")), Some("SecretNotFound"));
        assert_eq!(safe_code(Some("invalid_client")), Some("invalid_client"));
        assert_eq!(safe_code(Some("has space")), None);
        assert_eq!(safe_code(Some("")), None);
        assert_eq!(safe_code(Some(&"x".repeat(65))), None);
        assert_eq!(safe_code(None), None);
    }

    #[test]
    fn failures_and_redirects_name_the_server() {
        let o = origin();
        let server = Server {
            role: "Key Vault",
            origin: &o,
        };
        let failure = |f| kind_and_message(&failure_error(server, "reading secret `x`", &f));
        assert_eq!(
            failure(Failure::Denied),
            (
                "denied",
                "network access to myvault.vault.azure.net:443 was refused by the host: it is \
                 not in this provider's grants.hosts"
                    .into()
            )
        );
        assert_eq!(
            failure(Failure::Timeout),
            (
                "unavailable",
                "Key Vault at https://myvault.vault.azure.net did not answer in time while \
                 reading secret `x`"
                    .into()
            )
        );
        assert!(failure(Failure::Refused).1.contains("connection refused"));
        assert!(failure(Failure::TooLarge).1.contains("1 MiB"));
        assert!(
            failure(Failure::Broken("TLS error".into()))
                .1
                .contains("(TLS error)")
        );
        let redirect = |location: Option<&str>| {
            let answer = Answer {
                status: 302,
                location: location.map(str::to_string),
                body: Vec::new(),
            };
            kind_and_message(&redirect_error(server, &answer)).1
        };
        assert_eq!(
            redirect(Some("https://login.example/x?token=abc")),
            "Key Vault at https://myvault.vault.azure.net answered with a redirect (302) to \
             https://login.example; redirects are not followed"
        );
        assert!(redirect(None).contains("without a location"));
    }
}
