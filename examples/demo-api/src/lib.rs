//! A small payments API for reqflo's example project and tests.
//!
//! It checks the bearer key on every /v1 route, so a run with the wrong secret
//! fails exactly as it would against a real API. It also has helpers for tests:
//! `/echo` returns the request it got, `/status/{code}` answers with that code,
//! `/slow?ms=N` waits, `/v1/count/{key}` counts its calls per key (tests
//! that a run was sent exactly once; `?slow_first_ms=N` delays the first), `/__stats` counts the requests served.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Mutex;

struct Demo {
    key: String,
    requests: Arc<AtomicU64>,
    next_id: AtomicU64,
    payments: Mutex<HashMap<String, Value>>,
    tokens: Mutex<HashMap<String, String>>,
    counted: Mutex<HashMap<String, u64>>,
}

type Shared = Arc<Demo>;

/// Serve the API on `listener`, accepting `key` as the bearer key, until the
/// process ends. `requests` counts every request but `/__stats`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    key: String,
    requests: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let state = Arc::new(Demo {
        key,
        requests,
        next_id: AtomicU64::new(1),
        payments: Mutex::new(HashMap::new()),
        tokens: Mutex::new(HashMap::new()),
        counted: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/v1/payments", post(create_payment))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/receipt", get(receipt))
        .route("/v1/me", get(me))
        .route("/v1/count/{key}", post(count_key))
        .route("/echo", any(echo))
        .route("/upload", post(upload))
        .route("/status/{code}", any(status))
        .route("/slow", get(slow))
        .route("/bytes/{n}", get(bytes))
        .route("/redirect", any(redirect))
        .route("/__stats", get(stats))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state);
    axum::serve(listener, app).await
}

/// A demo API running on a thread of its own, for tests.
pub struct Running {
    /// Where it listens.
    pub address: SocketAddr,
    requests: Arc<AtomicU64>,
}

impl Running {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Requests served so far (not counting `/__stats`).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Start the API on a free loopback port in a background thread.
pub fn spawn(key: &str) -> std::io::Result<Running> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&requests);
    let key = key.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(runtime) = runtime {
            runtime.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let _ = serve(listener, key, counter).await;
                }
            });
        }
    });
    Ok(Running { address, requests })
}

async fn count(State(demo): State<Shared>, request: Request, next: Next) -> Response {
    if request.uri().path() != "/__stats" {
        demo.requests.fetch_add(1, Ordering::SeqCst);
    }
    next.run(request).await
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid api key"})),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

async fn create_payment(State(demo): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if bearer(&headers) != Some(demo.key.as_str()) {
        return unauthorized();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "body must be JSON"})),
        )
            .into_response();
    };
    let Some(amount) = request.get("amount").and_then(Value::as_i64) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "amount must be an integer"})),
        )
            .into_response();
    };
    let n = demo.next_id.fetch_add(1, Ordering::SeqCst);
    let id = format!("pay_{n:04}");
    let token = format!("tok_{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let payment = json!({
        "id": id,
        "status": "succeeded",
        "amount": amount,
        "currency": request.get("currency").cloned().unwrap_or(json!("usd")),
        "idempotency_key": headers.get("idempotency-key").and_then(|v| v.to_str().ok()),
    });
    demo.payments
        .lock()
        .await
        .insert(id.clone(), payment.clone());
    demo.tokens.lock().await.insert(token.clone(), id.clone());
    let mut body = payment;
    body["token"] = json!(token);
    (
        StatusCode::CREATED,
        [(
            header::SET_COOKIE,
            format!("session=sess_{n}; Path=/; HttpOnly"),
        )],
        Json(body),
    )
        .into_response()
}

async fn get_payment(
    State(demo): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if bearer(&headers) != Some(demo.key.as_str()) {
        return unauthorized();
    }
    match demo.payments.lock().await.get(&id) {
        Some(payment) => Json(payment.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such payment"})),
        )
            .into_response(),
    }
}

/// Authorised by the payment's own token (captured from the create response).
async fn receipt(
    State(demo): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    match demo.tokens.lock().await.get(token) {
        Some(owner) if *owner == id => {
            Json(json!({"payment": id, "receipt": "ok"})).into_response()
        }
        _ => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "token does not match payment"})),
        )
            .into_response(),
    }
}

/// Answers 200 only with the session cookie set by creating a payment.
async fn me(headers: HeaderMap) -> Response {
    let session = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').find_map(|p| p.trim().strip_prefix("session=")))
        .map(str::to_string);
    match session {
        Some(session) => Json(json!({"session": session})).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "no session cookie"})),
        )
            .into_response(),
    }
}

async fn echo(
    method: Method,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(String::from_utf8_lossy(v.as_bytes()))))
        .collect();
    Json(json!({
        "method": method.as_str(),
        "headers": headers,
        "query": query,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}

/// A `multipart/form-data` upload, parsed: each text field's value, and
/// each file's name, type, size and SHA-256.
async fn upload(mut form: axum::extract::Multipart) -> Response {
    use sha2::Digest as _;
    let (mut fields, mut files) = (serde_json::Map::new(), serde_json::Map::new());
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return malformed(&e),
        };
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return malformed(&e),
        };
        match filename {
            Some(filename) => files.insert(
                name,
                json!({
                    "filename": filename,
                    "content_type": content_type,
                    "size": bytes.len(),
                    "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
                }),
            ),
            None => fields.insert(name, json!(String::from_utf8_lossy(&bytes))),
        };
    }
    Json(json!({"fields": fields, "files": files})).into_response()
}

/// A form the multipart parser refused: 400 with its reason.
fn malformed(e: &axum::extract::multipart::MultipartError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": e.to_string()})),
    )
        .into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (code, Json(json!({"status": code.as_u16()}))).into_response()
}

async fn slow(Query(query): Query<HashMap<String, String>>) -> Response {
    let ms = query
        .get("ms")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000u64)
        .min(60_000);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    Json(json!({"slept_ms": ms})).into_response()
}

/// `n` bytes of `a` (at most 64 MiB), for testing response size limits.
async fn bytes(Path(n): Path<usize>) -> Response {
    vec![b'a'; n.min(64 << 20)].into_response()
}

/// `307` to `?to=URL`, for testing that redirects are not followed.
async fn redirect(Query(query): Query<HashMap<String, String>>) -> Response {
    let to = query.get("to").cloned().unwrap_or_else(|| "/echo".into());
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response()
}

async fn stats(State(demo): State<Shared>) -> Response {
    let counted = demo.counted.lock().await.clone();
    Json(json!({"requests": demo.requests.load(Ordering::SeqCst), "counted": counted}))
        .into_response()
}

async fn count_key(
    State(demo): State<Shared>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if bearer(&headers) != Some(demo.key.as_str()) {
        return unauthorized();
    }
    let seen = {
        let mut counted = demo.counted.lock().await;
        let seen = counted.entry(key).or_default();
        *seen += 1;
        *seen
    };
    // `?slow_first_ms=N`: the first call for a key answers N ms late (a run
    // cut short there can be run again and answered at once).
    if seen == 1 {
        let ms: u64 = query
            .get("slow_first_ms")
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(std::time::Duration::from_millis(ms.min(60_000))).await;
    }
    (StatusCode::CREATED, Json(json!({"count": seen}))).into_response()
}
