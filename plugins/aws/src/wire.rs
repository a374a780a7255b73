//! What every request to Secrets Manager shares: the limits its answer is
//! read within, and the errors for a request that got no answer. The
//! requests themselves are the SDK's [`reqflo_plugin_sdk::http`] ones.

use reqflo_plugin_sdk::http::{Failure, Limits, Server};

use crate::Error;
use crate::endpoint::Endpoint;

/// The largest answer read. A secret holds at most 64 KiB, so even a binary
/// one base64-encoded in JSON is far smaller; a bigger answer is a
/// misbehaving server, not data.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The limits of every request, to Secrets Manager and to the credential
/// endpoints alike. Error bodies are read too: they carry the error's type
/// (`__type`), and are parsed for that alone, never shown.
pub fn limits() -> Limits {
    Limits::read_all(MAX_BODY_BYTES)
}

/// The user-facing error for a request that got no answer, in the SDK's
/// words; `subject` is what was being read (`secret "prod/db"`).
pub fn failure_error(endpoint: &Endpoint, failure: &Failure, subject: &str) -> Error {
    let server = Server {
        service: "Secrets Manager",
        address: endpoint,
        authority: &endpoint.authority(),
    };
    failure.error(server, Some(&format!("reading {subject}")), MAX_BODY_BYTES)
}
