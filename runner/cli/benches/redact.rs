//! Redactor throughput: 100 secrets and all their encoded forms over a 100 MB
//! stream written in 64 KiB chunks, beside a plain `memchr::memmem` scan for one
//! pattern as the floor, measured in one run. Then the case of a `-v` dump:
//! one secret, 100 MiB of 64 KiB texts that do not hold it, through
//! `Redactor::redact_bytes` (sampled first look) beside the aho-corasick
//! matcher alone, built as the redactor builds it.
//!
//! Run with `cargo bench -p reqflo --bench redact`.

use std::io::Write;
use std::time::{Duration, Instant};

use reqflo_core::redact::{RedactingWriter, Redactor, encoded_forms};

const TOTAL: usize = 100 << 20;
const CHUNK: usize = 64 << 10;

fn main() {
    let redactor: &'static Redactor = Box::leak(Box::default());
    let secrets: Vec<String> = (0..100)
        .map(|i| format!("sk_live_{i:03}_Zq9/+=abcdefgh"))
        .collect();
    for (i, s) in secrets.iter().enumerate() {
        redactor.add(&format!("S{i}"), s.as_bytes());
    }
    let patterns: usize = secrets
        .iter()
        .map(|s| encoded_forms(s.as_bytes()).len())
        .sum();

    // Log-like text with a secret every ~64 KiB, so matches do occur.
    let line =
        b"2026-11-28T00:00:00Z INFO request GET /v1/payments status=200 took=12ms user=alice\n";
    let mut chunk = Vec::with_capacity(CHUNK);
    while chunk.len() + line.len() < CHUNK - 40 {
        chunk.extend_from_slice(line);
    }
    chunk.extend_from_slice(secrets[42].as_bytes());
    chunk.push(b'\n');

    let runs = 5;
    let mut ours = Vec::new();
    let mut floor = Vec::new();
    let finder = memchr::memmem::Finder::new(secrets[42].as_bytes());
    for _ in 0..runs {
        let started = Instant::now();
        let mut writer = RedactingWriter::with(std::io::sink(), redactor);
        let mut written = 0;
        while written < TOTAL {
            writer.write_all(&chunk).expect("sink");
            written += chunk.len();
        }
        writer.finish().expect("finish");
        ours.push(started.elapsed());

        let started = Instant::now();
        let mut found = 0;
        let mut scanned = 0;
        while scanned < TOTAL {
            found += finder.find_iter(&chunk).count();
            scanned += chunk.len();
        }
        std::hint::black_box(found);
        floor.push(started.elapsed());
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (ours, floor) = (median(ours), median(floor));
    let rate = |d: Duration| TOTAL as f64 / d.as_secs_f64() / (1 << 20) as f64;
    println!(
        "100 secrets, {patterns} patterns, {} MiB in {} KiB writes (median of {runs}):",
        TOTAL >> 20,
        CHUNK >> 10
    );
    println!(
        "  RedactingWriter:        {:>8.0} MiB/s ({ours:.2?})",
        rate(ours)
    );
    println!(
        "  memchr::memmem, 1 pattern: {:>8.0} MiB/s ({floor:.2?})",
        rate(floor)
    );
    println!(
        "  ratio: {:.1}x the floor's time",
        ours.as_secs_f64() / floor.as_secs_f64()
    );
    one_secret(runs, &median);
    one_long_run(runs, &median);
}

/// One secret (the journey bench's key) and clean 64 KiB JSON texts.
fn one_secret(runs: usize, median: &impl Fn(Vec<Duration>) -> Duration) {
    let key = b"bench/KEY+value=123";
    let redactor = Redactor::default();
    redactor.add("KEY", key);
    let forms = encoded_forms(key);
    let matcher = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
        .build(forms.iter().map(|f| f.as_slice()))
        .expect("matcher");
    // Records whose fields vary in length (a fixed-width record would let
    // the scans' strides fall in step with it, flattering or punishing them).
    let mut text = Vec::with_capacity(CHUNK);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let statuses = [
        "succeeded",
        "pending",
        "failed",
        "requires_action",
        "canceled",
    ];
    let currencies = ["eur", "usd", "gbp", "chf"];
    while text.len() < CHUNK {
        let id_len = 4 + next(12) as usize;
        let id: String = (0..id_len)
            .map(|_| char::from(b"0123456789abcdef"[next(16) as usize]))
            .collect();
        let record = format!(
            "{{\"id\":\"pay_{id}\",\"amount\":{},\"currency\":\"{}\",\"status\":\"{}\",\"customer\":\"cus {}\"}},\n",
            next(100_000),
            currencies[next(4) as usize],
            statuses[next(5) as usize],
            next(1_000_000)
        );
        text.extend_from_slice(record.as_bytes());
    }
    text.truncate(CHUNK);
    let (mut sampled, mut plain, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        first.push(over_total(&text, |t| assert!(!redactor.holds_pattern(t))));
        sampled.push(over_total(&text, |t| assert!(clean(&redactor, t))));
        plain.push(over_total(&text, |t| assert!(!matcher.is_match(t))));
    }
    let (sampled, plain, first) = (median(sampled), median(plain), median(first));
    let rate = |d: Duration| TOTAL as f64 / d.as_secs_f64() / (1 << 30) as f64;
    println!(
        "1 secret, {} patterns, {} MiB of clean 64 KiB texts (median of {runs}):",
        forms.len(),
        TOTAL >> 20
    );
    println!(
        "  redact_bytes (sampled first look): {:>6.1} GiB/s ({sampled:.2?})",
        rate(sampled)
    );
    println!(
        "  aho-corasick is_match alone:       {:>6.1} GiB/s ({plain:.2?})",
        rate(plain)
    );
    println!(
        "  first look alone (no decoded reading, the redactor before issue 16): {:>6.1} GiB/s ({first:.2?})",
        rate(first)
    );
    println!(
        "  ratio: {:.2}x the first look's time (escapes and base64 runs looked for)",
        sampled.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "  ratio: {:.2}x the matcher's time",
        sampled.as_secs_f64() / plain.as_secs_f64()
    );
}

/// The journey bench's `-v` dump: a 64 KiB body of `a`, one base64 run of
/// 65536 digits, after the dump's header lines, beside the first look
/// alone. The headers' length varies in a run (`(3ms)`, a date), so the
/// body starts at each of the 64 places in a block in turn: one place
/// measured alone once hid that a line break before the body cost 7x at
/// most of the others.
fn one_long_run(runs: usize, median: &impl Fn(Vec<Duration>) -> Duration) {
    let redactor = Redactor::default();
    redactor.add("KEY", b"bench/KEY+value=123");
    let texts: Vec<Vec<u8>> = (0..64)
        .map(|pad| {
            let mut text = format!(
                "< 200 OK (1ms)\n< content-length: 65536\n< x-pad: {}\n<\n",
                ".".repeat(pad)
            )
            .into_bytes();
            text.extend(std::iter::repeat_n(b'a', CHUNK));
            text
        })
        .collect();
    let (mut whole, mut first) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        whole.push(over_each(&texts, |t| assert!(clean(&redactor, t))));
        first.push(over_each(&texts, |t| assert!(!redactor.holds_pattern(t))));
    }
    let (whole, first) = (median(whole), median(first));
    let rate = |d: Duration| TOTAL as f64 / d.as_secs_f64() / (1 << 30) as f64;
    println!(
        "1 secret, 100 MiB of -v dumps of 64 KiB bodies of `a` (one base64 run each, at every place in a block; median of {runs}):"
    );
    println!("  redact_bytes: {:>6.1} GiB/s ({whole:.2?})", rate(whole));
    println!(
        "  first look alone: {:>6.1} GiB/s ({first:.2?})",
        rate(first)
    );
    println!(
        "  ratio: {:.2}x the first look's time",
        whole.as_secs_f64() / first.as_secs_f64()
    );
}

/// How long `look` takes over `TOTAL` bytes of `texts`, taken in turn.
fn over_each(texts: &[Vec<u8>], look: impl Fn(&[u8])) -> Duration {
    let started = Instant::now();
    let mut scanned = 0;
    for text in texts.iter().cycle() {
        if scanned >= TOTAL {
            break;
        }
        look(text);
        scanned += text.len();
    }
    started.elapsed()
}

/// How long `look` takes over `TOTAL` bytes of `text`, looked at whole, again
/// and again.
fn over_total(text: &[u8], look: impl Fn(&[u8])) -> Duration {
    let started = Instant::now();
    let mut scanned = 0;
    while scanned < TOTAL {
        look(text);
        scanned += text.len();
    }
    started.elapsed()
}

/// Whether the redactor left `text` as it is.
fn clean(redactor: &Redactor, text: &[u8]) -> bool {
    matches!(redactor.redact_bytes(text), std::borrow::Cow::Borrowed(_))
}
