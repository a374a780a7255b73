//! Talking to Vault, minus the wire: the requests this plugin makes, how
//! their answers are read, and the errors every kind of request shares.
//!
//! The wire itself is the SDK's [`Transport`](reqflo_plugin_sdk::http::Transport):
//! wasi:http in the component, a scripted server in the unit tests.

use reqflo_plugin_sdk::http::{ErrorBody, Failure, Limits, Request, Response, Server};
use reqflo_plugin_sdk::origin::Origin;
use serde::Deserialize;

use crate::Error;
use crate::reference::VaultPath;
use crate::settings::KvVersion;

/// The largest answer read. A KV secret is far smaller (Vault's storage
/// entries stop around 1 MiB), so a bigger one is a misbehaving server.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How every answer is read. Error bodies are read too: a 404 tells a
/// deleted version from a missing secret, a 503 says whether the server is
/// sealed. They are parsed for those fields only and never shown.
pub const LIMITS: Limits = Limits {
    max_body_bytes: MAX_BODY_BYTES,
    error_body: ErrorBody::Read,
};

/// A GET of `url` with the token and namespace.
pub fn get(url: String, token: &str, namespace: Option<&str>) -> Request {
    with_headers(Request::get(url), Some(token), namespace)
}

/// A POST of `body` to `url` before there is a token (a login).
pub fn post(url: String, body: Vec<u8>, namespace: Option<&str>) -> Request {
    with_headers(Request::post(url, body), None, namespace)
}

/// `request` with `accept: application/json`, then [`headers`].
fn with_headers(request: Request, token: Option<&str>, namespace: Option<&str>) -> Request {
    headers(token, namespace).into_iter().fold(
        request.header("accept", "application/json"),
        |request, (name, value)| request.header(name, value),
    )
}

/// The headers every request carries: the token (when there is one yet), the
/// namespace, and `X-Vault-Request`, which Vault Agent and Proxy require.
fn headers(token: Option<&str>, namespace: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![("x-vault-request", "true".to_string())];
    if let Some(token) = token {
        headers.push(("x-vault-token", token.to_string()));
    }
    if let Some(namespace) = namespace {
        headers.push(("x-vault-namespace", namespace.to_string()));
    }
    headers
}

/// `/v1/{mount}/data/{path}[?version=N]` (KV v2) or `/v1/{mount}/{path}` (KV v1).
pub fn secret_path(
    kv_version: KvVersion,
    mount: &VaultPath,
    path: &VaultPath,
    version: Option<u64>,
) -> String {
    let mut url = format!("/v1/{}", encode_path(mount));
    if kv_version == KvVersion::V2 {
        url.push_str("/data");
    }
    url.push('/');
    url.push_str(&encode_path(path));
    if let Some(version) = version {
        url.push_str(&format!("?version={version}"));
    }
    url
}

/// `/v1/auth/{mount}/login`.
pub fn login_path(mount: &VaultPath) -> String {
    format!("/v1/auth/{}/login", encode_path(mount))
}

/// Each segment percent-encoded, joined by `/`.
fn encode_path(path: &VaultPath) -> String {
    let segments: Vec<String> = path.segments().iter().map(|s| percent_encode(s)).collect();
    segments.join("/")
}

/// Names in paths and queries (the SDK's).
pub use reqflo_plugin_sdk::http::percent_encode;

/// The user-facing error for a request that got no answer, in the SDK's
/// wording shared by every provider.
pub fn failure_error(origin: &Origin, failure: &Failure, doing: &str) -> Error {
    let server = Server {
        service: "Vault",
        address: origin,
        authority: &origin.authority(),
    };
    failure.error(server, Some(doing), MAX_BODY_BYTES)
}

/// The error for an answer the caller has no specific meaning for: a
/// redirect, a sealed server, or any other status. Never quotes the body.
pub fn unexpected(origin: &Origin, answer: &Response, doing: &str) -> Error {
    match answer.status {
        300..=399 => redirect_error(origin, answer.status, answer.header("location")),
        503 if is_sealed(&answer.body) => Error::Unavailable(format!(
            "Vault at {origin} is sealed; unseal it and run again"
        )),
        status => Error::Unavailable(format!("Vault at {origin} answered {status} while {doing}")),
    }
}

/// The error for a 2xx body that is not the JSON documented for it.
pub fn unreadable(origin: &Origin, doing: &str) -> Error {
    // The body is never quoted: it may hold secret values.
    Error::Unavailable(format!(
        "Vault at {origin} answered with JSON reqflo could not read while {doing}"
    ))
}

/// Whether an error body is Vault's documented `{"errors":["Vault is sealed"]}`.
fn is_sealed(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    serde_json::from_slice::<Errors>(body)
        .is_ok_and(|e| e.errors.iter().any(|e| e == "Vault is sealed"))
}

/// Redirects are never followed (by the host, so neither here); name where it
/// pointed, but only its origin: a path or query may carry anything. A
/// standby node redirects to the active one, hence the hint.
fn redirect_error(origin: &Origin, status: u16, location: Option<&str>) -> Error {
    let destination = origin.redirect_destination(location);
    Error::Unavailable(format!(
        "Vault at {origin} answered with a redirect ({status}) {destination}; redirects are \
         not followed, so point the address at the server that answers (the active node)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{origin, path};

    fn answer(status: u16, body: &str) -> Response {
        Response::new(status, body)
    }

    /// The kind and message of the error for `answer`.
    fn unexpected_error(answer: &Response, doing: &str) -> (&'static str, String) {
        let error = unexpected(&origin(), answer, doing);
        (error.kind(), error.message().to_string())
    }

    #[test]
    fn urls_encode_each_segment() {
        let mount = path("secret");
        assert_eq!(
            secret_path(KvVersion::V2, &mount, &path("app/db"), None),
            "/v1/secret/data/app/db"
        );
        assert_eq!(
            secret_path(
                KvVersion::V2,
                &path("kv/team a"),
                &path("a b/c?d#e%f"),
                Some(3)
            ),
            "/v1/kv/team%20a/data/a%20b/c%3Fd%23e%25f?version=3"
        );
        assert_eq!(
            secret_path(KvVersion::V1, &path("kv1"), &path("é/x..y"), None),
            "/v1/kv1/%C3%A9/x..y"
        );
        assert_eq!(login_path(&path("approle")), "/v1/auth/approle/login");
    }

    #[test]
    fn headers_carry_token_and_namespace_only_when_given() {
        assert_eq!(
            headers(None, None),
            vec![("x-vault-request", "true".to_string())]
        );
        let all = headers(Some("t"), Some("admin/team"));
        assert!(all.contains(&("x-vault-token", "t".to_string())));
        assert!(all.contains(&("x-vault-namespace", "admin/team".to_string())));
    }

    #[test]
    fn requests_ask_for_json_first() {
        let read = get("http://vault:8200/v1/x".into(), "t", Some("ns"));
        assert_eq!(
            read.headers,
            [
                ("accept", "application/json"),
                ("x-vault-request", "true"),
                ("x-vault-token", "t"),
                ("x-vault-namespace", "ns"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        let login = post("http://vault:8200/v1/y".into(), b"{}".to_vec(), None);
        assert_eq!(
            login.headers,
            [("accept", "application/json"), ("x-vault-request", "true")]
                .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        assert_eq!(LIMITS, Limits::read_all(MAX_BODY_BYTES));
    }

    #[test]
    fn sealed_is_recognised_and_other_bodies_are_never_quoted() {
        let doing = "reading \"app/db\"";
        let sealed = answer(503, r#"{"errors":["Vault is sealed"]}"#);
        assert_eq!(
            unexpected_error(&sealed, doing),
            (
                "unavailable",
                "Vault at http://vault:8200 is sealed; unseal it and run again".into()
            )
        );
        let other = answer(503, r#"{"errors":["hunter2 is sealed"]}"#);
        assert_eq!(
            unexpected_error(&other, doing),
            (
                "unavailable",
                "Vault at http://vault:8200 answered 503 while reading \"app/db\"".into()
            )
        );
        let (_, m) = unexpected_error(&answer(500, "hunter2"), doing);
        assert!(!m.contains("hunter2") && m.contains("answered 500"), "{m}");
        let m = unreadable(&origin(), doing).message().to_string();
        assert!(m.contains("JSON reqflo could not read"), "{m}");
    }

    #[test]
    fn redirects_name_only_the_destination_origin() {
        let redirect = answer(307, "")
            .with_header("location", "https://active:8200/v1/secret/data/x?token=abc");
        let (kind, m) = unexpected_error(&redirect, "reading");
        assert_eq!(kind, "unavailable");
        assert!(m.contains("redirect (307) to https://active:8200;"), "{m}");
        assert!(!m.contains("token=abc"), "{m}");
        let redirect = answer(307, "");
        let (_, m) = unexpected_error(&redirect, "reading");
        assert!(m.contains("without a location"), "{m}");
    }

    #[test]
    fn transport_failures_name_vault_and_the_read() {
        let said = |failure: Failure| {
            let error = failure_error(&origin(), &failure, "reading \"a\"");
            format!("{}: {}", error.kind(), error.message())
        };
        for (failure, message) in [
            (
                Failure::Denied,
                "denied: network access to vault:8200 was refused by the host: it is not in \
                 this provider's grants.hosts",
            ),
            (
                Failure::Refused,
                "unavailable: cannot connect to Vault at http://vault:8200 (connection \
                 refused) while reading \"a\"",
            ),
            (
                Failure::Timeout,
                "unavailable: Vault at http://vault:8200 did not answer in time while reading \
                 \"a\"",
            ),
            (
                Failure::TooLarge,
                "unavailable: Vault at http://vault:8200 answered with more data than reqflo \
                 accepts (8 MiB) while reading \"a\"",
            ),
            (
                Failure::Broken("DNS lookup failed".into()),
                "unavailable: cannot talk to Vault at http://vault:8200 (DNS lookup failed) \
                 while reading \"a\"",
            ),
        ] {
            assert_eq!(said(failure), message);
        }
    }
}
