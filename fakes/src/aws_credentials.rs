//! FAKE AWS credential endpoints, for tests: not Amazon's software. They
//! hand out credentials a test gives them (keys a real moto server knows),
//! as the two endpoints the SDKs' default chain ends on document:
//! - EC2's instance metadata service, IMDSv2,
//!   <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html>
//!   and <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html>:
//!   `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
//!   (1 to 21600) gives a session token; `GET
//!   /latest/meta-data/iam/security-credentials/` and `…/{role}` need it in
//!   `X-aws-ec2-metadata-token` (401 without), the latter answering
//!   `{"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId",
//!   "SecretAccessKey", "Token", "Expiration", "LastUpdated"}`;
//!   `AWS_EC2_METADATA_SERVICE_ENDPOINT` points clients here;
//! - the ECS / EKS Pod Identity container credentials endpoint,
//!   <https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html>:
//!   `GET` the URI in `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with
//!   `Authorization: {AWS_CONTAINER_AUTHORIZATION_TOKEN}` (403 otherwise),
//!   answering `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`;
//! - STS `AssumeRoleWithWebIdentity`,
//!   <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>:
//!   an unsigned `POST /` of a form with `Action`, `Version` (2011-06-15),
//!   `RoleArn`, `RoleSessionName` (2 to 64 of `[\w+=,.@-]`) and
//!   `WebIdentityToken`, answering the `AssumeRoleWithWebIdentityResponse`
//!   XML with `Credentials` (`AccessKeyId`, `SecretAccessKey`,
//!   `SessionToken`, `Expiration`), or an `ErrorResponse` with `<Code>`
//!   `InvalidIdentityToken` (400) or `AccessDenied` (403);
//!   `AWS_ENDPOINT_URL_STS` points clients here. (moto's own STS answers 500
//!   to this unsigned call once its IAM checks are on.)

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::json;

use crate::serve::{Bound, Server};

/// The role the instance has.
pub const ROLE: &str = "reqflo-instance-role";
/// What `AWS_CONTAINER_AUTHORIZATION_TOKEN` must hold.
pub const CONTAINER_TOKEN: &str = "fake-container-authorization-7c1d";
/// The container credentials route (`AWS_CONTAINER_CREDENTIALS_FULL_URI`
/// is the fake's URL and this).
pub const CONTAINER_PATH: &str = "/v2/credentials/reqflo-task";

/// The role a web identity may assume here.
pub const WEB_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/reqflo-web-role";
/// The web identity token STS accepts (any other is `InvalidIdentityToken`).
pub const WEB_IDENTITY_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cmVxZmxvIn0.ZmFrZS1zaWduYXR1cmU";

/// The credentials the endpoints hand out.
#[derive(Debug, Clone)]
pub struct IssuedKeys {
    /// `AKIA…` or `ASIA…`.
    pub access_key_id: String,
    /// The secret key.
    pub secret_access_key: String,
    /// The session token of temporary keys.
    pub session_token: Option<String>,
}

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeAwsCredentials {
    server: Server,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    keys: IssuedKeys,
    lifetime: Duration,
    sessions: Mutex<Vec<String>>,
    /// How many times credentials were handed out.
    given: Mutex<usize>,
}

impl FakeAwsCredentials {
    /// Hand out `keys`, said to expire `lifetime` after each request.
    pub fn spawn(keys: IssuedKeys, lifetime: Duration) -> std::io::Result<FakeAwsCredentials> {
        let bound = Bound::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let shared = Arc::new(Shared {
            keys,
            lifetime,
            sessions: Mutex::new(Vec::new()),
            given: Mutex::new(0),
        });
        let app = Router::new()
            .route("/latest/api/token", put(session))
            .route("/latest/meta-data/iam/security-credentials/", get(roles))
            .route(
                "/latest/meta-data/iam/security-credentials/{role}",
                get(role),
            )
            .route(CONTAINER_PATH, get(container))
            .route("/", axum::routing::post(sts))
            .with_state(Arc::clone(&shared));
        let server = bound.serve("fake-aws-credentials", app)?;
        Ok(FakeAwsCredentials { server, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// `127.0.0.1:PORT`, as a host grant.
    pub fn authority(&self) -> String {
        self.server.addr().to_string()
    }

    /// How many times credentials were handed out.
    pub fn credentials_given(&self) -> usize {
        *self
            .shared
            .given
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

async fn session(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let ttl = headers
        .get("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    if !ttl.is_some_and(|t| (1..=21_600).contains(&t)) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let token = format!(
        "fake-imds-{:016x}",
        RandomState::new().build_hasher().finish()
    );
    shared
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(token.clone());
    token.into_response()
}

fn has_session(shared: &Shared, headers: &HeaderMap) -> bool {
    let sent = headers
        .get("x-aws-ec2-metadata-token")
        .and_then(|v| v.to_str().ok());
    sent.is_some_and(|sent| {
        shared
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|t| t == sent)
    })
}

async fn roles(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !has_session(&shared, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ROLE.into_response()
}

async fn role(
    State(shared): State<Arc<Shared>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !has_session(&shared, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if role != ROLE {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut body = issue(&shared);
    body["Code"] = json!("Success");
    body["Type"] = json!("AWS-HMAC");
    body["LastUpdated"] = json!(rfc3339(SystemTime::now()));
    Json(body).into_response()
}

async fn container(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let sent = headers.get("authorization").and_then(|v| v.to_str().ok());
    if sent != Some(CONTAINER_TOKEN) {
        return StatusCode::FORBIDDEN.into_response();
    }
    Json(issue(&shared)).into_response()
}

async fn sts(State(shared): State<Arc<Shared>>, body: String) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let error = |status: StatusCode, code: &str| {
        let xml = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>refused by the fake</Message>\
             </Error><RequestId>fake</RequestId></ErrorResponse>"
        );
        (status, [("content-type", "text/xml")], xml).into_response()
    };
    if field("Action") != Some("AssumeRoleWithWebIdentity")
        || field("Version") != Some("2011-06-15")
    {
        return error(StatusCode::BAD_REQUEST, "InvalidAction");
    }
    let session_ok = field("RoleSessionName").is_some_and(|name| {
        (2..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
    });
    if !session_ok {
        return error(StatusCode::BAD_REQUEST, "ValidationError");
    }
    if field("WebIdentityToken") != Some(WEB_IDENTITY_TOKEN) {
        return error(StatusCode::BAD_REQUEST, "InvalidIdentityToken");
    }
    if field("RoleArn") != Some(WEB_ROLE_ARN) {
        return error(StatusCode::FORBIDDEN, "AccessDenied");
    }
    let issued = issue(&shared);
    let text = |key: &str| issued[key].as_str().unwrap_or_default().to_string();
    let xml = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>{}</AccessKeyId>\
         <SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken>\
         <Expiration>{}</Expiration></Credentials></AssumeRoleWithWebIdentityResult>\
         <ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>\
         </AssumeRoleWithWebIdentityResponse>",
        text("AccessKeyId"),
        text("SecretAccessKey"),
        text("Token"),
        text("Expiration"),
    );
    ([("content-type", "text/xml")], xml).into_response()
}

fn issue(shared: &Shared) -> serde_json::Value {
    *shared.given.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    let keys = &shared.keys;
    json!({
        "AccessKeyId": keys.access_key_id,
        "SecretAccessKey": keys.secret_access_key,
        "Token": keys.session_token,
        "Expiration": rfc3339(SystemTime::now() + shared.lifetime),
    })
}

/// `2026-12-07T20:00:00Z`.
fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // The civil date of a day count (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}
