//! `GetSecretValue` over AWS's JSON 1.1 protocol: the request body, and what
//! each answer means.
//!
//! Errors are recognised by their type (`X-Amzn-ErrorType`, the body's
//! `__type`, or the `<Code>` of the XML error some front ends and moto send
//! for authentication failures). The server's `message` is never shown: it
//! is free text from outside, so every message here is reqflo's own, naming
//! the type.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::endpoint::Endpoint;
use crate::reference::{Reference, Selector};
use crate::wire::failure_error;
use reqflo_plugin_sdk::http::{Failure, Response};

/// The operation, as the `X-Amz-Target` header names it.
pub const TARGET: &str = "secretsmanager.GetSecretValue";
/// The JSON 1.1 protocol's content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The answer's header where AWS names an error's type.
pub const ERROR_TYPE: &str = "x-amzn-errortype";

/// A secret version's contents, as read. No `Debug`: it is the value.
pub struct SecretValue {
    /// `SecretString`, when the secret holds text.
    pub string: Option<String>,
    /// `SecretBinary`, decoded, when it holds bytes.
    pub binary: Option<Vec<u8>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetSecretValue<'a> {
    secret_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_stage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answered {
    secret_string: Option<String>,
    secret_binary: Option<String>,
}

/// The JSON body asking for the version `reference` selects.
pub fn request_body(reference: &Reference) -> Vec<u8> {
    let (version_stage, version_id) = match &reference.selector {
        Selector::Current => (None, None),
        Selector::Stage(stage) => (Some(stage.as_str()), None),
        Selector::Version(id) => (None, Some(id.as_str())),
    };
    let body = GetSecretValue {
        secret_id: &reference.secret_id,
        version_stage,
        version_id,
    };
    // Serialising strings into a struct of strings cannot fail; an empty
    // body would be refused by AWS as a bad request, which says enough.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Turn one request's outcome into the secret's contents or an error.
pub fn interpret(
    endpoint: &Endpoint,
    reference: &Reference,
    outcome: Result<Response, Failure>,
) -> Result<SecretValue, Error> {
    let subject = reference.to_string();
    let answer = outcome.map_err(|failure| failure_error(endpoint, &failure, &subject))?;
    match answer.status {
        200..=299 => read_value(endpoint, &subject, &answer.body),
        300..=399 => Err(redirect_error(
            endpoint,
            answer.status,
            answer.header("location"),
        )),
        status => Err(error_for(endpoint, reference, status, &answer)),
    }
}

/// The contents of a successful answer. The body is never quoted.
fn read_value(endpoint: &Endpoint, subject: &str, body: &[u8]) -> Result<SecretValue, Error> {
    let unreadable = || {
        Error::Unavailable(format!(
            "Secrets Manager at {endpoint} answered with JSON reqflo could not read while \
             reading {subject}"
        ))
    };
    let answered: Answered = serde_json::from_slice(body).map_err(|_| unreadable())?;
    let binary = match answered.secret_binary {
        None => None,
        // The JSON protocol carries blobs as standard base64.
        Some(text) => Some(STANDARD.decode(text.trim()).map_err(|_| {
            Error::Unavailable(format!(
                "Secrets Manager at {endpoint} answered with a SecretBinary that is not base64 \
                 while reading {subject}"
            ))
        })?),
    };
    if answered.secret_string.is_none() && binary.is_none() {
        return Err(Error::Unavailable(format!(
            "Secrets Manager at {endpoint} answered with neither SecretString nor SecretBinary \
             while reading {subject}"
        )));
    }
    Ok(SecretValue {
        string: answered.secret_string,
        binary,
    })
}

/// An error answer, by its type. Only the type's name (checked to be a
/// plain identifier) and the status are ever shown.
fn error_for(endpoint: &Endpoint, reference: &Reference, status: u16, answer: &Response) -> Error {
    let code = error_code(answer);
    let subject = reference.to_string();
    let region_hint = "check the name (or ARN), the region and the account";
    let Some(code) = code else {
        return match status {
            401 | 403 => Error::Denied(format!(
                "AWS rejected the request for {subject} ({status}, no error type given)"
            )),
            _ => Error::Unavailable(format!(
                "Secrets Manager at {endpoint} answered {status} while reading {subject}"
            )),
        };
    };
    match code.as_str() {
        "ResourceNotFoundException" => Error::NotFound(match &reference.selector {
            Selector::Current => format!(
                "{subject} not found (ResourceNotFoundException): {region_hint}, or whether \
                 it has a current version"
            ),
            Selector::Stage(stage) => format!(
                "{subject} not found (ResourceNotFoundException): the secret does not exist, \
                 or no version of it is labelled {stage:?}"
            ),
            Selector::Version(id) => format!(
                "{subject} not found (ResourceNotFoundException): the secret does not exist, \
                 or it has no version {id:?}"
            ),
        }),
        "AccessDeniedException" | "AccessDenied" => Error::Denied(format!(
            "AWS rejected the credentials ({code}) for {subject}: no IAM or resource policy \
             lets them call secretsmanager:GetSecretValue on it"
        )),
        "UnrecognizedClientException" | "InvalidClientTokenId" => Error::Denied(format!(
            "AWS rejected the credentials ({code}) while reading {subject}: it does not know \
             the access key ID, or the session token is wrong; check AWS_ACCESS_KEY_ID and \
             AWS_SESSION_TOKEN"
        )),
        "InvalidSignatureException" | "SignatureDoesNotMatch" | "IncompleteSignature" => {
            Error::Denied(format!(
                "AWS rejected the credentials ({code}) while reading {subject}: the signature \
                 does not match; check AWS_SECRET_ACCESS_KEY and the system clock"
            ))
        }
        "ExpiredTokenException" | "ExpiredToken" | "RequestExpired" => Error::Denied(format!(
            "AWS rejected the credentials ({code}) while reading {subject}: they have expired; \
             refresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
        )),
        "MissingAuthenticationTokenException" | "MissingAuthenticationToken" => {
            Error::Denied(format!(
                "AWS rejected the request for {subject} ({code}): it was not signed as expected"
            ))
        }
        "DecryptionFailure" => Error::Denied(format!(
            "AWS could not decrypt {subject} (DecryptionFailure): the credentials may lack \
             kms:Decrypt on the secret's KMS key, or the key is disabled"
        )),
        "InvalidRequestException" if mentions_deletion(&answer.body) => Error::NotFound(format!(
            "{subject} is scheduled for deletion (InvalidRequestException); restore it to \
             read it"
        )),
        "InvalidRequestException" | "InvalidParameterException" | "ValidationException" => {
            Error::InvalidReference(format!(
                "AWS refused the request for {subject} as invalid ({code}); check the stage or \
                 version in the reference"
            ))
        }
        "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "LimitExceededException" => Error::Unavailable(format!(
            "Secrets Manager at {endpoint} throttled the request for {subject} ({code}); run \
             again later"
        )),
        _ if status == 401 || status == 403 => Error::Denied(format!(
            "AWS rejected the request for {subject} ({status}, {code})"
        )),
        _ => Error::Unavailable(format!(
            "Secrets Manager at {endpoint} answered {status} ({code}) while reading {subject}"
        )),
    }
}

/// The error's type, where AWS (or a front end) put it, reduced to its bare
/// name: `aws.secretsmanager#ResourceNotFoundException:http://…` reads as
/// `ResourceNotFoundException`. Anything that is not a plain identifier is
/// ignored rather than shown.
fn error_code(answer: &Response) -> Option<String> {
    #[derive(Deserialize)]
    struct JsonError {
        #[serde(rename = "__type")]
        kind: Option<String>,
        code: Option<String>,
        #[serde(rename = "Code")]
        code_upper: Option<String>,
    }
    let from_header = answer.header(ERROR_TYPE);
    let from_json = serde_json::from_slice::<JsonError>(&answer.body)
        .ok()
        .and_then(|e| e.kind.or(e.code).or(e.code_upper));
    let from_xml = xml_code(&answer.body);
    [from_header.map(str::to_string), from_json, from_xml]
        .into_iter()
        .flatten()
        .find_map(|raw| bare_name(&raw))
}

/// `<Code>…</Code>` in an XML error body.
fn xml_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(text[start..end].to_string())
}

fn bare_name(raw: &str) -> Option<String> {
    let name = raw.split(':').next().unwrap_or(raw);
    let name = name.rsplit('#').next().unwrap_or(name).trim();
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    plain.then(|| name.to_string())
}

/// Whether an `InvalidRequestException` says the secret is marked for
/// deletion. The message is read for that alone, never shown.
fn mentions_deletion(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Message {
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    serde_json::from_slice::<Message>(body)
        .ok()
        .and_then(|m| m.message)
        .is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("deleted") || m.contains("deletion")
        })
}

/// Redirects are never followed (by the host, so neither here); name where
/// it pointed, but only its origin: a path or query may carry anything.
fn redirect_error(endpoint: &Endpoint, status: u16, location: Option<&str>) -> Error {
    let destination = endpoint.redirect_destination(location);
    Error::Unavailable(format!(
        "Secrets Manager at {endpoint} answered with a redirect ({status}) {destination}; \
         redirects are not followed, so check config.endpoint"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::moto;
    use crate::reference::parse;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    fn reference(text: &str) -> Reference {
        accepted(parse(text))
    }

    fn answer(status: u16, error_type: Option<&str>, body: &str) -> Result<Response, Failure> {
        let response = Response::new(status, body);
        Ok(match error_type {
            Some(error_type) => response.with_header(ERROR_TYPE, error_type),
            None => response,
        })
    }

    fn error(text: &str, outcome: Result<Response, Failure>) -> (&'static str, String) {
        let Err(e) = interpret(&moto(), &reference(text), outcome) else {
            panic!("no error")
        };
        (e.kind(), e.message().to_string())
    }

    fn json_error(status: u16, kind: &str) -> Result<Response, Failure> {
        answer(
            status,
            None,
            &format!(r#"{{"__type": "{kind}", "message": "hunter2 leaked here"}}"#),
        )
    }

    #[test]
    fn bodies_name_the_secret_and_the_version() {
        let body = |text| String::from_utf8_lossy(&request_body(&reference(text))).into_owned();
        assert_eq!(body("prod/db#k"), r#"{"SecretId":"prod/db"}"#);
        assert_eq!(
            body("prod/db?stage=AWSPREVIOUS"),
            r#"{"SecretId":"prod/db","VersionStage":"AWSPREVIOUS"}"#
        );
        assert_eq!(
            body("arn:aws:secretsmanager:eu-west-2:1:secret:x-AbC?version=v-1"),
            r#"{"SecretId":"arn:aws:secretsmanager:eu-west-2:1:secret:x-AbC","VersionId":"v-1"}"#
        );
    }

    #[test]
    fn strings_and_binaries_are_read() {
        let read = |body: &str| interpret(&moto(), &reference("a"), answer(200, None, body));
        let v = accepted(read(
            r#"{"Name": "a", "SecretString": "s3cr3t", "VersionStages": ["AWSCURRENT"]}"#,
        ));
        assert_eq!((v.string.as_deref(), v.binary), (Some("s3cr3t"), None));
        let v = accepted(read(r#"{"SecretBinary": "/wBoaQ=="}"#));
        assert_eq!(v.binary, Some(vec![0xff, 0, b'h', b'i']));
        for (body, expected) in [
            (
                r#"{"SecretString": "hunter2""#,
                "JSON reqflo could not read",
            ),
            (r#"{"SecretBinary": "hunter2!"}"#, "not base64"),
            (r#"{"Name": "a"}"#, "neither SecretString nor SecretBinary"),
        ] {
            // No `Debug` for a secret's value: a success shows as `()`.
            let message = refused(read(body).map(|_| ()), "unavailable");
            assert!(message.contains(expected), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn not_found_names_what_was_looked_for() {
        let (kind, message) = error("prod/db", json_error(400, "ResourceNotFoundException"));
        assert_eq!(kind, "not-found");
        assert_eq!(
            message,
            "secret \"prod/db\" not found (ResourceNotFoundException): check the name (or \
             ARN), the region and the account, or whether it has a current version"
        );
        let (_, message) = error(
            "prod/db?stage=BLUE",
            json_error(400, "ResourceNotFoundException"),
        );
        assert!(
            message.contains("no version of it is labelled \"BLUE\""),
            "{message}"
        );
        let (_, message) = error(
            "prod/db?version=v9",
            answer(400, Some("ResourceNotFoundException:http://internal"), "{}"),
        );
        assert!(message.starts_with("secret \"prod/db\" (version \"v9\") not found"));
    }

    #[test]
    fn credential_errors_name_the_type_and_never_the_message() {
        let cases = [
            ("AccessDeniedException", "no IAM or resource policy"),
            ("UnrecognizedClientException", "check AWS_ACCESS_KEY_ID"),
            ("InvalidSignatureException", "check AWS_SECRET_ACCESS_KEY"),
            ("SignatureDoesNotMatch", "check AWS_SECRET_ACCESS_KEY"),
            ("ExpiredTokenException", "they have expired"),
            ("DecryptionFailure", "kms:Decrypt"),
        ];
        for (kind, hint) in cases {
            let (got, message) = error("prod/db", json_error(400, kind));
            assert_eq!(got, "denied", "{kind}");
            assert!(message.contains(&format!("({kind})")), "{message}");
            assert!(message.contains(hint), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        // AWS's JSON with a namespaced type, moto's XML, and the header alone.
        let namespaced = json_error(400, "com.amazonaws.secretsmanager#AccessDeniedException");
        assert!(error("a", namespaced).1.contains("(AccessDeniedException)"));
        let xml = "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>\
                   <Message>hunter2</Message></Error></Errors></ErrorResponse>";
        let (kind, message) = error("a", answer(403, None, xml));
        assert_eq!(kind, "denied");
        assert!(message.contains("(SignatureDoesNotMatch)") && !message.contains("hunter2"));
        let (kind, message) = error("a", answer(403, Some("ExpiredToken"), ""));
        assert_eq!(kind, "denied");
        assert!(message.contains("(ExpiredToken)"), "{message}");
        // A type that is not an identifier is not shown.
        let odd = answer(403, None, r#"{"__type": "hunter2 <script>"}"#);
        assert_eq!(
            error("a", odd),
            (
                "denied",
                "AWS rejected the request for secret \"a\" (403, no error type given)".into()
            )
        );
    }

    #[test]
    fn invalid_requests_tell_deletion_from_bad_parameters() {
        let deleted = answer(
            400,
            None,
            r#"{"__type": "InvalidRequestException", "message": "You tried to perform the operation on a secret that's currently marked deleted."}"#,
        );
        assert_eq!(
            error("prod/old", deleted),
            (
                "not-found",
                "secret \"prod/old\" is scheduled for deletion (InvalidRequestException); \
                 restore it to read it"
                    .into()
            )
        );
        let (kind, message) = error("a?stage=X", json_error(400, "InvalidRequestException"));
        assert_eq!(kind, "invalid-reference");
        assert!(message.contains("(InvalidRequestException)"), "{message}");
        let (kind, _) = error("a", json_error(400, "InvalidParameterException"));
        assert_eq!(kind, "invalid-reference");
    }

    #[test]
    fn throttling_and_server_errors_are_unavailable_and_name_the_endpoint() {
        assert_eq!(
            error("a", json_error(400, "ThrottlingException")),
            (
                "unavailable",
                "Secrets Manager at http://moto:5000 throttled the request for secret \"a\" \
                 (ThrottlingException); run again later"
                    .into()
            )
        );
        assert_eq!(
            error("a", json_error(500, "InternalServiceError")),
            (
                "unavailable",
                "Secrets Manager at http://moto:5000 answered 500 (InternalServiceError) while \
                 reading secret \"a\""
                    .into()
            )
        );
        assert_eq!(
            error("a", answer(502, None, "<html>hunter2</html>")),
            (
                "unavailable",
                "Secrets Manager at http://moto:5000 answered 502 while reading secret \"a\""
                    .into()
            )
        );
    }

    #[test]
    fn transport_failures_name_secrets_manager_and_the_secret() {
        for (failure, said) in [
            (
                Failure::Denied,
                "denied: network access to moto:5000 was refused by the host: it is not in \
                 this provider's grants.hosts",
            ),
            (
                Failure::Refused,
                "unavailable: cannot connect to Secrets Manager at http://moto:5000 (connection \
                 refused) while reading secret \"a\"",
            ),
            (
                Failure::Timeout,
                "unavailable: Secrets Manager at http://moto:5000 did not answer in time while \
                 reading secret \"a\"",
            ),
            (
                Failure::TooLarge,
                "unavailable: Secrets Manager at http://moto:5000 answered with more data than \
                 reqflo accepts (1 MiB) while reading secret \"a\"",
            ),
            (
                Failure::Broken("DNS lookup failed".into()),
                "unavailable: cannot talk to Secrets Manager at http://moto:5000 (DNS lookup \
                 failed) while reading secret \"a\"",
            ),
        ] {
            let (kind, message) = error("a", Err(failure));
            assert_eq!(format!("{kind}: {message}"), said);
        }
    }

    #[test]
    fn redirects_name_only_the_destination_origin() {
        let redirect = Ok(Response::new(307, "").with_header(
            "Location",
            "https://elsewhere.example/x?X-Amz-Signature=abc",
        ));
        let (kind, message) = error("a", redirect);
        assert_eq!(kind, "unavailable");
        assert!(
            message.contains("redirect (307) to https://elsewhere.example;"),
            "{message}"
        );
        assert!(!message.contains("Signature"), "{message}");
    }
}
