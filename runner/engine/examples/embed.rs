//! Embedding the engine, as a server does: a project built in memory (no
//! files), eight journeys run at once with `tokio::spawn` on the
//! multi-threaded runtime, one sandbox engine shared by all of them, every
//! event collected through an observer, and proof that no event and no
//! report holds the secret or any of its encoded forms.
//!
//! Run it with `cargo run -p reqflo-engine --example embed`; `cargo test`
//! runs it too (the `#[test]` at the bottom). It starts the demo payments
//! API on a free loopback port and hands it a random canary key, which the
//! journeys resolve through the built-in `env` provider in its sandbox.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use indexmap::IndexMap;

use reqflo_core::plan::{self, InputMode, Plan, PlanOptions};
use reqflo_core::project::{MemoryFiles, Project};
use reqflo_core::redact::{Redactor, encoded_forms};
use reqflo_core::report::{Outcome, RunReport};
use reqflo_engine::{Event, Observer, RunSettings, Stop, run_plans};
use reqflo_sandbox::secrets::Providers;

/// How many journeys run side by side.
const JOURNEYS: usize = 8;

/// The environment variable the `env` provider reads the key from.
const KEY_VARIABLE: &str = "EMBED_PAYMENTS_KEY";

/// The project: `reqflo.yaml`, one template, eight journeys, all in memory.
fn project(base_url: &str) -> Result<Project, reqflo_core::error::Error> {
    let config = format!(
        "environments:\n  demo:\n    variables: {{base_url: \"{base_url}\"}}\n    secrets: [env]\n\
         secrets:\n  {KEY_VARIABLE}:\n    description: the demo API's key\n    journeys: [\"pay-*\"]\n    hosts: [127.0.0.1]\n"
    );
    let template = "method: POST\nurl: \"{{base_url}}/v1/payments\"\n\
                    headers:\n  Authorization: \"Bearer {{key}}\"\n\
                    json: {amount: \"{{amount}}\", currency: usd}\n";
    let mut files = MemoryFiles::new("the embed example")
        .with("reqflo.yaml", config)
        .with("templates/pay.yaml", template);
    for n in 0..JOURNEYS {
        let journey = format!(
            "steps:\n  - id: pay\n    template: pay\n    values:\n      key: {{type: secret, name: {KEY_VARIABLE}}}\n      amount: {}\n    capture:\n      token: {{jsonpath: $.token, secret: true}}\n    expect:\n      status: 201\n",
            100 + n
        );
        files.insert(format!("journeys/pay-{n}.yaml"), journey);
    }
    // Paths written in reqflo.yaml (none here) would be relative to this folder.
    Project::in_memory(std::env::temp_dir(), files)
}

/// Keeps every event as text, as a server would store or stream it.
#[derive(Default)]
struct Collector {
    events: Mutex<Vec<String>>,
}

impl Observer for Collector {
    fn dumps(&self) -> bool {
        // Ask for every request and response: the likeliest place for a leak.
        true
    }

    fn event(&self, event: Event<'_>) {
        let text = match &event {
            Event::Request { dump, .. } | Event::Response { dump, .. } => dump.to_string(),
            other => format!("{other:?}"),
        };
        if let Ok(mut events) = self.events.lock() {
            events.push(text);
        }
    }
}

/// What the example found.
struct Outcomes {
    reports: Vec<RunReport>,
    events: Vec<String>,
    canary: String,
}

/// Plan each journey, then run all of them at once, each on a task of its
/// own with a redactor of its own.
async fn run_example() -> Result<Outcomes, Box<dyn std::error::Error>> {
    let canary = format!("sk_embed/{:016x}+Se=cret", rand_u64());
    let api = demo_api::spawn(&canary)?;
    // SAFETY: set before any task of this example reads the environment; the
    // env provider's sandbox sees only the variables a run's references name.
    unsafe { std::env::set_var(KEY_VARIABLE, &canary) };

    let project = Arc::new(project(&api.base_url())?);
    let providers = Arc::new(Providers::from_project(&project)?);
    let observer = Arc::new(Collector::default());
    let options = PlanOptions {
        environment: Some("demo".into()),
        secrets: None,
        inputs: IndexMap::new(),
        variables: IndexMap::new(),
        input_mode: InputMode::NoPrompt,
    };
    let mut tasks = Vec::new();
    for name in project.journey_names() {
        let journey = project.journey(&name)?;
        let plan: Plan = plan::plan_journey(&project, &providers, &journey, &options)?;
        let (project, providers, observer) = (project.clone(), providers.clone(), observer.clone());
        tasks.push(tokio::spawn(async move {
            let settings = RunSettings {
                timeout: std::time::Duration::from_secs(10),
                record_messages: true,
                max_body: 1 << 20,
                max_body_setting: "max_body",
                jobs: 1,
                redactor: Redactor::for_run(),
                held: None,
            };
            let stop = Stop::new();
            run_plans(&project, &providers, &[plan], &settings, &*observer, &stop).await
        }));
    }
    let mut reports = Vec::new();
    for task in tasks {
        let (report, error) = task.await?;
        if let Some(e) = error {
            return Err(format!("a run failed: {e}").into());
        }
        reports.push(report);
    }
    let events = std::mem::take(&mut *observer.events.lock().map_err(|_| "observer poisoned")?);
    Ok(Outcomes {
        reports,
        events,
        canary,
    })
}

/// A random number, for a canary no test could know in advance.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

/// Every form of `value` that must not appear: made by independent encoders
/// (base64, base64url, hex, percent-encoding, JSON) and by the redactor's own
/// list.
fn forms(value: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut forms = vec![
        value.to_string(),
        b64.encode(value),
        b64url.encode(value),
        hex::encode(value),
        hex::encode_upper(value),
        serde_json::Value::from(value).to_string(),
    ];
    forms.extend(
        encoded_forms(value.as_bytes())
            .into_iter()
            .map(|form| String::from_utf8_lossy(&form).into_owned()),
    );
    forms
}

/// Check the outcomes; `Err` says what is wrong.
fn check(outcomes: &Outcomes) -> Result<String, String> {
    if outcomes.reports.len() != JOURNEYS {
        return Err(format!(
            "{} reports, expected {JOURNEYS}",
            outcomes.reports.len()
        ));
    }
    for report in &outcomes.reports {
        if report.outcome != Outcome::Passed {
            return Err(format!("a run did not pass: {:?}", report.outcome));
        }
    }
    let reports: Vec<String> = outcomes
        .reports
        .iter()
        .map(|r| serde_json::to_string(r).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let everything: Vec<&String> = outcomes.events.iter().chain(&reports).collect();
    if !outcomes
        .events
        .iter()
        .any(|e| e.contains("[redacted:EMBED_PAYMENTS_KEY]"))
    {
        return Err("no request dump shows the key redacted: did it reach a request?".into());
    }
    for form in forms(&outcomes.canary) {
        if let Some(text) = everything.iter().find(|text| text.contains(&form)) {
            return Err(format!("the key, as `{form}`, is in: {text}"));
        }
    }
    Ok(format!(
        "{JOURNEYS} journeys passed side by side; {} events and {} reports, none holding the key in any of its forms",
        outcomes.events.len(),
        reports.len()
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcomes = runtime.block_on(run_example())?;
    println!("{}", check(&outcomes)?);
    Ok(())
}

#[test]
fn eight_journeys_at_once_and_nothing_leaks() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let outcomes = runtime.block_on(run_example()).expect("the example runs");
    if let Err(why) = check(&outcomes) {
        panic!("{why}");
    }
    assert_eq!(
        reqflo_core::redact::live::runs_alive(),
        0,
        "ended runs are forgotten by the process-wide view"
    );
}
