//! What every request to Secrets Manager shares: the limits its answer is
//! read within, and the errors for a request that got no answer. The
//! requests themselves are the SDK's [`reqflo_plugin_sdk::http`] ones.

use reqflo_plugin_sdk::http::{Failure, Limits};

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
    use crate::endpoint::moto;

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
            let error = failure_error(&moto(), &failure, "secret \"a\"");
            assert_eq!((error.kind(), error.message()), (kind, message));
        }
    }
}
