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
pub(super) fn is_digit(b: u8) -> bool {
    DIGITS[b as usize] != NONE
}

/// A wrapped line shorter than this is not taken for base64 wrapping.
const MIN_WRAPPED_LINE: usize = 16;

/// Every run of at least `min` base64 digits in `text`, as `(start, end)`.
/// It looks at one byte in `min` until one is a digit, then back to the run's
/// start: clean text costs a fraction of a pass.
pub(super) fn runs(text: &[u8], min: usize) -> Vec<(usize, usize)> {
    let min = min.max(1);
    let mut out = Vec::new();
    // `at` is where a run of `min` digits could start.
    let mut at = 0;
    while at + min <= text.len() {
        let probe = at + min - 1;
        if !is_digit(text[probe]) {
            at = probe + 1;
            continue;
        }
        // Back from the probe to the first byte that is no digit.
        match text[at..probe].iter().rposition(|&b| !is_digit(b)) {
            Some(gap) => at += gap + 1,
            None => {
                let mut start = at;
                while start > 0 && is_digit(text[start - 1]) {
                    start -= 1;
                }
                let mut end = probe + 1;
                while end < text.len() && is_digit(text[end]) {
                    end += 1;
                }
                out.push((start, end));
                at = end + 1;
            }
        }
    }
    out
}

/// `text[start..end]` and the base64 lines that follow it when it ends a
/// wrapped line (`\n` or `\r\n` after at least 16 digits), joined into one
/// reading, and where the block ends.
pub(super) fn joined(text: &[u8], start: usize, end: usize) -> (View, usize) {
    let mut view = View::identity(&text[start..end], start);
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
        let line = View::identity(&text[after..next], after);
        view.append(line);
        (line_start, end) = (after, next);
    }
    (view, end)
}

/// A run's digits decoded from its `skip`-th digit on (0 to 3): one of the
/// four is the alignment of the encoder that wrote it. Padding is not part
/// of a run; a last group of 2 or 3 digits gives 1 or 2 bytes.
pub(super) fn decode(run: &View, skip: usize) -> View {
    let digits = run.bytes.get(skip..).unwrap_or_default();
    let mut view = View::default();
    for (group, chunk) in digits.chunks(4).enumerate() {
        let at = skip + group * 4;
        let v: Vec<u32> = chunk
            .iter()
            .map(|&b| u32::from(DIGITS[b as usize]))
            .collect();
        let bits = v.iter().fold(0u32, |acc, d| acc << 6 | d) << (6 * (4 - v.len()));
        // Byte k of a group is spelled by digits k and k + 1.
        for k in 0..v.len().saturating_sub(1) {
            let byte = (bits >> (16 - 8 * k)) as u8;
            view.push_mapped(byte, run.source(at + k, at + k + 2));
        }
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
            let run = View::identity(encoded.as_bytes(), 0);
            let found = (0..4).any(|skip| {
                let view = decode(&run, skip);
                view.bytes.windows(12).any(|w| w == b"hello, world")
            });
            assert!(found, "{prefix:?}");
        }
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
        let (view, end) = joined(text.as_bytes(), first.0, first.1);
        assert_eq!(view.bytes, encoded.as_bytes());
        assert_eq!(&text[end..], " tail");
        let decoded = decode(&view, 0);
        assert_eq!(decoded.bytes, [7u8; 60]);
        // Byte 22 is spelled by digits 29 and 30: across the `\r\n`.
        assert_eq!(decoded.source(22, 23), (5 + 29, 5 + 30 + 2 + 1));
    }
}
