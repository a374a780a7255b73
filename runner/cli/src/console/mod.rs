//! What a person sees: step lines, `-v` dumps and summaries, drawn from the
//! engine's events. Every line goes through the redactor on its way out.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use reqflo_core::duration::human;
use reqflo_core::redact;
use reqflo_core::report::Outcome;
use reqflo_engine::{Event, Observer};

mod lines;
mod remote;

use lines::{JourneyLine, StepLine, summary};

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// The console: stdout for results, stderr for dumps and errors.
#[derive(Debug)]
pub struct Console {
    /// `-v`: dump requests and responses to stderr.
    pub verbose: bool,
    /// `--quiet`: only each journey's summary line.
    pub quiet: bool,
    /// Colour the step labels (stdout is a terminal and `NO_COLOR` is unset).
    pub color: bool,
    /// Show a progress bar on stderr (a terminal, not `--quiet` or `-v`, one
    /// journey at a time).
    pub progress: bool,
    /// Journeys running side by side (`--jobs`) hold their lines and print
    /// them whole, in the order the journeys were named, so they never
    /// interleave.
    pub hold: bool,
    state: Mutex<State>,
}

/// What the console keeps between events.
#[derive(Debug, Default)]
struct State {
    /// Step ids are padded to this width so columns line up, per journey.
    id_width: Vec<usize>,
    /// The progress bar of the journey running now.
    bar: Option<indicatif::ProgressBar>,
    /// Held output per journey (when holding), and whether it ended.
    held: Vec<Held>,
    /// The first journey whose output has not been printed.
    next: usize,
}

/// A journey's redacted output, held until it and those before it end.
#[derive(Debug, Default)]
struct Held {
    out: Vec<u8>,
    err: Vec<u8>,
    done: bool,
}

/// Where a line goes.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

impl Console {
    /// Decide colour and progress from the terminal and `NO_COLOR`; `jobs`
    /// journeys at once (more than one holds their lines).
    pub fn for_terminal(verbose: bool, quiet: bool, jobs: usize) -> Console {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let hold = jobs > 1;
        Console {
            verbose,
            quiet,
            color: std::io::stdout().is_terminal() && !no_color,
            progress: std::io::stderr().is_terminal() && !quiet && !verbose && !hold,
            hold,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while printing leaves nothing half-done worth refusing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A line already redacted and made printable: held for `journey` or
    /// printed now.
    fn emit(&self, state: &mut State, journey: usize, to: Stream, line: &str) {
        if !self.hold {
            match to {
                Stream::Out => write_line(&mut std::io::stdout().lock(), line),
                Stream::Err => write_line(&mut std::io::stderr().lock(), line),
            }
            return;
        }
        if state.held.len() <= journey {
            state.held.resize_with(journey + 1, Held::default);
        }
        let held = &mut state.held[journey];
        let buffer = match to {
            Stream::Out => &mut held.out,
            Stream::Err => &mut held.err,
        };
        buffer.extend_from_slice(line.as_bytes());
        buffer.push(b'\n');
    }

    /// Print, in order, every held journey that has ended and has none
    /// before it still running: the dumps to stderr, then the lines to stdout.
    fn release(&self, state: &mut State, all: bool) {
        while let Some(held) = state.held.get_mut(state.next) {
            if !held.done && !all {
                break;
            }
            let err = std::mem::take(&mut held.err);
            let out = std::mem::take(&mut held.out);
            state.next += 1;
            // Held lines were redacted when made; a secret this journey
            // captured later (a token in an earlier dump) is known only now.
            let _ = std::io::stderr()
                .lock()
                .write_all(&redact::live::redact_bytes(&err));
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&redact::live::redact_bytes(&out));
            let _ = stdout.flush();
        }
    }

    /// A progress bar for `steps` steps, when progress is on.
    fn progress_bar(&self, steps: usize) -> Option<indicatif::ProgressBar> {
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

impl Observer for Console {
    fn dumps(&self) -> bool {
        self.verbose
    }

    fn event(&self, event: Event<'_>) {
        let mut state = self.state();
        let state = &mut *state;
        match event {
            Event::JourneyStarted { journey, plan } => {
                let width = plan.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
                if state.id_width.len() <= journey {
                    state.id_width.resize(journey + 1, 0);
                }
                state.id_width[journey] = width;
                if !self.quiet {
                    let line = clean(&format!(
                        "journey {} (env {})",
                        plan.journey, plan.environment
                    ));
                    self.emit(state, journey, Stream::Out, &line);
                }
                state.bar = self.progress_bar(plan.steps.len());
            }
            Event::StepStarted { id, .. } => {
                if let Some(bar) = &state.bar {
                    bar.set_message(printable(id).into_owned());
                }
            }
            Event::Request { journey, dump } | Event::Response { journey, dump } => {
                // Redacted by the engine; only the terminal's safety is ours.
                let text = printable(dump).into_owned();
                self.emit(state, journey, Stream::Err, &text);
            }
            Event::StepFinished { journey, step } => {
                let width = state.id_width.get(journey).copied().unwrap_or(0);
                let lines = self.step(&StepLine::from(step), width);
                match state.bar.take() {
                    // The bar steps aside while the step's lines are printed above it.
                    Some(bar) => {
                        bar.suspend(|| {
                            for line in &lines {
                                self.emit(state, journey, Stream::Out, line);
                            }
                        });
                        bar.inc(1);
                        state.bar = Some(bar);
                    }
                    None => {
                        for line in &lines {
                            self.emit(state, journey, Stream::Out, line);
                        }
                    }
                }
            }
            Event::StepSkipped { journey, id } => {
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                if !self.quiet {
                    let line = clean(&format!("  skip   {id}"));
                    self.emit(state, journey, Stream::Out, &line);
                }
            }
            Event::JourneyFinished {
                journey,
                report,
                ran,
            } => {
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                if ran {
                    let line = clean(&summary(&JourneyLine::from(report)));
                    self.emit(state, journey, Stream::Out, &line);
                }
                if self.hold {
                    if state.held.len() <= journey {
                        state.held.resize_with(journey + 1, Held::default);
                    }
                    state.held[journey].done = true;
                    self.release(state, false);
                }
            }
            Event::RunFinished { .. } => {
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                self.release(state, true);
            }
        }
    }
}

/// Control characters from servers, plugins or files could drive the terminal
/// (colours, cursor moves, fake lines); only newlines and tabs pass.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !may_hold_controls(text.as_bytes())
        || !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Cow::Borrowed(text);
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

/// Whether bytes may hold a control character other than newline and tab: an
/// ASCII control, DEL, or 0xC2, the lead byte of the C1 controls (U+0080 to
/// U+009F). A plain byte test in blocks the compiler vectorises: a `-v` dump
/// of large bodies spent a quarter of its time decoding chars here.
fn may_hold_controls(bytes: &[u8]) -> bool {
    bytes.chunks(64).any(|block| {
        block.iter().fold(false, |hit, &b| {
            hit | ((b < 0x20) & (b != b'\n') & (b != b'\t')) | (b == 0x7f) | (b == 0xc2)
        })
    })
}

/// Text as it may be shown: redacted, then stripped of control characters.
fn clean(text: &str) -> String {
    cleaned(text).into_owned()
}

/// [`clean`], borrowing `text` when nothing in it is replaced: a dump can be
/// megabytes, and each copy of it costs as much as redacting it.
fn cleaned(text: &str) -> Cow<'_, str> {
    match redact::live::redact(text) {
        Cow::Borrowed(text) => printable(text),
        Cow::Owned(redacted) => Cow::Owned(printable(&redacted).into_owned()),
    }
}

/// Write a clean line. A closed pipe is not an error worth a panic.
fn write_line(to: &mut impl Write, line: &str) {
    let _ = to.write_all(line.as_bytes());
    let _ = to.write_all(b"\n");
    let _ = to.flush();
}

/// Asks for a missing input on the terminal, when stdin is one.
#[derive(Debug)]
pub struct Terminal;

impl reqflo_core::plan::Ask for Terminal {
    fn ask(
        &self,
        name: &str,
        description: Option<&str>,
        default: Option<&serde_json::Value>,
    ) -> reqflo_core::error::Result<Option<String>> {
        use std::io::{BufRead, IsTerminal};
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        let mut stderr = std::io::stderr();
        let about = description.map(|d| format!(" ({d})")).unwrap_or_default();
        let shown = default.map(|d| format!(" [{d}]")).unwrap_or_default();
        let question = format!("{name}{about}{shown}: ");
        let _ = write!(stderr, "{}", printable(&question));
        let _ = stderr.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            reqflo_core::error::Error::Usage(format!("cannot read input `{name}`: {e}"))
        })?;
        let answer = line.trim_end_matches(['\r', '\n']);
        Ok((!answer.is_empty()).then(|| answer.to_string()))
    }
}

/// Write redacted text to stdout.
pub fn out(text: &str) {
    write_line(&mut std::io::stdout().lock(), &clean(text));
}

/// A trusted label (coloured when asked) and then redacted text.
fn labelled(label: &str, color: Option<&str>, text: &str) -> String {
    // One string for the whole line: this runs once per step.
    let text = cleaned(text);
    let mut line = String::with_capacity(text.len() + 24);
    line.push_str("  ");
    match color {
        Some(code) => {
            let _ = write!(line, "\x1b[{code}m{label}\x1b[0m");
        }
        None => line.push_str(label),
    }
    line.push(' ');
    line.push_str(&text);
    line
}

/// Write redacted text to stderr.
pub fn err(text: &str) {
    write_line(&mut std::io::stderr().lock(), &clean(text));
}

/// The lines the panic hook prints for a panic carrying `payload` at
/// `location`, cleaned: a panic is a bug, and its message may quote anything,
/// a secret included, so it is redacted like every other line.
pub fn panic_text(
    payload: &(dyn std::any::Any + Send),
    location: Option<&std::panic::Location<'_>>,
) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    let place = location
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    clean(&format!(
        "error: internal error{place}: {message}\nthis is a bug in reqflo; please report it"
    ))
}

impl Console {
    /// One line per step, plus its failures; none with `--quiet`.
    fn step(&self, step: &StepLine<'_>, id_width: usize) -> Vec<String> {
        if self.quiet {
            return Vec::new();
        }
        let (label, code) = match step.outcome {
            Outcome::Passed => ("ok    ", "32"),
            Outcome::Failed => ("FAILED", "31"),
            Outcome::Error => ("ERROR ", "33"),
            Outcome::Skipped => ("skip  ", "90"),
            Outcome::Interrupted => ("STOP  ", "35"),
        };
        let mut line = String::with_capacity(96);
        let _ = write!(line, "{:<width$}", step.id, width = id_width);
        if let Some((method, url)) = step.request {
            let _ = write!(line, " {method} {url}");
        }
        if let Some(status) = step.status {
            let _ = write!(line, " -> {status}");
        }
        if step.request.is_some() {
            let _ = write!(line, " ({})", human(millis(step.duration_ms)));
        }
        // Only the label (with its colour codes) is not cleaned: it is ours.
        let mut lines = vec![labelled(label, self.color.then_some(code), &line)];
        for problem in &step.problems {
            lines.push(clean(&format!("         {problem}")));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::{panic_text, printable};
    use proptest::prelude::*;
    use reqflo_core::redact;

    #[test]
    fn a_panic_message_quoting_a_secret_is_redacted() {
        use base64::Engine as _;
        let secret = "panic-canary/Se+cret=71c4";
        let run = redact::Redactor::for_run();
        run.add("PANIC_CANARY", secret.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let owned: Box<dyn std::any::Any + Send> =
            Box::new(format!("bad header `{secret}` (as {b64}) \x1b[2J"));
        let borrowed: Box<dyn std::any::Any + Send> = Box::new("a plain &str panic");
        let here = std::panic::Location::caller();
        let text = panic_text(&*owned, Some(here));
        assert!(text.contains("[redacted:PANIC_CANARY]"), "{text}");
        assert!(!text.contains(secret) && !text.contains(&b64), "{text}");
        assert!(
            !text.contains('\x1b'),
            "control characters stripped: {text:?}"
        );
        assert!(text.contains(&format!("at {}:{}", here.file(), here.line())));
        assert!(text.ends_with("this is a bug in reqflo; please report it"));
        assert!(panic_text(&*borrowed, None).contains("internal error: a plain &str panic"));
        let other: Box<dyn std::any::Any + Send> = Box::new(42u8);
        assert!(panic_text(&*other, None).contains("unknown panic"));
    }

    /// What `printable` must do, written the slow and obvious way.
    fn reference(text: &str) -> String {
        text.chars()
            .filter(|c| *c != '\r')
            .map(|c| match c {
                '\n' | '\t' => c,
                c if c.is_control() => '\u{fffd}',
                c => c,
            })
            .collect()
    }

    #[test]
    fn controls_are_replaced_and_the_rest_kept() {
        let long = "x".repeat(200);
        for text in [
            "plain",
            "tab\tand\nnewline",
            "£ and é stay",
            "\u{1b}[31mred",
            "del\u{7f}",
            "c1 \u{85} and \u{9b}",
            "cr\r\n",
            &format!("{long}\u{7}"),
            &format!("{long}\u{9f}{long}"),
        ] {
            assert_eq!(printable(text), reference(text), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn matches_the_obvious_definition(text in "\\PC*|[\\x00-\\x{a0}a£]{0,300}") {
            prop_assert_eq!(printable(&text), reference(&text));
        }
    }
}
