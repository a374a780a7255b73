//! Private agents (`reqflo agent`), the Checkly / self-hosted runner model:
//! an admin registers one per network location and gives it a token; the
//! agent, inside that network, opens only outbound requests to the server,
//! asks for the runs submitted for its location (a long poll), runs them,
//! and sends their events and reports back. Managed values reach it sealed
//! to its own key, for one run; a revoked agent gets nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, Body, json as answer, missing, record};
use crate::agent::wire::{Ask, Assignment, ENDED, Events, Finished, Heard, MAX_WAIT_MS};
use crate::auth::{
    AGENT_TOKEN_PREFIX, Admin, Authorized, bearer, hash_token, new_id, new_token_with,
};
use crate::db::now;
use crate::execute::{decrypt_value, mark_used};
use crate::lease;
use crate::project::plan_all;
use crate::registry;
use crate::sealing::{parse_public_key, seal};
use reqflo_core::plan::InputMode;
use reqflo_core::redact::Redactor;

/// An agent calling with its token.
#[derive(Debug, Clone)]
pub struct AgentCaller {
    /// Its public id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The location whose runs it takes.
    pub location: String,
}

impl AgentCaller {
    /// Its name in the runs it holds (`worker`).
    pub fn process(&self) -> String {
        format!("agent:{}", self.name)
    }
}

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if !token.starts_with(AGENT_TOKEN_PREFIX) {
            return Err(ApiError::unauthorized(format!(
                "not an agent token (an agent's starts with `{AGENT_TOKEN_PREFIX}`)"
            )));
        }
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT id, name, location FROM agents WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_token(token))
        .fetch_optional(&state.db)
        .await?;
        let Some((id, name, location)) = row else {
            return Err(ApiError::unauthorized("unknown or revoked agent token"));
        };
        Ok(AgentCaller { id, name, location })
    }
}

/// `POST /api/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    name: String,
    location: String,
}

/// A name or location: letters, digits, `_ - .`, at most 100.
fn check_word(field: &str, text: &str) -> Result<(), ApiError> {
    let ok = !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{field}`: use letters, digits, `_`, `-` and `.` (at most 100)"
        )))
    }
}

/// `POST /api/agents`: register an agent; its token is shown once.
pub async fn create(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Body(body): Body<NewAgent>,
) -> Result<Response, ApiError> {
    check_word("name", &body.name)?;
    check_word("location", &body.location)?;
    let (token, hash) = new_token_with(AGENT_TOKEN_PREFIX)?;
    let id = new_id("agt");
    let inserted = sqlx::query(
        "INSERT INTO agents (id, name, location, hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
    )
    .bind(&id)
    .bind(&body.name)
    .bind(&body.location)
    .bind(&hash)
    .bind(now())
    .bind(caller.actor())
    .execute(&state.db)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::conflict(format!(
            "an agent named `{}` exists already",
            body.name
        )));
    }
    let detail = json!({"id": id, "location": body.location});
    record(
        &state.db,
        &caller.actor(),
        "agent.created",
        &body.name,
        detail,
    )
    .await?;
    Ok(answer(
        StatusCode::CREATED,
        json!({"id": id, "name": body.name, "location": body.location, "token": token}),
    ))
}

type AgentRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// `GET /api/agents`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Authorized<Admin>,
) -> Result<Response, ApiError> {
    let rows: Vec<AgentRow> = sqlx::query_as(
        "SELECT id, name, location, public_key, created_at, created_by, last_seen_at, revoked_at FROM agents ORDER BY name",
    )
    .fetch_all(&state.db)
    .await?;
    let agents: Vec<Value> = rows
        .into_iter()
        .map(
            |(id, name, location, public_key, created_at, created_by, last_seen_at, revoked_at)| {
                json!({
                    "id": id, "name": name, "location": location, "public_key": public_key,
                    "created_at": created_at, "created_by": created_by,
                    "last_seen_at": last_seen_at, "revoked_at": revoked_at,
                })
            },
        )
        .collect();
    Ok(answer(StatusCode::OK, json!({ "agents": agents })))
}

/// `DELETE /api/agents/{id}`: revoke. Its token stops working at once, and
/// the runs it holds are marked `interrupted`: what it sends for them
/// later is refused.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row: Option<(String,)> = sqlx::query_as(
        "UPDATE agents SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING name",
    )
    .bind(now())
    .bind(&id)
    .fetch_optional(&state.db)
    .await?;
    let Some((name,)) = row else {
        return Err(missing("agent", &id));
    };
    let held = sqlx::query(
        "UPDATE runs SET status = 'interrupted', exit_code = 130, finished_at = $1, \
         error = 'the agent running it was revoked' WHERE worker = $2 AND status = 'running'",
    )
    .bind(now())
    .bind(format!("agent:{name}"))
    .execute(&state.db)
    .await?;
    let detail = json!({"id": id, "runs_interrupted": held.rows_affected()});
    record(&state.db, &caller.actor(), "agent.revoked", &name, detail).await?;
    Ok(answer(StatusCode::OK, json!({"id": id, "revoked": true})))
}

/// Whether an agent that is not revoked serves `location`.
pub(crate) async fn served(state: &AppState, location: &str) -> Result<bool, sqlx::Error> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM agents WHERE location = $1 AND revoked_at IS NULL")
            .bind(location)
            .fetch_one(&state.db)
            .await?;
    Ok(count > 0)
}

/// `POST /api/agent/claim`: the oldest run queued for the agent's location,
/// with its managed values sealed to the key the agent sends; or, after
/// waiting up to `wait_ms`, 204.
pub async fn claim(
    State(state): State<AppState>,
    agent: AgentCaller,
    Body(ask): Body<Ask>,
) -> Result<Response, ApiError> {
    let key = parse_public_key(&ask.public_key).map_err(ApiError::bad_request)?;
    let key_text = ask.public_key.trim().to_string();
    let before: Option<(Option<String>,)> =
        sqlx::query_as("SELECT public_key FROM agents WHERE id = $1")
            .bind(&agent.id)
            .fetch_optional(&state.db)
            .await?;
    let known = before.and_then(|(k,)| k);
    sqlx::query("UPDATE agents SET public_key = $1, last_seen_at = $2 WHERE id = $3")
        .bind(&key_text)
        .bind(now())
        .bind(&agent.id)
        .execute(&state.db)
        .await?;
    if known.as_deref() != Some(key_text.as_str()) {
        let action = if known.is_none() {
            "agent.key_set"
        } else {
            "agent.key_changed"
        };
        record(
            &state.db,
            &agent.process(),
            action,
            &agent.name,
            json!({"public_key": key_text}),
        )
        .await?;
    }
    let wait = Duration::from_millis(ask.wait_ms.unwrap_or(MAX_WAIT_MS).min(MAX_WAIT_MS));
    let deadline = Instant::now() + wait;
    loop {
        let taken: Option<(String,)> = sqlx::query_as(
            "UPDATE runs SET status = 'running', started_at = $1, worker = $2, lease_until = $3 \
             WHERE id = (SELECT id FROM runs WHERE status = 'queued' AND location = $4 \
             ORDER BY created_at, id LIMIT 1) AND status = 'queued' RETURNING id",
        )
        .bind(now())
        .bind(agent.process())
        .bind(lease::until(state.config.lease))
        .bind(&agent.location)
        .fetch_optional(&state.db)
        .await?;
        if let Some((run,)) = taken {
            match assign(&state, &agent, &run, &key).await {
                Ok(assignment) => return Ok(answer(StatusCode::OK, json!(assignment))),
                Err(why) => {
                    // Refused now (policy changed while it waited, or the
                    // project went): recorded, and the next run is looked for.
                    end(&state, &agent, &run, "error", 2, Some(&why)).await?;
                    continue;
                }
            }
        }
        if Instant::now() >= deadline {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Make the run's assignment: plan it again (policy may have changed while
/// it waited), seal each managed value it uses to `key`, audit each use.
async fn assign(
    state: &AppState,
    agent: &AgentCaller,
    run: &str,
    key: &crypto_box::PublicKey,
) -> Result<Assignment, String> {
    let internal = |e: sqlx::Error| format!("the server's store failed: {e}");
    type Row = (String, String, Option<String>, String, String, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT project, journeys, environment, inputs, variables, actor FROM runs WHERE id = $1",
    )
    .bind(run)
    .fetch_optional(&state.db)
    .await
    .map_err(internal)?;
    let (project, journeys, environment, inputs, variables, actor) =
        row.ok_or_else(|| "the run was deleted".to_string())?;
    let journeys: Vec<String> = serde_json::from_str(&journeys).unwrap_or_default();
    let inputs: IndexMap<String, String> = serde_json::from_str(&inputs).unwrap_or_default();
    let variables: IndexMap<String, String> = serde_json::from_str(&variables).unwrap_or_default();
    let (stored, _) = super::projects::load(state, &project)
        .await
        .map_err(|e| e.message)?
        .ok_or_else(|| format!("project `{project}` was deleted"))?;
    let registry = registry::all(&state.db).await.map_err(internal)?;
    let composed = stored
        .compose(&registry, &serde_yaml::Mapping::new())
        .map_err(|e| e.to_string())?;
    let plans = plan_all(
        &composed,
        &journeys,
        environment.as_deref(),
        &inputs,
        &variables,
        InputMode::NoPrompt,
    )
    .map_err(|e| e.to_string())?;
    if let Some(why) = registry::refusal_for(&plans, &registry, true) {
        return Err(why);
    }
    let mut managed = Vec::new();
    let mut sealed = IndexMap::new();
    let redactor = Redactor::for_run();
    for plan in &plans {
        for secret in &plan.secrets {
            let Some(entry) = registry.iter().find(|e| e.name == secret.name) else {
                continue;
            };
            if !sealed.contains_key(&entry.name) {
                let (version, value) = decrypt_value(state, &entry.name)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("managed secret `{}` has no value", entry.name))?;
                redactor.add(&entry.name, &value);
                sealed.insert(entry.name.clone(), seal(key, &value)?);
                managed.push(entry.clone());
                mark_used(state, run, &entry.name).await.map_err(internal)?;
                let detail = json!({
                    "run": run, "journey": plan.journey, "environment": plan.environment,
                    "provider": "managed", "version": version,
                    "agent": agent.name, "location": agent.location, "sealed_to": "the agent's key",
                });
                record(&state.db, &actor, "secret.used", &entry.name, detail)
                    .await
                    .map_err(internal)?;
            }
        }
    }
    sqlx::query("UPDATE runs SET sealed_names = $1 WHERE id = $2")
        .bind(json!(sealed.keys().collect::<Vec<_>>()).to_string())
        .bind(run)
        .execute(&state.db)
        .await
        .map_err(internal)?;
    remember(state, run, redactor);
    Ok(Assignment {
        run: run.to_string(),
        project: stored,
        journeys,
        environment,
        inputs,
        variables,
        managed,
        sealed,
        lease_ms: state.config.lease.as_millis() as u64,
        run_timeout_ms: state.config.run_timeout.as_millis() as u64,
        request_timeout_ms: state.config.request_timeout.as_millis() as u64,
        max_body: state.config.max_body,
    })
}

fn remember(state: &AppState, run: &str, redactor: Arc<Redactor>) {
    if let Ok(mut map) = state.agent_redactors.lock() {
        map.insert(run.to_string(), redactor);
    }
}

/// The run's redactor: kept since its claim, or (after a restart, or on
/// another server process) made again from the values sealed for it.
async fn redactor_for(state: &AppState, run: &str) -> Result<Arc<Redactor>, ApiError> {
    if let Some(found) = state
        .agent_redactors
        .lock()
        .ok()
        .and_then(|map| map.get(run).cloned())
    {
        return Ok(found);
    }
    let names: Option<(Option<String>,)> =
        sqlx::query_as("SELECT sealed_names FROM runs WHERE id = $1")
            .bind(run)
            .fetch_optional(&state.db)
            .await?;
    let names: Vec<String> = names
        .and_then(|(n,)| n)
        .and_then(|n| serde_json::from_str(&n).ok())
        .unwrap_or_default();
    let redactor = Redactor::for_run();
    for name in names {
        if let Some((_, value)) = decrypt_value(state, &name)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
        {
            redactor.add(&name, &value);
        }
    }
    remember(state, run, Arc::clone(&redactor));
    Ok(redactor)
}

/// The answer when a run is no longer the agent's to report on.
fn lost(run: &str) -> ApiError {
    ApiError::conflict(format!(
        "run `{run}` is no longer this agent's ({}): its results are refused",
        lease::LEASE_LOST
    ))
}

/// Store `events` (redacted again) from number `from` on, while the run is
/// the agent's (rows for a run it no longer holds are not written).
async fn keep_events(
    state: &AppState,
    agent: &AgentCaller,
    run: &str,
    events: &Events,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
) -> Result<(), ApiError> {
    if events.events.is_empty() {
        return Ok(());
    }
    let redactor = redactor_for(state, run).await?;
    for (i, body) in events.events.iter().enumerate() {
        sqlx::query(
            "INSERT INTO run_events (run_id, seq, body) SELECT $1, $2, $3 \
             WHERE EXISTS (SELECT 1 FROM runs WHERE id = $1 AND worker = $4 AND status = 'running') \
             ON CONFLICT (run_id, seq) DO NOTHING",
        )
        .bind(run)
        .bind(events.from + i as i64)
        .bind(redactor.redact(body).as_ref())
        .bind(agent.process())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// `POST /api/agent/runs/{id}/events`: events so far, which also renew the
/// agent's lease; the answer says whether the run was cancelled.
pub async fn events(
    State(state): State<AppState>,
    agent: AgentCaller,
    Path(run): Path<String>,
    Body(body): Body<Events>,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    let held: Option<(i64,)> = sqlx::query_as(
        "UPDATE runs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND status = 'running' RETURNING cancel_asked",
    )
    .bind(lease::until(state.config.lease))
    .bind(&run)
    .bind(agent.process())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((cancel,)) = held else {
        return Err(lost(&run));
    };
    keep_events(&state, &agent, &run, &body, &mut tx).await?;
    tx.commit().await?;
    Ok(answer(
        StatusCode::OK,
        json!(Heard {
            cancel: cancel != 0
        }),
    ))
}

/// `POST /api/agent/runs/{id}/finish`: the run's end, its last events and
/// its reports, redacted again; refused (409) once the run is no longer
/// the agent's.
pub async fn finish(
    State(state): State<AppState>,
    agent: AgentCaller,
    Path(run): Path<String>,
    Body(body): Body<Finished>,
) -> Result<Response, ApiError> {
    if !ENDED.contains(&body.status.as_str()) {
        return Err(ApiError::bad_request(format!(
            "`status`: one of {}",
            ENDED.join(", ")
        )));
    }
    let redactor = redactor_for(&state, &run).await?;
    let clean = |text: &Option<String>| text.as_deref().map(|t| redactor.redact(t).into_owned());
    let mut tx = state.db.begin().await?;
    // The last events first, while the run is still `running` for their
    // guard; both are undone if the run is no longer the agent's.
    keep_events(&state, &agent, &run, &body.events, &mut tx).await?;
    let recorded = sqlx::query(
        "UPDATE runs SET status = $1, exit_code = $2, error = $3, finished_at = $4, \
         report = $5, report_junit = $6, report_html = $7 \
         WHERE id = $8 AND worker = $9 AND status = 'running'",
    )
    .bind(&body.status)
    .bind(body.exit_code)
    .bind(clean(&body.error))
    .bind(now())
    .bind(clean(&body.reports.json))
    .bind(clean(&body.reports.junit))
    .bind(clean(&body.reports.html))
    .bind(&run)
    .bind(agent.process())
    .execute(&mut *tx)
    .await?;
    if recorded.rows_affected() == 0 {
        tx.rollback().await?;
        return Err(lost(&run));
    }
    tx.commit().await?;
    forget(&state, &run);
    state
        .metrics
        .runs
        .get_or_create(&crate::metrics::OutcomeLabel {
            outcome: body.status.clone(),
        })
        .inc();
    Ok(answer(
        StatusCode::OK,
        json!({"id": run, "status": body.status}),
    ))
}

/// Record a run the agent took as ended, here (it was refused on claim).
async fn end(
    state: &AppState,
    agent: &AgentCaller,
    run: &str,
    status: &str,
    code: i32,
    error: Option<&str>,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE runs SET status = $1, exit_code = $2, error = $3, finished_at = $4 \
         WHERE id = $5 AND worker = $6 AND status = 'running'",
    )
    .bind(status)
    .bind(code)
    .bind(error)
    .bind(now())
    .bind(run)
    .bind(agent.process())
    .execute(&state.db)
    .await?;
    forget(state, run);
    Ok(())
}

fn forget(state: &AppState, run: &str) {
    if let Ok(mut map) = state.agent_redactors.lock() {
        map.remove(run);
    }
}
