//! What a private agent and the server send each other (JSON). No type here
//! holds a value in the clear: managed values travel sealed to the agent's
//! key ([`crate::sealing`]).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::project::StoredProject;
use crate::registry::SecretPolicy;

/// `POST /api/agent/claim`: the agent's key, and how long to wait for work.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// The agent's X25519 public key, base64.
    pub public_key: String,
    /// How long the server may hold the request open waiting for a run
    /// (at most [`MAX_WAIT_MS`]).
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// The longest a claim waits for a run before answering 204.
pub const MAX_WAIT_MS: u64 = 25_000;

/// A run handed to an agent: everything it needs, for this run only.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The run's id.
    pub run: String,
    /// The project's files (journeys, templates, environments).
    pub project: StoredProject,
    /// The journeys to run, in order.
    pub journeys: Vec<String>,
    /// The environment.
    pub environment: Option<String>,
    /// Inputs given when the run was submitted.
    pub inputs: IndexMap<String, String>,
    /// Variables given when the run was submitted.
    pub variables: IndexMap<String, String>,
    /// The policies of the managed secrets the run uses (no values).
    pub managed: Vec<SecretPolicy>,
    /// Each managed value, sealed to the agent's key, base64.
    pub sealed: IndexMap<String, String>,
    /// How long the run stays the agent's without a word from it.
    pub lease_ms: u64,
    /// The server's `run_timeout`.
    pub run_timeout_ms: u64,
    /// The server's `request_timeout`.
    pub request_timeout_ms: u64,
    /// The server's `max_body`.
    pub max_body: usize,
}

/// `POST /api/agent/runs/{id}/events`: events from number `from` on.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// The number of the first event sent.
    pub from: i64,
    /// The events (JSON, redacted by the agent).
    pub events: Vec<String>,
}

/// The answer to [`Events`]: whether the run was cancelled meanwhile.
#[derive(Debug, Serialize, Deserialize)]
pub struct Heard {
    /// Stop the run.
    pub cancel: bool,
}

/// `POST /api/agent/runs/{id}/finish`: how the run ended.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finished {
    /// `passed`, `failed`, `error`, `cancelled`, `timed_out` or `interrupted`.
    pub status: String,
    /// The run's exit code.
    pub exit_code: i32,
    /// Why it ended in error (redacted).
    pub error: Option<String>,
    /// The events not sent yet.
    pub events: Events,
    /// The reports, rendered by the agent (redacted).
    pub reports: Reports,
}

/// The three reports of a run.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// JSON.
    pub json: Option<String>,
    /// JUnit XML.
    pub junit: Option<String>,
    /// HTML.
    pub html: Option<String>,
}

/// The statuses an agent may end a run with.
pub const ENDED: &[&str] = &[
    "passed",
    "failed",
    "error",
    "cancelled",
    "timed_out",
    "interrupted",
];
