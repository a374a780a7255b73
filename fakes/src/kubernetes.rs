//! A FAKE Kubernetes API server's TokenReview, for tests: not Kubernetes.
//!
//! Vault's and OpenBao's Kubernetes auth method checks a pod's service
//! account token by asking the cluster's API server to review it. This fake
//! is that one route, for a fixed set of service accounts whose tokens it
//! issued. Documentation it follows:
//! - TokenReview v1,
//!   <https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/>:
//!   `POST /apis/authentication.k8s.io/v1/tokenreviews` with
//!   `{"spec": {"token", "audiences"}}` (`kind` and `apiVersion` may be left
//!   out, as the server infers them from the route; others are a 400),
//!   answered 201 with the review and its `status`: `authenticated`,
//!   `user.username`, `user.uid`, `user.groups`, `user.extra`, and
//!   `audiences`, the intersection of the asked audiences and the token's
//!   (the token's own when none were asked); an unauthenticated review has
//!   no `authenticated` (false) and says why in `status.error`;
//! - service account users,
//!   <https://kubernetes.io/docs/reference/access-authn-authz/authentication/#service-account-tokens>:
//!   username `system:serviceaccount:NAMESPACE:NAME`, groups
//!   `system:serviceaccounts`, `system:serviceaccounts:NAMESPACE` (and
//!   `system:authenticated`);
//! - the claims of a bound (projected) service account token,
//!   <https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#bound-service-account-token-volume>:
//!   `iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, and `kubernetes.io` with
//!   `namespace`, `pod {name, uid}` and `serviceaccount {name, uid}`;
//! - who may review,
//!   <https://kubernetes.io/docs/reference/access-authn-authz/rbac/#other-component-roles>:
//!   the caller authenticates with its own bearer token (401 otherwise) and
//!   needs `create` on `tokenreviews`, which `system:auth-delegator` grants
//!   (403 otherwise); errors are `Status` objects
//!   (<https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind>).
//!
//! The tokens are JWT-shaped (an RS256 header, those claims, and a signature
//! that signs nothing): a client that verifies no signature, as Vault does
//! when it has no `pem_keys` and relies on the review, reads them as a
//! cluster's. The fake authenticates exactly the tokens it issued and has
//! not revoked. Tests read which reviews it answered, never a token.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::serve::{Bound, Server};

/// The review route.
pub const TOKEN_REVIEWS_PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
/// The audience the fake's tokens are for, as an API server's default.
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// A service account of the fake cluster.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its UID.
    pub uid: String,
    /// Whether it may create token reviews (bound to `system:auth-delegator`).
    pub reviewer: bool,
}

impl ServiceAccount {
    /// The account `name` in `namespace`, with a UID made from both, that
    /// may not review tokens.
    pub fn new(namespace: &str, name: &str) -> ServiceAccount {
        ServiceAccount {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: format!("uid-{namespace}-{name}"),
            reviewer: false,
        }
    }

    /// The same account, allowed to review tokens.
    pub fn reviewer(self) -> ServiceAccount {
        ServiceAccount {
            reviewer: true,
            ..self
        }
    }

    /// `system:serviceaccount:NAMESPACE:NAME`.
    pub fn username(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

/// What the fake answered one review: the account a token belonged to
/// (None: not authenticated), and the reviewer's. Never a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// The username of the caller (its bearer token's account).
    pub reviewer: String,
    /// The username the reviewed token authenticated as, if it did.
    pub authenticated: Option<String>,
}

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeKubernetes {
    server: Server,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Each account with the token issued to it.
    issued: Vec<(ServiceAccount, String)>,
    revoked: Mutex<Vec<String>>,
    reviews: Mutex<Vec<Review>>,
}

/// A panic in one handler must not take the hooks down with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeKubernetes {
    /// Serve the reviews of `accounts`' tokens (one each, valid for an hour)
    /// on a free port of 127.0.0.1.
    pub fn spawn(accounts: &[ServiceAccount]) -> std::io::Result<FakeKubernetes> {
        let bound = Bound::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let issuer = format!("http://{}", bound.addr());
        let issued = accounts
            .iter()
            .map(|account| (account.clone(), token_of(account, &issuer)))
            .collect();
        let shared = Arc::new(Shared {
            issued,
            revoked: Mutex::new(Vec::new()),
            reviews: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route(TOKEN_REVIEWS_PATH, post(review))
            .with_state(Arc::clone(&shared));
        let server = bound.serve("fake-kubernetes", app)?;
        Ok(FakeKubernetes { server, shared })
    }

    /// `http://127.0.0.1:PORT`, what Vault's `kubernetes_host` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The token the fake issued to the account `namespace`/`name`.
    pub fn token(&self, namespace: &str, name: &str) -> Option<String> {
        self.shared
            .issued
            .iter()
            .find(|(a, _)| a.namespace == namespace && a.name == name)
            .map(|(_, token)| token.clone())
    }

    /// Stop authenticating `token`, as when its service account is deleted.
    pub fn revoke(&self, token: &str) {
        lock(&self.shared.revoked).push(token.to_string());
    }

    /// Every review answered so far, in order (a request refused 4xx is none).
    pub fn reviews(&self) -> Vec<Review> {
        lock(&self.shared.reviews).clone()
    }
}

/// A bound service account token of `account`: RS256 header, the documented
/// claims, valid for an hour, and a signature part that signs nothing.
fn token_of(account: &ServiceAccount, issuer: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = json!({"alg": "RS256", "kid": "fake-kubernetes", "typ": "JWT"});
    let claims = json!({
        "aud": [API_AUDIENCE],
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "iss": issuer,
        "sub": account.username(),
        "kubernetes.io": {
            "namespace": account.namespace,
            "pod": {"name": format!("{}-0", account.name), "uid": format!("pod-{}", account.uid)},
            "serviceaccount": {"name": account.name, "uid": account.uid},
        },
    });
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let signature = URL_SAFE_NO_PAD.encode(format!("fake signature of {}", account.uid));
    format!("{}.{}.{signature}", part(&header), part(&claims))
}

impl Shared {
    /// The account of `token`, if the fake issued it and it is not revoked.
    fn account(&self, token: &str) -> Option<&ServiceAccount> {
        if lock(&self.revoked).iter().any(|t| t == token) {
            return None;
        }
        self.issued
            .iter()
            .find(|(_, issued)| issued == token)
            .map(|(account, _)| account)
    }
}

/// A `Status` failure, as the API server answers an error.
fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (code, axum::Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn review(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(caller) = bearer(&headers).and_then(|t| shared.account(t)) else {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    };
    if !caller.reviewer {
        let message = format!(
            "tokenreviews.authentication.k8s.io is forbidden: User \"{}\" cannot create \
             resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope",
            caller.username()
        );
        return status(StatusCode::FORBIDDEN, "Forbidden", &message);
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the body is not JSON",
        );
    };
    let kind = request.get("kind").and_then(Value::as_str);
    let version = request.get("apiVersion").and_then(Value::as_str);
    if kind.is_some_and(|k| k != "TokenReview")
        || version.is_some_and(|v| v != "authentication.k8s.io/v1")
    {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the object is not an authentication.k8s.io/v1 TokenReview",
        );
    }
    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let token = spec.get("token").and_then(Value::as_str).unwrap_or("");
    if token.is_empty() {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "token is required for TokenReview in authentication",
        );
    }
    let asked: Vec<&str> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // The fake's tokens are all for the API server's own audience.
    let audiences: Vec<&str> = if asked.is_empty() {
        vec![API_AUDIENCE]
    } else {
        asked
            .iter()
            .copied()
            .filter(|a| *a == API_AUDIENCE)
            .collect()
    };
    let account = shared.account(token);
    let result = match account {
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
        Some(_) if audiences.is_empty() => json!({
            "user": {},
            "error": format!(
                "[invalid bearer token, token audiences [\"{API_AUDIENCE}\"] is invalid for \
                 the target audiences {asked:?}]"
            ),
        }),
        Some(account) => json!({
            "authenticated": true,
            "user": {
                "username": account.username(),
                "uid": account.uid,
                "groups": [
                    "system:serviceaccounts",
                    format!("system:serviceaccounts:{}", account.namespace),
                    "system:authenticated",
                ],
                "extra": {
                    "authentication.kubernetes.io/pod-name": [format!("{}-0", account.name)],
                    "authentication.kubernetes.io/pod-uid": [format!("pod-{}", account.uid)],
                },
            },
            "audiences": audiences,
        }),
    };
    let authenticated = account
        .filter(|_| !audiences.is_empty())
        .map(ServiceAccount::username);
    lock(&shared.reviews).push(Review {
        reviewer: caller.username(),
        authenticated,
    });
    let answer = json!({
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": result,
    });
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}
