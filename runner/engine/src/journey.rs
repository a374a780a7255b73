//! One journey of a run: its steps in order, stopping at the first that does
//! not pass, with the steps left recorded as skipped.

use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;

use reqflo_core::error::Error;
use reqflo_sandbox::hooks::HookRuntime;

use crate::context::{Journey, RunSettings, millis};
use crate::judge::Captured;
use crate::observer::Event;
use crate::record::step_record;
use crate::step::run_step;
use crate::stop::Stop;
use reqflo_core::plan::{Fill, Plan, PlannedStep};
use reqflo_core::report::{JourneyReport, Outcome, StepReport};
use reqflo_sandbox::secrets::SecretStore;
use serde_json::Value;

/// Run one journey's steps; stops at the first step that does not pass.
pub(crate) async fn run_plan(
    job: &Journey<'_>,
    run_store: &Arc<SecretStore>,
    hooks: &tokio::sync::Mutex<HookRuntime>,
    settings: &RunSettings,
    stop: &Stop,
) -> Result<JourneyReport, Error> {
    let plan = job.plan;
    let secret_ids = job.secret_ids;
    let store = &mut SecretStore::layered(run_store);
    job.event(Event::JourneyStarted {
        journey: job.index,
        plan,
    });
    // One client per journey: cookies stay within the journey's run.
    let mut builder = reqwest::Client::builder()
        .cookie_store(true)
        // Redirects are not followed (as in Hurl): a 307 to another host would
        // re-send a body, secrets included, past the destination check.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("reqflo/", env!("CARGO_PKG_VERSION")));
    if let Some(tls) = &plan.tls {
        builder = crate::tls::configure(builder, plan, tls, store, secret_ids)?;
    }
    let client = builder
        .build()
        .map_err(|e| crate::tls::build_error(plan, &e))?;

    let started = Instant::now();
    let mut captures: Vec<IndexMap<String, Captured>> = Vec::with_capacity(plan.steps.len());
    let mut journey = JourneyReport {
        name: plan.journey.clone(),
        environment: plan.environment.clone(),
        outcome: Outcome::Passed,
        duration_ms: 0.0,
        steps: Vec::with_capacity(plan.steps.len()),
    };
    for step in &plan.steps {
        if stop.asked().is_some() {
            // Asked between steps: the steps left are recorded as skipped.
            journey.outcome = Outcome::Interrupted;
            break;
        }
        let start_ms = millis(started.elapsed());
        let known = crate::judge::Known {
            captures: &captures,
            secret_ids,
        };
        if let Some(skipped) = unwanted(step, known, store, start_ms, settings) {
            // `when:` did not hold: skipped, and the journey goes on.
            job.event(Event::StepSkipped {
                journey: job.index,
                id: &step.id,
            });
            captures.push(IndexMap::new());
            journey.steps.push(skipped);
            continue;
        }
        job.event(Event::StepStarted {
            journey: job.index,
            id: &step.id,
        });
        let step_started = Instant::now();
        // Dropping the step's future on a stop drops its request in flight
        // (the connection is closed) and everything it held, secrets zeroed.
        let (mut record, kept) = tokio::select! {
            biased;
            why = stop.wait() => (interrupted(step, why, step_started), IndexMap::new()),
            done = run_step(&client, job, step, secret_ids, store, hooks, &captures, settings) => done,
        };
        record.start_ms = start_ms;
        job.event(Event::StepFinished {
            journey: job.index,
            step: &record,
        });
        captures.push(kept);
        journey.outcome = journey.outcome.worst(record.outcome);
        let stop = record.outcome != Outcome::Passed;
        journey.steps.push(record);
        if stop {
            break;
        }
    }
    for step in &plan.steps[journey.steps.len()..] {
        job.event(Event::StepSkipped {
            journey: job.index,
            id: &step.id,
        });
        journey.steps.push(step_record(
            step,
            Outcome::Skipped,
            millis(started.elapsed()),
        ));
    }
    journey.duration_ms = millis(started.elapsed());
    job.event(Event::JourneyFinished {
        journey: job.index,
        report: &journey,
        ran: true,
    });
    Ok(journey)
}

/// The record of a step whose `when:` does not hold now, or `None` when it
/// is to run.
fn unwanted(
    step: &PlannedStep,
    known: crate::judge::Known<'_>,
    store: &SecretStore,
    start_ms: f64,
    settings: &RunSettings,
) -> Option<StepReport> {
    let when = step.when.as_ref()?;
    let value = match &when.value {
        Fill::Value(value) => Some(value),
        Fill::Capture(index, name) => match known.captures.get(*index).and_then(|c| c.get(name)) {
            Some(Captured::Value(value)) => Some(value),
            // Planning refuses secrets here; a secret is never shown.
            Some(Captured::Secret(_)) | None => None,
        },
        // Planning refuses these.
        Fill::Secret(_) | Fill::Generate(..) => None,
    };
    // Planning refuses a secret in `is:` too, so settling shows none.
    if reqflo_core::expect::holds(&when.test, value, &|d| known.settle(d, store)) {
        return None;
    }
    let mut record = step_record(step, Outcome::Skipped, start_ms);
    let shown = value.map_or_else(|| "nothing".to_string(), Value::to_string);
    record.notes.push(format!(
        "skipped: `when:` did not hold (the value was {})",
        settings.redactor.redact(&shown)
    ));
    Some(record)
}

/// The record of a step a signal stopped before it finished.
pub(crate) fn interrupted(step: &PlannedStep, why: &str, started: Instant) -> StepReport {
    let mut record = step_record(step, Outcome::Interrupted, 0.0);
    record.duration_ms = millis(started.elapsed());
    record.error = Some(format!(
        "interrupted by {why} before the step finished; its request, if sent, was abandoned"
    ));
    record
}

/// A journey a signal stopped before it began: every step skipped.
pub(crate) fn not_run(plan: &Plan) -> JourneyReport {
    JourneyReport {
        name: plan.journey.clone(),
        environment: plan.environment.clone(),
        outcome: Outcome::Skipped,
        duration_ms: 0.0,
        steps: plan
            .steps
            .iter()
            .map(|step| step_record(step, Outcome::Skipped, 0.0))
            .collect(),
    }
}
