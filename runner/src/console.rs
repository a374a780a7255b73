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
    /// Colour the step labels (stdout is a terminal and `NO_COLOR` is unset).
    pub color: bool,
    /// Show a progress bar on stderr (a terminal, not `--quiet` or `-v`).
    pub progress: bool,
}

impl Console {
    /// Decide colour and progress from the terminal and `NO_COLOR`.
    pub fn for_terminal(verbose: bool, quiet: bool) -> Console {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Console {
            verbose,
            id_width: 0,
            quiet,
            color: std::io::stdout().is_terminal() && !no_color,
            progress: std::io::stderr().is_terminal() && !quiet && !verbose,
        }
    }

    /// A progress bar for `steps` steps, when progress is on.
    pub fn progress_bar(&self, steps: usize) -> Option<indicatif::ProgressBar> {
        if !self.progress {
            return None;
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(steps as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let template = if self.color {
            "{spinner:.cyan} [{elapsed}] {bar:30.cyan/blue} {pos}/{len} {msg}"
        } else {
            "{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Some(bar)
    }
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

/// Write a trusted label (coloured when asked) and then redacted text.
fn out_labelled(label: &str, color: Option<&str>, text: &str) {
    let text = redact::global().redact(text);
    let text = printable(&text);
    let mut stdout = std::io::stdout().lock();
    let _ = match color {
        Some(code) => writeln!(stdout, "  \x1b[{code}m{label}\x1b[0m {text}"),
        None => writeln!(stdout, "  {label} {text}"),
    };
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
        let (label, code) = match step.outcome {
            Outcome::Passed => ("ok    ", "32"),
            Outcome::Failed => ("FAILED", "31"),
            Outcome::Error => ("ERROR ", "33"),
            Outcome::Skipped => ("skip  ", "90"),
            Outcome::Interrupted => ("STOP  ", "35"),
        };
        let mut line = format!("{:<width$}", step.id, width = self.id_width);
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
        out_labelled(label, self.color.then_some(code), &line);
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
        let stopped = count(Outcome::Interrupted);
        let skipped = count(Outcome::Skipped);
        let total = journey.steps.len();
        let verdict = match journey.outcome {
            Outcome::Passed => "passed",
            Outcome::Interrupted => "interrupted",
            _ => "failed",
        };
        let stopped = if stopped > 0 {
            format!(", {stopped} interrupted")
        } else {
            String::new()
        };
        out(&format!(
            "{} {verdict}: {passed} of {total} step{} ok, {failed} failed{stopped}, {skipped} skipped ({})",
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
