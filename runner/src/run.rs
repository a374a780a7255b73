//! Running planned journeys: resolve secrets, then each step in order.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use rand::RngCore;
use secrecy::SecretString;
use serde_json::Value;

use crate::console::{Console, StepOutcome};
use crate::error::{Error, Result, exit};
use crate::expect::{self, Body};
use crate::http;
use crate::plan::{Fill, Plan, PlannedStep, SecretUse};
use crate::project::Project;
use crate::project::model::GenerateKind;
use crate::redact;
use crate::secrets::{MIN_SECRET_BYTES, Providers, Resolver, SecretId, SecretStore};
use crate::template::{Filled, Fills, push_value_text};

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
    /// Console settings.
    pub console: Console,
}

/// Resolve the secrets of all `plans`, then run them in order. Returns the exit
/// code: 0 all passed, 4 an expectation failed, 3 a step could not run.
pub async fn run_plans(
    project: &Project,
    providers: &Providers,
    plans: &[Plan],
    settings: &RunSettings,
) -> Result<i32> {
    let uses: Vec<SecretUse> = plans
        .iter()
        .flat_map(|p| p.secrets.iter().cloned())
        .collect();
    let mut store = SecretStore::default();
    let mut resolver = Resolver::new(project, providers, &uses);
    let ids = resolver.resolve_all(&uses, &mut store).await?;
    drop(resolver);

    let mut code = exit::OK;
    let mut offset = 0;
    for plan in plans {
        let plan_ids = &ids[offset..offset + plan.secrets.len()];
        offset += plan.secrets.len();
        let outcome = run_plan(plan, plan_ids, &mut store, settings).await?;
        code = code.max(outcome);
    }
    Ok(code)
}

/// Run one journey's steps; stops at the first step that does not pass.
async fn run_plan(
    plan: &Plan,
    secret_ids: &[SecretId],
    store: &mut SecretStore,
    settings: &RunSettings,
) -> Result<i32> {
    let console = Console {
        id_width: plan.steps.iter().map(|s| s.id.len()).max().unwrap_or(0),
        ..settings.console
    };
    console.journey(&plan.journey, &plan.environment);
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
    let (mut passed, mut failed) = (0, 0);
    let mut code = exit::OK;
    for step in &plan.steps {
        let (outcome, request_line, status, elapsed, kept) =
            run_step(&client, step, secret_ids, store, &captures, settings).await;
        console.step(
            &step.id,
            request_line.as_ref().map(|(m, u)| (m.as_str(), u.as_str())),
            status,
            elapsed,
            &outcome,
        );
        captures.push(kept);
        match outcome {
            StepOutcome::Passed => passed += 1,
            StepOutcome::Failed(_) => {
                failed += 1;
                code = exit::EXPECTATION;
                break;
            }
            StepOutcome::Error(_) => {
                failed += 1;
                code = exit::RUNTIME;
                break;
            }
        }
    }
    let skipped = plan.steps.len() - captures.len();
    for step in &plan.steps[captures.len()..] {
        console.skipped(&step.id);
    }
    console.summary(&plan.journey, passed, failed, skipped, started.elapsed());
    Ok(code)
}

type StepResult = (
    StepOutcome,
    Option<(String, String)>,
    Option<u16>,
    Option<Duration>,
    IndexMap<String, Captured>,
);

async fn run_step(
    client: &reqwest::Client,
    step: &PlannedStep,
    secret_ids: &[SecretId],
    store: &mut SecretStore,
    captures: &[IndexMap<String, Captured>],
    settings: &RunSettings,
) -> StepResult {
    let mut kept = IndexMap::new();
    let generated = generate(step);
    let fills = StepFills {
        step,
        store,
        secret_ids,
        captures,
        generated: &generated,
    };
    let request = match http::build(&step.id, &step.template, &fills)
        .and_then(|r| http::check_destinations(&step.id, &r, store).map(|()| r))
    {
        Ok(request) => request,
        Err(e) => return (StepOutcome::Error(e.to_string()), None, None, None, kept),
    };
    let line = Some((request.method.to_string(), request.url.to_string()));
    settings.console.dump_request(&request);
    let response = match http::send(client, &request, settings.timeout).await {
        Ok(response) => response,
        Err(e) => return (StepOutcome::Error(e.to_string()), line, None, None, kept),
    };
    drop(request);
    let outcome = judge(step, &response, store, &mut kept);
    // Dumped after captures, so a token captured as a secret is already known
    // to the redactor when the response that carried it is printed.
    settings.console.dump_response(&response);
    let status = Some(response.status.as_u16());
    let elapsed = Some(response.elapsed);
    (outcome, line, status, elapsed, kept)
}

/// Check expectations, then take captures.
fn judge(
    step: &PlannedStep,
    response: &http::Received,
    store: &mut SecretStore,
    kept: &mut IndexMap<String, Captured>,
) -> StepOutcome {
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
    let failures = expect::check(&step.expect, response, &mut body);
    if !failures.is_empty() {
        return StepOutcome::Failed(failures);
    }
    for rule in &step.captures {
        let value = match expect::capture(rule, response, &mut body) {
            Ok(value) => value,
            Err(why) => return StepOutcome::Error(format!("capture `{}`: {why}", rule.name)),
        };
        if rule.secret {
            let text = learn(&rule.name, &value);
            if text.len() < MIN_SECRET_BYTES {
                return StepOutcome::Error(format!(
                    "capture `{}`: a secret capture must be at least {MIN_SECRET_BYTES} bytes to be redacted safely",
                    rule.name
                ));
            }
            let id = store.insert(&rule.name, SecretString::from(text), None);
            kept.insert(rule.name.clone(), Captured::Secret(id));
        } else {
            kept.insert(rule.name.clone(), Captured::Value(value));
        }
    }
    StepOutcome::Passed
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
