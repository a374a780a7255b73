//! A quick "certainly no secret here" test in front of the matcher.
//!
//! Almost every byte the redactor sees holds no secret, so what a run pays
//! for redaction is mostly the scan that says so. When every pattern is at
//! least `m` bytes long, any occurrence of one covers a 4-byte gram that
//! starts at a multiple of `m - 3` in the text and lies within the pattern's
//! first `m` bytes. So it is enough to look up one gram every `m - 3` bytes
//! in a table of the patterns' leading grams; only a hit is checked, by the
//! real matcher on the few bytes around it. The table is a bit set over a
//! hash of the gram: a collision costs a check, never a miss.

/// Bytes per gram.
const GRAM: usize = 4;
/// Bits in the table: 8 KiB, so lookups stay in the L1 cache.
const TABLE_BITS: usize = 1 << 16;
/// With samples closer than this, aho-corasick's own SIMD scan is as quick.
const MIN_STRIDE: usize = 8;
/// With more grams than this, collisions would make most samples a check.
const MAX_GRAMS: usize = 4096;

/// The leading grams of every pattern, and how far apart to sample.
pub(super) struct Sampler {
    table: Box<[u64; TABLE_BITS / 64]>,
    /// Bytes between samples: the shortest pattern's length less `GRAM - 1`.
    stride: usize,
    /// The longest pattern: how far past a hit an occurrence can reach.
    longest: usize,
}

impl Sampler {
    /// A sampler for these patterns, or `None` where it would not beat the
    /// matcher's scan (short patterns, or very many).
    pub(super) fn new<P: AsRef<[u8]>>(patterns: &[P]) -> Option<Sampler> {
        let shortest = patterns.iter().map(|p| p.as_ref().len()).min()?;
        let longest = patterns.iter().map(|p| p.as_ref().len()).max()?;
        let stride = (shortest + 1).checked_sub(GRAM)?;
        if stride < MIN_STRIDE || patterns.len().saturating_mul(stride) > MAX_GRAMS {
            return None;
        }
        let mut table = Box::new([0u64; TABLE_BITS / 64]);
        for pattern in patterns {
            // Every gram wholly inside the pattern's first `shortest` bytes:
            // the only ones a sample can land on.
            for window in pattern.as_ref()[..shortest].windows(GRAM) {
                let bit = slot(window);
                table[bit / 64] |= 1 << (bit % 64);
            }
        }
        Some(Sampler {
            table,
            stride,
            longest,
        })
    }

    /// Whether `text` may hold a pattern. `false` is certain; `true` means
    /// `check`, run on the bytes around a hit, found one.
    pub(super) fn may_match(&self, text: &[u8], check: impl Fn(&[u8]) -> bool) -> bool {
        // Text built to hit often (say, from a hostile server) must not cost
        // more than one plain scan: once the checks have covered as many
        // bytes as the text holds, the rest is handed to `check` whole.
        let mut budget = text.len();
        let mut at = 0;
        while at + GRAM <= text.len() {
            at = self.past_misses(text, at);
            if at + GRAM > text.len() {
                break;
            }
            if self.hit(text, at) {
                // An occurrence holding this gram in its first `shortest`
                // bytes starts at most `stride - 1` bytes before it, and is
                // at most `longest` bytes long. One starting earlier would
                // have been hit, and checked, by an earlier sample.
                let from = at.saturating_sub(self.stride - 1);
                let to = text.len().min(at + self.longest);
                if to - from > budget {
                    return check(&text[from..]);
                }
                budget -= to - from;
                if check(&text[from..to]) {
                    return true;
                }
            }
            at += self.stride;
        }
        false
    }

    /// Whether the gram at `at` (which `text` holds whole) is in the table.
    #[inline]
    fn hit(&self, text: &[u8], at: usize) -> bool {
        let bit = slot(&text[at..at + GRAM]);
        self.table[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// The first sample from `at` on that may hit, or where a group of
    /// [`GROUP`] samples no longer fits: with AVX-512, sixteen samples are
    /// hashed and looked up at once (two gathers), so a text that hits
    /// nothing costs a fraction of a sample by sample walk.
    #[inline]
    fn past_misses(&self, text: &[u8], at: usize) -> usize {
        #[cfg(target_arch = "x86_64")]
        if vector_lookups() {
            // SAFETY: the CPU has AVX-512 F (`vector_lookups`).
            return unsafe { self.past_misses_avx512(text, at) };
        }
        at
    }

    /// [`Sampler::past_misses`] with AVX-512.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512 F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn past_misses_avx512(&self, text: &[u8], mut at: usize) -> usize {
        use std::arch::x86_64::*;
        let stride = self.stride;
        let span = (GROUP - 1) * stride + GRAM;
        // Offsets of a group's samples; they fit an i32 as `stride` is at
        // most MAX_GRAMS.
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let offsets = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(stride as i32));
        let multiplier = _mm512_set1_epi32(0x9E37_79B1_u32 as i32);
        let words = self.table.as_ptr().cast::<i32>();
        while at + span <= text.len() {
            // SAFETY: every lane reads 4 bytes at `at + i * stride` for i
            // < GROUP, inside `text` (`at + span <= len`); every word index
            // is a 16-bit slot over 32, inside the table's 2048 words.
            let hits = unsafe {
                let grams = _mm512_i32gather_epi32::<1>(offsets, text.as_ptr().add(at).cast());
                let slots = _mm512_srli_epi32::<{ 32 - TABLE_BITS.trailing_zeros() }>(
                    _mm512_mullo_epi32(grams, multiplier),
                );
                let table = _mm512_i32gather_epi32::<4>(_mm512_srli_epi32::<5>(slots), words);
                let bits = _mm512_sllv_epi32(
                    _mm512_set1_epi32(1),
                    _mm512_and_si512(slots, _mm512_set1_epi32(31)),
                );
                _mm512_test_epi32_mask(table, bits)
            };
            if hits != 0 {
                return at + hits.trailing_zeros() as usize * stride;
            }
            at += GROUP * stride;
        }
        at
    }
}

/// Samples looked up together with AVX-512.
const GROUP: usize = 16;

/// Whether this CPU looks samples up [`GROUP`] at a time (found once).
#[cfg(target_arch = "x86_64")]
fn vector_lookups() -> bool {
    static AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX512.get_or_init(|| std::is_x86_feature_detected!("avx512f"))
}

/// The table bit for a gram: the top 16 bits of a multiplicative hash (the
/// vector lookup computes the same, and reads the table as 32-bit words,
/// little-endian as x86 is).
fn slot(gram: &[u8]) -> usize {
    let word = u32::from_le_bytes([gram[0], gram[1], gram[2], gram[3]]);
    // At most TABLE_BITS - 1, so indexing the table needs no bounds check.
    (word.wrapping_mul(0x9E37_79B1) >> (32 - TABLE_BITS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain answer: does any pattern occur anywhere in the text?
    fn occurs(patterns: &[Vec<u8>], text: &[u8]) -> bool {
        patterns
            .iter()
            .any(|p| text.windows(p.len()).any(|w| w == p.as_slice()))
    }

    #[test]
    fn finds_a_pattern_at_every_offset_and_nothing_in_clean_text() {
        let patterns = vec![
            b"sk_live_0123456789abcdef".to_vec(),
            b"c2tfbGl2ZV8wMTIz".to_vec(),
        ];
        let sampler = Sampler::new(&patterns).expect("long patterns are sampled");
        let check = |window: &[u8]| occurs(&patterns, window);
        for pattern in &patterns {
            for offset in 0..100 {
                let mut text = vec![b'.'; offset];
                text.extend_from_slice(pattern);
                text.extend_from_slice(&vec![b'.'; 100 - offset]);
                assert!(sampler.may_match(&text, check), "missed at {offset}");
                // Cut just before its end: not there.
                let cut = &text[..offset + pattern.len() - 1];
                assert!(!sampler.may_match(cut, check), "false hit at {offset}");
            }
        }
        assert!(!sampler.may_match(&[b'a'; 65536], check));
    }

    #[test]
    fn short_or_very_many_patterns_are_left_to_the_matcher() {
        assert!(Sampler::new(&[b"short-val".to_vec()]).is_none());
        assert!(Sampler::new::<Vec<u8>>(&[]).is_none());
        let many: Vec<Vec<u8>> = (0..300).map(|i| format!("{i:032}").into_bytes()).collect();
        assert!(Sampler::new(&many).is_none());
    }

    /// The vector lookup skips exactly the samples that miss: it stops at
    /// the first that hits, as a walk sample by sample would.
    #[test]
    fn looking_up_samples_together_stops_where_one_by_one_would() {
        let patterns = vec![
            b"sk_live_0123456789abcdefgh".to_vec(),
            b"token=QUJDREVGR0hJSktM".to_vec(),
        ];
        let sampler = Sampler::new(&patterns).expect("long patterns are sampled");
        for plant in [None, Some(0), Some(7), Some(333), Some(1500), Some(3000)] {
            let mut text: Vec<u8> = (0..4000u32)
                .map(|i| b"abcdefghij .,;"[(i * 7 % 14) as usize])
                .collect();
            if let Some(at) = plant {
                text[at..at + patterns[0].len()].copy_from_slice(&patterns[0]);
            }
            for start in [0, 1, 5, 100] {
                let stop = sampler.past_misses(&text, start);
                let mut at = start;
                while at < stop {
                    assert!(!sampler.hit(&text, at), "skipped a hit at {at} ({plant:?})");
                    at += sampler.stride;
                }
                assert_eq!(at, stop, "{plant:?}: not on a sample");
                if stop + (GROUP - 1) * sampler.stride + GRAM <= text.len() {
                    assert!(sampler.hit(&text, stop), "{plant:?}: stopped at a miss");
                }
            }
            let check = |window: &[u8]| occurs(&patterns, window);
            assert_eq!(sampler.may_match(&text, check), plant.is_some());
        }
    }

    proptest! {
        /// Never a miss: wherever the patterns occur, whatever surrounds
        /// them, the sampler agrees with a plain search.
        #[test]
        fn agrees_with_a_plain_search(
            patterns in prop::collection::vec(prop::collection::vec(0u8..4, 11..40), 1..6),
            text in prop::collection::vec(0u8..4, 0..300),
            plant in prop::option::of((0usize..6, 0usize..300)),
        ) {
            let mut text = text;
            if let Some((which, at)) = plant {
                let pattern = &patterns[which % patterns.len()];
                let at = at.min(text.len());
                text.splice(at..at, pattern.iter().copied());
            }
            if let Some(sampler) = Sampler::new(&patterns) {
                let check = |window: &[u8]| occurs(&patterns, window);
                prop_assert_eq!(sampler.may_match(&text, check), occurs(&patterns, &text));
            }
        }
    }
}
