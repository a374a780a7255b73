//! A FAKE OAuth2 authorization server and a FAKE signed API, for tests: a
//! verifier we wrote, not anyone's product.
//!
//! One server plays both sides of reqflo's built-in request hooks:
//!
//! - `POST /oauth/token`: a token endpoint for the client credentials grant
//!   of RFC 6749 §4.4. It checks `grant_type=client_credentials`, and the
//!   client either by HTTP Basic (§2.3.1: ID and secret form-urlencoded, then
//!   `id:secret` in base64) or by `client_id`/`client_secret` in the form
//!   body, never both. It answers `{"access_token", "token_type": "Bearer",
//!   "expires_in"}` (§5.1) or `{"error": …}` (§5.2): 401 `invalid_client`
//!   for a wrong client, 400 `invalid_request`/`unsupported_grant_type`.
//! - `/api/…` (any method): accepted only with `Authorization: Bearer` and
//!   a token it issued that has not expired; the verdict names which one.
//! - `/webhooks/…` (any method): accepted only with a Stripe-style signature
//!   header, `t=TIMESTAMP,v1=HEX`, where HEX is HMAC-SHA256 under the
//!   signing secret of `TIMESTAMP.BODY`, compared in constant time, and
//!   TIMESTAMP within the tolerance of now.
//! - `GET /pause/MILLIS`: answers 204 after MILLIS milliseconds (at most 10 s),
//!   checking nothing; it lets a journey outlive a token.
//!
//! Accepted requests get 200 `{"verified": true}`, rejected ones 401
//! `{"verified": false, "reason": …}`. Tests read the token requests and
//! every verdict; nothing here records a secret, a token or a signature
//! (a verdict names a token by its place in the order of issue).
//!
//! ```no_run
//! use reqflo_fakes::verifier::{FakeVerifier, VerifierData};
//! let fake = FakeVerifier::spawn(VerifierData::new("client", "client-secret", "whsec"))?;
//! println!("token endpoint at {}/oauth/token", fake.url());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::serve::{Bound, Server};
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// What the fake accepts.
#[derive(Clone, Debug)]
pub struct VerifierData {
    /// The one client the token endpoint knows.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The key `/webhooks/…` signatures are checked with.
    pub signing_secret: String,
    /// The signature header `/webhooks/…` read (`X-Signature`).
    pub signature_header: String,
    /// What is signed and how the header carries it.
    pub scheme: SignatureScheme,
    /// How far a signature's timestamp may be from now.
    pub tolerance: Duration,
    /// How long the tokens it issues live: their `expires_in`, and how long
    /// `/api/…` accepts them.
    pub token_lifetime: Duration,
    /// What the `expires_in` of the first tokens says instead, one entry per
    /// token in the order they are issued (later tokens say
    /// [`VerifierData::token_lifetime`]). The server still accepts each for
    /// `token_lifetime`: a client told `0` must fetch a new token, and a test
    /// sees from [`Verdict::token`] whether it did, with no clock involved.
    pub announced_lifetimes: Vec<Duration>,
}

impl VerifierData {
    /// One client, one signing secret; header `X-Signature`, 300 s tolerance,
    /// one-hour tokens.
    pub fn new(client_id: &str, client_secret: &str, signing_secret: &str) -> VerifierData {
        VerifierData {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            signing_secret: signing_secret.to_string(),
            signature_header: "X-Signature".to_string(),
            scheme: SignatureScheme::Stripe,
            tolerance: Duration::from_secs(300),
            token_lifetime: Duration::from_secs(3600),
            announced_lifetimes: Vec::new(),
        }
    }
}

/// What a webhook signature covers, and how the header carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureScheme {
    /// Stripe's: the header is `t=TIMESTAMP,v1=HEX[,v1=HEX…]` over
    /// `TIMESTAMP.BODY`.
    Stripe,
    /// The header is the bare base64 signature over
    /// `METHOD\nPATH?QUERY\nTIMESTAMP\nBODY`; the timestamp comes in a header
    /// of its own.
    MethodPath {
        /// The header with the timestamp.
        timestamp_header: String,
    },
}

impl SignatureScheme {
    /// The bytes signed for a request.
    pub fn message(&self, method: &str, target: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
        let mut message = match self {
            SignatureScheme::Stripe => format!("{timestamp}."),
            SignatureScheme::MethodPath { .. } => format!("{method}\n{target}\n{timestamp}\n"),
        }
        .into_bytes();
        message.extend_from_slice(body);
        message
    }
}

/// How a client authenticated at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
    /// Neither, or both (refused).
    Other,
}

/// One call to the token endpoint (no secret in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// How the client authenticated.
    pub auth: ClientAuth,
    /// The client ID it sent, if any.
    pub client_id: Option<String>,
    /// `scope`, if sent.
    pub scope: Option<String>,
    /// `audience`, if sent.
    pub audience: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

/// What the fake decided about one `/api/…` or `/webhooks/…` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `GET`, `POST`…
    pub method: String,
    /// The path and query.
    pub target: String,
    /// Whether it was accepted.
    pub accepted: bool,
    /// Why it was rejected (empty when accepted).
    pub reason: String,
    /// The body as received (tests send no secret in bodies).
    pub body: String,
    /// Which issued token an `/api/…` request carried: 0 for the first one
    /// the token endpoint issued, 1 for the second… (None when it carried
    /// none it issued, and for `/webhooks/…`).
    pub token: Option<usize>,
}

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeVerifier {
    server: Server,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    data: VerifierData,
    issued: Mutex<Vec<(String, Instant)>>,
    token_requests: Mutex<Vec<TokenRequest>>,
    verdicts: Mutex<Vec<Verdict>>,
    counter: AtomicU64,
}

impl FakeVerifier {
    /// Serve `data` on a free port of 127.0.0.1.
    pub fn spawn(data: VerifierData) -> std::io::Result<FakeVerifier> {
        let bound = Bound::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let shared = Arc::new(Shared {
            data,
            issued: Mutex::new(Vec::new()),
            token_requests: Mutex::new(Vec::new()),
            verdicts: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/api/{*rest}", any(api))
            .route("/webhooks/{*rest}", any(webhook))
            .route("/pause/{millis}", get(pause))
            .with_state(Arc::clone(&shared));
        let server = bound.serve("fake-verifier", app)?;
        Ok(FakeVerifier { server, shared })
    }

    /// `http://127.0.0.1:PORT`, with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// What it accepts.
    pub fn data(&self) -> &VerifierData {
        &self.shared.data
    }

    /// `127.0.0.1:PORT`, for `grants.hosts`.
    pub fn host_port(&self) -> String {
        self.server.addr().to_string()
    }

    /// Every call to the token endpoint so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        lock(&self.shared.token_requests).clone()
    }

    /// How many tokens it issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.shared.issued).len()
    }

    /// Every verdict on `/api/…` and `/webhooks/…` so far.
    pub fn verdicts(&self) -> Vec<Verdict> {
        lock(&self.shared.verdicts).clone()
    }

    /// The tokens it issued, for tests that check they never show up.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.issued)
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

/// A panic in one handler must not take the accessors down with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An RFC 6749 §5.2 error.
fn oauth_error(status: StatusCode, error: &str, basic: bool) -> Response {
    let mut response = (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(json!({ "error": error })),
    )
        .into_response();
    if basic && status == StatusCode::UNAUTHORIZED {
        // §5.2: a client that tried Basic gets the challenge back.
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"fake-verifier\""),
        );
    }
    response
}

/// `client_id:client_secret` from `Authorization: Basic`, each form-urlencoded
/// (RFC 6749 §2.3.1); `Err` when the header is there but malformed.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let Some(encoded) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Err(());
    };
    let decoded = STANDARD.decode(encoded).map_err(|_| ())?;
    let text = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = text.split_once(':').ok_or(())?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// Compare in constant time (for equal lengths), so the fake models what a
/// real server must do.
fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let basic = basic_credentials(&headers);
    let in_body = field("client_secret").is_some();
    let (auth, credentials) = match (&basic, in_body) {
        (Ok(Some(pair)), false) => (ClientAuth::Basic, Some(pair.clone())),
        (Ok(None), true) => (
            ClientAuth::Body,
            field("client_id").zip(field("client_secret")),
        ),
        _ => (ClientAuth::Other, None),
    };
    let record = |status: StatusCode| {
        lock(&shared.token_requests).push(TokenRequest {
            auth,
            client_id: credentials
                .as_ref()
                .map(|(id, _)| id.clone())
                .or_else(|| field("client_id")),
            scope: field("scope"),
            audience: field("audience"),
            status: status.as_u16(),
        });
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        record(StatusCode::BAD_REQUEST);
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", false);
    }
    // §2.3: a client MUST NOT use more than one authentication method.
    if matches!(basic, Ok(Some(_))) && in_body {
        record(StatusCode::BAD_REQUEST);
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", false);
    }
    if field("grant_type").as_deref() != Some("client_credentials") {
        let status = StatusCode::BAD_REQUEST;
        record(status);
        let error = if field("grant_type").is_some() {
            "unsupported_grant_type"
        } else {
            "invalid_request"
        };
        return oauth_error(status, error, false);
    }
    let known = credentials.as_ref().is_some_and(|(id, secret)| {
        same(id.as_bytes(), shared.data.client_id.as_bytes())
            && same(secret.as_bytes(), shared.data.client_secret.as_bytes())
    });
    if !known {
        record(StatusCode::UNAUTHORIZED);
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            auth == ClientAuth::Basic || basic.is_err(),
        );
    }
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let access_token = format!("fake-at-{n}-{nanos:09}-{:x}", std::process::id());
    let expires_in = {
        let mut issued = lock(&shared.issued);
        let announced = shared
            .data
            .announced_lifetimes
            .get(issued.len())
            .copied()
            .unwrap_or(shared.data.token_lifetime);
        issued.push((access_token.clone(), Instant::now()));
        announced
    };
    record(StatusCode::OK);
    (
        StatusCode::OK,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        axum::Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in.as_secs(),
        })),
    )
        .into_response()
}

/// Record a verdict and answer it.
fn verdict(
    shared: &Shared,
    (method, uri, body): (&Method, &Uri, &[u8]),
    token: Option<usize>,
    result: Result<(), String>,
) -> Response {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    let (accepted, reason) = match &result {
        Ok(()) => (true, String::new()),
        Err(why) => (false, why.clone()),
    };
    lock(&shared.verdicts).push(Verdict {
        method: method.to_string(),
        target,
        accepted,
        reason: reason.clone(),
        body: String::from_utf8_lossy(body).into_owned(),
        token,
    });
    if accepted {
        (StatusCode::OK, axum::Json(json!({ "verified": true }))).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "verified": false, "reason": reason })),
        )
            .into_response()
    }
}

async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (token, result) = match check_bearer(&shared, &headers) {
        Ok(index) => (Some(index), Ok(())),
        Err((index, why)) => (index, Err(why)),
    };
    verdict(&shared, (&method, &uri, &body), token, result)
}

/// Which issued token the request carries, and whether it is accepted.
fn check_bearer(shared: &Shared, headers: &HeaderMap) -> Result<usize, (Option<usize>, String)> {
    let unknown = |why: &str| (None, why.to_string());
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unknown("no Authorization header"))?
        .to_str()
        .map_err(|_| unknown("Authorization is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unknown("Authorization is not `Bearer …`"))?;
    let issued = lock(&shared.issued);
    let found = issued
        .iter()
        .position(|(t, _)| same(t.as_bytes(), token.as_bytes()));
    match found {
        None => Err(unknown("the bearer token was not issued here")),
        Some(index) if issued[index].1.elapsed() > shared.data.token_lifetime => {
            Err((Some(index), "the bearer token has expired".into()))
        }
        Some(index) => Ok(index),
    }
}

/// Wait, then answer 204: time passing between two steps of a journey.
async fn pause(Path(millis): Path<u64>) -> StatusCode {
    tokio::time::sleep(Duration::from_millis(millis.min(10_000))).await;
    StatusCode::NO_CONTENT
}

async fn webhook(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    let request = (method.as_str(), target.as_str(), &headers, &body[..]);
    let result = check_signature(&shared.data, request, SystemTime::now());
    verdict(&shared, (&method, &uri, &body), None, result)
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// A request as the signature check sees it: method, path and query,
/// headers, body.
pub type SignedRequest<'a> = (&'a str, &'a str, &'a HeaderMap, &'a [u8]);

/// Check a request's signature header per [`VerifierData::scheme`].
pub fn check_signature(
    data: &VerifierData,
    (method, target, headers, body): SignedRequest<'_>,
    now: SystemTime,
) -> Result<(), String> {
    let header = |name: &str| -> Result<String, String> {
        headers
            .get(name)
            .ok_or_else(|| format!("no {name} header"))?
            .to_str()
            .map(str::to_string)
            .map_err(|_| format!("{name} is not text"))
    };
    let name = &data.signature_header;
    let value = header(name)?;
    let (timestamp, signatures) = match &data.scheme {
        SignatureScheme::Stripe => {
            let mut timestamp = None;
            let mut signatures = Vec::new();
            for item in value.split(',') {
                match item.trim().split_once('=') {
                    Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
                    Some(("v1", hex)) => signatures.extend(decode_hex(hex)),
                    _ => {}
                }
            }
            let timestamp = timestamp.ok_or_else(|| format!("{name} has no `t=` timestamp"))?;
            if signatures.is_empty() {
                return Err(format!("{name} has no `v1=` signature"));
            }
            (timestamp, signatures)
        }
        SignatureScheme::MethodPath { timestamp_header } => {
            let timestamp = header(timestamp_header)?
                .parse::<u64>()
                .map_err(|_| format!("{timestamp_header} is not a Unix time"))?;
            let signature = STANDARD
                .decode(value.trim())
                .map_err(|_| format!("{name} is not base64"))?;
            (timestamp, vec![signature])
        }
    };
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if now.abs_diff(timestamp) > data.tolerance.as_secs() {
        return Err("the timestamp is outside the tolerance".into());
    }
    let message = data.scheme.message(method, target, timestamp, body);
    for signature in signatures {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(data.signing_secret.as_bytes()) else {
            return Err("the signing secret is unusable".into());
        };
        mac.update(&message);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err("no signature matches".into())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> VerifierData {
        VerifierData::new("client-1", "s3cr:et&", "whsec_test")
    }

    fn sign(secret: &str, t: u64, body: &[u8]) -> String {
        let message = SignatureScheme::Stripe.message("POST", "/", t, body);
        hmac_sha256(secret.as_bytes(), &message)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn check(
        data: &VerifierData,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), String> {
        check_signature(data, ("POST", "/webhooks/x?y=1", headers, body), now)
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-signature", HeaderValue::from_str(value).expect("ascii"));
        h
    }

    #[test]
    fn signatures_are_checked() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = 1_700_000_000;
        let good = format!("t={t},v1={}", sign("whsec_test", t, b"{}"));
        assert_eq!(check(&data(), &headers(&good), b"{}", now), Ok(()));
        // Another body, another key, a stale timestamp, a missing part.
        assert!(check(&data(), &headers(&good), b"{ }", now).is_err());
        let wrong = format!("t={t},v1={}", sign("whsec_other", t, b"{}"));
        assert!(check(&data(), &headers(&wrong), b"{}", now).is_err());
        let old = t - 301;
        let stale = format!("t={old},v1={}", sign("whsec_test", old, b"{}"));
        assert_eq!(
            check(&data(), &headers(&stale), b"{}", now),
            Err("the timestamp is outside the tolerance".into())
        );
        assert!(check(&data(), &headers("v1=00"), b"{}", now).is_err());
        assert!(check(&data(), &HeaderMap::new(), b"{}", now).is_err());
    }

    #[test]
    fn method_path_signatures_cover_method_path_and_timestamp() {
        let mut data = data();
        data.scheme = SignatureScheme::MethodPath {
            timestamp_header: "x-timestamp".into(),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let message = data
            .scheme
            .message("POST", "/webhooks/x?y=1", 1_700_000_000, b"{}");
        assert_eq!(message, b"POST\n/webhooks/x?y=1\n1700000000\n{}");
        let signature = STANDARD.encode(hmac_sha256(b"whsec_test", &message));
        let mut h = headers(&signature);
        h.insert("x-timestamp", HeaderValue::from_static("1700000000"));
        assert_eq!(check(&data, &h, b"{}", now), Ok(()));
        // The same signature for another method does not verify.
        let other = check_signature(&data, ("PUT", "/webhooks/x?y=1", &h, b"{}"), now);
        assert_eq!(other, Err("no signature matches".into()));
        h.remove("x-timestamp");
        assert_eq!(
            check(&data, &h, b"{}", now),
            Err("no x-timestamp header".into())
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn token_endpoint_follows_rfc6749() {
        let fake = FakeVerifier::spawn(data()).expect("spawn");
        let client = reqwest::Client::new();
        let url = format!("{}/oauth/token", fake.url());
        // Basic: the ID and secret are form-urlencoded before base64.
        let basic = STANDARD.encode("client-1:s3cr%3Aet%26");
        let ok = client
            .post(&url)
            .header("Authorization", format!("Basic {basic}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=read")
            .send()
            .await
            .expect("send");
        assert_eq!(ok.status(), 200);
        let json: serde_json::Value = ok.json().await.expect("json");
        assert_eq!(json["token_type"], "Bearer");
        assert_eq!(json["expires_in"], 3600);
        let token = json["access_token"].as_str().expect("token").to_string();

        let body_auth = client
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=client-1&client_secret=s3cr%3Aet%26")
            .send()
            .await
            .expect("send");
        assert_eq!(body_auth.status(), 200);

        let wrong = client
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=client-1&client_secret=nope")
            .send()
            .await
            .expect("send");
        assert_eq!(wrong.status(), 401);
        let json: serde_json::Value = wrong.json().await.expect("json");
        assert_eq!(json["error"], "invalid_client");

        let grant = client
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=password&client_id=client-1&client_secret=s3cr%3Aet%26")
            .send()
            .await
            .expect("send");
        assert_eq!(grant.status(), 400);

        assert_eq!(fake.tokens_issued(), 2);
        let auths: Vec<_> = fake
            .token_requests()
            .iter()
            .map(|r| (r.auth, r.status))
            .collect();
        assert_eq!(
            auths,
            vec![
                (ClientAuth::Basic, 200),
                (ClientAuth::Body, 200),
                (ClientAuth::Body, 401),
                (ClientAuth::Body, 400)
            ]
        );
        assert_eq!(fake.token_requests()[0].scope.as_deref(), Some("read"));

        let api = format!("{}/api/things?x=1", fake.url());
        let accepted = client
            .get(&api)
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(accepted.status(), 200);
        let rejected = client
            .get(&api)
            .bearer_auth("made-up")
            .send()
            .await
            .expect("send");
        assert_eq!(rejected.status(), 401);
        let verdicts: Vec<_> = fake
            .verdicts()
            .iter()
            .map(|v| (v.accepted, v.token))
            .collect();
        // The first token issued (by Basic), and one it never issued.
        assert_eq!(verdicts, vec![(true, Some(0)), (false, None)]);
        assert_eq!(fake.verdicts()[0].target, "/api/things?x=1");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn announced_lifetimes_change_expires_in_not_validity() {
        let mut data = data();
        data.announced_lifetimes = vec![Duration::ZERO];
        let fake = FakeVerifier::spawn(data).expect("spawn");
        let client = reqwest::Client::new();
        let url = format!("{}/oauth/token", fake.url());
        let mut tokens = Vec::new();
        for expected in [0, 3600] {
            let json: serde_json::Value = client
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&client_id=client-1&client_secret=s3cr%3Aet%26")
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            assert_eq!(json["expires_in"], expected, "{json}");
            tokens.push(json["access_token"].as_str().expect("token").to_string());
        }
        // Both are accepted, and each verdict names the token it carried.
        let api = format!("{}/api/things", fake.url());
        for token in [&tokens[1], &tokens[0]] {
            let answer = client
                .get(&api)
                .bearer_auth(token)
                .send()
                .await
                .expect("send");
            assert_eq!(answer.status(), 200);
        }
        let verdicts: Vec<_> = fake
            .verdicts()
            .iter()
            .map(|v| (v.accepted, v.token))
            .collect();
        assert_eq!(verdicts, vec![(true, Some(1)), (true, Some(0))]);
    }
}
