//! A FAKE Google Cloud metadata server, for tests: not Google's software.
//!
//! It serves the one route a workload uses for its service account's access
//! token, as documented:
//! - <https://cloud.google.com/compute/docs/access/authenticate-workloads#applications>
//!   and <https://cloud.google.com/compute/docs/metadata/querying-metadata>:
//!   `GET /computeMetadata/v1/instance/service-accounts/default/token` with
//!   the header `Metadata-Flavor: Google` (without it: 403), answering
//!   `{"access_token", "expires_in", "token_type": "Bearer"}` and the header
//!   `Metadata-Flavor: Google`;
//! - `GCE_METADATA_HOST` (Google's client libraries, e.g.
//!   <https://github.com/googleapis/google-auth-library-python/blob/main/google/auth/compute_engine/_metadata.py>):
//!   the `host:port` tests point clients at instead of
//!   `metadata.google.internal`.
//!
//! It hands out the tokens it was given, one per request (the last again
//! once they run out), each living `expires_in` seconds, so a test can give
//! the Secret Manager fake the same tokens and see one renewed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::serve::{Bound, Server};

/// The token route.
pub const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeMetadata {
    server: Server,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    tokens: Vec<String>,
    expires_in: u64,
    /// How many tokens were asked for, with the right header.
    given: Mutex<usize>,
}

impl FakeMetadata {
    /// Serve `tokens`, each living `expires_in` seconds, on a free port of
    /// 127.0.0.1.
    pub fn spawn(tokens: &[&str], expires_in: u64) -> std::io::Result<FakeMetadata> {
        let bound = Bound::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let shared = Arc::new(Shared {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            expires_in,
            given: Mutex::new(0),
        });
        let app = Router::new()
            .route(TOKEN_PATH, get(token))
            .with_state(Arc::clone(&shared));
        let server = bound.serve("fake-gce-metadata", app)?;
        Ok(FakeMetadata { server, shared })
    }

    /// `127.0.0.1:PORT`, as `GCE_METADATA_HOST` takes it.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// How many tokens it has given.
    pub fn tokens_given(&self) -> usize {
        *self
            .shared
            .given
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let flavored = headers
        .get("metadata-flavor")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "Google");
    if !flavored {
        return (
            StatusCode::FORBIDDEN,
            "Missing required header \"Metadata-Flavor\": \"Google\"",
        )
            .into_response();
    }
    let n = {
        let mut given = shared.given.lock().unwrap_or_else(PoisonError::into_inner);
        *given += 1;
        *given
    };
    let Some(token) = shared.tokens.get(n - 1).or(shared.tokens.last()) else {
        return (StatusCode::NOT_FOUND, "no service account").into_response();
    };
    (
        [("metadata-flavor", "Google")],
        Json(json!({
            "access_token": token,
            "expires_in": shared.expires_in,
            "token_type": "Bearer",
        })),
    )
        .into_response()
}
