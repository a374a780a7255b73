//! One request to Secrets Manager, minus the wire: what is sent, what can
//! come back, and the errors for a request that got no answer.
//!
//! The wire itself ([`WasiHttp`], over the SDK) exists only in the component; keeping it
//! behind [`Transport`] lets the signing, the lookup and every message be
//! tested natively.

use crate::Error;
use crate::endpoint::Endpoint;

/// The largest answer read. A secret holds at most 64 KiB, so even a binary
/// one base64-encoded in JSON is far smaller; a bigger answer is a
/// misbehaving server, not data.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One signed `POST /`. No `Debug`: the headers carry a signature and maybe
/// a session token.
// Only the component's transport reads these; natively only the tests do.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub struct Request {
    /// POST for Secrets Manager; GET and PUT for the credential endpoints.
    pub method: Method,
    /// The endpoint's URL.
    pub url: String,
    /// Header names (lowercase) and values, all header-safe.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Send one request.
pub trait Transport {
    /// Send `request` and return what came back.
    fn send(&mut self, request: Request) -> Result<Answer, Failure>;
}

/// What a server answered, uninterpreted. An error body is only ever parsed
/// for its error type, never shown.
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `X-Amzn-ErrorType` header, where AWS names an error's type.
    pub error_type: Option<String>,
    /// The `Location` header, kept to name a redirect's destination.
    pub location: Option<String>,
    /// The body, at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
}

/// Why no answer came back (the SDK's, shared by every provider).
pub use reqflo_plugin_sdk::http::Failure;
/// The methods a request may use (the SDK's).
pub use reqflo_plugin_sdk::http::Method;

/// [`Transport`] over the host's wasi:http, through the SDK.
#[cfg(target_arch = "wasm32")]
pub struct WasiHttp;

#[cfg(target_arch = "wasm32")]
impl Transport for WasiHttp {
    fn send(&mut self, request: Request) -> Result<Answer, Failure> {
        use reqflo_plugin_sdk::http;
        let mut sent = http::Request::post(request.url, request.body);
        sent.method = request.method;
        sent.headers = request.headers;
        // Error bodies are read too: they carry the error's type (`__type`).
        // They are parsed for that alone and never shown.
        let response = http::send(sent, http::Limits::read_all(MAX_BODY_BYTES))?;
        Ok(Answer {
            status: response.status,
            error_type: response.header("x-amzn-errortype").map(str::to_string),
            location: response.header("location").map(str::to_string),
            body: response.body,
        })
    }
}

/// The user-facing error for a request that got no answer; `subject` is what
/// was being read (`secret "prod/db"`).
pub fn failure_error(endpoint: &Endpoint, failure: &Failure, subject: &str) -> Error {
    match failure {
        Failure::Denied => Error::Denied(format!(
            "network access to {} was refused by the host: it is not in this provider's \
             grants.hosts",
            endpoint.authority()
        )),
        Failure::Refused => Error::Unavailable(format!(
            "cannot connect to Secrets Manager at {endpoint} (connection refused) while reading \
             {subject}"
        )),
        Failure::Timeout => Error::Unavailable(format!(
            "Secrets Manager at {endpoint} did not answer in time while reading {subject}"
        )),
        Failure::TooLarge => Error::Unavailable(format!(
            "Secrets Manager at {endpoint} answered with more data than reqflo accepts ({} MiB) \
             while reading {subject}",
            MAX_BODY_BYTES >> 20
        )),
        Failure::Broken(kind) => Error::Unavailable(format!(
            "cannot talk to Secrets Manager at {endpoint} ({kind}) while reading {subject}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{endpoint, kind_and_message};

    #[test]
    fn transport_failures() {
        let cases = [
            (
                Failure::Denied,
                "denied",
                "network access to moto:5000 was refused by the host: it is not in this \
                 provider's grants.hosts",
            ),
            (
                Failure::Refused,
                "unavailable",
                "cannot connect to Secrets Manager at http://moto:5000 (connection refused) \
                 while reading secret \"a\"",
            ),
            (
                Failure::Timeout,
                "unavailable",
                "Secrets Manager at http://moto:5000 did not answer in time while reading \
                 secret \"a\"",
            ),
            (
                Failure::TooLarge,
                "unavailable",
                "Secrets Manager at http://moto:5000 answered with more data than reqflo \
                 accepts (1 MiB) while reading secret \"a\"",
            ),
            (
                Failure::Broken("DNS lookup failed".into()),
                "unavailable",
                "cannot talk to Secrets Manager at http://moto:5000 (DNS lookup failed) while \
                 reading secret \"a\"",
            ),
        ];
        for (failure, kind, message) in cases {
            let error = failure_error(&endpoint(), &failure, "secret \"a\"");
            assert_eq!(kind_and_message(&error), (kind, message.to_string()));
        }
    }
}
