//! Projects: builders upload journeys, templates and environments (a files
//! map as JSON, a `reqflo export` bundle as YAML, or a tarball of a project
//! folder), or the admin serves folders read-only (`projects:` in
//! server.yaml). An upload is checked like `reqflo check` before anything
//! is stored.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, json as answer, json_error, missing, record};
use crate::auth::{Authorized, Builder, Viewer};
use crate::db::now;
use crate::project::{Refused, StoredProject, plan_all};
use crate::sources;
use reqflo_core::error::Error;
use reqflo_core::plan::InputMode;

/// The JSON upload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    /// `reqflo.yaml`, `journeys/NAME.yaml`, `templates/NAME.yaml` → text.
    files: IndexMap<String, String>,
}

/// Where a project lives.
pub enum Origin {
    /// Uploaded: in the store, with who uploaded it and when.
    Uploaded {
        /// When.
        at: String,
        /// Who.
        by: String,
    },
    /// A folder the server reads for every run.
    Folder(std::path::PathBuf),
}

/// The project called `name`: a served folder (read now) or an upload.
/// `Ok(None)` when there is none; a served folder that does not read is an
/// error naming the file.
pub async fn load(
    state: &AppState,
    name: &str,
) -> Result<Option<(StoredProject, Origin)>, ApiError> {
    if let Some(folder) = state.config.projects.get(name) {
        let project = sources::from_folder(folder).map_err(|r| ApiError::bad_request(r.0))?;
        return Ok(Some((project, Origin::Folder(folder.clone()))));
    }
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT files, uploaded_at, uploaded_by FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(&state.db)
            .await?;
    let Some((files, at, by)) = row else {
        return Ok(None);
    };
    let stored: StoredProject =
        serde_json::from_str(&files).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Some((stored, Origin::Uploaded { at, by })))
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
    if state.config.projects.contains_key(&name) {
        return Err(ApiError::conflict(format!(
            "project `{name}` is served from a folder by the server; change it there"
        )));
    }
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let text =
        || std::str::from_utf8(&body).map_err(|_| Refused("the upload is not UTF-8 text".into()));
    let mut skipped = Vec::new();
    let checked = if kind.starts_with("application/json") {
        let upload: Upload =
            serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(json_error(&e)))?;
        StoredProject::from_files(upload.files)
    } else if kind.contains("yaml") {
        text().and_then(StoredProject::from_bundle)
    } else if kind.contains("gzip") || kind.contains("tar") || kind == "application/octet-stream" {
        sources::from_tarball(&body).map(|(project, left)| {
            skipped = left;
            project
        })
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json ({\"files\": {path: text}}), application/yaml (a `reqflo export` bundle) or application/gzip (a tarball of a project folder)",
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
    let mut described = describe(&name, &stored);
    if !skipped.is_empty() {
        described["skipped"] = json!(skipped);
    }
    Ok(answer(StatusCode::OK, described))
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
            let planned = plan_all(
                &project,
                &[journey],
                environment.as_deref(),
                &IndexMap::new(),
                &IndexMap::new(),
                InputMode::Check,
            );
            match planned {
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

fn describe_with_origin(name: &str, stored: &StoredProject, origin: &Origin) -> serde_json::Value {
    let mut entry = describe(name, stored);
    match origin {
        Origin::Uploaded { at, by } => {
            entry["uploaded_at"] = at.clone().into();
            entry["uploaded_by"] = by.clone().into();
        }
        Origin::Folder(folder) => entry["folder"] = folder.display().to_string().into(),
    }
    entry
}

/// Every project's name, uploaded or served from a folder, sorted.
pub async fn names(state: &AppState) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM projects")
        .fetch_all(&state.db)
        .await?;
    let mut names: Vec<String> = rows.into_iter().map(|(n,)| n).collect();
    names.extend(state.config.projects.keys().cloned());
    names.sort();
    names.dedup();
    Ok(names)
}

/// `GET /api/projects`: uploads and served folders.
pub async fn list(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
) -> Result<Response, ApiError> {
    let mut projects = Vec::new();
    for name in names(&state).await? {
        match load(&state, &name).await {
            Ok(Some((stored, origin))) => {
                projects.push(describe_with_origin(&name, &stored, &origin))
            }
            Ok(None) => {}
            // A served folder that does not read is listed with why.
            Err(e) => projects.push(json!({"name": name, "error": e.message})),
        }
    }
    Ok(answer(StatusCode::OK, json!({ "projects": projects })))
}

/// `GET /api/projects/{name}`: its files as the server reads them.
pub async fn show(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let (stored, origin) = load(&state, &name)
        .await?
        .ok_or_else(|| missing("project", &name))?;
    let mut entry = describe_with_origin(&name, &stored, &origin);
    entry["files"] = json!(stored.files);
    Ok(answer(StatusCode::OK, entry))
}

/// `DELETE /api/projects/{name}`.
pub async fn remove(
    State(state): State<AppState>,
    caller: Authorized<Builder>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if state.config.projects.contains_key(&name) {
        return Err(ApiError::conflict(format!(
            "project `{name}` is served from a folder by the server"
        )));
    }
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
