//! Talking to a Connect server, minus the wire: what one GET can answer, and
//! how each answer becomes a value or a user-facing error.
//!
//! The wire itself ([`WasiHttp`], over the SDK) exists only in the component; keeping it behind
//! [`Transport`] lets the lookup logic and every message be tested natively.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::Error;
use crate::settings::Origin;

/// The largest answer read; a vault listing or an item is far smaller, so a
/// bigger one is a misbehaving server, not data.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// One GET against a Connect server.
pub trait Transport {
    /// Send `GET url` with the bearer `token` and return what came back.
    fn get(&mut self, url: &str, token: &str) -> Result<Answer, Failure>;
}

/// What a server answered, uninterpreted. The body is read only for 2xx.
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Location` header, kept to name a redirect's destination.
    pub location: Option<String>,
    /// The body of a 2xx answer, at most [`MAX_BODY_BYTES`].
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
        use reqflo_plugin_sdk::http;
        let request = http::Request::get(url)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json");
        // Only a 2xx body is ever used; an error page is not read at all.
        let limits = http::Limits {
            max_body_bytes: MAX_BODY_BYTES,
            error_body: http::ErrorBody::Skip,
        };
        let response = http::send(request, limits)?;
        Ok(Answer {
            status: response.status,
            location: response.header("location").map(str::to_string),
            body: response.body,
        })
    }
}

/// What was being looked up when an answer came back, for messages.
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    /// A vault, as the user wrote it.
    Vault(&'a str),
    /// An item in a vault, as the user wrote them.
    Item {
        /// The vault segment.
        vault: &'a str,
        /// The item segment.
        item: &'a str,
    },
}

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Vault(vault) => write!(f, "vault {vault:?}"),
            Subject::Item { vault, item } => write!(f, "item {item:?} in vault {vault:?}"),
        }
    }
}

/// Turn one GET's outcome into its JSON body, `None` for 404 (the caller knows
/// whether that means "not found" or "try by name"), or an error.
pub fn interpret<T: DeserializeOwned>(
    origin: &Origin,
    subject: Subject<'_>,
    outcome: Result<Answer, Failure>,
) -> Result<Option<T>, Error> {
    let answer = outcome.map_err(|failure| failure_error(origin, subject, &failure))?;
    match answer.status {
        200..=299 => serde_json::from_slice(&answer.body).map(Some).map_err(|_| {
            // The body is never quoted: it may hold secret values.
            Error::Unavailable(format!(
                "1Password Connect at {origin} answered with JSON reqflo could not read \
                 while looking up {subject}"
            ))
        }),
        404 => Ok(None),
        401 => Err(Error::Denied(format!(
            "1Password Connect rejected the token (401) while looking up {subject}"
        ))),
        403 => Err(Error::Denied(format!(
            "the Connect token may not read {subject} (403)"
        ))),
        300..=399 => Err(redirect_error(
            origin,
            answer.status,
            answer.location.as_deref(),
        )),
        status => Err(Error::Unavailable(format!(
            "1Password Connect at {origin} answered {status} while looking up {subject}"
        ))),
    }
}

/// Redirects are never followed (by the host, so neither here); name where it
/// pointed, but only its origin: a path or query may carry anything.
fn redirect_error(origin: &Origin, status: u16, location: Option<&str>) -> Error {
    let destination = match location.map(|l| origin.of_location(l)) {
        Some(Some(to)) => format!("to {to}"),
        Some(None) => "to a location reqflo could not read".to_string(),
        None => "without a location".to_string(),
    };
    Error::Unavailable(format!(
        "1Password Connect at {origin} answered with a redirect ({status}) {destination}; \
         redirects are not followed"
    ))
}

/// The user-facing error for a request that got no answer.
pub fn failure_error(origin: &Origin, subject: Subject<'_>, failure: &Failure) -> Error {
    match failure {
        Failure::Denied => Error::Denied(format!(
            "network access to {} was refused by the host: it is not in this provider's \
             grants.hosts",
            origin.authority()
        )),
        Failure::Refused => Error::Unavailable(format!(
            "cannot connect to 1Password Connect at {origin} (connection refused)"
        )),
        Failure::Timeout => Error::Unavailable(format!(
            "1Password Connect at {origin} did not answer in time"
        )),
        Failure::TooLarge => Error::Unavailable(format!(
            "1Password Connect at {origin} answered with more data than reqflo accepts \
             ({} MiB) while looking up {subject}",
            MAX_BODY_BYTES >> 20
        )),
        Failure::Broken(kind) => Error::Unavailable(format!(
            "cannot talk to 1Password Connect at {origin} ({kind})"
        )),
    }
}

/// `/v1/vaults?filter=…` finding vaults named `name`.
pub fn vaults_named(name: &str) -> String {
    format!("/v1/vaults?filter={}", scim_eq("name", name))
}

/// `/v1/vaults`: every vault the token may read.
pub fn vaults() -> String {
    "/v1/vaults".to_string()
}

/// `/v1/vaults/{id}`.
pub fn vault(id: &str) -> String {
    format!("/v1/vaults/{}", percent_encode(id))
}

/// `/v1/vaults/{vault}/items?filter=…` finding items titled `title`.
pub fn items_titled(vault: &str, title: &str) -> String {
    format!(
        "/v1/vaults/{}/items?filter={}",
        percent_encode(vault),
        scim_eq("title", title)
    )
}

/// `/v1/vaults/{vault}/items`: every item's summary.
pub fn items(vault: &str) -> String {
    format!("/v1/vaults/{}/items", percent_encode(vault))
}

/// `/v1/vaults/{vault}/items/{id}`, the full item with its fields.
pub fn item(vault: &str, id: &str) -> String {
    format!(
        "/v1/vaults/{}/items/{}",
        percent_encode(vault),
        percent_encode(id)
    )
}

/// The SCIM filter `attribute eq "value"`, percent-encoded for a query string.
pub fn scim_eq(attribute: &str, value: &str) -> String {
    let mut filter = format!("{attribute} eq \"");
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            filter.push('\\');
        }
        filter.push(c);
    }
    filter.push('"');
    percent_encode(&filter)
}

/// Encode all but RFC 3986's unreserved characters. IDs from the server go
/// through this too: the server does not get to shape our URLs.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{kind_and_message, origin};

    fn answer(status: u16, body: &str) -> Result<Answer, Failure> {
        Ok(Answer {
            status,
            location: None,
            body: body.as_bytes().to_vec(),
        })
    }

    fn outcome(result: Result<Answer, Failure>) -> Result<Option<serde_json::Value>, Error> {
        interpret(&origin(), Subject::Vault("Prod"), result)
    }

    fn error(result: Result<Answer, Failure>) -> (&'static str, String) {
        match outcome(result) {
            Err(e) => kind_and_message(&e),
            Ok(value) => panic!("no error: {value:?}"),
        }
    }

    #[test]
    fn filters_are_quoted_escaped_and_encoded() {
        assert_eq!(scim_eq("name", "Prod"), "name%20eq%20%22Prod%22");
        assert_eq!(
            scim_eq("title", "a\"b\\c"),
            "title%20eq%20%22a%5C%22b%5C%5Cc%22"
        );
        assert_eq!(scim_eq("title", "é &"), "title%20eq%20%22%C3%A9%20%26%22");
        assert_eq!(
            vaults_named("My Vault"),
            "/v1/vaults?filter=name%20eq%20%22My%20Vault%22"
        );
        assert_eq!(
            items_titled("v1", "Stripe"),
            "/v1/vaults/v1/items?filter=title%20eq%20%22Stripe%22"
        );
        assert_eq!(item("v/..", "i?x"), "/v1/vaults/v%2F../items/i%3Fx");
    }

    #[test]
    fn success_and_not_found() {
        assert!(matches!(outcome(answer(200, "[1]")), Ok(Some(_))));
        assert!(matches!(outcome(answer(404, "whatever")), Ok(None)));
    }

    #[test]
    fn status_errors() {
        assert_eq!(
            error(answer(401, "")),
            (
                "denied",
                "1Password Connect rejected the token (401) while looking up vault \"Prod\"".into()
            )
        );
        assert_eq!(
            error(answer(403, "")),
            (
                "denied",
                "the Connect token may not read vault \"Prod\" (403)".into()
            )
        );
        assert_eq!(
            error(answer(503, "secret body")),
            (
                "unavailable",
                "1Password Connect at http://connect:8080 answered 503 while looking up vault \"Prod\"".into()
            )
        );
    }

    #[test]
    fn unreadable_json_never_quotes_the_body() {
        let (kind, message) = error(answer(200, "{\"value\": \"hunter2\""));
        assert_eq!(kind, "unavailable");
        assert!(message.contains("JSON reqflo could not read"), "{message}");
        assert!(!message.contains("hunter2"));
        let item: Result<Option<Vec<String>>, Error> =
            interpret(&origin(), Subject::Vault("Prod"), answer(200, "{}"));
        assert!(item.is_err());
    }

    #[test]
    fn redirects_name_only_the_destination_origin() {
        let redirect = |location: Option<&str>| {
            error(Ok(Answer {
                status: 302,
                location: location.map(str::to_string),
                body: Vec::new(),
            }))
        };
        assert_eq!(
            redirect(Some("https://login.example.com/sso?token=abc")),
            (
                "unavailable",
                "1Password Connect at http://connect:8080 answered with a redirect (302) to \
                 https://login.example.com:443; redirects are not followed"
                    .into()
            )
        );
        assert!(redirect(None).1.contains("without a location"));
        assert!(redirect(Some("\u{7f}")).1.contains("could not read"));
    }

    #[test]
    fn transport_failures() {
        let cases = [
            (
                Failure::Denied,
                "denied",
                "network access to connect:8080 was refused by the host: it is not in this \
                 provider's grants.hosts",
            ),
            (
                Failure::Timeout,
                "unavailable",
                "1Password Connect at http://connect:8080 did not answer in time",
            ),
            (
                Failure::Refused,
                "unavailable",
                "cannot connect to 1Password Connect at http://connect:8080 (connection refused)",
            ),
            (
                Failure::Broken("DNS lookup failed".into()),
                "unavailable",
                "cannot talk to 1Password Connect at http://connect:8080 (DNS lookup failed)",
            ),
            (
                Failure::TooLarge,
                "unavailable",
                "1Password Connect at http://connect:8080 answered with more data than reqflo \
                 accepts (8 MiB) while looking up vault \"Prod\"",
            ),
        ];
        for (failure, kind, message) in cases {
            assert_eq!(error(Err(failure)), (kind, message.to_string()));
        }
    }
}
