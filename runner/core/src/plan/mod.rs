//! The plan: everything a run will do, decided and validated before anything is
//! sent. `reqflo check` stops here.

mod build;
mod checks;
mod include;
mod inputs;
mod rows;
mod secrets;
mod tls;

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use serde_json_path::JsonPath;

pub use build::{DEFAULT_CHAIN, PlanOptions, plan_iterations, plan_journey, select_environment};
pub use inputs::{Ask, InputMode};
pub use rows::MAX_ROWS;

use crate::project::model::GenerateKind;
use crate::template::Template;

/// One journey, ready to run in one environment.
#[derive(Debug)]
pub struct Plan {
    /// The journey's name.
    pub journey: String,
    /// The environment it runs in.
    pub environment: String,
    /// Steps in order.
    pub steps: Vec<PlannedStep>,
    /// Every secret the journey uses, once each.
    pub secrets: Vec<SecretUse>,
    /// The journey says `rerun: safe`.
    pub rerun_safe: bool,
    /// The environment's `tls:`, its files read.
    pub tls: Option<PlannedTls>,
}

/// An environment's `tls:`, ready for the journey's HTTP client.
#[derive(Debug, Clone)]
pub struct PlannedTls {
    /// Extra trusted certificates, PEM.
    pub ca_pem: Option<Vec<u8>>,
    /// The client certificate (PEM) and `Plan::secrets[index]`, its key.
    pub client: Option<(Vec<u8>, usize)>,
}

/// A step with its template compiled and every value source checked.
#[derive(Debug)]
pub struct PlannedStep {
    /// The step's id.
    pub id: String,
    /// The compiled template.
    pub template: Arc<Template>,
    /// Placeholder name → where its value comes from.
    pub fills: IndexMap<String, Fill>,
    /// The environment's variables, the fallback for placeholders.
    pub variables: Arc<IndexMap<String, Value>>,
    /// What to keep from the response.
    pub captures: Vec<CaptureRule>,
    /// What the response must look like.
    pub expect: Expectations,
    /// Request hooks to run on the built request, in order.
    pub hooks: Vec<PlannedHook>,
    /// When to send the request again; `None` sends it once.
    pub retries: Option<Retries>,
    /// Send again until the response meets these (boxed: most steps have
    /// none, and a long journey's plan is kept small).
    pub until: Option<Box<Until>>,
    /// Run only when this holds.
    pub when: Option<Box<When>>,
    /// Follow redirects ([`crate::project::model::StepDef::follow_redirects`]).
    pub follow_redirects: bool,
}

/// What a step's expectations may compare with while it is planned: the
/// steps before it and the environment's variables.
#[derive(Clone, Copy)]
struct Earlier<'a> {
    steps: &'a [PlannedStep],
    variables: &'a IndexMap<String, Value>,
}

/// A step's checked `until:` and `poll:`.
#[derive(Debug)]
pub struct Until {
    /// What the response must meet to stop polling.
    pub expect: Expectations,
    /// The wait before the second attempt.
    pub interval: std::time::Duration,
    /// Each wait is the one before times this.
    pub backoff: f64,
    /// Attempts in all.
    pub max: u32,
}

/// A step's checked `when:`.
#[derive(Debug)]
pub struct When {
    /// Where the value comes from (never a secret).
    pub value: Fill,
    /// The test.
    pub test: Matcher,
}

/// A step's checked `retries:`.
#[derive(Debug, Clone)]
pub struct Retries {
    /// Extra attempts after the first.
    pub count: u32,
    /// Wait before the first retry; doubled before each next one.
    pub backoff: std::time::Duration,
    /// Statuses that are retried (connection errors and timeouts always are).
    pub on: Vec<u16>,
    /// Whether non-idempotent methods (POST, PATCH) may be retried.
    pub non_idempotent: bool,
}

/// A hook attached to a step, with the secrets granted to it.
#[derive(Debug, Clone)]
pub struct PlannedHook {
    /// The hook's name under `hooks:` in reqflo.yaml.
    pub name: String,
    /// Each granted secret's name and its index in `Plan::secrets`.
    pub secrets: Vec<(String, usize)>,
}

/// Where a placeholder's value comes from at run time.
#[derive(Debug, Clone)]
pub enum Fill {
    /// Known now: a literal, an input or a variable.
    Value(Value),
    /// `Plan::secrets[index]`.
    Secret(usize),
    /// A capture of an earlier step: (step index, capture name).
    Capture(usize, String),
    /// Generated afresh each time the step runs.
    Generate(GenerateKind, usize),
}

/// A secret the journey uses, and how to resolve it.
#[derive(Debug, Clone)]
pub struct SecretUse {
    /// Its name in the journey and the registry.
    pub name: String,
    /// Providers to try, in order.
    pub chain: Vec<String>,
    /// What to ask the providers for.
    pub reference: String,
    /// Where it may be sent: the registry's `hosts:` and `allow_http:`.
    pub binding: crate::secret::Binding,
}

/// A value to keep from a response.
#[derive(Debug)]
pub struct CaptureRule {
    /// Its name, for `type: capture`.
    pub name: String,
    /// Where in the response.
    pub from: CaptureFrom,
    /// Filters applied in order to what it reads.
    pub filters: Vec<crate::filter::Filter>,
    /// Whether it joins the secrets (redacted everywhere).
    pub secret: bool,
}

/// Where a capture reads from.
#[derive(Debug)]
pub enum CaptureFrom {
    /// A JSONPath into the JSON body (written form, parsed form shared by
    /// every step that writes the same path).
    Json(String, Arc<JsonPath>),
    /// A response header.
    Header(String),
    /// A cookie the response sets.
    Cookie(String),
    /// A regular expression over the body as text.
    Regex(crate::filter::Regex),
    /// The status code.
    Status,
    /// The response time in milliseconds.
    Duration,
    /// The body as text.
    Body,
    /// The URL the request was sent to.
    Url,
}

impl CaptureFrom {
    /// Whether reading it needs the whole body.
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            CaptureFrom::Json(..) | CaptureFrom::Regex(_) | CaptureFrom::Body
        )
    }
}

/// Checks on a response.
#[derive(Debug, Default)]
pub struct Expectations {
    /// Acceptable status codes; empty means any.
    pub status: Vec<u16>,
    /// Header name → matcher.
    pub headers: Vec<(String, Matcher)>,
    /// JSONPath → matcher.
    pub json: Vec<(String, Arc<JsonPath>, Matcher)>,
    /// On the body as text (boxed, as `duration`: most steps have neither,
    /// and a long journey's plan is kept small).
    pub body: Option<Box<Matcher>>,
    /// The body's SHA-256, lowercase hex.
    pub sha256: Option<String>,
    /// Cookie name → matcher.
    pub cookies: Vec<(String, Matcher)>,
    /// On the response time in milliseconds.
    pub duration: Option<Box<Matcher>>,
}

/// How an expected value is compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// The value equals this.
    Equals(Value),
    /// The value is present (true) or absent (false).
    Exists(bool),
    /// Every one of these holds ([`crate::predicate`]).
    All(Vec<crate::predicate::Predicate>),
    /// Arguments that come from the run (a capture, a secret): made one of
    /// the others, or [`Matcher::Secret`], when the step runs
    /// ([`crate::expect::settle`]).
    Deferred(Deferred),
    /// The value equals (or not) a secret's value, which is never shown.
    Secret(Box<SecretArg>),
}

/// A matcher whose arguments are known only when its step runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Deferred {
    /// Each predicate's name and its argument; a name of `None` is the bare
    /// form, a value to equal.
    pub args: Vec<(Option<String>, Arg)>,
}

/// An argument of a [`Deferred`] matcher.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Known when planned: a literal, an input, a variable.
    Fixed(Value),
    /// A capture of an earlier step: (step index, step id, capture name).
    Capture(usize, String, String),
    /// `Plan::secrets[index]`, and its name.
    Secret(usize, String),
}

/// A secret to compare with: its name (shown) and its value (never shown;
/// `Debug` prints the name).
#[derive(Clone)]
pub struct SecretArg {
    /// The secret's or the secret capture's name.
    pub name: String,
    /// `true` for `==`, `false` for `!=`.
    pub equal: bool,
    /// The value, held for the comparison only.
    pub value: secrecy::SecretString,
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretArg")
            .field("name", &self.name)
            .field("equal", &self.equal)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SecretArg {
    /// By name and sense; two values are never compared here.
    fn eq(&self, other: &SecretArg) -> bool {
        self.name == other.name && self.equal == other.equal
    }
}
