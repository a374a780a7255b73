//! The fake's server: its thread, the routes of both services, and the test
//! hooks (request log, delay, forced failures, token lifetime).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::identity;
use crate::serve::{Bound, Server};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use super::data::{AzureData, TOKEN_LIFETIME_SECS};
use super::{aad, keyvault};

/// The Key Vault `api-version`s the fake accepts: those Microsoft documents
/// for the secrets data plane.
pub const API_VERSIONS: &[&str] = &[
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
];

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeAzure {
    server: Server,
    shared: Arc<Shared>,
}

/// What the routes and the test hooks share.
#[derive(Debug)]
pub(super) struct Shared {
    /// What is served.
    pub(super) data: AzureData,
    /// `http://127.0.0.1:PORT`, for `id`s and the `WWW-Authenticate` challenge.
    pub(super) url: String,
    requests: Mutex<Vec<String>>,
    delay: Mutex<Duration>,
    /// A status every vault route answers instead, when set.
    pub(super) vault_status: Mutex<Option<StatusCode>>,
    /// A status the token route answers instead, when set.
    pub(super) token_status: Mutex<Option<StatusCode>>,
    /// The lifetime of tokens issued from now on.
    pub(super) lifetime: Mutex<Duration>,
    /// Tokens issued by the token route, with when each stops being accepted.
    pub(super) issued: Mutex<Vec<(String, Instant)>>,
}

impl FakeAzure {
    /// Serve `data` on a free port of 127.0.0.1.
    pub async fn spawn(data: AzureData) -> std::io::Result<FakeAzure> {
        FakeAzure::spawn_at(data, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Serve `data` on `addr` (port 0 picks a free one).
    pub async fn spawn_at(data: AzureData, addr: SocketAddr) -> std::io::Result<FakeAzure> {
        let bound = Bound::bind(addr)?;
        let addr = bound.addr();
        let shared = Arc::new(Shared {
            data,
            url: format!("http://{addr}"),
            requests: Mutex::new(Vec::new()),
            delay: Mutex::new(Duration::ZERO),
            vault_status: Mutex::new(None),
            token_status: Mutex::new(None),
            lifetime: Mutex::new(Duration::from_secs(TOKEN_LIFETIME_SECS)),
            issued: Mutex::new(Vec::new()),
        });
        let app = router(Arc::clone(&shared));
        let server = bound.serve("fake-azure", app)?;
        Ok(FakeAzure { server, shared })
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, with no trailing slash: both the vault URL and
    /// the Azure AD authority.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// Every request so far, in order, as `METHOD /path?raw-query`. Bodies
    /// (which carry client secrets) are never logged.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// Every access token the token route has issued, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.issued)
            .iter()
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// Make every response wait `delay` first (zero for none).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.shared.delay) = delay;
    }

    /// Answer every vault route with `status` and Key Vault's error JSON
    /// (429 with `Retry-After`), or serve normally again with None.
    pub fn set_vault_status(&self, status: Option<u16>) {
        *lock(&self.shared.vault_status) = status.and_then(|s| StatusCode::from_u16(s).ok());
    }

    /// Answer the token route with `status` and Azure AD's error JSON, or
    /// serve normally again with None.
    pub fn set_token_status(&self, status: Option<u16>) {
        *lock(&self.shared.token_status) = status.and_then(|s| StatusCode::from_u16(s).ok());
    }

    /// Issue tokens that expire after `lifetime` (reported as `expires_in`,
    /// and enforced by the vault routes).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *lock(&self.shared.lifetime) = lifetime;
    }
}

/// A panic in one handler must not take the hooks down with it.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(aad::token))
        .route("/metadata/identity/oauth2/token", get(identity::imds))
        .route("/msi/token", get(identity::app_service))
        .route("/secrets/{name}", get(keyvault::latest_secret))
        .route("/secrets/{name}/{version}", get(keyvault::secret_version))
        .fallback(keyvault::not_found)
        .method_not_allowed_fallback(keyvault::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            front_door,
        ))
        .with_state(shared)
}

/// Log and delay, before any route runs.
async fn front_door(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let uri = request.uri();
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    lock(&shared.requests).push(format!("{} {target}", request.method()));
    let delay = *lock(&shared.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}
