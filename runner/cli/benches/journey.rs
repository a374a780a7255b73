//! Whole-process cost of reqflo beside a plain reqwest loop doing the same
//! requests, and beside Hurl when it is installed, against the demo API on
//! loopback, all measured in one run.
//!
//! Run with `cargo bench -p reqflo --bench journey`. For each case it prints
//! the median wall time and peak RSS over several runs, and the ratio to the
//! baseline. The baseline is this same binary re-run as `baseline URL N`:
//! one reqwest client, GET with a bearer header, parse the JSON, check the
//! status and one field, exactly what each reqflo step does. Hurl (`hurl` on
//! PATH, or `HURL=/path/to/hurl`) runs the same requests from a `.hurl` file
//! with the same capture and asserts, the key passed with `--secret`.
//!
//! Then: how cost grows with steps (10, 100, 1000) and with journeys run side
//! by side (`--jobs N` with N journeys of 200 steps), and what redaction adds
//! to a `-v` run that prints 100 MiB (1600 dumps of 64 KiB bodies, with the
//! key as a secret in every request, against the same journey with a literal
//! value of the same length in its place, so the redactor has nothing to look
//! for and every other step of the work is the same; and the same pair with
//! `-q`, which prints no dumps, for what the key costs besides them).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const KEY: &str = "bench/KEY+value=123";
/// Steps of the signed and unsigned journeys compared.
const SIGNED_STEPS: [usize; 4] = [10, 100, 1000, 10_000];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("baseline") {
        let url = args.get(2).expect("url");
        let n: usize = args.get(3).and_then(|n| n.parse().ok()).expect("count");
        baseline(url, n);
        return;
    }

    // A server on its own CPU and the clients on another, as when the API
    // runs elsewhere. Left to the scheduler, on 2 cores the pair sometimes
    // shares one CPU (every request then costs only CPU time) and sometimes
    // not (each request waits on a cross-CPU wake-up): the same binary's
    // time swung 3x between runs. Pinning makes runs comparable; the one-CPU
    // case is measured as well, further down.
    let cpus = allowed_cpus();
    let (server_cpu, client_cpu) = match cpus.as_slice() {
        [a, b, ..] => (Some(*a), Some(*b)),
        _ => (None, None),
    };
    if let Some(cpu) = server_cpu {
        pin_this_thread(cpu);
    }
    let api = demo_api::spawn(KEY).expect("demo API");
    if let Some(cpu) = client_cpu {
        pin_this_thread(cpu);
    }
    match (server_cpu, client_cpu) {
        (Some(s), Some(c)) => {
            println!("demo API pinned to CPU {s}; reqflo, the loop and Hurl to CPU {c}")
        }
        _ => println!("one CPU: the demo API and the clients share it"),
    }
    let dir = tempfile::tempdir().expect("tmp");
    let project = dir.path();
    write_project(project, &api.base_url());
    let reqflo = env!("CARGO_BIN_EXE_reqflo");
    let warm_cache = project.join("cache");
    let me = std::env::current_exe().expect("own path");

    // Warm the compiled-code cache once.
    measure(reqflo, &["run", "one"], project, &warm_cache);
    let hurl = hurl();

    let mut rows = Vec::new();
    for (label, journey, steps, runs) in [
        ("1 step", "one", 1, 21),
        ("1000 steps", "thousand", 1000, 15),
    ] {
        let base_url = api.base_url();
        let count = steps.to_string();
        let baseline_args = ["baseline", base_url.as_str(), count.as_str()];
        let variable = format!("base_url={base_url}");
        let secret = format!("key={KEY}");
        let file = format!("{journey}.hurl");
        let hurl_args = ["--variable", &variable, "--secret", &secret, &file];
        let own = me.to_str().expect("utf-8 path");
        let run_args = ["run", journey];
        let mut cases: Vec<(&str, &[&str])> = vec![(own, &baseline_args), (reqflo, &run_args)];
        if let Some(hurl) = &hurl {
            cases.push((hurl, &hurl_args));
        }
        let medians = interleaved(runs, &cases, project, &warm_cache);
        let (base, ours) = (medians[0], medians[1]);
        rows.push((format!("{label}: plain reqwest loop"), base, None));
        rows.push((
            format!("{label}: reqflo run (cache warm)"),
            ours,
            Some(base),
        ));
        if let Some(&theirs) = medians.get(2) {
            rows.push((format!("{label}: Hurl"), theirs, Some(base)));
            println!(
                "{label}: reqflo is {:.2}x as fast as Hurl",
                theirs.0.as_secs_f64() / ours.0.as_secs_f64()
            );
        }
    }
    if hurl.is_none() {
        println!("Hurl not found (put `hurl` on PATH or set HURL): its rows are left out");
    }
    // The same 1000 steps with everything on the server's CPU: no wake-up
    // crosses CPUs, so the times are each program's CPU cost plus the
    // server's, the case least kind to reqflo's own overhead.
    let mut shared_cpu = Vec::new();
    if let (Some(server), Some(client)) = (server_cpu, client_cpu) {
        pin_this_thread(server);
        let base_url = api.base_url();
        let baseline_args = ["baseline", base_url.as_str(), "1000"];
        let variable = format!("base_url={base_url}");
        let secret = format!("key={KEY}");
        let hurl_args = [
            "--variable",
            &variable,
            "--secret",
            &secret,
            "thousand.hurl",
        ];
        let own = me.to_str().expect("utf-8 path");
        let mut cases: Vec<(&str, &[&str])> =
            vec![(own, &baseline_args), (reqflo, &["run", "thousand"])];
        if let Some(hurl) = &hurl {
            cases.push((hurl, &hurl_args));
        }
        let medians = interleaved(15, &cases, project, &warm_cache);
        let names = ["plain reqwest loop", "reqflo run (cache warm)", "Hurl"];
        for (name, median) in names.iter().zip(&medians) {
            let against = (*name != names[0]).then_some(medians[0]);
            shared_cpu.push((format!("1000 steps, one CPU: {name}"), *median, against));
        }
        pin_this_thread(client);
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
    // Plan-time cost of a long journey: load (parsed form cached), plan,
    // check; nothing is sent.
    let check_long = median_of(21, || {
        measure(reqflo, &["check", "thousand"], project, &warm_cache)
    });

    rows.extend(shared_cpu);
    println!(
        "\n{:<46} {:>12} {:>12} {:>10}",
        "case (median)", "wall", "peak RSS", "ratio"
    );
    for (label, (wall, rss), against) in &rows {
        let ratio = against
            .map(|(b, _)| format!("{:.2}x", wall.as_secs_f64() / b.as_secs_f64()))
            .unwrap_or_default();
        println!(
            "{label:<46} {:>12} {:>9} MiB {ratio:>10}",
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
    println!(
        "plan-time cost, cold process, warm cache: check of 1 step {:.2?}, of 1000 steps {:.2?} ({:.2?} a step past the first)",
        check.0,
        check_long.0,
        check_long.0.saturating_sub(check.0) / 999
    );

    // Cost against steps: one journey of 10, 100 and 1000 steps.
    println!(
        "\n{:<40} {:>12} {:>14}",
        "steps (median)", "wall", "per step"
    );
    for (journey, steps, runs) in [("ten", 10, 11), ("hundred", 100, 11), ("thousand", 1000, 7)] {
        let (wall, _) = median_of(runs, || {
            measure(reqflo, &["run", journey], project, &warm_cache)
        });
        println!(
            "{:<40} {:>12} {:>11.1} µs",
            format!("{steps} steps"),
            format!("{wall:.2?}"),
            wall.as_secs_f64() * 1e6 / steps as f64
        );
    }

    // Signed against unsigned: each signature is a value the redactor learns.
    println!(
        "\n{:<40} {:>12} {:>12} {:>8}",
        "steps, HMAC-signed (median)", "unsigned", "signed", "ratio"
    );
    for steps in SIGNED_STEPS {
        let runs = if steps >= 10_000 { 3 } else { 7 };
        let (plain, signed) = (format!("plain-{steps}"), format!("signed-{steps}"));
        let walls = interleaved(
            runs,
            &[(reqflo, &["run", &plain]), (reqflo, &["run", &signed])],
            project,
            &warm_cache,
        );
        let (plain, signed) = (walls[0].0, walls[1].0);
        println!(
            "{:<40} {:>12} {:>12} {:>7.2}x",
            format!("{steps} steps"),
            format!("{plain:.2?}"),
            format!("{signed:.2?}"),
            signed.as_secs_f64() / plain.as_secs_f64()
        );
    }

    // Cost against journeys side by side: N journeys of 200 steps, --jobs N.
    println!(
        "\n{:<40} {:>12} {:>14} {:>10}",
        "journeys of 200 steps (median)", "wall", "per request", "peak RSS"
    );
    for n in [1usize, 2, 4, 8] {
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let jobs = n.to_string();
        let mut args = vec!["run", "--jobs", &jobs];
        args.extend(names.iter().map(String::as_str));
        let (wall, rss) = median_of(7, || measure(reqflo, &args, project, &warm_cache));
        println!(
            "{:<40} {:>12} {:>11.1} µs {:>6} MiB",
            format!("{n} x 200 steps, --jobs {n}"),
            format!("{wall:.2?}"),
            wall.as_secs_f64() * 1e6 / (n * 200) as f64,
            rss / 1024
        );
    }

    // What redaction adds to a -v run printing 100 MiB of dumps. One -v
    // run moves by about 10% from run to run: 101 pairs, and the median of
    // each pair's ratio (the machine's drift falls on both of a pair).
    // The same pairs without dumps (`-q`) give what the key costs besides
    // redacting the dumps: resolving it and putting it in 1600 requests.
    let mut costs = Vec::new();
    for flag in ["-v", "-q"] {
        let (plain, keyed, ratio) = paired(
            101,
            (reqflo, &["run", "dump-plain", flag]),
            (reqflo, &["run", "dump-keyed", flag]),
            project,
            &warm_cache,
        );
        println!(
            "\n{flag} run of 100 MiB of responses: a literal in every request {plain:.2?}, the key as a secret {keyed:.2?}: the key adds {:+.1}% (median of the pairs' ratios)",
            (ratio - 1.0) * 100.0
        );
        costs.push(ratio);
    }
    println!(
        "redacting the -v dumps adds {:+.1}% (the -v pairs' cost less the -q pairs')",
        (costs[0] - costs[1]) * 100.0
    );
    println!("requests served: {}", api.requests());
}

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data, filled by the kernel for this process.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Run the calling thread, and the threads and processes it starts from now
/// on, on one CPU.
fn pin_this_thread(cpu: usize) {
    // SAFETY: as above; 0 names the calling thread.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_setaffinity(0, size, &set) } != 0 {
        eprintln!(
            "cannot pin to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Hurl, when installed: `$HURL`, or `hurl` on PATH.
fn hurl() -> Option<String> {
    if let Some(path) = std::env::var_os("HURL") {
        return Some(path.to_string_lossy().into_owned());
    }
    let found = Command::new("hurl")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    found.then(|| "hurl".to_string())
}

fn write_project(dir: &Path, base_url: &str) {
    std::fs::create_dir_all(dir.join("journeys")).expect("mkdir");
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("reqflo.yaml"),
        format!(
            "environments:\n  bench:\n    variables: {{base_url: \"{base_url}\"}}\n\
             hooks:\n  sign: {{plugin: \"builtin:hmac-signature\", secrets: [BENCH_KEY]}}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("templates/echo.yaml"),
        "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("templates/bytes-keyed.yaml"),
        "method: GET\nurl: \"{{base_url}}/bytes/65536\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n",
    )
    .expect("write");
    let mut journeys = vec![
        ("one".to_string(), 1),
        ("ten".to_string(), 10),
        ("hundred".to_string(), 100),
        ("thousand".to_string(), 1000),
    ];
    journeys.extend((0..8).map(|i| (format!("p{i}"), 200)));
    // Each signed step's signature is a new derived secret the redactor
    // learns: the case that was quadratic in steps.
    for steps in SIGNED_STEPS {
        journeys.push((format!("plain-{steps}"), steps));
        journeys.push((format!("signed-{steps}"), steps));
    }
    for (name, steps) in journeys {
        let mut text = String::from("steps:\n");
        let mut hurl = String::new();
        let hooks = if name.starts_with("signed-") {
            "    hooks: [sign]\n"
        } else {
            ""
        };
        for i in 0..steps {
            text.push_str(&format!(
                "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: BENCH_KEY}}}}\n{hooks}    capture: {{m: $.method}}\n    expect: {{status: 200, json: {{\"$.method\": GET}}}}\n"
            ));
            hurl.push_str(
                "GET {{base_url}}/echo\nAuthorization: Bearer {{key}}\nHTTP 200\n[Captures]\nm: jsonpath \"$.method\"\n[Asserts]\njsonpath \"$.method\" == \"GET\"\n\n",
            );
        }
        std::fs::write(dir.join(format!("journeys/{name}.yaml")), text).expect("write");
        std::fs::write(dir.join(format!("{name}.hurl")), hurl).expect("write");
    }
    // 1600 x 64 KiB = 100 MiB of -v dumps; with a literal in the key's
    // place (the same length), and with the key.
    let literal = "x".repeat(KEY.len());
    let plain = format!(
        "template: bytes-keyed\n    values: {{key: {{type: literal, value: \"{literal}\"}}}}\n"
    );
    for (name, step) in [
        ("dump-plain", plain.as_str()),
        (
            "dump-keyed",
            "template: bytes-keyed\n    values: {key: {type: secret, name: BENCH_KEY}}\n",
        ),
    ] {
        let text: String = (0..1600)
            .map(|i| format!("  - id: d{i}\n    {step}"))
            .collect();
        std::fs::write(
            dir.join(format!("journeys/{name}.yaml")),
            format!("steps:\n{text}"),
        )
        .expect("write");
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

/// Medians of several commands measured in turn (A, B, C, A, B, C, ...), so
/// that the machine's drift over the minutes of a run falls on all of them
/// alike and their ratios stay fair.
fn interleaved(
    runs: usize,
    cases: &[(&str, &[&str])],
    cwd: &Path,
    cache: &Path,
) -> Vec<(Duration, i64)> {
    let mut samples = vec![Vec::with_capacity(runs); cases.len()];
    for _ in 0..runs {
        for (case, (program, args)) in samples.iter_mut().zip(cases) {
            case.push(measure(program, args, cwd, cache));
        }
    }
    samples.into_iter().map(|mut s| median(&mut s)).collect()
}

/// Two commands measured in turn `runs` times: the median wall time of
/// each, and the median of each pair's ratio (`b` over `a`).
fn paired(
    runs: usize,
    a: (&str, &[&str]),
    b: (&str, &[&str]),
    cwd: &Path,
    cache: &Path,
) -> (Duration, Duration, f64) {
    let (mut first, mut second, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let x = measure(a.0, a.1, cwd, cache).0;
        let y = measure(b.0, b.1, cwd, cache).0;
        ratios.push(y.as_secs_f64() / x.as_secs_f64());
        first.push(x);
        second.push(y);
    }
    first.sort();
    second.sort();
    ratios.sort_by(f64::total_cmp);
    (first[runs / 2], second[runs / 2], ratios[runs / 2])
}

/// The median wall time and the median peak RSS of the samples.
fn median(samples: &mut [(Duration, i64)]) -> (Duration, i64) {
    let runs = samples.len();
    samples.sort_by_key(|s| s.0);
    let wall = samples[runs / 2].0;
    let mut rss: Vec<i64> = samples.iter().map(|s| s.1).collect();
    rss.sort();
    (wall, rss[runs / 2])
}

fn median_of(runs: usize, mut f: impl FnMut() -> (Duration, i64)) -> (Duration, i64) {
    let mut samples: Vec<(Duration, i64)> = (0..runs).map(|_| f()).collect();
    median(&mut samples)
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
