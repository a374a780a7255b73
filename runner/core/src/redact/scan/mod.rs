//! One pass over a text that says whether it holds an escape (`\`, `&`,
//! `%`) and where runs of base64 digits long enough to read may be.
//!
//! Almost every text holds no secret, so this pass is most of what reading
//! escapes and base64 costs. It takes the widest vectors the CPU has
//! ([`Way`]). With AVX-512 ([`avx512`]) one table lookup gives every class
//! of 64 bytes, and a group of four blocks with no two 8-byte lanes of
//! digits in a row (so no run long enough to read) is passed over without
//! looking for runs bit by bit. With AVX2 ([`avx2`]) two 16-entry tables
//! indexed by each byte's nibbles (the usual `vpshufb` classifier) class 64
//! bytes a step, and runs of ones in the digit masks are found with shifts.
//! Either way, where a long run may be, the classes say what the run holds
//! that matters ([`Facts`]), so a long run that needs no reading is passed
//! over without another look. The few places that may hold a long run are
//! then cut into runs byte by byte. Elsewhere, `memchr3` and
//! [`base64run::regions`] do the same work.

use super::base64run;

/// What the pass found.
pub(super) struct Pass {
    /// The text holds a `\`, `&` or `%`.
    pub(super) escapes: bool,
    /// Where the runs of at least `min` digits are (see
    /// [`base64run::regions`]), in order; a run that holds nothing to read
    /// ([`Facts::say_nothing`]) is left out.
    pub(super) regions: Vec<Region>,
}

/// A place that may hold long runs of digits (see [`base64run::regions`]).
pub(super) struct Region {
    pub(super) start: usize,
    pub(super) end: usize,
    /// What its runs and the byte after each may hold (or more: a fact may
    /// come from a byte near the region).
    pub(super) facts: Facts,
}

/// What the runs of a region hold besides digits, and the byte after each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Facts {
    /// A line break (`\n` or `\r`): a run may be wrapped.
    pub(super) line_break: bool,
    /// A digit that a pair spelling an escape needs (see
    /// [`base64run::may_hold_escape_quickly`]).
    pub(super) pair_digit: bool,
}

impl Facts {
    /// No line break and no digit a pair spelling an escape needs: a run
    /// with these facts is neither wrapped nor an escaped value encoded.
    pub(super) fn say_nothing(self) -> bool {
        !self.line_break && !self.pair_digit
    }

    /// The facts of `bytes`, looked at byte by byte (`memchr`).
    fn of(bytes: &[u8]) -> Facts {
        Facts {
            line_break: memchr::memchr2(b'\n', b'\r', bytes).is_some(),
            pair_digit: base64run::may_hold_escape_quickly(bytes),
        }
    }
}

/// Bytes that may hold long runs (`start..end`), and what those runs hold.
type Range = ((usize, usize), Facts);

/// Widen the last range to block `i` of 64 bytes (and 96 bytes each way,
/// in a text of `len`), or begin a range: then `true`, the range before
/// (if any) given its facts by `close`.
#[inline]
fn take_block(out: &mut Vec<Range>, i: usize, len: usize, close: impl FnOnce() -> Facts) -> bool {
    let from = (2 * i).saturating_sub(3) * 32;
    let to = range_end(i, len);
    match out.last_mut() {
        Some(((_, end), _)) if *end >= from => {
            *end = to;
            false
        }
        previous => {
            if let Some((_, done)) = previous {
                *done = close();
            }
            begin(out, from, to);
            true
        }
    }
}

/// Where a range that takes block `i` ends (96 bytes past it).
#[inline]
fn range_end(i: usize, len: usize) -> usize {
    ((2 * i + 4) * 32).min(len)
}

/// Widen the last range to block `i`, which follows blocks it holds.
#[inline]
fn widen_to(out: &mut [Range], i: usize, len: usize) {
    if let Some(((_, end), _)) = out.last_mut() {
        *end = range_end(i, len);
    }
}

/// A new range, its facts to come. (Out of line: it is rare, and the
/// vector loops keep their state in registers around it.)
#[cold]
#[inline(never)]
fn begin(out: &mut Vec<Range>, from: usize, to: usize) {
    out.push(((from, to), Facts::default()));
}

/// How the pass reads a text: with the widest vectors the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// A byte at a time where it must be ([`scalar`]).
    Bytes,
    /// 32 bytes at a load ([`avx2`]).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 64 bytes at a load ([`avx512`]).
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Way {
    /// Every way this CPU can take, the quickest last.
    fn available() -> Vec<Way> {
        #[allow(unused_mut)] // Only x86-64 has more than one.
        let mut ways = vec![Way::Bytes];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                ways.push(Way::Avx2);
            }
            if std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vbmi")
                && std::is_x86_feature_detected!("bmi2")
            {
                ways.push(Way::Avx512);
            }
        }
        ways
    }

    /// The quickest way this CPU can take, found once.
    fn best() -> Way {
        static BEST: std::sync::OnceLock<Way> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Way::available().last().copied().unwrap_or(Way::Bytes))
    }
}

/// A region this long in a range whose facts say something has its facts
/// looked for in it alone.
const LOOKED_AT_ALONE: usize = 1024;

/// The pass over `text`, for runs of at least `min` digits.
pub(super) fn pass(text: &[u8], min: usize) -> Pass {
    pass_by(Way::best(), text, min)
}

/// The pass taken one way.
fn pass_by(way: Way, text: &[u8], min: usize) -> Pass {
    let (escapes, ranges) = match way {
        Way::Bytes => return scalar(text, min),
        // SAFETY: the CPU has AVX2 ([`Way::available`]).
        #[cfg(target_arch = "x86_64")]
        Way::Avx2 => unsafe { avx2::classify(text, min) },
        // SAFETY: the CPU has AVX-512 F, BW and VBMI, and BMI2
        // ([`Way::available`]).
        #[cfg(target_arch = "x86_64")]
        Way::Avx512 => unsafe { avx512::classify(text, min) },
    };
    let mut regions = Vec::new();
    // Cutting a range into runs costs a look at a byte in `min`: a range
    // whose runs hold nothing to read (most base64 bodies) is not cut.
    for ((from, to), facts) in ranges.into_iter().filter(|(_, f)| !f.say_nothing()) {
        for (s, e) in base64run::regions(&text[from..to], min) {
            let (start, end) = (from + s, from + e);
            // A range's facts are any of its runs': a long run near a
            // wrapped one (a body after a token header) gets its own, for
            // a few `memchr` passes rather than a reading of every byte.
            let facts = match end - start >= LOOKED_AT_ALONE {
                true => Facts::of(&text[start..(end + 1).min(text.len())]),
                false => facts,
            };
            if !facts.say_nothing() {
                regions.push(Region { start, end, facts });
            }
        }
    }
    Pass { escapes, regions }
}

/// The same pass, a byte at a time where it must be.
fn scalar(text: &[u8], min: usize) -> Pass {
    Pass {
        escapes: memchr::memchr3(b'\\', b'&', b'%', text).is_some(),
        regions: base64run::regions(text, min)
            .into_iter()
            .map(|(start, end)| Region {
                start,
                end,
                // The byte after it too: a line break there wraps a run.
                facts: Facts::of(&text[start..(end + 1).min(text.len())]),
            })
            .filter(|region| !region.facts.say_nothing())
            .collect(),
    }
}

/// The bits of `window` (64 bytes' digit bits) that start `k` ones in a
/// row (`1 <= k <= 33`). With `x_j` the bits that start `j` ones in a row,
/// `x_2j = x_j & (x_j >> j)`; and with `p` the largest power of two up to
/// `k`, two runs of `p` that start `k - p` apart cover `k`.
#[inline]
fn run_starts(window: u64, k: u32) -> u64 {
    let p = 1u32 << (31 - k.leading_zeros());
    let mut x = window;
    let mut j = 1;
    while j < p {
        x &= x >> j;
        j *= 2;
    }
    x & (x >> (k - p))
}

/// Where the first run of `k` digits or more in a block begins: 0 when
/// the `carried` digits ending the block before carry one on, else the
/// lowest of `starts` (see [`run_starts`]); `None` when the block has none.
/// The bytes before it are in no long run, so their classes (a line break
/// just before a base64 body) are no fact of one.
#[inline]
fn first_run(carried: u32, digits: u64, starts: u64, k: u32) -> Option<u32> {
    if carried + digits.trailing_ones() >= k {
        Some(0)
    } else if starts != 0 {
        Some(starts.trailing_zeros())
    } else {
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn run_starts_finds_ones_in_a_row() {
        assert_eq!(run_starts(0b111, 3), 1);
        assert_eq!(run_starts(0b1011, 3), 0);
        assert_ne!(run_starts(u64::MAX, 33), 0);
        assert_eq!(
            run_starts(((1u64 << 40) - 1) << 10, 33).trailing_zeros(),
            10
        );
        assert_eq!(run_starts(((1u64 << 32) - 1) << 10, 33), 0);
        assert_eq!(
            first_run(0, 0b1110_0000, run_starts(0b1110_0000, 3), 3),
            Some(5)
        );
        assert_eq!(first_run(2, 0b1, run_starts(0b1, 3), 3), Some(0));
        assert_eq!(first_run(1, 0b1, run_starts(0b1, 3), 3), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Every vector pass agrees with the scalar one: the same escapes,
        /// and every run of `min` digits inside one of its regions.
        #[test]
        fn the_vector_passes_agree_with_the_scalar_one(
            text in prop::collection::vec(
                prop_oneof![
                    6 => prop::sample::select(b"aZ09+/_-".to_vec()),
                    2 => prop::sample::select(b" \",:.{}\n=@[`".to_vec()),
                    1 => prop::sample::select(b"\\&%".to_vec()),
                    1 => any::<u8>(),
                ],
                0..400,
            ),
            min in 4usize..61,
        ) {
            let plain = scalar(&text, min);
            for way in Way::available() {
                let vector = pass_by(way, &text, min);
                prop_assert_eq!(vector.escapes, plain.escapes, "{:?}", way);
                for (start, end) in base64run::runs(&text, min) {
                    // What the run and the byte after it hold is in the facts.
                    let exact = Facts::of(&text[start..(end + 1).min(text.len())]);
                    if exact.say_nothing() {
                        continue;
                    }
                    let region = vector.regions.iter().find(|r| r.start <= start && end <= r.end);
                    prop_assert!(region.is_some(), "{way:?}: run {start}..{end} outside every region");
                    prop_assert!(region.is_some_and(|r| covers(r.facts, exact)), "{way:?}: run {start}..{end}");
                }
            }
        }
    }

    /// A long run is found wherever it lies against the blocks and groups
    /// of blocks the vector passes look at, among short runs.
    #[test]
    fn a_planted_run_is_found_at_every_offset() {
        for min in [23, 27, 33] {
            // Long runs too: a run over many blocks is passed over a block
            // at a time, and must still end in one region with its facts.
            for len in [min - 1, min, min + 1, 40, 64, 65, 130, 400, 1000] {
                for at in (0..600).step_by(if len > 130 { 7 } else { 1 }) {
                    // Short runs of digits between spaces, as in prose.
                    let mut text: Vec<u8> = (0..600 + len)
                        .map(|i| if i % 7 == 6 { b' ' } else { b'q' })
                        .collect();
                    // `X` is a digit a pair spelling an escape needs: a run to read.
                    text[at..at + len].fill(b'X');
                    let plain = base64run::runs(&text, min);
                    assert!(len < min || !plain.is_empty());
                    for way in Way::available() {
                        let found = pass_by(way, &text, min);
                        for &(start, end) in &plain {
                            assert!(
                                found
                                    .regions
                                    .iter()
                                    .any(|r| r.start <= start && end <= r.end),
                                "{way:?}: run {start}..{end} (min {min}) outside every region"
                            );
                        }
                    }
                }
            }
        }
    }

    /// A line break just before a long run (a `-v` dump's body after its
    /// headers) is no fact of the run, wherever it falls in a block: such a
    /// run holds nothing to read. (It was one: the whole block's classes
    /// were the facts, and a `-v` run printing 100 MiB read every body.)
    #[test]
    fn a_line_break_before_a_run_is_no_fact_of_it() {
        for way in Way::available() {
            for before in 0..140 {
                let mut text = vec![b'<'; before];
                text.push(b'\n');
                text.extend(std::iter::repeat_n(b'a', 300));
                let found = pass_by(way, &text, 27);
                assert!(found.regions.is_empty(), "{way:?}, {before} bytes before");
                // The same run wrapped after the line break is read.
                text.extend(b"\naaaa");
                assert!(
                    !pass_by(way, &text, 27).regions.is_empty(),
                    "{way:?}, {before} bytes before"
                );
            }
        }
    }

    /// A long run in a range whose facts come from another run (a wrapped
    /// token just before a body) is looked at alone: left out when it holds
    /// nothing to read, kept when it does.
    #[test]
    fn a_long_run_beside_a_wrapped_one_gets_its_own_facts() {
        for way in Way::available() {
            for body_byte in [b'a', b'X'] {
                let mut text = vec![b'q'; 40];
                text.extend(b"\nqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq. ");
                let body_start = text.len();
                text.extend(std::iter::repeat_n(body_byte, 2 * LOOKED_AT_ALONE));
                let found = pass_by(way, &text, 27);
                // The wrapped run is there to read.
                assert!(
                    found
                        .regions
                        .iter()
                        .any(|r| r.start == 0 && r.facts.line_break),
                    "{way:?}"
                );
                let body = found
                    .regions
                    .iter()
                    .find(|r| r.end > body_start + LOOKED_AT_ALONE);
                match body_byte {
                    // `X` is a digit a pair spelling an escape needs.
                    b'X' => assert!(body.is_some_and(|r| r.facts.pair_digit), "{way:?}"),
                    _ => assert!(body.is_none(), "{way:?}: a body that holds nothing is read"),
                }
            }
        }
    }

    /// Whether `wide` says all that `exact` says.
    fn covers(wide: Facts, exact: Facts) -> bool {
        (wide.line_break || !exact.line_break) && (wide.pair_digit || !exact.pair_digit)
    }

    /// Every byte is classed for the facts as the scalar passes class it,
    /// inside a run and just after it, at every place of a block and its tail.
    #[test]
    fn every_byte_is_classed_right_for_the_facts() {
        for (way, byte) in Way::available()
            .into_iter()
            .flat_map(|w| (0..=255u8).map(move |b| (w, b)))
        {
            for len in [40, 63, 64, 65, 100, 130] {
                for at in [0, 1, 31, 32, 33, len / 2, len - 2] {
                    let mut text = vec![b'a'; len + 2];
                    text[len] = b' ';
                    text[at] = byte;
                    if at == len - 2 {
                        text[len] = byte;
                    }
                    let found = pass_by(way, &text, 8);
                    for run in base64run::runs(&text, 8) {
                        let exact = Facts::of(&text[run.0..(run.1 + 1).min(text.len())]);
                        if exact.say_nothing() {
                            continue;
                        }
                        let region = found
                            .regions
                            .iter()
                            .find(|r| r.start <= run.0 && run.1 <= r.end);
                        let region =
                            region.unwrap_or_else(|| panic!("{way:?} {byte:#x} {len} {at}"));
                        assert!(covers(region.facts, exact), "{way:?} {byte:#x} {len} {at}");
                    }
                }
            }
        }
    }

    /// Every byte is classed as the scalar table classes it.
    #[test]
    fn every_byte_is_classed_right() {
        for (way, byte) in Way::available()
            .into_iter()
            .flat_map(|w| (0..=255u8).map(move |b| (w, b)))
        {
            let text = vec![byte; 70];
            let found = pass_by(way, &text, 40);
            assert_eq!(found.escapes, b"\\&%".contains(&byte), "{way:?} {byte:#x}");
            // A run of one digit is worth reading only if that digit may
            // spell part of an escape.
            assert_eq!(
                !found.regions.is_empty(),
                base64run::is_digit(byte) && base64run::may_hold_escape_quickly(&text),
                "{way:?} {byte:#x}"
            );
        }
    }
}
