//! The HTTP API: routes, shared state, errors and the JSON body reader.
//!
//! No handler ever returns a secret value, and no error echoes what a
//! request held: a malformed body is described by where it broke, never by
//! the text it held ([`json_error`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use sqlx::SqlitePool;
use tokio::sync::RwLock;

use crate::config::ServerConfig;
use crate::keys::Keyring;
use crate::metrics::Metrics;
use crate::queue::Queue;

mod audit;
mod ops;
pub(crate) mod projects;
mod runs;
mod secrets;
pub(crate) mod tokens;

pub use audit::record;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub db: SqlitePool,
    /// The key-encryption keys (a rotation takes it for writing).
    pub keys: Arc<RwLock<Keyring>>,
    /// Runs waiting and running.
    pub queue: Arc<Queue>,
    /// Settings.
    pub config: Arc<ServerConfig>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

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
        .route("/api/keys/rotate", post(secrets::rotate_master_key))
        .route("/api/audit", get(audit::list))
        .route("/api/projects", get(projects::list))
        .route(
            "/api/projects/{name}",
            get(projects::show)
                .put(projects::upload)
                .delete(projects::remove),
        )
        .route("/api/runs", get(runs::list).post(runs::create))
        .route("/api/runs/{id}", get(runs::show))
        .route("/api/runs/{id}/cancel", post(runs::cancel))
        .route("/api/runs/{id}/events", get(runs::events))
        .route("/api/runs/{id}/report/{format}", get(runs::report))
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
        ("POST", "/api/keys/rotate", Some(Admin)),
        ("GET", "/api/audit", Some(Admin)),
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

/// An error answer: a status and a message, as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the caller; never a value.
    pub message: String,
    /// The exit code a CLI run would have had (`reqflo run --remote`).
    pub exit_code: Option<i32>,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            exit_code: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// 500: the detail goes to the server's log, not to the caller.
    pub fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        // sqlx's messages name tables and constraints, never bound values.
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<crate::keys::KeyError> for ApiError {
    fn from(e: crate::keys::KeyError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(code) = self.exit_code {
            body["exit_code"] = code.into();
        }
        (self.status, axum::Json(body)).into_response()
    }
}

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

/// Describe a JSON error without the text it quotes: serde's messages
/// embed the offending value (`invalid type: string "…"`), which may be a
/// secret sent in the wrong field. A missing field's name and the
/// expected names are the server's own and are kept; nothing the caller
/// wrote is.
pub fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    let text = e.to_string();
    let what = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => "malformed JSON".to_string(),
        Category::Data => {
            if text.starts_with("unknown field") {
                // The unknown name is the caller's text; the expected ones are ours.
                let expected = text
                    .split_once(", expected ")
                    .map(|(_, e)| e.split(" at line ").next().unwrap_or(e))
                    .unwrap_or("no other field");
                format!("an unknown field (expected {expected})")
            } else if let Some(field) = quoted_after(&text, "missing field `") {
                format!("missing field `{field}`")
            } else if let Some((kind, _)) = text.split_once(':') {
                // "invalid type", "invalid value", "invalid length", …
                let expected = text
                    .split_once(", expected ")
                    .map(|(_, e)| e.split(" at line ").next().unwrap_or(e))
                    .filter(|e| !e.contains(['"', '`']))
                    .map(|e| format!(", expected {e}"))
                    .unwrap_or_default();
                format!("{kind}{expected}")
            } else {
                "the body does not have the expected shape".to_string()
            }
        }
    };
    format!("invalid request body: {what} at {at}")
}

fn quoted_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = text.split_once(prefix)?.1;
    let field = rest.split('`').next()?;
    // A field name is short and plain; anything else is not echoed.
    (field.len() <= 64
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then_some(field)
}

/// Map a status into the error every unknown id gets.
pub fn missing(what: &str, id: &str) -> ApiError {
    let id: String = id.chars().take(80).filter(|c| !c.is_control()).collect();
    ApiError::not_found(format!("no {what} `{id}`"))
}

/// A JSON answer with a status.
pub fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
        allow_http: Option<bool>,
        count: Option<u32>,
    }

    #[test]
    fn json_errors_never_echo_a_value() {
        let canary = "sk_canary_0123456789";
        for body in [
            format!(r#"{{"name": "x", "allow_http": "{canary}"}}"#),
            format!(r#"{{"name": "x", "count": "{canary}"}}"#),
            format!(r#"{{"name": "x", "{canary}": 1}}"#),
            format!(r#"{{"name": ["{canary}"]}}"#),
            format!(r#"{{"name": "{canary}"#),
            r#"{"name": "x", "count": 123456789012345}"#.to_string(),
        ] {
            let e = serde_json::from_str::<Shape>(&body).expect_err("bad");
            let text = json_error(&e);
            assert!(!text.contains(canary), "{text}");
            assert!(!text.contains("123456789012345"), "{text}");
            assert!(text.contains("line 1, column"), "{text}");
        }
        let e = serde_json::from_str::<Shape>(r#"{"nme": "x"}"#).expect_err("bad");
        assert!(
            json_error(&e).contains("an unknown field (expected one of `name`"),
            "{}",
            json_error(&e)
        );
    }
}
