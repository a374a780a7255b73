//! Access tokens from Google's token endpoints, for the credentials files:
//!
//! - a service account's key: an RS256 JWT-bearer assertion (RFC 7523) at
//!   `token_uri`, as
//!   <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>
//!   describes (`iss` the account, `scope`, `aud` the token URI, `iat`,
//!   `exp` an hour later, the key's ID as `kid`);
//! - a user's refresh token (`grant_type=refresh_token`);
//! - an external account's subject token at STS (RFC 8693 token exchange,
//!   <https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token>),
//!   then IAM Credentials' `generateAccessToken` when a service account is
//!   impersonated
//!   (<https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken>).
//!
//! Every answer's token is a credential: it is kept, never shown. Of an
//! error answer only OAuth's `error` code, or Google's `status`, is shown.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqflo_plugin_sdk::http::{
    Request, Response, Server, Transport, is_header_token, percent_encode,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::access::{self, MAX_ERROR_BYTES};
use crate::credentials::{AuthorizedUser, Endpoint, ServiceAccount};
use crate::external::External;

/// The scope asked for: Secret Manager needs cloud-platform.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long a service account's assertion is good for (Google's maximum).
const ASSERTION_LIFETIME: u64 = 3600;
/// A token whose answer names no lifetime is taken to live this long
/// (Google's tokens live an hour).
const DEFAULT_LIFETIME: u64 = 3600;

/// An access token and how long it lives.
pub struct Issued {
    /// The token; a credential.
    pub token: String,
    /// From when it was asked for.
    pub lifetime: Duration,
}

/// `{"access_token", "expires_in", "token_type"}`: what OAuth token
/// endpoints, STS and the metadata server answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The token in a token endpoint's 2xx `body`; `server` names it.
pub fn token_answer(server: &str, body: &[u8]) -> Result<Issued, Error> {
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|_| {
        Error::Unavailable(format!(
            "{server} answered something that is not its token JSON"
        ))
    })?;
    issued(
        server,
        answer.access_token,
        answer.expires_in.unwrap_or(DEFAULT_LIFETIME),
    )
}

/// A token checked to fit in a header and to be still good.
fn issued(server: &str, token: String, seconds: u64) -> Result<Issued, Error> {
    if !is_header_token(&token) {
        return Err(Error::Unavailable(format!(
            "{server} gave an access token an HTTP header cannot carry"
        )));
    }
    // Sending it would only earn a 401 that blames the wrong party.
    if seconds == 0 {
        return Err(Error::Unavailable(format!(
            "{server} gave an access token that has already expired; this machine's clock \
             may be off"
        )));
    }
    Ok(Issued {
        token,
        lifetime: Duration::from_secs(seconds),
    })
}

/// A token for a service account's key, signed now.
pub fn service_account(
    account: &ServiceAccount,
    transport: &mut impl Transport,
) -> Result<Issued, Error> {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut header = Map::new();
    if let Some(kid) = &account.key_id {
        header.insert("kid".into(), kid.clone().into());
    }
    let claims = json!({
        "iss": account.email,
        "scope": SCOPE,
        "aud": account.token_uri.url,
        "iat": iat,
        "exp": iat + ASSERTION_LIFETIME,
    });
    let assertion = account.key.sign(header, &claims).map_err(|why| {
        Error::Unavailable(format!(
            "the key of service account {} {why}",
            account.email
        ))
    })?;
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion.as_str()),
    ];
    let who = format!("the key of service account {}", account.email);
    let hint = "the key may be deleted or disabled, or this machine's clock is off";
    post_form(&account.token_uri, &form, &who, hint, transport)
}

/// A token for a user's refresh token.
pub fn authorized_user(
    user: &AuthorizedUser,
    transport: &mut impl Transport,
) -> Result<Issued, Error> {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", user.client_id.as_str()),
        ("client_secret", user.client_secret.as_str()),
        ("refresh_token", user.refresh_token.as_str()),
    ];
    let who = format!("the refresh token of OAuth client {}", user.client_id);
    let hint = "it was revoked or has expired: run gcloud auth application-default login again";
    post_form(&user.token_uri, &form, &who, hint, transport)
}

/// A token for an external account's subject token: STS's, or with
/// impersonation the service account's.
pub fn external(
    account: &External,
    subject_token: &str,
    transport: &mut impl Transport,
) -> Result<Issued, Error> {
    let options = account
        .workforce_project
        .as_ref()
        .map(|project| json!({"userProject": project}).to_string());
    let mut form = vec![
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("audience", account.audience.as_str()),
        ("scope", SCOPE),
        (
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("subject_token", subject_token),
        ("subject_token_type", account.subject_token_type.as_str()),
    ];
    if let Some(options) = &options {
        form.push(("options", options));
    }
    let who = format!("the subject token for {}", account.audience);
    let hint = "check the pool provider's issuer, audience and attribute conditions";
    let federated = post_form(&account.token_url, &form, &who, hint, transport)?;
    match &account.impersonation {
        None => Ok(federated),
        Some((endpoint, email)) => impersonate(
            endpoint,
            email,
            &federated.token,
            account.lifetime_seconds,
            transport,
        ),
    }
}

/// `generateAccessToken` for `email`, with the federated token.
fn impersonate(
    endpoint: &Endpoint,
    email: &str,
    federated: &str,
    lifetime: u64,
    transport: &mut impl Transport,
) -> Result<Issued, Error> {
    let server = format!("IAM Credentials at {}", endpoint.origin);
    let body = json!({"scope": [SCOPE], "lifetime": format!("{lifetime}s")}).to_string();
    let request = Request::post(&endpoint.url, body.into_bytes())
        .header("authorization", format!("Bearer {federated}"))
        .header("content-type", "application/json");
    let answer = send(endpoint, "IAM Credentials", request, transport)?;
    if !answer.is_success() {
        let status = google_status(&answer.body);
        let shown = status.map_or(answer.status.to_string(), |s| {
            format!("{} {s}", answer.status)
        });
        return Err(match answer.status {
            401 | 403 => Error::Denied(format!(
                "{server} would not give a token of service account {email} ({shown}); the \
                 pool's identities need roles/iam.workloadIdentityUser on it"
            )),
            404 => Error::Denied(format!(
                "{server} knows no service account {email} ({shown})"
            )),
            _ => Error::Unavailable(format!(
                "{server} answered {shown} for a token of service account {email}"
            )),
        });
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        access_token: String,
        expire_time: String,
    }
    let answer: Answer = serde_json::from_slice(&answer.body).map_err(|_| {
        Error::Unavailable(format!(
            "{server} answered something that is not its token JSON"
        ))
    })?;
    let expires = time::OffsetDateTime::parse(
        &answer.expire_time,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|_| {
        Error::Unavailable(format!(
            "{server} answered an expireTime that is not a time"
        ))
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let seconds = u64::try_from(expires.unix_timestamp())
        .unwrap_or(0)
        .saturating_sub(now);
    issued(&server, answer.access_token, seconds)
}

/// POST `form` to a token endpoint and read its token. `who` names the
/// credential sent (never its value), `hint` says what to do when it is
/// refused.
fn post_form(
    endpoint: &Endpoint,
    form: &[(&str, &str)],
    who: &str,
    hint: &str,
    transport: &mut impl Transport,
) -> Result<Issued, Error> {
    let body = form
        .iter()
        .map(|(key, value)| format!("{key}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let request = Request::post(&endpoint.url, body.into_bytes())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    let server = format!("the token endpoint at {}", endpoint.origin);
    let answer = send(endpoint, "Google's token endpoint", request, transport)?;
    if answer.is_success() {
        return token_answer(&server, &answer.body);
    }
    let status = answer.status;
    let code = oauth_error(&answer.body);
    let shown = code.map_or(status.to_string(), |code| format!("{status} {code}"));
    Err(match (status, code) {
        (_, Some("invalid_grant" | "invalid_client" | "unauthorized_client")) | (401 | 403, _) => {
            Error::Denied(format!("{server} refused {who} ({shown}): {hint}"))
        }
        _ => Error::Unavailable(format!("{server} answered {shown} for {who}")),
    })
}

/// Send `request`, reading a token's small JSON; a failure names `service`.
fn send(
    endpoint: &Endpoint,
    service: &str,
    request: Request,
    transport: &mut impl Transport,
) -> Result<Response, Error> {
    transport
        .send(request, access::limits(MAX_ERROR_BYTES))
        .map_err(|failure| {
            let server = Server {
                service,
                address: &endpoint.origin,
                authority: &endpoint.origin.authority(),
            };
            failure.error(server, Some("getting an access token"), MAX_ERROR_BYTES)
        })
}

/// OAuth's `{"error": "invalid_grant", …}` code, when it is of OAuth's
/// shape (RFC 6749 §5.2); `error_description` is never shown.
fn oauth_error(body: &[u8]) -> Option<&'static str> {
    const CODES: [&str; 7] = [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
    ];
    let json: Value = serde_json::from_slice(body).ok()?;
    let code = json.get("error")?.as_str()?;
    CODES.into_iter().find(|known| *known == code)
}

/// Google's `{"error": {"status": "PERMISSION_DENIED"}}`, when of its shape.
fn google_status(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let status = json.get("error")?.get("status")?.as_str()?;
    let shaped = !status.is_empty()
        && status.len() <= 40
        && status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    shaped.then(|| status.to_string())
}
