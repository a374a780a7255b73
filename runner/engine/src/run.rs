//! Running planned journeys: resolve secrets, then each step in order,
//! recording what happened as a [`RunReport`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use indexmap::IndexMap;
use rand::RngCore;
use secrecy::SecretString;
use serde_json::Value;

use reqflo_core::error::{Error, exit};
use reqflo_core::expect::{self, Body};
use reqflo_core::message::{self, BuiltRequest, Received};
use reqflo_sandbox::hooks::{HookRuntime, HookSpecs};

use crate::http;
use crate::observer::{Event, Observer};
use crate::stop::{Stop, stopped};
use reqflo_core::plan::{CaptureFrom, Fill, Plan, PlannedStep, SecretUse};
use reqflo_core::project::Project;
use reqflo_core::project::model::GenerateKind;
use reqflo_core::redact;
use reqflo_core::report::{
    CaptureReport, JourneyReport, MessageReport, Outcome, RunReport, SCHEMA_VERSION, StepReport,
};
use reqflo_core::template::{Filled, Fills, push_value_text};
use reqflo_sandbox::secrets::{
    Binding, MIN_SECRET_BYTES, Providers, Resolver, SecretId, SecretStore,
};

/// Report bodies are cut here (after redaction).
const REPORT_BODY_BYTES: usize = 64 * 1024;

/// Of a body cut at `--max-body`, only this much is kept for dumps and
/// reports (which show less).
const SHOWN_CUT_BODY_BYTES: usize = 256 * 1024;

/// A value kept from a response.
enum Captured {
    Value(Value),
    Secret(SecretId),
}

/// Settings of a run that are not in any file.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Keep request and response headers and bodies for reports. Without a
    /// report nothing reads them, and redacting and copying every header of
    /// every step is a good share of a step's own cost.
    pub record_messages: bool,
    /// Response bodies are cut after this many bytes (`--max-body`).
    pub max_body: usize,
    /// Journeys run at once (`--jobs`); 1 runs them one after another.
    pub jobs: usize,
}

/// Parse a size: `10MiB`, `512KiB`, `1GiB`, `2MB` or a bare number of bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("`{text}` is not a size (try 10MiB, 512KiB or 1048576)");
    let number: usize = number.parse().map_err(|_| bad())?;
    let unit: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    match number.checked_mul(unit) {
        Some(0) | None => Err(format!("`{text}` is out of range")),
        Some(bytes) => Ok(bytes),
    }
}

/// The exit code a report stands for: 0 passed, 4 an expectation failed, 3 an error.
pub fn exit_code(report: &RunReport) -> i32 {
    match report.outcome {
        Outcome::Passed | Outcome::Skipped => exit::OK,
        Outcome::Failed => exit::EXPECTATION,
        Outcome::Error => exit::RUNTIME,
        Outcome::Interrupted => exit::INTERRUPTED,
    }
}

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
    let mut resolver = Resolver::new(project, providers, &uses);
    // `biased`: a stop already asked for wins over work that is ready.
    let resolved = tokio::select! {
        biased;
        why = stop.wait() => Err(stopped(why, "resolving secrets")),
        ids = resolver.resolve_all(&uses, &mut store) => ids,
    };
    let ids = match resolved {
        Ok(ids) => ids,
        Err(e) => return fail_run(report, started, e),
    };
    let plugin_host = resolver.take_host();
    drop(resolver);
    // From here the run's secrets are read-only, shared by every journey;
    // each journey keeps its captures in a layer of its own.
    let store = Arc::new(store);

    // Every hook the run uses is loaded and configured before the first request.
    let mut hooks = match HookSpecs::from_project(project) {
        Ok(specs) => HookRuntime::new(specs, plugin_host),
        Err(e) => return fail_run(report, started, e),
    };
    let prepared = tokio::select! {
        biased;
        why = stop.wait() => Err(stopped(why, "starting request hooks")),
        prepared = hooks.prepare(plans) => prepared,
    };
    if let Err(e) = prepared {
        return fail_run(report, started, e);
    }

    // Hooks are stateful sandboxes: journeys side by side take turns.
    let hooks = tokio::sync::Mutex::new(hooks);
    let jobs = settings.jobs.max(1);
    let mut offset = 0;
    let work = plans.iter().enumerate().map(|(index, plan)| {
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
    });
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
        Some(e) => fail_run(report, started, e),
        None => {
            report.duration_ms = millis(started.elapsed());
            (report, None)
        }
    }
}

/// Record a run-wide failure in the report and return both.
fn fail_run(mut report: RunReport, started: Instant, e: Error) -> (RunReport, Option<Error>) {
    report.outcome = match e {
        Error::Interrupted(_) => Outcome::Interrupted,
        _ => Outcome::Error,
    };
    report.error = Some(redact::global().redact(&e.to_string()).into_owned());
    report.duration_ms = millis(started.elapsed());
    (report, Some(e))
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// One journey of a run: its plan, its secrets' handles and who watches.
struct Journey<'r> {
    /// Its place in the run, for events.
    index: usize,
    plan: &'r Plan,
    secret_ids: &'r [SecretId],
    observer: &'r dyn Observer,
}

impl Journey<'_> {
    fn event(&self, event: Event<'_>) {
        self.observer.event(event);
    }
}

/// Run one journey's steps; stops at the first step that does not pass.
async fn run_plan(
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
    let client = reqwest::Client::builder()
        .cookie_store(true)
        // Redirects are not followed (as in Hurl): a 307 to another host would
        // re-send a body, secrets included, past the destination check.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("reqflo/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start the HTTP client: {e}")))?;

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

/// A step's record before anything is known of it but how it ended.
fn step_record(step: &PlannedStep, outcome: Outcome, start_ms: f64) -> StepReport {
    StepReport {
        id: step.id.clone(),
        template: step.template.name.clone(),
        outcome,
        start_ms,
        duration_ms: 0.0,
        request: None,
        response: None,
        captures: Vec::new(),
        expectations: Vec::new(),
        error: None,
        attempts: 0,
        notes: Vec::new(),
    }
}

/// The record of a step a signal stopped before it finished.
fn interrupted(step: &PlannedStep, why: &str, started: Instant) -> StepReport {
    let mut record = step_record(step, Outcome::Interrupted, 0.0);
    record.duration_ms = millis(started.elapsed());
    record.error = Some(format!(
        "interrupted by {why} before the step finished; its request, if sent, was abandoned"
    ));
    record
}

/// A journey a signal stopped before it began: every step skipped.
fn not_run(plan: &Plan) -> JourneyReport {
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

#[allow(clippy::too_many_arguments)]
async fn run_step(
    client: &reqwest::Client,
    journey: &Journey<'_>,
    step: &PlannedStep,
    secret_ids: &[SecretId],
    store: &mut SecretStore,
    hooks: &tokio::sync::Mutex<HookRuntime>,
    captures: &[IndexMap<String, Captured>],
    settings: &RunSettings,
) -> (StepReport, IndexMap<String, Captured>) {
    let started = Instant::now();
    let mut kept = IndexMap::new();
    let mut record = step_record(step, Outcome::Error, 0.0);
    let generated = generate(step);
    let fills = StepFills {
        step,
        store,
        secret_ids,
        captures,
        generated: &generated,
    };
    let built = message::build(&step.id, &step.template, &fills, store)
        .and_then(|r| message::check_destinations(&step.id, &r, store).map(|()| r));
    let built = match built {
        Ok(request) if !step.hooks.is_empty() => hooks
            .lock()
            .await
            .apply(&step.id, &step.hooks, request, store, secret_ids)
            .await
            // Whatever the hooks did, the final request is checked again.
            .and_then(|r| message::check_destinations(&step.id, &r, store).map(|()| r)),
        other => other,
    };
    let request = match built {
        Ok(request) => request,
        Err(e) => {
            record.error = Some(redact::global().redact(&e.to_string()).into_owned());
            record.duration_ms = millis(started.elapsed());
            return (record, kept);
        }
    };
    if journey.observer.dumps() {
        journey.event(Event::Request {
            journey: journey.index,
            dump: &crate::dump::request(&request, redact::global()),
        });
    }
    record.request = Some(request_report(&request, settings.record_messages));
    let mut response = match send_with_retries(client, step, &request, settings, &mut record).await
    {
        Ok(response) => response,
        Err(e) => {
            record.error = Some(redact::global().redact(&e.to_string()).into_owned());
            record.duration_ms = millis(started.elapsed());
            return (record, kept);
        }
    };
    // A secret captured from this response already crossed this connection:
    // it may go back over plain HTTP only if it came over plain HTTP.
    let capture_binding = Binding {
        hosts: None,
        allow_http: request.url.scheme() == "http",
    };
    drop(request);
    if response.truncated {
        record.notes.push(format!(
            "the response body is larger than --max-body ({}); only its first {} bytes were read",
            size_text(settings.max_body),
            response.body.len()
        ));
    }
    judge(
        step,
        &response,
        &capture_binding,
        store,
        &mut kept,
        &mut record,
    );
    let read = response.body.len();
    if response.truncated {
        // Reports and dumps show at most 64 KiB: keep only what they can show,
        // so the cut body is not copied whole again.
        let shown = response.body.len().min(SHOWN_CUT_BODY_BYTES);
        response.body = safe_prefix(&response.body[..shown]).into();
    }
    // Dumped and recorded after captures, so a token captured as a secret is
    // already known to the redactor when the response that carried it is shown.
    if journey.observer.dumps() {
        journey.event(Event::Response {
            journey: journey.index,
            dump: &crate::dump::response(&response, redact::global()),
        });
    }
    record.response = Some(response_report(&response, settings.record_messages));
    if let Some(report) = &mut record.response {
        report.body_bytes = read;
    }
    record.captures = kept
        .iter()
        .map(|(name, captured)| CaptureReport {
            name: name.clone(),
            value: match captured {
                Captured::Value(v) => redact_value(v),
                Captured::Secret(_) => Value::String(format!("[redacted:{name}]")),
            },
            secret: matches!(captured, Captured::Secret(_)),
        })
        .collect();
    record.duration_ms = millis(started.elapsed());
    (record, kept)
}

/// Send the request, again as the step's `retries:` allow: after a network
/// error or a listed status, waiting `backoff` and doubling it each time.
/// The same built request is re-sent: nothing is rendered again.
async fn send_with_retries(
    client: &reqwest::Client,
    step: &PlannedStep,
    request: &BuiltRequest,
    settings: &RunSettings,
    record: &mut StepReport,
) -> Result<Received, Error> {
    let mut retries = step.retries.clone();
    if let Some(r) = &retries
        && !r.non_idempotent
        && !is_idempotent(&request.method)
    {
        record.notes.push(format!(
            "not retried: {} is not idempotent (set `non_idempotent: true` under `retries:` to allow it)",
            request.method
        ));
        retries = None;
    }
    let (count, mut wait, on) = match &retries {
        Some(r) => (r.count, r.backoff, r.on.as_slice()),
        None => (0, Duration::ZERO, &[][..]),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        record.attempts = attempt;
        let last = attempt > count;
        let why = match http::send(
            &step.id,
            client,
            request,
            settings.timeout,
            settings.max_body,
        )
        .await
        {
            Ok(response) if last || !on.contains(&response.status.as_u16()) => {
                if attempt > 1 {
                    record.notes.push(format!("{attempt} attempts"));
                }
                return Ok(response);
            }
            Ok(response) => format!("status {}", response.status.as_u16()),
            Err(http::SendError::Network(e)) if !last => e.to_string(),
            Err(e) => {
                if attempt > 1 {
                    record.notes.push(format!("{attempt} attempts"));
                }
                return Err(e.into_error());
            }
        };
        // The reason is redacted like any other output.
        record.notes.push(format!(
            "attempt {attempt} of {}: {}; retrying in {}",
            count + 1,
            redact::global().redact(&why),
            reqflo_core::duration::human(wait)
        ));
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
    }
}

/// A cut body, redacted, without its last bytes when they could be the start
/// of a secret that the cut split (the redactor could not recognise it).
fn safe_prefix(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::new();
    let mut writer = redact::RedactingWriter::new(&mut out);
    // Writing to a Vec cannot fail; the writer holds back a possible secret
    // prefix at the end, and is dropped without `finish` so it stays unwritten.
    let _ = writer.write_all(body);
    drop(writer);
    out
}

/// Methods that RFC 9110 defines as idempotent: safe to send twice.
fn is_idempotent(method: &reqwest::Method) -> bool {
    use reqwest::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

/// `10MiB`, `512KiB` or bytes, for messages.
fn size_text(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{}MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{}KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Check expectations, then take captures; sets the record's outcome.
fn judge(
    step: &PlannedStep,
    response: &Received,
    capture_binding: &Binding,
    store: &mut SecretStore,
    kept: &mut IndexMap<String, Captured>,
    record: &mut StepReport,
) {
    // A cut body is never parsed: JSON of its first bytes would fail with a
    // misleading message, or worse, match. Header and status checks still run.
    let needs_body = !step.expect.json.is_empty()
        || step
            .captures
            .iter()
            .any(|c| matches!(c.from, CaptureFrom::Json(..)));
    if response.truncated && needs_body {
        record.expectations = expect::check(
            &reqflo_core::plan::Expectations {
                status: step.expect.status.clone(),
                headers: step.expect.headers.clone(),
                json: Vec::new(),
            },
            response,
            &mut Body::new(&[]),
        );
        record.expectations.push(expect::Checked {
            kind: "json",
            subject: "$".into(),
            expected: "the whole body".into(),
            actual: Some(format!("its first {} bytes", response.body.len())),
            passed: false,
            message: Some(
                "body: larger than --max-body, so JSON expectations and captures cannot be checked (raise --max-body)".into(),
            ),
        });
        record.outcome = Outcome::Failed;
        return;
    }
    let mut body = Body::new(&response.body);
    // Every secret capture the response allows is learned first, so neither an
    // expectation failure quoting it nor the `-v` dump can show it.
    for rule in step.captures.iter().filter(|r| r.secret) {
        if let Ok(value) = expect::capture(rule, response, &mut body) {
            learn(&rule.name, &value);
        }
        for single in expect::header_values(rule, response) {
            redact::global().add(&rule.name, single.as_bytes());
        }
    }
    record.expectations = expect::check(&step.expect, response, &mut body);
    for checked in &mut record.expectations {
        checked.expected = redact::global().redact(&checked.expected).into_owned();
        checked.actual = checked
            .actual
            .as_deref()
            .map(|a| redact::global().redact(a).into_owned());
        checked.message = checked
            .message
            .as_deref()
            .map(|m| redact::global().redact(m).into_owned());
    }
    if record.expectations.iter().any(|c| !c.passed) {
        record.outcome = Outcome::Failed;
        return;
    }
    for rule in &step.captures {
        let value = match expect::capture(rule, response, &mut body) {
            Ok(value) => value,
            Err(why) => {
                record.error = Some(format!("capture `{}`: {why}", rule.name));
                return;
            }
        };
        if rule.secret {
            let text = learn(&rule.name, &value);
            if text.len() < MIN_SECRET_BYTES {
                record.error = Some(format!(
                    "capture `{}`: a secret capture must be at least {MIN_SECRET_BYTES} bytes to be redacted safely",
                    rule.name
                ));
                return;
            }
            let id = store.insert(
                &rule.name,
                SecretString::from(text),
                capture_binding.clone(),
            );
            kept.insert(rule.name.clone(), Captured::Secret(id));
        } else {
            kept.insert(rule.name.clone(), Captured::Value(value));
        }
    }
    record.outcome = Outcome::Passed;
}

/// Teach the redactor a captured secret; returns its text form.
fn learn(name: &str, value: &Value) -> String {
    let mut text = String::new();
    push_value_text(value, &mut text);
    if text.len() >= MIN_SECRET_BYTES {
        redact::global().add(name, text.as_bytes());
    }
    text
}

/// A JSON value with every string redacted.
fn redact_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(redact::global().redact(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(redact_value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (redact::global().redact(k).into_owned(), redact_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A body for a report: redacted whole, then cut.
fn body_report(body: &[u8], keep: bool) -> (Option<String>, bool) {
    if !keep || body.is_empty() {
        return (None, false);
    }
    let redacted = redact::global().redact_bytes(body);
    let cut = redacted.len() > REPORT_BODY_BYTES;
    let shown = &redacted[..redacted.len().min(REPORT_BODY_BYTES)];
    (Some(String::from_utf8_lossy(shown).into_owned()), cut)
}

/// What a step's line and reports show of its request; headers and body only
/// when `whole` (a report will be written).
fn request_report(request: &BuiltRequest, whole: bool) -> MessageReport {
    let body = request.body.as_deref().map(Vec::as_slice).unwrap_or(&[]);
    let (text, truncated) = body_report(body, whole);
    let headers = match whole {
        true => request
            .headers
            .iter()
            .map(|(n, v)| [n.to_string(), redact::global().redact(v).into_owned()])
            .collect(),
        false => Vec::new(),
    };
    MessageReport {
        method: Some(request.method.to_string()),
        url: Some(redact::global().redact(request.url.as_str()).into_owned()),
        status: None,
        headers,
        body: text,
        body_bytes: body.len(),
        body_truncated: truncated,
    }
}

/// What a step's line and reports show of its response; headers and body
/// only when `whole` (a report will be written).
fn response_report(response: &Received, whole: bool) -> MessageReport {
    let (text, truncated) = body_report(&response.body, whole);
    let headers = match whole {
        true => response
            .headers
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes());
                [n.to_string(), redact::global().redact(&value).into_owned()]
            })
            .collect(),
        false => Vec::new(),
    };
    MessageReport {
        method: None,
        url: None,
        status: Some(response.status.as_u16()),
        headers,
        body: text,
        body_bytes: response.body.len(),
        body_truncated: truncated || response.truncated,
    }
}

/// Fresh values for the step's `generate` sources.
fn generate(step: &PlannedStep) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for (name, fill) in &step.fills {
        if let Fill::Generate(kind, bytes) = fill {
            let value = match kind {
                GenerateKind::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
                GenerateKind::Timestamp => Value::from(
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                ),
                GenerateKind::RandomHex => {
                    let mut buf = vec![0u8; *bytes];
                    rand::rng().fill_bytes(&mut buf);
                    Value::String(hex::encode(buf))
                }
            };
            out.insert(name.clone(), value);
        }
    }
    out
}

/// Placeholder values for one step, secrets revealed only on request.
struct StepFills<'a> {
    step: &'a PlannedStep,
    store: &'a SecretStore,
    secret_ids: &'a [SecretId],
    captures: &'a [IndexMap<String, Captured>],
    generated: &'a HashMap<String, Value>,
}

impl Fills for StepFills<'_> {
    fn fill(&self, name: &str) -> Option<Filled<'_>> {
        let secret = |id: SecretId| Filled::Secret {
            id,
            text: self.store.reveal(id),
        };
        match self.step.fills.get(name) {
            Some(Fill::Value(value)) => Some(Filled::Value(value)),
            Some(Fill::Secret(index)) => self.secret_ids.get(*index).map(|id| secret(*id)),
            Some(Fill::Capture(step, capture)) => {
                match self.captures.get(*step).and_then(|c| c.get(capture)) {
                    Some(Captured::Value(value)) => Some(Filled::Value(value)),
                    Some(Captured::Secret(id)) => Some(secret(*id)),
                    None => None,
                }
            }
            Some(Fill::Generate(..)) => self.generated.get(name).map(Filled::Value),
            None => self.step.variables.get(name).map(Filled::Value),
        }
    }
}
