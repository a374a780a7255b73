//! `--jobs N`: journeys side by side, each with its own cookie jar and
//! captures, the run's secrets shared; each journey's lines print whole. The
//! run's secret (CANARY, sent by every login) and each journey's captured one
//! must reach the server, and show only as their markers in each output.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{CANARY, assert_hidden, assert_redacted, project, read_report};

/// A server that is slow on purpose (200 ms a request, 600 ms for `a`'s
/// login) and records how many
/// requests it held at once. `/login?who=X` sets cookie `session=X` and
/// answers `{"who":"X"}`; `/me` answers the session cookie and the `X-Token`
/// header it got, so a journey can check both are its own. It keeps the
/// `X-Key` header of every login, by who logged in.
struct Slow {
    url: String,
    peak: Arc<AtomicUsize>,
    keys: Arc<Mutex<Vec<(String, String)>>>,
}

fn slow_server() -> Slow {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let peak = Arc::new(AtomicUsize::new(0));
    let now = Arc::new(AtomicUsize::new(0));
    let keys = Arc::new(Mutex::new(Vec::new()));
    let (seen, logins) = (Arc::clone(&peak), Arc::clone(&keys));
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (now, seen, logins) = (Arc::clone(&now), Arc::clone(&seen), Arc::clone(&logins));
            thread::spawn(move || {
                let held = now.fetch_add(1, Ordering::SeqCst) + 1;
                seen.fetch_max(held, Ordering::SeqCst);
                serve(stream, &logins, &now);
            });
        }
    });
    Slow { url, peak, keys }
}

/// Answer one request. `now` (requests being served) goes down before the
/// answer is written: a client that sends its next request as soon as it has
/// the answer must not find this one still counted (it was, when the thread
/// was slow to run its last line on a loaded machine).
fn serve(mut stream: TcpStream, logins: &Mutex<Vec<(String, String)>>, now: &AtomicUsize) {
    let mut counted = true;
    let mut done = || {
        if std::mem::take(&mut counted) {
            now.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return done(),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    // `a` logs in slowest, so it finishes last though it is named first.
    let pause = if target.contains("who=a-") { 600 } else { 200 };
    thread::sleep(Duration::from_millis(pause));
    let (cookie, body) = match target.strip_prefix("/login?who=") {
        Some(who) => {
            logins
                .lock()
                .expect("lock")
                .push((who.to_string(), header("x-key")));
            (
                format!("Set-Cookie: session={who}\r\n"),
                format!("{{\"who\":\"{who}\"}}"),
            )
        }
        None => {
            let session = header("cookie").replace("session=", "");
            let token = header("x-token");
            (
                String::new(),
                format!("{{\"session\":\"{session}\",\"token\":\"{token}\"}}"),
            )
        }
    };
    done();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{cookie}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Journeys `a`, `b`, `c`: log in as themselves (capturing who as a secret),
/// then check `/me` sees their own cookie and their own capture.
fn three_journeys(url: &str) -> common::TestProject {
    let login = format!(
        "method: GET\nurl: \"{url}/login?who={{{{who}}}}\"\nheaders:\n  X-Key: \"{{{{key}}}}\"\n"
    );
    let me = format!("method: GET\nurl: \"{url}/me\"\nheaders:\n  X-Token: \"{{{{token}}}}\"\n");
    let journey = |who: &str| {
        format!(
            "steps:\n  - id: login-{who}\n    template: login\n    values:\n      who: {who}-user\n      key: {{type: secret, name: API_KEY}}\n    capture:\n      who: {{jsonpath: $.who, secret: true}}\n  - id: me-{who}\n    template: me2\n    values:\n      token: {{type: capture, step: login-{who}, name: who}}\n    expect:\n      json: {{\"$.session\": {who}-user, \"$.token\": {who}-user}}\n"
        )
    };
    project(&[
        ("templates/login.yaml", &login),
        ("templates/me2.yaml", &me),
        ("journeys/a.yaml", &journey("a")),
        ("journeys/b.yaml", &journey("b")),
        ("journeys/c.yaml", &journey("c")),
    ])
}

#[test]
fn jobs_run_journeys_side_by_side_each_with_its_own_cookies_and_captures() {
    let server = slow_server();
    let p = three_journeys(&server.url);
    let run = p.run(
        &[
            "run",
            "a",
            "b",
            "c",
            "--jobs",
            "3",
            "-v",
            "--report-json",
            "r.json",
        ],
        &[("API_KEY", CANARY)],
    );
    run.expect_code(0).expect_no_scan_refusal();
    assert!(
        server.peak.load(Ordering::SeqCst) >= 2,
        "with --jobs 3 the server never saw two requests at once"
    );
    // Each journey's login sent exactly the canary.
    let mut logins = server.keys.lock().expect("lock").clone();
    logins.sort();
    assert_eq!(
        logins,
        ["a-user", "b-user", "c-user"].map(|who| (who.to_string(), CANARY.to_string())),
        "the logins and the keys they carried"
    );
    // Each journey's lines are printed together, in the order named (`a`
    // first, though it ends last).
    let headers: Vec<usize> = ["journey a", "journey b", "journey c"]
        .iter()
        .map(|h| run.stdout.find(h).expect("journey header"))
        .collect();
    for (i, who) in ["a", "b", "c"].iter().enumerate() {
        let own = &run.stdout[headers[i]..headers.get(i + 1).copied().unwrap_or(run.stdout.len())];
        assert!(own.contains(&format!("me-{who}")), "{}", run.stdout);
        assert!(
            own.contains(&format!("{who} passed: 2 of 2 steps ok")),
            "{}",
            run.stdout
        );
        // Its captured secret is redacted from its lines (its login URL
        // carried it before it was captured).
        let login = own
            .lines()
            .find(|l| l.contains(&format!("login-{who} ")))
            .expect("the login step's line");
        assert!(
            login.contains("/login?who=[redacted:who]"),
            "{who}: the login line\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("-user"), "{}", run.stdout);
    // stdout carries no line with the key (it is only in a header): the key
    // is checked where it goes, each journey's held -v dumps on stderr.
    assert_eq!(
        run.stderr.matches("> x-key: [redacted:API_KEY]").count(),
        3,
        "one login dump per journey\n{}",
        run.stderr
    );
    assert_hidden(&run.stderr, "API_KEY", CANARY, "stderr");
    // A journey's dumps are held until it ends, and redacted again then: the
    // login dump, made before `who` was captured, shows its marker too.
    assert!(!run.stderr.contains("-user"), "{}", run.stderr);
    assert_redacted(&run.stderr, "who", "held dumps");
    let text = read_report(&run, &p.path("r.json"));
    assert_hidden(&text, "API_KEY", CANARY, "report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("json");
    let journeys = report["journeys"].as_array().expect("journeys");
    let names: Vec<&str> = journeys
        .iter()
        .map(|j| j["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    for j in journeys {
        let login = &j["steps"][0]["request"];
        assert_eq!(
            login["headers"],
            serde_json::json!([["x-key", "[redacted:API_KEY]"]]),
            "{}: the login's key, as recorded",
            j["name"]
        );
        // The report is written after every capture: the login URL shows
        // the captured secret as its marker.
        let url = login["url"].as_str().expect("the login URL");
        assert!(url.ends_with("/login?who=[redacted:who]"), "{url}");
    }
    assert!(!text.contains("-user"), "a captured secret in the report");
}

#[test]
fn without_jobs_journeys_run_one_at_a_time() {
    let server = slow_server();
    let p = three_journeys(&server.url);
    p.run(&["run", "a", "b", "c"], &[("API_KEY", CANARY)])
        .expect_code(0);
    assert_eq!(server.peak.load(Ordering::SeqCst), 1);
}

#[test]
fn jobs_must_be_between_1_and_256() {
    let p = project(&[]);
    for bad in ["0", "257", "many"] {
        p.run(&["run", "--all", "--jobs", bad], &[])
            .expect_code(1)
            .expect_output("--jobs");
    }
}
