//! The shapes of the files a user writes, exactly as written (the book's
//! "Journeys and templates" describes each field).
//!
//! These types only describe syntax; meaning (which template, which secret,
//! whether a placeholder is filled) is decided in `plan`.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `reqflo.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Named environments: variables and a provider chain.
    #[serde(default)]
    pub environments: IndexMap<String, EnvironmentDef>,
    /// Provider instances: which plugin, its config and its grants.
    #[serde(default)]
    pub providers: IndexMap<String, ProviderDef>,
    /// The registry: which secrets exist and who may use them.
    #[serde(default)]
    pub secrets: IndexMap<String, SecretEntry>,
    /// Request hooks: plugins that edit requests holding only secret handles.
    #[serde(default)]
    pub hooks: IndexMap<String, HookDef>,
}

/// One request hook in `reqflo.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookDef {
    /// `builtin:NAME` or a path to a component, relative to the project root.
    pub plugin: String,
    /// Pinned digest of a custom hook's file, hex.
    pub sha256: Option<String>,
    /// Passed to the hook's `configure`, values as strings.
    #[serde(default)]
    pub config: IndexMap<String, Value>,
    /// Secrets whose handles the hook receives (never their values).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// What the hook may reach through the host (its token endpoint).
    #[serde(default)]
    pub grants: HookGrants,
    /// Let its token exchange use plain HTTP to a host other than loopback.
    #[serde(default)]
    pub allow_http: bool,
    /// Resource limits for the sandbox.
    #[serde(default)]
    pub limits: Limits,
}

/// A hook's grants: only hosts. A hook never sees environment variables.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookGrants {
    /// Hosts the host may call for the hook (OAuth token endpoints).
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// One environment in `reqflo.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentDef {
    /// Values for `{{placeholders}}` and `type: variable`.
    #[serde(default)]
    pub variables: IndexMap<String, Value>,
    /// The provider chain; `[env, file]` when omitted.
    pub secrets: Option<Vec<String>>,
    /// Hooks run on every request in this environment, before step hooks.
    #[serde(default)]
    pub hooks: Vec<String>,
    /// TLS for the journeys' requests: a private CA to trust, a client
    /// certificate whose private key is a secret.
    pub tls: Option<TlsDef>,
}

/// `tls:` on an environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsDef {
    /// Extra PEM certificates to trust (a private CA), besides the usual roots.
    pub ca_file: Option<String>,
    /// The client certificate (PEM, the chain from the leaf up): public.
    pub client_certificate: Option<String>,
    /// The name of the secret holding the client certificate's private key
    /// (PEM: PKCS#8, RSA or EC).
    pub client_key: Option<String>,
}

/// One provider instance in `reqflo.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderDef {
    /// `builtin:NAME` or a path to a component, relative to the project root.
    pub plugin: String,
    /// Passed to the plugin's `configure`, values as strings.
    #[serde(default)]
    pub config: IndexMap<String, Value>,
    /// What the sandbox may touch.
    #[serde(default)]
    pub grants: Grants,
    /// Pinned digest of a custom plugin's file, hex.
    pub sha256: Option<String>,
    /// Extra PEM certificates to trust for this provider's HTTPS (a private CA).
    pub ca_file: Option<String>,
    /// Let it call hosts other than loopback over plain HTTP.
    #[serde(default)]
    pub allow_http: bool,
    /// Resource limits for the sandbox.
    #[serde(default)]
    pub limits: Limits,
}

/// Capabilities granted to a plugin's sandbox; nothing else is reachable.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Environment variables the plugin may read.
    #[serde(default)]
    pub env: Vec<String>,
    /// Destinations the plugin may call over `wasi:http`: `host`, `host:port`,
    /// `https://host[:port]`, `*.domain`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Files the plugin may read (providers): a path, relative to the
    /// project or absolute, or `$NAME`, the path a variable of reqflo's own
    /// environment holds (`$AWS_WEB_IDENTITY_TOKEN_FILE`).
    #[serde(default)]
    pub files: Vec<String>,
}

/// Sandbox limits; defaults suit a provider that reads a small secret.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Linear memory cap in MiB (default 64).
    pub memory_mib: Option<u64>,
    /// CPU and wall-clock budget of one plugin call in milliseconds (default 5000).
    pub timeout_ms: Option<u64>,
}

/// One entry of the secrets registry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEntry {
    /// Shown by `reqflo secrets list`.
    pub description: Option<String>,
    /// Journey name globs that may use it; omitted means every journey.
    pub journeys: Option<Vec<String>>,
    /// Pin a provider instead of the environment's chain.
    pub provider: Option<String>,
    /// The provider-specific reference; defaults to the secret's name.
    pub reference: Option<String>,
    /// The only destinations (`host` or `host:port`) it may be sent to.
    pub hosts: Option<Vec<String>>,
    /// Let it be sent to hosts other than loopback over plain HTTP.
    #[serde(default)]
    pub allow_http: bool,
}

/// `journeys/NAME.yaml`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyFile {
    /// One line about what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inputs a run may supply with `--input`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, InputDef>,
    /// Whether a run whose worker died may be run again from the start
    /// (the Cloud Runner's workers); never unless it says `safe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<Rerun>,
    /// Run the journey once per row, the row's fields as its inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<ForEachDef>,
    /// The steps, run in order.
    pub steps: Vec<StepDef>,
}

/// `for_each:` on a journey: rows written in it, or a file of rows.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ForEachDef {
    /// A list of rows, each a map of input name to value.
    Rows(Vec<IndexMap<String, Value>>),
    /// `{file: data/users.csv}`.
    File(ForEachFile),
}

/// `for_each: {file: …}`: a CSV file (a header line naming the inputs, then
/// a row a line) or a JSON file (a list of objects) in the project.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForEachFile {
    /// The path, relative to the project root.
    pub file: String,
}

/// `rerun:` on a journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rerun {
    /// Sending its requests twice does no harm (reads, idempotent writes).
    Safe,
    /// Its requests may have had effects: a run cut short is `interrupted`.
    Never,
}

/// A declared input.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputDef {
    /// Used when the input is not given and there is no terminal to ask.
    pub default: Option<Value>,
    /// Shown when prompting.
    pub description: Option<String>,
}

/// One step of a journey.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Unique within the journey; captures are addressed by it.
    pub id: String,
    /// A template name (a file stem under `templates/`); empty on an
    /// `include:` step.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template: String,
    /// Another journey whose steps run here, its inputs given by `values:`
    /// (a step has a `template:` or an `include:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Fills for the template's placeholders.
    #[serde(default)]
    pub values: IndexMap<String, Value>,
    /// Values to keep from the response.
    #[serde(default)]
    pub capture: IndexMap<String, CaptureDef>,
    /// What the response must look like.
    #[serde(default)]
    pub expect: ExpectDef,
    /// Hooks run on this step's request, after the environment's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<String>,
    /// Re-send the request on connection errors or the listed statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetriesDef>,
    /// Send the request again until the response meets these (the
    /// `expect:` syntax); `poll:` says how often and how many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Box<ExpectDef>>,
    /// How `until:` polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<PollDef>,
    /// Run the step only when a value passes a test; otherwise it is
    /// skipped and the journey goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Box<WhenDef>>,
    /// Follow redirects (301, 302, 303, 307, 308; up to 10); a secret never
    /// goes on to another origin.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow_redirects: bool,
}

/// `poll:` on a step with `until:`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PollDef {
    /// Wait before the second attempt (`500ms`, `2s`). Default 1s.
    pub interval: Option<String>,
    /// Each wait is the one before times this (1 to 10). Default 1.
    pub backoff: Option<f64>,
    /// Attempts in all, the first included (1 to 1000). Default 10.
    pub max: Option<u32>,
}

/// `when:` on a step: a value (any value source but a secret) and a test.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhenDef {
    /// The value: a literal, or `{type: input|variable|capture, …}`.
    pub value: Value,
    /// A value to equal, or predicates (`{"!=": us}`), as in `expect:`.
    pub is: Value,
}

/// `retries:` on a step.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetriesDef {
    /// Extra attempts after the first (1 to 10).
    pub count: u32,
    /// Wait before the first retry (`200ms`, `1s`); doubles each retry. Default 200ms.
    pub backoff: Option<String>,
    /// Statuses that are retried; connection errors and timeouts always are.
    #[serde(default)]
    pub on: Vec<u16>,
    /// Allow retrying POST, PATCH and other non-idempotent methods.
    #[serde(default)]
    pub non_idempotent: bool,
}

impl StepDef {
    /// Names of the secrets this step's values use (`type: secret`).
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.values.values().filter_map(|value| {
            let is_secret = value.get("type").and_then(Value::as_str) == Some("secret");
            value
                .get("name")
                .and_then(Value::as_str)
                .filter(|_| is_secret)
        })
    }
}

/// A value source: a bare scalar is a literal, a map names its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ValueDef {
    /// Stored in the journey, visible to anyone.
    Literal {
        /// The value itself.
        value: Value,
    },
    /// Given with `--input`, prompted for, or defaulted.
    Input {
        /// The input's name.
        name: String,
    },
    /// Resolved by a provider at run time; only the name is stored.
    Secret {
        /// The secret's name in the registry (or the environment).
        name: String,
        /// Pin a provider for this use.
        provider: Option<String>,
    },
    /// A value captured by an earlier step.
    Capture {
        /// The earlier step's id.
        step: String,
        /// The capture's name.
        name: String,
    },
    /// One of the environment's variables.
    Variable {
        /// The variable's name.
        name: String,
    },
    /// Generated fresh for each step.
    Generate {
        /// What to generate.
        kind: GenerateKind,
        /// For `random-hex`: how many random bytes (default 16).
        bytes: Option<usize>,
    },
}

/// Kinds of generated values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GenerateKind {
    /// A random (v4) UUID.
    Uuid,
    /// Seconds since the Unix epoch, as a number.
    Timestamp,
    /// Random bytes as lowercase hex.
    RandomHex,
}

/// A capture: a JSONPath string, or a map saying where from and whether it is secret.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CaptureDef {
    /// `name: $.path`
    Path(String),
    /// `name: {jsonpath: …}` or `name: {header: …}`, optionally `secret: true`.
    Spec(CaptureSpec),
}

/// The long form of a capture: where from (exactly one), the filters to
/// apply in order, and whether it is secret.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    /// An RFC 9535 JSONPath into the response body.
    pub jsonpath: Option<String>,
    /// A response header name.
    pub header: Option<String>,
    /// A cookie the response sets (`Set-Cookie`), by name.
    pub cookie: Option<String>,
    /// A regular expression over the body as text: its first group, or
    /// the whole match.
    pub regex: Option<String>,
    /// `status: true`: the status code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub status: bool,
    /// `duration: true`: the response time in milliseconds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duration: bool,
    /// `body: true`: the whole body as text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body: bool,
    /// `url: true`: the URL the request was sent to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub url: bool,
    /// Filters applied in order ([`crate::filter`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Value>,
    /// Treat the captured value as a secret: redacted everywhere, and so is
    /// every value a filter makes of it.
    #[serde(default)]
    pub secret: bool,
}

/// Expectations on a response.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDef {
    /// The status code, or a list of acceptable codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusDef>,
    /// Header name → matcher.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Value>,
    /// JSONPath → matcher.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub json: IndexMap<String, Value>,
    /// The body as text: a value to equal, or predicates (boxed, as
    /// `duration`: rare, and every step holds an `ExpectDef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<Value>>,
    /// The body's SHA-256, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Cookie name (set by the response) → matcher.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub cookies: IndexMap<String, Value>,
    /// The response time: predicates on milliseconds, or durations
    /// (`{lt: 500ms}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Box<Value>>,
}

/// `status: 201` or `status: [200, 201]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum StatusDef {
    /// Exactly this code.
    One(u16),
    /// Any of these codes.
    Any(Vec<u16>),
}

/// `templates/NAME.yaml`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// The URL, usually `{{base_url}}/…`.
    pub url: String,
    /// Request headers.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Query parameters appended to the URL.
    #[serde(default)]
    pub query: IndexMap<String, Value>,
    /// A JSON body.
    pub json: Option<Value>,
    /// An `application/x-www-form-urlencoded` body.
    pub form: Option<IndexMap<String, Value>>,
    /// A raw text body.
    pub body: Option<String>,
    /// A `multipart/form-data` body: part name → text (placeholders
    /// allowed) or `{file: PATH, content_type: …, filename: …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<IndexMap<String, Value>>,
    /// HTTP Basic authentication, encoded by reqflo.
    pub basic_auth: Option<BasicAuthDef>,
}

/// `basic_auth: {username: …, password: …}`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthDef {
    /// The user name (may be a placeholder).
    pub username: String,
    /// The password (usually a secret placeholder).
    pub password: String,
}

/// Parsed `reqflo.yaml`, journeys and templates, keyed by name.
pub type Named<T> = BTreeMap<String, T>;
