//! `reqflo agent`: a private agent, inside a network the server cannot
//! reach. It opens only outbound requests to the server: it asks for the
//! runs submitted for its location (a long poll), runs each on the same
//! engine as the CLI, and sends the events (as they happen) and the
//! reports back. Managed values come sealed to its own key and are held in
//! memory for that run only; values of its own come from its own provider
//! chain (`agent.yaml`), and so can variables only it knows (the address of
//! the API under test).

pub mod wire;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use reqflo_core::error::Error;
use reqflo_core::plan::InputMode;
use reqflo_core::redact::Redactor;
use reqflo_core::secret::HeldValues;
use reqflo_sandbox::secrets::{Builtin, PluginSource, Providers};

use crate::execute::{Limits, TIMED_OUT, ended, render_reports, run_held};
use crate::project::{RunChoices, plan_with};
use crate::queue::{CANCELLED, LiveRun};
use crate::registry::SecretPolicy;
use crate::sealing::AgentKey;
use wire::{Ask, Assignment, Events, Finished, Heard, MAX_WAIT_MS, Reports};

/// How often the events of a run are sent (they renew its lease too).
const SEND_EVERY: Duration = Duration::from_millis(250);

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Its settings, key or config file.
    #[error("{0}")]
    Setup(String),
    /// The server refused it (a revoked or unknown token).
    #[error("{0}")]
    Refused(String),
}

/// How `reqflo agent` was started.
pub struct AgentOptions {
    /// The server's base URL.
    pub server: String,
    /// The agent's token (`rqa_…`).
    pub token: SecretString,
    /// Where its key lives.
    pub data: PathBuf,
    /// Its `agent.yaml`, if any.
    pub config: Option<PathBuf>,
}

/// `agent.yaml`: what the agent adds to every run it takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Variables the agent sets for every run (over the submitted ones):
    /// addresses only this network knows.
    #[serde(default)]
    pub variables: IndexMap<String, String>,
    /// Providers, as in reqflo.yaml (plugin paths relative to this file).
    #[serde(default)]
    pub providers: serde_yaml::Mapping,
    /// Secrets the agent resolves itself, as in reqflo.yaml.
    #[serde(default)]
    pub secrets: IndexMap<String, LocalSecret>,
}

/// A secret the agent resolves from its own providers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSecret {
    /// The provider.
    pub provider: String,
    /// Its reference there (default: the name).
    pub reference: Option<String>,
    /// Hosts it may be sent to.
    pub hosts: Option<Vec<String>>,
    /// Whether it may go over plain HTTP.
    #[serde(default)]
    pub allow_http: bool,
    /// What it is.
    #[serde(default)]
    pub description: String,
}

impl AgentConfig {
    /// Read `path`; a bad file is named with line and column.
    pub fn read(path: &Path) -> Result<AgentConfig, AgentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AgentError::Setup(format!("cannot read {}: {e}", path.display())))?;
        serde_yaml::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            AgentError::Setup(format!("{}{at}: {e}", path.display()))
        })
    }

    /// The agent's own secrets, as registry entries resolving through its
    /// providers.
    fn local_entries(&self) -> Vec<SecretPolicy> {
        self.secrets
            .iter()
            .map(|(name, local)| SecretPolicy {
                name: name.clone(),
                description: local.description.clone(),
                journeys: None,
                environments: None,
                hosts: local.hosts.clone(),
                allow_http: local.allow_http,
                disabled: false,
                provider: Some(local.provider.clone()),
                reference: local.reference.clone(),
                version: 0,
                length_class: String::new(),
                created_at: String::new(),
                created_by: String::new(),
                rotated_at: None,
                last_used_at: None,
                last_used_by: None,
            })
            .collect()
    }
}

/// What the agent says once it is ready.
pub struct AgentReady<'a> {
    /// Its public key (base64), as the server will know it.
    pub public_key: &'a str,
    /// The server.
    pub server: &'a str,
}

/// A started agent's connection to the server.
struct Link {
    client: reqwest::Client,
    server: String,
    token: SecretString,
}

impl Link {
    /// POST `body` to `path`.
    async fn post<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
        timeout: Duration,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.client
            .post(format!("{}{path}", self.server))
            .bearer_auth(self.token.expose_secret())
            .timeout(timeout)
            .json(body)
            .send()
            .await
    }
}

/// Take runs for the agent's location until `shutdown` completes (the run
/// under way, if any, is stopped and reported `interrupted`).
pub async fn serve(
    options: AgentOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(AgentReady<'_>),
) -> Result<(), AgentError> {
    let server = options.server.trim_end_matches('/').to_string();
    check_server(&server)?;
    std::fs::create_dir_all(&options.data)
        .map_err(|e| AgentError::Setup(format!("cannot create {}: {e}", options.data.display())))?;
    let key = AgentKey::load_or_create(&options.data).map_err(AgentError::Setup)?;
    let (config, base) = match &options.config {
        Some(path) => {
            let base = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (AgentConfig::read(path)?, base)
        }
        None => (AgentConfig::default(), options.data.clone()),
    };
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .build()
        .map_err(|e| AgentError::Setup(format!("cannot make an HTTP client: {e}")))?;
    let link = Link {
        client,
        server: server.clone(),
        token: options.token,
    };
    let public_key = key.public_text();
    ready(AgentReady {
        public_key: &public_key,
        server: &server,
    });
    let stop = reqflo_engine::Stop::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.ask("SIGTERM");
        });
    }
    let mut pause = Duration::from_secs(1);
    while stop.asked().is_none() {
        let ask = Ask {
            public_key: public_key.clone(),
            wait_ms: Some(MAX_WAIT_MS),
        };
        let asked = link
            .post(
                "/api/agent/claim",
                &ask,
                Duration::from_millis(MAX_WAIT_MS) + Duration::from_secs(10),
            )
            .await;
        let response = match asked {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(error = %e, "the server could not be reached; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.wait() => break,
                }
                pause = (pause * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        pause = Duration::from_secs(1);
        match response.status() {
            StatusCode::OK => {
                let assignment: Assignment = response.json().await.map_err(|e| {
                    AgentError::Refused(format!("the server's assignment could not be read: {e}"))
                })?;
                run_one(&link, &key, &config, &base, assignment, &stop).await;
            }
            StatusCode::NO_CONTENT => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(AgentError::Refused(format!(
                    "the server refused this agent ({}): {}",
                    response.status(),
                    message_of(response).await
                )));
            }
            status if status.is_client_error() => {
                return Err(AgentError::Refused(format!(
                    "the server refused the agent's request ({status}): {}",
                    message_of(response).await
                )));
            }
            status => {
                tracing::warn!(%status, "the server failed; trying again");
                tokio::time::sleep(pause).await;
            }
        }
    }
    Ok(())
}

/// The agent talks to its server over HTTPS; plain HTTP only on loopback.
fn check_server(server: &str) -> Result<(), AgentError> {
    let url = url::Url::parse(server)
        .map_err(|e| AgentError::Setup(format!("--server {server}: not a URL ({e})")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(AgentError::Setup(format!(
            "--server {server}: use https:// (plain http only to a server on this machine)"
        ))),
    }
}

/// The `error` of a JSON error answer, or its status.
async fn message_of(response: reqwest::Response) -> String {
    let status = response.status();
    response
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| status.to_string())
}

/// Run one assignment and report it; the values it held are dropped (and
/// zeroed) before this returns.
async fn run_one(
    link: &Link,
    key: &AgentKey,
    config: &AgentConfig,
    base: &Path,
    assignment: Assignment,
    stop: &reqflo_engine::Stop,
) {
    let id = assignment.run.clone();
    tracing::info!(run = %id, journeys = ?assignment.journeys, "run started");
    let redactor = Redactor::for_run();
    let live = LiveRun::new();
    // A stop of the agent stops the run; the run's own stop is cancel or
    // timeout.
    let watch = {
        let (stop, live) = (stop.clone(), Arc::clone(&live));
        tokio::spawn(async move {
            stop.wait().await;
            live.stop.ask("SIGTERM");
        })
    };
    let timer = {
        let live = Arc::clone(&live);
        let after = Duration::from_millis(assignment.run_timeout_ms);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            live.stop.ask(TIMED_OUT);
        })
    };
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sender = tokio::spawn(send_events(
        Link {
            client: link.client.clone(),
            server: link.server.clone(),
            token: link.token.clone(),
        },
        id.clone(),
        Arc::clone(&live),
        Arc::clone(&sent),
    ));
    let run_timeout = Duration::from_millis(assignment.run_timeout_ms);
    let outcome = execute(key, config, base, assignment, &live, &redactor).await;
    sender.abort();
    timer.abort();
    watch.abort();
    let (status, exit_code, error, reports) = match outcome {
        Ok(report) => {
            let (status, error) = ended(&report, &live, run_timeout);
            let [json, junit, html] = render_reports(&id, &report, &redactor);
            let reports = Reports { json, junit, html };
            (
                status,
                reqflo_core::exit::for_report(&report),
                error,
                reports,
            )
        }
        Err(e) => {
            let message = redactor.redact(&e.to_string()).into_owned();
            let code = reqflo_core::exit::for_error(&e);
            ("error", code, Some(message), Reports::default())
        }
    };
    let from = sent.load(std::sync::atomic::Ordering::SeqCst);
    let events = unsent(&live, from);
    let finished = Finished {
        status: status.to_string(),
        exit_code,
        error,
        events: Events {
            from: from as i64,
            events,
        },
        reports,
    };
    match link
        .post(
            &format!("/api/agent/runs/{id}/finish"),
            &finished,
            Duration::from_secs(60),
        )
        .await
    {
        Ok(r) if r.status().is_success() => tracing::info!(run = %id, status, "run reported"),
        Ok(r) => {
            let status = r.status();
            tracing::warn!(run = %id, %status, error = %message_of(r).await, "the run's report was refused");
        }
        Err(e) => tracing::warn!(run = %id, error = %e, "the run's report could not be sent"),
    }
}

/// The events of `live` from number `from` on.
fn unsent(live: &LiveRun, from: usize) -> Vec<String> {
    live.history
        .lock()
        .map(|h| h.iter().skip(from).map(|e| e.to_string()).collect())
        .unwrap_or_default()
}

/// Send the run's new events every [`SEND_EVERY`] (an empty batch too: it
/// renews the lease); a cancel from the server stops the run, and so does
/// losing the run to the server (409).
async fn send_events(
    link: Link,
    id: String,
    live: Arc<LiveRun>,
    sent: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    let mut every = tokio::time::interval(SEND_EVERY);
    loop {
        every.tick().await;
        let from = sent.load(Ordering::SeqCst);
        let events = unsent(&live, from);
        let count = events.len();
        let batch = Events {
            from: from as i64,
            events,
        };
        let path = format!("/api/agent/runs/{id}/events");
        match link.post(&path, &batch, Duration::from_secs(30)).await {
            Ok(r) if r.status().is_success() => {
                sent.store(from + count, Ordering::SeqCst);
                if r.json::<Heard>().await.is_ok_and(|h| h.cancel) {
                    live.stop.ask(CANCELLED);
                }
            }
            Ok(r) if r.status() == StatusCode::CONFLICT => {
                tracing::warn!(run = %id, "the server no longer counts this run as the agent's; stopping it");
                live.stop.ask(crate::lease::LEASE_LOST);
            }
            Ok(r) => tracing::warn!(run = %id, status = %r.status(), "events were refused"),
            Err(e) => tracing::warn!(run = %id, error = %e, "events could not be sent"),
        }
    }
}

/// Compose, plan and run an assignment with the sealed values opened.
async fn execute(
    key: &AgentKey,
    config: &AgentConfig,
    base: &Path,
    assignment: Assignment,
    live: &Arc<LiveRun>,
    redactor: &Arc<Redactor>,
) -> Result<reqflo_core::report::RunReport, Error> {
    let mut held = HeldValues::default();
    for (name, sealed) in &assignment.sealed {
        let value = key.open(sealed).map_err(Error::Runtime)?;
        let text = std::str::from_utf8(&value)
            .map_err(|_| Error::Runtime(format!("managed secret `{name}` is not UTF-8")))?;
        held.insert(name, SecretString::from(text.to_string()));
    }
    // The server's managed secrets first: an entry of the agent's own with
    // the same name does not replace one.
    let mut registry = assignment.managed.clone();
    for local in config.local_entries() {
        if !registry.iter().any(|e| e.name == local.name) {
            registry.push(local);
        }
    }
    let project =
        assignment
            .project
            .compose_in(&registry, &config.providers, base.to_path_buf())?;
    let mut variables = assignment.variables.clone();
    variables.extend(config.variables.clone());
    // The agent's own providers: a secret the server does not hold is
    // resolved by the agent's `secrets:`, else its default chain.
    let providers = Providers::on_agent(&project)?;
    let run = RunChoices {
        environment: assignment.environment.as_deref(),
        inputs: &assignment.inputs,
        variables: &variables,
        input_mode: InputMode::NoPrompt,
    };
    let plans = plan_with(&project, &providers, None, &assignment.journeys, &run)?;
    // With held values the engine reads no process environment: the agent
    // hands over, from its own, exactly what its `env` provider is asked
    // for and what its providers are granted (never over a managed value).
    let mut own = |name: &str| {
        if !held.contains(name)
            && let Ok(value) = std::env::var(name)
        {
            held.insert(name, SecretString::from(value));
        }
    };
    for secret in plans.iter().flat_map(|p| &p.secrets) {
        let by_env = secret.chain.iter().any(|name| {
            providers
                .get(name)
                .is_some_and(|s| matches!(s.source, PluginSource::Builtin(Builtin::Env)))
        });
        if by_env {
            own(&secret.reference);
        }
    }
    for spec in providers.all() {
        for name in &spec.env {
            own(name);
        }
    }
    let limits = Limits {
        request_timeout: Duration::from_millis(assignment.request_timeout_ms),
        max_body: assignment.max_body,
        max_body_setting: "max_body in the server's server.yaml",
    };
    Ok(run_held(&project, &providers, &plans, limits, held, redactor, live).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_server("https://runner.example.com").is_ok());
        assert!(check_server("http://127.0.0.1:8080").is_ok());
        assert!(check_server("http://localhost:8080").is_ok());
        assert!(check_server("http://[::1]:8080").is_ok());
        assert!(check_server("http://runner.example.com").is_err());
        assert!(check_server("ftp://127.0.0.1").is_err());
        assert!(check_server("not a url").is_err());
    }

    #[test]
    fn a_bad_agent_yaml_is_named_with_line_and_column() {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("agent.yaml");
        std::fs::write(&path, "variables:\n  base_url: x\nsecrts: {}\n").expect("write");
        let e = AgentConfig::read(&path).expect_err("unknown key");
        let text = e.to_string();
        assert!(text.contains("agent.yaml:3:1"), "{text}");
        assert!(text.contains("secrts"), "{text}");
    }
}
