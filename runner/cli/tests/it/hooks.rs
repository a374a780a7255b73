//! Request hooks: a hostile hook component tries every route to a secret's
//! value and gets only handles; destination binding holds for templates,
//! hooks and everything derived; the OAuth exchange is checked against a
//! local server that records what it received.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::{
    CANARY, TestProject, assert_absent, assert_hidden, assert_redacted, plugin, project,
    read_report,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A second secret value, for the template's own key.
const API_KEY: &str = "aPi/K3y+second=Vv7";
/// The access token the fake token endpoint hands out.
const TOKEN: &str = "tOk3n/acc+ess=Jw2";

/// One request as the recording server received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    raw: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 server that records every request. `/token` answers as an
/// OAuth token endpoint, `/token-401` refuses with a body that must never be
/// shown, anything else answers `{"ok": true}`.
struct Recorder {
    base: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Recorder { base, seen }
    }

    fn requests(&self) -> Vec<Received> {
        self.seen.lock().expect("lock").clone()
    }

    fn port(&self) -> String {
        self.base.rsplit(':').next().unwrap_or("").to_string()
    }
}

fn serve(stream: std::net::TcpStream, log: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut raw = line.clone();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            raw.push_str(&header);
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((n, v)) = header.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        raw.push_str(&body);
        log.lock().expect("lock").push(Received {
            method,
            path: path.clone(),
            headers,
            body,
            raw,
        });
        let (status, answer) = match path.as_str() {
            "/token" => (
                "200 OK",
                format!(r#"{{"access_token":"{TOKEN}","expires_in":3600,"token_type":"Bearer"}}"#),
            ),
            "/token-401" => (
                "401 Unauthorized",
                r#"{"error":"invalid_client","error_description":"do-not-show-this-body"}"#
                    .to_string(),
            ),
            _ => ("200 OK", r#"{"ok":true}"#.to_string()),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The journey every test runs: one POST with the template's own secret in
/// `Authorization` (and optionally in the body), with `hooks` on the step.
fn journey(hooks: &str, steps: usize) -> String {
    let mut text = String::from("steps:\n");
    for i in 0..steps {
        text.push_str(&format!(
            "  - id: s{i}\n    template: signed\n    values:\n      key: {{type: secret, name: API_KEY}}\n    hooks: [{hooks}]\n"
        ));
    }
    text
}

const SIGNED: &str = "method: POST\nurl: \"{{base_url}}/hook\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\njson:\n  amount: 1000\n";
const SECRET_QUERY: &str =
    "method: GET\nurl: \"{{base_url}}/hook\"\nquery:\n  api_key: \"{{key}}\"\n";
const SECRET_BODY: &str = "method: POST\nurl: \"{{base_url}}/hook\"\njson:\n  key: \"{{key}}\"\n";

/// A project whose base_url is the recorder, with `hooks_yaml` under `hooks:`.
fn hook_project(recorder: &Recorder, hooks_yaml: &str, extra: &[(&str, &str)]) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"{}\"}}\nhooks:\n{hooks_yaml}",
        recorder.base
    )
    .replace(
        "@HOOK@",
        &plugin("reqflo_test_hostile_hook").display().to_string(),
    );
    let mut files: Vec<(&str, &str)> = vec![
        ("reqflo.yaml", &config),
        ("templates/signed.yaml", SIGNED),
        ("templates/secret-body.yaml", SECRET_BODY),
        ("templates/secret-query.yaml", SECRET_QUERY),
    ];
    files.extend_from_slice(extra);
    project(&files)
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("API_KEY", API_KEY),
        ("WEBHOOK_SECRET", CANARY),
        ("CLIENT_SECRET", CANARY),
    ]
}

fn hook(name: &str, action: &str, extra: &str) -> String {
    format!(
        "  {name}:\n    plugin: \"@HOOK@\"\n    config: {{action: {action}{extra}}}\n    secrets: [WEBHOOK_SECRET]\n"
    )
}

fn hmac_hex(key: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn hostile_probe_gets_handles_and_views_never_values() {
    let recorder = Recorder::start();
    let p = hook_project(
        &recorder,
        &hook("probe", "probe", ""),
        &[("journeys/j.yaml", &journey("probe", 1))],
    );
    let run = p.run(&["run", "j", "-v", "--report-json", "r.json"], &env());
    run.expect_code(0);

    let requests = recorder.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let got = &requests[0];
    // The signature is the real HMAC of the known message under the key.
    let expected = hmac_hex(CANARY, b"known message");
    assert_eq!(
        got.header("x-sig"),
        Some(format!("sha256={expected}").as_str())
    );
    let report = got.header("x-report").expect("report header");
    for part in [
        "sig:ok",
        "noplaceholder:invalid",
        "twice:invalid",
        "host:invalid",
        "own:ok",
    ] {
        assert!(report.contains(part), "{part} not in {report}");
    }
    // What the hook saw: views with names, never values.
    let seen = got.header("x-seen-headers").expect("seen headers");
    assert!(seen.contains("authorization=[secret API_KEY]"), "{seen}");
    assert!(
        seen.contains("x-sig=[secret hmac(WEBHOOK_SECRET)]"),
        "{seen}"
    );
    assert_eq!(got.header("x-seen-body"), Some(r#"{"amount":1000}"#));
    for (name, value) in &got.headers {
        if name.to_ascii_lowercase().starts_with("x-seen") || name.eq_ignore_ascii_case("x-report")
        {
            assert_absent(value, API_KEY, "a hook's view");
            assert_absent(value, &expected, "a hook's view");
        }
    }
    // The key itself never reached the server, in any form.
    assert_absent(&got.raw, CANARY, "the request the server received");
    // Nothing printed shows a value or the derived HMAC.
    assert_absent(&run.all(), CANARY, "output");
    assert_absent(&run.all(), API_KEY, "output");
    assert!(
        !run.all().contains(&expected),
        "HMAC in output:\n{}",
        run.all()
    );
    run.expect_output("[redacted:hmac(WEBHOOK_SECRET)]");
    assert_hidden(&run.stderr, "API_KEY", API_KEY, "-v");
    let report = read_report(&run, &p.path("r.json"));
    assert_redacted(&report, "hmac(WEBHOOK_SECRET)", "report");
    assert!(!report.contains(&expected), "HMAC in the report");
    assert_absent(&report, CANARY, "report");
    assert_hidden(&report, "API_KEY", API_KEY, "report");
}

#[test]
fn a_body_carrying_a_secret_is_denied_to_hooks() {
    let recorder = Recorder::start();
    let steps = "steps:\n  - id: s\n    template: secret-body\n    values:\n      key: {type: secret, name: API_KEY}\n    hooks: [probe]\n";
    let p = hook_project(
        &recorder,
        &hook("probe", "probe", ""),
        &[("journeys/j.yaml", steps)],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(0);
    let requests = recorder.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("x-seen-body"), Some("denied"));
    // The body itself went to the server (that is the template's intent).
    assert!(requests[0].body.contains(API_KEY));
}

#[test]
fn a_url_carrying_a_secret_is_shown_to_hooks_with_its_name() {
    let recorder = Recorder::start();
    let steps = "steps:\n  - id: s\n    template: secret-query\n    values:\n      key: {type: secret, name: API_KEY}\n    hooks: [probe]\n";
    let p = hook_project(
        &recorder,
        &hook("probe", "probe", ""),
        &[("journeys/j.yaml", steps)],
    );
    p.run(&["run", "j"], &env()).expect_code(0);
    let requests = recorder.requests();
    assert_eq!(requests.len(), 1);
    let seen = requests[0].header("x-seen-url").expect("seen url");
    assert!(seen.ends_with("/hook?api_key=[secret API_KEY]"), "{seen}");
    assert_absent(seen, API_KEY, "the hook's URL view");
    // The request itself still carried the key where the template put it.
    assert!(requests[0].path.starts_with("/hook?api_key="));
}

#[test]
fn set_url_after_attaching_a_secret_fails_the_step_and_sends_nothing() {
    let recorder = Recorder::start();
    let peer = Recorder::start();
    let extra = format!(", peer: \"{}/stolen\"", peer.base);
    let p = hook_project(
        &recorder,
        &hook("mover", "set-url", &extra),
        &[("journeys/j.yaml", &journey("mover", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("hook `mover`");
    run.expect_output("cannot change");
    assert!(recorder.requests().is_empty());
    assert!(peer.requests().is_empty());
    assert_absent(&run.all(), CANARY, "output");
}

#[test]
fn a_template_secret_fixes_the_destination_for_hooks() {
    let recorder = Recorder::start();
    let peer = Recorder::start();
    let extra = format!(", peer: \"{}/stolen\"", peer.base);
    let p = hook_project(
        &recorder,
        &hook("thief", "steal-url", &extra),
        &[("journeys/j.yaml", &journey("thief", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("hook `thief`");
    assert!(recorder.requests().is_empty());
    assert!(peer.requests().is_empty());
    assert_absent(&run.all(), API_KEY, "output");
}

#[test]
fn a_forged_handle_traps_the_hook_and_the_next_journey_still_runs() {
    let recorder = Recorder::start();
    let plain = "steps:\n  - id: plain\n    template: signed\n    values:\n      key: {type: secret, name: API_KEY}\n";
    let p = hook_project(
        &recorder,
        &hook("forger", "forge", ""),
        &[
            ("journeys/a.yaml", &journey("forger", 1)),
            ("journeys/b.yaml", plain),
        ],
    );
    let run = p.run(&["run", "a", "b"], &env());
    run.expect_code(3);
    run.expect_output("hook `forger`");
    run.expect_output("was stopped");
    run.expect_output("b passed");
    let requests = recorder.requests();
    assert_eq!(requests.len(), 1, "only journey b sends: {requests:?}");
    assert_absent(&run.all(), CANARY, "output");
}

#[test]
fn a_hook_that_loops_or_panics_fails_its_step_and_the_run_goes_on() {
    let recorder = Recorder::start();
    let hooks = "  spin:\n    plugin: \"@HOOK@\"\n    config: {action: loop}\n    limits: {timeout_ms: 300}\n  crash:\n    plugin: \"@HOOK@\"\n    config: {action: panic}\n";
    let p = hook_project(
        &recorder,
        hooks,
        &[
            ("journeys/a.yaml", &journey("spin", 1)),
            ("journeys/b.yaml", &journey("crash", 1)),
        ],
    );
    let run = p.run(&["run", "a", "b"], &env());
    run.expect_code(3);
    run.expect_output("hook `spin`");
    run.expect_output("exceeded its CPU budget");
    run.expect_output("hook `crash`");
    run.expect_output("crashed (panic or abort)");
    run.expect_output("journey b");
    assert!(recorder.requests().is_empty());
}

#[test]
fn check_lists_hooks_and_secrets_list_shows_their_secrets() {
    let recorder = Recorder::start();
    let p = hook_project(
        &recorder,
        &hook("probe", "probe", ""),
        &[("journeys/j.yaml", &journey("probe", 1))],
    );
    let run = p.run(&["check", "j"], &env());
    run.expect_code(0);
    run.expect_output("secrets: API_KEY, WEBHOOK_SECRET");
    run.expect_output("hooks: probe");
    let run = p.run(&["secrets", "list"], &[]);
    run.expect_code(0);
    run.expect_output("hook probe");
    assert!(recorder.requests().is_empty());
}

#[test]
fn creating_secrets_without_end_is_bounded() {
    let recorder = Recorder::start();
    let p = hook_project(
        &recorder,
        &hook("flood", "flood", ""),
        &[("journeys/j.yaml", &journey("flood", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("hook `flood`");
    run.expect_output("secret handles");
    assert!(recorder.requests().is_empty());
}

#[test]
fn a_secret_bound_to_other_hosts_cannot_be_placed_by_a_hook() {
    let recorder = Recorder::start();
    let registry = "secrets:\n  WEBHOOK_SECRET:\n    hosts: [payments.example.com]\n";
    let hooks = format!("{}{registry}", hook("attacher", "attach", ""));
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("attacher", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("may only be sent to payments.example.com");
    assert!(recorder.requests().is_empty());
    assert_absent(&run.all(), CANARY, "output");
}

#[test]
fn derived_secrets_keep_the_binding_of_their_key() {
    // The key is bound to the recorder's host: its HMAC may go there.
    let recorder = Recorder::start();
    let registry = format!(
        "secrets:\n  WEBHOOK_SECRET:\n    hosts: [\"127.0.0.1:{}\"]\n",
        recorder.port()
    );
    let hooks = format!("{}{registry}", hook("probe", "probe", ""));
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("probe", 1))],
    );
    p.run(&["run", "j"], &env()).expect_code(0);
    assert_eq!(recorder.requests().len(), 1);

    // Bound elsewhere: the HMAC derived from it may not be placed here.
    let recorder = Recorder::start();
    let registry = "secrets:\n  WEBHOOK_SECRET:\n    hosts: [\"127.0.0.1:1\"]\n";
    let hooks = format!("{}{registry}", hook("probe", "probe", ""));
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("probe", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("secret `hmac(WEBHOOK_SECRET)` may only be sent to 127.0.0.1:1");
    assert!(recorder.requests().is_empty());
}

#[test]
fn environment_hooks_run_before_step_hooks_in_order() {
    let recorder = Recorder::start();
    let hooks = "  one:\n    plugin: \"@HOOK@\"\n    config: {action: mark, mark: one}\n  two:\n    plugin: \"@HOOK@\"\n    config: {action: mark, mark: two}\n  three:\n    plugin: \"@HOOK@\"\n    config: {action: mark, mark: three}\n";
    let p = hook_project(
        &recorder,
        hooks,
        &[("journeys/j.yaml", &journey("three, two", 1))],
    );
    let config = std::fs::read_to_string(p.path("reqflo.yaml")).expect("read");
    let config = config.replace("    variables:", "    hooks: [one]\n    variables:");
    std::fs::write(p.path("reqflo.yaml"), config).expect("write");
    p.run(&["run", "j"], &env()).expect_code(0);
    let requests = recorder.requests();
    assert_eq!(requests[0].header("x-order"), Some("one,three,two"));
}

fn oauth_hooks(recorder: &Recorder, path: &str, grant_port: &str, auth: &str) -> String {
    format!(
        "  oauth:\n    plugin: \"@HOOK@\"\n    config: {{action: oauth, token_url: \"{}{path}\", client_id: client-a, scope: \"payments:write\", auth: {auth}}}\n    secrets: [CLIENT_SECRET]\n    grants: {{hosts: [\"127.0.0.1:{grant_port}\"]}}\n",
        recorder.base
    )
}

#[test]
fn oauth_exchange_sends_basic_credentials_and_caches_the_token() {
    let recorder = Recorder::start();
    let hooks = oauth_hooks(&recorder, "/token", &recorder.port(), "basic");
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("oauth", 2))],
    );
    let run = p.run(
        &[
            "run",
            "j",
            "-v",
            "--report-json",
            "r.json",
            "--report-html",
            "r.html",
        ],
        &env(),
    );
    run.expect_code(0);
    let mut reports = vec![p.path("r.json")];
    for entry in std::fs::read_dir(p.path("r.html")).expect("html report folder") {
        reports.push(entry.expect("entry").path());
    }
    for report in reports {
        let text = read_report(&run, &report);
        let name = report.display().to_string();
        // The token went out in every API request the report shows.
        assert_hidden(&text, "oauth2 token(CLIENT_SECRET)", TOKEN, &name);
        assert_absent(&text, CANARY, &name);
    }
    let requests = recorder.requests();
    let tokens: Vec<&Received> = requests.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(tokens.len(), 1, "the token is cached: {requests:?}");
    let token_request = tokens[0];
    assert_eq!(token_request.method, "POST");
    let credentials = format!(
        "client-a:{}",
        form_urlencoded::byte_serialize(CANARY.as_bytes()).collect::<String>()
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    assert_eq!(token_request.header("authorization"), Some(basic.as_str()));
    assert_eq!(
        token_request.body,
        "grant_type=client_credentials&scope=payments%3Awrite"
    );
    let api: Vec<&Received> = requests.iter().filter(|r| r.path == "/hook").collect();
    assert_eq!(api.len(), 2);
    for request in api {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_absent(&request.raw, CANARY, "an API request");
    }
    assert_absent(&run.all(), CANARY, "output");
    assert_absent(&run.all(), TOKEN, "output");
    run.expect_output("[redacted:oauth2 token(CLIENT_SECRET)]");
}

#[test]
fn oauth_body_auth_puts_the_client_in_the_form() {
    let recorder = Recorder::start();
    let hooks = oauth_hooks(&recorder, "/token", &recorder.port(), "body");
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("oauth", 1))],
    );
    p.run(&["run", "j"], &env()).expect_code(0);
    let requests = recorder.requests();
    let token = requests
        .iter()
        .find(|r| r.path == "/token")
        .expect("token request");
    assert_eq!(token.header("authorization"), None);
    let form = format!(
        "grant_type=client_credentials&scope=payments%3Awrite&client_id=client-a&client_secret={}",
        form_urlencoded::byte_serialize(CANARY.as_bytes()).collect::<String>()
    );
    assert_eq!(token.body, form);
}

#[test]
fn a_token_url_outside_the_hooks_grants_is_refused() {
    let recorder = Recorder::start();
    let hooks = oauth_hooks(&recorder, "/token", "1", "basic");
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("oauth", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("is not in the hook's grants.hosts");
    assert!(recorder.requests().is_empty());
}

#[test]
fn the_token_url_must_match_the_client_secrets_binding() {
    let recorder = Recorder::start();
    let hooks = format!(
        "{}secrets:\n  CLIENT_SECRET:\n    hosts: [auth.example.com]\n",
        oauth_hooks(&recorder, "/token", &recorder.port(), "basic")
    );
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("oauth", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("may only be sent to auth.example.com, not to the token URL");
    assert!(recorder.requests().is_empty());
}

#[test]
fn a_refused_token_request_names_the_url_never_the_body() {
    let recorder = Recorder::start();
    let hooks = oauth_hooks(&recorder, "/token-401", &recorder.port(), "basic");
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("oauth", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("/token-401 refused the client credentials (401)");
    assert!(
        !run.all().contains("do-not-show-this-body"),
        "{}",
        run.all()
    );
    assert_absent(&run.all(), CANARY, "output");
    // Only the token endpoint was called; the API request was never sent.
    assert!(recorder.requests().iter().all(|r| r.path == "/token-401"));
}

#[test]
fn policy_on_a_hooks_secret_fails_at_plan_before_anything_is_sent() {
    let recorder = Recorder::start();
    let registry = "secrets:\n  WEBHOOK_SECRET:\n    journeys: [billing-*]\n";
    let hooks = format!("{}{registry}", hook("probe", "probe", ""));
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("probe", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("journey `j` may not use secret `WEBHOOK_SECRET` (granted to hook `probe`)");
    run.expect_output("reqflo.yaml:");
    assert!(recorder.requests().is_empty());
}

#[test]
fn unknown_hooks_are_errors_with_positions() {
    let recorder = Recorder::start();
    let p = hook_project(
        &recorder,
        &hook("probe", "probe", ""),
        &[("journeys/j.yaml", &journey("prboe", 1))],
    );
    let run = p.run(&["check", "j"], &env());
    run.expect_code(2);
    run.expect_output("unknown hook `prboe`");
    run.expect_output("journeys/j.yaml:6:");

    let config = std::fs::read_to_string(p.path("reqflo.yaml")).expect("read");
    std::fs::write(
        p.path("reqflo.yaml"),
        config.replace("    variables:", "    hooks: [nope]\n    variables:"),
    )
    .expect("write");
    std::fs::write(p.path("journeys/j.yaml"), journey("probe", 1)).expect("write");
    let run = p.run(&["check", "j"], &env());
    run.expect_code(1);
    run.expect_output("attaches hook `nope`, which is not defined");
    run.expect_output("reqflo.yaml:3:");
}

#[test]
fn bad_hook_definitions_are_config_errors() {
    let recorder = Recorder::start();
    for (hooks, message) in [
        (
            "  h:\n    plugin: builtin:nope\n",
            "unknown built-in hook `builtin:nope`",
        ),
        (
            "  h:\n    plugin: builtin:oauth2\n    grants: {hosts: [\"https://x/path\"]}\n",
            "in grants.hosts",
        ),
        (
            "  h:\n    plugin: builtin:oauth2\n    grants: {env: [HOME]}\n",
            "unknown field `env`",
        ),
    ] {
        let p = hook_project(&recorder, hooks, &[("journeys/j.yaml", &journey("h", 1))]);
        let run = p.run(&["check", "j"], &env());
        run.expect_code(1);
        run.expect_output(message);
        run.expect_output("reqflo.yaml:");
    }
}

#[test]
fn a_hook_that_imports_wasi_http_or_sockets_is_refused_at_load() {
    let recorder = Recorder::start();
    let hooks = format!(
        "  net:\n    plugin: \"{}\"\n    config: {{url: \"{}/reached\"}}\n",
        plugin("reqflo_test_hostile_hook_net").display(),
        recorder.base
    );
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("net", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("hook `net`");
    run.expect_output("does not fit reqflo's hook interface");
    run.expect_output("imports instance `wasi:http/");
    assert!(recorder.requests().is_empty());

    // A component for another world (a provider importing sockets) is refused too.
    let hooks = format!(
        "  sockets:\n    plugin: \"{}\"\n",
        plugin("reqflo_test_sockets").display()
    );
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("sockets", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("hook `sockets`");
    run.expect_output("does not fit reqflo's hook interface");
    run.expect_output("it targets reqflo:plugin@0.1.0 (world secret-provider)");
    assert!(recorder.requests().is_empty());
}

#[test]
fn a_hook_built_for_another_wit_version_is_refused_naming_both() {
    let recorder = Recorder::start();
    let hooks = format!(
        "  future:\n    plugin: \"{}\"\n",
        plugin("reqflo_test_future_wit").display()
    );
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("future", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3)
        .expect_output("hook `future`")
        .expect_output("it targets reqflo:plugin@0.9.0")
        .expect_output(
            "this reqflo supports reqflo:plugin@0.1.0 for secret providers and \
             reqflo:plugin@0.2.0 for request hooks",
        );
    assert!(recorder.requests().is_empty());
}

#[test]
fn a_pinned_hook_with_another_digest_is_refused() {
    let recorder = Recorder::start();
    let hooks = format!(
        "  probe:\n    plugin: \"@HOOK@\"\n    sha256: \"{}\"\n    config: {{action: probe}}\n    secrets: [WEBHOOK_SECRET]\n",
        "0".repeat(64)
    );
    let p = hook_project(
        &recorder,
        &hooks,
        &[("journeys/j.yaml", &journey("probe", 1))],
    );
    let run = p.run(&["run", "j"], &env());
    run.expect_code(3);
    run.expect_output("does not match its sha256 pin");
    assert!(recorder.requests().is_empty());
    // `check` refuses it as well, without running anything.
    let check = p.run(&["check", "j"], &env());
    check
        .expect_code(1)
        .expect_output("hook `probe`")
        .expect_output("does not match its sha256 pin")
        .expect_output(&"0".repeat(64));
}

#[test]
fn plugins_list_shows_hooks_with_their_grants() {
    let recorder = Recorder::start();
    let hooks = oauth_hooks(&recorder, "/token", &recorder.port(), "basic");
    let p = hook_project(&recorder, &hooks, &[]);
    let run = p.run(&["plugins", "list"], &[]);
    run.expect_code(0);
    run.expect_output("HOOK");
    run.expect_output("secret handles: CLIENT_SECRET");
    run.expect_output(&format!("hosts: 127.0.0.1:{}", recorder.port()));
    run.expect_output("not pinned");
}
