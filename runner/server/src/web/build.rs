//! Build mode: a builder composes a new journey in the browser. Two forms:
//! first its name, environment and steps (each a template), then, for every
//! placeholder of every step, where its value comes from: a literal, a run
//! input, a secret by name (the picker offers only the secrets this journey
//! may use here and that may go to the step's host; the others are listed
//! disabled with the reason), a capture of an earlier step, the
//! environment's variable, or a generated value. The journey is written as
//! YAML that names secrets and never holds one, checked like `reqflo check`
//! before it is stored.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;

use super::draft::{denied, environment_variables, journey_yaml, template_facts};
use super::page::{self, Choice, PlaceholderView, SourceOption, StepDraft};
use super::save::Refusal;
use super::session::{Signed, refuse};
use super::{FormData, render};
use crate::api::projects::{Origin, load};
use crate::auth::Builder;
use crate::credentials;
use crate::error::ApiError;
use crate::project::{StoredProject, plan_all};
use crate::registry::{self, SecretPolicy};
use crate::state::AppState;
use reqflo_core::plan::InputMode;

/// Steps a new journey starts with.
const FIRST_STEPS: usize = 2;

/// An uploaded project, which the UI may change (a served folder is
/// changed where it lives).
pub(super) async fn editable(state: &AppState, name: &str) -> Result<StoredProject, Response> {
    match load(state, name)
        .await
        .map_err(IntoResponse::into_response)?
    {
        Some((stored, Origin::Uploaded { .. })) => Ok(stored),
        Some((_, Origin::Folder(_))) => Err(refuse(
            StatusCode::CONFLICT,
            "This project is served from a folder: edit its files there.",
        )),
        None => Err(refuse(StatusCode::NOT_FOUND, "There is no such project.")),
    }
}

/// `GET /build/{project}`: name the journey, pick the environment and each
/// step's template.
pub async fn new_journey(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path(project): Path<String>,
) -> Result<Response, Response> {
    let stored = editable(&state, &project).await?;
    let drafts: Vec<StepDraft> = (0..FIRST_STEPS)
        .map(|i| StepDraft {
            index: i,
            id: format!("step-{}", i + 1),
            template: String::new(),
        })
        .collect();
    Ok(render(&first_page(
        &signed, &project, &stored, "", "", drafts, None,
    )))
}

fn first_page(
    signed: &Signed<Builder>,
    project: &str,
    stored: &StoredProject,
    journey: &str,
    environment: &str,
    steps: Vec<StepDraft>,
    error: Option<String>,
) -> page::BuildSteps {
    page::BuildSteps {
        chrome: signed.chrome(),
        project: project.to_string(),
        journey: journey.to_string(),
        environments: stored
            .environment_names()
            .into_iter()
            .map(|e| Choice {
                selected: e == environment,
                value: e,
            })
            .collect(),
        templates: stored.template_names(),
        steps,
        error,
    }
}

/// The steps a form describes: `step_N_id` and `step_N_template`.
fn drafts(form: &FormData) -> Vec<StepDraft> {
    let count: usize = form
        .get("steps")
        .parse()
        .unwrap_or(FIRST_STEPS)
        .clamp(1, 50);
    (0..count)
        .map(|i| StepDraft {
            index: i,
            id: form.get(&format!("step_{i}_id")).trim().to_string(),
            template: form.get(&format!("step_{i}_template")).to_string(),
        })
        .collect()
}

/// `POST /build/{project}`: more steps, or on to the values.
pub async fn values(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path(project): Path<String>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    let stored = editable(&state, &project).await?;
    let journey = form.get("journey").trim().to_string();
    let environment = form.get("environment").to_string();
    let mut steps = drafts(&form);
    if form.get("more") == "yes" {
        let i = steps.len();
        steps.push(StepDraft {
            index: i,
            id: format!("step-{}", i + 1),
            template: String::new(),
        });
        return Ok(render(&first_page(
            &signed,
            &project,
            &stored,
            &journey,
            &environment,
            steps,
            None,
        )));
    }
    let problem = check_first(&stored, &journey, &steps);
    if let Some(error) = problem {
        let page = first_page(
            &signed,
            &project,
            &stored,
            &journey,
            &environment,
            steps,
            Some(error),
        );
        return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
    }
    let registry = registry::all(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let page = second_page(
        &signed,
        &project,
        &stored,
        &registry,
        &journey,
        &environment,
        &steps,
        &form,
        None,
    );
    Ok(render(&page))
}

/// A name a journey or step may have: letters, digits, `-` and `_`.
pub(super) fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

fn check_first(stored: &StoredProject, journey: &str, steps: &[StepDraft]) -> Option<String> {
    let plain = plain_name;
    if !plain(journey) {
        return Some("The journey's name: letters, digits, `-` and `_`.".into());
    }
    if stored.journey_names().iter().any(|j| j == journey) {
        return Some(format!(
            "Journey `{journey}` exists in this project; choose another name."
        ));
    }
    let templates = stored.template_names();
    for step in steps {
        if !plain(&step.id) {
            return Some(format!(
                "Step {}: its id: letters, digits, `-` and `_`.",
                step.index + 1
            ));
        }
        if !templates.contains(&step.template) {
            return Some(format!(
                "Step `{}`: choose one of the project's templates.",
                step.id
            ));
        }
    }
    let mut ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    (ids.len() != steps.len()).then(|| "Two steps have the same id.".to_string())
}

/// The kinds of value source, as the form names them.
const SOURCES: &[(&str, &str)] = &[
    ("variable", "the environment's variable"),
    ("literal", "a literal (stored in the journey)"),
    ("input", "a run input"),
    ("secret", "a secret, by name"),
    ("capture", "a capture of an earlier step"),
    ("generate", "generated: a UUID"),
];

#[allow(clippy::too_many_arguments)]
fn second_page(
    signed: &Signed<Builder>,
    project: &str,
    stored: &StoredProject,
    registry: &[SecretPolicy],
    journey: &str,
    environment: &str,
    steps: &[StepDraft],
    form: &FormData,
    error: Option<String>,
) -> page::BuildValues {
    let mut views = Vec::new();
    let mut earlier_captures: Vec<(String, String)> = Vec::new();
    for step in steps {
        let view = step_view(
            stored,
            registry,
            journey,
            environment,
            step,
            form,
            &earlier_captures,
        );
        for line in view.captures.lines() {
            if let Some((name, _)) = line.split_once('=') {
                earlier_captures.push((step.id.clone(), name.trim().to_string()));
            }
        }
        views.push(view);
    }
    page::BuildValues {
        chrome: signed.chrome(),
        project: project.to_string(),
        journey: journey.to_string(),
        environment: environment.to_string(),
        count: steps.len(),
        steps: views,
        error,
        saved: None,
    }
}

/// One step's value sources as the form has them: a source per
/// placeholder, the secret picker (what this journey may use here and send
/// to the step's host; the rest disabled with the reason), the capture
/// picker (`earlier_captures`: step id and capture name), its captures and
/// expected status.
#[allow(clippy::too_many_arguments)]
pub(super) fn step_view(
    stored: &StoredProject,
    registry: &[SecretPolicy],
    journey: &str,
    environment: &str,
    step: &StepDraft,
    form: &FormData,
    earlier_captures: &[(String, String)],
) -> page::StepValues {
    let variables = environment_variables(stored, environment);
    let (placeholders, host) = template_facts(stored, &step.template, environment);
    let mut fields = Vec::new();
    for name in placeholders {
        let key = format!("v_{}_{name}", step.index);
        let chosen = form.get(&format!("{key}_source"));
        let default = if variables.contains_key(&name) {
            "variable"
        } else {
            "literal"
        };
        let source = if chosen.is_empty() { default } else { chosen };
        let secrets = registry
            .iter()
            .map(|s| {
                let why = denied(s, journey, environment, host.as_deref());
                SourceOption {
                    value: s.name.clone(),
                    label: match &why {
                        Some(why) => format!("{} (not allowed: {why})", s.name),
                        None => s.name.clone(),
                    },
                    disabled: why.is_some(),
                    selected: form.get(&format!("{key}_secret")) == s.name,
                }
            })
            .collect();
        let captures = earlier_captures
            .iter()
            .map(|(step_id, capture)| {
                let value = format!("{step_id}.{capture}");
                SourceOption {
                    selected: form.get(&format!("{key}_capture")) == value,
                    label: format!("{capture} (from {step_id})"),
                    value,
                    disabled: false,
                }
            })
            .collect();
        fields.push(PlaceholderView {
            key: key.clone(),
            name: name.clone(),
            sources: SOURCES
                .iter()
                .filter(|(kind, _)| *kind != "variable" || variables.contains_key(&name))
                .map(|(kind, label)| SourceOption {
                    value: kind.to_string(),
                    label: label.to_string(),
                    disabled: false,
                    selected: *kind == source,
                })
                .collect(),
            // A pasted credential is refused, and not shown again.
            literal: Some(form.get(&format!("{key}_literal")))
                .filter(|l| credentials::shaped_like_credential(l).is_none())
                .unwrap_or("")
                .to_string(),
            input: form.get(&format!("{key}_input")).to_string(),
            secrets,
            captures,
            error: None,
        });
    }
    page::StepValues {
        index: step.index,
        id: step.id.clone(),
        template: step.template.clone(),
        host: host.unwrap_or_else(|| "an unknown host".into()),
        fields,
        captures: form.get(&format!("c_{}", step.index)).to_string(),
        status: form.get(&format!("s_{}", step.index)).to_string(),
    }
}

/// `POST /build/{project}/save`: write the journey, checked first.
pub async fn save(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path(project): Path<String>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    let stored = editable(&state, &project).await?;
    let journey = form.get("journey").trim().to_string();
    let environment = form.get("environment").to_string();
    let steps = drafts(&form);
    let registry = registry::all(&state.db)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    // The check's error, also at the placeholder it names (`v_STEP_NAME`).
    let refuse_at = |error: String, at: Option<(String, String)>| -> Response {
        let mut page = second_page(
            &signed,
            &project,
            &stored,
            &registry,
            &journey,
            &environment,
            &steps,
            &form,
            Some(error),
        );
        if let Some((key, why)) = at {
            let fields = page.steps.iter_mut().flat_map(|s| s.fields.iter_mut());
            if let Some(field) = fields.into_iter().find(|f| f.key == key) {
                field.error = Some(why);
            }
        }
        (StatusCode::BAD_REQUEST, render(&page)).into_response()
    };
    let refuse_with = |error: String| refuse_at(error, None);
    if let Some(error) = check_first(&stored, &journey, &steps) {
        return Ok(refuse_with(error));
    }
    let yaml = match journey_yaml(&form, &steps, &stored, &environment) {
        Ok(yaml) => yaml,
        Err(error) => return Ok(refuse_with(error)),
    };
    let mut files = stored.files.clone();
    files.insert(format!("journeys/{journey}.yaml"), yaml.clone());
    let candidate = match StoredProject::from_files(files) {
        Ok(candidate) => candidate,
        Err(refused) => return Ok(refuse_with(refused.0)),
    };
    // `reqflo check`, with the server's registry: a secret the journey may not
    // use is refused now, not at its first run.
    let checked = candidate
        .compose(&registry, &state.config.providers)
        .and_then(|p| {
            plan_all(
                &p,
                std::slice::from_ref(&journey),
                Some(&environment),
                &IndexMap::new(),
                &IndexMap::new(),
                InputMode::Check,
            )
        });
    let plans = match checked {
        Ok(plans) => plans,
        Err(e) => {
            let refusal = Refusal::of(&e, &format!("journeys/{journey}.yaml"), &yaml);
            let at = refusal.at.and_then(|(path, why)| match path.as_slice() {
                [steps, step, values, name, ..] if steps == "steps" && values == "values" => {
                    Some((format!("v_{step}_{name}"), why))
                }
                _ => None,
            });
            return Ok(refuse_at(refusal.message, at));
        }
    };
    if let Some(why) = registry::refusal(&plans, &registry) {
        return Ok(refuse_with(why));
    }
    let text = serde_json::to_string(&candidate)
        .map_err(|e| ApiError::internal(e.to_string()).into_response())?;
    sqlx::query(
        "UPDATE projects SET files = $1, uploaded_at = $2, uploaded_by = $3 WHERE name = $4",
    )
    .bind(&text)
    .bind(crate::db::now())
    .bind(signed.caller.actor())
    .bind(&project)
    .execute(&state.db)
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    crate::api::record(
        &state.db,
        &signed.caller.actor(),
        "project.uploaded",
        &project,
        serde_json::json!({"journey": journey, "built": "web UI"}),
    )
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    let mut page = second_page(
        &signed,
        &project,
        &stored,
        &registry,
        &journey,
        &environment,
        &steps,
        &form,
        None,
    );
    page.saved = Some(yaml);
    Ok(render(&page))
}
