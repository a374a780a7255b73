//! Ctrl-C and SIGTERM: the run stops where it is (the request in flight is
//! abandoned and its connection closed, a plugin in a busy loop is left),
//! reports are written for what ran, and reqflo exits 130. A second signal
//! quits at once. Every request carries the CANARY secret, in a header and in
//! the query; the server checks it got exactly that, and each output checked
//! must show its `[redacted:API_KEY]` marker and no form of its value. Waits
//! are for events (the server saw a request, the run printed a line, the
//! process burned CPU), never for a guessed length of time.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{CANARY, Run, TestProject, assert_hidden, project, read_report};

/// What a loopback server saw.
#[derive(Debug)]
enum Seen {
    /// A request for `path` arrived, carrying `header` as its `X-Key` and
    /// `query` as its `k` parameter (decoded). `/silent` gets no answer.
    Asked {
        path: String,
        header: Option<String>,
        query: Option<String>,
    },
    /// The client of a `/silent` request closed the connection.
    Closed,
}

/// A server that answers `/ok` and never answers `/silent`, telling the test
/// of every request as it arrives, with the key it carried, and when the
/// client of a silent one hangs up.
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

/// Read a request head from `stream`, up to its blank line.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn serve(mut stream: TcpStream, seen: &Sender<Seen>) {
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("x-key")
            .then(|| value.trim().to_string())
    });
    let query = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "k")
        .map(|(_, value)| value.into_owned());
    let silent = path == "/silent";
    let _ = seen.send(Seen::Asked {
        path: path.to_string(),
        header,
        query,
    });
    if silent {
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

/// Wait for the server's next event: a request for `path` that carried
/// exactly the canary, in its header and in its query.
fn expect_canary_request(seen: &Receiver<Seen>, path: &str, run: &Background) {
    match seen.recv_timeout(Duration::from_secs(60)) {
        Ok(Seen::Asked {
            path: got,
            header,
            query,
        }) => {
            assert_eq!(got, path, "the server's next request\n{}", run.output());
            assert_eq!(header.as_deref(), Some(CANARY), "{path}: X-Key");
            assert_eq!(query.as_deref(), Some(CANARY), "{path}: k");
        }
        other => panic!(
            "expected a request for {path}, got {other:?}\n{}",
            run.output()
        ),
    }
}

/// A reqflo process running in the background, its output collected.
struct Background {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Background {
    fn start(p: &TestProject, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut child = common::command(p.dir.path(), args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("reqflo starts");
        let (stdout, out) = collect(child.stdout.take().expect("stdout"));
        let (stderr, err) = collect(child.stderr.take().expect("stderr"));
        Background {
            child,
            stdout,
            stderr,
            readers: vec![out, err],
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with our own child's pid and a valid signal number.
        let sent = unsafe { libc::kill(self.pid(), signal) };
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

    /// Wait for the process to exit and its output to end, as a [`Run`];
    /// fail (killing the process) after `limit`.
    fn finish(&mut self, limit: Duration) -> Run {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("reqflo did not exit within {limit:?}\n{}", self.output());
            }
            thread::sleep(Duration::from_millis(20));
        };
        // Its pipes close as it exits: the readers end having read it all.
        for reader in self.readers.drain(..) {
            reader.join().expect("an output reader");
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.lock().expect("lock").clone(),
            stderr: self.stderr.lock().expect("lock").clone(),
        }
    }

    /// Wait until `stream` (stdout or stderr) contains `needle`.
    fn wait_for(&mut self, stream: &str, needle: &str) {
        let start = Instant::now();
        let text = match stream {
            "stdout" => Arc::clone(&self.stdout),
            _ => Arc::clone(&self.stderr),
        };
        while !text.lock().expect("lock").contains(needle) {
            assert!(
                self.running() && start.elapsed() < Duration::from_secs(60),
                "never printed {needle:?} to {stream}\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// CPU time the process has used so far (all its threads), in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("/proc/PID/stat");
        // After the command name in parentheses: field 3 (state) onwards;
        // utime and stime are fields 14 and 15.
        let (_, rest) = stat.rsplit_once(')').expect("a stat line");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> u64 { fields[i].parse().expect("a tick count") };
        ticks(11) + ticks(12)
    }
}

impl Drop for Background {
    /// A test that fails leaves no reqflo behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let into = Arc::clone(&text);
    let reader = thread::spawn(move || {
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
    (text, reader)
}

/// Three steps, each sending the canary in a header and in the query:
/// `/ok`, then `/silent`, then `/ok`.
fn three_steps(url: &str) -> TestProject {
    let template =
        "method: GET\nurl: \"{{url}}\"\nheaders:\n  X-Key: \"{{key}}\"\nquery:\n  k: \"{{key}}\"\n";
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
    // The server says when each request arrives: the first step's, then the
    // silent one, now in flight. Both carried the canary.
    expect_canary_request(&seen, "/ok", &run);
    expect_canary_request(&seen, "/silent", &run);
    run.signal(signal);
    let done = run.finish(Duration::from_secs(30));
    let output = run.output();
    done.expect_code(130).expect_no_scan_refusal();
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
    // stdout: the first step's line shows its URL; stderr: the -v dumps of
    // the first request and of the one in flight.
    assert_hidden(&done.stdout, "API_KEY", CANARY, "stdout");
    assert_eq!(
        done.stderr.matches("> x-key: [redacted:API_KEY]").count(),
        2,
        "stderr: both requests sent were dumped, redacted\n{output}"
    );
    assert_hidden(&done.stderr, "API_KEY", CANARY, "stderr");

    // Reports were written for what ran (the first step's request holds the
    // marker in each), and match the schema.
    let json = read_report(&done, &p.path("out/r.json"));
    let junit = read_report(&done, &p.path("out/r.xml"));
    let html = read_report(&done, &p.path("out/html/index.html"));
    for (text, what) in [(&json, "JSON"), (&junit, "JUnit"), (&html, "HTML")] {
        assert_hidden(text, "API_KEY", CANARY, what);
    }
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
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
    assert_eq!(
        j["steps"][0]["request"]["headers"],
        serde_json::json!([["x-key", "[redacted:API_KEY]"]]),
        "the first step's request, as recorded"
    );
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

/// A server for the hostile plugin's `http:` action: it answers one request
/// with a short value, then tells the test it has.
fn answer_once() -> (String, Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let authority = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = channel();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        if read_head(&mut stream).is_none() {
            return;
        }
        let body = b"plugin-ran-this-far";
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(body);
        let _ = stream.flush();
        let _ = tx.send(());
    });
    (authority, rx)
}

#[test]
fn ctrl_c_stops_a_plugin_in_a_busy_loop_long_before_its_budget() {
    // Secrets resolve one at a time, in the order the journey uses them, on
    // one instance of the provider: `READY` (the plugin fetches it from our
    // server, so the server knows the plugin is running) and then `S`,
    // whose reference makes the plugin spin.
    let (authority, ready) = answer_once();
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    grants: {{hosts: [\"{authority}\"]}}\n    limits: {{timeout_ms: 120000}}\nsecrets:\n  READY: {{reference: \"http:http://{authority}/ready\"}}\n  S: {{reference: loop}}\n"
    );
    let p = project(&[
        ("reqflo.yaml", &config),
        (
            "journeys/j.yaml",
            "steps:\n  - id: r\n    template: echo\n    values: {key: {type: secret, name: READY}}\n  - id: s\n    template: echo\n    values: {key: {type: secret, name: S}}\n",
        ),
    ]);
    let mut run = Background::start(
        &p,
        &["run", "j", "--env", "test", "--report-json", "r.json"],
        &[],
    );
    assert!(
        ready.recv_timeout(Duration::from_secs(60)).is_ok(),
        "the plugin never fetched READY\n{}",
        run.output()
    );
    // From the answer on, all the process has left to do before the signal
    // is hand READY back and start `loop`; a full second of CPU more than it
    // had used by then is the loop spinning (bounded polling, not a guess at
    // how long loading takes). The loop's budget is two minutes, so only
    // the signal can end it now.
    let before = run.cpu_ticks();
    // SAFETY: sysconf with a valid name.
    let second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).expect("ticks/s");
    let start = Instant::now();
    while run.cpu_ticks() < before + second {
        assert!(
            run.running() && start.elapsed() < Duration::from_secs(60),
            "the plugin never spun (no CPU used since READY)\n{}",
            run.output()
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert!(run.running(), "ended before the signal\n{}", run.output());
    run.signal(libc::SIGINT);
    let done = run.finish(Duration::from_secs(30));
    let output = run.output();
    done.expect_code(130);
    assert!(
        output.contains("error: interrupted by SIGINT while resolving secrets"),
        "{output}"
    );
    assert!(!output.contains("CPU budget"), "{output}");
    let report = read_report(&done, &p.path("r.json"));
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON");
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(
        report["error"],
        "interrupted by SIGINT while resolving secrets"
    );
}

#[test]
fn a_second_ctrl_c_quits_at_once_even_when_the_run_is_stuck() {
    let (url, seen) = silent_server();
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
        &["run", "k", "-v", "--report-json", "stuck.json"],
        &[("API_KEY", CANARY)],
    );
    expect_canary_request(&seen, "/ok", &run);
    run.wait_for("stdout", "k passed: 1 of 1 step ok");
    run.signal(libc::SIGINT);
    // The first signal is seen (it says so) and does not end the run ...
    run.wait_for("stderr", "interrupted (SIGINT): stopping");
    assert!(
        run.running(),
        "a first Ctrl-C must not quit a run that is writing its reports\n{}",
        run.output()
    );
    // ... the second one does: only a run still there to get it can say so.
    run.signal(libc::SIGINT);
    let done = run.finish(Duration::from_secs(10));
    let output = run.output();
    done.expect_code(130);
    assert!(
        output.contains("interrupted again (SIGINT): quitting at once, without reports"),
        "{output}"
    );
    // The step line (stdout) and the -v dump (stderr) show the key went out.
    assert_hidden(&done.stdout, "API_KEY", CANARY, "stdout");
    assert_hidden(&done.stderr, "API_KEY", CANARY, "stderr");
}
