//! Scale-out: one `reqflo server` and `reqflo worker` processes over a real
//! Postgres (Debian's server, a private cluster started by the tests). Runs
//! are executed exactly once; a worker killed mid-run leaves its run
//! `interrupted` within the lease while another carries on; a worker that
//! lost its lease has its results refused.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Server, call};
use crate::common::command;

#[path = "../../../../server/tests/support/pg_cluster.rs"]
mod pg_cluster;

const KEY: &str = "sk_scale_Cn4ry_7d1e/+=";

/// A `reqflo worker` process, killed when dropped.
struct Worker {
    child: Child,
    /// Its name in the runs it claims.
    name: String,
    /// Its stderr.
    log: std::path::PathBuf,
}

impl Worker {
    fn start(data: &Path, database: &str, slots: &str) -> Worker {
        let log_path = data.with_extension(format!("worker{}.log", uuid_like()));
        let log = std::fs::File::create(&log_path).expect("log");
        let mut child = command(
            data.parent().expect("parent"),
            &[
                "worker",
                "--database",
                database,
                "--data",
                &data.display().to_string(),
                "--workers",
                slots,
            ],
            &[("RUST_LOG", "info")],
        )
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("worker starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = match lines.next() {
            Some(Ok(line)) => line,
            other => panic!("the worker printed no ready line: {other:?}"),
        };
        std::thread::spawn(move || for _ in lines {});
        let name = line
            .strip_prefix("reqflo worker ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("not a ready line: {line}"))
            .to_string();
        assert!(
            !line.contains("pw_") && line.contains("taking runs from postgres://"),
            "{line}"
        );
        Worker {
            child,
            name,
            log: log_path,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "signal {signal} to the worker");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A server on a new Postgres database with no in-process workers, a
/// project `scale` whose journeys call the demo API with a managed secret,
/// and the data folder (master key, `server.yaml` with `settings`) the
/// workers share.
struct Team {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    database: String,
    server: Server,
    admin: String,
    api: demo_api::Running,
    seen: Vec<String>,
}

impl Team {
    fn new(settings: &str) -> Team {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data");
        std::fs::write(data.join("server.yaml"), settings).expect("settings");
        let database = pg_cluster::database();
        let server = Server::start_args(&data, &["--workers", "0", "--database", &database], &[]);
        let admin = server.admin.clone().expect("admin token");
        let api = demo_api::spawn(KEY).expect("demo api");
        let mut team = Team {
            _dir: dir,
            data,
            database,
            server,
            admin,
            api,
            seen: Vec::new(),
        };
        let count = "method: POST\nurl: \"{{base_url}}/v1/count/{{n}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";
        let slow = "method: GET\nurl: \"{{base_url}}/slow?ms=30000\"\n";
        let once = "inputs:\n  n: {}\nsteps:\n  - id: count\n    template: count\n    values:\n      key: {type: secret, name: SCALE_KEY}\n      n: {type: input, name: n}\n    expect:\n      status: 201\n";
        let long = format!("{once}  - id: wait\n    template: slow\n");
        let slow_first = "method: POST\nurl: \"{{base_url}}/v1/count/{{n}}?slow_first_ms=30000\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";
        let safe = once
            .replace("template: count", "template: slow-first")
            .replace("inputs:", "rerun: safe\ninputs:");
        let config = format!(
            "environments:\n  demo:\n    variables: {{base_url: \"{}\"}}\n",
            team.api.base_url()
        );
        let files = json!({"files": {
            "reqflo.yaml": config,
            "templates/count.yaml": count,
            "templates/slow.yaml": slow,
            "templates/slow-first.yaml": slow_first,
            "journeys/safe.yaml": safe,
            "templates/pause.yaml": "method: GET\nurl: \"{{base_url}}/slow?ms=300\"\n",
            "journeys/pause.yaml": "inputs:\n  n: {}\nsteps:\n  - id: pause\n    template: pause\n",
            "journeys/once.yaml": once,
            "journeys/long.yaml": long,
        }});
        let (status, answer) = team.call("PUT", "/api/projects/scale", Some(files));
        assert_eq!(status, 200, "{answer}");
        let secret = json!({"name": "SCALE_KEY", "value": KEY, "journeys": ["*"]});
        let (status, answer) = team.call("POST", "/api/secrets", Some(secret));
        assert_eq!(status, 201, "{answer}");
        team
    }

    fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(
            &self.server.url,
            method,
            path,
            &self.admin,
            body,
            &mut self.seen,
        )
    }

    fn submit(&mut self, journey: &str, n: &str) -> String {
        let body = json!({"project": "scale", "journeys": [journey], "inputs": {"n": n}});
        let (status, answer) = self.call("POST", "/api/runs", Some(body));
        assert_eq!(status, 202, "{answer}");
        answer["id"].as_str().expect("id").to_string()
    }

    fn run(&mut self, id: &str) -> Value {
        self.call("GET", &format!("/api/runs/{id}"), None).1
    }

    /// Wait (up to `limit`) until `done` holds for run `id`; the run.
    fn until(&mut self, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let run = self.run(id);
            if done(&run) {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} is still {run}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The demo API's calls per key.
    fn counted(&self) -> serde_json::Map<String, Value> {
        let (_, stats) = call(
            &self.api.base_url(),
            "GET",
            "/__stats",
            "",
            None,
            &mut Vec::new(),
        );
        stats["counted"].as_object().cloned().unwrap_or_default()
    }
}

/// Run `id`'s server-sent events as they come, until `needle` is among
/// them (60 s at most).
fn events_until(team: &Team, id: &str, needle: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let mut response = reqwest::Client::new()
            .get(format!("{}/api/runs/{id}/events", team.server.url))
            .bearer_auth(&team.admin)
            .send()
            .await
            .expect("events");
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !seen.contains(needle) {
            let chunk = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {needle} within 60 s: {seen}"))
                .expect("a chunk");
            let Some(chunk) = chunk else {
                panic!("the stream ended before {needle}: {seen}")
            };
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        seen
    })
}

fn ended(run: &Value) -> bool {
    !matches!(run["status"].as_str(), Some("queued" | "running"))
}

#[test]
fn three_workers_run_three_hundred_runs_each_exactly_once() {
    let mut team = Team::new("lease: 5s\n");
    let workers: Vec<Worker> = (0..3)
        .map(|_| Worker::start(&team.data, &team.database, "4"))
        .collect();
    let ids: Vec<String> = (0..300)
        .map(|n| team.submit("once", &format!("r{n}")))
        .collect();
    let mut by_worker = std::collections::HashMap::<String, usize>::new();
    for id in &ids {
        let run = team.until(id, Duration::from_secs(180), ended);
        assert_eq!(run["status"], "passed", "{run}");
        *by_worker
            .entry(run["worker"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    // Each run's request reached the API once: no run lost, none twice.
    let counted = team.counted();
    assert_eq!(counted.len(), 300, "{counted:?}");
    assert!(counted.values().all(|c| c == 1), "{counted:?}");
    // Every run was claimed by one of the workers, by name.
    let names: Vec<&str> = workers.iter().map(|w| w.name.as_str()).collect();
    assert!(
        by_worker.keys().all(|w| names.contains(&w.as_str())),
        "{by_worker:?}"
    );
    assert!(by_worker.len() >= 2, "the runs were shared: {by_worker:?}");
    // No answer and no row holds the key.
    let dump = String::from_utf8_lossy(&pg_cluster::dump(&team.database)).into_owned();
    assert!(dump.contains(&ids[0]), "the dump holds the runs");
    for text in team.seen.iter().chain([&dump]) {
        assert!(!text.contains(KEY), "the key leaked: {text}");
    }
}

#[test]
fn a_killed_worker_leaves_its_run_interrupted_within_the_lease_and_another_carries_on() {
    let mut team = Team::new("lease: 1s\n");
    let first = Worker::start(&team.data, &team.database, "1");
    let id = team.submit("long", "killed");
    // Running, its first request sent: it is in the slow step now.
    let run = team.until(&id, Duration::from_secs(60), |run| {
        run["status"] == "running"
    });
    assert_eq!(run["worker"], first.name.as_str(), "{run}");
    super::wait_for("the first request", || {
        team.counted().contains_key("killed")
    });
    let second = Worker::start(&team.data, &team.database, "1");
    first.signal(libc::SIGKILL);
    let killed_at = Instant::now();
    let run = team.until(&id, Duration::from_secs(30), ended);
    assert_eq!(run["status"], "interrupted", "{run}");
    assert_eq!(run["exit_code"], 130, "{run}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&first.name) && error.contains("stopped renewing its lease"),
        "{run}"
    );
    eprintln!(
        "interrupted {:?} after the kill (lease 1s)",
        killed_at.elapsed()
    );
    // The other worker carries on with the queue; the killed run was never
    // sent again.
    let next = team.submit("once", "after");
    let next = team.until(&next, Duration::from_secs(60), ended);
    assert_eq!(next["status"], "passed", "{next}");
    assert_eq!(next["worker"], second.name.as_str(), "{next}");
    let counted = team.counted();
    assert_eq!(counted.get("killed"), Some(&json!(1)), "{counted:?}");
}

#[test]
fn a_worker_that_lost_its_lease_has_its_results_refused() {
    let mut team = Team::new("lease: 1s\n");
    let paused = Worker::start(&team.data, &team.database, "1");
    let id = team.submit("long", "paused");
    team.until(&id, Duration::from_secs(60), |run| {
        run["status"] == "running"
    });
    super::wait_for("the first request", || {
        team.counted().contains_key("paused")
    });
    // Stopped (not killed) past its lease: the server's reaper marks the
    // run interrupted. Woken, the worker finds its lease gone, stops the
    // run, and what it records is refused: the run stays as reaped.
    paused.signal(libc::SIGSTOP);
    let reaped = team.until(&id, Duration::from_secs(30), ended);
    assert_eq!(reaped["status"], "interrupted", "{reaped}");
    paused.signal(libc::SIGCONT);
    super::wait_for("the worker to find its lease lost", || {
        paused.log().contains("its results were refused")
    });
    let after = team.run(&id);
    assert_eq!(after["status"], "interrupted", "{after}");
    assert_eq!(after["error"], reaped["error"], "{after}");
    assert_eq!(after["finished_at"], reaped["finished_at"], "{after}");
}

#[test]
fn a_run_on_a_worker_is_followed_and_cancelled_from_the_server() {
    let mut team = Team::new("lease: 1s\n");
    let _worker = Worker::start(&team.data, &team.database, "1");
    // Followed from the server while a worker runs it: the stream ends
    // with the run, holding what the worker recorded.
    let id = team.submit("once", "followed");
    let (status, events) = team.call("GET", &format!("/api/runs/{id}/events"), None);
    assert_eq!(status, 200);
    let events = events.as_str().unwrap_or_default().to_string();
    for event in [
        "\"journey_started\"",
        "\"step_finished\"",
        "\"run_finished\"",
    ] {
        assert!(events.contains(event), "{event}: {events}");
    }
    assert!(events.contains("\"passed\""), "{events}");
    // Cancelled from the server: the worker's heartbeat reads it and stops
    // the run where it is.
    let id = team.submit("long", "cancelled");
    team.until(&id, Duration::from_secs(60), |run| {
        run["status"] == "running"
    });
    super::wait_for("the first request", || {
        team.counted().contains_key("cancelled")
    });
    // Followed live: the first step's end arrives while the run still
    // waits in its second (the worker stores events as they come).
    let so_far = events_until(&team, &id, "\"step_finished\"");
    assert!(so_far.contains("\"journey_started\""), "{so_far}");
    assert!(!so_far.contains("\"run_finished\""), "{so_far}");
    assert_eq!(team.run(&id)["status"], "running");
    team.seen.push(so_far);
    let (status, answer) = team.call("POST", &format!("/api/runs/{id}/cancel"), None);
    assert_eq!(status, 202, "{answer}");
    let run = team.until(&id, Duration::from_secs(30), ended);
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(run["exit_code"], 130, "{run}");
    // Neither the events as they streamed nor any row (the events stored
    // as they came among them) holds the key.
    let dump = String::from_utf8_lossy(&pg_cluster::dump(&team.database)).into_owned();
    assert!(dump.contains("step_finished"), "the dump holds the events");
    for text in team.seen.iter().chain([&dump]) {
        assert!(!text.contains(KEY), "the key leaked: {text}");
    }
}

#[test]
fn a_killed_worker_s_run_declared_safe_is_run_again_by_another() {
    let mut team = Team::new("lease: 1s\n");
    let first = Worker::start(&team.data, &team.database, "1");
    // `rerun: safe`: its one request answers 30 s late the first time.
    let id = team.submit("safe", "again");
    team.until(&id, Duration::from_secs(60), |run| {
        run["status"] == "running"
    });
    super::wait_for("the first request", || team.counted().contains_key("again"));
    let second = Worker::start(&team.data, &team.database, "1");
    first.signal(libc::SIGKILL);
    // Queued again when the lease lapsed, and run from the start by the
    // other worker: the request sent twice, as the journey allows.
    let run = team.until(&id, Duration::from_secs(60), ended);
    assert_eq!(run["status"], "passed", "{run}");
    assert_eq!(run["worker"], second.name.as_str(), "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
    assert_eq!(team.counted().get("again"), Some(&json!(2)));
}

#[test]
fn a_project_s_share_holds_across_workers() {
    let mut team = Team::new("lease: 5s\nproject_concurrency: 1\n");
    let _workers: Vec<Worker> = (0..2)
        .map(|_| Worker::start(&team.data, &team.database, "2"))
        .collect();
    let ids: Vec<String> = (0..4)
        .map(|n| team.submit("pause", &format!("p{n}")))
        .collect();
    let mut spans: Vec<(String, String)> = ids
        .iter()
        .map(|id| {
            let run = team.until(id, Duration::from_secs(60), ended);
            assert_eq!(run["status"], "passed", "{run}");
            let at = |field: &str| run[field].as_str().unwrap_or_default().to_string();
            (at("started_at"), at("finished_at"))
        })
        .collect();
    // Four workers' slots, one run of the project at a time: each started
    // after the one before it ended.
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "overlapping runs: {spans:?}");
    }
}
