//! Projects: builders upload journeys, templates and environments (a files
//! map as JSON, or a `reqflo export` bundle as YAML). An upload is checked
//! like `reqflo check` before anything is stored.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, json as answer, json_error, missing, record};
use crate::auth::{Authorized, Builder, Viewer};
use crate::db::now;
use crate::project::{StoredProject, plan_all};
use reqflo_core::error::Error;
use reqflo_core::plan::InputMode;

/// The JSON upload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    /// `reqflo.yaml`, `journeys/NAME.yaml`, `templates/NAME.yaml` → text.
    files: IndexMap<String, String>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a project name is 1 to 100 letters, digits, `_`, `-` or `.`",
        ))
    }
}

/// `PUT /api/projects/{name}`: create or replace.
pub async fn upload(
    State(state): State<AppState>,
    caller: Authorized<Builder>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    check_name(&name)?;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the upload is not UTF-8 text"))?;
    let checked = if kind.starts_with("application/json") {
        let upload: Upload =
            serde_json::from_str(text).map_err(|e| ApiError::bad_request(json_error(&e)))?;
        StoredProject::from_files(upload.files)
    } else if kind.contains("yaml") {
        StoredProject::from_bundle(text)
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json ({\"files\": {path: text}}) or application/yaml (a `reqflo export` bundle)",
        ));
    };
    let providers = &state.config.providers;
    let stored = match checked
        .map_err(|r| r.0)
        .and_then(|p| check_plans(&p, providers).map(|()| p))
    {
        Ok(stored) => stored,
        Err(why) => {
            record(
                &state.db,
                &caller.actor(),
                "project.refused",
                &name,
                json!({"why": why}),
            )
            .await?;
            return Err(ApiError::bad_request(why));
        }
    };
    let files = serde_json::to_string(&stored).map_err(|e| ApiError::internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO projects (name, files, uploaded_at, uploaded_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET files = excluded.files, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by",
    )
    .bind(&name)
    .bind(&files)
    .bind(now())
    .bind(caller.actor())
    .execute(&state.db)
    .await?;
    record(
        &state.db,
        &caller.actor(),
        "project.uploaded",
        &name,
        json!({"journeys": stored.journey_names(), "templates": stored.template_names()}),
    )
    .await?;
    Ok(answer(StatusCode::OK, describe(&name, &stored)))
}

/// Plan every journey in every environment as `reqflo check` would, against
/// an empty registry: definitions must hold whatever the admin registers.
fn check_plans(stored: &StoredProject, providers: &serde_yaml::Mapping) -> Result<(), String> {
    let project = stored.compose(&[], providers).map_err(|e| e.to_string())?;
    let mut environments: Vec<Option<String>> =
        stored.environment_names().into_iter().map(Some).collect();
    if environments.is_empty() {
        environments.push(None);
    }
    for environment in &environments {
        for journey in stored.journey_names() {
            match plan_all(
                &project,
                &[journey],
                environment.as_deref(),
                &IndexMap::new(),
                &IndexMap::new(),
                InputMode::Check,
            ) {
                // Who may use which secret is the registry's, decided per run.
                Ok(_) | Err(Error::Policy(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(())
}

fn describe(name: &str, stored: &StoredProject) -> serde_json::Value {
    json!({
        "name": name,
        "journeys": stored.journey_names(),
        "templates": stored.template_names(),
        "environments": stored.environment_names(),
    })
}

/// `GET /api/projects`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
) -> Result<Response, ApiError> {
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT name, files, uploaded_at, uploaded_by FROM projects ORDER BY name")
            .fetch_all(&state.db)
            .await?;
    let projects: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(name, files, at, by)| {
            let stored: StoredProject = serde_json::from_str(&files).unwrap_or_default();
            let mut entry = describe(&name, &stored);
            entry["uploaded_at"] = at.into();
            entry["uploaded_by"] = by.into();
            entry
        })
        .collect();
    Ok(answer(StatusCode::OK, json!({ "projects": projects })))
}

/// `GET /api/projects/{name}`: its files as uploaded, and what they hold.
pub async fn show(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT files, uploaded_at, uploaded_by FROM projects WHERE name = $1")
            .bind(&name)
            .fetch_optional(&state.db)
            .await?;
    let (files, at, by) = row.ok_or_else(|| missing("project", &name))?;
    let stored: StoredProject =
        serde_json::from_str(&files).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut entry = describe(&name, &stored);
    entry["uploaded_at"] = at.into();
    entry["uploaded_by"] = by.into();
    entry["files"] = json!(stored.files);
    Ok(answer(StatusCode::OK, entry))
}

/// `DELETE /api/projects/{name}`.
pub async fn remove(
    State(state): State<AppState>,
    caller: Authorized<Builder>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let done = sqlx::query("DELETE FROM projects WHERE name = $1")
        .bind(&name)
        .execute(&state.db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(missing("project", &name));
    }
    record(
        &state.db,
        &caller.actor(),
        "project.deleted",
        &name,
        json!({}),
    )
    .await?;
    Ok(answer(
        StatusCode::OK,
        json!({"name": name, "deleted": true}),
    ))
}
