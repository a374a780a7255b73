//! A FAKE Google Cloud Secret Manager, for tests: not Google's software.
//!
//! It follows the documented REST API v1
//! (<https://cloud.google.com/secret-manager/docs/reference/rest>) for the
//! read-only routes a secret resolver needs, in one project:
//!
//! - `GET /v1/projects/{project}/secrets/{secret}/versions/{version}:access`
//!   (`projects.secrets.versions.access`): `{"name", "payload": {"data",
//!   "dataCrc32c"}}`, `data` in base64 and `dataCrc32c` the CRC32C of the
//!   payload as a decimal int64 string;
//! - `GET /v1/projects/{project}/secrets/{secret}/versions/{version}`
//!   (`versions.get`, the version's metadata) and
//!   `GET /v1/projects/{project}/secrets/{secret}` (`secrets.get`);
//! - the same three for regional secrets
//!   (<https://cloud.google.com/secret-manager/regional-secrets/access-secret-version-rep>),
//!   under `/v1/projects/{project}/locations/{location}/secrets/{secret}`,
//!   answering in the same JSON with `projects/N/locations/L/…` names.
//!
//! Google serves each location at its own endpoint
//! (`secretmanager.{location}.rep.googleapis.com`); the fake serves every
//! location and the global routes on one address, as a test points
//! `config.endpoint` at it. A secret is either global or regional
//! ([`SecretManagerData::regional_secret`]): a global secret asked for
//! under a location, or a regional one asked for globally or under another
//! location, is NOT_FOUND, as the real service answers.
//!
//! `{project}` is the project's ID or number; answers name it by number, as
//! Google does. `{version}` is a number, `latest` (the most recently created
//! version whatever its state), or a version alias the secret defines
//! (<https://cloud.google.com/secret-manager/docs/assign-alias-to-secret-version>). Every route checks `Authorization: Bearer
//! <token>` against [`SecretManagerData::tokens`]; a token may be limited to
//! some secrets, as an IAM binding on a secret would. Errors take Google's
//! documented shape, `{"error": {"code", "message", "status"}}`, with the
//! messages Secret Manager writes. Tests can read the request log, slow every
//! answer down, corrupt or drop `dataCrc32c`, or make every route fail.
//!
//! ```no_run
//! use reqflo_fakes::gcp::{FakeSecretManager, SecretManagerData};
//! let fake = FakeSecretManager::spawn(SecretManagerData::sample("sk_test_1"))?;
//! println!("fake Secret Manager at {}", fake.url());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::serve::{Bound, Server};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Project ID of the sample data.
pub const SAMPLE_PROJECT_ID: &str = "acme-payments";
/// Project number of the sample data.
pub const SAMPLE_PROJECT_NUMBER: u64 = 270_012_345_678;
/// Sample token that may read every secret.
pub const FULL_TOKEN: &str = "ya29.fake-full-token";
/// Sample token that may read only the secret `stripe-key`.
pub const STRIPE_ONLY_TOKEN: &str = "ya29.fake-stripe-only-token";
/// `createTime` of everything the fake serves.
pub const SAMPLE_TIMESTAMP: &str = "2024-01-15T10:30:00.000000Z";

/// Everything a fake Secret Manager serves: one project's secrets, and the
/// tokens it accepts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretManagerData {
    /// The project ID (`acme-payments`).
    pub project_id: String,
    /// The project number, which answers use in resource names.
    pub project_number: u64,
    /// The secrets, each with its versions.
    #[serde(default)]
    pub secrets: Vec<FakeSecret>,
    /// The bearer tokens accepted.
    #[serde(default)]
    pub tokens: Vec<FakeToken>,
}

/// A secret and its versions.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeSecret {
    /// The secret ID.
    pub id: String,
    /// The location of a regional secret (`europe-west1`); None for a
    /// global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Its versions, oldest first: version `n` is the `n`th.
    #[serde(default)]
    pub versions: Vec<FakeVersion>,
    /// Version aliases (`versionAliases`): alias → version number.
    #[serde(default)]
    pub aliases: Vec<(String, usize)>,
}

/// One version of a secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeVersion {
    /// The payload (text: reqflo uses nothing else).
    pub payload: String,
    /// ENABLED, DISABLED or DESTROYED.
    #[serde(default)]
    pub state: VersionState,
}

/// A version's state, as Secret Manager names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionState {
    /// Readable.
    #[default]
    Enabled,
    /// Kept, but `:access` refuses it with FAILED_PRECONDITION.
    Disabled,
    /// Its payload is gone; `:access` refuses it with FAILED_PRECONDITION.
    Destroyed,
}

impl VersionState {
    fn name(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
        }
    }
}

/// A bearer token the fake accepts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeToken {
    /// The token itself, as sent after `Bearer `.
    pub token: String,
    /// Secret IDs this token may read; None = every secret.
    #[serde(default)]
    pub secrets: Option<Vec<String>>,
}

impl SecretManagerData {
    /// A project with no secrets and no tokens.
    pub fn new(project_id: &str, project_number: u64) -> SecretManagerData {
        SecretManagerData {
            project_id: project_id.to_string(),
            project_number,
            secrets: Vec::new(),
            tokens: Vec::new(),
        }
    }

    /// Add the global secret `id` with `versions` (payload, state), oldest
    /// first.
    pub fn secret(self, id: &str, versions: &[(&str, VersionState)]) -> SecretManagerData {
        self.add_secret(None, id, versions)
    }

    /// Add the regional secret `id` in `location` with `versions`, oldest
    /// first: served only under `/v1/projects/P/locations/{location}/…`.
    pub fn regional_secret(
        self,
        location: &str,
        id: &str,
        versions: &[(&str, VersionState)],
    ) -> SecretManagerData {
        self.add_secret(Some(location), id, versions)
    }

    fn add_secret(
        mut self,
        location: Option<&str>,
        id: &str,
        versions: &[(&str, VersionState)],
    ) -> SecretManagerData {
        self.secrets.push(FakeSecret {
            id: id.to_string(),
            location: location.map(str::to_string),
            versions: versions
                .iter()
                .map(|(payload, state)| FakeVersion {
                    payload: payload.to_string(),
                    state: *state,
                })
                .collect(),
            aliases: Vec::new(),
        });
        self
    }

    /// Name version `version` of secret `id` by `alias`, as
    /// `versionAliases` does; of the secret `id` added last, global or
    /// regional, when there are several.
    pub fn alias(mut self, id: &str, alias: &str, version: usize) -> SecretManagerData {
        if let Some(secret) = self.secrets.iter_mut().rev().find(|s| s.id == id) {
            secret.aliases.push((alias.to_string(), version));
        }
        self
    }

    /// Accept `token` for every secret.
    pub fn token(mut self, token: &str) -> SecretManagerData {
        self.tokens.push(FakeToken {
            token: token.to_string(),
            secrets: None,
        });
        self
    }

    /// Accept `token` for `secrets` only.
    pub fn scoped_token(mut self, token: &str, secrets: &[&str]) -> SecretManagerData {
        self.tokens.push(FakeToken {
            token: token.to_string(),
            secrets: Some(secrets.iter().map(|s| s.to_string()).collect()),
        });
        self
    }

    /// Project `acme-payments` (number [`SAMPLE_PROJECT_NUMBER`]) with:
    /// `stripe-key`, versions 1 DESTROYED, 2 DISABLED and 3 ENABLED holding
    /// `stripe_key`; `stripe-config`, one version of JSON whose `api_key` is
    /// `stripe_key`; `no-versions`, with none. Tokens [`FULL_TOKEN`] and
    /// [`STRIPE_ONLY_TOKEN`].
    pub fn sample(stripe_key: &str) -> SecretManagerData {
        let config = json!({
            "api_key": stripe_key,
            "account": "acct_fake_0001",
            "webhook_secret": "whsec_fake_0001",
        })
        .to_string();
        SecretManagerData::new(SAMPLE_PROJECT_ID, SAMPLE_PROJECT_NUMBER)
            .secret(
                "stripe-key",
                &[
                    ("sk_test_retired_0001", VersionState::Destroyed),
                    ("sk_test_previous_0002", VersionState::Disabled),
                    (stripe_key, VersionState::Enabled),
                ],
            )
            .secret("stripe-config", &[(&config, VersionState::Enabled)])
            .secret("no-versions", &[])
            .token(FULL_TOKEN)
            .scoped_token(STRIPE_ONLY_TOKEN, &["stripe-key"])
    }
}

/// What `:access` sends as `dataCrc32c`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Checksum {
    /// The payload's CRC32C, as Secret Manager sends it.
    #[default]
    Correct,
    /// A CRC32C that does not match the payload (one off).
    Corrupt,
    /// No `dataCrc32c` at all, as for versions made before Google added it.
    Omitted,
}

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeSecretManager {
    server: Server,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    data: SecretManagerData,
    requests: Mutex<Vec<String>>,
    delay: Mutex<Duration>,
    checksum: Mutex<Checksum>,
    failure: Mutex<Option<(u16, String)>>,
}

impl FakeSecretManager {
    /// Serve `data` on a free port of 127.0.0.1.
    pub fn spawn(data: SecretManagerData) -> std::io::Result<FakeSecretManager> {
        FakeSecretManager::spawn_at(data, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Serve `data` on `addr` (port 0 picks a free one).
    pub fn spawn_at(
        data: SecretManagerData,
        addr: SocketAddr,
    ) -> std::io::Result<FakeSecretManager> {
        let bound = Bound::bind(addr)?;
        let shared = Arc::new(Shared {
            data,
            requests: Mutex::new(Vec::new()),
            delay: Mutex::new(Duration::ZERO),
            checksum: Mutex::new(Checksum::Correct),
            failure: Mutex::new(None),
        });
        let app = router(Arc::clone(&shared));
        let server = bound.serve("fake-gcp-secret-manager", app)?;
        Ok(FakeSecretManager { server, shared })
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, with no trailing slash: the `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Every request so far, in order, as `METHOD /path?raw-query`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// How many `:access` calls were made so far.
    pub fn access_calls(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.ends_with(":access"))
            .count()
    }

    /// Make every answer wait `delay` first (zero for none).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.shared.delay) = delay;
    }

    /// Choose what `:access` sends as `dataCrc32c`.
    pub fn set_checksum(&self, checksum: Checksum) {
        *lock(&self.shared.checksum) = checksum;
    }

    /// Answer every authenticated route with Google's error JSON for `code`
    /// and `status` (say 503 and `UNAVAILABLE`), or stop with None.
    pub fn set_failure(&self, failure: Option<(u16, &str)>) {
        *lock(&self.shared.failure) = failure.map(|(code, status)| (code, status.to_string()));
    }
}

/// A panic in one handler must not take the hooks down with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: slow and obviously
/// right, and written apart from the plugin's crate so each checks the other.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Standard base64 with padding, as proto3 JSON writes `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/projects/{project}/secrets/{secret}", get(get_secret))
        .route(
            "/v1/projects/{project}/secrets/{secret}/versions/{version}",
            get(get_version),
        )
        .route(
            "/v1/projects/{project}/locations/{location}/secrets/{secret}",
            get(get_regional_secret),
        )
        .route(
            "/v1/projects/{project}/locations/{location}/secrets/{secret}/versions/{version}",
            get(get_regional_version),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            front_door,
        ))
        .with_state(shared)
}

/// Log, delay, check the token and apply a forced failure, in that order,
/// before any route runs.
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

    let known = bearer(request.headers())
        .is_some_and(|sent| shared.data.tokens.iter().any(|t| t.token == sent));
    if !known {
        return GoogleError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .into_response();
    }

    let failure = lock(&shared.failure).clone();
    if let Some((code, status)) = failure {
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return GoogleError::new(code, &status, "The fake was told to fail this request.")
            .into_response();
    }
    next.run(request).await
}

/// Where a request looks for a secret: a project as the path names it, the
/// location of a regional route (None on a global one), and the secret ID.
struct Place {
    project: String,
    location: Option<String>,
    id: String,
}

impl Place {
    /// The secret's resource name under `project` (as asked, or the number
    /// answers use): `projects/P/secrets/S` or `projects/P/locations/L/secrets/S`.
    fn name(&self, project: &str) -> String {
        match &self.location {
            None => format!("projects/{project}/secrets/{}", self.id),
            Some(location) => format!(
                "projects/{project}/locations/{location}/secrets/{}",
                self.id
            ),
        }
    }
}

/// Secret Manager's 404 for a version (a number or an alias) that is not
/// there; `secret` is the secret's resource name.
fn version_not_found(secret: &str, version: &str) -> GoogleError {
    GoogleError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("Secret Version [{secret}/versions/{version}] not found."),
    )
}

/// The token after `Bearer ` (the scheme is case-insensitive, RFC 9110).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Google's error answer: `{"error": {"code", "message", "status"}}`.
struct GoogleError {
    code: StatusCode,
    status: String,
    message: String,
}

impl GoogleError {
    fn new(code: StatusCode, status: &str, message: impl Into<String>) -> GoogleError {
        GoogleError {
            code,
            status: status.to_string(),
            message: message.into(),
        }
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "code": self.code.as_u16(),
            "message": self.message,
            "status": self.status,
        }});
        (self.code, Json(body)).into_response()
    }
}

async fn no_route() -> GoogleError {
    GoogleError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested URL was not found on this server.",
    )
}

async fn method_not_allowed() -> GoogleError {
    GoogleError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "The fake serves only GET.",
    )
}

type Answer = Result<Json<Value>, GoogleError>;

/// The authenticated token of a request that reached a route.
fn token<'a>(shared: &'a Shared, headers: &HeaderMap) -> Option<&'a FakeToken> {
    let sent = bearer(headers)?;
    shared.data.tokens.iter().find(|t| t.token == sent)
}

/// The secret at `place`, after checking the project and the token's reach:
/// a project or secret out of reach is 403, as IAM answers; a missing secret
/// in reach is 404, and so is a secret of another location (a global one
/// asked for regionally, or the other way round).
fn readable_secret<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    place: &Place,
    permission: &str,
    resource: &str,
) -> Result<&'a FakeSecret, GoogleError> {
    let (project, id) = (place.project.as_str(), place.id.as_str());
    let data = &shared.data;
    let denied = || {
        GoogleError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!(
                "Permission '{permission}' denied for resource '{resource}' (or it may not exist)."
            ),
        )
    };
    let ours = project == data.project_id || project == data.project_number.to_string();
    let may = token(shared, headers)
        .is_some_and(|t| t.secrets.as_ref().is_none_or(|s| s.iter().any(|s| s == id)));
    if !ours || !may {
        return Err(denied());
    }
    // Reading a version of a missing secret says so in Secret Manager's words.
    let tail = if permission.starts_with("secretmanager.versions.") {
        " or has no versions"
    } else {
        ""
    };
    data.secrets
        .iter()
        .find(|s| s.id == id && s.location == place.location)
        .ok_or_else(|| {
            GoogleError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!(
                    "Secret [{}] not found{tail}.",
                    place.name(&data.project_number.to_string())
                ),
            )
        })
}

async fn get_secret(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> Answer {
    let place = Place {
        project,
        location: None,
        id,
    };
    secret_metadata(&shared, &headers, &place)
}

async fn get_regional_secret(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, location, id)): Path<(String, String, String)>,
) -> Answer {
    let place = Place {
        project,
        location: Some(location),
        id,
    };
    secret_metadata(&shared, &headers, &place)
}

/// `secrets.get`, global or regional: the secret's metadata.
fn secret_metadata(shared: &Shared, headers: &HeaderMap, place: &Place) -> Answer {
    let resource = place.name(&place.project);
    let permission = "secretmanager.secrets.get";
    readable_secret(shared, headers, place, permission, &resource)?;
    let mut metadata = json!({
        "name": place.name(&shared.data.project_number.to_string()),
        "createTime": SAMPLE_TIMESTAMP,
        "etag": "\"fake-etag\"",
    });
    // A regional secret lives in its location: it has no replication policy.
    if place.location.is_none() {
        metadata["replication"] = json!({"automatic": {}});
    }
    Ok(Json(metadata))
}

async fn get_version(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, id, segment)): Path<(String, String, String)>,
) -> Answer {
    let place = Place {
        project,
        location: None,
        id,
    };
    version(&shared, &headers, &place, &segment).await
}

async fn get_regional_version(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((project, location, id, segment)): Path<(String, String, String, String)>,
) -> Answer {
    let place = Place {
        project,
        location: Some(location),
        id,
    };
    version(&shared, &headers, &place, &segment).await
}

/// `GET …/versions/{version}` (metadata) and `GET …/versions/{version}:access`,
/// global or regional.
async fn version(shared: &Shared, headers: &HeaderMap, place: &Place, segment: &str) -> Answer {
    let (version, access) = match segment.split_once(':') {
        None => (segment, false),
        Some((version, "access")) => (version, true),
        Some(_) => return Err(no_route().await),
    };
    let permission = if access {
        "secretmanager.versions.access"
    } else {
        "secretmanager.versions.get"
    };
    let resource = format!("{}/versions/{version}", place.name(&place.project));
    let secret = readable_secret(shared, headers, place, permission, &resource)?;
    // The secret's name as answers write it, by project number.
    let secret_name = place.name(&shared.data.project_number.to_string());
    let (n, found) = match version {
        "latest" => match secret.versions.last() {
            Some(last) => (secret.versions.len(), last),
            None => {
                return Err(GoogleError::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    format!("Secret [{secret_name}] not found or has no versions."),
                ));
            }
        },
        // A version alias names its version.
        alias if secret.aliases.iter().any(|(a, _)| a == alias) => {
            let n = secret
                .aliases
                .iter()
                .find(|(a, _)| a == alias)
                .map_or(0, |(_, n)| *n);
            match secret.versions.get(n.wrapping_sub(1)) {
                Some(found) => (n, found),
                None => return Err(version_not_found(&secret_name, alias)),
            }
        }
        text if text.starts_with(|c: char| c.is_ascii_alphabetic()) => {
            return Err(version_not_found(&secret_name, text));
        }
        text => {
            let n = text
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0 && !text.starts_with(['0', '+']))
                .ok_or_else(|| {
                    GoogleError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALID_ARGUMENT",
                        "Invalid resource field value in the request.",
                    )
                })?;
            match secret.versions.get(n - 1) {
                Some(found) => (n, found),
                None => {
                    return Err(version_not_found(&secret_name, &n.to_string()));
                }
            }
        }
    };
    let name = format!("{secret_name}/versions/{n}");
    if !access {
        let mut metadata = json!({
            "name": name,
            "createTime": SAMPLE_TIMESTAMP,
            "state": found.state.name(),
            "replicationStatus": {"automatic": {}},
            "etag": "\"fake-etag\"",
            "clientSpecifiedPayloadChecksum": true,
        });
        if found.state == VersionState::Destroyed {
            metadata["destroyTime"] = json!(SAMPLE_TIMESTAMP);
        }
        return Ok(Json(metadata));
    }
    if found.state != VersionState::Enabled {
        return Err(GoogleError::new(
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
            format!(
                "Secret Version [{name}] is in {} state.",
                found.state.name()
            ),
        ));
    }
    let bytes = found.payload.as_bytes();
    let mut payload = json!({"data": base64(bytes)});
    match *lock(&shared.checksum) {
        Checksum::Correct => payload["dataCrc32c"] = json!(crc32c(bytes).to_string()),
        Checksum::Corrupt => {
            payload["dataCrc32c"] = json!(crc32c(bytes).wrapping_add(1).to_string());
        }
        Checksum::Omitted => {}
    }
    Ok(Json(json!({"name": name, "payload": payload})))
}
