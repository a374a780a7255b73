//! The fake Key Vault: Get Secret, `GET /secrets/{name}[/{version}]`, with
//! its checks in the order a client meets them, and Key Vault's error JSON.
//!
//! Documentation it follows:
//! - Get Secret, <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret>;
//! - Key Vault's errors and their codes,
//!   <https://learn.microsoft.com/en-us/azure/key-vault/general/rest-error-codes>;
//! - authentication and authorization (checked before the secret is looked
//!   up: a caller without permission learns nothing of which names exist),
//!   <https://learn.microsoft.com/en-us/azure/key-vault/general/authentication>.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::data::{FakeToken, FakeVersion, SAMPLE_TIMESTAMP};
use super::server::{API_VERSIONS, Shared, lock};

/// Key Vault's error answer: `{"error": {"code", "message", "innererror"?}}`.
pub(super) struct KvError {
    status: StatusCode,
    code: &'static str,
    message: String,
    inner: Option<&'static str>,
    headers: Vec<(header::HeaderName, String)>,
}

impl KvError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> KvError {
        KvError {
            status,
            code,
            message: message.into(),
            inner: None,
            headers: Vec::new(),
        }
    }

    fn inner(mut self, code: &'static str) -> KvError {
        self.inner = Some(code);
        self
    }

    fn header(mut self, name: header::HeaderName, value: String) -> KvError {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for KvError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(inner) = self.inner {
            error["innererror"] = json!({"code": inner});
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

pub(super) async fn latest_secret(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, KvError> {
    get_secret(&shared, &name, None, query.as_deref(), &headers)
}

pub(super) async fn secret_version(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, KvError> {
    get_secret(&shared, &name, Some(&version), query.as_deref(), &headers)
}

/// Get Secret, checked in the order a client sees it fail: the service
/// itself, the API version, the token, its permission (Key Vault authorizes
/// before it looks: a name the caller may not read is 403 whether or not it
/// exists), the secret, its version and state.
fn get_secret(
    shared: &Shared,
    name: &str,
    version: Option<&str>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Json<Value>, KvError> {
    if let Some(status) = *lock(&shared.vault_status) {
        return Err(forced(status));
    }
    check_api_version(query)?;
    let token = authorize(shared, headers)?;
    let not_found = || {
        let id = version.map_or_else(|| name.to_string(), |v| format!("{name}/{v}"));
        KvError::new(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!(
                "A secret with (name/id) {id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
        )
    };
    if shared.data.firewall_closed {
        return Err(KvError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Client address is not authorized and caller is not a trusted service.\r\nClient address: 127.0.0.1\r\nCaller: appid=fake\r\nVault: fake-vault;location=westeurope",
        )
        .inner("ForbiddenByFirewall"));
    }
    if let Some(token) = token
        && !token.may_read(name)
    {
        return Err(match shared.data.rbac {
            true => KvError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=fake\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: 'fake-vault'",
            )
            .inner("ForbiddenByRbac"),
            false => KvError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The user, group or application 'appid=fake-static-token' does not have secrets get permission on key vault 'fake-vault'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
            )
            .inner("AccessDenied"),
        });
    }
    let secret = shared.data.secret(name).ok_or_else(not_found)?;
    let found = secret.version(version).ok_or_else(not_found)?;
    if !found.enabled {
        return Err(KvError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
        )
        .inner("SecretDisabled"));
    }
    Ok(Json(bundle(&shared.url, &secret.name, found)))
}

/// The SecretBundle Get Secret returns.
fn bundle(url: &str, name: &str, version: &FakeVersion) -> Value {
    let mut bundle = json!({
        "value": version.value,
        "id": format!("{url}/secrets/{name}/{}", version.version),
        "attributes": {
            "enabled": version.enabled,
            "created": SAMPLE_TIMESTAMP,
            "updated": SAMPLE_TIMESTAMP,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        },
        "tags": {},
    });
    if let Some(content_type) = &version.content_type {
        bundle["contentType"] = json!(content_type);
    }
    bundle
}

fn check_api_version(query: Option<&str>) -> Result<(), KvError> {
    let asked = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(key, _)| key == "api-version")
            .map(|(_, value)| value.into_owned())
    });
    match asked {
        Some(v) if API_VERSIONS.contains(&v.as_str()) => Ok(()),
        Some(v) => Err(KvError::new(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            format!(
                "The specified version ({v}) is not recognized. Consider using the latest supported version (7.6)."
            ),
        )),
        None => Err(KvError::new(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request URI contains an invalid or missing 'api-version' query parameter.",
        )),
    }
}

/// The preset token sent (Some), or a live issued one (None: may read all).
fn authorize<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
) -> Result<Option<&'a FakeToken>, KvError> {
    let challenge = format!(
        "Bearer authorization=\"{}/{}\", resource=\"https://vault.azure.net\"",
        shared.url, shared.data.tenant_id
    );
    let Some(sent) = bearer(headers) else {
        return Err(KvError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        )
        .header(header::WWW_AUTHENTICATE, challenge));
    };
    if let Some(token) = shared.data.static_tokens.iter().find(|t| t.token == sent) {
        return Ok(Some(token));
    }
    let now = Instant::now();
    if lock(&shared.issued)
        .iter()
        .any(|(token, until)| token == sent && now < *until)
    {
        return Ok(None);
    }
    Err(KvError::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "The access token is not valid: unknown or expired.",
    )
    .header(header::WWW_AUTHENTICATE, challenge))
}

/// The token after `Bearer ` (the scheme is case-insensitive, RFC 9110).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A failure forced by a test, shaped like Key Vault's.
fn forced(status: StatusCode) -> KvError {
    match status.as_u16() {
        429 => KvError::new(
            status,
            "Throttled",
            "Request was not processed because too many requests were received.",
        )
        .header(header::RETRY_AFTER, "1".to_string()),
        500 => KvError::new(
            status,
            "InternalServerError",
            "An internal server error occurred.",
        ),
        503 => KvError::new(
            status,
            "ServiceUnavailable",
            "The service is temporarily unavailable.",
        ),
        _ => KvError::new(status, "FakeFailure", "A failure forced by the fake."),
    }
}

pub(super) async fn not_found() -> KvError {
    KvError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "route not found in the fake",
    )
}

pub(super) async fn method_not_allowed() -> KvError {
    KvError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "the fake serves GET on /secrets and POST on the token route",
    )
}
