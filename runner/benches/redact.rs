//! Redactor throughput: 100 secrets and all their encoded forms over a 100 MB
//! stream written in 64 KiB chunks, beside a plain `memchr::memmem` scan for one
//! pattern as the floor, measured in one run.
//!
//! Run with `cargo bench -p reqflo --bench redact`.

use std::io::Write;
use std::time::{Duration, Instant};

use reqflo::redact::{RedactingWriter, Redactor, encoded_forms};

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
}
