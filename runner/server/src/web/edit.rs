//! Editing an existing journey in place: every value of its steps as a
//! field (a secret's name as the policy-aware picker), the lines that would
//! change shown before saving, each change written into the file by its
//! byte range (comments, order and formatting kept), and a save refused when
//! the file changed since the page was read.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;

use super::page::{self, EditField, SourceOption};
use super::session::{Signed, refuse};
use super::{FormData, render};
use crate::auth::{Builder, hash_token};
use crate::credentials;
use crate::edit::{diff, replace_scalar};
use crate::error::ApiError;
use crate::project::{StoredProject, plan_all};
use crate::registry::{self, SecretPolicy};
use crate::state::AppState;
use reqflo_core::plan::InputMode;

async fn journey_text(
    state: &AppState,
    project: &str,
    journey: &str,
) -> Result<(StoredProject, String), Response> {
    let stored = super::build::editable(state, project).await?;
    let text = stored
        .files
        .get(&format!("journeys/{journey}.yaml"))
        .cloned()
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "There is no such journey."))?;
    Ok((stored, text))
}

/// Every editable value: scalars under `steps` (but a step's template),
/// and the description.
fn leaves(doc: &serde_yaml::Value) -> Vec<(Vec<String>, serde_yaml::Value)> {
    let mut out = crate::edit::leaves(doc);
    out.retain(|(path, _)| {
        (path.first().map(String::as_str) == Some("steps")
            && path.get(2).map(String::as_str) != Some("template"))
            || path == &["description"]
    });
    out
}

fn text_of(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Null => String::new(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Whether `path` is a secret reference's name (`…values.X.name` beside `type: secret`).
fn is_secret_name(doc: &serde_yaml::Value, path: &[String]) -> bool {
    let parent: Vec<&str> = path[..path.len().saturating_sub(1)]
        .iter()
        .map(String::as_str)
        .collect();
    path.last().map(String::as_str) == Some("name")
        && crate::edit::lookup(doc, &parent)
            .and_then(|m| m.get("type"))
            .and_then(|t| t.as_str())
            == Some("secret")
}

fn fields(
    doc: &serde_yaml::Value,
    registry: &[SecretPolicy],
    journey: &str,
    form: Option<&FormData>,
) -> Vec<EditField> {
    leaves(doc)
        .into_iter()
        .enumerate()
        .map(|(i, (path, value))| {
            let name = format!("f:{}", path.join("/"));
            let value = form.map_or_else(|| text_of(&value), |f| f.get(&name).to_string());
            let secrets = if is_secret_name(doc, &path) {
                registry
                    .iter()
                    .map(|s| {
                        let allowed = s.journeys.as_ref().is_none_or(|globs| {
                            globs.iter().any(|g| {
                                globset::Glob::new(g)
                                    .map(|g| g.compile_matcher().is_match(journey))
                                    .unwrap_or(false)
                            })
                        }) && !s.disabled;
                        SourceOption {
                            value: s.name.clone(),
                            label: if allowed {
                                s.name.clone()
                            } else {
                                format!("{} (not allowed for this journey)", s.name)
                            },
                            disabled: !allowed,
                            selected: s.name == value,
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            EditField {
                id: format!("field-{i}"),
                name,
                label: path.join("."),
                value,
                secrets,
            }
        })
        .collect()
}

/// `GET /build/{project}/edit/{journey}`.
pub async fn page(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path((project, journey)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (_, text) = journey_text(&state, &project, &journey).await?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or(serde_yaml::Value::Null);
    let registry = registry::all(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let page = page::BuildEdit {
        chrome: signed.chrome(),
        fields: fields(&doc, &registry, &journey, None),
        base: hash_token(&text),
        project,
        journey,
        diff: None,
        error: None,
        notice: None,
    };
    Ok(render(&page))
}

/// Apply the form's changed values to `text`, one by one, in place.
fn apply(text: &str, form: &FormData) -> Result<String, String> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("the journey does not parse: {e}"))?;
    let mut edited = text.to_string();
    for (path, old) in leaves(&doc) {
        let typed = form.get(&format!("f:{}", path.join("/")));
        if typed == text_of(&old) {
            continue;
        }
        // The new value keeps the old one's kind: a number stays a number.
        let new: serde_yaml::Value = match old {
            serde_yaml::Value::String(_) | serde_yaml::Value::Null => typed.into(),
            _ => serde_yaml::from_str(typed)
                .ok()
                .filter(|new: &serde_yaml::Value| {
                    std::mem::discriminant(new) == std::mem::discriminant(&old)
                })
                .ok_or_else(|| format!("`{}` must be a {}", path.join("."), kind(&old)))?,
        };
        if let serde_yaml::Value::String(s) = &new
            && let Some(what) = credentials::shaped_like_credential(s)
        {
            return Err(format!(
                "`{}`: this looks like a credential ({what}). A journey never holds one: register it as a secret and reference it by name.",
                path.join(".")
            ));
        }
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        edited = replace_scalar(&edited, &keys, &new)?;
    }
    Ok(edited)
}

fn kind(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Number(_) => "number",
        serde_yaml::Value::Bool(_) => "true or false",
        _ => "value",
    }
}

/// `POST /build/{project}/edit/{journey}`: show the changes, or (with
/// `confirm`) check and save them.
pub async fn save(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path((project, journey)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    let (stored, text) = journey_text(&state, &project, &journey).await?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or(serde_yaml::Value::Null);
    let registry = registry::all(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let answer = |status: StatusCode,
                  diff: Option<String>,
                  error: Option<String>,
                  notice: Option<String>,
                  keep: bool| {
        let page = page::BuildEdit {
            chrome: signed.chrome(),
            fields: fields(&doc, &registry, &journey, keep.then_some(&form)),
            base: hash_token(&text),
            project: project.clone(),
            journey: journey.clone(),
            diff,
            error,
            notice,
        };
        (status, render(&page)).into_response()
    };
    if form.get("base") != hash_token(&text) {
        let why = "The journey changed since this page was read (someone saved it, or it was uploaded again). Its values are shown as they are now; make your change again.";
        return Ok(answer(
            StatusCode::CONFLICT,
            None,
            Some(why.into()),
            None,
            false,
        ));
    }
    let edited = match apply(&text, &form) {
        Ok(edited) => edited,
        Err(why) => return Ok(answer(StatusCode::BAD_REQUEST, None, Some(why), None, true)),
    };
    if edited == text {
        return Ok(answer(
            StatusCode::OK,
            None,
            None,
            Some("Nothing changed.".into()),
            false,
        ));
    }
    let changes = diff(&text, &edited);
    if form.get("confirm") != "yes" {
        return Ok(answer(StatusCode::OK, Some(changes), None, None, true));
    }
    // `reqflo check` with the server's registry before anything is stored.
    let mut files = stored.files.clone();
    files.insert(format!("journeys/{journey}.yaml"), edited.clone());
    let candidate =
        StoredProject::from_files(files).map_err(|r| refuse(StatusCode::BAD_REQUEST, &r.0))?;
    let environments = candidate.environment_names();
    let mut environments: Vec<Option<&str>> =
        environments.iter().map(|e| Some(e.as_str())).collect();
    if environments.is_empty() {
        environments.push(None);
    }
    for environment in environments {
        let checked = candidate
            .compose(&registry, &state.config.providers)
            .and_then(|p| {
                plan_all(
                    &p,
                    std::slice::from_ref(&journey),
                    environment,
                    &IndexMap::new(),
                    &IndexMap::new(),
                    InputMode::Check,
                )
            });
        if let Err(e) = checked {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                Some(changes),
                Some(e.to_string()),
                None,
                true,
            ));
        }
    }
    let json = serde_json::to_string(&candidate)
        .map_err(|e| ApiError::internal(e.to_string()).into_response())?;
    // Written only if the row still holds what was read: two saves racing
    // cannot both win.
    let before = serde_json::to_string(&stored)
        .map_err(|e| ApiError::internal(e.to_string()).into_response())?;
    let done = sqlx::query("UPDATE projects SET files = $1, uploaded_at = $2, uploaded_by = $3 WHERE name = $4 AND files = $5")
        .bind(&json)
        .bind(crate::db::now())
        .bind(signed.caller.actor())
        .bind(&project)
        .bind(&before)
        .execute(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    if done.rows_affected() == 0 {
        let why = "The project changed while saving; nothing was written. Reload and make your change again.";
        return Ok(answer(
            StatusCode::CONFLICT,
            None,
            Some(why.into()),
            None,
            false,
        ));
    }
    crate::api::record(
        &state.db,
        &signed.caller.actor(),
        "project.uploaded",
        &project,
        serde_json::json!({"journey": journey, "edited": "web UI"}),
    )
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    let doc_after: serde_yaml::Value =
        serde_yaml::from_str(&edited).unwrap_or(serde_yaml::Value::Null);
    let page = page::BuildEdit {
        chrome: signed.chrome(),
        fields: fields(&doc_after, &registry, &journey, None),
        base: hash_token(&edited),
        project: project.clone(),
        journey: journey.clone(),
        diff: Some(changes),
        error: None,
        notice: Some("Saved.".into()),
    };
    Ok(render(&page))
}
