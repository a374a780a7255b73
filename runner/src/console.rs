//! What a person sees: step lines, `-v` dumps and summaries. Every line goes
//! through the redactor on its way out.

use std::io::Write;
use std::time::Duration;

use crate::duration::human;
use crate::http::{BuiltRequest, Received};
use crate::redact;

/// Bodies longer than this are cut in `-v` dumps.
const DUMP_BODY_BYTES: usize = 64 * 1024;

/// The console: stdout for results, stderr for dumps and errors.
#[derive(Debug, Clone, Copy)]
pub struct Console {
    /// `-v`: dump requests and responses to stderr.
    pub verbose: bool,
    /// Step ids are padded to this width so columns line up.
    pub id_width: usize,
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

/// How a step ended.
#[derive(Debug, Clone)]
pub enum StepOutcome {
    /// Every expectation held.
    Passed,
    /// Some expectations failed: one line each.
    Failed(Vec<String>),
    /// It could not run to the end: why.
    Error(String),
}

impl Console {
    /// The header line of a journey.
    pub fn journey(&self, name: &str, environment: &str) {
        out(&format!("journey {name} (env {environment})"));
    }

    /// One line per step, plus its failures.
    pub fn step(
        &self,
        id: &str,
        request: Option<(&str, &str)>,
        status: Option<u16>,
        elapsed: Option<Duration>,
        outcome: &StepOutcome,
    ) {
        let label = match outcome {
            StepOutcome::Passed => "ok    ",
            StepOutcome::Failed(_) => "FAILED",
            StepOutcome::Error(_) => "ERROR ",
        };
        let mut line = format!("  {label} {id:<width$}", width = self.id_width);
        if let Some((method, url)) = request {
            line.push_str(&format!(" {method} {url}"));
        }
        if let Some(status) = status {
            line.push_str(&format!(" -> {status}"));
        }
        if let Some(elapsed) = elapsed {
            line.push_str(&format!(" ({})", human(elapsed)));
        }
        out(&line);
        match outcome {
            StepOutcome::Passed => {}
            StepOutcome::Failed(failures) => {
                for failure in failures {
                    out(&format!("         {failure}"));
                }
            }
            StepOutcome::Error(why) => out(&format!("         {why}")),
        }
    }

    /// Steps not run because an earlier one failed.
    pub fn skipped(&self, id: &str) {
        out(&format!("  skip   {id}"));
    }

    /// A journey's closing line.
    pub fn summary(
        &self,
        name: &str,
        passed: usize,
        failed: usize,
        skipped: usize,
        took: Duration,
    ) {
        let verdict = if failed == 0 && skipped == 0 {
            "passed"
        } else {
            "failed"
        };
        out(&format!(
            "{name} {verdict}: {passed} of {} step{} ok, {failed} failed, {skipped} skipped ({})",
            passed + failed + skipped,
            if passed + failed + skipped == 1 {
                ""
            } else {
                "s"
            },
            human(took)
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
