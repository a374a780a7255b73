//! Whole-process cost of reqflo beside a plain reqwest loop doing the same
//! requests, against the demo API on loopback, measured in one run.
//!
//! Run with `cargo bench -p reqflo --bench journey`. For each case it prints
//! the median wall time and peak RSS over several runs, and reqflo's ratio to
//! the baseline. The baseline is this same binary re-run as `baseline URL N`:
//! one reqwest client, GET with a bearer header, parse the JSON, check the
//! status and one field, exactly what each reqflo step does.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const KEY: &str = "bench/KEY+value=123";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("baseline") {
        let url = args.get(2).expect("url");
        let n: usize = args.get(3).and_then(|n| n.parse().ok()).expect("count");
        baseline(url, n);
        return;
    }

    let api = demo_api::spawn(KEY).expect("demo API");
    let dir = tempfile::tempdir().expect("tmp");
    let project = dir.path();
    write_project(project, &api.base_url());
    let reqflo = env!("CARGO_BIN_EXE_reqflo");
    let warm_cache = project.join("cache");
    let me = std::env::current_exe().expect("own path");

    // Warm the compiled-code cache once.
    measure(reqflo, &["run", "one"], project, &warm_cache);

    let mut rows = Vec::new();
    for (label, journey, steps, runs) in [
        ("1 step", "one", 1, 21),
        ("1000 steps", "thousand", 1000, 7),
    ] {
        let base = median_of(runs, || {
            measure(
                me.to_str().expect("utf-8 path"),
                &["baseline", &api.base_url(), &steps.to_string()],
                project,
                &warm_cache,
            )
        });
        let ours = median_of(runs, || {
            measure(reqflo, &["run", journey], project, &warm_cache)
        });
        rows.push((format!("{label}: plain reqwest loop"), base, None));
        rows.push((
            format!("{label}: reqflo run (cache warm)"),
            ours,
            Some(base),
        ));
    }
    let mut n = 0;
    let cold = median_of(11, || {
        n += 1;
        measure(
            reqflo,
            &["run", "one"],
            project,
            &project.join(format!("cold-{n}")),
        )
    });
    rows.push((
        "1 step: reqflo run (cache cold)".into(),
        cold,
        rows.first().map(|r| r.1),
    ));

    // Cost of the env plugin in a fresh process: check with and without --resolve.
    let check = median_of(21, || {
        measure(reqflo, &["check", "one"], project, &warm_cache)
    });
    let resolve = median_of(21, || {
        measure(reqflo, &["check", "one", "--resolve"], project, &warm_cache)
    });

    println!(
        "\n{:<40} {:>12} {:>12} {:>10}",
        "case (median)", "wall", "peak RSS", "ratio"
    );
    for (label, (wall, rss), against) in &rows {
        let ratio = against
            .map(|(b, _)| format!("{:.2}x", wall.as_secs_f64() / b.as_secs_f64()))
            .unwrap_or_default();
        println!(
            "{label:<40} {:>12} {:>9} MiB {ratio:>10}",
            format!("{wall:.2?}"),
            rss / 1024
        );
    }
    println!(
        "\nenv plugin, cold process, warm cache: check --resolve {:.2?} - check {:.2?} = {:.2?} to load, start and resolve",
        resolve.0,
        check.0,
        resolve.0.saturating_sub(check.0)
    );
    println!("requests served: {}", api.requests());
}

fn write_project(dir: &Path, base_url: &str) {
    std::fs::create_dir_all(dir.join("journeys")).expect("mkdir");
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("reqflo.yaml"),
        format!("environments:\n  bench:\n    variables: {{base_url: \"{base_url}\"}}\n"),
    )
    .expect("write");
    std::fs::write(
        dir.join("templates/echo.yaml"),
        "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n",
    )
    .expect("write");
    for (name, steps) in [("one", 1), ("thousand", 1000)] {
        let mut text = String::from("steps:\n");
        for i in 0..steps {
            text.push_str(&format!(
                "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: BENCH_KEY}}}}\n    capture: {{m: $.method}}\n    expect: {{status: 200, json: {{\"$.method\": GET}}}}\n"
            ));
        }
        std::fs::write(dir.join(format!("journeys/{name}.yaml")), text).expect("write");
    }
}

/// Run a command to completion; return its wall time and peak RSS in KiB.
/// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure(program: &str, args: &[&str], cwd: &Path, cache: &Path) -> (Duration, i64) {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("BENCH_KEY", KEY)
        .env("REQFLO_CACHE_DIR", cache)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{program} {args:?} failed with status {status}"
    );
    (wall, usage.ru_maxrss)
}

fn median_of(runs: usize, mut f: impl FnMut() -> (Duration, i64)) -> (Duration, i64) {
    let mut samples: Vec<(Duration, i64)> = (0..runs).map(|_| f()).collect();
    samples.sort_by_key(|s| s.0);
    let wall = samples[runs / 2].0;
    let mut rss: Vec<i64> = samples.iter().map(|s| s.1).collect();
    rss.sort();
    (wall, rss[runs / 2])
}

/// The plain loop reqflo is compared with.
fn baseline(url: &str, n: usize) {
    let key = std::env::var("BENCH_KEY").expect("key");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..n {
            let response = client
                .get(format!("{url}/echo"))
                .header("Authorization", format!("Bearer {key}"))
                .send()
                .await
                .expect("send");
            assert_eq!(response.status(), 200);
            let bytes = response.bytes().await.expect("body");
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(body["method"], "GET");
        }
    });
}
