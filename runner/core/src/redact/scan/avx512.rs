//! The pass with AVX-512 (BW and VBMI): 64 bytes at a load, and one
//! `vpermi2b` looks up every class of a byte in a table of all 128 ASCII
//! bytes, so a step is a load, a lookup and two mask tests. A byte of 0x80
//! or more is in no class.

use std::arch::x86_64::*;

use super::super::base64run::{PAIR_DIGITS, is_digit};
use super::{Facts, Range, first_run, take_block, widen_to};

/// A base64 or base64url digit.
const DIGIT: u8 = 1;
/// `\`, `&` or `%`.
const ESCAPE: u8 = 2;
/// A digit that a pair spelling an escape needs ([`PAIR_DIGITS`]).
const PAIR: u8 = 4;
/// `\n` or `\r`.
const LINE_BREAK: u8 = 8;

/// Every class of each ASCII byte.
const CLASSES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let byte = b as u8;
        if is_digit(byte) {
            t[b] |= DIGIT;
        }
        if matches!(byte, b'\\' | b'&' | b'%') {
            t[b] |= ESCAPE;
        }
        if matches!(byte, b'\n' | b'\r') {
            t[b] |= LINE_BREAK;
        }
        b += 1;
    }
    let mut i = 0;
    while i < PAIR_DIGITS.len() {
        let mut j = 0;
        while j < 3 {
            t[PAIR_DIGITS[i][j] as usize] |= PAIR;
            j += 1;
        }
        i += 1;
    }
    t
};

/// Whether any byte of `classes` has a class in `bits`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn any(classes: __m512i, bits: u8) -> bool {
    _mm512_test_epi8_mask(classes, _mm512_set1_epi8(bits as i8)) != 0
}

/// The facts in the classes or-ed into `seen`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn reduce(seen: __m512i, break_after: bool) -> Facts {
    Facts {
        line_break: break_after || any(seen, LINE_BREAK),
        pair_digit: any(seen, PAIR),
    }
}

/// What [`super::avx2::classify`] says, found the same way 64 bytes at a
/// step.
///
/// # Safety
///
/// The CPU must have AVX-512 F, BW and VBMI, and BMI2.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,bmi2")]
pub(super) unsafe fn classify(text: &[u8], min: usize) -> (bool, Vec<Range>) {
    // A run of `min` ones need not fit one window of 64 bits; one of 33
    // always does, and it is enough to say where to look.
    let k = min.clamp(1, 33) as u32;
    // The shifts that find runs are constants in each copy of the walk.
    match 1u32 << (31 - k.leading_zeros()) {
        1 => walk::<1>(text, k),
        2 => walk::<2>(text, k),
        4 => walk::<4>(text, k),
        8 => walk::<8>(text, k),
        16 => walk::<16>(text, k),
        _ => walk::<32>(text, k),
    }
}

/// Each byte's classes, from the table's two halves.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn lookup(block: &[u8; 64], low: __m512i, high: __m512i) -> __m512i {
    // SAFETY: `block` is 64 readable bytes; the load is unaligned.
    let bytes = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let ascii = !_mm512_movepi8_mask(bytes);
    _mm512_maskz_permutex2var_epi8(ascii, low, bytes, high)
}

/// The bits of `window` that start `k` ones in a row, for `P <= k < 2P`
/// (what [`super::run_starts`] says, with constant shifts but the last).
#[inline(always)]
fn run_starts_of<const P: u32>(window: u64, k: u32) -> u64 {
    let mut x = window;
    let mut j = 1;
    while j < P {
        x &= x >> j;
        j *= 2;
    }
    x & (x >> (k - P))
}

/// Blocks looked at together before one is looked at alone.
const GROUP: usize = 4;
/// A run of this many digits or more holds two 8-byte lanes of digits
/// that follow each other (lanes start at multiples of 8): with `r` the
/// bytes before the first lane boundary in it (0 to 7), `23 >= r + 16`.
/// Shorter runs are looked for block by block.
const MIN_GROUPED: u32 = 23;

/// Whether `group` holds no run of `k >= MIN_GROUPED` digits, with the
/// classes of the block `before` it and `carried` digits ending that one:
/// then the digits ending its last block (`Some`), else `None`. And the
/// classes of its bytes, or-ed, and of its last block. (A run reaching a block from the one before is found
/// by its lanes, or by `carried` for the first block.)
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,bmi2")]
fn quiet_group(
    group: &[[u8; 64]],
    before: __m512i,
    carried: u32,
    k: u32,
    low: __m512i,
    high: __m512i,
) -> (__m512i, __m512i, Option<u32>) {
    let ones = _mm512_set1_epi8(DIGIT as i8);
    let first = lookup(&group[0], low, high);
    let (mut seen, mut previous) = (first, first);
    let mut pairs = lane_pairs(first, before);
    for block in &group[1..] {
        let classes = lookup(block, low, high);
        seen = _mm512_or_si512(seen, classes);
        pairs |= lane_pairs(classes, previous);
        previous = classes;
    }
    let first = _mm512_test_epi8_mask(first, ones);
    if pairs != 0 || carried + first.trailing_ones() >= k {
        return (seen, previous, None);
    }
    let digits = _mm512_test_epi8_mask(previous, ones);
    (seen, previous, Some(digits.leading_ones()))
}

/// The lanes of a block that are all digits, as is the lane before (the
/// first lane's is the last of the block `before`), from their classes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn lane_pairs(classes: __m512i, before: __m512i) -> u8 {
    let ones = _mm512_set1_epi8(DIGIT as i8);
    let shifted = _mm512_alignr_epi64::<7>(classes, before);
    // 0x80: `a & b & c`, with `c` the digit bit in every byte.
    let both = _mm512_ternarylogic_epi64::<0x80>(classes, shifted, ones);
    _mm512_cmpeq_epi64_mask(both, ones)
}

/// [`classify`] with the run length's power of two `P` a constant. The
/// state is in locals, and the rare work (a range begun) is out of line, so
/// that the loop keeps it in registers.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,bmi2")]
fn walk<const P: u32>(text: &[u8], k: u32) -> (bool, Vec<Range>) {
    let (head, rest) = CLASSES.split_at(64);
    // SAFETY: each half is 64 readable bytes; the loads are unaligned.
    let (low, high) = unsafe {
        (
            _mm512_loadu_si512(head.as_ptr().cast()),
            _mm512_loadu_si512(rest.as_ptr().cast()),
        )
    };
    let mut seen = _mm512_setzero_si512();
    let mut out: Vec<Range> = Vec::new();
    // The classes of the range being made.
    let mut facts = _mm512_setzero_si512();
    // A line break just after a run that ends where a block does.
    let mut break_after = false;
    // The digits at the end of the block before, as ones in a row.
    let mut carried = 0u32;
    let mut before_found = false;
    let (blocks, tail) = text.as_chunks::<64>();
    // Bytes past the text are zeros: in no class.
    let mut last = [0u8; 64];
    last[..tail.len()].copy_from_slice(tail);
    let count = blocks.len() + usize::from(!tail.is_empty());
    let mut before = &last;
    // The classes of `before` (zeros, in no class, before the first).
    let mut previous = _mm512_setzero_si512();
    // Blocks from `exact` on are looked at a group at a time first.
    let mut exact = 0;
    let mut i = 0;
    while i < count {
        // A group is looked at together when no run is under way (inside
        // one, each block is found anyway).
        if k >= MIN_GROUPED
            && i >= exact
            && !before_found
            && let Some(group) = blocks.get(i..i + GROUP)
        {
            let (classes, last_classes, quiet) =
                quiet_group(group, previous, carried, k, low, high);
            seen = _mm512_or_si512(seen, classes);
            if let Some(carry) = quiet {
                (carried, before) = (carry, &group[GROUP - 1]);
                previous = last_classes;
                i += GROUP;
                continue;
            }
            // A run may be here: block by block.
            exact = i + GROUP;
        }
        let block = blocks.get(i).unwrap_or(&last);
        let classes = lookup(block, low, high);
        seen = _mm512_or_si512(seen, classes);
        let digits = _mm512_test_epi8_mask(classes, _mm512_set1_epi8(DIGIT as i8));
        // A run inside the block, or one the block before began.
        let first = first_run(carried, digits, run_starts_of::<P>(digits, k), k);
        if before_found {
            // Of this block, the byte after a run that ended with the block
            // before (a digit there would carry it on).
            break_after |= matches!(block[0], b'\n' | b'\r');
        }
        if let Some(first) = first {
            if take_block(&mut out, i, text.len(), || reduce(facts, break_after)) {
                (facts, break_after) = (_mm512_setzero_si512(), false);
            }
            // Of the block before, only the digits a run here began with
            // (`carried` is 1 to 64 here).
            if !before_found && carried > 0 && first == 0 {
                let kept = u64::MAX << (64 - carried);
                let run = _mm512_maskz_mov_epi8(kept, lookup(before, low, high));
                facts = _mm512_or_si512(facts, run);
            }
            // Of this block, the bytes from the first run on.
            facts = _mm512_or_si512(facts, _mm512_maskz_mov_epi8(u64::MAX << first, classes));
        }
        let found = first.is_some();
        carried = digits.leading_ones();
        before_found = found;
        before = block;
        previous = classes;
        i += 1;
        // Inside a run, a block of digits only widens the range and adds
        // its classes to the facts (it holds no escape and no line break):
        // a long run (a base64 body) costs a lookup and a test a block.
        if found && digits == u64::MAX {
            let start = i;
            let ones = _mm512_set1_epi8(DIGIT as i8);
            // Four blocks a step while all are digits (one branch, and
            // their lookups side by side); single steps take the rest.
            while let Some([w, x, y, z]) = blocks.get(i..i + 4).and_then(|p| p.as_array()) {
                let (a, b) = (lookup(w, low, high), lookup(x, low, high));
                let (c, d) = (lookup(y, low, high), lookup(z, low, high));
                let all = _mm512_test_epi8_mask(a, ones)
                    & _mm512_test_epi8_mask(b, ones)
                    & _mm512_test_epi8_mask(c, ones)
                    & _mm512_test_epi8_mask(d, ones);
                if all != u64::MAX {
                    break;
                }
                let ab = _mm512_or_si512(a, b);
                facts = _mm512_ternarylogic_epi64::<0xFE>(facts, ab, _mm512_or_si512(c, d));
                previous = d;
                before = z;
                i += 4;
            }
            while let Some(next) = blocks.get(i) {
                let classes = lookup(next, low, high);
                if _mm512_test_epi8_mask(classes, _mm512_set1_epi8(DIGIT as i8)) != u64::MAX {
                    break;
                }
                facts = _mm512_or_si512(facts, classes);
                previous = classes;
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
    (any(seen, ESCAPE), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_shifts_find_the_same_runs() {
        let windows = [
            0u64,
            u64::MAX,
            0b1011,
            ((1 << 40) - 1) << 10,
            ((1 << 32) - 1) << 10,
            0x00FF_FF0F_FFF0_FFFF,
        ];
        for window in windows {
            for k in 1..=33u32 {
                let p = 1u32 << (31 - k.leading_zeros());
                let constant = match p {
                    1 => run_starts_of::<1>(window, k),
                    2 => run_starts_of::<2>(window, k),
                    4 => run_starts_of::<4>(window, k),
                    8 => run_starts_of::<8>(window, k),
                    16 => run_starts_of::<16>(window, k),
                    _ => run_starts_of::<32>(window, k),
                };
                assert_eq!(
                    constant,
                    super::super::run_starts(window, k),
                    "{window:#x} {k}"
                );
            }
        }
    }
}
