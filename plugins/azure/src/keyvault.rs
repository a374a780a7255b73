//! Key Vault's Get Secret operation
//! (<https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret>):
//! the URL, what each answer means, and picking a `#key` out of a JSON value.

use reqflo_plugin_sdk::http::{Request, Response};
use serde::Deserialize;

use crate::Error;
use crate::reference::{Reference, Subject};
use crate::wire::{Failure, Server, failure_error, percent_encode, redirect_error, safe_code};

/// The Key Vault REST API version this plugin speaks: the GA version of 2024,
/// served by every public and sovereign cloud.
pub const API_VERSION: &str = "7.5";

/// A 200 answer. No `Debug`: it holds the value.
#[derive(Deserialize)]
struct SecretBundle {
    value: Option<String>,
    #[serde(default)]
    attributes: Option<Attributes>,
}

#[derive(Deserialize)]
struct Attributes {
    enabled: Option<bool>,
}

/// Key Vault's error answer; only its codes are read, never its message.
#[derive(Deserialize, Default)]
pub struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<String>,
    innererror: Option<InnerError>,
}

#[derive(Deserialize)]
struct InnerError {
    code: Option<String>,
}

impl ErrorBody {
    /// Whatever codes an error body has; an unreadable body has none.
    pub fn of(body: &[u8]) -> ErrorBody {
        serde_json::from_slice(body).unwrap_or_default()
    }

    fn code(&self) -> Option<&str> {
        self.error.as_ref().and_then(|e| e.code.as_deref())
    }

    fn inner_code(&self) -> Option<&str> {
        self.error
            .as_ref()
            .and_then(|e| e.innererror.as_ref())
            .and_then(|i| i.code.as_deref())
    }

    /// `Forbidden, AccessDenied`: the codes worth showing, for messages.
    fn codes(&self) -> String {
        [safe_code(self.code()), safe_code(self.inner_code())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `{vault}/secrets/{name}[/{version}]?api-version=…`.
pub fn secret_url(server: Server<'_>, reference: &Reference) -> String {
    let mut path = format!("/secrets/{}", percent_encode(&reference.name));
    if let Some(version) = &reference.version {
        path.push('/');
        path.push_str(&percent_encode(version));
    }
    server
        .origin
        .url(&format!("{path}?api-version={API_VERSION}"))
}

/// Get Secret of [`secret_url`], with the bearer `token`.
pub fn secret_request(server: Server<'_>, reference: &Reference, token: &str) -> Request {
    Request::get(secret_url(server, reference)).header("authorization", format!("Bearer {token}"))
}

/// How the bearer token was obtained, for the hint on a 401.
#[derive(Clone, Copy)]
pub enum TokenSource<'a> {
    /// From this environment variable.
    Env(&'a str),
    /// Just issued by Azure AD for this client ID.
    ClientCredentials(&'a str),
    /// From the workload's managed identity.
    ManagedIdentity,
}

/// Turn one Get Secret outcome into the secret's value, or an error.
pub fn interpret(
    server: Server<'_>,
    reference: &Reference,
    token: TokenSource<'_>,
    outcome: Result<Response, Failure>,
) -> Result<String, Error> {
    let subject = Subject(reference);
    let answer = outcome.map_err(|f| failure_error(server, &format!("reading {subject}"), &f))?;
    let vault = server.origin;
    match answer.status {
        200..=299 => {
            // The body is never quoted: it holds the value.
            let bundle: SecretBundle = serde_json::from_slice(&answer.body).map_err(|_| {
                Error::Unavailable(format!(
                    "{server} answered with JSON reqflo could not read for {subject}"
                ))
            })?;
            if bundle.attributes.and_then(|a| a.enabled) == Some(false) {
                return Err(disabled(vault, &subject));
            }
            bundle.value.ok_or_else(|| {
                Error::Unavailable(format!("{server} answered without a value for {subject}"))
            })
        }
        404 => Err(Error::NotFound(format!(
            "{subject} not found in Key Vault {vault}"
        ))),
        401 => {
            let hint = match token {
                TokenSource::Env(name) => format!(
                    "check {name}: it must be a current token for https://vault.azure.net \
                     (az account get-access-token --resource https://vault.azure.net)"
                ),
                TokenSource::ClientCredentials(client) => {
                    format!("the token Azure AD issued to client {client} was not accepted")
                }
                TokenSource::ManagedIdentity => {
                    "the managed identity's token was not accepted (is the vault in the \
                     identity's tenant?)"
                        .to_string()
                }
            };
            Err(Error::Denied(format!(
                "Key Vault {vault} rejected the access token (401) while reading {subject}: \
                 {hint}"
            )))
        }
        403 => {
            let body = ErrorBody::of(&answer.body);
            if body.inner_code() == Some("SecretDisabled") {
                return Err(disabled(vault, &subject));
            }
            let codes = match body.codes() {
                codes if codes.is_empty() => String::new(),
                codes => format!(", {codes}"),
            };
            // Which of Key Vault's gates said no, and what opens it.
            let remedy = match body.inner_code() {
                Some("ForbiddenByRbac") => {
                    "the vault uses Azure RBAC: grant the identity the `Key Vault Secrets User` \
                     role on the vault or on this secret"
                }
                Some("ForbiddenByFirewall") => {
                    "the vault's firewall refused this caller's address: allow it under the \
                     vault's Networking, or reach the vault through a private endpoint"
                }
                Some("AccessDenied") => {
                    "the vault's access policy must grant the identity the secrets get \
                     permission"
                }
                _ => "it needs the secrets get permission",
            };
            let what = match body.inner_code() {
                Some("ForbiddenByFirewall") => {
                    format!("Key Vault {vault} refused to serve {subject}")
                }
                _ => format!("the identity may not read {subject} in Key Vault {vault}"),
            };
            Err(Error::Denied(format!("{what} (403{codes}): {remedy}")))
        }
        300..=399 => Err(redirect_error(server, &answer)),
        429 => Err(Error::Unavailable(format!(
            "{server} is throttling requests (429) while reading {subject}; try again later"
        ))),
        status => {
            let codes = match ErrorBody::of(&answer.body).codes() {
                codes if codes.is_empty() => String::new(),
                codes => format!(" ({codes})"),
            };
            Err(Error::Unavailable(format!(
                "{server} answered {status}{codes} while reading {subject}"
            )))
        }
    }
}

fn disabled(vault: &crate::wire::Origin, subject: &Subject<'_>) -> Error {
    Error::Denied(format!(
        "{subject} is disabled in Key Vault {vault}; enable it, or pin an enabled version"
    ))
}

/// The value `reference` asks for: the whole secret, or one key of the JSON
/// object it holds. A string is its text; a number or boolean, its JSON.
/// No message quotes the value or any part of it.
pub fn select(value: &str, reference: &Reference) -> Result<String, Error> {
    let Some(key) = &reference.key else {
        return Ok(value.to_string());
    };
    let subject = Subject(reference);
    let object: serde_json::Map<String, serde_json::Value> =
        // serde's error text can quote the input, so it is dropped.
        serde_json::from_str(value).map_err(|_| {
            Error::InvalidReference(format!(
                "`#{key}` picks a key of a JSON object, and {subject} does not hold one"
            ))
        })?;
    match object.get(key) {
        None => Err(Error::NotFound(format!(
            "{subject} has no JSON key {key:?}"
        ))),
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(scalar @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            Ok(scalar.to_string())
        }
        Some(other) => {
            let kind = match other {
                serde_json::Value::Null => "null",
                serde_json::Value::Array(_) => "an array",
                _ => "an object",
            };
            Err(Error::InvalidReference(format!(
                "the JSON key {key:?} of {subject} holds {kind}, not text"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse;
    use crate::wire::tests::key_vault;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    fn reference(text: &str) -> Reference {
        accepted(parse(text))
    }

    fn outcome(status: u16, body: &str) -> Result<String, Error> {
        interpret(
            key_vault(),
            &reference("db/0f3c"),
            TokenSource::Env("AZURE_ACCESS_TOKEN"),
            Ok(Response::new(status, body)),
        )
    }

    #[test]
    fn urls_carry_the_version_and_api_version() {
        for (written, url) in [
            (
                "db",
                "https://myvault.vault.azure.net/secrets/db?api-version=7.5",
            ),
            (
                "db/0f3c#k",
                "https://myvault.vault.azure.net/secrets/db/0f3c?api-version=7.5",
            ),
        ] {
            assert_eq!(secret_url(key_vault(), &reference(written)), url);
        }
    }

    #[test]
    fn a_secret_bundle_gives_its_value() {
        let body = r#"{"value": "hunter22", "id": "https://myvault.vault.azure.net/secrets/db/0f3c",
                       "attributes": {"enabled": true, "created": 1}, "tags": {}}"#;
        assert_eq!(outcome(200, body), Ok("hunter22".into()));
        // None of these messages quotes the body: it holds the value.
        for (body, kind, says) in [
            (
                r#"{"value": "hunter22", "attributes": {"enabled": false}}"#,
                "denied",
                "disabled",
            ),
            (r#"{"value": "hunter22""#, "unavailable", "could not read"),
            (r#"{"id": "x"}"#, "unavailable", "without a value"),
        ] {
            let m = refused(outcome(200, body), kind);
            assert!(m.contains(says) && !m.contains("hunter22"), "{m}");
        }
    }

    #[test]
    fn statuses_map_to_kinds_and_name_the_secret() {
        assert_eq!(
            refused(
                outcome(
                    404,
                    r#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) db/0f3c was not found"}}"#
                ),
                "not-found"
            ),
            "secret `db` version 0f3c not found in Key Vault https://myvault.vault.azure.net"
        );
        let m = refused(
            outcome(
                401,
                r#"{"error":{"code":"Unauthorized","message":"AKV10000"}}"#,
            ),
            "denied",
        );
        assert!(m.starts_with("Key Vault https://myvault.vault.azure.net rejected the access token (401) while reading secret `db` version 0f3c: check AZURE_ACCESS_TOKEN"), "{m}");
        assert!(!m.contains("AKV10000"));
        assert_eq!(
            refused(
                outcome(
                    403,
                    r#"{"error":{"code":"Forbidden","message":"The user 'x' does not have secrets get permission","innererror":{"code":"AccessDenied"}}}"#
                ),
                "denied"
            ),
            "the identity may not read secret `db` version 0f3c in Key Vault \
             https://myvault.vault.azure.net (403, Forbidden, AccessDenied): the vault's \
             access policy must grant the identity the secrets get permission"
        );
        assert_eq!(
            refused(
                outcome(
                    403,
                    r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#
                ),
                "denied"
            ),
            "secret `db` version 0f3c is disabled in Key Vault \
             https://myvault.vault.azure.net; enable it, or pin an enabled version"
        );
        for (inner, says) in [
            ("ForbiddenByRbac", "Key Vault Secrets User"),
            (
                "ForbiddenByFirewall",
                "firewall refused this caller's address",
            ),
        ] {
            let body = format!(
                r#"{{"error":{{"code":"Forbidden","message":"m","innererror":{{"code":"{inner}"}}}}}}"#
            );
            let m = refused(outcome(403, &body), "denied");
            assert!(m.contains(says) && m.contains(inner), "{inner}: {m}");
        }
        assert_eq!(
            refused(
                outcome(
                    503,
                    r#"{"error":{"code":"ServiceUnavailable","message":"secret echo: hunter22"}}"#
                ),
                "unavailable"
            ),
            "Key Vault at https://myvault.vault.azure.net answered 503 (ServiceUnavailable) \
             while reading secret `db` version 0f3c"
        );
        for (status, body, kind, says) in [
            (403, "not json", "denied", "(403)"),
            (429, "", "unavailable", "throttling"),
            (
                400,
                r#"{"error":{"code":"Bad Parameter!"}}"#,
                "unavailable",
                "answered 400 while",
            ),
            (307, "", "unavailable", "redirect (307)"),
        ] {
            let m = refused(outcome(status, body), kind);
            assert!(m.contains(says), "{status}: {m}");
        }
    }

    #[test]
    fn keys_of_a_json_value() {
        let json = r#"{"user": "svc", "password": "hunter22", "port": 5432, "tls": true,
                       "nested": {"a": 1}, "list": [1], "nothing": null}"#;
        let pick = |key: &str| select(json, &reference(&format!("db#{key}")));
        assert_eq!(pick("password"), Ok("hunter22".into()));
        assert_eq!(pick("port"), Ok("5432".into()));
        assert_eq!(pick("tls"), Ok("true".into()));
        assert_eq!(
            refused(pick("nope"), "not-found"),
            "secret `db` (latest version) has no JSON key \"nope\""
        );
        for (key, holds) in [
            ("nested", "an object"),
            ("list", "an array"),
            ("nothing", "null"),
        ] {
            let m = refused(pick(key), "invalid-reference");
            assert!(m.contains(holds), "{key}: {m}");
        }
        assert!(matches!(select(json, &reference("db")), Ok(whole) if whole == json));
        // No message quotes the value, or any part of it.
        let not_json = refused(
            select("hunter22", &reference("db#password")),
            "invalid-reference",
        );
        assert!(not_json.contains("does not hold one") && !not_json.contains("hunter22"));
        let array =
            select("[\"hunter22\"]", &reference("db#0")).map_err(|e| e.message().to_string());
        assert!(array.is_err_and(|m| !m.contains("hunter22")));
    }
}
