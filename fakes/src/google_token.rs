//! FAKE Google token services, for tests: not Google's software. One
//! loopback server answers what Application Default Credentials files send,
//! as documented:
//! - the OAuth 2.0 token endpoint, `POST /token`, a form:
//!   - `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an
//!     `assertion` (<https://developers.google.com/identity/protocols/oauth2/service-account#httprest>):
//!     an RS256 JWT whose signature verifies with the public key of the
//!     service account named by `iss` (and `kid`, when sent), with `aud`
//!     this endpoint's URL, `scope`, and `iat`/`exp` at most an hour apart,
//!     `exp` not past; otherwise 400 `invalid_grant`, as Google answers;
//!   - `grant_type=refresh_token` with `client_id`, `client_secret`,
//!     `refresh_token` (<https://developers.google.com/identity/protocols/oauth2/web-server#offline>):
//!     401 `invalid_client` for an unknown client or wrong secret, 400
//!     `invalid_grant` for a refresh token the client was not given;
//!   - answering `{"access_token", "expires_in", "token_type": "Bearer"}`
//!     (400 `unsupported_grant_type` for any other grant);
//! - Security Token Service's token exchange, `POST /v1/token`
//!   (<https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token>,
//!   RFC 8693): `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`,
//!   `audience` a registered pool provider (else 400 `invalid_target`),
//!   `subject_token` its token (else 400 `invalid_grant`),
//!   `subject_token_type`, `requested_token_type` the access token type and
//!   a `scope` (else 400 `invalid_request`), answering
//!   `{"access_token", "issued_token_type", "token_type", "expires_in"}`;
//! - IAM Credentials' `generateAccessToken`,
//!   `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`
//!   (<https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken>):
//!   `Authorization: Bearer` a token this STS issued (else 401
//!   `UNAUTHENTICATED`), for an account the token's pool may impersonate
//!   (else 403 `PERMISSION_DENIED`), a JSON body with a non-empty `scope`
//!   list (else 400 `INVALID_ARGUMENT`), answering `{"accessToken",
//!   "expireTime"}` (RFC 3339).
//!
//! Access tokens come from the list a test gives, one per issue (the last
//! again once they run out), each living `expires_in` seconds, so a test
//! gives the Secret Manager fake the same tokens, as with the metadata
//! server's fake (`gce_metadata`), and sees a token renewed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rsa::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};

use crate::jwt;
use crate::serve::{Bound, Server};

/// STS's token type for an OAuth 2 access token.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What the fake knows: accounts, clients, pools and the tokens it issues.
#[derive(Debug, Clone, Default)]
pub struct GoogleTokenData {
    service_accounts: Vec<ServiceAccountKey>,
    users: Vec<UserClient>,
    pools: Vec<Pool>,
    tokens: Vec<String>,
    expires_in: u64,
}

/// A service account's key, as Google keeps it: the public half only.
#[derive(Debug, Clone)]
struct ServiceAccountKey {
    email: String,
    key_id: String,
    public: jwt::PublicKey,
}

/// An OAuth client and the refresh token a user gave it.
#[derive(Debug, Clone)]
struct UserClient {
    client_id: String,
    client_secret: String,
    refresh_token: String,
}

/// A workload identity pool provider: the subject token it trusts and the
/// accounts its identities may impersonate.
#[derive(Debug, Clone)]
struct Pool {
    audience: String,
    subject_token: String,
    impersonate: Vec<String>,
}

impl GoogleTokenData {
    /// Issue `tokens` in turn, each living `expires_in` seconds.
    pub fn new(tokens: &[&str], expires_in: u64) -> GoogleTokenData {
        GoogleTokenData {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            expires_in,
            ..GoogleTokenData::default()
        }
    }

    /// Register service account `email`'s key `key_id`; of the PEM private
    /// key (PKCS#8) only the public half is kept.
    pub fn service_account(
        mut self,
        email: &str,
        key_id: &str,
        private_key_pem: &str,
    ) -> Result<GoogleTokenData, String> {
        let key = rsa::PrivateKey::from_pkcs8_pem(private_key_pem)
            .map_err(|e| format!("not a PKCS#8 RSA key: {e}"))?;
        self.service_accounts.push(ServiceAccountKey {
            email: email.to_string(),
            key_id: key_id.to_string(),
            public: rsa::pkcs1v15::VerifyingKey::new(key.to_public_key()),
        });
        Ok(self)
    }

    /// Register OAuth client `client_id` with its secret and a user's
    /// refresh token.
    pub fn user(
        mut self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> GoogleTokenData {
        self.users.push(UserClient {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            refresh_token: refresh_token.to_string(),
        });
        self
    }

    /// Register pool provider `audience`, trusting `subject_token`, whose
    /// identities may impersonate `accounts`.
    pub fn pool(
        mut self,
        audience: &str,
        subject_token: &str,
        accounts: &[&str],
    ) -> GoogleTokenData {
        self.pools.push(Pool {
            audience: audience.to_string(),
            subject_token: subject_token.to_string(),
            impersonate: accounts.iter().map(|a| a.to_string()).collect(),
        });
        self
    }
}

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeGoogleToken {
    server: Server,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    data: GoogleTokenData,
    /// `http://127.0.0.1:PORT/token`, the `aud` assertions must name.
    token_uri: String,
    state: Mutex<Issues>,
}

/// What has been issued so far.
#[derive(Debug, Default)]
struct Issues {
    /// How many access tokens, of every route.
    given: usize,
    /// Tokens STS issued, with the pool each stands for.
    federated: Vec<(String, usize)>,
}

impl FakeGoogleToken {
    /// Serve `data` on a free port of 127.0.0.1.
    pub fn spawn(data: GoogleTokenData) -> std::io::Result<FakeGoogleToken> {
        let bound = Bound::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let shared = Arc::new(Shared {
            data,
            token_uri: format!("http://{}/token", bound.addr()),
            state: Mutex::new(Issues::default()),
        });
        let app = Router::new()
            .route("/token", post(oauth_token))
            .route("/v1/token", post(sts_token))
            .route(
                "/v1/projects/{project}/serviceAccounts/{call}",
                post(generate_access_token),
            )
            .with_state(Arc::clone(&shared));
        let server = bound.serve("fake-google-token", app)?;
        Ok(FakeGoogleToken { server, shared })
    }

    /// `127.0.0.1:PORT`, as `grants.hosts` lists it.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The OAuth token endpoint: a file's `token_uri`.
    pub fn token_uri(&self) -> String {
        self.shared.token_uri.clone()
    }

    /// STS: an external account's `token_url`.
    pub fn sts_url(&self) -> String {
        format!("http://{}/v1/token", self.addr())
    }

    /// IAM Credentials' `generateAccessToken` for `email`: an external
    /// account's `service_account_impersonation_url`.
    pub fn impersonation_url(&self, email: &str) -> String {
        format!(
            "http://{}/v1/projects/-/serviceAccounts/{email}:generateAccessToken",
            self.addr()
        )
    }

    /// How many access tokens it has issued, on every route.
    pub fn tokens_given(&self) -> usize {
        self.issues().given
    }

    fn issues(&self) -> std::sync::MutexGuard<'_, Issues> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shared {
    /// The next access token to issue; `pool` records an STS token's pool.
    fn issue(&self, pool: Option<usize>) -> Option<String> {
        let mut issues = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let token = self
            .data
            .tokens
            .get(issues.given)
            .or(self.data.tokens.last())?
            .clone();
        issues.given += 1;
        if let Some(pool) = pool {
            issues.federated.push((token.clone(), pool));
        }
        Some(token)
    }
}

/// OAuth's error answer, RFC 6749 §5.2.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Google's API error answer.
fn google_error(status: StatusCode, name: &str, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": name}});
    (status, Json(body)).into_response()
}

/// The form fields of a `application/x-www-form-urlencoded` body.
fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An access token answer, or a 500 when the test gave no tokens.
fn token_answer(shared: &Shared, pool: Option<usize>, extra: Value) -> Response {
    let Some(token) = shared.issue(pool) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no tokens to give",
        );
    };
    let mut answer = json!({
        "access_token": token,
        "expires_in": shared.data.expires_in,
        "token_type": "Bearer",
    });
    if let (Some(answer), Value::Object(extra)) = (answer.as_object_mut(), extra) {
        answer.extend(extra);
    }
    Json(answer).into_response()
}

async fn oauth_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = form(&body);
    match field(&form, "grant_type") {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            match check_assertion(&shared, field(&form, "assertion").unwrap_or_default()) {
                Ok(()) => token_answer(&shared, None, Value::Null),
                Err(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why),
            }
        }
        Some("refresh_token") => {
            let client = shared.data.users.iter().find(|u| {
                Some(u.client_id.as_str()) == field(&form, "client_id")
                    && Some(u.client_secret.as_str()) == field(&form, "client_secret")
            });
            match client {
                None => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized"),
                Some(c) if Some(c.refresh_token.as_str()) != field(&form, "refresh_token") => {
                    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request")
                }
                Some(_) => token_answer(&shared, None, Value::Null),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        ),
    }
}

/// Why a service account's assertion is refused, in Google's words where
/// they are known.
fn check_assertion(shared: &Shared, assertion: &str) -> Result<(), &'static str> {
    if assertion.split('.').count() != 3 {
        return Err("Invalid JWT: not three parts");
    }
    let Some((header, claims)) = jwt::parts(assertion) else {
        return Err("Invalid JWT: not base64url JSON");
    };
    if header["alg"] != "RS256" {
        return Err("Invalid JWT: the algorithm must be RS256");
    }
    let key = shared
        .data
        .service_accounts
        .iter()
        .find(|k| claims["iss"] == k.email.as_str())
        .ok_or("Invalid grant: account not found")?;
    if header
        .get("kid")
        .is_some_and(|kid| *kid != key.key_id.as_str())
    {
        return Err("Invalid JWT Signature.");
    }
    if !jwt::verify(assertion, &key.public) {
        return Err("Invalid JWT Signature.");
    }
    if claims["aud"] != shared.token_uri.as_str() {
        return Err("Invalid JWT: the audience must be the token endpoint's URL");
    }
    if claims["scope"].as_str().is_none_or(str::is_empty) {
        return Err("Invalid JWT: no scope");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return Err("Invalid JWT: no iat or exp");
    };
    if exp <= now || exp < iat || exp - iat > 3600 || iat > now + 60 {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    Ok(())
}

async fn sts_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = form(&body);
    let bad = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why);
    if field(&form, "grant_type") != Some("urn:ietf:params:oauth:grant-type:token-exchange") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type.",
        );
    }
    if field(&form, "requested_token_type") != Some(ACCESS_TOKEN_TYPE) {
        return bad("The requested token type must be an access token.");
    }
    if field(&form, "subject_token_type").is_none_or(str::is_empty) {
        return bad("The subject token type is missing.");
    }
    if field(&form, "scope").is_none_or(str::is_empty) {
        return bad("A scope is required.");
    }
    let audience = field(&form, "audience");
    let Some(pool) = shared
        .data
        .pools
        .iter()
        .position(|p| Some(p.audience.as_str()) == audience)
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "The target service indicated by the \"audience\" parameters is invalid.",
        );
    };
    if field(&form, "subject_token") != Some(shared.data.pools[pool].subject_token.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The subject token could not be verified.",
        );
    }
    token_answer(
        &shared,
        Some(pool),
        json!({"issued_token_type": ACCESS_TOKEN_TYPE}),
    )
}

async fn generate_access_token(
    State(shared): State<Arc<Shared>>,
    Path((_project, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(email) = call.strip_suffix(":generateAccessToken") else {
        return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Not Found");
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let pool = {
        let issues = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        issues
            .federated
            .iter()
            .find(|(token, _)| Some(token.as_str()) == sent)
            .map(|(_, pool)| *pool)
    };
    let Some(pool) = pool else {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    };
    if !shared.data.pools[pool]
        .impersonate
        .iter()
        .any(|a| a == email)
    {
        return google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
        );
    }
    let scoped = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["scope"].as_array().map(|s| !s.is_empty()))
        .unwrap_or(false);
    if !scoped {
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Request contains an invalid argument.",
        );
    }
    let Some(token) = shared.issue(None) else {
        return google_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "no tokens to give",
        );
    };
    let expires = SystemTime::now() + Duration::from_secs(shared.data.expires_in);
    Json(json!({
        "accessToken": token,
        "expireTime": humantime::format_rfc3339_seconds(expires).to_string(),
    }))
    .into_response()
}
