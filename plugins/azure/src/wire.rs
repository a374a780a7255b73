//! Talking HTTP, minus the wire: how this plugin's requests are sent, what
//! can come back, origins, encodings, and the messages for answers that are
//! not about any one secret (no answer, a redirect).
//!
//! The wire itself is the SDK's [`Transport`]: wasi:http in the component,
//! a scripted one in unit tests.

use std::fmt;

use reqflo_plugin_sdk::http::{ErrorBody, Limits, Request, Response, Transport};

use crate::Error;

/// The largest answer read. A Key Vault secret is at most 25 KiB, and a token
/// answer a few KiB; anything bigger is a misbehaving server, not data.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Error bodies are read too: Azure says why (a code) only there, and only
/// codes are ever shown.
const LIMITS: Limits = Limits {
    max_body_bytes: MAX_BODY_BYTES,
    error_body: ErrorBody::Read,
};

/// Why no answer came back (the SDK's, shared by every provider).
pub use reqflo_plugin_sdk::http::Failure;

/// Send `request`, asking for JSON (every Azure endpoint answers it), within
/// [`MAX_BODY_BYTES`].
pub fn send(transport: &mut impl Transport, request: Request) -> Result<Response, Failure> {
    transport.send(request.header("accept", "application/json"), LIMITS)
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

/// The user-facing error for a request that got no answer, in the SDK's
/// words for every provider; `doing` completes "while …".
pub fn failure_error(server: Server<'_>, doing: &str, failure: &Failure) -> Error {
    let authority = server.origin.authority();
    let named = reqflo_plugin_sdk::http::Server {
        service: server.role,
        address: server.origin,
        authority: &authority,
    };
    failure.error(named, Some(doing), MAX_BODY_BYTES)
}

/// Redirects are never followed (by the host, so neither here); name where it
/// pointed, but only its origin: a path or query may carry anything.
pub fn redirect_error(server: Server<'_>, answer: &Response) -> Error {
    let destination = match answer
        .header("location")
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

/// Names in paths and queries (the SDK's).
pub use reqflo_plugin_sdk::http::percent_encode;

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
pub(crate) mod tests {
    use std::sync::LazyLock;

    use super::*;

    /// The vault the tests talk to.
    static VAULT: LazyLock<Origin> =
        LazyLock::new(|| match parse_origin("https://myvault.vault.azure.net") {
            Ok(origin) => origin,
            Err(why) => panic!("{why}"),
        });

    /// The test vault, as messages name it.
    pub fn key_vault() -> Server<'static> {
        Server {
            role: "Key Vault",
            origin: &VAULT,
        }
    }

    #[test]
    fn base_urls() {
        let origin = |url| parse_origin(url).map(|o| o.to_string());
        for (url, printed) in [
            (
                "https://MyVault.vault.azure.net/",
                "https://myvault.vault.azure.net",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://v:443", "https://v"),
            ("http://[::1]:9000", "http://[::1]:9000"),
        ] {
            assert_eq!(origin(url), Ok(printed.into()), "{url}");
        }
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
        let o = parse_origin("https://v.vault.azure.net").ok();
        assert_eq!(
            o.map(|o| o.authority()),
            Some("v.vault.azure.net:443".into())
        );
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
    fn failures_name_the_server_and_what_it_was_doing() {
        let failure = |f| {
            let error = failure_error(key_vault(), "reading secret `x`", &f);
            format!("{}: {}", error.kind(), error.message())
        };
        let cases = [
            (
                Failure::Denied,
                "denied: network access to myvault.vault.azure.net:443 was refused by the host: \
                 it is not in this provider's grants.hosts",
            ),
            (
                Failure::Timeout,
                "unavailable: Key Vault at https://myvault.vault.azure.net did not answer in \
                 time while reading secret `x`",
            ),
            (
                Failure::Refused,
                "unavailable: cannot connect to Key Vault at https://myvault.vault.azure.net \
                 (connection refused) while reading secret `x`",
            ),
            (
                Failure::TooLarge,
                "unavailable: Key Vault at https://myvault.vault.azure.net answered with more \
                 data than reqflo accepts (1 MiB) while reading secret `x`",
            ),
            (
                Failure::Broken("TLS error".into()),
                "unavailable: cannot talk to Key Vault at https://myvault.vault.azure.net \
                 (TLS error) while reading secret `x`",
            ),
        ];
        for (f, expected) in cases {
            assert_eq!(failure(f), expected);
        }
    }

    #[test]
    fn redirects_name_only_their_destination_origin() {
        let redirect = |location: Option<&str>| {
            let answer = match location {
                Some(location) => Response::new(302, "").with_header("Location", location),
                None => Response::new(302, ""),
            };
            redirect_error(key_vault(), &answer).message().to_string()
        };
        assert_eq!(
            redirect(Some("https://login.example/x?token=abc")),
            "Key Vault at https://myvault.vault.azure.net answered with a redirect (302) to \
             https://login.example; redirects are not followed"
        );
        // Where it pointed prints as the vault does: without a default port.
        for (location, destination) in [
            (
                Some("https://evil.example/steal?token=abc"),
                "to https://evil.example;",
            ),
            (Some("//other:81/x"), "to https://other:81;"),
            (Some("/x"), "to https://myvault.vault.azure.net;"),
            (
                Some("javascript:alert(1)"),
                "to a location reqflo could not read;",
            ),
            (None, "without a location;"),
        ] {
            let message = redirect(location);
            let expected = format!("answered with a redirect (302) {destination}");
            assert!(message.contains(&expected), "{location:?}: {message}");
        }
    }
}
