//! Web sessions: a token login sets a random session id in an HttpOnly,
//! SameSite=Strict cookie (the store keeps its SHA-256). Every form carries
//! the session's CSRF token, and every unsafe request must come from our own
//! origin.

use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};

use super::{Chrome, FormData, page, render};
use crate::auth::{Caller, Needs, Role, hash_token};
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "reqflo_session";
/// How long a session lasts.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);

fn random() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("the system random number generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// A signed-in person whose role includes `N`'s.
pub struct Signed<N: Needs> {
    /// Who, through which token.
    pub caller: Caller,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    role: PhantomData<N>,
}

impl<N: Needs> Signed<N> {
    /// The page frame for this person.
    pub fn chrome(&self) -> Chrome {
        Chrome::signed_in(&self.caller, &self.csrf)
    }

    /// Refuse a form whose CSRF token is not this session's.
    pub fn check(&self, form: &FormData) -> Result<(), Stale> {
        // Their hashes are compared, so how long the comparison takes says
        // nothing about the token.
        let same = hash_token(form.get("csrf")) == hash_token(&self.csrf);
        if same { Ok(()) } else { Err(Stale) }
    }
}

/// A form without this session's CSRF token.
#[derive(Debug)]
pub struct Stale;

impl IntoResponse for Stale {
    fn into_response(self) -> Response {
        refuse(
            StatusCode::FORBIDDEN,
            "This form is stale or did not come from this site. Reload the page and try again.",
        )
    }
}

/// A plain error page.
pub fn refuse(status: StatusCode, message: &str) -> Response {
    let heading = status.canonical_reason().unwrap_or("Refused");
    (
        status,
        render(&page::Message {
            chrome: Chrome::signed_out(),
            heading,
            message,
        }),
    )
        .into_response()
}

/// Whether an unsafe request comes from our own origin: the browser's
/// `Sec-Fetch-Site` when it sends one, else `Origin` (or `Referer`) against
/// `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin";
    }
    let host = text("host");
    let from = text("origin")
        .filter(|o| *o != "null")
        .or_else(|| text("referer"));
    match (host, from) {
        (Some(host), Some(from)) => {
            let rest = from
                .strip_prefix("http://")
                .or_else(|| from.strip_prefix("https://"))
                .unwrap_or("");
            rest.split('/').next() == Some(host)
        }
        // Neither header: not a browser's cross-site form (browsers send
        // Origin on a cross-site POST); the CSRF token still has to match.
        (_, None) => text("origin") != Some("null"),
        (None, Some(_)) => false,
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

impl<N: Needs> FromRequestParts<AppState> for Signed<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD);
        if unsafe_method && !same_origin(&parts.headers) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "This request came from another site.",
            ));
        }
        let to_login = || Redirect::to("/login").into_response();
        let Some(cookie) = cookie_value(&parts.headers) else {
            return Err(to_login());
        };
        let row: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT t.id, t.name, t.role, s.csrf FROM sessions s JOIN tokens t ON t.id = s.token_id \
             WHERE s.hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
        )
        .bind(hash_token(&cookie))
        .bind(stamp(SystemTime::now()))
        .fetch_optional(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
        let Some((token_id, name, role, csrf)) = row else {
            return Err(to_login());
        };
        let role = Role::parse(&role).ok_or_else(to_login)?;
        let caller = Caller {
            token_id,
            name,
            role,
        };
        if caller.role < N::ROLE {
            let signed = Signed::<N> {
                caller,
                csrf,
                role: PhantomData,
            };
            let message = format!(
                "This page needs the {} role; you are signed in as {}.",
                N::ROLE.name(),
                signed.caller.role.name()
            );
            let body = render(&page::Message {
                chrome: signed.chrome(),
                heading: "Forbidden",
                message: &message,
            });
            return Err((StatusCode::FORBIDDEN, body).into_response());
        }
        Ok(Signed {
            caller,
            csrf,
            role: PhantomData,
        })
    }
}

/// `GET /login`.
pub async fn login_page() -> Response {
    render(&page::Login {
        chrome: Chrome::signed_out(),
        error: None,
    })
    .into_response()
}

/// `POST /login`: a valid token starts a session. The token is never
/// echoed, also not after a failed attempt.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, Response> {
    if !same_origin(&headers) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "This request came from another site.",
        ));
    }
    let token = form.get("token").trim().to_string();
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM tokens WHERE hash = $1 AND revoked_at IS NULL")
            .bind(hash_token(&token))
            .fetch_optional(&state.db)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
    let Some((token_id,)) = row else {
        let page = page::Login {
            chrome: Chrome::signed_out(),
            error: Some("That token is unknown or revoked."),
        };
        return Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response());
    };
    let session = random().map_err(IntoResponse::into_response)?;
    let csrf = random().map_err(IntoResponse::into_response)?;
    let now = SystemTime::now();
    sqlx::query("INSERT INTO sessions (hash, token_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(hash_token(&session))
        .bind(&token_id)
        .bind(&csrf)
        .bind(stamp(now))
        .bind(stamp(now + LIFETIME))
        .execute(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p == "https");
    let cookie = format!(
        "{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `POST /logout`: the session ends here and in the store.
pub async fn logout(
    State(state): State<AppState>,
    signed: Signed<crate::auth::Viewer>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    if let Some(cookie) = cookie_value(&headers) {
        sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(hash_token(&cookie))
            .execute(&state.db)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
    }
    let mut response = Redirect::to("/login").into_response();
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}
