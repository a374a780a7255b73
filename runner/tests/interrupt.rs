//! Ctrl-C and SIGTERM: the run stops where it is (the request in flight is
//! abandoned and its connection closed, a plugin in a busy loop is left),
//! reports are written for what ran, and reqflo exits 130. A second signal
//! quits at once. The CANARY secret never shows in any of it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{CANARY, TestProject, assert_absent, project};

/// What a loopback server saw of the request to `/silent`.
enum Seen {
    /// The request arrived (and will get no answer).
    Asked,
    /// The client closed the connection.
    Closed,
}

/// A server that answers `/ok` and never answers `/silent`, telling the test
/// when a silent request arrives and when its client hangs up.
fn silent_server() -> (String, Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = channel();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            thread::spawn(move || serve(stream, &tx));
        }
    });
    (url, rx)
}

fn serve(mut stream: TcpStream, seen: &Sender<Seen>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    if head.starts_with("GET /silent ") {
        let _ = seen.send(Seen::Asked);
        // Say nothing; wait for the client to give up on us.
        let mut rest = [0u8; 256];
        while matches!(stream.read(&mut rest), Ok(n) if n > 0) {}
        let _ = seen.send(Seen::Closed);
        return;
    }
    let body = b"{\"ok\":true}";
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

/// A reqflo process running in the background, its output collected.
struct Background {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Background {
    fn start(p: &TestProject, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut child = common::command(p.dir.path(), args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("reqflo starts");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        Background {
            child,
            stdout,
            stderr,
        }
    }

    fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) with our own child's pid and a valid signal number.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill failed");
    }

    fn output(&self) -> String {
        let out = self.stdout.lock().expect("lock").clone();
        let err = self.stderr.lock().expect("lock").clone();
        format!("--- stdout\n{out}\n--- stderr\n{err}")
    }

    /// Whether the process has ended, without waiting.
    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait for the exit code; fail (killing the process) after `limit`.
    fn exit_code(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the readers take the last output.
                thread::sleep(Duration::from_millis(100));
                return status.code().unwrap_or(-1);
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("reqflo did not exit within {limit:?}\n{}", self.output());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until the collected stdout contains `needle`.
    fn wait_for_stdout(&mut self, needle: &str) {
        let start = Instant::now();
        while !self.stdout.lock().expect("lock").contains(needle) {
            assert!(
                self.running() && start.elapsed() < Duration::from_secs(60),
                "never printed {needle:?}\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let into = Arc::clone(&text);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// Three steps, each sending the canary: `/ok`, then `/silent`, then `/ok`.
fn three_steps(url: &str) -> TestProject {
    let template = "method: GET\nurl: \"{{url}}\"\nheaders:\n  X-Key: \"{{key}}\"\n";
    let step = |id: &str, path: &str| {
        format!(
            "  - id: {id}\n    template: call\n    values:\n      url: \"{url}{path}\"\n      key: {{type: secret, name: API_KEY}}\n"
        )
    };
    let journey = format!(
        "steps:\n{}{}{}",
        step("first", "/ok"),
        step("stuck", "/silent"),
        step("never", "/ok")
    );
    project(&[
        ("templates/call.yaml", template),
        ("journeys/j.yaml", &journey),
        (
            "journeys/k.yaml",
            &step("other", "/ok").replace("  - ", "steps:\n  - "),
        ),
    ])
}

/// Stop a run mid-request with `signal`, then check what it left behind.
fn stop_mid_request(signal: i32, name: &str) {
    let (url, seen) = silent_server();
    let p = three_steps(&url);
    let mut run = Background::start(
        &p,
        &[
            "run",
            "j",
            "k",
            "-v",
            "--timeout",
            "120s",
            "--report-json",
            "out/r.json",
            "--report-junit",
            "out/r.xml",
            "--report-html",
            "out/html",
        ],
        &[("API_KEY", CANARY)],
    );
    assert!(
        matches!(seen.recv_timeout(Duration::from_secs(60)), Ok(Seen::Asked)),
        "the silent step was never sent\n{}",
        run.output()
    );
    run.signal(signal);
    let code = run.exit_code(Duration::from_secs(30));
    let output = run.output();
    assert_eq!(code, 130, "{output}");
    // The abandoned request's connection was closed, not left hanging.
    assert!(
        matches!(seen.recv_timeout(Duration::from_secs(10)), Ok(Seen::Closed)),
        "the in-flight request's connection stayed open\n{output}"
    );
    assert!(
        output.contains(&format!("interrupted ({name}): stopping")),
        "{output}"
    );
    assert!(output.contains("STOP   stuck"), "{output}");
    assert!(output.contains("skip   never"), "{output}");
    assert!(
        output.contains("j interrupted: 1 of 3 steps ok"),
        "{output}"
    );
    assert_absent(&output, CANARY, "console");

    // Reports were written for what ran, and match the schema.
    let json = std::fs::read_to_string(p.path("out/r.json")).expect("JSON report written");
    let junit = std::fs::read_to_string(p.path("out/r.xml")).expect("JUnit report written");
    let html = std::fs::read_to_string(p.path("out/html/index.html")).expect("HTML report written");
    for (text, what) in [(&json, "JSON"), (&junit, "JUnit"), (&html, "HTML")] {
        assert_absent(text, CANARY, what);
    }
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema).expect("schema")).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
    assert_eq!(report["outcome"], "interrupted");
    let j = &report["journeys"][0];
    assert_eq!(j["outcome"], "interrupted");
    let outcomes: Vec<&str> = j["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(outcomes, ["passed", "interrupted", "skipped"]);
    let error = j["steps"][1]["error"].as_str().expect("error");
    assert!(
        error.starts_with(&format!("interrupted by {name}")),
        "{error}"
    );
    // The second journey never started: listed, every step skipped.
    let k = &report["journeys"][1];
    assert_eq!(
        (&k["name"], &k["outcome"]),
        (&"k".into(), &"skipped".into())
    );
    assert_eq!(k["steps"][0]["outcome"], "skipped");
    assert!(junit.contains("type=\"interrupted\""), "{junit}");
    assert!(
        html.contains("badge interrupted"),
        "no interrupted badge in the HTML"
    );
}

#[test]
fn ctrl_c_mid_request_abandons_it_writes_reports_and_exits_130() {
    stop_mid_request(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_stops_a_run_like_ctrl_c() {
    stop_mid_request(libc::SIGTERM, "SIGTERM");
}

#[test]
fn ctrl_c_stops_a_plugin_in_a_busy_loop_long_before_its_budget() {
    let config = "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    limits: {timeout_ms: 120000}\nsecrets:\n  S: {reference: loop}\n";
    let p = project(&[
        ("reqflo.yaml", config),
        (
            "journeys/j.yaml",
            "steps:\n  - id: s\n    template: echo\n    values: {key: {type: secret, name: S}}\n",
        ),
    ]);
    let mut run = Background::start(
        &p,
        &["run", "j", "--env", "test", "--report-json", "r.json"],
        &[],
    );
    // Long enough to load the plugin and be deep in its loop; the loop's
    // budget is two minutes, so only the signal can end it this soon.
    thread::sleep(Duration::from_secs(3));
    assert!(run.running(), "ended before the signal\n{}", run.output());
    run.signal(libc::SIGINT);
    let code = run.exit_code(Duration::from_secs(30));
    let output = run.output();
    assert_eq!(code, 130, "{output}");
    assert!(
        output.contains("error: interrupted by SIGINT while resolving secrets"),
        "{output}"
    );
    assert!(!output.contains("CPU budget"), "{output}");
    let report = std::fs::read_to_string(p.path("r.json")).expect("report written");
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON");
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(
        report["error"],
        "interrupted by SIGINT while resolving secrets"
    );
}

#[test]
fn a_second_ctrl_c_quits_at_once_even_when_the_run_is_stuck() {
    let (url, _seen) = silent_server();
    let p = three_steps(&url);
    // The JSON report goes to a FIFO nobody reads: opening it blocks, so the
    // run is stuck after its journey, where a first Ctrl-C cannot end it.
    let fifo = p.path("stuck.json");
    let status = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo failed");
    let mut run = Background::start(
        &p,
        &["run", "k", "--report-json", "stuck.json"],
        &[("API_KEY", CANARY)],
    );
    run.wait_for_stdout("k passed: 1 of 1 step ok");
    run.signal(libc::SIGINT);
    thread::sleep(Duration::from_millis(500));
    assert!(
        run.running(),
        "a first Ctrl-C must not quit a run that is writing its reports\n{}",
        run.output()
    );
    run.signal(libc::SIGINT);
    let code = run.exit_code(Duration::from_secs(10));
    let output = run.output();
    assert_eq!(code, 130, "{output}");
    assert!(
        output.contains("interrupted again (SIGINT): quitting at once, without reports"),
        "{output}"
    );
    assert_absent(&output, CANARY, "console");
}
