//! Operations: health, Prometheus metrics and the API's OpenAPI description.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{AppState, ROUTES, json as answer};

/// `GET /healthz`: the store answers.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match sqlx::query("SELECT 1").execute(&state.db).await {
        Ok(_) if !state.queue.is_closing() => answer(StatusCode::OK, json!({"status": "ok"})),
        Ok(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "shutting down"}),
        ),
        Err(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "the database does not answer"}),
        ),
    }
}

/// `GET /metrics`: counts and durations, no names a caller chose.
pub async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.queued.set(state.queue.depth() as i64);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// What each route does, for the description.
fn summary(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("GET", "/healthz") => "Whether the server and its store answer",
        ("GET", "/metrics") => "Prometheus metrics",
        ("GET", "/api/openapi.json") => "This description",
        ("GET", "/api/whoami") => "The calling token's name and role",
        ("GET", "/api/tokens") => "List API tokens (never the tokens themselves)",
        ("POST", "/api/tokens") => "Create a token {name, role}; the token is in this answer only",
        ("DELETE", "/api/tokens/{id}") => "Revoke a token",
        ("GET", "/api/secrets") => "List managed secrets: names and metadata, never values",
        ("POST", "/api/secrets") => {
            "Register a secret {name, description, value, journeys, environments, hosts, allow_http}"
        }
        ("GET", "/api/secrets/{name}") => "One secret's metadata and policy",
        ("PATCH", "/api/secrets/{name}") => "Change description, policy, or disabled",
        ("DELETE", "/api/secrets/{name}") => "Delete a secret and every version of its value",
        ("PUT", "/api/secrets/{name}/value") => "Rotate: a new version {value}",
        ("POST", "/api/secrets/{name}/test") => {
            "Test resolve: ok, not found, disabled or failed, with the value's length class"
        }
        ("POST", "/api/keys/rotate") => "Rotate the master key, re-wrapping every data key",
        ("GET", "/api/audit") => "The audit log, newest first (?action=&target=&limit=)",
        ("GET", "/api/projects") => "List projects",
        ("GET", "/api/projects/{name}") => "One project's files",
        ("PUT", "/api/projects/{name}") => "Upload a project: JSON {files} or a YAML bundle",
        ("DELETE", "/api/projects/{name}") => "Delete a project",
        ("GET", "/api/runs") => "List runs, newest first (?status=&project=&limit=)",
        ("POST", "/api/runs") => "Start a run {project, journeys | all, environment, inputs}",
        ("GET", "/api/runs/{id}") => "A run's status and redacted report",
        ("POST", "/api/runs/{id}/cancel") => "Cancel a queued or running run",
        ("GET", "/api/runs/{id}/events") => "The run's events as server-sent events",
        ("GET", "/api/runs/{id}/report/{format}") => "The run's report: json, junit or html",
        _ => "",
    }
}

/// `GET /api/openapi.json`: OpenAPI 3.1, built from the route table the
/// role matrix test walks, so it cannot drift from what is served.
pub async fn openapi() -> Response {
    let mut paths = Map::new();
    for (method, path, role) in ROUTES {
        let mut operation = json!({
            "summary": summary(method, path),
            "responses": {
                "200": {"description": "ok"},
                "400": {"description": "bad request: the message names the field, or file:line:column"},
                "401": {"description": "no token, or an unknown or revoked one"},
                "403": {"description": "the token's role does not allow this, or policy forbids it"},
                "404": {"description": "unknown id or name"},
            },
        });
        match role {
            Some(role) => {
                operation["security"] = json!([{"bearer": []}]);
                operation["x-reqflo-role"] = json!(role.name());
            }
            None => operation["security"] = json!([]),
        }
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = Value::from(parameters);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation;
    }
    answer(
        StatusCode::OK,
        json!({
            "openapi": "3.1.0",
            "info": {"title": "reqflo Cloud Runner", "version": env!("CARGO_PKG_VERSION"),
                     "description": "Secrets go in and never come out: no answer holds a value."},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": paths,
        }),
    )
}
