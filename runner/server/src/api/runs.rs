//! Runs: submitted (policy checked before anything is queued), listed,
//! read with their redacted reports, followed live (server-sent events)
//! and cancelled.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, Body, json as answer, missing, record};
use crate::auth::{Authorized, Caller, Runner, Viewer, new_id};
use crate::db::now;
use crate::project::plan_all;
use crate::queue::CANCELLED;
use crate::queue::Full;
pub(crate) use crate::queue::is_last;
use crate::registry;
use reqflo_core::error::Error;
use reqflo_core::plan::InputMode;

/// `POST /api/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    pub(crate) project: String,
    /// Journeys to run, in order; empty (or absent) with `all: true` runs every one.
    #[serde(default)]
    pub(crate) journeys: Vec<String>,
    #[serde(default)]
    pub(crate) all: bool,
    pub(crate) environment: Option<String>,
    #[serde(default)]
    pub(crate) inputs: IndexMap<String, String>,
    /// Overrides of the environment's variables (`--var`).
    #[serde(default)]
    pub(crate) variables: IndexMap<String, String>,
    /// Run on a private agent at this location, not on the server's
    /// workers.
    #[serde(default)]
    pub(crate) location: Option<String>,
}

/// Map a planning error to an answer: a bad definition is 400, a policy
/// denial 403.
fn plan_error(e: &Error) -> ApiError {
    let mut answer = match e {
        Error::Policy(_) => ApiError::forbidden(e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    };
    answer.exit_code = Some(reqflo_core::exit::for_error(e));
    answer
}

/// `POST /api/runs`: check, then queue. Nothing is sent for a refused run.
pub async fn create(
    State(state): State<AppState>,
    caller: Authorized<Runner>,
    Body(body): Body<NewRun>,
) -> Result<Response, ApiError> {
    let id = submit(&state, &caller, body).await?;
    Ok(answer(
        StatusCode::ACCEPTED,
        json!({"id": id, "status": "queued", "url": format!("/api/runs/{id}"), "events": format!("/api/runs/{id}/events")}),
    ))
}

/// Check a run against policy and queue it (the API's and the UI's);
/// returns its id.
pub(crate) async fn submit(
    state: &AppState,
    caller: &Caller,
    body: NewRun,
) -> Result<String, ApiError> {
    let (stored, _) = super::projects::load(state, &body.project)
        .await?
        .ok_or_else(|| missing("project", &body.project))?;
    let journeys = match (body.all, body.journeys.is_empty()) {
        (true, true) => stored.journey_names(),
        (false, false) => body.journeys.clone(),
        (true, false) => {
            return Err(ApiError::bad_request(
                "give `journeys` or `all: true`, not both",
            ));
        }
        (false, true) => {
            return Err(ApiError::bad_request(
                "name the `journeys` to run, or send `all: true`",
            ));
        }
    };
    if let Some(location) = &body.location
        && !super::agents::served(state, location).await?
    {
        return Err(ApiError::bad_request(format!(
            "`location`: no agent serves location `{location}` (an admin registers one: POST /api/agents)"
        )));
    }
    let registry = registry::all(&state.db).await?;
    let project = stored
        .compose(&registry, &state.config.providers)
        .map_err(|e| plan_error(&e))?;
    let mut rerun_safe = false;
    let refused = match plan_all(
        &project,
        &journeys,
        body.environment.as_deref(),
        &body.inputs,
        &body.variables,
        InputMode::NoPrompt,
    ) {
        Ok(plans) => {
            rerun_safe = !plans.is_empty() && plans.iter().all(|p| p.rerun_safe);
            registry::refusal_for(&plans, &registry, body.location.is_some())
                .map(ApiError::forbidden)
        }
        Err(e) => Some(plan_error(&e)),
    };
    if let Some(e) = refused {
        if e.status == StatusCode::FORBIDDEN {
            record(
                &state.db,
                &caller.actor(),
                "run.refused",
                &body.project,
                json!({"journeys": journeys, "environment": body.environment, "why": e.message}),
            )
            .await?;
        }
        return Err(e);
    }
    let id = new_id("run");
    sqlx::query(
        "INSERT INTO runs (id, project, journeys, environment, inputs, variables, status, actor, created_at, rerun_safe, location) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(&body.project)
    .bind(Value::from(journeys.clone()).to_string())
    .bind(&body.environment)
    .bind(json!(body.inputs).to_string())
    .bind(json!(body.variables).to_string())
    .bind(caller.actor())
    .bind(now())
    .bind(i64::from(rerun_safe))
    .bind(&body.location)
    .execute(&state.db)
    .await?;
    // With in-process workers the run joins this process's queue; without
    // (`workers: 0`), or for a location, it waits in the store for `reqflo
    // worker` processes or the location's agents.
    let queued = if state.config.workers == 0 || body.location.is_some() {
        crate::worker::offer(state, &id).await?
    } else {
        state.queue.push(&id, &body.project).map(|_| ())
    };
    crate::lease::announce(state).await;
    if let Err(full) = queued {
        // Nothing stays half-way: the run was never queued.
        sqlx::query("DELETE FROM runs WHERE id = $1")
            .bind(&id)
            .execute(&state.db)
            .await?;
        return Err(match full {
            Full::Busy => ApiError {
                retry_after: Some(5),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "the run queue is full; try again shortly",
                )
            },
            Full::Closing => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
            ),
        });
    }
    state.metrics.queued.inc();
    Ok(id)
}

/// `GET /api/runs` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    status: Option<String>,
    project: Option<String>,
    limit: Option<i64>,
}

type RunRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);
const RUN_COLUMNS: &str = "id, project, journeys, environment, status, actor, created_at, started_at, finished_at, exit_code, error, worker, attempt, location";

fn run_json(row: RunRow) -> Value {
    let (
        id,
        project,
        journeys,
        environment,
        status,
        actor,
        created_at,
        started_at,
        finished_at,
        exit_code,
        error,
        worker,
        attempt,
        location,
    ) = row;
    json!({
        "id": id, "project": project,
        "journeys": serde_json::from_str::<Value>(&journeys).unwrap_or_default(),
        "environment": environment, "status": status, "actor": actor,
        "created_at": created_at, "started_at": started_at, "finished_at": finished_at,
        "exit_code": exit_code, "error": error, "worker": worker, "attempt": attempt,
        "location": location,
    })
}

/// `GET /api/runs`: newest first.
pub async fn list(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filter) =
        filter.map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))?;
    let rows: Vec<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR project = $2) ORDER BY created_at DESC, id LIMIT $3"
    )))
    .bind(&filter.status)
    .bind(&filter.project)
    .bind(filter.limit.unwrap_or(100).clamp(1, 1000))
    .fetch_all(&state.db)
    .await?;
    let runs: Vec<Value> = rows.into_iter().map(run_json).collect();
    Ok(answer(StatusCode::OK, json!({ "runs": runs })))
}

/// `GET /api/runs/{id}`: its status and, once it ended, its report (steps
/// with redacted requests and responses).
pub async fn show(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row: Option<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"
    )))
    .bind(&id)
    .fetch_optional(&state.db)
    .await?;
    let mut run = run_json(row.ok_or_else(|| missing("run", &id))?);
    let report: Option<(Option<String>,)> = sqlx::query_as("SELECT report FROM runs WHERE id = $1")
        .bind(&id)
        .fetch_optional(&state.db)
        .await?;
    if let Some((Some(report),)) = report {
        run["report"] = serde_json::from_str(&report).unwrap_or_default();
    }
    Ok(answer(StatusCode::OK, run))
}

/// `POST /api/runs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Authorized<Runner>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    stop(&state, &caller, &id).await?;
    Ok(answer(
        StatusCode::ACCEPTED,
        json!({"id": id, "cancelling": true}),
    ))
}

/// Cancel a queued or running run (the API's and the UI's).
pub(crate) async fn stop(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let id = id.to_string();
    let status: Option<(String,)> = sqlx::query_as("SELECT status FROM runs WHERE id = $1")
        .bind(&id)
        .fetch_optional(&state.db)
        .await?;
    let (status,) = status.ok_or_else(|| missing("run", &id))?;
    if !matches!(status.as_str(), "queued" | "running") {
        return Err(ApiError::conflict(format!(
            "run `{id}` has already ended ({status})"
        )));
    }
    // A queued run never starts; a running one stops where it is.
    let queued = sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = $1, exit_code = 130 WHERE id = $2 AND status = 'queued'")
        .bind(now())
        .bind(&id)
        .execute(&state.db)
        .await?;
    if let Some(live) = state.queue.live(&id) {
        live.stop.ask(CANCELLED);
        if queued.rows_affected() > 0 {
            live.publish(
                json!({"event": "run_finished", "status": "cancelled", "exit_code": 130})
                    .to_string(),
            );
        }
    } else if queued.rows_affected() == 0 {
        // Running in another process: its heartbeat reads this and stops it.
        sqlx::query("UPDATE runs SET cancel_asked = 1 WHERE id = $1 AND status = 'running'")
            .bind(&id)
            .execute(&state.db)
            .await?;
    }
    record(&state.db, &caller.actor(), "run.cancelled", &id, json!({})).await?;
    Ok(())
}

/// `GET /api/runs/{id}/events`: every event so far, then each as it
/// happens, until `run_finished`.
pub async fn events(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let exists: Option<(String, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT status, exit_code, error FROM runs WHERE id = $1")
            .bind(&id)
            .fetch_optional(&state.db)
            .await?;
    let (status, exit_code, error) = exists.ok_or_else(|| missing("run", &id))?;
    let (past, future) = match state.queue.live(&id) {
        Some(live) => {
            let (past, receiver) = live.follow();
            let past: Vec<String> = past.iter().map(|e| e.to_string()).collect();
            let ended = past.iter().any(|e| is_last(e));
            (past, (!ended).then_some(receiver))
        }
        None if matches!(status.as_str(), "queued" | "running") => {
            // It runs in another process (`reqflo worker`), which stores
            // its events as they come: follow them in the store.
            let ended = crate::worker::follow_in_store(state.clone(), id.clone());
            return Ok(
                Sse::new(ended.map(|text| Ok(SseEvent::default().data(text))).boxed())
                    .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
            );
        }
        None => {
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT body FROM run_events WHERE run_id = $1 ORDER BY seq")
                    .bind(&id)
                    .fetch_all(&state.db)
                    .await?;
            let mut past: Vec<String> = rows.into_iter().map(|(b,)| b).collect();
            if !past.iter().any(|e| is_last(e)) {
                past.push(json!({"event": "run_finished", "status": status, "exit_code": exit_code, "error": error}).to_string());
            }
            (past, None)
        }
    };
    let follow = stream::unfold(future, |receiver| async move {
        let mut receiver = receiver?;
        loop {
            match receiver.recv().await {
                Ok(event) => {
                    let text = event.to_string();
                    let next = (!is_last(&text)).then_some(receiver);
                    return Some((text, next));
                }
                // A slow follower misses events rather than slowing the run.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let stream = stream::iter(past)
        .chain(follow)
        .map(|text| Ok(SseEvent::default().data(text)));
    Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `GET /api/runs/{id}/report/{format}`: `json`, `junit` or `html`.
pub async fn report(
    State(state): State<AppState>,
    _caller: Authorized<Viewer>,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    report_response(&state, &id, &format).await
}

/// A run's report as a download (the API's and the UI's).
pub(crate) async fn report_response(
    state: &AppState,
    id: &str,
    format: &str,
) -> Result<Response, ApiError> {
    let id = id.to_string();
    let (column, kind) = match format {
        "json" => ("report", "application/json"),
        "junit" => ("report_junit", "application/xml"),
        "html" => ("report_html", "text/html; charset=utf-8"),
        _ => return Err(ApiError::not_found("reports are json, junit and html")),
    };
    let row: Option<(Option<String>,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {column} FROM runs WHERE id = $1"
    )))
    .bind(&id)
    .fetch_optional(&state.db)
    .await?;
    let (text,) = row.ok_or_else(|| missing("run", &id))?;
    let text = text.ok_or_else(|| ApiError::conflict(format!("run `{id}` has no report yet")))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // The HTML report runs no script and loads nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
        ],
        text,
    )
        .into_response())
}
