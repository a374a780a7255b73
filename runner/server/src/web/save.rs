//! Saving a file edited in the UI: `reqflo check` of the project with it,
//! in every environment and with the server's registry (its error placed
//! at the value it points at, when it does), then a compare-and-swap write
//! so two saves racing cannot both win.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;

use super::session::{Signed, refuse};
use crate::auth::Builder;
use crate::error::ApiError;
use crate::project::{StoredProject, plan_all};
use crate::registry::{self, SecretPolicy};
use crate::state::AppState;
use reqflo_core::plan::InputMode;

/// Why the check refused a file: its whole message, and the value of the
/// file it points at (its path) with the short message, when it points at
/// one there.
pub(super) struct Refusal {
    pub(super) message: String,
    pub(super) at: Option<(Vec<String>, String)>,
}

impl Refusal {
    fn plain(message: String) -> Refusal {
        Refusal { message, at: None }
    }

    /// The check's error `e` about the project with `edited` as `file`.
    pub(super) fn of(e: &reqflo_core::error::Error, file: &str, edited: &str) -> Refusal {
        use reqflo_core::error::Error;
        let at = match e {
            Error::Config(d) | Error::Definition(d) | Error::Policy(d) => {
                d.spot.as_ref().and_then(|spot| {
                    if !spot.file.ends_with(file) {
                        return None;
                    }
                    let path = crate::edit::path_at(edited, spot.line, spot.column)?;
                    let short = match &d.hint {
                        Some(hint) => format!("{}: {hint}", d.message),
                        None => d.message.clone(),
                    };
                    Some((path, short))
                })
            }
            _ => None,
        };
        Refusal {
            message: e.to_string(),
            at,
        }
    }

    /// The form field (`f:` and the path) it points at, and what it says.
    pub(super) fn field(&self) -> Option<(String, String)> {
        self.at
            .as_ref()
            .map(|(path, short)| (format!("f:{}", path.join("/")), short.clone()))
    }
}

/// `reqflo check` of `journeys` in the project with `edited` as `file`, in
/// every environment, with the server's registry.
pub(super) fn check_file(
    state: &AppState,
    stored: &StoredProject,
    registry: &[SecretPolicy],
    file: &str,
    edited: &str,
    journeys: &[String],
) -> Result<(), Refusal> {
    let mut files = stored.files.clone();
    files.insert(file.to_string(), edited.to_string());
    let candidate = StoredProject::from_files(files).map_err(|r| Refusal::plain(r.0))?;
    let environments = candidate.environment_names();
    let mut environments: Vec<Option<&str>> =
        environments.iter().map(|e| Some(e.as_str())).collect();
    if environments.is_empty() {
        environments.push(None);
    }
    for environment in environments {
        let plans = candidate
            .compose(registry, &state.config.providers)
            .and_then(|p| {
                plan_all(
                    &p,
                    journeys,
                    environment,
                    &IndexMap::new(),
                    &IndexMap::new(),
                    InputMode::Check,
                )
            })
            .map_err(|e| Refusal::of(&e, file, edited))?;
        if let Some(why) = registry::refusal(&plans, registry) {
            return Err(Refusal::plain(why));
        }
    }
    Ok(())
}

/// [`check_file`] of every journey of the project, with the registry as it
/// is now: a template's check, since any journey may use it.
pub(super) async fn check_every_journey(
    state: &AppState,
    stored: &StoredProject,
    file: &str,
    edited: &str,
) -> Result<Result<(), Refusal>, Response> {
    let registry = registry::all(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let journeys = stored.journey_names();
    Ok(check_file(
        state, stored, &registry, file, edited, &journeys,
    ))
}

/// Write the project with `edited` as `file`, only if the row still holds
/// what was read (two saves racing cannot both win): whether it was.
pub(super) async fn store(
    state: &AppState,
    signed: &Signed<Builder>,
    project: &str,
    file: &str,
    stored: &StoredProject,
    edited: &str,
) -> Result<bool, Response> {
    let mut files = stored.files.clone();
    files.insert(file.to_string(), edited.to_string());
    let candidate =
        StoredProject::from_files(files).map_err(|r| refuse(StatusCode::BAD_REQUEST, &r.0))?;
    let json = serde_json::to_string(&candidate)
        .map_err(|e| ApiError::internal(e.to_string()).into_response())?;
    let before = serde_json::to_string(stored)
        .map_err(|e| ApiError::internal(e.to_string()).into_response())?;
    let done = sqlx::query("UPDATE projects SET files = $1, uploaded_at = $2, uploaded_by = $3 WHERE name = $4 AND files = $5")
        .bind(&json)
        .bind(crate::db::now())
        .bind(signed.caller.actor())
        .bind(project)
        .bind(&before)
        .execute(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::api::record(
        &state.db,
        &signed.caller.actor(),
        "project.uploaded",
        project,
        serde_json::json!({"file": file, "edited": "web UI"}),
    )
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    Ok(true)
}
