//! Base64 in a text: runs of its alphabet, joined across the line breaks of
//! PEM and MIME wrapping, and decoded at each of the four alignments.
//!
//! A value as it is inside base64 is found without decoding: the matcher
//! knows the characters its bytes give at each byte offset. What needs a
//! decoded reading is base64 of an *escaped* value (a JWT payload written by
//! an encoder that escapes `/` or non-ASCII, a `data:` URL, a base64 JSON
//! body), and base64 wrapped across lines.

use super::views::View;

/// A base64 digit's value (both alphabets: `+` and `-` are 62, `/` and `_`
/// are 63), or `NONE`.
const NONE: u8 = 0xFF;
const DIGITS: [u8; 256] = {
    let mut table = [NONE; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u8;
        table[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = 52 + i as u8;
        i += 1;
    }
    table[b'+' as usize] = 62;
    table[b'-' as usize] = 62;
    table[b'/' as usize] = 63;
    table[b'_' as usize] = 63;
    table
};

/// Whether `b` is a base64 or base64url digit.
pub(super) const fn is_digit(b: u8) -> bool {
    DIGITS[b as usize] != NONE
}

/// A wrapped line shorter than this is not taken for base64 wrapping.
const MIN_WRAPPED_LINE: usize = 16;

/// Every run of at least `min` base64 digits in `text`, as `(start, end)`.
/// It looks at one byte in `min` until one is a digit, then back to the run's
/// start: clean text costs a fraction of a pass.
pub(super) fn runs(text: &[u8], min: usize) -> Vec<(usize, usize)> {
    find_runs(text, min, false)
}

/// Like [`runs`], but past `min` digits in a row a run is followed by
/// leaps of `min` bytes while the byte a leap lands on is a digit: a long run
/// costs a byte in `min`, not each byte. So a region may hold a few bytes
/// that are no digits where it leapt over them; its two ends are exact.
pub(super) fn regions(text: &[u8], min: usize) -> Vec<(usize, usize)> {
    find_runs(text, min, true)
}

fn find_runs(text: &[u8], min: usize, leap: bool) -> Vec<(usize, usize)> {
    let min = min.max(1);
    let digit = |i: usize| DIGITS[text[i] as usize] != NONE;
    let mut out = Vec::new();
    // `at` is where a run of `min` digits could start.
    let mut at = 0;
    while at + min <= text.len() {
        let probe = at + min - 1;
        if !digit(probe) {
            at = probe + 1;
            continue;
        }
        // Back from the probe to the first byte that is no digit.
        let mut start = probe;
        while start > at && digit(start - 1) {
            start -= 1;
        }
        if start > at {
            at = start;
            continue;
        }
        while start > 0 && digit(start - 1) {
            start -= 1;
        }
        let mut end = probe + 1;
        loop {
            let stop = if leap {
                (end + min).min(text.len())
            } else {
                text.len()
            };
            while end < stop && digit(end) {
                end += 1;
            }
            if end < stop || end == text.len() {
                break;
            }
            while end + min <= text.len() && digit(end + min - 1) {
                end += min;
            }
        }
        out.push((start, end));
        at = end + 1;
    }
    out
}

/// Whether base64 wrapping goes on at `end`: a line break, then a digit.
pub(super) fn wraps_at(text: &[u8], end: usize) -> bool {
    let next = match text.get(end..) {
        Some([b'\r', b'\n', next, ..]) | Some([b'\n', next, ..]) => *next,
        _ => return false,
    };
    is_digit(next)
}

/// A run of base64 digits: a slice of the text, or lines of wrapped base64
/// joined into one.
pub(super) struct Run<'t> {
    /// The digits.
    pub(super) digits: std::borrow::Cow<'t, [u8]>,
    /// Where digit `i` is in the text: `start + i`, or `joined.source(i)`.
    start: usize,
    joined: Option<View>,
}

impl Run<'_> {
    /// Whether it was joined across line breaks.
    pub(super) fn wrapped(&self) -> bool {
        self.joined.is_some()
    }

    /// The text span that spells digits `start..end`.
    pub(super) fn source(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.joined {
            Some(view) => view.source(start, end),
            None => (self.start + start, self.start + end),
        }
    }
}

/// The run at `text[start..end]`, joined with the base64 lines that follow
/// it when it ends a wrapped line (`\n` or `\r\n` after at least 16
/// digits), and where it ends in the text.
pub(super) fn joined(text: &[u8], start: usize, end: usize) -> (Run<'_>, usize) {
    let mut joined: Option<View> = None;
    let (mut line_start, mut end) = (start, end);
    loop {
        let after = if text[end..].starts_with(b"\r\n") {
            end + 2
        } else if text[end..].starts_with(b"\n") {
            end + 1
        } else {
            break;
        };
        if end - line_start < MIN_WRAPPED_LINE {
            break;
        }
        let next = text[after..]
            .iter()
            .position(|&b| !is_digit(b))
            .map_or(text.len(), |n| after + n);
        if next == after {
            break;
        }
        joined
            .get_or_insert_with(|| View::identity(&text[start..end], start))
            .append(View::identity(&text[after..next], after));
        (line_start, end) = (after, next);
    }
    let run = match joined {
        Some(view) => Run {
            digits: std::borrow::Cow::Owned(view.bytes.clone()),
            start,
            joined: Some(view),
        },
        None => Run {
            digits: std::borrow::Cow::Borrowed(&text[start..end]),
            start,
            joined: None,
        },
    };
    (run, end)
}

/// For two digits in a row, which of the three places in a group (bit 0, 1
/// and 2: the pair spells the group's first, second or third byte) make them
/// spell `\`, `&` or `%`, the bytes every escape starts with.
const ESCAPE_PAIRS: [[u8; 64]; 64] = {
    let mut table = [[0u8; 64]; 64];
    let mut a = 0;
    while a < 64 {
        let mut b = 0;
        while b < 64 {
            let spelled = [
                ((a << 2) | (b >> 4)) as u8,
                (((a & 15) << 4) | (b >> 2)) as u8,
                (((a & 3) << 6) | b) as u8,
            ];
            let mut place = 0;
            while place < 3 {
                let byte = spelled[place];
                if byte == b'\\' || byte == b'&' || byte == b'%' {
                    table[a][b] |= 1 << place;
                }
                place += 1;
            }
            b += 1;
        }
        a += 1;
    }
    table
};

/// [`ESCAPE_PAIRS`] by the two digits' bytes: bit `b` of row `a` is set when
/// digits `a`, `b` spell an escape's first byte in some place (8 KiB, so
/// the look stays in the L1 cache).
const ESCAPE_PAIR_BITS: [[u64; 4]; 256] = {
    let mut table = [[0u64; 4]; 256];
    let mut a = 0;
    while a < 256 {
        let mut b = 0;
        while b < 256 {
            let (da, db) = (DIGITS[a], DIGITS[b]);
            if da != NONE && db != NONE && ESCAPE_PAIRS[da as usize][db as usize] != 0 {
                table[a][b / 64] |= 1 << (b % 64);
            }
            b += 1;
        }
        a += 1;
    }
    table
};

/// Whether the digits, decoded at any alignment, hold a byte that starts an
/// escape: without one, no escaped value is in them. One look per digit,
/// no decoding (a long run of binary data costs a pass, not four decodes).
pub(super) fn may_hold_escape(digits: &[u8]) -> bool {
    may_hold_escape_quickly(digits)
        && digits.windows(2).any(|pair| {
            let (a, b) = (pair[0] as usize, pair[1] as usize);
            ESCAPE_PAIR_BITS[a][b / 64] >> (b % 64) & 1 != 0
        })
}

/// The digits a pair that spells `\`, `&` or `%` needs: its first digit
/// when the byte is spelled in the first or second place of a group (`X`,
/// `J`; `F`, `V`, `l`, `1`; `C`, `S`, `i`, `y`), or its second digit in the
/// third place (`c`, `m`, `l`). Checked by the test below against
/// [`ESCAPE_PAIRS`].
pub(super) const PAIR_DIGITS: [[u8; 3]; 4] = [*b"XJF", *b"Vl1", *b"CSi", *b"ycm"];

/// Whether `bytes` hold a digit that a pair spelling an escape's first byte
/// needs: four `memchr3` passes, so a long run of other digits (binary
/// data, a repeated filler) is passed over many bytes at a time.
pub(super) fn may_hold_escape_quickly(bytes: &[u8]) -> bool {
    PAIR_DIGITS
        .iter()
        .any(|[a, b, c]| memchr::memchr3(*a, *b, *c, bytes).is_some())
}

/// The run's digits decoded from its `skip`-th digit on (0 to 3): one of the
/// four is the alignment of the encoder that wrote it. Padding is not part
/// of a run; a last group of 2 or 3 digits gives 1 or 2 bytes.
pub(super) fn decode_plain(digits: &[u8], skip: usize, out: &mut Vec<u8>) {
    out.clear();
    for chunk in digits.get(skip..).unwrap_or_default().chunks(4) {
        let mut bits = 0u32;
        for &d in chunk {
            bits = bits << 6 | u32::from(DIGITS[d as usize] & 63);
        }
        bits <<= 6 * (4 - chunk.len());
        for k in 0..chunk.len().saturating_sub(1) {
            out.push((bits >> (16 - 8 * k)) as u8);
        }
    }
}

/// [`decode_plain`], each byte mapped to the text that spells it (byte k of
/// a group is spelled by its digits k and k + 1).
pub(super) fn decode(run: &Run<'_>, skip: usize) -> View {
    let mut bytes = Vec::new();
    decode_plain(&run.digits, skip, &mut bytes);
    let mut view = View::default();
    for (i, byte) in bytes.into_iter().enumerate() {
        let first = skip + (i / 3) * 4 + i % 3;
        view.push_mapped(byte, run.source(first, first + 2));
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    #[test]
    fn runs_are_found_whole_and_short_ones_skipped() {
        let text = b"id=abc, token: QUJDREVGR0hJSktMTU5PUA== x-y_z/+AAAAAAAA; end";
        let runs = runs(text, 12);
        let found: Vec<&str> = runs
            .iter()
            .map(|&(s, e)| std::str::from_utf8(&text[s..e]).expect("ascii"))
            .collect();
        assert_eq!(found, ["QUJDREVGR0hJSktMTU5PUA", "x-y_z/+AAAAAAAA"]);
        assert!(super::runs(b"short words only", 6).is_empty());
    }

    #[test]
    fn each_alignment_decodes_the_run_from_its_own_start() {
        for prefix in ["", "x", "xy", "xyz"] {
            let encoded = format!("{prefix}{}", STANDARD.encode(b"hello, world"));
            let (run, _) = joined(encoded.as_bytes(), 0, encoded.len());
            let found = (0..4).any(|skip| {
                let view = decode(&run, skip);
                view.bytes.windows(12).any(|w| w == b"hello, world")
            });
            assert!(found, "{prefix:?}");
        }
    }

    #[test]
    fn only_digits_that_can_spell_an_escape_are_decoded() {
        for text in [&b"a\\b"[..], b"x&y", b"50%"] {
            for lead in 0..3 {
                let mut payload = vec![b'.'; lead];
                payload.extend_from_slice(text);
                assert!(
                    may_hold_escape(STANDARD.encode(&payload).as_bytes()),
                    "{payload:?}"
                );
            }
        }
        assert!(!may_hold_escape(&[b'a'; 4096]));
    }

    /// The quick look's digits are every digit a pair spelling an escape's
    /// first byte needs, in the place that needs it.
    #[test]
    fn the_quick_look_knows_every_pair() {
        let quick: Vec<u8> = PAIR_DIGITS.iter().flatten().copied().collect();
        let digit = |v: usize| {
            (0..=255u8)
                .find(|&b| DIGITS[b as usize] == v as u8)
                .expect("a digit")
        };
        for (a, row) in ESCAPE_PAIRS.iter().enumerate() {
            for (b, &places) in row.iter().enumerate() {
                if places & 0b011 != 0 {
                    assert!(quick.contains(&digit(a)), "first digit {a}");
                }
                if places & 0b100 != 0 {
                    assert!(quick.contains(&digit(b)), "second digit {b}");
                }
            }
        }
    }

    #[test]
    fn regions_leap_over_long_runs_and_end_exactly() {
        let mut text = vec![b'a'; 10_000];
        text.extend_from_slice(b" tail.xyzxyzxyzxyzxyzxyzxyz!");
        // The last leap lands past ` tail.` on the next word's digits: the
        // region holds those bytes, and ends exactly at the `!`.
        assert_eq!(regions(&text, 24), vec![(0, text.len() - 1)]);
        assert_eq!(runs(&text, 24), vec![(0, 10_000)]);
        assert!(wraps_at(b"abc\r\nd", 3) && wraps_at(b"abc\nd", 3));
        assert!(!wraps_at(b"abc\n>", 3) && !wraps_at(b"abc", 3));
    }

    #[test]
    fn wrapped_lines_join_and_map_back() {
        let encoded = URL_SAFE_NO_PAD.encode([7u8; 60]);
        let wrapped = format!(
            "{}\r\n{}\n{}",
            &encoded[..30],
            &encoded[30..64],
            &encoded[64..]
        );
        let text = format!("pem: {wrapped} tail");
        let first = runs(text.as_bytes(), 16)[0];
        let (run, end) = joined(text.as_bytes(), first.0, first.1);
        assert!(run.wrapped());
        assert_eq!(&*run.digits, encoded.as_bytes());
        assert_eq!(&text[end..], " tail");
        let decoded = decode(&run, 0);
        assert_eq!(decoded.bytes, [7u8; 60]);
        // Byte 22 is spelled by digits 29 and 30: across the `\r\n`.
        assert_eq!(decoded.source(22, 23), (5 + 29, 5 + 30 + 2 + 1));
    }
}
