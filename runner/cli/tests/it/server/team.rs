//! A team runs the example on the server: the key never shows; a denied
//! journey sends nothing; a saved login.

use std::process::Stdio;

use serde_json::json;

use super::{Server, call, data_text, examples, run_example};
use crate::common::{CANARY, assert_absent, command};

#[test]
fn a_team_runs_the_example_on_the_server_and_the_key_never_shows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let api = demo_api::spawn(CANARY).expect("demo api");
    let example = examples(dir.path());
    let server = Server::start(&data);
    let admin = server
        .admin
        .clone()
        .unwrap_or_else(|| panic!("no admin token: {:?}", server.banner));
    let url = server.url.clone();
    let mut seen = Vec::new();

    // The admin registers the key and gives CI a builder token.
    let (status, created) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(
            json!({"name": "PAYMENTS_API_KEY", "description": "demo key", "value": CANARY,
                    "journeys": ["payment-flow"], "hosts": ["127.0.0.1"]}),
        ),
        &mut seen,
    );
    assert_eq!(status, 201, "{created}");
    let (status, ci) = call(
        &url,
        "POST",
        "/api/tokens",
        &admin,
        Some(json!({"name": "ci", "role": "builder"})),
        &mut seen,
    );
    assert_eq!(status, 201, "{ci}");
    let ci = ci["token"].as_str().expect("token").to_string();

    // CI runs the example remotely: same lines, same exit code, reports here.
    let reports = dir.path().join("reports");
    let json_report = reports.join("run.json");
    let junit_report = reports.join("run.xml");
    let base = format!("base_url={}", api.base_url());
    let args = [
        "run",
        "payment-flow",
        "--env",
        "sandbox",
        "--remote",
        &url,
        "--var",
        &base,
        "--report-json",
        &json_report.display().to_string(),
        "--report-junit",
        &junit_report.display().to_string(),
        "--report-html",
        &reports.join("html").display().to_string(),
        "-v",
    ];
    let run = crate::common::reqflo(&example, &args, &[("REQFLO_TOKEN", &ci)]);
    run.expect_code(0)
        .expect_output("payment-flow passed: 4 of 4 steps ok");
    run.expect_output("ok     create-payment POST");
    run.expect_output("[redacted:PAYMENTS_API_KEY]");
    assert!(
        api.requests() >= 4,
        "the demo API received the run's requests"
    );

    // The run, its reports and the audit entry of the use, over the API.
    let (_, runs) = call(&url, "GET", "/api/runs", &admin, None, &mut seen);
    let id = runs["runs"][0]["id"].as_str().expect("a run").to_string();
    let (_, shown) = call(
        &url,
        "GET",
        &format!("/api/runs/{id}"),
        &admin,
        None,
        &mut seen,
    );
    assert_eq!(shown["status"], "passed", "{shown}");
    assert_eq!(shown["exit_code"], 0);
    assert_eq!(
        shown["report"]["journeys"][0]["steps"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    for format in ["json", "junit", "html"] {
        let (status, _) = call(
            &url,
            "GET",
            &format!("/api/runs/{id}/report/{format}"),
            &admin,
            None,
            &mut seen,
        );
        assert_eq!(status, 200, "{format}");
    }
    let (_, events) = call(
        &url,
        "GET",
        &format!("/api/runs/{id}/events"),
        &admin,
        None,
        &mut seen,
    );
    let events = events.as_str().unwrap_or_default().to_string();
    assert!(events.contains("\"event\":\"step_finished\""), "{events}");
    assert!(events.contains("\"event\":\"run_finished\""), "{events}");
    let (_, audit) = call(
        &url,
        "GET",
        "/api/audit?action=secret.used",
        &admin,
        None,
        &mut seen,
    );
    let used = &audit["entries"][0];
    assert_eq!(used["target"], "PAYMENTS_API_KEY", "{audit}");
    assert_eq!(used["detail"]["run"], id.as_str());
    assert_eq!(used["detail"]["journey"], "payment-flow");
    assert!(
        used["actor"].as_str().unwrap_or("").starts_with("ci"),
        "{used}"
    );
    let (_, listed) = call(
        &url,
        "GET",
        "/api/secrets/PAYMENTS_API_KEY",
        &admin,
        None,
        &mut seen,
    );
    assert_eq!(listed["last_used_by"], id.as_str(), "{listed}");

    // A journey the policy does not allow: 403, exit 3, nothing sent.
    let (status, _) = call(
        &url,
        "PATCH",
        "/api/secrets/PAYMENTS_API_KEY",
        &admin,
        Some(json!({"journeys": ["refund-*"]})),
        &mut seen,
    );
    assert_eq!(status, 200);
    let before = api.requests();
    let denied = crate::common::reqflo(&example, &args[..8], &[("REQFLO_TOKEN", &ci)]);
    denied
        .expect_code(3)
        .expect_output("403")
        .expect_output("may not use secret `PAYMENTS_API_KEY`");
    assert_eq!(api.requests(), before, "a denied run sends nothing");
    // A viewer may read runs but not start one.
    let (_, viewer) = call(
        &url,
        "POST",
        "/api/tokens",
        &admin,
        Some(json!({"name": "dash", "role": "viewer"})),
        &mut seen,
    );
    let viewer = viewer["token"].as_str().expect("token").to_string();
    let refused = crate::common::reqflo(&example, &args[..8], &[("REQFLO_TOKEN", &viewer)]);
    refused
        .expect_code(3)
        .expect_output("needs the builder role");

    // Nothing anywhere holds the key: outputs, answers, reports, logs, files.
    let mut everything = vec![run.all(), denied.all(), refused.all(), server.log()];
    everything.extend(seen.iter().cloned());
    for path in [
        &json_report,
        &junit_report,
        &reports.join("html/index.html"),
    ] {
        everything.push(std::fs::read_to_string(path).expect("report written"));
    }
    drop(server);
    everything.push(data_text(&data));
    for text in &everything {
        assert_absent(text, CANARY, "server test");
    }
}

#[test]
fn login_saves_a_checked_token_for_remote_runs() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let api = demo_api::spawn(CANARY).expect("demo api");
    let example = examples(dir.path());
    let server = Server::start(&data);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();
    let (status, _) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(json!({"name": "PAYMENTS_API_KEY", "value": CANARY, "journeys": ["payment-flow"]})),
        &mut seen,
    );
    assert_eq!(status, 201);
    let login = |token: &str| {
        let mut child = command(&example, &["login", &url], &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("login");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{token}\n").as_bytes())
            .expect("write");
        let output = child.wait_with_output().expect("login ends");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (code, text) = login("rqf_wrong");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("401"), "{text}");
    let (code, text) = login(&admin);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("as `admin` (admin)"), "{text}");
    assert!(
        !text.contains(&admin),
        "login never prints the token: {text}"
    );
    let saved = example.join(".home/.config/reqflo/tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&saved)
            .expect("saved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No REQFLO_TOKEN: the saved token is used.
    let base = format!("base_url={}", api.base_url());
    let run = run_example(&example, &url, &["--var", &base], None);
    run.expect_code(0).expect_output("payment-flow passed");
    // Another server: no token for it.
    let other = crate::common::reqflo(
        &example,
        &["run", "payment-flow", "--remote", "http://127.0.0.1:9"],
        &[],
    );
    other
        .expect_code(1)
        .expect_output("reqflo login http://127.0.0.1:9");
}
