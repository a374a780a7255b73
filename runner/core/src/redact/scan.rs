//! One pass over a text that says whether it holds an escape (`\`, `&`,
//! `%`) and where runs of base64 digits long enough to read may be.
//!
//! Almost every text holds no secret, so this pass is most of what reading
//! escapes and base64 costs. On x86-64 with AVX2 it classifies 32 bytes at a
//! time (two 16-entry tables indexed by each byte's nibbles, the usual
//! `vpshufb` classifier), and finds runs of ones in the digit masks with
//! shifts; the few places that may hold a long run are then read byte by
//! byte. Elsewhere, `memchr3` and [`base64run::regions`] do the same work.

use super::base64run;

/// What the pass found.
pub(super) struct Pass {
    /// The text holds a `\`, `&` or `%`.
    pub(super) escapes: bool,
    /// Where the runs of at least `min` digits are (see
    /// [`base64run::regions`]).
    pub(super) regions: Vec<(usize, usize)>,
}

/// The pass over `text`, for runs of at least `min` digits.
pub(super) fn pass(text: &[u8], min: usize) -> Pass {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        let (escapes, ranges) = unsafe { avx2::classify(text, min) };
        let mut regions = Vec::new();
        for (from, to) in ranges {
            regions.extend(
                base64run::regions(&text[from..to], min)
                    .into_iter()
                    .map(|(s, e)| (from + s, from + e)),
            );
        }
        return Pass { escapes, regions };
    }
    scalar(text, min)
}

/// The same pass, a byte at a time where it must be.
fn scalar(text: &[u8], min: usize) -> Pass {
    Pass {
        escapes: memchr::memchr3(b'\\', b'&', b'%', text).is_some(),
        regions: base64run::regions(text, min),
    }
}

/// Whether `window` (64 bytes' digit bits) holds `k` ones in a row
/// (`1 <= k <= 33`). With `x_j` the bits that start `j` ones in a row,
/// `x_2j = x_j & (x_j >> j)`; and with `p` the largest power of two up to
/// `k`, two runs of `p` that start `k - p` apart cover `k`.
#[inline]
fn has_run(window: u64, k: u32) -> bool {
    let p = 1u32 << (31 - k.leading_zeros());
    let mut x = window;
    let mut j = 1;
    while j < p {
        x &= x >> j;
        j *= 2;
    }
    x & (x >> (k - p)) != 0
}

/// Chunks of 32 bytes in a row that may hold a long run, widened by two
/// chunks on each side (so the runs' ends are inside) and merged.
fn ranges(candidates: &[usize], len: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &chunk in candidates {
        let from = chunk.saturating_sub(3) * 32;
        let to = ((chunk + 3) * 32).min(len);
        match out.last_mut() {
            Some(last) if last.1 >= from => last.1 = to,
            _ => out.push((from, to)),
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{has_run, ranges};

    // Class bits: the five groups of base64 digits, then the escapes.
    // `+ - /`: high nibble 2, low B D F.
    const SIGNS: u8 = 1;
    // `0-9`: 3, 0-9.
    const DECIMAL: u8 = 2;
    // `A-O a-o`: 4 or 6, 1-F.
    const LOW_LETTERS: u8 = 4;
    // `P-Z p-z`: 5 or 7, 0-A.
    const HIGH_LETTERS: u8 = 8;
    // `_`: 5, F.
    const UNDERSCORE: u8 = 16;
    // `\`: 5, C.
    const BACKSLASH: u8 = 32;
    // `% &`: 2, 5-6.
    const PERCENT_AMP: u8 = 64;
    const DIGIT: u8 = SIGNS | DECIMAL | LOW_LETTERS | HIGH_LETTERS | UNDERSCORE;
    const ESCAPE: u8 = BACKSLASH | PERCENT_AMP;

    /// The classes a byte's high nibble allows.
    const HIGH: [u8; 16] = {
        let mut t = [0u8; 16];
        t[2] = SIGNS | PERCENT_AMP;
        t[3] = DECIMAL;
        t[4] = LOW_LETTERS;
        t[5] = HIGH_LETTERS | UNDERSCORE | BACKSLASH;
        t[6] = LOW_LETTERS;
        t[7] = HIGH_LETTERS;
        t
    };

    /// The classes a byte's low nibble allows.
    const LOW: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut l = 0;
        while l < 16 {
            let mut bits = 0;
            if l == 0xB || l == 0xD || l == 0xF {
                bits |= SIGNS;
            }
            if l <= 9 {
                bits |= DECIMAL;
            }
            if l >= 1 {
                bits |= LOW_LETTERS;
            }
            if l <= 0xA {
                bits |= HIGH_LETTERS;
            }
            if l == 0xF {
                bits |= UNDERSCORE;
            }
            if l == 0xC {
                bits |= BACKSLASH;
            }
            if l == 5 || l == 6 {
                bits |= PERCENT_AMP;
            }
            t[l] = bits;
            l += 1;
        }
        t
    };

    /// The classes of 32 bytes, and their digit bits as a mask.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn classes(chunk: &[u8; 32], high: __m256i, low: __m256i) -> (__m256i, u32) {
        // SAFETY: `chunk` is 32 readable bytes; the load is unaligned.
        let bytes = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(bytes), _mm256_set1_epi8(0x0F));
        // A byte with its top bit set makes `vpshufb` give 0: a byte of
        // 0x80 or more is in no class, as it should be.
        let class = _mm256_and_si256(
            _mm256_shuffle_epi8(high, hi),
            _mm256_shuffle_epi8(low, bytes),
        );
        // Digit bits are at most 0x1F: adding 0x7F sets the top bit of a
        // byte that has any, which `vpmovmskb` reads.
        let digit = _mm256_and_si256(class, _mm256_set1_epi8(DIGIT as i8));
        let mask = _mm256_movemask_epi8(_mm256_add_epi8(digit, _mm256_set1_epi8(0x7F)));
        (class, mask as u32)
    }

    /// Whether any class in `acc` has an escape bit.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn any_escape(acc: __m256i) -> bool {
        let escape = _mm256_and_si256(acc, _mm256_set1_epi8(ESCAPE as i8));
        _mm256_testz_si256(escape, escape) == 0
    }

    /// A 16-entry table, twice (`vpshufb` looks up within each 128-bit half).
    #[target_feature(enable = "avx2")]
    fn table(t: &[u8; 16]) -> __m256i {
        let mut both = [0u8; 32];
        both[..16].copy_from_slice(t);
        both[16..].copy_from_slice(t);
        // SAFETY: 32 readable bytes; the load is unaligned.
        unsafe { _mm256_loadu_si256(both.as_ptr().cast()) }
    }

    /// Whether `text` holds an escape, and the ranges that may hold a run
    /// of `min` digits or more.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn classify(text: &[u8], min: usize) -> (bool, Vec<(usize, usize)>) {
        let (high, low) = (table(&HIGH), table(&LOW));
        // A run of `min` ones need not fit one window of 64 bits; one of 33
        // always does, and it is enough to say where to look.
        let k = min.clamp(1, 33) as u32;
        let mut seen = _mm256_setzero_si256();
        let mut candidates = Vec::new();
        let mut previous = 0u32;
        let chunks = text.chunks_exact(32);
        let tail = chunks.remainder();
        for (i, chunk) in chunks.enumerate() {
            let chunk: &[u8; 32] = chunk.try_into().unwrap_or(&[0; 32]);
            let (class, digits) = classes(chunk, high, low);
            seen = _mm256_or_si256(seen, class);
            if has_run(u64::from(previous) | u64::from(digits) << 32, k) {
                candidates.push(i);
            }
            previous = digits;
        }
        if !tail.is_empty() {
            // Bytes past the text are zeros: in no class.
            let mut last = [0u8; 32];
            last[..tail.len()].copy_from_slice(tail);
            let (class, digits) = classes(&last, high, low);
            seen = _mm256_or_si256(seen, class);
            if has_run(u64::from(previous) | u64::from(digits) << 32, k) {
                candidates.push(text.len() / 32);
            }
        }
        let escapes = any_escape(seen);
        (escapes, ranges(&candidates, text.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn has_run_counts_ones_in_a_row() {
        assert!(has_run(0b111, 3));
        assert!(!has_run(0b1011, 3));
        assert!(has_run(u64::MAX, 33));
        assert!(has_run(((1u64 << 40) - 1) << 10, 33));
        assert!(!has_run(((1u64 << 32) - 1) << 10, 33));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// The vector pass agrees with the scalar one: the same escapes,
        /// and every run of `min` digits inside one of its regions.
        #[test]
        fn the_vector_pass_agrees_with_the_scalar_one(
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
            let vector = pass(&text, min);
            let plain = scalar(&text, min);
            prop_assert_eq!(vector.escapes, plain.escapes);
            for (start, end) in base64run::runs(&text, min) {
                prop_assert!(
                    vector.regions.iter().any(|&(s, e)| s <= start && end <= e),
                    "run {start}..{end} outside {:?}", vector.regions
                );
            }
        }
    }

    /// Every byte is classed as the scalar table classes it.
    #[test]
    fn every_byte_is_classed_right() {
        for byte in 0..=255u8 {
            let text = vec![byte; 70];
            let found = pass(&text, 40);
            assert_eq!(found.escapes, b"\\&%".contains(&byte), "{byte:#x}");
            assert_eq!(
                !found.regions.is_empty(),
                base64run::is_digit(byte),
                "{byte:#x}"
            );
        }
    }
}
