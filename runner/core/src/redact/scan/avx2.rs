//! The pass with AVX2: 32 bytes at a load, two loads a step.

use std::arch::x86_64::*;

use super::{Facts, Range, first_run, run_starts, take_block, widen_to};

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

// The facts' classes: a pair's digits by their high nibble
// (`1`; `C F J`; `S V X`; `c i l m`; `y`), and line breaks.
const PAIR: u8 = 0b1_1111;
const LINE_BREAK: u8 = 0b10_0000;

/// The facts' classes a byte's high nibble allows.
const FACT_HIGH: [u8; 16] = {
    let mut t = [0u8; 16];
    t[0] = LINE_BREAK;
    let mut h = 3;
    while h <= 7 {
        t[h] = 1 << (h - 3);
        h += 1;
    }
    t
};

/// The facts' classes a byte's low nibble allows.
const FACT_LOW: [u8; 16] = {
    let mut t = [0u8; 16];
    t[0x1] = 1;
    t[0x3] = 2 | 4 | 8;
    t[0x6] = 2 | 4;
    t[0x8] = 4;
    t[0x9] = 8 | 16;
    t[0xA] = 2 | LINE_BREAK;
    t[0xC] = 8;
    t[0xD] = 8 | LINE_BREAK;
    t
};

/// The facts' classes of the last `n` of 64 bytes, or-ed together.
#[inline]
#[target_feature(enable = "avx2")]
fn block_facts(block: &[u8; 64], n: u32, high: __m256i, low: __m256i) -> __m256i {
    // SAFETY: `block` is 64 readable bytes; the loads are unaligned.
    let (first, second) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast()),
            _mm256_loadu_si256(block[32..].as_ptr().cast()),
        )
    };
    // Byte `i` counts when `i >= 64 - n`, i.e. `i > 63 - n`.
    let index = _mm256_setr_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    );
    let below = 63 - n.min(64) as i32;
    let first_kept = _mm256_cmpgt_epi8(index, _mm256_set1_epi8(below as i8));
    let second_kept = _mm256_cmpgt_epi8(index, _mm256_set1_epi8((below - 32).max(-1) as i8));
    _mm256_or_si256(
        _mm256_and_si256(lookup(first, high, low), first_kept),
        _mm256_and_si256(lookup(second, high, low), second_kept),
    )
}

/// The facts or-ed into `seen`.
#[inline]
#[target_feature(enable = "avx2")]
fn reduce(seen: __m256i, break_after: bool) -> Facts {
    let has = |bits: u8| {
        let masked = _mm256_and_si256(seen, _mm256_set1_epi8(bits as i8));
        _mm256_testz_si256(masked, masked) == 0
    };
    Facts {
        line_break: break_after || has(LINE_BREAK),
        pair_digit: has(PAIR),
    }
}

/// Each byte's classes in the two tables.
#[inline]
#[target_feature(enable = "avx2")]
fn lookup(bytes: __m256i, high: __m256i, low: __m256i) -> __m256i {
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(bytes), _mm256_set1_epi8(0x0F));
    // A byte with its top bit set makes `vpshufb` give 0: a byte of
    // 0x80 or more is in no class, as it should be.
    _mm256_and_si256(
        _mm256_shuffle_epi8(high, hi),
        _mm256_shuffle_epi8(low, bytes),
    )
}

/// The classes of 32 bytes, and their digit bits as a mask.
#[inline]
#[target_feature(enable = "avx2")]
fn classes(chunk: &[u8; 32], high: __m256i, low: __m256i) -> (__m256i, u32) {
    // SAFETY: `chunk` is 32 readable bytes; the load is unaligned.
    let bytes = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
    let class = lookup(bytes, high, low);
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
/// of `min` digits or more with their facts.
///
/// A range is the blocks of 64 bytes that may hold a long run, widened
/// by 96 bytes each way (so the runs' ends are inside), merged. A run
/// of `k` digits or more lies in blocks that have its digits from the
/// `k`-th on (each is found: a run inside it, or one the block before
/// carried on) and in the digits that end the block before them
/// (`k <= 33`); the byte after it is in its last block or the first of
/// the one after. The facts are those bytes'.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn classify(text: &[u8], min: usize) -> (bool, Vec<Range>) {
    let (high, low) = (table(&HIGH), table(&LOW));
    let (fact_high, fact_low) = (table(&FACT_HIGH), table(&FACT_LOW));
    // A run of `min` ones need not fit one window of 64 bits; one of 33
    // always does, and it is enough to say where to look.
    let k = min.clamp(1, 33) as u32;
    let mut seen = _mm256_setzero_si256();
    let mut out: Vec<Range> = Vec::new();
    // The facts' classes of the range being made.
    let mut facts = _mm256_setzero_si256();
    // A line break just after a run that ends where a block does.
    let mut break_after = false;
    // The digits at the end of the block before, as ones in a row.
    let mut carried = 0u32;
    let mut before: &[u8; 64] = &[0; 64];
    let mut before_found = false;
    let (blocks, tail) = text.as_chunks::<64>();
    let mut last = [0u8; 64];
    last[..tail.len()].copy_from_slice(tail);
    // Bytes past the text are zeros: in no class.
    let count = blocks.len() + usize::from(!tail.is_empty());
    let mut i = 0;
    while i < count {
        let block = blocks.get(i).unwrap_or(&last);
        let (halves, _) = block.as_chunks::<32>();
        let (first, low_digits) = classes(&halves[0], high, low);
        let (second, high_digits) = classes(&halves[1], high, low);
        seen = _mm256_or_si256(seen, _mm256_or_si256(first, second));
        let digits = u64::from(low_digits) | u64::from(high_digits) << 32;
        // A run inside the block, or one the block before began.
        let first = first_run(carried, digits, run_starts(digits, k), k);
        if before_found {
            // Of this block, the byte after a run that ended with the block
            // before (a digit there would carry it on).
            break_after |= matches!(block[0], b'\n' | b'\r');
        }
        if let Some(first) = first {
            if take_block(&mut out, i, text.len(), || reduce(facts, break_after)) {
                (facts, break_after) = (_mm256_setzero_si256(), false);
            }
            // Of the block before, only the digits a run here began with.
            if !before_found && carried > 0 && first == 0 {
                let run = block_facts(before, carried, fact_high, fact_low);
                facts = _mm256_or_si256(facts, run);
            }
            // Of this block, the bytes from the first run on.
            let kept = block_facts(block, 64 - first, fact_high, fact_low);
            facts = _mm256_or_si256(facts, kept);
        }
        let found = first.is_some();
        carried = digits.leading_ones();
        before = block;
        before_found = found;
        i += 1;
        // Inside a run, a block of digits only widens the range and adds
        // its facts (it holds no escape and no line break): a long run (a
        // base64 body) costs a lookup and a test a block, not a range's work.
        if found && digits == u64::MAX {
            let start = i;
            while let Some(next) = blocks.get(i) {
                let (halves, _) = next.as_chunks::<32>();
                let (_, low_digits) = classes(&halves[0], high, low);
                let (_, high_digits) = classes(&halves[1], high, low);
                if low_digits & high_digits != u32::MAX {
                    break;
                }
                facts = _mm256_or_si256(facts, block_facts(next, 64, fact_high, fact_low));
                before = next;
                i += 1;
            }
            if i > start {
                widen_to(&mut out, i - 1, text.len());
            }
        }
    }
    if let Some((_, done)) = out.last_mut() {
        *done = reduce(facts, break_after);
    }
    (any_escape(seen), out)
}
