//! API tokens: created by admins (the first by `reqflo server` on first
//! start or `reqflo server init`), shown once, stored hashed, revocable.

use crate::db::Db;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Body, json as answer, missing, record};
use crate::auth::{Admin, Authorized, Role, Viewer, new_id, new_token};
use crate::db::now;

/// `POST /api/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for ("ci", "alice").
    name: String,
    /// admin, builder, runner or viewer.
    role: String,
}

/// Create a token and store its hash; returns `(id, token)`.
pub async fn issue(
    db: &Db,
    name: &str,
    role: Role,
    by: &str,
) -> Result<(String, String), ApiError> {
    let (token, hash) = new_token()?;
    let id = new_id("tok");
    sqlx::query("INSERT INTO tokens (id, name, role, hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(name)
        .bind(role.name())
        .bind(&hash)
        .bind(now())
        .bind(by)
        .execute(db)
        .await?;
    record(
        db,
        by,
        "token.created",
        &id,
        json!({"name": name, "role": role.name()}),
    )
    .await?;
    Ok((id, token))
}

/// `POST /api/tokens`: the token is in this answer and nowhere else, ever.
pub async fn create(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Body(body): Body<NewToken>,
) -> Result<Response, ApiError> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::bad_request("`role` must be one of admin, builder, runner, viewer")
    })?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "`name` must be 1 to 100 printable characters",
        ));
    }
    let (id, token) = issue(&state.db, name, role, &caller.actor()).await?;
    Ok(answer(
        StatusCode::CREATED,
        json!({"id": id, "name": name, "role": role.name(), "token": token,
               "note": "this token is shown once; the server keeps only its hash"}),
    ))
}

/// A token as listed: never the token, nor its hash.
#[derive(sqlx::FromRow, serde::Serialize)]
struct TokenRow {
    id: String,
    name: String,
    role: String,
    created_at: String,
    created_by: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

/// `GET /api/tokens`: ids, names, roles and dates; never a token.
pub async fn list(
    State(state): State<AppState>,
    _caller: Authorized<Admin>,
) -> Result<Response, ApiError> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, name, role, created_at, created_by, last_used_at, revoked_at FROM tokens ORDER BY created_at",
    )
    .fetch_all(&state.db)
    .await?;
    let tokens: Vec<serde_json::Value> = rows.into_iter().map(|row| json!(row)).collect();
    Ok(answer(StatusCode::OK, json!({ "tokens": tokens })))
}

/// `DELETE /api/tokens/{id}`: revoked at once; the row stays for the audit log.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let done =
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now())
            .bind(&id)
            .execute(&state.db)
            .await?;
    if done.rows_affected() == 0 {
        return Err(missing("active token", &id));
    }
    record(&state.db, &caller.actor(), "token.revoked", &id, json!({})).await?;
    Ok(answer(StatusCode::OK, json!({"id": id, "revoked": true})))
}

/// `GET /api/whoami`: the calling token's name and role.
pub async fn whoami(caller: Authorized<Viewer>) -> Result<Response, ApiError> {
    Ok(answer(
        StatusCode::OK,
        json!({"id": caller.token_id, "name": caller.name, "role": caller.role.name()}),
    ))
}
