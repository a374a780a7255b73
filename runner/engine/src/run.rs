//! Running planned journeys: resolve secrets, then each step in order,
//! recording what happened as a [`RunReport`].

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures_util::StreamExt;

use reqflo_core::error::Error;
use reqflo_sandbox::hooks::{HookRuntime, HookSpecs};

use crate::context::{Journey, millis};
use crate::journey::{not_run, run_plan};
use crate::observer::{Event, Observer};
use crate::stop::{Stop, stopped};
use reqflo_core::plan::{Plan, SecretUse};
use reqflo_core::project::Project;
use reqflo_core::redact::Redactor;
use reqflo_core::report::{Outcome, RunReport, SCHEMA_VERSION};

pub use crate::context::{RunSettings, parse_size};
use reqflo_sandbox::secrets::{Providers, Resolver, SecretStore};
/// Resolve the secrets of all `plans`, then run them in order. A failure to
/// resolve is returned beside the report (which records it), so reports are
/// written for error runs too. Once `stop` is asked for, whatever is running
/// is dropped (an in-flight request with its connection), the rest is
/// recorded as not run, and the report comes back as it stands.
pub async fn run_plans(
    project: &Project,
    providers: &Providers,
    plans: &[Plan],
    settings: &RunSettings,
    observer: &dyn Observer,
    stop: &Stop,
) -> (RunReport, Option<Error>) {
    let (report, error) = run_all(project, providers, plans, settings, observer, stop).await;
    observer.event(Event::RunFinished { report: &report });
    (report, error)
}

async fn run_all(
    project: &Project,
    providers: &Providers,
    plans: &[Plan],
    settings: &RunSettings,
    observer: &dyn Observer,
    stop: &Stop,
) -> (RunReport, Option<Error>) {
    let started = Instant::now();
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        reqflo_version: env!("CARGO_PKG_VERSION"),
        started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        duration_ms: 0.0,
        outcome: Outcome::Passed,
        error: None,
        journeys: Vec::new(),
    };
    let uses: Vec<SecretUse> = plans
        .iter()
        .flat_map(|p| p.secrets.iter().cloned())
        .collect();
    let mut store = SecretStore::default();
    let mut resolver = Resolver::new(project, providers, &uses, Arc::clone(&settings.redactor))
        .with_held(settings.held.clone());
    // `biased`: a stop already asked for wins over work that is ready.
    let resolved = tokio::select! {
        biased;
        why = stop.wait() => Err(stopped(why, "resolving secrets")),
        ids = resolver.resolve_all(&uses, &mut store) => ids,
    };
    let ids = match resolved {
        Ok(ids) => ids,
        Err(e) => return fail_run(report, started, e, &settings.redactor),
    };
    drop(resolver);
    // From here the run's secrets are read-only, shared by every journey;
    // each journey keeps its captures in a layer of its own.
    let store = Arc::new(store);

    // Every hook the run uses is loaded and configured before the first request.
    let mut hooks = match HookSpecs::from_project(project) {
        Ok(specs) => HookRuntime::new(specs, Arc::clone(&settings.redactor)),
        Err(e) => return fail_run(report, started, e, &settings.redactor),
    };
    let prepared = tokio::select! {
        biased;
        why = stop.wait() => Err(stopped(why, "starting request hooks")),
        prepared = hooks.prepare(plans) => prepared,
    };
    if let Err(e) = prepared {
        return fail_run(report, started, e, &settings.redactor);
    }

    // Hooks are stateful sandboxes: journeys side by side take turns.
    let hooks = tokio::sync::Mutex::new(hooks);
    let jobs = settings.jobs.max(1);
    let mut offset = 0;
    // Collected rather than left a lazy `map`: a closure kept inside the run's
    // future trips the compiler's proof that the future is `Send`. The
    // futures themselves do nothing until polled.
    let work: Vec<_> = plans
        .iter()
        .enumerate()
        .map(|(index, plan)| {
            let plan_ids = &ids[offset..offset + plan.secrets.len()];
            offset += plan.secrets.len();
            let (store, hooks) = (&store, &hooks);
            async move {
                if stop.asked().is_some() {
                    // Journeys not started are listed, every step skipped.
                    let journey = not_run(plan);
                    observer.event(Event::JourneyFinished {
                        journey: index,
                        report: &journey,
                        ran: false,
                    });
                    return Ok((journey, false));
                }
                let journey = Journey {
                    index,
                    plan,
                    secret_ids: plan_ids,
                    observer,
                };
                let done = run_plan(&journey, store, hooks, settings, stop).await;
                done.map(|journey| (journey, true))
            }
        })
        .collect();
    // At most `jobs` journeys at once, on this one task (their time is spent
    // waiting on the network). Results come out in the order the journeys
    // were named.
    let mut done = futures_util::stream::iter(work).buffered(jobs);
    let mut failure = None;
    while let Some(result) = done.next().await {
        match result {
            Ok((journey, ran)) => {
                if !ran {
                    report.outcome = Outcome::Interrupted;
                    report.error = Some(format!(
                        "interrupted by {}; not every journey ran",
                        stop.asked().unwrap_or("a signal")
                    ));
                }
                report.outcome = report.outcome.worst(journey.outcome);
                report.journeys.push(journey);
            }
            Err(e) if failure.is_none() => failure = Some(e),
            Err(_) => {}
        }
    }
    match failure {
        Some(e) => fail_run(report, started, e, &settings.redactor),
        None => {
            report.duration_ms = millis(started.elapsed());
            (report, None)
        }
    }
}

/// Record a run-wide failure in the report and return both.
fn fail_run(
    mut report: RunReport,
    started: Instant,
    e: Error,
    redactor: &Redactor,
) -> (RunReport, Option<Error>) {
    report.outcome = match e {
        Error::Interrupted(_) => Outcome::Interrupted,
        _ => Outcome::Error,
    };
    report.error = Some(redactor.redact(&e.to_string()).into_owned());
    report.duration_ms = millis(started.elapsed());
    (report, Some(e))
}
