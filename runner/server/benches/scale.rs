//! Scale-out: one-step runs (one managed secret, one request) submitted
//! over the HTTP API, run by
//!
//! - the server's in-process workers on SQLite (the baseline),
//! - the server's in-process workers on Postgres,
//! - 1, 2 and 4 `reqflo worker`s on Postgres (each the real worker loop,
//!   `worker::work`, with its own pool, listener and lease, in this
//!   process: on one machine separate processes share the same cores),
//!
//! all in the same run of this bench, against a real Postgres (Debian's,
//! started as the tests start it). Throughput: `RUNS` runs submitted by
//! `CLIENTS` clients at once until every run has ended. Pickup latency:
//! from just before the submit to the moment the target receives the run's
//! request, one run at a time; p50 and p99.
//!
//! Run with `cargo bench -p reqflo-server --bench scale`.

use std::time::{Duration, Instant};

use serde_json::json;

use reqflo_server::db::Database;
use reqflo_server::{ServerConfig, router};

mod common;
use common::{Arrivals, KEY, arrival, drained, files, not_passed, percentile, target};

#[path = "../tests/support/pg_cluster.rs"]
#[allow(dead_code)] // `dump` is for the tests
mod pg_cluster;

/// Slots per process: the server's in-process workers, each worker's.
const SLOTS: usize = 4;
const LATENCY_RUNS: usize = 200;
const RUNS: usize = 400;
const CLIENTS: usize = 8;

#[derive(Clone, Copy)]
enum Setup {
    Sqlite,
    PostgresInProcess,
    Workers(usize),
}

impl Setup {
    fn name(self) -> String {
        match self {
            Setup::Sqlite => "server, SQLite, in process".into(),
            Setup::PostgresInProcess => "server, Postgres, in process".into(),
            Setup::Workers(1) => "1 worker, Postgres".into(),
            Setup::Workers(n) => format!("{n} workers, Postgres"),
        }
    }
}

struct Measured {
    rate: f64,
    p50: Duration,
    p99: Duration,
    failed: i64,
}

async fn measure(setup: Setup, base_url: &str, arrivals: &Arrivals, first: u64) -> Measured {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServerConfig::defaults(dir.path().join("data"));
    config.queue_limit = RUNS * 2;
    config.workers = SLOTS;
    if !matches!(setup, Setup::Sqlite) {
        config.database = Database::Postgres(pg_cluster::database());
    }
    if let Setup::Workers(_) = setup {
        config.workers = 0;
    }
    let opened = reqflo_server::open(config.clone()).await.expect("open");
    let admin = opened.admin_token.clone().expect("token");
    let _in_process = reqflo_server::spawn_workers(&opened.state, config.workers);
    let mut stops = Vec::new();
    let mut workers = Vec::new();
    if let Setup::Workers(n) = setup {
        for _ in 0..n {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (ready, started) = tokio::sync::oneshot::channel::<()>();
            let mut config = config.clone();
            config.workers = SLOTS;
            workers.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.await;
                };
                reqflo_server::worker::work(config, shutdown, |_| {
                    let _ = ready.send(());
                })
                .await
                .expect("worker");
            }));
            started.await.expect("the worker started");
            stops.push(stop);
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(opened.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{server}/api/secrets"))
        .bearer_auth(&admin)
        .json(&json!({"name": "BENCH_KEY", "value": KEY}))
        .send()
        .await
        .expect("secret");
    assert!(created.status().is_success());
    let uploaded = client
        .put(format!("{server}/api/projects/bench"))
        .bearer_auth(&admin)
        .json(&json!({"files": files(base_url)}))
        .send()
        .await
        .expect("upload");
    assert!(uploaded.status().is_success());
    let submit = |n: u64| {
        client
            .post(format!("{server}/api/runs"))
            .bearer_auth(&admin)
            .json(&json!({"project": "bench", "journeys": ["one"], "environment": "bench", "inputs": {"n": n.to_string()}}))
            .send()
    };

    // Warm up, then pickup latency one run at a time.
    let answer = submit(first).await.expect("submit");
    assert!(answer.status().is_success(), "{:?}", answer.text().await);
    arrival(arrivals, first).await;
    let mut pickup = Vec::new();
    for i in 1..=LATENCY_RUNS as u64 {
        let start = Instant::now();
        let answer = submit(first + i).await.expect("submit");
        assert!(answer.status().is_success());
        pickup.push(arrival(arrivals, first + i).await - start);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Throughput: CLIENTS submitting at once, until every run ended.
    let start = Instant::now();
    let mut tasks = Vec::new();
    let base = first + LATENCY_RUNS as u64 + 1;
    for c in 0..CLIENTS as u64 {
        tasks.push(async move {
            let mut n = base + c;
            while n < base + RUNS as u64 {
                let answer = submit(n).await.expect("submit");
                assert!(answer.status().is_success());
                n += CLIENTS as u64;
            }
        });
    }
    futures_util::future::join_all(tasks).await;
    drained(&opened.state.db).await;
    let rate = RUNS as f64 / start.elapsed().as_secs_f64();
    let failed = not_passed(&opened.state.db).await;
    for stop in stops {
        let _ = stop.send(());
    }
    for worker in workers {
        let _ = worker.await;
    }
    Measured {
        rate,
        p50: percentile(&mut pickup, 0.5),
        p99: percentile(&mut pickup, 0.99),
        failed,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (base_url, arrivals) = target().await;
        let setups = [
            Setup::Sqlite,
            Setup::PostgresInProcess,
            Setup::Workers(1),
            Setup::Workers(2),
            Setup::Workers(4),
        ];
        let mut results = Vec::new();
        for (i, setup) in setups.into_iter().enumerate() {
            let first = 10_000_000 * (i as u64 + 1);
            results.push((setup, measure(setup, &base_url, &arrivals, first).await));
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let baseline = results[0].1.rate;
        println!(
            "one-step runs, {SLOTS} slots per process, {} cores; {RUNS} runs by {CLIENTS} clients; pickup: {LATENCY_RUNS} runs one at a time",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "{:<30} {:>10} {:>9} {:>12} {:>12} {:>7}",
            "", "runs/s", "ratio", "pickup p50", "pickup p99", "failed"
        );
        for (setup, m) in &results {
            println!(
                "{:<30} {:>10.0} {:>8.2}x {:>9.2} ms {:>9.2} ms {:>7}",
                setup.name(),
                m.rate,
                m.rate / baseline,
                ms(m.p50),
                ms(m.p99),
                m.failed
            );
        }
    });
}
