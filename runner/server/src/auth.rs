//! API tokens and roles. A token is 32 random bytes shown once; the store
//! keeps its SHA-256 only. (A slow password hash is for guessable secrets: a
//! 256-bit random token cannot be guessed, and every request checks one.)

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// What a token may do. Roles are cumulative: each includes those below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads runs, their reports and events, and projects.
    Viewer,
    /// Starts and cancels runs.
    Runner,
    /// Uploads projects (journeys and templates).
    Builder,
    /// Secrets, tokens, key rotation and the audit log.
    Admin,
}

impl Role {
    /// Its name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Runner => "runner",
            Role::Builder => "builder",
            Role::Admin => "admin",
        }
    }

    /// The role called `name`.
    pub fn parse(name: &str) -> Option<Role> {
        [Role::Viewer, Role::Runner, Role::Builder, Role::Admin]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

/// The prefix of every token: lets secret scanners recognise one.
pub const TOKEN_PREFIX: &str = "rqf_";

/// The prefix of a private agent's token.
pub const AGENT_TOKEN_PREFIX: &str = "rqa_";

/// A new token: its text (shown once) and the hash to store.
pub fn new_token() -> Result<(String, String), ApiError> {
    new_token_with(TOKEN_PREFIX)
}

/// A new token with `prefix` (an agent's is [`AGENT_TOKEN_PREFIX`]).
pub fn new_token_with(prefix: &str) -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("the system random number generator failed"))?;
    let token = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_token(&token);
    Ok((token, hash))
}

/// What the store keeps of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random public id with a prefix (`tok_…`, `run_…`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Who is calling: the token's id, name and role.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's public id.
    pub token_id: String,
    /// Its name, as the admin gave it.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        format!("{} ({})", self.name, self.token_id)
    }

    /// Refuse unless the caller's role includes `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; token `{}` has {}",
                role.name(),
                self.name,
                self.role.name()
            )))
        }
    }
}

/// A role an endpoint needs, as a type: `Authorized<Admin>` in a handler's
/// arguments checks the token and its role before the body is read.
pub trait Needs {
    /// The least role allowed.
    const ROLE: Role;
}

/// Needs the admin role.
pub struct Admin;
/// Needs the builder role (or admin).
pub struct Builder;
/// Needs the runner role (or builder, admin).
pub struct Runner;
/// Needs any valid token.
pub struct Viewer;

impl Needs for Admin {
    const ROLE: Role = Role::Admin;
}
impl Needs for Builder {
    const ROLE: Role = Role::Builder;
}
impl Needs for Runner {
    const ROLE: Role = Role::Runner;
}
impl Needs for Viewer {
    const ROLE: Role = Role::Viewer;
}

/// A caller whose role includes `N`'s: extracted first, so a caller without
/// the role learns nothing about the request's validity (403 before 400).
pub struct Authorized<N: Needs>(pub Caller, std::marker::PhantomData<N>);

impl<N: Needs> std::ops::Deref for Authorized<N> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<N: Needs> FromRequestParts<AppState> for Authorized<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(N::ROLE)?;
        Ok(Authorized(caller, std::marker::PhantomData))
    }
}

/// The token in a request's `Authorization: Bearer TOKEN` header.
pub(crate) fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("no token: send `Authorization: Bearer TOKEN`"))?;
    header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not `Bearer TOKEN`"))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let hash = hash_token(bearer(parts)?);
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT id, name, role FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&state.db)
        .await?;
        let Some((token_id, name, role)) = row else {
            return Err(ApiError::unauthorized("unknown or revoked token"));
        };
        let role =
            Role::parse(&role).ok_or_else(|| ApiError::internal("a token has an unknown role"))?;
        // At most once a minute per token: a write per request would cost
        // more than the request.
        let now = std::time::SystemTime::now();
        let minute_ago =
            humantime::format_rfc3339_millis(now - std::time::Duration::from_secs(60)).to_string();
        sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
            .bind(humantime::format_rfc3339_millis(now).to_string())
            .bind(&token_id)
            .bind(minute_ago)
            .execute(&state.db)
            .await?;
        Ok(Caller {
            token_id,
            name,
            role,
        })
    }
}
