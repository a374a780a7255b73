//! Faults on the wire: refused, reset, silent, 5xx, bad JSON, huge bodies,
//! TLS and DNS failures each give one line naming the step and the
//! destination, and the right exit code; `retries:` re-sends only what the
//! journey allows. Every request carries the CANARY secret, in a header and
//! in the query: the server checks it got exactly the canary, and every
//! channel checked (stdout, the `-v` dump on stderr, the JSON report) must
//! hold its `[redacted:API_KEY]` marker and no form of its value.

use crate::common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{CANARY, Run, TestProject, assert_absent, assert_hidden, project, read_report};

/// What one request carried of the key: its `X-Key` header and its `k`
/// query parameter (decoded).
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    header: Option<String>,
    query: Option<String>,
}

/// Requests received, by path (without the query).
type Log = Mutex<HashMap<String, Vec<Sent>>>;

/// A loopback HTTP/1.1 server that misbehaves on purpose, by path, and
/// records what each request to each path carried of the key.
struct Faulty {
    port: u16,
    log: Arc<Log>,
    /// TLS ClientHellos received (answered in plain HTTP).
    hellos: Arc<AtomicUsize>,
}

impl Faulty {
    fn start() -> Faulty {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Log::default());
        let hellos = Arc::new(AtomicUsize::new(0));
        let (into, hello) = (Arc::clone(&log), Arc::clone(&hellos));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (into, hello) = (Arc::clone(&into), Arc::clone(&hello));
                thread::spawn(move || serve(stream, &into, &hello));
            }
        });
        Faulty { port, log, hellos }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests received for `path`.
    fn hits(&self, path: &str) -> usize {
        self.log.lock().expect("lock").get(path).map_or(0, Vec::len)
    }

    /// Fail unless `path` got exactly `times` requests, each carrying exactly
    /// the canary in both places: the secret really went out, so its absence
    /// from the output means something.
    fn expect_canary(&self, path: &str, times: usize, why: &str) {
        let log = self.log.lock().expect("lock");
        let got = log.get(path).cloned().unwrap_or_default();
        let canary = Sent {
            header: Some(CANARY.to_string()),
            query: Some(CANARY.to_string()),
        };
        assert_eq!(got, vec![canary; times], "{path}: {why}");
    }
}

/// Read one request head; returns its path and what it carried of the key.
fn read_request(stream: &mut TcpStream, hellos: &AtomicUsize) -> Option<(String, Sent)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
        // A TLS ClientHello: answer in plain HTTP, as a real server would.
        if head == [0x16] {
            hellos.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return None;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let target = text.split_whitespace().nth(1)?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = text.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("x-key")
            .then(|| value.trim().to_string())
    });
    let query = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "k")
        .map(|(_, value)| value.into_owned());
    Some((path.to_string(), Sent { header, query }))
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn serve(mut stream: TcpStream, log: &Log, hellos: &AtomicUsize) {
    let Some((path, sent)) = read_request(&mut stream, hellos) else {
        return;
    };
    let count = {
        let mut log = log.lock().expect("lock");
        let seen = log.entry(path.clone()).or_default();
        seen.push(sent);
        seen.len()
    };
    match path.as_str() {
        "/ok" => respond(&mut stream, "200 OK", "application/json", b"{\"ok\":true}"),
        "/bad-json" => respond(&mut stream, "200 OK", "application/json", b"{\"ok\": tru"),
        "/503" => respond(
            &mut stream,
            "503 Service Unavailable",
            "text/plain",
            b"down",
        ),
        // Fails twice, then works.
        "/flaky" if count <= 2 => {
            respond(&mut stream, "503 Service Unavailable", "text/plain", b"")
        }
        "/flaky" => respond(&mut stream, "200 OK", "application/json", b"{\"ok\":true}"),
        // Accepts and then says nothing, until the client gives up.
        "/silent" => thread::sleep(Duration::from_secs(120)),
        "/reset" => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"partial\":",
            );
            let _ = stream.flush();
            // SO_LINGER 0: closing sends a TCP reset, not an orderly FIN.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket and a correctly sized option value.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&stream),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&raw const linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        // 1 GiB (or until the client hangs up), streamed from one small buffer.
        p if p.starts_with("/huge") => {
            let total: u64 = 1 << 30;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0u64;
            while sent < total {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
                sent += chunk.len() as u64;
            }
        }
        _ => respond(&mut stream, "404 Not Found", "text/plain", b""),
    }
}

/// A template that sends the canary to `{{url}}` in a header and in the query.
const CALL: &str = "method: \"{{method}}\"\nurl: \"{{url}}\"\nheaders:\n  X-Key: \"{{key}}\"\nquery:\n  k: \"{{key}}\"\n";

/// A project with one journey `j` of one step `call` to `url`, with `extra`
/// appended to the step (expectations, captures, retries).
fn fault_project(method: &str, url: &str, extra: &str) -> TestProject {
    let journey = format!(
        "steps:\n  - id: call\n    template: call\n    values:\n      method: {method}\n      url: \"{url}\"\n      key: {{type: secret, name: API_KEY}}\n{extra}"
    );
    project(&[("templates/call.yaml", CALL), ("journeys/j.yaml", &journey)])
}

/// The `-v` dump's line for the key header, redacted.
const DUMPED_HEADER: &str = "> x-key: [redacted:API_KEY]";

/// Run `j` with the canary as `API_KEY`, `-v`, a JSON report and `args`;
/// require exit `code`, no final scan that refused a file, and no form of the
/// canary in stdout or stderr.
///
/// A run that reaches its step (exit 0, 3 for a fault on the wire, 4) has
/// built the request, so the secret reached every channel and must show there
/// as its marker: the step line's URL (stdout), the `-v` request dump
/// (stderr), and the recorded request in the JSON report, which must exist
/// (reqflo deletes a report that held a secret). A run that ends on a usage
/// or definition error (1, 2) stops before any secret resolves or any report
/// is written: no report may exist.
fn run(p: &TestProject, args: &[&str], code: i32) -> Run {
    let mut all = vec!["run", "j", "-v", "--report-json", "r.json"];
    all.extend_from_slice(args);
    let run = p.run(&all, &[("API_KEY", CANARY)]);
    run.expect_code(code).expect_no_scan_refusal();
    assert_absent(&run.stdout, CANARY, "stdout");
    assert_absent(&run.stderr, CANARY, "stderr");
    let report = p.path("r.json");
    if matches!(code, 1 | 2) {
        assert!(
            !report.exists(),
            "a run that ends before its journeys writes no report\n{}",
            run.all()
        );
        return run;
    }
    assert_hidden(&run.stdout, "API_KEY", CANARY, "stdout (the step line)");
    assert!(
        run.stderr.contains(DUMPED_HEADER),
        "stderr: no {DUMPED_HEADER:?} in the -v dump\n{}",
        run.stderr
    );
    assert_hidden(&run.stderr, "API_KEY", CANARY, "stderr (the -v dump)");
    let text = read_report(&run, &report);
    assert_hidden(&text, "API_KEY", CANARY, "JSON report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON report");
    let request = &report["journeys"][0]["steps"][0]["request"];
    assert_eq!(
        request["headers"],
        serde_json::json!([["x-key", "[redacted:API_KEY]"]]),
        "the report's request headers"
    );
    let url = request["url"].as_str().expect("the report's request URL");
    assert!(url.ends_with("k=[redacted:API_KEY]"), "{url}");
    run
}

#[test]
fn connection_refused_names_step_and_destination_and_exits_3() {
    // Bound but never listening, and held for the whole test: refused.
    let refused = common::refused_port();
    let port = refused.port;
    let p = fault_project("GET", &format!("http://127.0.0.1:{port}/x"), "");
    run(&p, &[], 3)
        .expect_output(&format!(
            "step `call`: request to http://127.0.0.1:{port} failed: cannot connect"
        ))
        .expect_output("Connection refused");
}

#[test]
fn reset_mid_body_is_a_cut_off_body_and_exits_3() {
    let s = Faulty::start();
    let p = fault_project("GET", &format!("{}/reset", s.url()), "");
    run(&p, &[], 3)
        .expect_output("step `call`: request to http://127.0.0.1:")
        .expect_output("the response body was cut off");
    s.expect_canary("/reset", 1, "sent once");
}

#[test]
fn a_5xx_fails_the_status_expectation_with_exit_4() {
    let s = Faulty::start();
    let p = fault_project(
        "GET",
        &format!("{}/503", s.url()),
        "    expect:\n      status: 200\n",
    );
    run(&p, &[], 4).expect_output("status: expected 200, got 503");
    s.expect_canary("/503", 1, "no retries without `retries:`");
}

#[test]
fn a_server_that_never_answers_hits_the_timeout_and_exits_3() {
    let s = Faulty::start();
    let p = fault_project("GET", &format!("{}/silent", s.url()), "");
    run(&p, &["--timeout", "300ms"], 3)
        .expect_output("step `call`: request to http://127.0.0.1:")
        .expect_output("no response within 300ms");
    s.expect_canary("/silent", 1, "sent once, then given up on");
}

#[test]
fn invalid_json_fails_a_json_expectation_with_4_and_a_capture_with_3() {
    let s = Faulty::start();
    let url = format!("{}/bad-json", s.url());
    let p = fault_project("GET", &url, "    expect:\n      json: {\"$.ok\": true}\n");
    run(&p, &[], 4).expect_output("body: expected JSON, got something else");
    s.expect_canary("/bad-json", 1, "the expectation's run");
    let p = fault_project("GET", &url, "    capture:\n      ok: $.ok\n");
    run(&p, &[], 3).expect_output("capture `ok`: the response body is not JSON");
    s.expect_canary("/bad-json", 2, "and the capture's run");
}

#[test]
fn a_1_gib_body_is_cut_at_max_body_and_json_checks_fail_clearly() {
    let s = Faulty::start();
    let url = format!("{}/huge", s.url());
    // Status only: the cut body is noted, the step passes.
    let p = fault_project("GET", &url, "    expect:\n      status: 200\n");
    let passed = run(&p, &["--max-body", "1MiB"], 0);
    passed.expect_output("larger than --max-body (1MiB)");
    s.expect_canary("/huge", 1, "the status-only run");
    let report = read_report(&passed, &p.path("r.json"));
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    let response = &report["journeys"][0]["steps"][0]["response"];
    assert_eq!(response["body_truncated"], true);
    assert!(response["body_bytes"].as_u64().expect("size") <= 1 << 20);

    // A JSON expectation cannot be checked on a cut body: exit 4, one line.
    let p = fault_project(
        "GET",
        &format!("{url}?json"),
        "    expect:\n      json: {\"$.ok\": true}\n",
    );
    run(&p, &["--max-body", "64KiB"], 4).expect_output("body: larger than --max-body");
    s.expect_canary("/huge", 2, "and the JSON run");
}

#[test]
fn a_bad_max_body_is_a_usage_error() {
    let p = fault_project("GET", "http://127.0.0.1:9/x", "");
    run(&p, &["--max-body", "lots"], 1).expect_output("--max-body: `lots` is not a size");
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_failure_with_exit_3() {
    let s = Faulty::start();
    let p = fault_project("GET", &format!("https://127.0.0.1:{}/ok", s.port), "");
    run(&p, &[], 3).expect_output(&format!(
        "step `call`: request to https://127.0.0.1:{} failed: cannot connect",
        s.port
    ));
    // The handshake reached the server; no request was ever sent in the clear.
    assert_eq!(s.hellos.load(Ordering::SeqCst), 1, "one ClientHello");
    assert_eq!(s.hits("/ok"), 0, "nothing sent before the handshake");
}

#[test]
fn an_untrusted_certificate_is_refused_with_exit_3() {
    use tokio_rustls::rustls;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Self-signed for another name: untrusted and the wrong host at once.
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["wrong.example".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (handshakes, accepted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (tried, done) = (Arc::clone(&handshakes), Arc::clone(&accepted));
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tried.fetch_add(1, Ordering::SeqCst);
            // The client refuses the certificate: the handshake just ends.
            if acceptor.accept(tcp).await.is_ok() {
                done.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let p = fault_project("GET", &format!("https://127.0.0.1:{port}/ok"), "");
    run(&p, &[], 3).expect_output(&format!(
        "step `call`: request to https://127.0.0.1:{port} failed: TLS certificate not accepted"
    ));
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "one handshake tried");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "and none completed");
}

#[test]
fn a_name_that_cannot_resolve_exits_3() {
    // A name no resolver is ever asked about, so the test depends on none
    // (`nonexistent.invalid` was sent to whatever DNS server the machine
    // had, and some answer for anything): its first label is 64 bytes, one
    // more than DNS allows (RFC 1035), under `.invalid` (RFC 6761) so it
    // means nothing anywhere. URLs do not limit label length, so reqflo
    // builds and dumps the request; reqwest resolves through getaddrinfo,
    // which looks in /etc/hosts, then cannot encode a DNS query for the name
    // and fails at once, sending nothing (seen with strace on glibc; musl
    // refuses such names too). Plain http, because over https the TLS name
    // check refuses the name before any lookup; and so `allow_http: true`,
    // as secrets go to hosts other than loopback over TLS only.
    let host = format!(
        "{}.invalid",
        "no-such-host-".repeat(5).get(..64).expect("64 bytes")
    );
    let p = fault_project("GET", &format!("http://{host}/x"), "");
    std::fs::write(
        p.path("reqflo.yaml"),
        "environments:\n  test: {}\nsecrets:\n  API_KEY: {allow_http: true}\n",
    )
    .expect("write reqflo.yaml");
    run(&p, &[], 3)
        .expect_output(&format!(
            "step `call`: request to http://{host} failed: cannot connect"
        ))
        .expect_output("failed to lookup address information");
}

#[test]
fn retries_resend_on_listed_statuses_until_it_works() {
    let s = Faulty::start();
    let p = fault_project(
        "GET",
        &format!("{}/flaky", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 3, backoff: 10ms, on: [503]}\n",
    );
    let passed = run(&p, &[], 0);
    passed
        .expect_output("attempt 1 of 4: status 503; retrying in 10ms")
        .expect_output("attempt 2 of 4: status 503; retrying in 20ms")
        .expect_output("3 attempts");
    s.expect_canary("/flaky", 3, "two 503s, then the answer");
    let report = read_report(&passed, &p.path("r.json"));
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    assert_eq!(report["journeys"][0]["steps"][0]["attempts"], 3);
}

#[test]
fn retries_stop_at_the_count_and_skip_unlisted_statuses() {
    let s = Faulty::start();
    let p = fault_project(
        "GET",
        &format!("{}/503", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 2, backoff: 10ms, on: [503]}\n",
    );
    run(&p, &[], 4).expect_output("3 attempts");
    s.expect_canary("/503", 3, "sent once and retried twice");

    let p = fault_project(
        "GET",
        &format!("{}/503", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 2, backoff: 10ms, on: [502]}\n",
    );
    run(&p, &[], 4);
    s.expect_canary("/503", 4, "503 is not listed: sent once more only");
}

#[test]
fn retries_cover_connection_errors() {
    let s = Faulty::start();
    let p = fault_project(
        "GET",
        &format!("{}/reset", s.url()),
        "    retries: {count: 1, backoff: 10ms}\n",
    );
    run(&p, &[], 3)
        .expect_output("attempt 1 of 2:")
        .expect_output("the response body was cut off");
    s.expect_canary("/reset", 2, "sent once and retried once");
}

#[test]
fn a_post_is_not_retried_without_the_opt_in() {
    let s = Faulty::start();
    let p = fault_project(
        "POST",
        &format!("{}/503", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 2, backoff: 10ms, on: [503]}\n",
    );
    run(&p, &[], 4).expect_output("not retried: POST is not idempotent");
    s.expect_canary("/503", 1, "a POST is sent once");

    let p = fault_project(
        "POST",
        &format!("{}/flaky", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 2, backoff: 10ms, on: [503], non_idempotent: true}\n",
    );
    run(&p, &[], 0);
    s.expect_canary("/flaky", 3, "with the opt-in, retried");
}

#[test]
fn bad_retries_are_definition_errors_with_a_position() {
    for (retries, message) in [
        ("{count: 0}", "retries count must be 1 to 10"),
        ("{count: 2, backoff: soon}", "retries backoff:"),
        (
            "{count: 2, on: [42]}",
            "retries on: 42 is not an HTTP status",
        ),
        ("{count: 2, when: always}", "unknown field `when`"),
    ] {
        let p = fault_project(
            "GET",
            "http://127.0.0.1:9/x",
            &format!("    retries: {retries}\n"),
        );
        run(&p, &[], 2)
            .expect_output(message)
            .expect_output("journeys/j.yaml:");
    }
}
