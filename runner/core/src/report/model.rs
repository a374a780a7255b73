//! What a run did, as plain data. The JSON report is this, serialized; its
//! schema is `docs/report.schema.json`.

use serde::Serialize;
use serde_json::Value;

use crate::expect::Checked;

/// Bumped when the JSON report changes shape incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// How something ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every expectation held.
    Passed,
    /// An expectation failed.
    Failed,
    /// It could not run to the end.
    Error,
    /// Not run, because an earlier step did not pass.
    Skipped,
    /// Stopped by Ctrl-C or SIGTERM before it finished.
    Interrupted,
}

/// A whole `reqflo run`.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// The JSON report's schema version.
    pub schema_version: u32,
    /// The reqflo version that wrote it.
    pub reqflo_version: &'static str,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// Wall time of the whole run.
    pub duration_ms: f64,
    /// The worst outcome of any journey.
    pub outcome: Outcome,
    /// Why the run stopped before its journeys could run, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each journey, in the order run.
    pub journeys: Vec<JourneyReport>,
}

/// One journey in one environment.
#[derive(Debug, Serialize)]
pub struct JourneyReport {
    /// The journey's name.
    pub name: String,
    /// The environment it ran in.
    pub environment: String,
    /// The worst outcome of its steps.
    pub outcome: Outcome,
    /// Wall time.
    pub duration_ms: f64,
    /// Steps in order, skipped ones included.
    pub steps: Vec<StepReport>,
}

/// One step.
#[derive(Debug, Serialize)]
pub struct StepReport {
    /// The step's id.
    pub id: String,
    /// The template it used.
    pub template: String,
    /// How it ended.
    pub outcome: Outcome,
    /// When it started, from the start of its journey.
    pub start_ms: f64,
    /// Wall time, from building the request to the last check.
    pub duration_ms: f64,
    /// The request as sent (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<MessageReport>,
    /// The response as received (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<MessageReport>,
    /// Values kept from the response; secret ones are shown as a marker.
    pub captures: Vec<CaptureReport>,
    /// Every expectation, with what was expected and found.
    pub expectations: Vec<Checked>,
    /// Why it could not run to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times the request was sent (more than 1 with `retries:`).
    pub attempts: u32,
    /// Remarks that are not failures: retries made or refused, a cut body.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A request or response: the first line's parts, headers and body.
#[derive(Debug, Serialize)]
pub struct MessageReport {
    /// The request method (requests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The URL (requests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The status code (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The HTTP version, `HTTP/1.1` or `HTTP/2.0` (responses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    /// Headers in order, as `[name, value]`.
    pub headers: Vec<[String; 2]>,
    /// The body as text, if any and if reports asked for bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body's full size in bytes.
    pub body_bytes: usize,
    /// Whether `body` was cut.
    pub body_truncated: bool,
}

/// A captured value.
#[derive(Debug, Serialize)]
pub struct CaptureReport {
    /// The capture's name.
    pub name: String,
    /// Its value; `[redacted:NAME]` for a secret capture.
    pub value: Value,
    /// Whether it is a secret.
    pub secret: bool,
}

impl Outcome {
    /// The worse of two outcomes (error > failed > skipped > passed).
    pub fn worst(self, other: Outcome) -> Outcome {
        fn rank(o: Outcome) -> u8 {
            match o {
                Outcome::Passed => 0,
                Outcome::Skipped => 1,
                Outcome::Failed => 2,
                Outcome::Error => 3,
                // The user's stop outranks what the run found so far.
                Outcome::Interrupted => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl StepReport {
    /// The failure lines a console prints under the step.
    pub fn problems(&self) -> impl Iterator<Item = &str> {
        self.expectations
            .iter()
            .filter_map(|c| c.message.as_deref())
            .chain(self.error.as_deref())
            .chain(self.notes.iter().map(String::as_str))
    }
}
