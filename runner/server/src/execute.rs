//! Executing a queued run in a worker: compose its project, plan, check
//! policy again (it may have changed while the run waited), decrypt the
//! managed values it uses into the run's held values, run the engine, and
//! keep the redacted report and events.

use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;
use secrecy::SecretString;
use serde_json::json;

use reqflo_core::error::Error;
use reqflo_core::exit;
use reqflo_core::plan::{Fill, InputMode, Plan};
use reqflo_core::plugins::HELD_PROVIDER;
use reqflo_core::redact::Redactor;
use reqflo_core::report::{Format, Outcome, RunReport, render};
use reqflo_core::secret::HeldValues;
use reqflo_engine::{Event, Observer, RunSettings, run_plans};
use reqflo_sandbox::secrets::Providers;

use crate::api::{AppState, record};
use crate::db::now;
use crate::keys::Sealed;
use crate::lease;
use crate::project::plan_all;
use crate::queue::CANCELLED;
use crate::queue::LiveRun;
use crate::registry;

/// Take runs from the queue until it closes.
pub async fn worker(state: AppState) {
    // Once the queue closes, runs still waiting stay `queued` in the store:
    // they run after the next start.
    while let Some(taken) = state.queue.next().await {
        let id = taken.id.as_str();
        state.metrics.queued.dec();
        state.metrics.running.inc();
        if let Err(e) = execute(&state, id).await {
            tracing::error!(run = %id, error = %e, "a run could not be recorded");
        }
        state.metrics.running.dec();
        state.queue.forget(id);
        state.queue.done(&taken);
    }
}

/// A run as submitted.
struct Submitted {
    project: String,
    journeys: Vec<String>,
    environment: Option<String>,
    inputs: IndexMap<String, String>,
    variables: IndexMap<String, String>,
    actor: String,
}

async fn execute(state: &AppState, id: &str) -> Result<(), sqlx::Error> {
    // Only a run still `queued` starts (a cancelled one is not), and only
    // in the one process that claims it.
    if !lease::claim(state, id).await? {
        return Ok(());
    }
    let Some(live) = state.queue.live(id) else {
        return finish(
            state,
            id,
            "error",
            exit::RUNTIME,
            Some("the run was lost from the queue".into()),
            None,
        )
        .await;
    };
    let row: Option<(String, String, Option<String>, String, String, String)> = sqlx::query_as(
        "SELECT project, journeys, environment, inputs, variables, actor FROM runs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&state.db)
    .await?;
    let Some((project, journeys, environment, inputs, variables, actor)) = row else {
        return Ok(());
    };
    let submitted = Submitted {
        project,
        journeys: serde_json::from_str(&journeys).unwrap_or_default(),
        environment,
        inputs: serde_json::from_str(&inputs).unwrap_or_default(),
        variables: serde_json::from_str(&variables).unwrap_or_default(),
        actor,
    };
    tracing::info!(run = %id, project = %submitted.project, journeys = ?submitted.journeys, "run started");
    let redactor = Redactor::for_run();
    let clock = Instant::now();
    // Past `run_timeout` the run is stopped like a cancelled one, and
    // recorded `timed_out`.
    let timer = {
        let live = Arc::clone(&live);
        let after = state.config.run_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            live.stop.ask(TIMED_OUT);
        })
    };
    let beat = lease::heartbeat(state, id, &live);
    // A worker's runs are followed from the server, through the store.
    let stream = state
        .stores_events
        .then(|| lease::store_events(state, id, &live));
    let outcome = run(state, id, &submitted, &live, &redactor).await;
    timer.abort();
    beat.abort();
    if let Some(stream) = stream {
        stream.abort();
    }
    state
        .metrics
        .run_seconds
        .observe(clock.elapsed().as_secs_f64());
    match outcome {
        Ok(report) => {
            let code = exit::for_report(&report);
            let (status, error) = ended(&report, &live, state.config.run_timeout);
            keep_reports(state, id, &report, &redactor).await?;
            finish(state, id, status, code, error, Some(&live)).await
        }
        Err(e) => {
            let message = redactor.redact(&e.to_string()).into_owned();
            finish(
                state,
                id,
                "error",
                exit::for_error(&e),
                Some(message),
                Some(&live),
            )
            .await
        }
    }
}

/// A finished run's status and error: a stop names why it stopped.
pub(crate) fn ended(
    report: &RunReport,
    live: &LiveRun,
    run_timeout: std::time::Duration,
) -> (&'static str, Option<String>) {
    let status = match report.outcome {
        Outcome::Passed | Outcome::Skipped => "passed",
        Outcome::Failed => "failed",
        Outcome::Error => "error",
        Outcome::Interrupted if live.stop.asked() == Some(CANCELLED) => "cancelled",
        Outcome::Interrupted if live.stop.asked() == Some(TIMED_OUT) => "timed_out",
        Outcome::Interrupted => "interrupted",
    };
    let error = match status {
        "timed_out" => Some(format!(
            "the run took longer than run_timeout ({}) and was stopped",
            humantime::format_duration(run_timeout)
        )),
        _ => report.error.clone(),
    };
    (status, error)
}

/// Why a run that took longer than `run_timeout` stopped.
pub const TIMED_OUT: &str = "the run timeout";

async fn run(
    state: &AppState,
    id: &str,
    submitted: &Submitted,
    live: &Arc<LiveRun>,
    redactor: &Arc<Redactor>,
) -> Result<RunReport, Error> {
    let internal = |e: sqlx::Error| Error::Runtime(format!("the server's store failed: {e}"));
    // A served folder is read again now: the run gets what it holds today.
    let loaded = crate::api::projects::load(state, &submitted.project)
        .await
        .map_err(|e| Error::Usage(e.message))?;
    let Some((stored, _)) = loaded else {
        return Err(Error::Usage(format!(
            "project `{}` was deleted",
            submitted.project
        )));
    };
    let registry = registry::all(&state.db).await.map_err(internal)?;
    let project = stored.compose(&registry, &state.config.providers)?;
    let plans = plan_all(
        &project,
        &submitted.journeys,
        submitted.environment.as_deref(),
        &submitted.inputs,
        &submitted.variables,
        InputMode::NoPrompt,
    )?;
    if let Some(why) = registry::refusal(&plans, &registry) {
        return Err(Error::Policy(reqflo_core::error::Diagnostic::new(why)));
    }
    let providers = Providers::hosted(&project)?;
    let held = decrypt(state, id, submitted, &plans, &providers, &registry).await?;
    let limits = Limits {
        request_timeout: state.config.request_timeout,
        max_body: state.config.max_body,
        max_body_setting: "max_body in server.yaml",
    };
    Ok(run_held(&project, &providers, &plans, limits, held, redactor, live).await)
}

/// A server's limits on each request of a run.
pub(crate) struct Limits {
    pub(crate) request_timeout: std::time::Duration,
    pub(crate) max_body: usize,
    pub(crate) max_body_setting: &'static str,
}

/// Run `plans` with `held` values, publishing events to `live`; the held
/// values are dropped, and zeroed, before this returns.
pub(crate) async fn run_held(
    project: &reqflo_core::project::Project,
    providers: &Providers,
    plans: &[Plan],
    limits: Limits,
    held: HeldValues,
    redactor: &Arc<Redactor>,
    live: &Arc<LiveRun>,
) -> RunReport {
    let settings = RunSettings {
        timeout: limits.request_timeout,
        record_messages: true,
        max_body: limits.max_body,
        max_body_setting: limits.max_body_setting,
        jobs: 1,
        redactor: Arc::clone(redactor),
        held: Some(Arc::new(held)),
    };
    let observer = Publisher {
        live: Arc::clone(live),
    };
    let (report, _error) =
        run_plans(project, providers, plans, &settings, &observer, &live.stop).await;
    drop(settings);
    report
}

/// Decrypt, for one run: the current version of every managed secret the
/// plans use, and the credentials (`grants.env`, managed secrets of those
/// names) of every server-side provider they resolve through. Each use is
/// audited, never the value.
async fn decrypt(
    state: &AppState,
    id: &str,
    submitted: &Submitted,
    plans: &[Plan],
    providers: &Providers,
    registry: &[registry::SecretPolicy],
) -> Result<HeldValues, Error> {
    let internal = |e: sqlx::Error| Error::Runtime(format!("the server's store failed: {e}"));
    let mut held = HeldValues::default();
    let mut credentials: Vec<(String, String)> = Vec::new();
    for plan in plans {
        for (index, secret) in plan.secrets.iter().enumerate() {
            let provider = secret.chain.first().cloned().unwrap_or_default();
            let steps: Vec<&str> = plan
                .steps
                .iter()
                .filter(|s| {
                    s.fills
                        .values()
                        .any(|f| matches!(f, Fill::Secret(i) if *i == index))
                        || s.hooks
                            .iter()
                            .any(|h| h.secrets.iter().any(|(_, i)| *i == index))
                })
                .map(|s| s.id.as_str())
                .collect();
            let version = if provider == HELD_PROVIDER {
                if !held.contains(&secret.reference) {
                    let version = open_value(state, &secret.reference, &mut held).await?;
                    if version.is_none() {
                        return Err(Error::Secret(reqflo_core::error::SecretError::NotFound {
                            name: secret.name.clone(),
                            tried: vec!["managed: not registered".into()],
                        }));
                    }
                }
                registry
                    .iter()
                    .find(|e| e.name == secret.reference)
                    .map(|e| e.version)
            } else {
                // The provider's credentials come from managed secrets named
                // in its grants; the server's own environment is never read.
                if let Some(spec) = providers.get(&provider) {
                    for variable in &spec.env {
                        credentials.push((provider.clone(), variable.clone()));
                    }
                }
                None
            };
            state
                .metrics
                .resolutions
                .get_or_create(&crate::metrics::ProviderLabel {
                    provider: provider.clone(),
                })
                .inc();
            mark_used(state, id, &secret.name).await.map_err(internal)?;
            let detail = json!({
                "run": id, "journey": plan.journey, "environment": plan.environment,
                "steps": steps, "provider": provider, "version": version,
            });
            record(
                &state.db,
                &submitted.actor,
                "secret.used",
                &secret.name,
                detail,
            )
            .await
            .map_err(internal)?;
        }
    }
    for (provider, variable) in credentials {
        if held.contains(&variable) {
            continue;
        }
        if open_value(state, &variable, &mut held).await?.is_some() {
            mark_used(state, id, &variable).await.map_err(internal)?;
            let detail = json!({"run": id, "provider": provider, "as": "provider credential"});
            record(
                &state.db,
                &submitted.actor,
                "secret.used",
                &variable,
                detail,
            )
            .await
            .map_err(internal)?;
        }
    }
    Ok(held)
}

/// Decrypt the current version of managed secret `name` into `held`;
/// `None` when there is no such managed value.
pub(crate) async fn open_value(
    state: &AppState,
    name: &str,
    held: &mut HeldValues,
) -> Result<Option<i64>, Error> {
    let Some((version, value)) = decrypt_value(state, name).await? else {
        return Ok(None);
    };
    let text = String::from_utf8(value.to_vec())
        .map_err(|_| Error::Runtime(format!("managed secret `{name}` is not UTF-8")))?;
    held.insert(name, SecretString::from(text));
    Ok(Some(version))
}

/// The current version of managed secret `name` and its value; `None`
/// when there is no such managed value.
pub(crate) async fn decrypt_value(
    state: &AppState,
    name: &str,
) -> Result<Option<(i64, zeroize::Zeroizing<Vec<u8>>)>, Error> {
    let internal = |e: sqlx::Error| Error::Runtime(format!("the server's store failed: {e}"));
    let row: Option<(i64, String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT v.version, v.kek_id, v.wrapped_key, v.ciphertext FROM secrets s JOIN secret_versions v ON v.name = s.name AND v.version = s.version WHERE s.name = $1",
    )
    .bind(name)
    .fetch_optional(&state.db)
    .await
    .map_err(internal)?;
    let Some((version, kek_id, wrapped_key, ciphertext)) = row else {
        return Ok(None);
    };
    let sealed = Sealed {
        kek_id,
        wrapped_key,
        ciphertext,
    };
    let value = state
        .keys
        .read()
        .await
        .open(name, version, &sealed)
        .await
        .map_err(|e| Error::Runtime(e.to_string()))?;
    Ok(Some((version, value)))
}

pub(crate) async fn mark_used(state: &AppState, run: &str, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE secrets SET last_used_at = $1, last_used_by = $2 WHERE name = $3")
        .bind(now())
        .bind(run)
        .bind(name)
        .execute(&state.db)
        .await?;
    Ok(())
}

/// Publishes each event as JSON to the live run (already redacted by the
/// engine).
struct Publisher {
    live: Arc<LiveRun>,
}

impl Observer for Publisher {
    fn dumps(&self) -> bool {
        true
    }

    fn event(&self, event: Event<'_>) {
        let value = match event {
            Event::JourneyStarted { journey, plan } => json!({
                "event": "journey_started", "journey": journey, "name": plan.journey,
                "environment": plan.environment, "steps": plan.steps.len(),
                "width": plan.steps.iter().map(|s| s.id.len()).max().unwrap_or(0),
            }),
            Event::StepStarted { journey, id } => {
                json!({"event": "step_started", "journey": journey, "step": id})
            }
            Event::Request { journey, dump } => {
                json!({"event": "request", "journey": journey, "dump": dump})
            }
            Event::Response { journey, dump } => {
                json!({"event": "response", "journey": journey, "dump": dump})
            }
            Event::StepFinished { journey, step } => {
                json!({"event": "step_finished", "journey": journey, "step": step})
            }
            Event::StepSkipped { journey, id } => {
                json!({"event": "step_skipped", "journey": journey, "step": id})
            }
            Event::JourneyFinished {
                journey,
                report,
                ran,
            } => json!({
                "event": "journey_finished", "journey": journey, "name": report.name,
                "outcome": report.outcome, "duration_ms": report.duration_ms, "ran": ran,
                "steps": report.steps.len(),
                "passed": report.steps.iter().filter(|s| s.outcome == Outcome::Passed).count(),
                "failed": report.steps.iter().filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error)).count(),
                "skipped": report.steps.iter().filter(|s| s.outcome == Outcome::Skipped).count(),
                "interrupted": report.steps.iter().filter(|s| s.outcome == Outcome::Interrupted).count(),
            }),
            // The end of the run is published once the run is recorded.
            Event::RunFinished { .. } => return,
        };
        self.live.publish(value.to_string());
    }
}

/// The three reports (JSON, JUnit, HTML), rendered through the run's
/// redactor; one that could not be rendered is `None` (and logged).
pub(crate) fn render_reports(
    id: &str,
    report: &RunReport,
    redactor: &Redactor,
) -> [Option<String>; 3] {
    [Format::Json, Format::Junit, Format::Html].map(|format| {
        match render(report, format, redactor) {
            Ok(text) => Some(text),
            Err(e) => {
                tracing::error!(run = %id, error = %e, "a report was not kept");
                None
            }
        }
    })
}

/// Keep the three reports, rendered through the run's redactor.
async fn keep_reports(
    state: &AppState,
    id: &str,
    report: &RunReport,
    redactor: &Redactor,
) -> Result<(), sqlx::Error> {
    let rendered = render_reports(id, report, redactor);
    sqlx::query("UPDATE runs SET report = $1, report_junit = $2, report_html = $3 WHERE id = $4 AND worker = $5 AND status = 'running'")
        .bind(&rendered[0])
        .bind(&rendered[1])
        .bind(&rendered[2])
        .bind(id)
        .bind(&*state.process)
        .execute(&state.db)
        .await?;
    Ok(())
}

/// Record the run's end, its events, and tell whoever follows it.
async fn finish(
    state: &AppState,
    id: &str,
    status: &str,
    code: i32,
    error: Option<String>,
    live: Option<&Arc<LiveRun>>,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.begin().await?;
    // Only while this process holds the run: once its lease lapsed the run
    // was marked interrupted, and what this process made of it is refused.
    let recorded = sqlx::query(
        "UPDATE runs SET status = $1, exit_code = $2, error = $3, finished_at = $4 \
         WHERE id = $5 AND worker = $6 AND status = 'running'",
    )
    .bind(status)
    .bind(code)
    .bind(&error)
    .bind(now())
    .bind(id)
    .bind(&*state.process)
    .execute(&mut *tx)
    .await?;
    if recorded.rows_affected() == 0 {
        tx.rollback().await?;
        tracing::warn!(run = %id, status, "the run's lease was lost before it ended: its results were refused");
        return Ok(());
    }
    if let Some(live) = live {
        let events: Vec<Arc<str>> = live.history.lock().map(|h| h.clone()).unwrap_or_default();
        for (seq, body) in events.iter().enumerate() {
            // Some may be stored already ([`lease::store_events`]).
            sqlx::query(
                "INSERT INTO run_events (run_id, seq, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_id, seq) DO NOTHING",
            )
            .bind(id)
            .bind(seq as i64)
            .bind(&**body)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    if state.config.project_concurrency.is_some() {
        // A project's share is free again: workers elsewhere may take its
        // next run now rather than at their next look.
        lease::announce(state).await;
    }
    state
        .metrics
        .runs
        .get_or_create(&crate::metrics::OutcomeLabel {
            outcome: status.to_string(),
        })
        .inc();
    if let Some(live) = live {
        live.publish(
            json!({"event": "run_finished", "status": status, "exit_code": code, "error": error})
                .to_string(),
        );
    }
    Ok(())
}
