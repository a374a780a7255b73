//! The fake's HTTP side: routes, bearer tokens, and the test hooks (request log,
//! delay, redirect).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::serve::{Bound, Server};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::data::{
    ConnectData, FakeToken, FakeVault, file_content, item_details, item_file, item_summary,
};
use super::filter::Filter;

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeConnect {
    server: Server,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    data: ConnectData,
    requests: Mutex<Vec<String>>,
    delay: Mutex<Duration>,
    delays: Mutex<Vec<Duration>>,
    redirect: Mutex<Option<String>>,
    totp_codes: Mutex<bool>,
}

type Answer = Result<Json<Value>, ApiError>;

impl FakeConnect {
    /// Serve `data` on a free port of 127.0.0.1.
    pub async fn spawn(data: ConnectData) -> std::io::Result<FakeConnect> {
        FakeConnect::spawn_at(data, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Serve `data` on `addr` (port 0 picks a free one).
    pub async fn spawn_at(data: ConnectData, addr: SocketAddr) -> std::io::Result<FakeConnect> {
        let bound = Bound::bind(addr)?;
        let shared = Arc::new(Shared {
            data,
            requests: Mutex::new(Vec::new()),
            delay: Mutex::new(Duration::ZERO),
            delays: Mutex::new(Vec::new()),
            redirect: Mutex::new(None),
            totp_codes: Mutex::new(true),
        });
        let app = router(Arc::clone(&shared));
        let server = bound.serve("fake-onepassword-connect", app)?;
        Ok(FakeConnect { server, shared })
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Every request so far, in order, as `METHOD /path?raw-query`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// Make every response wait `delay` first (zero for none).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.shared.delay) = delay;
    }

    /// The delay each request so far was held back by, in the order of
    /// [`FakeConnect::requests`] (zero for none), so a test can tell what the
    /// fake did without timing it.
    pub fn delays(&self) -> Vec<Duration> {
        lock(&self.shared.delays).clone()
    }

    /// Send each OTP field's current code as `totp` (the default, as Connect
    /// 1.4.0 and later do), or not (false: as Connect before 1.4.0).
    pub fn set_totp_codes(&self, on: bool) {
        *lock(&self.shared.totp_codes) = on;
    }

    /// Answer every route with 307 and `Location: {to}{original path and query}`, or stop with None.
    pub fn set_redirect(&self, to: Option<String>) {
        *lock(&self.shared.redirect) = to;
    }
}

/// A panic in one handler must not take the hooks down with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/heartbeat", get(heartbeat))
        .route("/health", get(health))
        .route("/v1/vaults", get(list_vaults))
        .route("/v1/vaults/{vault}", get(get_vault))
        .route("/v1/vaults/{vault}/items", get(list_items))
        .route("/v1/vaults/{vault}/items/{item}", get(get_item))
        .route(
            "/v1/vaults/{vault}/items/{item}/files/{file}/content",
            get(get_file_content),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            front_door,
        ))
        .with_state(shared)
}

/// Log, delay, redirect and check the token, in that order, before any route runs.
async fn front_door(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let uri = request.uri();
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    let delay = *lock(&shared.delay);
    {
        // One lock order for both logs, so they stay in step.
        let mut requests = lock(&shared.requests);
        requests.push(format!("{} {target}", request.method()));
        lock(&shared.delays).push(delay);
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let redirect = lock(&shared.redirect).clone();
    if let Some(to) = redirect {
        return match HeaderValue::from_str(&format!("{to}{target}")) {
            Ok(location) => (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response(),
            Err(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the fake's redirect target is not a valid Location header",
            )
            .into_response(),
        };
    }

    let path = request.uri().path();
    if path == "/v1" || path.starts_with("/v1/") {
        let token = bearer(request.headers())
            .and_then(|sent| shared.data.tokens.iter().find(|t| t.token == sent))
            .cloned();
        let Some(token) = token else {
            return ApiError::new(StatusCode::UNAUTHORIZED, "Invalid token signature")
                .into_response();
        };
        request.extensions_mut().insert(token);
    }
    next.run(request).await
}

/// The token after `Bearer ` (the scheme is case-insensitive, RFC 9110).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Connect's error answer: `{"status": CODE, "message": "..."}`.
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": self.status.as_u16(), "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

async fn heartbeat() -> &'static str {
    "."
}

async fn health() -> Json<Value> {
    Json(json!({
        "name": "1Password Connect API (fake)",
        "version": "fake",
        "dependencies": [],
    }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: the fake serves only GET",
    )
}

async fn list_vaults(
    State(shared): State<Arc<Shared>>,
    Extension(token): Extension<FakeToken>,
    RawQuery(query): RawQuery,
) -> Answer {
    let filter = filter_param(query.as_deref(), &["name"])?;
    let vaults = shared
        .data
        .vaults
        .iter()
        .filter(|vault| token.may_read(&vault.id))
        .filter(|vault| filter.as_ref().is_none_or(|f| f.matches(&vault.name)))
        .map(FakeVault::to_json)
        .collect();
    Ok(Json(Value::Array(vaults)))
}

async fn get_vault(
    State(shared): State<Arc<Shared>>,
    Extension(token): Extension<FakeToken>,
    vault: Result<Path<String>, PathRejection>,
) -> Answer {
    let Path(vault_id) = vault.map_err(bad_path)?;
    Ok(Json(readable_vault(&shared, &token, &vault_id)?.to_json()))
}

async fn list_items(
    State(shared): State<Arc<Shared>>,
    Extension(token): Extension<FakeToken>,
    vault: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let Path(vault_id) = vault.map_err(bad_path)?;
    let vault = readable_vault(&shared, &token, &vault_id)?;
    let filter = filter_param(query.as_deref(), &["title", "tag"])?;
    let items = vault
        .items
        .iter()
        .filter(|item| filter.as_ref().is_none_or(|f| item_matches(item, f)))
        .map(item_summary)
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn get_item(
    State(shared): State<Arc<Shared>>,
    Extension(token): Extension<FakeToken>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((vault_id, item_id)) = ids.map_err(bad_path)?;
    let vault = readable_vault(&shared, &token, &vault_id)?;
    let item = readable_item(vault, &item_id)?;
    let now = (*lock(&shared.totp_codes)).then(unix_seconds);
    Ok(Json(item_details(&vault.id, item, now)))
}

/// A file's raw bytes, whatever they are.
async fn get_file_content(
    State(shared): State<Arc<Shared>>,
    Extension(token): Extension<FakeToken>,
    ids: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((vault_id, item_id, file_id)) = ids.map_err(bad_path)?;
    let vault = readable_vault(&shared, &token, &vault_id)?;
    let item = readable_item(vault, &item_id)?;
    let Some(file) = item_file(item, &file_id) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "file not found"));
    };
    let Some(content) = file_content(file) else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the fake's data holds a file content that is not base64",
        ));
    };
    let octets = HeaderValue::from_static("application/octet-stream");
    Ok(([(header::CONTENT_TYPE, octets)], content).into_response())
}

/// The item `item_id` of `vault` (archived or not), or 404.
fn readable_item<'a>(vault: &'a FakeVault, item_id: &str) -> Result<&'a Value, ApiError> {
    vault
        .item(item_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "item not found"))
}

/// The vault `vault_id`: 404 if there is none, 403 if `token` may not read it.
fn readable_vault<'a>(
    shared: &'a Shared,
    token: &FakeToken,
    vault_id: &str,
) -> Result<&'a FakeVault, ApiError> {
    let Some(vault) = shared.data.vaults.iter().find(|v| v.id == vault_id) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "vault not found"));
    };
    if !token.may_read(&vault.id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Authorization: Access denied",
        ));
    }
    Ok(vault)
}

/// The `filter` query parameter, if any, which must be on one of `attributes`.
fn filter_param(query: Option<&str>, attributes: &[&str]) -> Result<Option<Filter>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let Some((_, text)) = form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "filter")
    else {
        return Ok(None);
    };
    match Filter::parse(&text) {
        Some(filter) if attributes.contains(&filter.attribute.as_str()) => Ok(Some(filter)),
        _ => Err(ApiError::new(StatusCode::BAD_REQUEST, "Invalid filter")),
    }
}

fn item_matches(item: &Value, filter: &Filter) -> bool {
    match filter.attribute.as_str() {
        "title" => item
            .get("title")
            .and_then(Value::as_str)
            .is_some_and(|title| filter.matches(title)),
        "tag" => item
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .any(|t| filter.matches(t))
            }),
        _ => false,
    }
}

/// The wall clock in seconds since the Unix epoch (the epoch itself for a
/// clock set before it).
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn bad_path(rejection: PathRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
}
