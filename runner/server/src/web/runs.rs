//! Projects and runs, as pages: start a run, follow it live (the steps part
//! polls itself through htmx while the run is queued or running), the
//! history with filters, a run's steps with their redacted dumps, and its
//! reports.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream::{self, Stream, StreamExt};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

use super::page::{self, Choice, FileView, ProjectRow, RunRow, StepView};
use super::session::{Signed, refuse};
use super::{FormData, render};
use crate::api::projects::{Origin, load};
use crate::api::runs::{NewRun, is_last, submit};
use crate::auth::{Runner, Viewer};
use crate::error::ApiError;
use crate::state::AppState;

const STATUSES: &[&str] = &[
    "queued",
    "running",
    "passed",
    "failed",
    "error",
    "interrupted",
    "cancelled",
    "timed_out",
];

/// `text` matched as itself in a LIKE pattern with `ESCAPE '\'`.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn db_error(e: sqlx::Error) -> Response {
    ApiError::from(e).into_response()
}

fn joined(json: &str) -> String {
    serde_json::from_str::<Vec<String>>(json)
        .map(|l| l.join(", "))
        .unwrap_or_default()
}

/// `GET /projects`.
pub async fn projects(
    State(state): State<AppState>,
    signed: Signed<Viewer>,
) -> Result<Response, Response> {
    let mut projects = Vec::new();
    for name in crate::api::projects::names(&state)
        .await
        .map_err(db_error)?
    {
        let row = match load(&state, &name).await {
            Ok(Some((stored, origin))) => ProjectRow {
                journeys: stored.journey_names().join(", "),
                environments: stored.environment_names().join(", "),
                origin: origin_text(&origin),
                name,
            },
            Ok(None) => continue,
            Err(e) => ProjectRow {
                name,
                journeys: String::new(),
                environments: String::new(),
                origin: e.message,
            },
        };
        projects.push(row);
    }
    Ok(render(&page::Projects {
        chrome: signed.chrome(),
        projects,
    }))
}

fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::Uploaded { at, by } => format!("uploaded {at} by {by}"),
        Origin::Folder(folder) => format!("served from {}", folder.display()),
    }
}

async fn project_page(
    state: &AppState,
    chrome: super::Chrome,
    name: &str,
    error: Option<String>,
) -> Result<Response, Response> {
    let (stored, origin) = load(state, name)
        .await
        .map_err(IntoResponse::into_response)?
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "There is no such project."))?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = page::Project {
        chrome,
        name: name.to_string(),
        origin: origin_text(&origin),
        journeys: stored.journey_names(),
        templates: stored.template_names(),
        environments: stored.environment_names(),
        editable: matches!(origin, Origin::Uploaded { .. }),
        files: stored
            .files
            .iter()
            .map(|(path, text)| FileView {
                path: path.clone(),
                text: text.clone(),
            })
            .collect(),
        error,
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /projects/{name}`: its journeys and files, and a form to run one.
pub async fn project(
    State(state): State<AppState>,
    signed: Signed<Viewer>,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    project_page(&state, signed.chrome(), &name, None).await
}

/// `name=value` lines of a text area.
fn pairs(text: &str) -> Result<IndexMap<String, String>, String> {
    let mut out = IndexMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| {
                format!(
                    "`{}` is not name=value",
                    line.chars().take(40).collect::<String>()
                )
            })?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// `POST /runs`: start a run from a project's page.
pub async fn start(
    State(state): State<AppState>,
    signed: Signed<Runner>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    let project = form.get("project").to_string();
    let (inputs, variables) = match (pairs(form.get("inputs")), pairs(form.get("variables"))) {
        (Ok(i), Ok(v)) => (i, v),
        (Err(e), _) | (_, Err(e)) => {
            return project_page(&state, signed.chrome(), &project, Some(e)).await;
        }
    };
    let environment = Some(form.get("environment").to_string()).filter(|e| !e.is_empty());
    let run = NewRun {
        project: project.clone(),
        journeys: vec![form.get("journey").to_string()],
        all: false,
        environment,
        inputs,
        variables,
        location: Some(form.get("location").trim().to_string()).filter(|l| !l.is_empty()),
    };
    match submit(&state, &signed.caller, run).await {
        Ok(id) => Ok(Redirect::to(&format!("/runs/{id}")).into_response()),
        Err(e) => project_page(&state, signed.chrome(), &project, Some(e.message)).await,
    }
}

/// `GET /runs` filters.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    status: Option<String>,
    project: Option<String>,
    journey: Option<String>,
    environment: Option<String>,
    actor: Option<String>,
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
);

/// `GET /runs`: the history, newest first, with filters.
pub async fn list(
    State(state): State<AppState>,
    signed: Signed<Viewer>,
    Query(filter): Query<Filter>,
) -> Result<Response, Response> {
    let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let (status, project, journey, environment, actor) = (
        some(&filter.status),
        some(&filter.project),
        some(&filter.journey),
        some(&filter.environment),
        some(&filter.actor),
    );
    // LIKE patterns mean the same on SQLite and Postgres: the filter's own
    // `%`, `_` and `\` are literal, and the actor's prefix ignores ASCII
    // case on both (SQLite's LIKE does, Postgres's does not).
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, project, journeys, environment, status, actor, created_at FROM runs \
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR project = $2) \
         AND ($3 IS NULL OR journeys LIKE '%\"' || $3 || '\"%' ESCAPE '\\') \
         AND ($4 IS NULL OR environment = $4) \
         AND ($5 IS NULL OR LOWER(actor) LIKE LOWER($5) || '%' ESCAPE '\\') \
         ORDER BY created_at DESC, id LIMIT 200",
    )
    .bind(&status)
    .bind(&project)
    .bind(journey.as_deref().map(like_literal))
    .bind(&environment)
    .bind(actor.as_deref().map(like_literal))
    .fetch_all(&state.db)
    .await
    .map_err(db_error)?;
    let page = page::Runs {
        chrome: signed.chrome(),
        statuses: STATUSES
            .iter()
            .map(|s| Choice {
                value: s.to_string(),
                selected: status.as_deref() == Some(*s),
            })
            .collect(),
        project: project.unwrap_or_default(),
        journey: journey.unwrap_or_default(),
        environment: environment.unwrap_or_default(),
        actor: actor.unwrap_or_default(),
        runs: rows
            .into_iter()
            .map(
                |(id, project, journeys, environment, status, actor, created)| RunRow {
                    id,
                    project,
                    journeys: joined(&journeys),
                    environment: environment.unwrap_or_default(),
                    status,
                    actor,
                    created,
                },
            )
            .collect(),
    };
    Ok(render(&page))
}

/// A step as the page shows it, from a report's step (JSON).
fn step_view(step: &Value) -> StepView {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let request = &step["request"];
    let response = &step["response"];
    let mut dump = String::new();
    if request.is_object() {
        dump.push_str(&format!(
            "> {} {}\n",
            text(&request["method"]),
            text(&request["url"])
        ));
        for pair in request["headers"].as_array().into_iter().flatten() {
            dump.push_str(&format!("> {}: {}\n", text(&pair[0]), text(&pair[1])));
        }
        if let Some(body) = request["body"].as_str() {
            dump.push_str(&format!("\n{body}\n"));
        }
    }
    if response.is_object() {
        dump.push_str(&format!("< {}\n", response["status"]));
        for pair in response["headers"].as_array().into_iter().flatten() {
            dump.push_str(&format!("< {}: {}\n", text(&pair[0]), text(&pair[1])));
        }
        if let Some(body) = response["body"].as_str() {
            dump.push_str(&format!("\n{body}\n"));
        }
    }
    let mut problems: Vec<String> = step["expectations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["message"].as_str().map(str::to_string))
        .collect();
    problems.extend(step["error"].as_str().map(str::to_string));
    StepView {
        id: text(&step["id"]),
        outcome: text(&step["outcome"]),
        request: if request.is_object() {
            format!("{} {}", text(&request["method"]), text(&request["url"]))
        } else {
            String::new()
        },
        status: response["status"]
            .as_u64()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        duration: step["duration_ms"]
            .as_f64()
            .map(|ms| format!("{ms:.0} ms"))
            .unwrap_or_default(),
        problems,
        dump,
    }
}

/// How a run stands, and its report once it ended.
#[derive(sqlx::FromRow)]
struct Ending {
    status: String,
    exit_code: Option<i64>,
    error: Option<String>,
    report: Option<String>,
}

/// The live part of a run's page.
async fn steps_part(state: &AppState, id: &str) -> Result<page::RunSteps, Response> {
    let row: Option<Ending> =
        sqlx::query_as("SELECT status, exit_code, error, report FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&state.db)
            .await
            .map_err(db_error)?;
    let Some(Ending {
        status,
        exit_code,
        error,
        report,
    }) = row
    else {
        return Err(refuse(StatusCode::NOT_FOUND, "There is no such run."));
    };
    let live = matches!(status.as_str(), "queued" | "running");
    let steps = match report.and_then(|r| serde_json::from_str::<Value>(&r).ok()) {
        Some(report) => report["journeys"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|j| j["steps"].as_array().cloned().unwrap_or_default())
            .map(|s| step_view(&s))
            .collect(),
        // Still running: the steps finished so far, from its live events
        // (here, or as another process stored them).
        None => match state.queue.live(id) {
            Some(run) => run.follow().0,
            None => sqlx::query_as::<_, (String,)>(
                "SELECT body FROM run_events WHERE run_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(&state.db)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|(body,)| Arc::from(body))
            .collect(),
        }
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter(|e| e["event"] == "step_finished")
        .map(|e| step_view(&e["step"]))
        .collect(),
    };
    Ok(page::RunSteps {
        id: id.to_string(),
        status,
        exit_code: exit_code.filter(|_| !live),
        error,
        steps,
        live,
    })
}

/// `GET /runs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let row: Option<RunHead> = sqlx::query_as(
        "SELECT project, journeys, environment, actor, created_at, worker, attempt FROM runs WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(&state.db)
    .await
    .map_err(db_error)?;
    let Some((project, journeys, environment, actor, created, worker, attempt)) = row else {
        return Err(refuse(StatusCode::NOT_FOUND, "There is no such run."));
    };
    let part = steps_part(&state, &id).await?;
    let live = part.live;
    let steps = askama::Template::render(&part).map_err(|_| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The page could not be rendered.",
        )
    })?;
    let page = page::Run {
        chrome: signed.chrome(),
        id,
        project,
        journeys: joined(&journeys),
        environment: environment.unwrap_or_default(),
        actor,
        created,
        worker: worker.unwrap_or_default(),
        attempt,
        steps,
        live,
    };
    Ok(render(&page))
}

/// A run's project, journeys, environment, actor, creation, worker and
/// attempt.
type RunHead = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    i64,
);

/// `GET /runs/{id}/steps`: the live part alone (htmx swaps it in).
pub async fn steps(
    State(state): State<AppState>,
    _signed: Signed<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    Ok(render(&steps_part(&state, &id).await?))
}

/// How often at most the live part is said to have changed: a run of many
/// quick steps costs the page a few fetches a second, not one per event.
const LIVE_EVERY: Duration = Duration::from_millis(250);

/// Where [`live`] is.
enum Live {
    /// Say "changed" once (the page may have missed events), then follow.
    Start(broadcast::Receiver<Arc<str>>),
    Follow(broadcast::Receiver<Arc<str>>),
    /// The run runs in another process (`reqflo worker`): look in the
    /// store until it has ended.
    Elsewhere(AppState, String, i64),
    /// Say "done", then end.
    Done,
    End,
}

/// `GET /runs/{id}/live`: server-sent events for the run page (htmx's SSE
/// extension): `step` when its live part changed, `done` when the run
/// ended. They carry no run data, so nothing here needs redacting: the
/// page fetches the part (`/runs/{id}/steps`) under the viewer's session.
pub async fn live(
    State(state): State<AppState>,
    _signed: Signed<Viewer>,
    Path(id): Path<String>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let first = match state.queue.live(&id) {
        Some(run) => {
            let (past, receiver) = run.follow();
            if past.iter().any(|e| is_last(e)) {
                Live::Done
            } else {
                Live::Start(receiver)
            }
        }
        None => Live::Elsewhere(state.clone(), id.clone(), 0),
    };
    let changed = || SseEvent::default().event("step").data("changed");
    let events = stream::unfold(first, move |at| async move {
        match at {
            Live::Start(receiver) => Some((changed(), Live::Follow(receiver))),
            Live::Follow(mut receiver) => {
                let mut ended = match receiver.recv().await {
                    Ok(event) => is_last(&event),
                    Err(broadcast::error::RecvError::Lagged(_)) => false,
                    Err(broadcast::error::RecvError::Closed) => true,
                };
                tokio::time::sleep(LIVE_EVERY).await;
                loop {
                    match receiver.try_recv() {
                        Ok(event) => ended |= is_last(&event),
                        Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                        Err(broadcast::error::TryRecvError::Closed) => {
                            ended = true;
                            break;
                        }
                        Err(broadcast::error::TryRecvError::Empty) => break,
                    }
                }
                let next = if ended {
                    Live::Done
                } else {
                    Live::Follow(receiver)
                };
                Some((changed(), next))
            }
            Live::Elsewhere(state, id, mut seen) => {
                let mut waited = false;
                loop {
                    let now: Result<(Option<String>, i64), _> = sqlx::query_as(
                        "SELECT (SELECT status FROM runs WHERE id = $1), \
                         (SELECT COUNT(*) FROM run_events WHERE run_id = $1)",
                    )
                    .bind(&id)
                    .fetch_one(&state.db)
                    .await;
                    match now {
                        Ok((Some(status), events))
                            if matches!(status.as_str(), "queued" | "running") =>
                        {
                            if events > seen {
                                // Steps stored by the worker running it.
                                seen = events;
                                return Some((changed(), Live::Elsewhere(state, id, seen)));
                            }
                            waited = true;
                            tokio::time::sleep(LIVE_EVERY * 2).await;
                        }
                        _ => break,
                    }
                }
                // Ended before it was looked at: nothing changed on the page.
                Some(if waited || seen > 0 {
                    (changed(), Live::Done)
                } else {
                    (SseEvent::default().event("done").data("done"), Live::End)
                })
            }
            Live::Done => Some((SseEvent::default().event("done").data("done"), Live::End)),
            Live::End => None,
        }
    });
    Sse::new(events.map(Ok)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `POST /runs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    signed: Signed<Runner>,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    crate::api::runs::stop(&state, &signed.caller, &id)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}

/// `GET /runs/{id}/report/{format}`: a report to download (its own
/// policy: the HTML report has inline styles and no script).
pub async fn report(
    State(state): State<AppState>,
    _signed: Signed<Viewer>,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response, Response> {
    crate::api::runs::report_response(&state, &id, &format)
        .await
        .map_err(IntoResponse::into_response)
}
