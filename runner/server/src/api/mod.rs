//! The HTTP API: routes, the role each needs, and the JSON body reader.
//!
//! No handler ever returns a secret value, and no error echoes what a
//! request held: a malformed body is described by where it broke, never by
//! the text it held ([`json_error`]).

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;

pub(crate) mod agents;
mod audit;
mod ops;
pub(crate) mod projects;
pub(crate) mod runs;
pub(crate) mod secrets;
pub(crate) mod tokens;

pub use crate::error::{ApiError, json, json_error, missing};
pub use crate::state::AppState;
pub use audit::record;

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_upload_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .route("/api/whoami", get(tokens::whoami))
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/api/secrets", get(secrets::list).post(secrets::create))
        .route(
            "/api/secrets/{name}",
            get(secrets::show)
                .patch(secrets::update)
                .delete(secrets::remove),
        )
        .route("/api/secrets/{name}/value", put(secrets::rotate))
        .route("/api/secrets/{name}/test", post(secrets::test))
        .route("/api/keys/rotate", post(secrets::rotate_master_key))
        .route("/api/audit", get(audit::list))
        .route("/api/projects", get(projects::list))
        .route(
            "/api/projects/{name}",
            get(projects::show)
                .put(projects::upload)
                .delete(projects::remove),
        )
        .route("/api/agents", get(agents::list).post(agents::create))
        .route("/api/agents/{id}", axum::routing::delete(agents::revoke))
        .route("/api/agent/claim", post(agents::claim))
        .route("/api/agent/runs/{id}/events", post(agents::events))
        .route("/api/agent/runs/{id}/finish", post(agents::finish))
        .route("/api/runs", get(runs::list).post(runs::create))
        .route("/api/runs/{id}", get(runs::show))
        .route("/api/runs/{id}/cancel", post(runs::cancel))
        .route("/api/runs/{id}/events", get(runs::events))
        .route("/api/runs/{id}/report/{format}", get(runs::report))
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        // One line per request at info: method, path, status, latency. Never
        // headers or bodies (a token or a value could be there).
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

/// Every route, with the least role it needs (`None`: no token), for the
/// role matrix test and the OpenAPI description.
pub const ROUTES: &[(&str, &str, Option<crate::auth::Role>)] = {
    use crate::auth::Role::*;
    &[
        ("GET", "/healthz", None),
        ("GET", "/metrics", None),
        ("GET", "/api/openapi.json", None),
        ("GET", "/api/whoami", Some(Viewer)),
        ("GET", "/api/tokens", Some(Admin)),
        ("POST", "/api/tokens", Some(Admin)),
        ("DELETE", "/api/tokens/{id}", Some(Admin)),
        ("GET", "/api/secrets", Some(Admin)),
        ("POST", "/api/secrets", Some(Admin)),
        ("GET", "/api/secrets/{name}", Some(Admin)),
        ("PATCH", "/api/secrets/{name}", Some(Admin)),
        ("DELETE", "/api/secrets/{name}", Some(Admin)),
        ("PUT", "/api/secrets/{name}/value", Some(Admin)),
        ("POST", "/api/secrets/{name}/test", Some(Admin)),
        ("POST", "/api/keys/rotate", Some(Admin)),
        ("GET", "/api/audit", Some(Admin)),
        ("GET", "/api/agents", Some(Admin)),
        ("POST", "/api/agents", Some(Admin)),
        ("DELETE", "/api/agents/{id}", Some(Admin)),
        ("GET", "/api/projects", Some(Viewer)),
        ("GET", "/api/projects/{name}", Some(Viewer)),
        ("PUT", "/api/projects/{name}", Some(Builder)),
        ("DELETE", "/api/projects/{name}", Some(Builder)),
        ("GET", "/api/runs", Some(Viewer)),
        ("POST", "/api/runs", Some(Runner)),
        ("GET", "/api/runs/{id}", Some(Viewer)),
        ("POST", "/api/runs/{id}/cancel", Some(Runner)),
        ("GET", "/api/runs/{id}/events", Some(Viewer)),
        ("GET", "/api/runs/{id}/report/{format}", Some(Viewer)),
    ]
};

/// A JSON request body. Unlike axum's `Json`, a bad body is described by
/// line, column and field, never by the text it held (a value sent in the
/// wrong place must not come back in the error).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is too large",
                    )
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::bad_request(json_error(&e)))
    }
}
