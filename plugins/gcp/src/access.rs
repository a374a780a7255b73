//! Talking to Secret Manager: the one `:access` request a version costs, and
//! how each answer becomes a payload or a user-facing error.
//!
//! The request goes through a [`Transport`] (the SDK's wasi:http in the
//! component, a scripted one in tests), so every message is tested natively.
//! Error bodies are read (Google's `{"error": {"code", "message", "status"}}`)
//! to tell a disabled version from a missing one, but only the `status` name
//! and a few fixed words are ever taken from them: a server's text is never
//! quoted.

use reqflo_plugin_sdk::http::{ErrorBody, Failure, Limits, Request, Response, Server, Transport};
use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::payload::{self, Payload};
use crate::reference::Target;
use crate::settings::{Connection, Origin, Source};

/// The largest 2xx answer read. A payload is at most 64 KiB, so its base64 in
/// JSON is under 100 KiB; anything far bigger is a misbehaving server.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most of an error answer read; Google's error JSON is a few hundred bytes.
pub const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Read at most `max_body_bytes` of a 2xx body and [`MAX_ERROR_BYTES`] of
/// another: an error body is read too (Google's JSON says which error it
/// is), but only a little of it, since past that it is not Google's error
/// JSON.
pub fn limits(max_body_bytes: usize) -> Limits {
    Limits {
        max_body_bytes,
        error_body: ErrorBody::UpTo(MAX_ERROR_BYTES),
    }
}

/// Read `target` over `connection`: one `:access` call, decoded, or the
/// error that says why not. The connection's token must be fresh. A
/// regional secret is asked of its location's endpoint, unless
/// `config.endpoint` names one for all.
pub fn access(
    connection: &Connection,
    target: &Target,
    transport: &mut impl Transport,
) -> Result<Accessed, Error> {
    let mut request = Request::get(connection.origin(target).url(&target.access_path()))
        .header("authorization", format!("Bearer {}", connection.token))
        .header("accept", "application/json");
    // A user's credentials bill calls to a quota project, as Google's
    // libraries send it.
    if let Some(project) = &connection.quota_project {
        request = request.header("x-goog-user-project", project.as_str());
    }
    let outcome = transport.send(request, limits(MAX_BODY_BYTES));
    interpret(connection, target, outcome)
}

/// A version's payload as Secret Manager sent it, checked and decoded.
pub struct Accessed {
    /// The version number the server named, which tells what `latest` was.
    pub version: Option<u64>,
    /// The decoded payload bytes.
    pub data: Vec<u8>,
}

/// `AccessSecretVersionResponse`. No `Debug`: it holds the secret.
#[derive(Deserialize)]
struct AccessResponse {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    payload: Option<Payload>,
}

/// Google's error envelope (<https://cloud.google.com/apis/design/errors>).
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Option<Vec<Value>>,
}

/// Turn one `:access` call's outcome into the decoded payload, or an error.
fn interpret(
    connection: &Connection,
    target: &Target,
    outcome: Result<Response, Failure>,
) -> Result<Accessed, Error> {
    let endpoint = &connection.origin(target);
    let answer = outcome.map_err(|failure| failure_error(endpoint, target, &failure))?;
    match answer.status {
        200..=299 => {
            let response: AccessResponse = serde_json::from_slice(&answer.body).map_err(|_| {
                // The body is never quoted: it holds the secret.
                Error::Unavailable(format!(
                    "Secret Manager at {endpoint} answered with JSON reqflo could not read \
                     while reading {target}"
                ))
            })?;
            let data = payload::decode(target, response.payload)?;
            Ok(Accessed {
                version: response.name.as_deref().and_then(version_of_name),
                data,
            })
        }
        300..=399 => Err(redirect_error(
            endpoint,
            answer.status,
            answer.header("location"),
        )),
        status => Err(status_error(
            connection,
            endpoint,
            target,
            status,
            &answer.body,
        )),
    }
}

/// `projects/N/secrets/S/versions/7` (or `projects/N/locations/L/…`) → 7.
fn version_of_name(name: &str) -> Option<u64> {
    let (rest, number) = name.rsplit_once('/')?;
    if !rest.ends_with("/versions") {
        return None;
    }
    number.parse().ok().filter(|n| *n > 0)
}

/// The error for a 4xx or 5xx from `endpoint`, from Google's `status` when
/// the body has one.
fn status_error(
    connection: &Connection,
    endpoint: &Origin,
    target: &Target,
    code: u16,
    body: &[u8],
) -> Error {
    let error = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .map(|envelope| envelope.error);
    let message = error
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .unwrap_or("");
    // Only a name of Google's shape is echoed; anything else is left out.
    let status = error
        .as_ref()
        .and_then(|e| e.status.as_deref())
        .filter(|s| {
            !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        });
    let shown = match status {
        Some(status) => format!("{code} {status}"),
        None => code.to_string(),
    };
    let canonical = status.or(match code {
        401 => Some("UNAUTHENTICATED"),
        403 => Some("PERMISSION_DENIED"),
        404 => Some("NOT_FOUND"),
        429 => Some("RESOURCE_EXHAUSTED"),
        _ => None,
    });
    let Target {
        project, secret, ..
    } = target;
    match canonical {
        Some("NOT_FOUND") if message.starts_with("Secret [") => Error::NotFound(format!(
            "secret {secret:?} not found in {}, or it has no versions ({shown})",
            target.place()
        )),
        Some("NOT_FOUND") => Error::NotFound(format!("{target} not found ({shown})")),
        Some("UNAUTHENTICATED") if !matches!(connection.source, Source::Ready) => {
            Error::Denied(format!(
                "Secret Manager rejected {} ({shown}) while reading {target}",
                connection.token_env
            ))
        }
        Some("UNAUTHENTICATED") => Error::Denied(format!(
            "Secret Manager rejected the access token in {} ({shown}) while reading {target}; \
             access tokens expire after an hour: get a fresh one with \
             gcloud auth print-access-token",
            connection.token_env
        )),
        Some("PERMISSION_DENIED") if has_reason(error.as_ref(), "SERVICE_DISABLED") => {
            Error::Denied(format!(
                "the Secret Manager API is not enabled for project {project:?} ({shown}) \
                 while reading {target}"
            ))
        }
        Some("PERMISSION_DENIED") => Error::Denied(format!(
            "the access token may not read {target}, or it does not exist ({shown}); \
             the token's account needs roles/secretmanager.secretAccessor on it"
        )),
        // Google's message is "Secret Version [...] is in DISABLED state.":
        // the state's name is all that is taken from it.
        Some("FAILED_PRECONDITION") if message.contains("DESTROYED") => Error::NotFound(format!(
            "{target} is destroyed ({shown}); pin an enabled version"
        )),
        Some("FAILED_PRECONDITION") if message.contains("DISABLED") => Error::Unavailable(format!(
            "{target} is disabled ({shown}); enable it or pin another version"
        )),
        Some("INVALID_ARGUMENT") => Error::InvalidReference(format!(
            "Secret Manager at {endpoint} refused the request for {target} as invalid ({shown})"
        )),
        Some("RESOURCE_EXHAUSTED") => Error::Unavailable(format!(
            "Secret Manager at {endpoint} is rate-limiting this token ({shown}) while reading \
             {target}; try again later"
        )),
        _ => Error::Unavailable(format!(
            "Secret Manager at {endpoint} answered {shown} while reading {target}"
        )),
    }
}

/// Whether an `ErrorInfo` in `details` has this `reason`.
fn has_reason(error: Option<&GoogleError>, reason: &str) -> bool {
    error
        .and_then(|e| e.details.as_ref())
        .is_some_and(|details| {
            details
                .iter()
                .any(|d| d.get("reason").and_then(Value::as_str) == Some(reason))
        })
}

/// Redirects are never followed (by the host, so neither here); name where it
/// pointed, but only its origin: a path or query may carry anything.
fn redirect_error(endpoint: &Origin, status: u16, location: Option<&str>) -> Error {
    let destination = endpoint.redirect_destination(location);
    Error::Unavailable(format!(
        "Secret Manager at {endpoint} answered with a redirect ({status}) {destination}; \
         redirects are not followed"
    ))
}

/// The user-facing error for a request that got no answer, in the SDK's
/// words.
pub fn failure_error(endpoint: &Origin, target: &Target, failure: &Failure) -> Error {
    let server = Server {
        service: "Secret Manager",
        address: endpoint,
        authority: &endpoint.authority(),
    };
    failure.error(server, Some(&format!("reading {target}")), MAX_BODY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{connection, target};
    use crate::reference::Version;
    use reqflo_plugin_sdk::testing::refused;

    fn answer(status: u16, body: &str) -> Result<Response, Failure> {
        Ok(Response::new(status, body))
    }

    fn google(code: u16, status: &str, message: &str) -> Result<Response, Failure> {
        let body =
            serde_json::json!({"error": {"code": code, "message": message, "status": status}});
        answer(code, &body.to_string())
    }

    fn outcome(
        result: Result<Response, Failure>,
    ) -> Result<(Option<u64>, String), (&'static str, String)> {
        interpret(&connection(), &target(Version::Number(3)), result)
            .map(|a| (a.version, String::from_utf8_lossy(&a.data).into_owned()))
            .map_err(|e| (e.kind(), e.message().to_string()))
    }

    fn error(result: Result<Response, Failure>) -> (&'static str, String) {
        match outcome(result) {
            Err(e) => e,
            Ok(value) => panic!("no error: {value:?}"),
        }
    }

    /// The message of an error of `kind`; panics on any other outcome.
    fn refusal(result: Result<Response, Failure>, kind: &str) -> String {
        let accessed = interpret(&connection(), &target(Version::Number(3)), result);
        // `Accessed` has no `Debug` (it holds the secret): the version stands in.
        refused(accessed.map(|a| a.version), kind)
    }

    #[test]
    fn the_request_carries_the_token_and_asks_for_json() {
        use reqflo_plugin_sdk::http::{Method, Scripted};
        let url = "http://127.0.0.1:8085/v1/projects/acme/secrets/stripe/versions/3:access";
        let body = r#"{"payload": {"data": "aHVudGVyMg=="}}"#;
        let mut server = Scripted::new().answer(url, 200, body);
        let accessed = access(&connection(), &target(Version::Number(3)), &mut server);
        assert!(accessed.is_ok_and(|a| a.data == b"hunter2"));
        assert_eq!(server.asked(), [(Method::Get, url)]);
        let headers: Vec<_> = server.sent().map(|r| r.headers.clone()).collect();
        let expected = [
            ("authorization", "Bearer ya29.test-token"),
            ("accept", "application/json"),
        ];
        assert_eq!(
            headers,
            [expected
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .to_vec()]
        );
        assert!(server.sent().all(|r| r.body.is_empty()));
        assert_eq!(
            server.limits(),
            [Limits {
                max_body_bytes: 1024 * 1024,
                error_body: ErrorBody::UpTo(64 * 1024),
            }]
        );
    }

    #[test]
    fn success_decodes_and_names_the_version() {
        let body = r#"{"name": "projects/270012345678/secrets/stripe/versions/3",
                       "payload": {"data": "aHVudGVyMg==", "dataCrc32c": "1736498283"}}"#;
        assert_eq!(outcome(answer(200, body)), Ok((Some(3), "hunter2".into())));
        let unnamed = r#"{"payload": {"data": "aHVudGVyMg=="}}"#;
        assert_eq!(outcome(answer(200, unnamed)), Ok((None, "hunter2".into())));
    }

    #[test]
    fn version_names() {
        assert_eq!(
            version_of_name("projects/1/secrets/s/versions/12"),
            Some(12)
        );
        assert_eq!(
            version_of_name("projects/1/secrets/s/versions/latest"),
            None
        );
        assert_eq!(version_of_name("projects/1/secrets/s/aliases/12"), None);
        assert_eq!(version_of_name("12"), None);
    }

    #[test]
    fn unreadable_json_never_quotes_the_body() {
        let truncated = answer(200, "{\"payload\": {\"data\": \"hunter2\"");
        assert_eq!(
            refusal(truncated, "unavailable"),
            "Secret Manager at http://127.0.0.1:8085 answered with JSON reqflo could not read \
             while reading version 3 of secret \"stripe\" in project \"acme\""
        );
    }

    #[test]
    fn not_found_tells_the_secret_from_the_version() {
        assert_eq!(
            error(google(404, "NOT_FOUND", "Secret [projects/1/secrets/stripe] not found or has no versions.")),
            (
                "not-found",
                "secret \"stripe\" not found in project \"acme\", or it has no versions (404 NOT_FOUND)".into()
            )
        );
        assert_eq!(
            error(google(
                404,
                "NOT_FOUND",
                "Secret Version [projects/1/secrets/stripe/versions/3] not found."
            )),
            (
                "not-found",
                "version 3 of secret \"stripe\" in project \"acme\" not found (404 NOT_FOUND)"
                    .into()
            )
        );
        // A bare 404 (a proxy, say) still reads as not found.
        assert_eq!(error(answer(404, "<html>")).0, "not-found");
        assert!(error(answer(404, "")).1.ends_with("not found (404)"));
    }

    #[test]
    fn tokens_and_permissions_are_denied() {
        let expired = google(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
        assert_eq!(
            refusal(expired, "denied"),
            "Secret Manager rejected the access token in GOOGLE_OAUTH_ACCESS_TOKEN \
             (401 UNAUTHENTICATED) while reading version 3 of secret \"stripe\" in project \
             \"acme\"; access tokens expire after an hour: get a fresh one with \
             gcloud auth print-access-token"
        );
        let forbidden = google(
            403,
            "PERMISSION_DENIED",
            "Permission 'secretmanager.versions.access' denied",
        );
        let message = refusal(forbidden, "denied");
        assert!(
            message.starts_with("the access token may not read version 3 of secret \"stripe\""),
            "{message}"
        );
        assert!(message.contains("(403 PERMISSION_DENIED)"), "{message}");
        assert!(
            !message.contains("secretmanager.versions.access"),
            "{message}"
        );
        let disabled_api = r#"{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "x",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}]}}"#;
        assert_eq!(
            error(answer(403, disabled_api)),
            (
                "denied",
                "the Secret Manager API is not enabled for project \"acme\" (403 PERMISSION_DENIED) \
                 while reading version 3 of secret \"stripe\" in project \"acme\"".into()
            )
        );
        assert_eq!(error(answer(401, "")).0, "denied");
        assert_eq!(error(answer(403, "")).0, "denied");
    }

    #[test]
    fn version_states() {
        assert_eq!(
            error(google(
                400,
                "FAILED_PRECONDITION",
                "Secret Version [projects/1/secrets/stripe/versions/3] is in DESTROYED state."
            )),
            (
                "not-found",
                "version 3 of secret \"stripe\" in project \"acme\" is destroyed \
                 (400 FAILED_PRECONDITION); pin an enabled version"
                    .into()
            )
        );
        assert_eq!(
            error(google(
                400,
                "FAILED_PRECONDITION",
                "Secret Version [projects/1/secrets/stripe/versions/3] is in DISABLED state."
            )),
            (
                "unavailable",
                "version 3 of secret \"stripe\" in project \"acme\" is disabled \
                 (400 FAILED_PRECONDITION); enable it or pin another version"
                    .into()
            )
        );
        let message = refusal(
            google(400, "FAILED_PRECONDITION", "something else"),
            "unavailable",
        );
        assert!(message.ends_with("answered 400 FAILED_PRECONDITION while reading version 3 of secret \"stripe\" in project \"acme\""), "{message}");
    }

    #[test]
    fn busy_broken_and_strange_servers_are_unavailable() {
        assert_eq!(
            error(google(400, "INVALID_ARGUMENT", "bad")),
            (
                "invalid-reference",
                "Secret Manager at http://127.0.0.1:8085 refused the request for version 3 of \
                 secret \"stripe\" in project \"acme\" as invalid (400 INVALID_ARGUMENT)"
                    .into()
            )
        );
        let message = refusal(
            google(429, "RESOURCE_EXHAUSTED", "Quota exceeded"),
            "unavailable",
        );
        assert!(
            message.contains("rate-limiting this token (429 RESOURCE_EXHAUSTED)"),
            "{message}"
        );
        assert_eq!(
            error(google(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable. hunter2"
            )),
            (
                "unavailable",
                "Secret Manager at http://127.0.0.1:8085 answered 503 UNAVAILABLE while reading \
                 version 3 of secret \"stripe\" in project \"acme\""
                    .into()
            )
        );
        // A status that is not of Google's shape is not echoed.
        let odd = r#"{"error": {"code": 500, "status": "<b>hunter2</b>"}}"#;
        assert!(error(answer(500, odd)).1.contains("answered 500 while"));
        assert!(
            error(answer(502, "hunter2"))
                .1
                .contains("answered 502 while")
        );
    }

    #[test]
    fn redirects_name_only_the_destination_origin() {
        let redirect = Response::new(302, "");
        let to = |location| redirect.clone().with_header("Location", location);
        assert_eq!(
            refusal(
                Ok(to("https://accounts.example.com/o/oauth2?token=abc")),
                "unavailable"
            ),
            "Secret Manager at http://127.0.0.1:8085 answered with a redirect (302) to \
             https://accounts.example.com:443; redirects are not followed"
        );
        // Only the origin of where it pointed is named, as the endpoint
        // would be (relative locations stay on the endpoint).
        for (answer, destination) in [
            (to("//other:81/x"), "to http://other:81;"),
            (to("/v1/x"), "to http://127.0.0.1:8085;"),
            (
                to("javascript:alert(1)"),
                "to a location reqflo could not read;",
            ),
            (redirect.clone(), "without a location;"),
        ] {
            let message = refusal(Ok(answer), "unavailable");
            assert!(message.contains(destination), "{message}");
        }
    }

    #[test]
    fn transport_failures() {
        let cases = [
            (
                Failure::Denied,
                "denied",
                "network access to 127.0.0.1:8085 was refused by the host: it is not in this \
                 provider's grants.hosts",
            ),
            (
                Failure::Timeout,
                "unavailable",
                "Secret Manager at http://127.0.0.1:8085 did not answer in time while reading \
                 version 3 of secret \"stripe\" in project \"acme\"",
            ),
            (
                Failure::Refused,
                "unavailable",
                "cannot connect to Secret Manager at http://127.0.0.1:8085 (connection refused) \
                 while reading version 3 of secret \"stripe\" in project \"acme\"",
            ),
            (
                Failure::Broken("DNS lookup failed".into()),
                "unavailable",
                "cannot talk to Secret Manager at http://127.0.0.1:8085 (DNS lookup failed) while \
                 reading version 3 of secret \"stripe\" in project \"acme\"",
            ),
            (
                Failure::TooLarge,
                "unavailable",
                "Secret Manager at http://127.0.0.1:8085 answered with more data than reqflo \
                 accepts (1 MiB) while reading version 3 of secret \"stripe\" in project \"acme\"",
            ),
        ];
        for (failure, kind, message) in cases {
            assert_eq!(error(Err(failure)), (kind, message.to_string()));
        }
    }
}
