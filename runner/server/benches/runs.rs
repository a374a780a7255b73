//! What the Cloud Runner adds to a run: one-step runs (one managed secret,
//! one request) submitted over the HTTP API to a server in this process,
//! against the same runs done directly by the engine, in the same process
//! and the same run of this bench.
//!
//! Latency: from just before the submit (or the engine call) to the moment
//! the target server receives the run's request, one run at a time; p50 and
//! p99. Throughput: 1000 runs submitted by 8 clients at once, until every
//! run has ended; the engine baseline runs 1000 at `WORKERS` at a time.
//!
//! Run with `cargo bench -p reqflo-server --bench runs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use secrecy::SecretString;
use serde_json::json;

use reqflo_core::plan::InputMode;
use reqflo_core::redact::Redactor;
use reqflo_core::secret::HeldValues;
use reqflo_engine::{Quiet, RunSettings, Stop, run_plans};
use reqflo_sandbox::secrets::Providers;
use reqflo_server::project::{StoredProject, plan_all};
use reqflo_server::registry::SecretPolicy;
use reqflo_server::{ServerConfig, router};

mod common;
use common::{KEY, arrival, drained, files, not_passed, percentile, target};

const WORKERS: usize = 4;
const LATENCY_RUNS: usize = 300;
const THROUGHPUT_RUNS: usize = 1000;
const CLIENTS: usize = 8;

/// The baseline: the engine, in process, the way a worker calls it.
struct Direct {
    project: reqflo_core::project::Project,
    providers: Providers,
}

impl Direct {
    fn new(base_url: &str) -> Direct {
        let stored = StoredProject {
            files: files(base_url),
        };
        let registry = [SecretPolicy {
            name: "BENCH_KEY".into(),
            description: String::new(),
            journeys: None,
            environments: None,
            hosts: None,
            allow_http: false,
            disabled: false,
            provider: None,
            reference: None,
            version: 1,
            length_class: String::new(),
            created_at: String::new(),
            created_by: String::new(),
            rotated_at: None,
            last_used_at: None,
            last_used_by: None,
        }];
        let project = stored
            .compose(&registry, &serde_yaml::Mapping::new())
            .expect("compose");
        let providers = Providers::hosted(&project).expect("providers");
        Direct { project, providers }
    }

    async fn run(&self, n: u64) {
        let mut inputs = IndexMap::new();
        inputs.insert("n".to_string(), n.to_string());
        let plans = plan_all(
            &self.project,
            &["one".into()],
            Some("bench"),
            &inputs,
            &IndexMap::new(),
            InputMode::NoPrompt,
        )
        .expect("plan");
        let mut held = HeldValues::default();
        held.insert("BENCH_KEY", SecretString::from(KEY.to_string()));
        let settings = RunSettings {
            timeout: Duration::from_secs(30),
            record_messages: true,
            max_body: 1 << 20,
            max_body_setting: "max_body",
            jobs: 1,
            redactor: Redactor::for_run(),
            held: Some(Arc::new(held)),
        };
        let (report, error) = run_plans(
            &self.project,
            &self.providers,
            &plans,
            &settings,
            &Quiet,
            &Stop::new(),
        )
        .await;
        assert!(error.is_none(), "{error:?}");
        // What a worker keeps, so the baseline does the same work but storing.
        for format in [
            reqflo_core::report::Format::Json,
            reqflo_core::report::Format::Junit,
            reqflo_core::report::Format::Html,
        ] {
            let _ = reqflo_core::report::render(&report, format, &settings.redactor);
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (base_url, arrivals) = target().await;
        let direct = Arc::new(Direct::new(&base_url));

        // The server: a real store in a temporary folder, served on a port.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::defaults(dir.path().join("data"));
        config.workers = WORKERS;
        config.queue_limit = THROUGHPUT_RUNS * 2;
        let opened = reqflo_server::open(config).await.expect("open");
        let admin = opened.admin_token.expect("token");
        let _workers = reqflo_server::spawn_workers(&opened.state, WORKERS);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = format!("http://{}", listener.local_addr().expect("addr"));
        let app = router(opened.state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let post = |path: String, body: serde_json::Value| {
            client.post(format!("{server}{path}")).bearer_auth(&admin).json(&body).send()
        };
        let created = post("/api/secrets".into(), json!({"name": "BENCH_KEY", "value": KEY})).await.expect("secret");
        assert!(created.status().is_success());
        let uploaded = client
            .put(format!("{server}/api/projects/bench"))
            .bearer_auth(&admin)
            .json(&json!({"files": files(&base_url)}))
            .send()
            .await
            .expect("upload");
        assert!(uploaded.status().is_success(), "{:?}", uploaded.text().await);
        let submit = |n: u64| post("/api/runs".into(), json!({"project": "bench", "journeys": ["one"], "environment": "bench", "inputs": {"n": n.to_string()}}));

        // Warm both paths (the first run compiles and caches what it can).
        direct.run(1_000_000).await;
        let warm = submit(1_000_001).await.expect("submit");
        assert!(warm.status().is_success(), "{:?}", warm.text().await);
        arrival(&arrivals, 1_000_001).await;

        // Latency, one run at a time, the two paths interleaved so machine
        // noise falls on both alike.
        let (mut engine, mut api, mut answered) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..LATENCY_RUNS as u64 {
            let n = 2_000_000 + 2 * i;
            let start = Instant::now();
            direct.run(n).await;
            engine.push(arrival(&arrivals, n).await - start);
            let n = n + 1;
            let start = Instant::now();
            let answer = submit(n).await.expect("submit");
            answered.push(start.elapsed());
            assert!(answer.status().is_success());
            api.push(arrival(&arrivals, n).await - start);
        }
        // Let the last server runs finish before the throughput rounds.
        tokio::time::sleep(Duration::from_millis(200)).await;

        // Throughput: the engine, WORKERS at a time.
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..WORKERS as u64 {
            let direct = direct.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 3_000_000 + w;
                while n < 3_000_000 + THROUGHPUT_RUNS as u64 {
                    direct.run(n).await;
                    n += WORKERS as u64;
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        let engine_rate = THROUGHPUT_RUNS as f64 / start.elapsed().as_secs_f64();

        // Throughput: the server, CLIENTS submitting at once, until every run ended.
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS as u64 {
            let client = client.clone();
            let server = server.clone();
            let token = admin.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 4_000_000 + c;
                while n < 4_000_000 + THROUGHPUT_RUNS as u64 {
                    let answer = client
                        .post(format!("{server}/api/runs"))
                        .bearer_auth(&token)
                        .json(&json!({"project": "bench", "journeys": ["one"], "environment": "bench", "inputs": {"n": n.to_string()}}))
                        .send()
                        .await
                        .expect("submit");
                    assert!(answer.status().is_success());
                    n += CLIENTS as u64;
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        drained(&opened.state.db).await;
        let api_rate = THROUGHPUT_RUNS as f64 / start.elapsed().as_secs_f64();
        let failed = not_passed(&opened.state.db).await;

        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (e50, e99) = (percentile(&mut engine, 0.5), percentile(&mut engine, 0.99));
        let (a50, a99) = (percentile(&mut api, 0.5), percentile(&mut api, 0.99));
        println!("one-step runs, {WORKERS} workers, {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));
        println!("latency to the first request ({LATENCY_RUNS} runs each, one at a time):");
        println!("  engine in process  p50 {:>7.2} ms  p99 {:>7.2} ms", ms(e50), ms(e99));
        println!("  server API         p50 {:>7.2} ms  p99 {:>7.2} ms", ms(a50), ms(a99));
        let (s50, s99) = (percentile(&mut answered, 0.5), percentile(&mut answered, 0.99));
        println!("    of which the submit's answer (202) p50 {:>7.2} ms  p99 {:>7.2} ms", ms(s50), ms(s99));
        println!(
            "  the server adds    p50 {:>7.2} ms  p99 {:>7.2} ms  (ratio p50 {:.2}x)",
            ms(a50) - ms(e50),
            ms(a99) - ms(e99),
            ms(a50) / ms(e50)
        );
        println!("throughput ({THROUGHPUT_RUNS} runs):");
        println!("  engine in process  {engine_rate:>7.0} runs/s");
        println!("  server API         {api_rate:>7.0} runs/s  ({:.2}x of the engine; {CLIENTS} clients)", api_rate / engine_rate);
        println!("  runs not passed: {failed}");
    });
}
