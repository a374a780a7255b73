//! The fake managed identity endpoints: the Instance Metadata Service's
//! token route, and App Service's identity endpoint. Documentation they follow:
//! - IMDS, <https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>:
//!   `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=…[&client_id=…]`
//!   with `Metadata: true`; `{"access_token", "expires_in", "expires_on",
//!   "resource", "token_type"}`, the numbers as strings; 400 without the
//!   header or with no identity;
//! - App Service, <https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference>:
//!   `GET {IDENTITY_ENDPOINT}?resource=…&api-version=2019-08-01[&client_id=…]`
//!   with `X-IDENTITY-HEADER: {IDENTITY_HEADER}`; `{"access_token",
//!   "expires_on", "resource", "token_type", "client_id"}`.
//!
//! Both issue tokens the fake vault accepts, for the resource
//! `https://vault.azure.net` only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::aad::issue;
use super::data::IDENTITY_HEADER;
use super::server::Shared;

const RESOURCE: &str = "https://vault.azure.net";

/// `GET /metadata/identity/oauth2/token`.
pub(super) async fn imds(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let flagged = headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !flagged {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    if let Some(refused) = gate(&shared, &query, "2018-02-01") {
        return refused;
    }
    let (token, lifetime) = issue(&shared);
    let secs = lifetime.as_secs();
    Json(json!({
        "access_token": token,
        "expires_in": secs.to_string(),
        "expires_on": (epoch() + secs).to_string(),
        "ext_expires_in": secs.to_string(),
        "not_before": epoch().to_string(),
        "resource": RESOURCE,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// `GET /msi/token`, App Service's identity endpoint.
pub(super) async fn app_service(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let secret = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if secret != Some(IDENTITY_HEADER) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "X-IDENTITY-HEADER missing or wrong",
        );
    }
    if let Some(refused) = gate(&shared, &query, "2019-08-01") {
        return refused;
    }
    let (token, lifetime) = issue(&shared);
    Json(json!({
        "access_token": token,
        "expires_on": (epoch() + lifetime.as_secs()).to_string(),
        "resource": RESOURCE,
        "token_type": "Bearer",
        "client_id": query.get("client_id").cloned().unwrap_or_else(|| "fake-system-assigned".into()),
    }))
    .into_response()
}

/// The route's `api-version`, Key Vault's resource, and an identity to
/// give: else the refusal.
fn gate(shared: &Shared, query: &HashMap<String, String>, version: &str) -> Option<Response> {
    if query.get("api-version").map(String::as_str) != Some(version) {
        return Some(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid or missing api-version",
        ));
    }
    if query.get("resource").map(String::as_str) != Some(RESOURCE) {
        return Some(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            "AADSTS500011: The resource principal named was not found",
        ));
    }
    if !shared.data.managed_identity {
        return Some(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        ));
    }
    None
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
