//! What the benches share: a target that records when each request
//! arrives, the one-step project, percentiles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::get;
use indexmap::IndexMap;

/// The bench's secret value.
pub const KEY: &str = "sk_bench_0123456789abcdef";

/// When each request `/hit/N` arrived.
pub type Arrivals = Arc<Mutex<HashMap<u64, Instant>>>;

async fn hit(State(arrivals): State<Arrivals>, Path(n): Path<u64>) -> &'static str {
    if let Ok(mut map) = arrivals.lock() {
        map.insert(n, Instant::now());
    }
    "ok"
}

/// The target server on a free port: its URL, and when each request came.
pub async fn target() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let app = axum::Router::new()
        .route("/hit/{n}", get(hit))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrivals)
}

/// The one-step project: `one` sends `n` to `/hit/{n}` with `BENCH_KEY`.
pub fn files(base_url: &str) -> IndexMap<String, String> {
    let mut files = IndexMap::new();
    files.insert(
        "reqflo.yaml".into(),
        format!("environments:\n  bench:\n    variables: {{base_url: \"{base_url}\"}}\n"),
    );
    files.insert(
        "templates/hit.yaml".into(),
        "method: GET\nurl: \"{{base_url}}/hit/{{n}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n".into(),
    );
    files.insert(
        "journeys/one.yaml".into(),
        "inputs:\n  n: {}\nsteps:\n  - id: hit\n    template: hit\n    values:\n      key: {type: secret, name: BENCH_KEY}\n      n: {type: input, name: n}\n".into(),
    );
    files
}

/// The `p` quantile of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

/// Wait until request `n` has arrived; returns when.
pub async fn arrival(arrivals: &Arrivals, n: u64) -> Instant {
    loop {
        if let Some(at) = arrivals.lock().ok().and_then(|m| m.get(&n).copied()) {
            return at;
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

/// Wait until no run is queued or running.
pub async fn drained(db: &reqflo_server::db::Db) {
    loop {
        let (open,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')")
                .fetch_one(db)
                .await
                .expect("count");
        if open == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How many runs did not pass.
pub async fn not_passed(db: &reqflo_server::db::Db) -> i64 {
    let (failed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM runs WHERE status != 'passed'")
        .fetch_one(db)
        .await
        .expect("count");
    failed
}
