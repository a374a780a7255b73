//! Faults on the wire: refused, reset, silent, 5xx, bad JSON, huge bodies,
//! TLS and DNS failures each give one line naming the step and the
//! destination, and the right exit code; `retries:` re-sends only what the
//! journey allows. Every request carries the CANARY secret, which never shows.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{CANARY, assert_absent, project};

/// A loopback HTTP/1.1 server that misbehaves on purpose, by path, and counts
/// the requests each path received.
struct Faulty {
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Faulty {
    fn start() -> Faulty {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = Arc::clone(&hits);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counted = Arc::clone(&counted);
                thread::spawn(move || serve(stream, &counted));
            }
        });
        Faulty { port, hits }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests received for `path`.
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// Read one request head; returns its path.
fn read_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
        // A TLS ClientHello: answer in plain HTTP, as a real server would.
        if head == [0x16] {
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return None;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split_whitespace().nth(1)?.to_string();
    Some(path)
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn serve(mut stream: TcpStream, hits: &Mutex<HashMap<String, usize>>) {
    let Some(path) = read_path(&mut stream) else {
        return;
    };
    let count = {
        let mut hits = hits.lock().expect("lock");
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
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

/// A template that sends the canary in a header to `{{url}}`.
const CALL: &str = "method: \"{{method}}\"\nurl: \"{{url}}\"\nheaders:\n  X-Key: \"{{key}}\"\n";

/// A project with one journey `j` of one step `call` to `url`, with `extra`
/// appended to the step (expectations, captures, retries).
fn fault_project(method: &str, url: &str, extra: &str) -> common::TestProject {
    let journey = format!(
        "steps:\n  - id: call\n    template: call\n    values:\n      method: {method}\n      url: \"{url}\"\n      key: {{type: secret, name: API_KEY}}\n{extra}"
    );
    project(&[("templates/call.yaml", CALL), ("journeys/j.yaml", &journey)])
}

/// Run `j` with the canary as `API_KEY`, a JSON report, and `args`; check the
/// canary is nowhere in the output or the report.
fn run(p: &common::TestProject, args: &[&str]) -> common::Run {
    let mut all = vec!["run", "j", "-v", "--report-json", "r.json"];
    all.extend_from_slice(args);
    let run = p.run(&all, &[("API_KEY", CANARY)]);
    assert_absent(&run.all(), CANARY, "console");
    if let Ok(report) = std::fs::read_to_string(p.path("r.json")) {
        assert_absent(&report, CANARY, "report");
    }
    run
}

#[test]
fn connection_refused_names_step_and_destination_and_exits_3() {
    // Bound then dropped: nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let p = fault_project("GET", &format!("http://127.0.0.1:{port}/x"), "");
    run(&p, &[])
        .expect_code(3)
        .expect_output(&format!(
            "step `call`: request to http://127.0.0.1:{port} failed: cannot connect"
        ))
        .expect_output("Connection refused");
}

#[test]
fn reset_mid_body_is_a_cut_off_body_and_exits_3() {
    let s = Faulty::start();
    let p = fault_project("GET", &format!("{}/reset", s.url()), "");
    run(&p, &[])
        .expect_code(3)
        .expect_output("step `call`: request to http://127.0.0.1:")
        .expect_output("the response body was cut off");
    assert_eq!(s.hits("/reset"), 1);
}

#[test]
fn a_5xx_fails_the_status_expectation_with_exit_4() {
    let s = Faulty::start();
    let p = fault_project(
        "GET",
        &format!("{}/503", s.url()),
        "    expect:\n      status: 200\n",
    );
    run(&p, &[])
        .expect_code(4)
        .expect_output("status: expected 200, got 503");
    assert_eq!(s.hits("/503"), 1, "no retries without `retries:`");
}

#[test]
fn a_server_that_never_answers_hits_the_timeout_and_exits_3() {
    let s = Faulty::start();
    let p = fault_project("GET", &format!("{}/silent", s.url()), "");
    run(&p, &["--timeout", "300ms"])
        .expect_code(3)
        .expect_output("step `call`: request to http://127.0.0.1:")
        .expect_output("no response within 300ms");
}

#[test]
fn invalid_json_fails_a_json_expectation_with_4_and_a_capture_with_3() {
    let s = Faulty::start();
    let url = format!("{}/bad-json", s.url());
    let p = fault_project("GET", &url, "    expect:\n      json: {\"$.ok\": true}\n");
    run(&p, &[])
        .expect_code(4)
        .expect_output("body: expected JSON, got something else");
    let p = fault_project("GET", &url, "    capture:\n      ok: $.ok\n");
    run(&p, &[])
        .expect_code(3)
        .expect_output("capture `ok`: the response body is not JSON");
}

#[test]
fn a_1_gib_body_is_cut_at_max_body_and_json_checks_fail_clearly() {
    let s = Faulty::start();
    let url = format!("{}/huge", s.url());
    // Status only: the cut body is noted, the step passes.
    let p = fault_project("GET", &url, "    expect:\n      status: 200\n");
    run(&p, &["--max-body", "1MiB"])
        .expect_code(0)
        .expect_output("larger than --max-body (1MiB)");
    let report = std::fs::read_to_string(p.path("r.json")).expect("report");
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
    run(&p, &["--max-body", "64KiB"])
        .expect_code(4)
        .expect_output("body: larger than --max-body");
}

#[test]
fn a_bad_max_body_is_a_usage_error() {
    let p = fault_project("GET", "http://127.0.0.1:9/x", "");
    run(&p, &["--max-body", "lots"])
        .expect_code(1)
        .expect_output("--max-body: `lots` is not a size");
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_failure_with_exit_3() {
    let s = Faulty::start();
    let p = fault_project("GET", &format!("https://127.0.0.1:{}/ok", s.port), "");
    run(&p, &[]).expect_code(3).expect_output(&format!(
        "step `call`: request to https://127.0.0.1:{} failed: cannot connect",
        s.port
    ));
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
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // The client refuses the certificate: the handshake just ends.
            let _ = acceptor.accept(tcp).await;
        }
    });
    let p = fault_project("GET", &format!("https://127.0.0.1:{port}/ok"), "");
    run(&p, &[]).expect_code(3).expect_output(&format!(
        "step `call`: request to https://127.0.0.1:{port} failed: TLS certificate not accepted"
    ));
}

#[test]
fn a_name_that_cannot_resolve_exits_3() {
    let p = fault_project("GET", "http://nonexistent.invalid/x", "");
    run(&p, &[])
        .expect_code(3)
        .expect_output("step `call`: request to http://nonexistent.invalid failed: cannot connect");
}

#[test]
fn retries_resend_on_listed_statuses_until_it_works() {
    let s = Faulty::start();
    let p = fault_project(
        "GET",
        &format!("{}/flaky", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 3, backoff: 10ms, on: [503]}\n",
    );
    run(&p, &[])
        .expect_code(0)
        .expect_output("attempt 1 of 4: status 503; retrying in 10ms")
        .expect_output("attempt 2 of 4: status 503; retrying in 20ms")
        .expect_output("3 attempts");
    assert_eq!(s.hits("/flaky"), 3);
    let report = std::fs::read_to_string(p.path("r.json")).expect("report");
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
    run(&p, &[]).expect_code(4).expect_output("3 attempts");
    assert_eq!(s.hits("/503"), 3);

    let p = fault_project(
        "GET",
        &format!("{}/503", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 2, backoff: 10ms, on: [502]}\n",
    );
    run(&p, &[]).expect_code(4);
    assert_eq!(s.hits("/503"), 4, "503 is not listed: sent once more only");
}

#[test]
fn retries_cover_connection_errors() {
    let s = Faulty::start();
    let p = fault_project(
        "GET",
        &format!("{}/reset", s.url()),
        "    retries: {count: 1, backoff: 10ms}\n",
    );
    run(&p, &[])
        .expect_code(3)
        .expect_output("attempt 1 of 2:")
        .expect_output("the response body was cut off");
    assert_eq!(s.hits("/reset"), 2);
}

#[test]
fn a_post_is_not_retried_without_the_opt_in() {
    let s = Faulty::start();
    let p = fault_project(
        "POST",
        &format!("{}/503", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 2, backoff: 10ms, on: [503]}\n",
    );
    run(&p, &[])
        .expect_code(4)
        .expect_output("not retried: POST is not idempotent");
    assert_eq!(s.hits("/503"), 1);

    let p = fault_project(
        "POST",
        &format!("{}/flaky", s.url()),
        "    expect:\n      status: 200\n    retries: {count: 2, backoff: 10ms, on: [503], non_idempotent: true}\n",
    );
    run(&p, &[]).expect_code(0);
    assert_eq!(s.hits("/flaky"), 3);
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
        run(&p, &[])
            .expect_code(2)
            .expect_output(message)
            .expect_output("journeys/j.yaml:");
    }
}
