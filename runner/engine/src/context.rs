//! What every part of a run can see: the run's settings, and for each
//! journey its plan, its secrets' handles and who is watching.

use std::sync::Arc;
use std::time::Duration;

use reqflo_core::plan::Plan;
use reqflo_core::redact::Redactor;
use reqflo_sandbox::secrets::SecretId;

use crate::observer::{Event, Observer};

/// Settings of a run that are not in any file.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Keep request and response headers and bodies for reports. Without a
    /// report nothing reads them, and redacting and copying every header of
    /// every step is a good share of a step's own cost.
    pub record_messages: bool,
    /// Response bodies are cut after this many bytes.
    pub max_body: usize,
    /// How the user sets `max_body`, named in messages about a cut body:
    /// `--max-body` on the command line, a field name in a server's API.
    pub max_body_setting: &'static str,
    /// Journeys run at once (`--jobs`); 1 runs them one after another.
    pub jobs: usize,
    /// The run's redactor ([`Redactor::for_run`]): it learns every value the
    /// run resolves or captures, and every event, report and error is
    /// redacted through it. The caller keeps a clone to write reports and
    /// print errors with.
    pub redactor: Arc<Redactor>,
    /// Values the embedding host holds for this run (a server's managed
    /// secrets), resolved through the `managed` provider; `None` on the CLI.
    pub held: Option<Arc<reqflo_sandbox::secrets::HeldValues>>,
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

/// One journey of a run: its plan, its secrets' handles and who watches.
pub(crate) struct Journey<'r> {
    /// Its place in the run, for events.
    pub(crate) index: usize,
    pub(crate) plan: &'r Plan,
    pub(crate) secret_ids: &'r [SecretId],
    pub(crate) observer: &'r dyn Observer,
}

impl Journey<'_> {
    /// Tell the observer.
    pub(crate) fn event(&self, event: Event<'_>) {
        self.observer.event(event);
    }
}

/// A duration in milliseconds, to the microsecond, as reports show it.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}
