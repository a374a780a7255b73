//! Azure AD's OAuth 2.0 client credentials grant
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>):
//! the token request, the token, and what each refusal means.

use std::time::{Duration, Instant};

use reqflo_plugin_sdk::http::{Request, Response, Transport, is_header_token};
use reqflo_plugin_sdk::renew;
use serde::Deserialize;

use crate::Error;
use crate::settings::ClientCredentials;
use crate::wire::{
    self, Failure, Server, failure_error, form, percent_encode, redirect_error, safe_code,
};

/// A bearer token and until when it is worth using. No `Debug`: it is a
/// credential.
pub struct AccessToken {
    /// The token, header-safe.
    pub value: String,
    /// When to get a new one; `None` for a token that is never renewed (one
    /// from the environment).
    pub renew_at: Option<Instant>,
}

impl AccessToken {
    /// Whether the token may still be used at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        self.renew_at.is_none_or(|at| now < at)
    }
}

/// A 200 answer. `expires_in` is a number from the v2.0 endpoint and a string
/// from v1.0, so both are read.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    /// When it expires, in seconds since the Unix epoch: what a managed
    /// identity endpoint of App Service sends instead of `expires_in`.
    expires_on: Option<serde_json::Value>,
}

/// An error answer; `error_description` is never read: it can echo the request.
#[derive(Deserialize, Default)]
struct TokenError {
    error: Option<String>,
    #[serde(default)]
    error_codes: Vec<serde_json::Value>,
}

/// How the client proves who it is in the token request. No `Debug`: each
/// holds a credential.
pub enum Proof {
    /// A client secret (from [`ClientCredentials::secret_env`]).
    Secret(String),
    /// Workload identity's federated token, as a client assertion.
    Federated(String),
    /// A JWT signed with the client certificate's key, as a client assertion.
    Certificate(String),
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn token_url(client: &ClientCredentials) -> String {
    client.authority.url(&format!(
        "/{}/oauth2/v2.0/token",
        percent_encode(&client.tenant)
    ))
}

/// The token request's form body: the client secret, or a client assertion
/// (a federated token, or a JWT signed with the client certificate).
pub fn token_form(client: &ClientCredentials, proof: &Proof, scope: &str) -> String {
    let assertion = match proof {
        Proof::Secret(secret) => {
            return form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &client.client_id),
                ("client_secret", secret),
                ("scope", scope),
            ]);
        }
        Proof::Federated(assertion) | Proof::Certificate(assertion) => assertion,
    };
    form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client.client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
        ("scope", scope),
    ])
}

/// The token request: `POST` [`token_url`] with [`token_form`].
pub fn token_request(client: &ClientCredentials, proof: &Proof, scope: &str) -> Request {
    Request::post(
        token_url(client),
        token_form(client, proof, scope).into_bytes(),
    )
    .header("content-type", "application/x-www-form-urlencoded")
}

/// Ask Azure AD for a token for `scope` with `proof`, and read the answer.
pub fn sign_in(
    client: &ClientCredentials,
    proof: &Proof,
    scope: &str,
    transport: &mut impl Transport,
    now: Instant,
) -> Result<AccessToken, Error> {
    let request = token_request(client, proof, scope);
    interpret(client, proof, wire::send(transport, request), now)
}

/// Turn the token endpoint's outcome into a token, or an error that names the
/// client and tenant but never the secret or the server's description.
pub fn interpret(
    client: &ClientCredentials,
    proof: &Proof,
    outcome: Result<Response, Failure>,
    sent_at: Instant,
) -> Result<AccessToken, Error> {
    let server = Server {
        role: "Azure AD",
        origin: &client.authority,
    };
    let (tenant, id) = (&client.tenant, &client.client_id);
    let doing = format!("getting a token for client {id} in tenant {tenant}");
    let answer = outcome.map_err(|f| failure_error(server, &doing, &f))?;
    match answer.status {
        200..=299 => token(server, &answer.body, sent_at),
        400 | 401 | 403 => Err(refusal(client, proof, &answer.body, answer.status)),
        404 => Err(Error::Unavailable(format!(
            "{server} has no token endpoint for tenant {tenant} (404): check config.authority"
        ))),
        300..=399 => Err(redirect_error(server, &answer)),
        429 => Err(Error::Unavailable(format!(
            "{server} is throttling requests (429) while {doing}; try again later"
        ))),
        status => Err(Error::Unavailable(format!(
            "{server} answered {status} while {doing}"
        ))),
    }
}

/// The token of a 2xx answer, to be renewed [`renew::MARGIN`] before it
/// expires.
pub(crate) fn token(
    server: Server<'_>,
    body: &[u8],
    sent_at: Instant,
) -> Result<AccessToken, Error> {
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|_| {
        Error::Unavailable(format!(
            "{server} answered the token request with JSON reqflo could not read"
        ))
    })?;
    if let Some(kind) = &answer.token_type
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(Error::Unavailable(format!(
            "{server} issued a token that is not a Bearer token"
        )));
    }
    let value = answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Unavailable(format!("{server} answered without an access token")))?;
    if !is_header_token(&value) {
        return Err(Error::Unavailable(format!(
            "{server} issued an access token with characters an HTTP header cannot carry"
        )));
    }
    // Measured from when the request was sent: the token's clock started no
    // earlier. A token without a lifetime is used once.
    let lifetime = answer
        .expires_in
        .as_ref()
        .and_then(seconds)
        .or_else(|| {
            let on = answer.expires_on.as_ref().and_then(seconds)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some(on.saturating_sub(now))
        })
        .unwrap_or(0);
    let renew_at = renew::at(sent_at, Duration::from_secs(lifetime));
    Ok(AccessToken {
        value,
        renew_at: Some(renew_at),
    })
}

fn seconds(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A 400, 401 or 403 from the token endpoint: the OAuth error code says which
/// part of the configuration to check.
fn refusal(client: &ClientCredentials, proof: &Proof, body: &[u8], status: u16) -> Error {
    let parsed: TokenError = serde_json::from_slice(body).unwrap_or_default();
    let code = safe_code(parsed.error.as_deref());
    // AADSTS numbers (7000215: wrong secret, 700016: unknown app, 90002:
    // unknown tenant) are what Microsoft's docs index; numbers are safe to show.
    let number = parsed
        .error_codes
        .first()
        .and_then(serde_json::Value::as_u64);
    let aadsts = number.map(|n| format!("AADSTS{n}"));
    let codes = [code.map(str::to_string), aadsts]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let codes = if codes.is_empty() {
        format!("HTTP {status}")
    } else {
        codes.join(", ")
    };
    let (tenant, id, secret_env) = (&client.tenant, &client.client_id, &client.secret_env);
    let message = match (code, proof) {
        (Some("invalid_client"), Proof::Federated(_)) => format!(
            "Azure AD refused the federated token in the file {} names ({codes}): \
             check the federated credential of client {id} in tenant {tenant} (its issuer, \
             subject and audience)",
            crate::workload::TOKEN_FILE_ENV
        ),
        (Some("invalid_client"), Proof::Certificate(_)) => {
            let path = crate::certificate::PATH_ENV;
            // The troubleshooting guide of Azure's SDKs names these two.
            let why = match number {
                Some(700027) => format!(
                    "the certificate is not registered for client {id} in tenant {tenant} \
                     (upload it under the app's Certificates & secrets), or the file's key is \
                     not the certificate's"
                ),
                Some(700024) => {
                    "the assertion is outside its valid time: check this machine's clock".into()
                }
                _ => format!("check the certificate of client {id} in tenant {tenant}"),
            };
            format!(
                "Azure AD refused the client certificate in the file {path} names ({codes}): {why}"
            )
        }
        (Some("invalid_client"), Proof::Secret(_)) => format!(
            "Azure AD refused the client credentials ({codes}): check the client secret in \
             {secret_env} for client {id} in tenant {tenant}"
        ),
        (Some("unauthorized_client"), _) => format!(
            "Azure AD refused client {id} ({codes}): it is not an app registered in tenant \
             {tenant}, or it may not use client credentials"
        ),
        (Some("invalid_scope"), _) => format!(
            "Azure AD refused the scope of the token request for client {id} in tenant \
             {tenant} ({codes})"
        ),
        _ => format!(
            "Azure AD refused the token request for client {id} in tenant {tenant} ({codes}): \
             check config.tenant_id and config.client_id"
        ),
    };
    Error::Denied(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientCredentials {
        ClientCredentials {
            authority: match crate::wire::parse_origin("https://login.microsoftonline.com") {
                Ok(o) => o,
                Err(why) => panic!("{why}"),
            },
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "app-1".into(),
            secret_env: "AZURE_CLIENT_SECRET".into(),
        }
    }

    fn secret() -> Proof {
        Proof::Secret("s3cr+t~x".into())
    }

    fn outcome(status: u16, body: &str) -> Result<AccessToken, (&'static str, String)> {
        let answer = Response::new(status, body);
        interpret(&client(), &secret(), Ok(answer), Instant::now())
            .map_err(|e| (e.kind(), e.message().to_string()))
    }

    fn refused(status: u16, body: &str) -> (&'static str, String) {
        match outcome(status, body) {
            Err(e) => e,
            Ok(_) => panic!("a token from {body}"),
        }
    }

    #[test]
    fn the_request() {
        assert_eq!(
            token_url(&client()),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            token_form(&client(), &secret(), "https://vault.azure.net/.default"),
            "grant_type=client_credentials&client_id=app-1&client_secret=s3cr%2Bt%7Ex\
             &scope=https%3A%2F%2Fvault.azure.net%2F.default"
        );
    }

    #[test]
    fn a_token_is_renewed_five_minutes_before_it_expires() {
        let sent = Instant::now();
        let answer = |body: &str| Response::new(200, body);
        let token = interpret(
            &client(),
            &secret(),
            Ok(answer(
                r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0.x.y"}"#,
            )),
            sent,
        );
        let Ok(token) = token else { panic!("no token") };
        assert_eq!(token.value, "eyJ0.x.y");
        assert!(token.is_fresh(sent + Duration::from_secs(3298)));
        assert!(!token.is_fresh(sent + Duration::from_secs(3299)));
        // v1.0 spells the lifetime as a string.
        let token = interpret(
            &client(),
            &secret(),
            Ok(answer(
                r#"{"token_type":"bearer","expires_in":"600","access_token":"t"}"#,
            )),
            sent,
        );
        assert!(
            token.is_ok_and(|t| t.is_fresh(sent + Duration::from_secs(299))
                && !t.is_fresh(sent + Duration::from_secs(300)))
        );
        // Short-lived, without a lifetime, or with one past what the clock
        // holds: used for this one request.
        for body in [
            r#"{"token_type":"Bearer","expires_in":120,"access_token":"t"}"#,
            r#"{"access_token":"t"}"#,
            r#"{"token_type":"Bearer","expires_in":18446744073709551615,"access_token":"t"}"#,
        ] {
            let token = interpret(&client(), &secret(), Ok(answer(body)), sent);
            assert!(token.is_ok_and(|t| !t.is_fresh(sent)), "{body}");
        }
    }

    #[test]
    fn unusable_tokens() {
        assert!(
            refused(200, r#"{"token_type":"pop","access_token":"t"}"#)
                .1
                .contains("not a Bearer")
        );
        assert!(
            refused(200, r#"{"token_type":"Bearer"}"#)
                .1
                .contains("without an access token")
        );
        assert!(
            refused(200, r#"{"access_token":""}"#)
                .1
                .contains("without an access token")
        );
        let (kind, m) = refused(200, r#"{"access_token":"a b\u0007"}"#);
        assert_eq!(kind, "unavailable");
        assert!(m.contains("cannot carry") && !m.contains("a b"), "{m}");
        assert!(refused(200, "{").1.contains("could not read"));
    }

    #[test]
    fn refusals_name_the_client_never_the_description() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'app-1'. Trace ID: abc","error_codes":[7000215],"timestamp":"2024-01-15 10:30:00Z","trace_id":"abc","correlation_id":"def"}"#;
        assert_eq!(
            refused(401, body),
            (
                "denied",
                "Azure AD refused the client credentials (invalid_client, AADSTS7000215): check \
                 the client secret in AZURE_CLIENT_SECRET for client app-1 in tenant \
                 contoso.onmicrosoft.com"
                    .into()
            )
        );
        let (_, m) = refused(
            400,
            r#"{"error":"unauthorized_client","error_codes":[700016]}"#,
        );
        assert!(
            m.starts_with("Azure AD refused client app-1 (unauthorized_client, AADSTS700016)"),
            "{m}"
        );
        let (_, m) = refused(400, r#"{"error":"invalid_scope","error_codes":[70011]}"#);
        assert!(m.contains("scope") && m.contains("AADSTS70011"), "{m}");
        let (_, m) = refused(400, r#"{"error":"invalid_request","error_codes":[90002]}"#);
        assert!(
            m.contains("(invalid_request, AADSTS90002): check config.tenant_id"),
            "{m}"
        );
        let (_, m) = refused(
            400,
            r#"{"error":"bad code with spaces","error_description":"s3cret"}"#,
        );
        assert!(m.contains("(HTTP 400)") && !m.contains("s3cret"), "{m}");
        assert_eq!(refused(403, "").0, "denied");
    }

    #[test]
    fn a_refused_certificate_says_why() {
        let certificate = Proof::Certificate("eyJ.a.b".into());
        let said = |number: u32| {
            let body = format!(r#"{{"error":"invalid_client","error_codes":[{number}]}}"#);
            let outcome = interpret(
                &client(),
                &certificate,
                Ok(Response::new(401, body)),
                Instant::now(),
            );
            match outcome {
                Err(e) => (e.kind(), e.message().to_string()),
                Ok(_) => panic!("a token for AADSTS{number}"),
            }
        };
        assert_eq!(
            said(700027),
            (
                "denied",
                "Azure AD refused the client certificate in the file AZURE_CLIENT_CERTIFICATE_PATH \
                 names (invalid_client, AADSTS700027): the certificate is not registered for \
                 client app-1 in tenant contoso.onmicrosoft.com (upload it under the app's \
                 Certificates & secrets), or the file's key is not the certificate's"
                    .into()
            )
        );
        assert!(said(700024).1.ends_with("check this machine's clock"));
        let other = said(700021).1;
        assert!(
            other.contains("(invalid_client, AADSTS700021): check the certificate of client app-1"),
            "{other}"
        );
        assert!(!other.contains("eyJ"), "{other}");
    }

    #[test]
    fn server_trouble_is_unavailable() {
        let (kind, m) = refused(503, "");
        assert_eq!(kind, "unavailable");
        assert_eq!(
            m,
            "Azure AD at https://login.microsoftonline.com answered 503 while getting a token \
             for client app-1 in tenant contoso.onmicrosoft.com"
        );
        assert!(refused(429, "").1.contains("throttling"));
        assert!(refused(404, "").1.contains("check config.authority"));
        assert!(refused(302, "").1.contains("redirect"));
        let timeout = interpret(&client(), &secret(), Err(Failure::Timeout), Instant::now())
            .map(|_| ())
            .map_err(|e| (e.kind(), e.message().to_string()));
        assert_eq!(
            timeout,
            Err((
                "unavailable",
                "Azure AD at https://login.microsoftonline.com did not answer in time while \
                 getting a token for client app-1 in tenant contoso.onmicrosoft.com"
                    .into()
            ))
        );
    }
}
