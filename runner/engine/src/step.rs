//! One step: build the request (secrets injected at the last moment), run
//! its hooks, check where its secrets may go, send it (with retries), judge
//! the response and keep its captures.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use rand::RngCore;
use serde_json::Value;

use reqflo_core::error::Error;
use reqflo_core::message::{self, BuiltRequest, Received};
use reqflo_sandbox::hooks::HookRuntime;

use crate::context::{Journey, RunSettings, millis};
use crate::http;
use crate::judge::{Captured, judge};
use crate::observer::Event;
use crate::record::{redact_value, request_report, response_report, step_record};
use reqflo_core::plan::{Fill, PlannedStep};
use reqflo_core::project::model::GenerateKind;
use reqflo_core::redact::{RedactingWriter, Redactor};
use reqflo_core::report::{CaptureReport, Outcome, StepReport};
use reqflo_core::template::{Filled, Fills};
use reqflo_sandbox::secrets::{Binding, SecretId, SecretStore};

/// Of a body cut at the body limit, only this much is kept for dumps and
/// reports (which show less).
const SHOWN_CUT_BODY_BYTES: usize = 256 * 1024;

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_step(
    client: &reqwest::Client,
    journey: &Journey<'_>,
    step: &PlannedStep,
    secret_ids: &[SecretId],
    store: &mut SecretStore,
    hooks: &tokio::sync::Mutex<HookRuntime>,
    captures: &[IndexMap<String, Captured>],
    settings: &RunSettings,
) -> (StepReport, IndexMap<String, Captured>) {
    let redactor = &*settings.redactor;
    let started = Instant::now();
    let known = crate::judge::Known {
        captures,
        secret_ids,
    };
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
            record.error = Some(redactor.redact(&e.to_string()).into_owned());
            record.duration_ms = millis(started.elapsed());
            return (record, kept);
        }
    };
    if journey.observer.dumps() {
        journey.event(Event::Request {
            journey: journey.index,
            dump: &crate::dump::request(&request, redactor),
        });
    }
    record.request = Some(request_report(redactor, &request, settings.record_messages));
    // Sent once; with `until:`, again until the response meets it (or the
    // attempts run out), each send the same request.
    let mut wait = step.until.as_ref().map(|u| u.interval).unwrap_or_default();
    let mut attempt = 0;
    let (mut response, unmet) = loop {
        attempt += 1;
        let response = match send_following(
            client,
            step,
            &request,
            settings,
            &mut record,
            store,
            redactor,
        )
        .await
        {
            Ok(response) => response,
            Err(e) => {
                record.error = Some(redactor.redact(&e.to_string()).into_owned());
                record.duration_ms = millis(started.elapsed());
                return (record, kept);
            }
        };
        let Some(until) = &step.until else {
            break (response, None);
        };
        let mut checks = reqflo_core::expect::check(
            &until.expect,
            &response,
            &mut reqflo_core::expect::Body::new(&response.body),
            &|d| known.settle(d, store),
        );
        if checks.iter().all(|c| c.passed) {
            if attempt > 1 {
                record
                    .notes
                    .push(format!("until: met at attempt {attempt}"));
            }
            break (response, None);
        }
        if attempt >= until.max {
            crate::judge::redact_checks(redactor, &mut checks);
            break (response, Some((checks, attempt)));
        }
        tokio::time::sleep(wait).await;
        wait = wait.mul_f64(until.backoff);
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
            "the response body is larger than {} ({}); only its first {} bytes were read",
            settings.max_body_setting,
            size_text(settings.max_body),
            response.body.len()
        ));
    }
    match unmet {
        Some((checks, attempts)) => {
            record.expectations = checks;
            record.notes.push(format!(
                "until: not met after {attempts} attempts ({:.1} s)",
                started.elapsed().as_secs_f64()
            ));
            record.outcome = Outcome::Failed;
        }
        None => judge(
            settings,
            step,
            &response,
            &capture_binding,
            known,
            store,
            &mut kept,
            &mut record,
        ),
    }
    let read = response.body.len();
    if response.truncated {
        // Reports and dumps show at most 64 KiB: keep only what they can show,
        // so the cut body is not copied whole again.
        let shown = response.body.len().min(SHOWN_CUT_BODY_BYTES);
        response.body = safe_prefix(redactor, &response.body[..shown]).into();
    }
    // Dumped and recorded after captures, so a token captured as a secret is
    // already known to the redactor when the response that carried it is shown.
    if journey.observer.dumps() {
        journey.event(Event::Response {
            journey: journey.index,
            dump: &crate::dump::response(&response, redactor),
        });
    }
    record.response = Some(response_report(
        redactor,
        &response,
        settings.record_messages,
    ));
    if let Some(report) = &mut record.response {
        report.body_bytes = read;
    }
    record.captures = kept
        .iter()
        .map(|(name, captured)| CaptureReport {
            name: name.clone(),
            value: match captured {
                Captured::Value(v) => redact_value(redactor, v),
                Captured::Secret(_) => Value::String(format!("[redacted:{name}]")),
            },
            secret: matches!(captured, Captured::Secret(_)),
        })
        .collect();
    record.duration_ms = millis(started.elapsed());
    (record, kept)
}

/// Send the request (with retries), then, when the step says
/// `follow_redirects: true`, each redirect it gets ([`crate::redirect`]):
/// every hop is checked against where the step's secrets may go.
async fn send_following(
    client: &reqwest::Client,
    step: &PlannedStep,
    request: &BuiltRequest,
    settings: &RunSettings,
    record: &mut StepReport,
    store: &SecretStore,
    redactor: &Redactor,
) -> Result<Received, Error> {
    let mut response = send_with_retries(client, step, request, settings, record).await?;
    if !step.follow_redirects {
        return Ok(response);
    }
    let mut hop: Option<BuiltRequest> = None;
    for _ in 0..crate::redirect::MAX_HOPS {
        let from = hop.as_ref().unwrap_or(request);
        let Some((next, notes)) = crate::redirect::next_hop(&step.id, from, &response, redactor)?
        else {
            return Ok(response);
        };
        message::check_destinations(&step.id, &next, store)?;
        record.notes.extend(notes);
        record.notes.push(format!(
            "followed {} to {}",
            response.status.as_u16(),
            redactor.redact(next.url.as_str())
        ));
        response = send_with_retries(client, step, &next, settings, record).await?;
        hop = Some(next);
    }
    Err(Error::Runtime(format!(
        "step `{}`: more than {} redirects",
        step.id,
        crate::redirect::MAX_HOPS
    )))
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
            settings.redactor.redact(&why),
            reqflo_core::duration::human(wait)
        ));
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
    }
}

/// A cut body, redacted, without its last bytes when they could be the start
/// of a secret that the cut split (the redactor could not recognise it).
fn safe_prefix(redactor: &Redactor, body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::new();
    let mut writer = RedactingWriter::with(&mut out, redactor);
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
