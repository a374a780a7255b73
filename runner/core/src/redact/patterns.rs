//! The patterns a redactor looks for, in generations of automata, so that
//! learning a value costs about the value, not every value learned before.
//!
//! One automaton over every pattern would be rebuilt on each value learned:
//! a run that learns a value per step (a signature per request) pays the
//! square of its steps (48 s for 1000 signed steps). Here each learned value
//! gets a small automaton of its own, and the newest automaton is merged into
//! the one before it whenever it has grown to half that one's size, as in a
//! binary counter: each pattern is rebuilt O(log n) times in all, and a text
//! is searched by O(log n) automata, most of them small.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

use aho_corasick::{
    AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, Input, MatchKind, StartKind,
};
use zeroize::Zeroizing;

use super::base64run::is_digit;
use super::forms::Kind;
use super::sample::Sampler;

/// Shorter patterns would mask ordinary text.
const MIN_PATTERN: usize = 4;

/// With more patterns than this the sampler is not built (see [`Sampler`]).
const MAX_SAMPLED: usize = 512;

/// A place to redact: `start..end` of the text, shown as marker `marker`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) marker: u32,
}

struct Pattern {
    bytes: Zeroizing<Vec<u8>>,
    marker: u32,
    kind: Kind,
}

/// An automaton over patterns `first..` up to the next segment's first.
struct Segment {
    first: usize,
    matcher: AhoCorasick,
    /// The bytes its patterns start with.
    starts: [bool; 256],
}

/// Past this length a match's inner occurrences are not looked for: the
/// look costs its length times the longest pattern when a value repeats
/// itself, and the match alone already covers the value.
const MAX_INNER_LOOK: usize = 4096;

/// Every pattern learned so far, with the markers they are shown as.
#[derive(Default)]
pub(super) struct Patterns {
    patterns: Vec<Pattern>,
    segments: Vec<Segment>,
    /// A fingerprint of each pattern → the patterns with it (to learn a form
    /// once, and to relabel it).
    seen: HashMap<u64, Vec<usize>>,
    markers: Vec<String>,
    marker_ids: HashMap<String, u32>,
    /// A cheaper first look for text that holds no pattern, while there are
    /// few patterns and they are long enough for it to pay.
    sampler: Option<Sampler>,
    longest: usize,
    /// All patterns' bytes: what merging every segment into one costs.
    bytes: usize,
    /// Bytes searched by the segments beyond the first since the last merge:
    /// what searching several automata instead of one has cost.
    extra_searched: AtomicUsize,
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The marker text for a label.
fn marker_text(label: &str) -> String {
    format!("[redacted:{label}]")
}

impl Patterns {
    /// How many patterns there are.
    pub(super) fn len(&self) -> usize {
        self.patterns.len()
    }

    /// The longest pattern.
    pub(super) fn longest(&self) -> usize {
        self.longest
    }

    /// The text of marker `id`.
    pub(super) fn marker(&self, id: u32) -> &str {
        &self.markers[id as usize]
    }

    /// Learn `forms` under `label`. A form already known keeps its marker,
    /// unless `relabel` says the new label should win. Fails only when an
    /// automaton cannot be built.
    pub(super) fn learn(
        &mut self,
        label: &str,
        forms: Vec<(Zeroizing<Vec<u8>>, Kind)>,
        relabel: impl Fn(&str) -> bool,
    ) -> Result<(), aho_corasick::BuildError> {
        let marker = marker_text(label);
        let id = match self.marker_ids.get(&marker) {
            Some(&id) => id,
            None => {
                let id = self.markers.len() as u32;
                self.markers.push(marker.clone());
                self.marker_ids.insert(marker, id);
                id
            }
        };
        let first = self.patterns.len();
        for (bytes, kind) in forms {
            if bytes.len() < MIN_PATTERN {
                continue;
            }
            let print = fingerprint(&bytes);
            let known = self
                .seen
                .get(&print)
                .and_then(|ids| ids.iter().find(|&&i| *self.patterns[i].bytes == *bytes))
                .copied();
            match known {
                Some(at) => {
                    let old = self.patterns[at].marker;
                    if old != id && relabel(&self.markers[old as usize]) {
                        self.patterns[at].marker = id;
                    }
                }
                None => {
                    self.longest = self.longest.max(bytes.len());
                    self.bytes += bytes.len();
                    self.seen
                        .entry(print)
                        .or_default()
                        .push(self.patterns.len());
                    self.patterns.push(Pattern {
                        bytes,
                        marker: id,
                        kind,
                    });
                }
            }
        }
        if self.patterns.len() == first {
            return Ok(());
        }
        let (matcher, starts) = self.build(first)?;
        self.segments.push(Segment {
            first,
            matcher,
            starts,
        });
        // Merge while the newest segment is at least half the one before.
        while let [.., before, last] = &self.segments[..] {
            let (before, last) = (before.first, last.first);
            if (self.patterns.len() - last) * 2 < last - before {
                break;
            }
            self.segments.pop();
            let (matcher, starts) = self.build(before)?;
            if let Some(segment) = self.segments.last_mut() {
                (segment.matcher, segment.starts) = (matcher, starts);
            }
        }
        self.sampler = if self.patterns.len() <= MAX_SAMPLED {
            Sampler::new(
                &self
                    .patterns
                    .iter()
                    .map(|p| &p.bytes[..])
                    .collect::<Vec<_>>(),
            )
        } else {
            None
        };
        Ok(())
    }

    /// Whether searching several automata has cost more than merging them
    /// into one would: a run that has stopped learning (a long `-v` dump
    /// after the secrets are resolved) then searches one automaton.
    pub(super) fn wants_merge(&self) -> bool {
        self.segments.len() > 1
            && self.extra_searched.load(Ordering::Relaxed) > 8 * self.bytes + (1 << 20)
    }

    /// Merge every segment into one.
    pub(super) fn merge_all(&mut self) -> Result<(), aho_corasick::BuildError> {
        if self.segments.len() > 1 {
            let (matcher, starts) = self.build(0)?;
            self.segments.truncate(1);
            (self.segments[0].matcher, self.segments[0].starts) = (matcher, starts);
        }
        self.extra_searched.store(0, Ordering::Relaxed);
        Ok(())
    }

    fn count_search(&self, bytes: usize) {
        if self.segments.len() > 1 {
            self.extra_searched
                .fetch_add(bytes * (self.segments.len() - 1), Ordering::Relaxed);
        }
    }

    /// An automaton over patterns `first..`, and the bytes they start with.
    fn build(&self, first: usize) -> Result<(AhoCorasick, [bool; 256]), aho_corasick::BuildError> {
        let mut starts = [false; 256];
        for pattern in &self.patterns[first..] {
            starts[pattern.bytes[0] as usize] = true;
        }
        Ok((self.automaton(first)?, starts))
    }

    fn automaton(&self, first: usize) -> Result<AhoCorasick, aho_corasick::BuildError> {
        // A contiguous NFA, never the DFA aho-corasick picks for few patterns:
        // the DFA's build time grows with the square of a pattern's length
        // (a 4 KiB value took 11 s, 16 KiB did not finish), and a secret may
        // be a PEM key or a large token. The NFA builds 30 × 64 KiB in ~0.2 s.
        // Leftmost-longest, and anchored searches too, for `find`'s
        // occurrences that start inside a match.
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Both)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(self.patterns[first..].iter().map(|p| p.bytes.as_slice()))
    }

    /// Whether any pattern occurs in `bytes`.
    pub(super) fn holds_any(&self, bytes: &[u8]) -> bool {
        let any = |window: &[u8]| {
            self.count_search(window.len());
            self.segments.iter().any(|s| s.matcher.is_match(window))
        };
        match &self.sampler {
            Some(sampler) => sampler.may_match(bytes, any),
            None => any(bytes),
        }
    }

    /// Every match in `bytes` (a text or a view of one), widened as its kind
    /// says and placed in the source by `source`.
    pub(super) fn find(
        &self,
        bytes: &[u8],
        source: impl Fn(usize, usize) -> (usize, usize),
        out: &mut Vec<Span>,
    ) {
        self.count_search(bytes.len());
        let push = |out: &mut Vec<Span>, pattern: &Pattern, (start, end): (usize, usize)| {
            let (mut from, mut to) = (start, end);
            if pattern.kind == Kind::Base64 {
                if from > 0 && is_digit(bytes[from - 1]) {
                    from -= 1;
                }
                if to < bytes.len() && is_digit(bytes[to]) {
                    to += 1;
                }
                while to < bytes.len() && bytes[to] == b'=' && to - end < 3 {
                    to += 1;
                }
            }
            let (start, end) = source(from, to);
            out.push(Span {
                start,
                end,
                marker: pattern.marker,
            });
        };
        for segment in &self.segments {
            let pattern =
                |id: aho_corasick::PatternID| &self.patterns[segment.first + id.as_usize()];
            for m in segment.matcher.find_iter(bytes) {
                push(out, pattern(m.pattern()), (m.start(), m.end()));
                // The redacted span is the union of every occurrence, so that
                // it does not depend on where a search starts (a stream sees
                // the text in pieces). Leftmost-longest skips occurrences
                // that start inside a match; those reaching past its end are
                // looked for here, anchored at each of its bytes.
                if m.len() > MAX_INNER_LOOK {
                    continue;
                }
                for at in m.start() + 1..m.end() {
                    if !segment.starts[bytes[at] as usize] {
                        continue;
                    }
                    let input = Input::new(bytes).range(at..).anchored(Anchored::Yes);
                    if let Some(inner) = segment.matcher.find(input)
                        && inner.end() > m.end()
                    {
                        push(out, pattern(inner.pattern()), (inner.start(), inner.end()));
                    }
                }
            }
        }
    }
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patterns")
            .field("forms", &self.patterns.len())
            .field("automata", &self.segments.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(forms: &[&str]) -> Vec<(Zeroizing<Vec<u8>>, Kind)> {
        forms
            .iter()
            .map(|f| (Zeroizing::new(f.as_bytes().to_vec()), Kind::Plain))
            .collect()
    }

    #[test]
    fn segments_stay_few_as_values_are_learned() {
        let mut patterns = Patterns::default();
        for i in 0..1000 {
            let value = format!("derived-value-{i:05}");
            patterns
                .learn("SIG", plain(&[&value]), |_| false)
                .expect("build");
            assert!(
                patterns.segments.len() <= 12,
                "{} automata after {i} values",
                patterns.segments.len()
            );
        }
        // Every one of them is still found, in each automaton's turn.
        for i in [0, 1, 499, 998, 999] {
            let text = format!("x derived-value-{i:05} y");
            let mut spans = Vec::new();
            patterns.find(text.as_bytes(), |s, e| (s, e), &mut spans);
            assert_eq!(spans.len(), 1, "{i}");
            assert_eq!((spans[0].start, spans[0].end), (2, 21));
        }
    }

    #[test]
    fn a_known_form_keeps_its_marker_unless_relabelled() {
        let mut patterns = Patterns::default();
        patterns
            .learn("$KEY", plain(&["shared-value"]), |_| false)
            .expect("build");
        patterns
            .learn("RUN", plain(&["shared-value"]), |old| {
                old.starts_with("[redacted:$")
            })
            .expect("build");
        let mut spans = Vec::new();
        patterns.find(b"shared-value", |s, e| (s, e), &mut spans);
        assert_eq!(patterns.marker(spans[0].marker), "[redacted:RUN]");
        assert_eq!(patterns.len(), 1);
    }
}
