//! What a person sees: step lines, `-v` dumps and summaries. Every line goes
//! through the redactor on its way out.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write;
use std::rc::Rc;
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
#[derive(Debug, Clone)]
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
    /// Journeys running side by side (`--jobs`) hold their lines here and
    /// print them whole when they end, so they never interleave.
    pub held: Option<Held>,
}

/// A journey's redacted output, held until [`Console::release`].
#[derive(Debug, Clone, Default)]
pub struct Held {
    out: Rc<RefCell<Vec<u8>>>,
    err: Rc<RefCell<Vec<u8>>>,
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
            held: None,
        }
    }

    /// The same console, holding its lines until [`Console::release`].
    pub fn holding(&self) -> Console {
        Console {
            progress: false,
            held: Some(Held::default()),
            ..self.clone()
        }
    }

    /// Print what was held: the dumps to stderr, then the lines to stdout.
    pub fn release(&self) {
        let Some(held) = &self.held else {
            return;
        };
        let err = held.err.take();
        let out = held.out.take();
        // Held lines were redacted when made; a secret this journey captured
        // later (a token in an earlier dump) is known only now.
        let redactor = redact::global();
        let _ = std::io::stderr()
            .lock()
            .write_all(&redactor.redact_bytes(&err));
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&redactor.redact_bytes(&out));
        let _ = stdout.flush();
    }

    /// A line for stdout, redacted, then held or printed now.
    fn line(&self, text: &str) {
        self.write_clean(&clean(text));
    }

    /// A line already redacted and made printable, held or printed now.
    fn write_clean(&self, line: &str) {
        match &self.held {
            Some(held) => push_line(&held.out, line),
            None => write_line(&mut std::io::stdout().lock(), line),
        }
    }

    /// A block for stderr, redacted, then held or printed now.
    fn dump(&self, text: &str) {
        let text = cleaned(text);
        match &self.held {
            Some(held) => push_line(&held.err, &text),
            None => write_line(&mut std::io::stderr().lock(), &text),
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
    match redact::global().redact(text) {
        Cow::Borrowed(text) => printable(text),
        Cow::Owned(redacted) => Cow::Owned(printable(&redacted).into_owned()),
    }
}

/// Append a clean line and a newline to a held buffer.
fn push_line(buffer: &RefCell<Vec<u8>>, line: &str) {
    let mut buffer = buffer.borrow_mut();
    buffer.extend_from_slice(line.as_bytes());
    buffer.push(b'\n');
}

/// Write a clean line. A closed pipe is not an error worth a panic.
fn write_line(to: &mut impl Write, line: &str) {
    let _ = to.write_all(line.as_bytes());
    let _ = to.write_all(b"\n");
    let _ = to.flush();
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
    /// The header line of a journey.
    pub fn journey(&self, name: &str, environment: &str) {
        if !self.quiet {
            self.line(&format!("journey {name} (env {environment})"));
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
        let mut line = String::with_capacity(96);
        let _ = write!(line, "{:<width$}", step.id, width = self.id_width);
        if let Some(request) = &step.request {
            let method = request.method.as_deref().unwrap_or("");
            let url = request.url.as_deref().unwrap_or("");
            let _ = write!(line, " {method} {url}");
        }
        if let Some(status) = step.response.as_ref().and_then(|r| r.status) {
            let _ = write!(line, " -> {status}");
        }
        if step.request.is_some() {
            let _ = write!(line, " ({})", human(millis(step.duration_ms)));
        }
        // Only the label (with its colour codes) is not cleaned: it is ours.
        self.write_clean(&labelled(label, self.color.then_some(code), &line));
        for problem in step.problems() {
            self.line(&format!("         {problem}"));
        }
    }

    /// Steps not run because an earlier one failed.
    pub fn skipped(&self, id: &str) {
        if !self.quiet {
            self.line(&format!("  skip   {id}"));
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
        self.line(&format!(
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
            push_body(&mut text, body);
        }
        self.dump(&text);
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
            push_body(&mut text, &response.body);
        }
        self.dump(&text);
    }
}

/// A body appended as text to a dump, cut at a limit. A body that will be cut is
/// redacted whole first, so the cut cannot split a secret and show half of
/// it. One shown whole is redacted once, with the rest of the dump: a second
/// pass over every byte cost a `-v` run about a tenth of its time.
fn push_body(text: &mut String, body: &[u8]) {
    let body = match body.len() > DUMP_BODY_BYTES {
        true => redact::global().redact_bytes(body),
        false => Cow::Borrowed(body),
    };
    let shown = &body[..body.len().min(DUMP_BODY_BYTES)];
    // `from_utf8` checks ASCII many bytes at a time; the lossy decoder, only
    // needed when that fails, goes byte by byte.
    match std::str::from_utf8(shown) {
        Ok(shown) => text.push_str(shown),
        Err(_) => text.push_str(&String::from_utf8_lossy(shown)),
    }
    if body.len() > DUMP_BODY_BYTES {
        let _ = write!(text, "\n… ({} more bytes)", body.len() - DUMP_BODY_BYTES);
    }
}

#[cfg(test)]
mod tests {
    use super::{DUMP_BODY_BYTES, clean, panic_text, printable, push_body};
    use crate::redact;
    use proptest::prelude::*;

    fn dumped(body: &[u8]) -> String {
        let mut text = String::from("< 200 OK\n<\n");
        push_body(&mut text, body);
        text
    }

    #[test]
    fn a_panic_message_quoting_a_secret_is_redacted() {
        use base64::Engine as _;
        let secret = "panic-canary/Se+cret=71c4";
        redact::global().add("PANIC_CANARY", secret.as_bytes());
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

    #[test]
    fn a_secret_across_the_dump_cut_shows_no_part_of_it() {
        let secret = "canary-at-the-cut-3f9a1c77d2";
        redact::global().add("CUT_CANARY", secret.as_bytes());
        // The cut falls 10 bytes into the secret.
        let mut body = vec![b'a'; DUMP_BODY_BYTES - 10];
        body.extend_from_slice(secret.as_bytes());
        body.extend_from_slice(&[b'b'; 100]);
        let shown = clean(&dumped(&body));
        assert!(shown.contains("more bytes)"), "the body was cut");
        assert!(!shown.contains(&secret[..10]), "half the secret shown");
    }

    #[test]
    fn a_body_shown_whole_is_redacted_with_the_dump() {
        let secret = "canary-in-a-whole-body-81be0c";
        redact::global().add("WHOLE_CANARY", secret.as_bytes());
        // At the limit exactly: not cut, so redacted once, by `clean`.
        let mut body = format!("{{\"token\":\"{secret}\"}}").into_bytes();
        body.resize(DUMP_BODY_BYTES, b' ');
        let shown = clean(&dumped(&body));
        assert!(!shown.contains("more bytes)"), "the body was not cut");
        assert!(!shown.contains(secret));
        assert!(shown.contains("[redacted:WHOLE_CANARY]"));
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
