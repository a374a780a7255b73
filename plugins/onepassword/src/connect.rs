//! Talking to a Connect server, minus the wire: the one GET it is asked, and
//! how each answer becomes a value or a user-facing error.
//!
//! The wire is the SDK's [`Transport`](reqflo_plugin_sdk::http::Transport):
//! wasi:http in the component, a scripted one in unit tests, so the lookup
//! logic and every message are tested natively.

use std::fmt;

use reqflo_plugin_sdk::http::{ErrorBody, Failure, Limits, Request, Response, Server};
use serde::de::DeserializeOwned;

use crate::Error;
use crate::settings::Origin;

/// The largest answer read; a vault listing or an item is far smaller, so a
/// bigger one is a misbehaving server, not data.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How much of an answer is read: only a 2xx body is ever used, so an error
/// page is not read at all.
pub const LIMITS: Limits = Limits {
    max_body_bytes: MAX_BODY_BYTES,
    error_body: ErrorBody::Skip,
};

/// What a GET asks for: JSON for everything but a file's content.
pub const JSON: &str = "application/json";
/// What a GET of a file's content asks for: its bytes, whatever they are.
pub const BYTES: &str = "application/octet-stream";

/// `GET url` with the bearer `token`, asking for `accept` ([`JSON`] or [`BYTES`]).
pub fn get(url: String, token: &str, accept: &str) -> Request {
    Request::get(url)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", accept)
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
    /// A file attached to an item, as the user wrote them.
    File {
        /// The vault segment.
        vault: &'a str,
        /// The item segment.
        item: &'a str,
        /// The file segment.
        file: &'a str,
    },
}

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Vault(vault) => write!(f, "vault {vault:?}"),
            Subject::Item { vault, item } => write!(f, "item {item:?} in vault {vault:?}"),
            Subject::File { vault, item, file } => {
                write!(f, "file {file:?} of item {item:?} in vault {vault:?}")
            }
        }
    }
}

/// Turn one GET's outcome into its JSON body, `None` for 404 (the caller knows
/// whether that means "not found" or "try by name"), or an error.
pub fn interpret<T: DeserializeOwned>(
    origin: &Origin,
    subject: Subject<'_>,
    outcome: Result<Response, Failure>,
) -> Result<Option<T>, Error> {
    let Some(body) = body(origin, subject, outcome)? else {
        return Ok(None);
    };
    serde_json::from_slice(&body).map(Some).map_err(|_| {
        // The body is never quoted: it may hold secret values.
        Error::Unavailable(format!(
            "1Password Connect at {origin} answered with JSON reqflo could not read \
             while looking up {subject}"
        ))
    })
}

/// The body of a 2xx answer, `None` for 404, or an error. Apart from
/// [`interpret`], which is built once per JSON type, so this is built once;
/// a file's content is this, raw.
pub fn body(
    origin: &Origin,
    subject: Subject<'_>,
    outcome: Result<Response, Failure>,
) -> Result<Option<Vec<u8>>, Error> {
    let answer = outcome.map_err(|failure| failure_error(origin, subject, &failure))?;
    match answer.status {
        200..=299 => Ok(Some(answer.body)),
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
            answer.header("location"),
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

/// The user-facing error for a request that got no answer, in the SDK's
/// words for every provider.
fn failure_error(origin: &Origin, subject: Subject<'_>, failure: &Failure) -> Error {
    let authority = origin.authority();
    let server = Server {
        service: "1Password Connect",
        address: origin,
        authority: &authority,
    };
    let doing = format!("looking up {subject}");
    failure.error(server, Some(&doing), MAX_BODY_BYTES)
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

/// `/v1/vaults/{vault}/items/{item}/files/{file}/content`, a file's bytes.
///
/// Built from the IDs rather than taken from the item's `content_path`: what
/// reqflo asks for stays a path it made, whatever the server sent.
pub fn file_content(vault: &str, item: &str, file: &str) -> String {
    format!(
        "{}/files/{}/content",
        self::item(vault, item),
        percent_encode(file)
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

/// Names in paths and queries (the SDK's).
pub use reqflo_plugin_sdk::http::percent_encode;

#[cfg(test)]
mod tests {
    use super::*;

    /// The Connect server the tests talk to.
    fn origin() -> Origin {
        match Origin::parse_base("http://connect:8080") {
            Ok(origin) => origin,
            Err(why) => panic!("{why}"),
        }
    }

    fn answer(status: u16, body: &str) -> Result<Response, Failure> {
        Ok(Response::new(status, body))
    }

    fn outcome(result: Result<Response, Failure>) -> Result<Option<serde_json::Value>, Error> {
        interpret(&origin(), Subject::Vault("Prod"), result)
    }

    fn error(result: Result<Response, Failure>) -> (&'static str, String) {
        match outcome(result) {
            Err(e) => (e.kind(), e.message().to_string()),
            Ok(value) => panic!("no error: {value:?}"),
        }
    }

    #[test]
    fn requests_carry_the_token_and_ask_for_json() {
        let request = get("http://connect:8080/v1/vaults".into(), "t0k", JSON);
        assert_eq!(request.url, "http://connect:8080/v1/vaults");
        assert_eq!(
            request.headers,
            [
                ("authorization".to_string(), "Bearer t0k".to_string()),
                ("accept".to_string(), "application/json".to_string())
            ]
        );
        assert!(request.body.is_empty());
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
        assert_eq!(
            file_content("v", "i", "f/../x"),
            "/v1/vaults/v/items/i/files/f%2F..%2Fx/content"
        );
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
            let response = Response::new(302, "");
            error(Ok(match location {
                Some(location) => response.with_header("Location", location),
                None => response,
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
        let unreadable = "to a location reqflo could not read;";
        for (location, destination) in [
            (
                Some("https://evil.example/steal?token=abc"),
                "to https://evil.example:443;",
            ),
            (Some("//other:81/x"), "to http://other:81;"),
            (Some("/v1/login"), "to http://connect:8080;"),
            (Some("javascript:alert(1)"), unreadable),
            (Some("https://a\u{1b}b/"), unreadable),
            (Some("\u{7f}"), unreadable),
            (None, "without a location;"),
        ] {
            let (_, message) = redirect(location);
            let expected = format!("answered with a redirect (302) {destination}");
            assert!(message.contains(&expected), "{location:?}: {message}");
        }
    }

    #[test]
    fn transport_failures_name_the_server_and_what_was_looked_up() {
        let said = |failure| {
            let (kind, message) = error(Err(failure));
            format!("{kind}: {message}")
        };
        let cases = [
            (
                Failure::Denied,
                "denied: network access to connect:8080 was refused by the host: it is not in \
                 this provider's grants.hosts",
            ),
            (
                Failure::Timeout,
                "unavailable: 1Password Connect at http://connect:8080 did not answer in time \
                 while looking up vault \"Prod\"",
            ),
            (
                Failure::Refused,
                "unavailable: cannot connect to 1Password Connect at http://connect:8080 \
                 (connection refused) while looking up vault \"Prod\"",
            ),
            (
                Failure::Broken("DNS lookup failed".into()),
                "unavailable: cannot talk to 1Password Connect at http://connect:8080 \
                 (DNS lookup failed) while looking up vault \"Prod\"",
            ),
            (
                Failure::TooLarge,
                "unavailable: 1Password Connect at http://connect:8080 answered with more data \
                 than reqflo accepts (8 MiB) while looking up vault \"Prod\"",
            ),
        ];
        for (failure, expected) in cases {
            assert_eq!(said(failure), expected);
        }
    }
}
