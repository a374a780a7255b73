//! The redactor: every value a run knows, found as it is, in its encoded
//! forms, and in decoded readings of the text (JSON, HTML and percent
//! escapes, base64 runs), each match redacted over the span that spells it.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

use super::base64run::{self, is_digit};
use super::forms::patterns;
use super::patterns::{Patterns, Span};
use super::scan;
use super::views::{MAX_EXPANSION, Syntax, View, windows};

/// How many values a run may derive (signatures, tokens a hook makes): each
/// one costs memory and a little of every later scan, so a hook that derives
/// without end stops the run with a clear error instead of slowing it down.
pub const MAX_DERIVED_PER_RUN: usize = 20_000;

/// How far widening a match found as written ([`whole_escapes`],
/// [`whole_groups`]) may move its ends, both ways together.
const WIDENING: usize = 2 * 14;

/// A stream holds back a base64 run that reaches the end of what it has,
/// up to this long, so that a match inside it is cut as in the whole text
/// (see [`Inner::read_run`]: the cut may move to the run's ends).
pub const HELD_RUN: usize = 1 << 20;

/// A wrapped base64 line is at most this long (MIME's 76), so runs this long
/// are always looked at for wrapping.
const WRAP_WIDTH: usize = 60;

/// A run derived more values than [`MAX_DERIVED_PER_RUN`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "derived more than {MAX_DERIVED_PER_RUN} secret values in this run; each is \
     redacted from every later output, so reqflo bounds how many one run may make"
)]
pub struct TooManyDerived;

#[derive(Default)]
struct Inner {
    patterns: Patterns,
    /// An automaton could not be built: redact everything rather than nothing.
    broken: bool,
    /// The longest and shortest values learned.
    longest_value: usize,
    shortest_value: usize,
    /// Values learned with [`Redactor::add_derived`], and how many may be.
    derived: usize,
    derived_limit: Option<usize>,
}

impl Inner {
    /// The most source bytes one match can span, in any view: how far back a
    /// stream must look.
    fn reach(&self) -> usize {
        (self.longest_value * MAX_EXPANSION).max(self.patterns.longest()) + 32
    }

    /// The shortest base64 run that can hold an escaped value: an escape
    /// adds a byte at least, and the digits that spell `n` bytes are at
    /// least `8n / 6`, rounded up.
    fn min_escaped_run(&self) -> usize {
        (8 * (self.shortest_value + 1)).div_ceil(6).max(4)
    }

    /// Every place in `bytes` that spells a known value, merged where they
    /// overlap, in order.
    fn spans(&self, bytes: &[u8], run_before: usize) -> Vec<Span> {
        let mut spans = Vec::new();
        let patterns = &self.patterns;
        if patterns.len() == 0 {
            return spans;
        }
        if patterns.holds_any(bytes) {
            patterns.find(bytes, |s, e| (s, e), &mut spans);
            for span in &mut spans {
                (span.start, span.end) = whole_escapes(bytes, span.start, span.end);
                (span.start, span.end) = whole_groups(bytes, span.start, span.end, run_before);
            }
        }
        let pass = scan::pass(bytes, self.min_escaped_run().min(WRAP_WIDTH));
        if pass.escapes {
            for syntax in Syntax::ALL {
                for (start, end) in windows(bytes, syntax, self.reach()) {
                    let view = syntax.decode(bytes, start, end);
                    patterns.find(&view.bytes, |s, e| view.source(s, e), &mut spans);
                }
            }
        }
        self.base64_spans(bytes, &pass.regions, &mut spans);
        merge(spans)
    }

    /// Matches that only a reading of base64 runs shows: a value wrapped
    /// across lines, and a value escaped before it was encoded.
    fn base64_spans(&self, bytes: &[u8], regions: &[scan::Region], spans: &mut Vec<Span>) {
        let min_run = self.min_escaped_run();
        let min = min_run.min(WRAP_WIDTH);
        let mut done = 0;
        for &scan::Region {
            start: first,
            end: last,
            facts,
        } in regions
        {
            // Most regions need no reading: no line break inside or after
            // them (so no wrapping), and no digit a pair spelling an escape
            // needs (so no escaped value): the pass says which. Those are
            // passed over; the others are split into exact runs.
            let region = &bytes[first..last];
            let wrapped = facts.line_break || base64run::wraps_at(bytes, last);
            if !wrapped && (region.len() < min_run || !facts.pair_digit) {
                continue;
            }
            for (start, end) in base64run::runs(region, min) {
                let (start, end) = (first + start, first + end);
                if start < done {
                    continue;
                }
                self.read_run(bytes, start, end, &mut done, spans);
            }
        }
    }

    /// The base64 run at `bytes[start..end]` (joined with the lines that
    /// follow when it is wrapped), read for values wrapped or escaped in it.
    fn read_run(
        &self,
        bytes: &[u8],
        start: usize,
        end: usize,
        done: &mut usize,
        spans: &mut Vec<Span>,
    ) {
        let patterns = &self.patterns;
        let min_run = self.min_escaped_run();
        let (run, block_end) = base64run::joined(bytes, start, end);
        *done = block_end;
        if run.wrapped() {
            patterns.find(&run.digits, |s, e| run.source(s, e), spans);
        }
        if run.digits.len() < min_run || !base64run::may_hold_escape(&run.digits) {
            return;
        }
        let mut plain = Vec::new();
        for skip in 0..4 {
            base64run::decode_plain(&run.digits, skip, &mut plain);
            if memchr::memchr3(b'\\', b'&', b'%', &plain).is_none() {
                continue;
            }
            let decoded = base64run::decode(&run, skip);
            for syntax in Syntax::ALL {
                if memchr::memchr(syntax.trigger(), &decoded.bytes).is_none() {
                    continue;
                }
                let view: View = syntax.decode(&decoded.bytes, 0, decoded.bytes.len());
                // The digits that spell a match's last byte also spell part
                // of the byte after it (and the first, of the one before):
                // an escape there would be left broken beside the marker
                // (`\u003d` without its `\` reads as `u003d`). So a match
                // is cut where a group of digits ends and no escape is
                // split: what is left decodes as it did.
                let len = decoded.bytes.len();
                let source = |s, e| {
                    let group = |at: usize| at.is_multiple_of(3) || at == len;
                    let (s, e) = view.widened(s, e, group);
                    let (start, end) = view.source(s, e);
                    decoded.source(start, end)
                };
                patterns.find(&view.bytes, source, spans);
            }
        }
    }
}

/// How long the escape at the start of `bytes` is, if one is there. A
/// two-byte `\x` is not counted: a value's own `\` written raw before a
/// quote would read as one.
fn escape_len(bytes: &[u8]) -> Option<usize> {
    let hex = |b: &u8| b.is_ascii_hexdigit();
    match bytes {
        [b'\\', b'u', a, b, c, d, ..] if [a, b, c, d].into_iter().all(hex) => Some(6),
        [b'%', a, b, ..] if hex(a) && hex(b) => Some(3),
        [b'&', rest @ ..] => rest
            .iter()
            .take(11)
            .position(|&b| b == b';')
            .filter(|&at| {
                rest[..at]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'#')
            })
            .map(|at| at + 2),
        _ => None,
    }
}

/// A match as written may begin or end inside an escape (`%XX`, `&#NN;`,
/// `\uXXXX`): one value's own `%` written next to another value's digits
/// (`…%1A%` + `99…` reads as `%99`), or a value made of digits inside
/// another's character reference. It is widened to the whole escape, so
/// what is left beside its marker never reads as the first value (`…%1A%`
/// or `…&#` + marker would). At most 11 bytes each way;
/// [`Redactor::redact_from`] keeps a margin for it.
fn whole_escapes(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    for back in 1..=11.min(start) {
        let at = start - back;
        if escape_len(&bytes[at..]).is_some_and(|len| at + len > start) {
            start = at;
            break;
        }
    }
    for back in 1..=11.min(end) {
        let at = end - back;
        if let Some(len) = escape_len(&bytes[at..]).filter(|len| at + len > end) {
            end = at + len;
            break;
        }
    }
    (start, end.min(bytes.len()))
}

/// A match as written inside a run of base64 digits (a value made of
/// digits, inside another value's base64) is widened to whole four-digit
/// groups, counted from the run's start: what is left beside its marker then
/// decodes to whole bytes, never to part of an escape that, read with its
/// neighbours, spells another value (`XHU` is `\u` and two bits).
/// `run_before`: how many digits of a run that reaches `bytes[0]` came
/// before it (a stream's earlier bytes; 0 for a whole text). At most three
/// digits each way.
fn whole_groups(bytes: &[u8], start: usize, end: usize, run_before: usize) -> (usize, usize) {
    let run = bytes[..start]
        .iter()
        .rposition(|&b| !is_digit(b))
        .map_or(0, |i| i + 1);
    let mut near_end = end;
    while near_end < bytes.len() && near_end < end + 3 && is_digit(bytes[near_end]) {
        near_end += 1;
    }
    // Deep inside a run: two whole groups before the match, or a group's
    // worth after it. A value written next to a word (`x-` + value) keeps
    // its neighbours.
    let left = start - run >= 8 || (run == 0 && run_before > 0);
    let right = near_end - end >= 3;
    if !left && !right {
        return (start, end);
    }
    // Only where the digits look like base64 (upper and lower case letters
    // and digits, 16 or more around the match): a value inside a word of
    // plain text keeps its neighbours readable.
    let near = &bytes[run.max(start.saturating_sub(12))..near_end];
    let looks = near.len() >= 16
        && near.iter().any(u8::is_ascii_uppercase)
        && near.iter().any(u8::is_ascii_lowercase)
        && near.iter().any(u8::is_ascii_digit);
    if !looks {
        return (start, end);
    }
    // Where the run's digit 0 is, counted from `bytes[0]` (before it when
    // the run began in earlier bytes).
    let origin = if run == 0 {
        -(run_before as isize)
    } else {
        run as isize
    };
    let phase = |at: usize| (at as isize - origin).rem_euclid(4) as usize;
    let new_start = if left { start - phase(start) } else { start };
    let new_end = if right && phase(end) != 0 {
        (end + 4 - phase(end)).min(near_end)
    } else {
        end
    };
    (new_start.max(run), new_end)
}

/// Sort spans and merge those that overlap. A merged span takes the marker
/// of its first match (the longest of those that start first): a stream,
/// which may have shown that marker already, agrees.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    // Of spans with the same extent, the first value learned names the
    // marker, whatever order the readings found them in (a stream and the
    // whole text must agree).
    spans.sort_unstable_by_key(|s| (s.start, std::cmp::Reverse(s.end), s.marker));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match out.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => out.push(span),
        }
    }
    out
}

/// Replaces every known secret form with `[redacted:NAME]`. Each run owns
/// one, knowing that run's values; [`Redactor::for_run`] also shows it to the
/// process-wide view ([`super::live`]) for as long as the run holds it.
#[derive(Default)]
pub struct Redactor {
    inner: RwLock<Inner>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forms = self.inner.read().map(|i| i.patterns.len()).unwrap_or(0);
        f.debug_struct("Redactor").field("forms", &forms).finish()
    }
}

impl Redactor {
    /// A redactor for one run, seen by the process-wide view until the last
    /// clone of it is dropped (its values are zeroed then).
    pub fn for_run() -> Arc<Redactor> {
        let redactor = Arc::new(Redactor::default());
        super::live::register(&redactor);
        redactor
    }

    /// Learn a value and its encoded forms, shown as `[redacted:label]`.
    pub fn add(&self, label: &str, value: &[u8]) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        Self::learn(&mut inner, label, value);
    }

    /// Learn a value a run derived (a signature, a token a hook made), within
    /// [`MAX_DERIVED_PER_RUN`] new values. Past the bound the value is still
    /// learned, so that the caller's error path leaks nothing, and the
    /// caller must stop.
    pub fn add_derived(&self, label: &str, value: &[u8]) -> Result<(), TooManyDerived> {
        let Ok(mut inner) = self.inner.write() else {
            return Err(TooManyDerived);
        };
        if !Self::learn(&mut inner, label, value) {
            return Ok(());
        }
        inner.derived += 1;
        if inner.derived > inner.derived_limit.unwrap_or(MAX_DERIVED_PER_RUN) {
            return Err(TooManyDerived);
        }
        Ok(())
    }

    /// A lower bound on derived values, so a test reaches it quickly.
    #[cfg(test)]
    pub(super) fn limit_derived(&self, limit: usize) {
        if let Ok(mut inner) = self.inner.write() {
            inner.derived_limit = Some(limit);
        }
    }

    /// Whether the value was new.
    fn learn(inner: &mut Inner, label: &str, value: &[u8]) -> bool {
        let forms: Vec<(Zeroizing<Vec<u8>>, _)> = patterns(value);
        let before = inner.patterns.len();
        // A plugin's granted variable (`$KEY`) that also resolves as a run
        // secret is shown under the name the journey uses.
        let relabel = |old: &str| old.starts_with("[redacted:$") && !label.starts_with('$');
        if inner.patterns.learn(label, forms, relabel).is_err() {
            inner.broken = true;
        }
        let new = inner.patterns.len() > before;
        if new {
            inner.longest_value = inner.longest_value.max(value.len());
            inner.shortest_value = match inner.shortest_value {
                0 => value.len(),
                n => n.min(value.len()),
            };
        }
        new
    }

    /// Merge the automata into one when searching them apart has cost more
    /// than that (see [`Patterns::wants_merge`]).
    fn settle(&self) {
        let wants = self.inner.read().is_ok_and(|i| i.patterns.wants_merge());
        if wants
            && let Ok(mut inner) = self.inner.write()
            && inner.patterns.merge_all().is_err()
        {
            inner.broken = true;
        }
    }

    /// Redact text.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Markers are ASCII; a span that cut a character leaves a broken
            // sequence, which a lossy decode shows as U+FFFD.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Redact bytes.
    pub fn redact_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        let inner = match self.inner.read() {
            Ok(inner) if !inner.broken => inner,
            // A poisoned lock (a panic mid-update) or a matcher that could not be
            // built: show nothing rather than risk a leak.
            _ => return Cow::Owned(b"[redacted]".to_vec()),
        };
        let spans = inner.spans(bytes, 0);
        if spans.is_empty() {
            drop(inner);
            self.settle();
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut last = 0;
        for span in spans {
            out.extend_from_slice(&bytes[last..span.start]);
            out.extend_from_slice(inner.patterns.marker(span.marker).as_bytes());
            last = span.end;
        }
        out.extend_from_slice(&bytes[last..]);
        drop(inner);
        self.settle();
        Cow::Owned(out)
    }

    /// Redact `buffer[from..]` as far as later bytes cannot change the
    /// outcome (all of it when `at_end`), appending to `out`; `buffer[..from]`
    /// was written out before and is only context; `run_before` digits of a
    /// base64 run that reaches `buffer[0]` were dropped before it. Returns how far the
    /// buffer is now written out, and how much context the next call needs.
    pub(super) fn redact_from(
        &self,
        buffer: &[u8],
        from: usize,
        at_end: bool,
        run_before: usize,
        out: &mut Vec<u8>,
    ) -> (usize, usize) {
        let inner = match self.inner.read() {
            Ok(inner) if !inner.broken => inner,
            _ => {
                out.extend_from_slice(b"[redacted]");
                return (buffer.len(), 0);
            }
        };
        let reach = inner.reach();
        // A match starting before `settled` is wholly inside `buffer`,
        // whatever comes next, because none spans more than `reach` bytes;
        // widening ([`WIDENING`]) moves an end later (those bytes must be
        // here) and a start earlier (those must not be written out yet). A
        // base64 run that reaches the end is held back whole (up to
        // [`HELD_RUN`]): a match inside it may be cut anywhere up to its ends.
        let settled = if at_end {
            buffer.len()
        } else {
            let mut settled = buffer.len().saturating_sub(reach + WIDENING);
            let run = buffer
                .iter()
                .rev()
                .take_while(|&&b| is_digit(b) || matches!(b, b'=' | b'\r' | b'\n'))
                .take(HELD_RUN + 1)
                .count();
            if run <= HELD_RUN {
                let run_start = buffer.len() - run;
                settled = settled.min(run_start.saturating_sub(reach + WIDENING));
            }
            settled.max(from)
        };
        let mut last = from;
        for span in inner.spans(buffer, run_before) {
            if span.end <= last {
                continue;
            }
            if span.start >= settled {
                break;
            }
            if span.start < last {
                // It overlaps one whose marker was written out already (only
                // a marker can end where the context does, or the bytes
                // before would have been a leak): the whole text merges the
                // two, so its rest goes under that marker.
                last = span.end;
                continue;
            }
            out.extend_from_slice(&buffer[last..span.start]);
            out.extend_from_slice(inner.patterns.marker(span.marker).as_bytes());
            last = span.end;
        }
        let consumed = last.max(settled);
        out.extend_from_slice(&buffer[last..consumed]);
        drop(inner);
        self.settle();
        // The context to keep: enough to find again, whole, a span already
        // written out.
        (consumed, reach + WIDENING)
    }

    /// Whether a known pattern occurs in `bytes` as written: the first look
    /// alone, before any decoded reading (what the redactor did before it
    /// read escapes and base64 runs; the benchmarks compare with it).
    pub fn holds_pattern(&self, bytes: &[u8]) -> bool {
        self.inner
            .read()
            .map(|inner| inner.patterns.holds_any(bytes))
            .unwrap_or(true)
    }

    /// Whether any known form occurs in `bytes` (the final check on files).
    pub fn finds(&self, bytes: &[u8]) -> bool {
        self.inner
            .read()
            .map(|inner| inner.broken || !inner.spans(bytes, 0).is_empty())
            .unwrap_or(true)
    }
}

/// Make plugin-supplied text safe to print: redacted first (so neither the cut
/// nor the loss of newlines can break a value apart), then without control
/// characters (no terminal escapes, no fake extra lines) and bounded in length.
pub fn sanitize_plugin_text(redactor: &Redactor, text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let text = redactor.redact(text);
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push(if c == '\n' || c == '\t' { ' ' } else { '�' });
        } else {
            out.push(c);
        }
    }
    out
}
