//! What a person sees: step lines, `-v` dumps and summaries. Every line goes
//! through the redactor on its way out.

use std::io::Write;
use std::time::Duration;

use crate::duration::human;
use crate::http::{BuiltRequest, Received};
use crate::redact;
use crate::report::{JourneyReport, Outcome, StepReport};

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// Bodies longer than this are cut in `-v` dumps.
const DUMP_BODY_BYTES: usize = 64 * 1024;

/// The console: stdout for results, stderr for dumps and errors.
#[derive(Debug, Clone, Copy)]
pub struct Console {
    /// `-v`: dump requests and responses to stderr.
    pub verbose: bool,
    /// Step ids are padded to this width so columns line up.
    pub id_width: usize,
    /// `--quiet`: only each journey's summary line.
    pub quiet: bool,
}

/// Control characters from servers, plugins or files could drive the terminal
/// (colours, cursor moves, fake lines); only newlines and tabs pass.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .filter(|c| *c != '\r')
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Write redacted text to stdout. A closed pipe is not an error worth a panic.
pub fn out(text: &str) {
    let text = redact::global().redact(text);
    let text = printable(&text);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.write_all(b"\n");
    let _ = stdout.flush();
}

/// Write redacted text to stderr.
pub fn err(text: &str) {
    let text = redact::global().redact(text);
    let text = printable(&text);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.write_all(b"\n");
}

impl Console {
    /// The header line of a journey.
    pub fn journey(&self, name: &str, environment: &str) {
        if !self.quiet {
            out(&format!("journey {name} (env {environment})"));
        }
    }

    /// One line per step, plus its failures.
    pub fn step(&self, step: &StepReport) {
        if self.quiet {
            return;
        }
        let label = match step.outcome {
            Outcome::Passed => "ok    ",
            Outcome::Failed => "FAILED",
            Outcome::Error => "ERROR ",
            Outcome::Skipped => "skip  ",
        };
        let mut line = format!("  {label} {:<width$}", step.id, width = self.id_width);
        if let Some(request) = &step.request {
            let method = request.method.as_deref().unwrap_or("");
            let url = request.url.as_deref().unwrap_or("");
            line.push_str(&format!(" {method} {url}"));
        }
        if let Some(status) = step.response.as_ref().and_then(|r| r.status) {
            line.push_str(&format!(" -> {status}"));
        }
        if step.request.is_some() {
            line.push_str(&format!(" ({})", human(millis(step.duration_ms))));
        }
        out(&line);
        for problem in step.problems() {
            out(&format!("         {problem}"));
        }
    }

    /// Steps not run because an earlier one failed.
    pub fn skipped(&self, id: &str) {
        if !self.quiet {
            out(&format!("  skip   {id}"));
        }
    }

    /// A journey's closing line (printed even with `--quiet`).
    pub fn summary(&self, journey: &JourneyReport) {
        let count = |o: Outcome| journey.steps.iter().filter(|s| s.outcome == o).count();
        let passed = count(Outcome::Passed);
        let failed = count(Outcome::Failed) + count(Outcome::Error);
        let skipped = count(Outcome::Skipped);
        let total = journey.steps.len();
        let verdict = if journey.outcome == Outcome::Passed {
            "passed"
        } else {
            "failed"
        };
        out(&format!(
            "{} {verdict}: {passed} of {total} step{} ok, {failed} failed, {skipped} skipped ({})",
            journey.name,
            if total == 1 { "" } else { "s" },
            human(millis(journey.duration_ms))
        ));
    }

    /// `-v`: the request as sent.
    pub fn dump_request(&self, request: &BuiltRequest) {
        if !self.verbose {
            return;
        }
        let mut text = format!("> {} {}", request.method, request.url);
        for (name, value) in &request.headers {
            text.push_str(&format!("\n> {name}: {}", value.as_str()));
        }
        if let Some(body) = &request.body {
            text.push_str("\n>\n");
            text.push_str(&body_text(body));
        }
        err(&text);
    }

    /// `-v`: the response as received.
    pub fn dump_response(&self, response: &Received) {
        if !self.verbose {
            return;
        }
        let mut text = format!("< {} ({})", response.status, human(response.elapsed));
        for (name, value) in &response.headers {
            text.push_str(&format!(
                "\n< {name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        if !response.body.is_empty() {
            text.push_str("\n<\n");
            text.push_str(&body_text(&response.body));
        }
        err(&text);
    }
}

/// A body as text for a dump: redacted whole first (so a cut cannot split a
/// secret and show half of it), then cut at a limit.
fn body_text(body: &[u8]) -> String {
    let body = redact::global().redact_bytes(body);
    let shown = &body[..body.len().min(DUMP_BODY_BYTES)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if body.len() > DUMP_BODY_BYTES {
        text.push_str(&format!(
            "\n… ({} more bytes)",
            body.len() - DUMP_BODY_BYTES
        ));
    }
    text
}
