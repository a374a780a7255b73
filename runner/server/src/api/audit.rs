//! The audit log: who did what to which secret, token or project, and every
//! use of a secret by a run. Never a value. Readable by admins.

use crate::db::Db;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{ApiError, AppState, json};
use crate::auth::{Admin, Authorized};

/// Append one entry.
pub async fn record(
    db: &Db,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(crate::db::now())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail.to_string())
    .execute(db)
    .await?;
    Ok(())
}

/// Filters for `GET /api/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Only this action (`secret.used`, `secret.created`, …).
    action: Option<String>,
    /// Only entries about this secret, token or project.
    target: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<i64>,
}

/// `GET /api/audit`: newest first.
pub async fn list(
    State(state): State<AppState>,
    _caller: Authorized<Admin>,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filter) =
        filter.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, at, actor, action, target, detail FROM audit \
         WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR target = $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(&filter.action)
    .bind(&filter.target)
    .bind(limit)
    .fetch_all(&state.db)
    .await?;
    let entries: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(id, at, actor, action, target, detail)| {
            serde_json::json!({
                "id": id, "at": at, "actor": actor, "action": action, "target": target,
                "detail": serde_json::from_str::<serde_json::Value>(&detail).unwrap_or_default(),
            })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "entries": entries }),
    ))
}
