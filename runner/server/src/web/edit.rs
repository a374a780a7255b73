//! Editing an existing journey in place: every value of its steps as a
//! field (a secret's name as the policy-aware picker), the lines that would
//! change shown before saving, each change written into the file by its
//! byte range (comments, order and formatting kept), and a save refused when
//! the file changed since the page was read.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::draft::step_value;
use super::page::{self, EditField, SourceOption, StepDraft};
use super::save::{Refusal, check_file, store};
use super::session::{Signed, refuse};
use super::{FormData, build, render};
use crate::auth::{Builder, hash_token};
use crate::blocks::{StepChange, change_steps, insert_entry};
use crate::credentials;
use crate::edit::{diff, replace_scalar};
use crate::error::ApiError;
use crate::project::StoredProject;
use crate::registry::{self, SecretPolicy};
use crate::state::AppState;

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

pub(super) fn text_of(value: &serde_yaml::Value) -> String {
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
    field_error: Option<&(String, String)>,
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
                error: field_error
                    .filter(|(field, _)| *field == name)
                    .map(|(_, why)| why.clone()),
                name,
                label: path.join("."),
                value,
                secrets,
            }
        })
        .collect()
}

/// What an edit page shows besides the values.
struct Extra {
    diff: Option<String>,
    /// The diff waits for "Save these changes" (else it is what was saved).
    confirming: bool,
    /// A check's error at the field it names (`f:` and the path).
    field_error: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
    pending: String,
    adding: Option<StepDraft>,
}

impl Extra {
    fn none() -> Extra {
        Extra {
            diff: None,
            confirming: false,
            field_error: None,
            error: None,
            notice: None,
            pending: String::new(),
            adding: None,
        }
    }
}

/// Everything an edit page needs.
struct Editing<'a> {
    signed: &'a Signed<Builder>,
    stored: &'a StoredProject,
    registry: &'a [SecretPolicy],
    project: &'a str,
    journey: &'a str,
}

impl Editing<'_> {
    /// The page for `text` (values as typed in `form` when given).
    fn page(&self, text: &str, form: Option<&FormData>, extra: Extra) -> page::BuildEdit {
        let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or(serde_yaml::Value::Null);
        let environment = self.environment(form);
        let typed = |name: &str| form.map(|f| f.get(name).to_string()).unwrap_or_default();
        let adding = extra.adding.as_ref().map(|draft| {
            let empty = FormData::default();
            build::step_view(
                self.stored,
                self.registry,
                self.journey,
                &environment,
                draft,
                form.unwrap_or(&empty),
                &captures_of(&doc),
            )
        });
        page::BuildEdit {
            chrome: self.signed.chrome(),
            fields: fields(
                &doc,
                self.registry,
                self.journey,
                form,
                extra.field_error.as_ref(),
            ),
            base: hash_token(text),
            project: self.project.to_string(),
            journey: self.journey.to_string(),
            confirming: extra.confirming && extra.diff.is_some(),
            diff: extra.diff,
            error: extra.error,
            notice: extra.notice,
            steps: rows(&doc),
            pending: extra.pending,
            adding,
            templates: self.stored.template_names(),
            environments: self
                .stored
                .environment_names()
                .into_iter()
                .map(|e| page::Choice {
                    selected: e == environment,
                    value: e,
                })
                .collect(),
            environment,
            add_id: typed("add_id"),
            entry_kinds: ENTRY_KINDS
                .iter()
                .map(|(value, label)| page::SourceOption {
                    value: value.to_string(),
                    label: label.to_string(),
                    disabled: false,
                    selected: form.is_some_and(|f| f.get("entry_kind") == *value),
                })
                .collect(),
            entry_step: typed("entry_step"),
            entry_name: typed("entry_name"),
            // A refused credential is not shown again.
            entry_value: Some(typed("entry_value"))
                .filter(|v| credentials::shaped_like_credential(v).is_none())
                .unwrap_or_default(),
        }
    }

    /// The environment a new step's pickers answer for: the one chosen, else
    /// the project's first.
    fn environment(&self, form: Option<&FormData>) -> String {
        let names = self.stored.environment_names();
        let chosen = form.map(|f| f.get("add_environment")).unwrap_or_default();
        if names.iter().any(|n| n == chosen) {
            return chosen.to_string();
        }
        names.into_iter().next().unwrap_or_default()
    }
}

/// The steps as rows: id (or place) and template.
fn rows(doc: &serde_yaml::Value) -> Vec<page::StepRow> {
    let steps = doc
        .get("steps")
        .and_then(serde_yaml::Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default();
    steps
        .iter()
        .enumerate()
        .map(|(index, step)| page::StepRow {
            index,
            id: step
                .get("id")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("{}", index + 1), str::to_string),
            template: step
                .get("template")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_string(),
            first: index == 0,
            last: index + 1 == steps.len(),
        })
        .collect()
}

/// Every capture of the journey's steps that have an id: (step, capture).
fn captures_of(doc: &serde_yaml::Value) -> Vec<(String, String)> {
    let steps = doc
        .get("steps")
        .and_then(serde_yaml::Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = Vec::new();
    for step in steps {
        let (Some(id), Some(captures)) = (
            step.get("id").and_then(|v| v.as_str()),
            step.get("capture").and_then(|v| v.as_mapping()),
        ) else {
            continue;
        };
        for name in captures.keys().filter_map(|k| k.as_str()) {
            out.push((id.to_string(), name.to_string()));
        }
    }
    out
}

/// `GET /build/{project}/edit/{journey}`.
pub async fn page(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path((project, journey)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (stored, text) = journey_text(&state, &project, &journey).await?;
    let registry = registry::all(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let editing = Editing {
        signed: &signed,
        stored: &stored,
        registry: &registry,
        project: &project,
        journey: &journey,
    };
    Ok(render(&editing.page(&text, None, Extra::none())))
}

/// The step the "Add a step" part describes: first its id and template
/// (`add_id`, `add_template`), then with its value sources (`adding`, and
/// the fields of step `count`, after the last).
fn new_step(
    form: &FormData,
    doc: &serde_yaml::Value,
    stored: &StoredProject,
) -> Result<StepDraft, String> {
    let count = rows(doc).len();
    let adding = form.get("adding") == "yes";
    let (id, template) = if adding {
        (
            form.get(&format!("step_{count}_id")),
            form.get(&format!("step_{count}_template")),
        )
    } else {
        (form.get("add_id").trim(), form.get("add_template"))
    };
    if !build::plain_name(id) {
        return Err("The new step's id: letters, digits, `-` and `_`.".into());
    }
    if rows(doc).iter().any(|row| row.id == id) {
        return Err(format!(
            "A step with id `{id}` exists in this journey; choose another."
        ));
    }
    if !stored.template_names().iter().any(|t| t == template) {
        return Err("The new step's template: choose one of the project's templates.".into());
    }
    Ok(StepDraft {
        index: count,
        id: id.to_string(),
        template: template.to_string(),
    })
}

/// Apply the form's changed values to `text`, one by one, in place.
fn apply(text: &str, form: &FormData) -> Result<String, String> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("the journey does not parse: {e}"))?;
    apply_to(
        text,
        form,
        leaves(&doc),
        credentials::shaped_like_credential,
    )
}

/// Apply the form's changed values (fields `f:` and the path) among
/// `leaves` to `text`, one by one, in place; a new text value that `guard`
/// says looks like a credential is refused.
pub(super) fn apply_to(
    text: &str,
    form: &FormData,
    leaves: Vec<(Vec<String>, serde_yaml::Value)>,
    guard: fn(&str) -> Option<&'static str>,
) -> Result<String, String> {
    let mut edited = text.to_string();
    for (path, old) in leaves {
        // A field the form does not have is left as it is.
        let Some(typed) = form.field(&format!("f:{}", path.join("/"))) else {
            continue;
        };
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
            && let Some(what) = guard(s)
        {
            return Err(format!(
                "`{}`: this looks like a credential ({what}). A journey or template never holds one: register it as a secret and reference it by name.",
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

/// `POST /build/{project}/edit/{journey}`: show the changes (values, and a
/// step added, removed or moved), or (with `confirm`) check and save them.
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
    let editing = Editing {
        signed: &signed,
        stored: &stored,
        registry: &registry,
        project: &project,
        journey: &journey,
    };
    let op = form.get("step").to_string();
    let answer = |status: StatusCode, extra: Extra, keep: bool| {
        let page = editing.page(&text, keep.then_some(&form), extra);
        (status, render(&page)).into_response()
    };
    // With the page's part for a new step, while one is being added.
    let extra = |diff: Option<String>, error: Option<String>| Extra {
        confirming: diff.is_some(),
        field_error: None,
        diff,
        error,
        notice: None,
        pending: op.clone(),
        adding: (op == "add")
            .then(|| new_step(&form, &doc, &stored).ok())
            .flatten(),
    };
    if form.get("base") != hash_token(&text) {
        let why = "The journey changed since this page was read (someone saved it, or it was uploaded again). Its values are shown as they are now; make your change again.";
        let mut refused = Extra::none();
        refused.error = Some(why.into());
        return Ok(answer(StatusCode::CONFLICT, refused, false));
    }
    if op == "add" && form.get("adding") != "yes" {
        // First the new step's id and template, then its value sources.
        return Ok(match new_step(&form, &doc, &stored) {
            Ok(_) => answer(StatusCode::OK, extra(None, None), true),
            Err(why) => answer(
                StatusCode::BAD_REQUEST,
                Extra {
                    pending: String::new(),
                    ..extra(None, Some(why))
                },
                true,
            ),
        });
    }
    let edited = match apply(&text, &form).and_then(|edited| {
        restructure(
            &edited,
            &op,
            &form,
            &doc,
            &stored,
            &editing.environment(Some(&form)),
        )
    }) {
        Ok(edited) => edited,
        Err(why) => {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                extra(None, Some(why)),
                true,
            ));
        }
    };
    if edited == text {
        let mut nothing = Extra::none();
        nothing.notice = Some("Nothing changed.".into());
        return Ok(answer(StatusCode::OK, nothing, false));
    }
    let changes = diff(&text, &edited);
    if form.get("confirm") != "yes" {
        return Ok(answer(StatusCode::OK, extra(Some(changes), None), true));
    }
    // `reqflo check` with the server's registry before anything is stored.
    if let Err(refusal) = check(&state, &stored, &registry, &journey, &edited) {
        let mut refused = extra(Some(changes), Some(refusal.message.clone()));
        refused.field_error = refusal.field();
        return Ok(answer(StatusCode::BAD_REQUEST, refused, true));
    }
    let file = format!("journeys/{journey}.yaml");
    if !store(&state, &signed, &project, &file, &stored, &edited).await? {
        let why = "The project changed while saving; nothing was written. Reload and make your change again.";
        let mut refused = Extra::none();
        refused.error = Some(why.into());
        return Ok(answer(StatusCode::CONFLICT, refused, false));
    }
    let mut saved = Extra::none();
    saved.diff = Some(changes);
    saved.notice = Some("Saved.".into());
    Ok(render(&editing.page(&edited, None, saved)))
}

/// The step change the form asks for (`step`), applied to `text`.
fn restructure(
    text: &str,
    op: &str,
    form: &FormData,
    doc: &serde_yaml::Value,
    stored: &StoredProject,
    environment: &str,
) -> Result<String, String> {
    let change = match op {
        "" => return Ok(text.to_string()),
        "add" => {
            let draft = new_step(form, doc, stored)?;
            StepChange::Append(step_value(form, &draft, stored, environment)?)
        }
        "entry" => return add_entry(text, form, doc),
        other => StepChange::parse(other).ok_or("That is not a change to the steps.")?,
    };
    change_steps(text, &change)
}

/// The kinds of entry a step can be given, as the form names them.
pub(super) const ENTRY_KINDS: &[(&str, &str)] = &[
    ("capture", "a capture: name, JSONPath"),
    ("status", "the expected status: value"),
    ("header", "an expected header: name, value"),
    ("json", "an expected JSON value: JSONPath, value"),
];

/// The entry the "Add to a step" part describes, added in place.
fn add_entry(text: &str, form: &FormData, doc: &serde_yaml::Value) -> Result<String, String> {
    let step: usize = form
        .get("entry_step")
        .parse()
        .ok()
        .filter(|i| *i < rows(doc).len())
        .ok_or("Add to a step: choose a step.")?;
    let name = form.get("entry_name").trim();
    let value = form.get("entry_value").trim();
    if let Some(what) = credentials::shaped_like_credential(value) {
        return Err(format!(
            "Add to a step, value: this looks like a credential ({what}). A journey never holds one: register it as a secret."
        ));
    }
    let index = step.to_string();
    let in_step = |rest: &[&'static str]| -> Vec<String> {
        ["steps", index.as_str()]
            .iter()
            .map(|s| s.to_string())
            .chain(rest.iter().map(|s| s.to_string()))
            .collect()
    };
    let typed = |value: &str| match serde_yaml::from_str::<serde_yaml::Value>(value) {
        Ok(v @ (serde_yaml::Value::Number(_) | serde_yaml::Value::Bool(_))) => v,
        _ => value.into(),
    };
    let json_path = |path: &str| -> Result<(), String> {
        path.starts_with('$')
            .then_some(())
            .ok_or_else(|| "Add to a step: a JSONPath starts with `$` (`$.id`).".to_string())
    };
    let (path, key, value) = match form.get("entry_kind") {
        "capture" => {
            if !build::plain_name(name) {
                return Err("Add to a step, name: letters, digits, `-` and `_`.".into());
            }
            json_path(value)?;
            (in_step(&["capture"]), name.to_string(), value.into())
        }
        "status" => {
            let code: u16 = value
                .parse()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or("Add to a step, value: a status is a number from 100 to 599.")?;
            let code = serde_yaml::Value::Number(u64::from(code).into());
            (in_step(&["expect"]), "status".to_string(), code)
        }
        "header" => {
            let plain = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !plain {
                return Err("Add to a step, name: a header name.".into());
            }
            (
                in_step(&["expect", "headers"]),
                name.to_string(),
                value.into(),
            )
        }
        "json" => {
            json_path(name)?;
            (in_step(&["expect", "json"]), name.to_string(), typed(value))
        }
        _ => return Err("Add to a step: choose what to add.".into()),
    };
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    insert_entry(text, &path, &key, value).map_err(|why| format!("Add to a step: {why}."))
}

/// `reqflo check` of the project with `edited` as `journeys/JOURNEY.yaml`,
/// in every environment, with the server's registry.
fn check(
    state: &AppState,
    stored: &StoredProject,
    registry: &[SecretPolicy],
    journey: &str,
    edited: &str,
) -> Result<(), Refusal> {
    let file = format!("journeys/{journey}.yaml");
    check_file(
        state,
        stored,
        registry,
        &file,
        edited,
        &[journey.to_string()],
    )
}
