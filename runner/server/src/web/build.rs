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

use super::page::{self, Choice, PlaceholderView, SourceOption, StepDraft};
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
use reqflo_core::project::PROJECT_FILE;

/// Steps a new journey starts with.
const FIRST_STEPS: usize = 2;

async fn editable(state: &AppState, name: &str) -> Result<StoredProject, Response> {
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

fn check_first(stored: &StoredProject, journey: &str, steps: &[StepDraft]) -> Option<String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    };
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

/// A template's placeholders and the host its URL goes to in `environment`.
fn template_facts(
    stored: &StoredProject,
    template: &str,
    environment: &str,
) -> (Vec<String>, Option<String>) {
    let Some(text) = stored.files.get(&format!("templates/{template}.yaml")) else {
        return (Vec::new(), None);
    };
    let mut names: Vec<String> = Vec::new();
    for part in text.split("{{").skip(1) {
        if let Some((name, _)) = part.split_once("}}") {
            let name = name.trim().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let url = serde_yaml::from_str::<serde_yaml::Value>(text)
        .ok()
        .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_string))
        .unwrap_or_default();
    let variables = environment_variables(stored, environment);
    let mut resolved = url;
    for (name, value) in &variables {
        resolved = resolved.replace(&format!("{{{{{name}}}}}"), value);
    }
    let host = resolved
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or("").to_string())
        .filter(|h| !h.contains("{{") && !h.is_empty());
    (names, host)
}

fn environment_variables(stored: &StoredProject, environment: &str) -> IndexMap<String, String> {
    let text = stored.files.get(PROJECT_FILE).map_or("", String::as_str);
    let config: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or(serde_yaml::Value::Null);
    config
        .get("environments")
        .and_then(|e| e.get(environment))
        .and_then(|e| e.get("variables"))
        .and_then(|v| v.as_mapping())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let value = match v {
                        serde_yaml::Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    k.as_str().map(|k| (k.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Why `secret` may not be used by `journey` in `environment` towards
/// `host`, or `None` when it may.
fn denied(
    secret: &SecretPolicy,
    journey: &str,
    environment: &str,
    host: Option<&str>,
) -> Option<String> {
    let matches = |pattern: &str, name: &str| {
        globset::Glob::new(pattern)
            .map(|g| g.compile_matcher().is_match(name))
            .unwrap_or(false)
    };
    if secret.disabled {
        return Some("disabled".into());
    }
    if let Some(globs) = &secret.journeys
        && !globs.iter().any(|g| matches(g, journey))
    {
        return Some(format!("only for journeys {}", globs.join(", ")));
    }
    if let Some(envs) = &secret.environments
        && !envs.iter().any(|e| matches(e, environment))
    {
        return Some(format!("only in environments {}", envs.join(", ")));
    }
    if let (Some(hosts), Some(host)) = (&secret.hosts, host) {
        let bare = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !hosts
            .iter()
            .any(|h| h == host || h == bare || matches(h, bare))
        {
            return Some(format!(
                "may be sent only to {}, not {host}",
                hosts.join(", ")
            ));
        }
    }
    None
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
    let variables = environment_variables(stored, environment);
    let mut views = Vec::new();
    let mut earlier_captures: Vec<(String, String)> = Vec::new();
    for step in steps {
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
            });
        }
        let captures_text = form.get(&format!("c_{}", step.index)).to_string();
        for line in captures_text.lines() {
            if let Some((name, _)) = line.split_once('=') {
                earlier_captures.push((step.id.clone(), name.trim().to_string()));
            }
        }
        views.push(page::StepValues {
            index: step.index,
            id: step.id.clone(),
            template: step.template.clone(),
            host: host.unwrap_or_else(|| "an unknown host".into()),
            fields,
            captures: captures_text,
            status: form.get(&format!("s_{}", step.index)).to_string(),
        });
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

/// The journey the second form describes, as YAML, or why not.
fn journey_yaml(
    form: &FormData,
    steps: &[StepDraft],
    stored: &StoredProject,
    environment: &str,
) -> Result<String, String> {
    let mut out = serde_yaml::Mapping::new();
    out.insert(
        "description".into(),
        format!("Built in the web UI ({} steps)", steps.len()).into(),
    );
    let mut list = Vec::new();
    for step in steps {
        let mut map = serde_yaml::Mapping::new();
        map.insert("id".into(), step.id.clone().into());
        map.insert("template".into(), step.template.clone().into());
        let (placeholders, _) = template_facts(stored, &step.template, environment);
        let mut values = serde_yaml::Mapping::new();
        for name in placeholders {
            let key = format!("v_{}_{name}", step.index);
            let mut source = serde_yaml::Mapping::new();
            match form.get(&format!("{key}_source")) {
                "variable" | "" => continue,
                "literal" => {
                    let literal = form.get(&format!("{key}_literal"));
                    if let Some(what) = credentials::shaped_like_credential(literal) {
                        return Err(format!(
                            "Step `{}`, `{name}`: this literal looks like a credential ({what}). A journey never holds one: register it as a secret (Admin > Secrets management) and choose \"a secret, by name\".",
                            step.id
                        ));
                    }
                    // Typed as YAML reads it: `1200` a number, `true` a
                    // boolean, anything else text.
                    let typed = match serde_yaml::from_str::<serde_yaml::Value>(literal) {
                        Ok(v @ (serde_yaml::Value::Number(_) | serde_yaml::Value::Bool(_))) => v,
                        _ => literal.into(),
                    };
                    values.insert(name.clone().into(), typed);
                    continue;
                }
                "input" => {
                    let input = form.get(&format!("{key}_input")).trim();
                    source.insert("type".into(), "input".into());
                    source.insert(
                        "name".into(),
                        if input.is_empty() {
                            name.clone()
                        } else {
                            input.to_string()
                        }
                        .into(),
                    );
                }
                "secret" => {
                    let secret = form.get(&format!("{key}_secret"));
                    if secret.is_empty() {
                        return Err(format!("Step `{}`, `{name}`: choose a secret.", step.id));
                    }
                    source.insert("type".into(), "secret".into());
                    source.insert("name".into(), secret.into());
                }
                "capture" => {
                    let Some((from, capture)) = form.get(&format!("{key}_capture")).split_once('.')
                    else {
                        return Err(format!(
                            "Step `{}`, `{name}`: choose a capture of an earlier step.",
                            step.id
                        ));
                    };
                    source.insert("type".into(), "capture".into());
                    source.insert("step".into(), from.into());
                    source.insert("name".into(), capture.into());
                }
                "generate" => {
                    source.insert("type".into(), "generate".into());
                    source.insert("kind".into(), "uuid".into());
                }
                other => {
                    return Err(format!(
                        "Step `{}`, `{name}`: unknown source `{other}`.",
                        step.id
                    ));
                }
            }
            values.insert(name.clone().into(), serde_yaml::Value::Mapping(source));
        }
        if !values.is_empty() {
            map.insert("values".into(), serde_yaml::Value::Mapping(values));
        }
        let mut captures = serde_yaml::Mapping::new();
        for line in form
            .get(&format!("c_{}", step.index))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let Some((name, path)) = line.split_once('=') else {
                return Err(format!(
                    "Step `{}`: a capture is `name = $.json.path`.",
                    step.id
                ));
            };
            captures.insert(name.trim().into(), path.trim().into());
        }
        if !captures.is_empty() {
            map.insert("capture".into(), serde_yaml::Value::Mapping(captures));
        }
        let status = form.get(&format!("s_{}", step.index)).trim();
        if !status.is_empty() {
            let code: u16 = status
                .parse()
                .map_err(|_| format!("Step `{}`: the expected status is a number.", step.id))?;
            let mut expect = serde_yaml::Mapping::new();
            expect.insert(
                "status".into(),
                serde_yaml::Value::Number(u64::from(code).into()),
            );
            map.insert("expect".into(), serde_yaml::Value::Mapping(expect));
        }
        list.push(serde_yaml::Value::Mapping(map));
    }
    out.insert("steps".into(), serde_yaml::Value::Sequence(list));
    serde_yaml::to_string(&out).map_err(|e| e.to_string())
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
    let refuse_with = |error: String| -> Response {
        let page = second_page(
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
        (StatusCode::BAD_REQUEST, render(&page)).into_response()
    };
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
        Err(e) => return Ok(refuse_with(e.to_string())),
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
