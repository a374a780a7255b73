//! The fake Azure AD: `POST /{tenant}/oauth2/v2.0/token`, the client
//! credentials grant with a client secret, a federated client assertion
//! (workload identity, as
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential>
//! documents it) or a certificate's client assertion ([`super::assertion`]),
//! answering a random token or Azure AD's error JSON.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::assertion;
use super::data::VAULT_SCOPE;
use super::server::{Shared, lock};

/// Azure AD's error answer: `{"error", "error_description", "error_codes", …}`.
pub(super) struct AadError {
    status: StatusCode,
    error: &'static str,
    aadsts: u32,
    description: String,
}

impl AadError {
    /// A refused client credential: 401 `invalid_client`.
    pub(super) fn invalid_client(aadsts: u32, description: &str) -> AadError {
        AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            aadsts,
            description,
        )
    }

    fn new(
        status: StatusCode,
        error: &'static str,
        aadsts: u32,
        description: impl Into<String>,
    ) -> AadError {
        AadError {
            status,
            error,
            aadsts,
            description: description.into(),
        }
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let trace = "00000000-0000-4000-8000-00000000fa4e";
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace} Correlation ID: {trace} Timestamp: 2024-01-15 10:30:00Z",
                self.aadsts, self.description
            ),
            "error_codes": [self.aadsts],
            "timestamp": "2024-01-15 10:30:00Z",
            "trace_id": trace,
            "correlation_id": trace,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        });
        (self.status, Json(body)).into_response()
    }
}

pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AadError> {
    if let Some(status) = *lock(&shared.token_status) {
        return Err(AadError::new(
            status,
            "temporarily_unavailable",
            50196,
            "The server is temporarily unavailable (forced by the fake).",
        ));
    }
    if tenant != shared.data.tenant_id {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found."),
        ));
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let missing = |name: &str| {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    };
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(AadError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            ));
        }
        None => return Err(missing("grant_type")),
    }
    let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
    let Some(client) = shared
        .data
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
    else {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory."),
        ));
    };
    let assertion = field("client_assertion");
    match field("client_assertion_type") {
        None if assertion.is_none() => {}
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") => {
            // Like Azure AD, the description never repeats the assertion.
            if let Some(signed) = assertion.filter(|a| assertion::names_a_certificate(a)) {
                let registered: Vec<_> = client
                    .certificates
                    .iter()
                    .filter_map(|pem| assertion::Registered::from_pem(pem))
                    .collect();
                let audience = format!("{}/{tenant}/oauth2/v2.0/token", shared.url);
                assertion::check(signed, client_id, &audience, &registered)?;
            } else if assertion.is_none() || assertion != client.federated_token.as_deref() {
                return Err(AadError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    70021,
                    "No matching federated identity record found for presented assertion.",
                ));
            }
        }
        _ => return Err(missing("client_assertion_type")),
    }
    match field("client_secret") {
        None if assertion.is_some() => {}
        None => {
            return Err(AadError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the \
                 'client_credentials' grant type.",
            ));
        }
        // Like Azure AD, the description never repeats the secret sent.
        Some(secret) if secret != client.client_secret => {
            return Err(AadError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            ));
        }
        Some(_) => {}
    }
    let scope = field("scope").ok_or_else(|| missing("scope"))?;
    if scope != VAULT_SCOPE {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let (access_token, lifetime) = issue(&shared);
    Ok(Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": access_token,
    })))
}

/// A new token the vault accepts for the current lifetime.
pub(super) fn issue(shared: &Shared) -> (String, std::time::Duration) {
    let lifetime = *lock(&shared.lifetime);
    let access_token = format!("fake-aad.{}", random_hex());
    lock(&shared.issued).push((access_token.clone(), Instant::now() + lifetime));
    (access_token, lifetime)
}

/// 128 unpredictable bits as hex, without a dependency: std's `RandomState`
/// is seeded from the OS, and SipHash of a counter under it is as good as
/// random for a fake.
fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    for _ in 0..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out
}
