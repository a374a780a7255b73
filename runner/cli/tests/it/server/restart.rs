//! A server killed or stopped mid-run: the run is interrupted, never lost,
//! never sent again.

use std::process::Stdio;
use std::time::Duration;

use super::{Server, call, wait_for};
use crate::common::command;

#[test]
fn a_server_killed_mid_run_marks_it_interrupted_and_never_sends_it_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let project = crate::common::project(&[
        (
            "reqflo.yaml",
            "environments:\n  demo:\n    variables: {base_url: \"@BASE@\"}\n",
        ),
        (
            "templates/slow.yaml",
            "method: GET\nurl: \"{{base_url}}/slow?ms=20000\"\n",
        ),
        (
            "journeys/slow.yaml",
            "steps:\n  - id: wait\n    template: slow\n",
        ),
    ]);
    let api = &project.api;
    let mut server = Server::start(&data);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();
    // Start the run in the background: the CLI follows it while we kill the server.
    let mut cli = start_slow_run(&project, &url, &admin);
    let sent = api.requests();
    let _ = server.child.kill();
    let _ = server.child.wait();
    let _ = cli.wait();
    drop(server);

    let restarted = Server::start(&data);
    assert!(restarted.admin.is_none(), "a restart shows no token");
    assert!(
        restarted
            .banner
            .iter()
            .any(|l| l.contains("marked interrupted")),
        "{:?}",
        restarted.banner
    );
    let (_, runs) = call(&restarted.url, "GET", "/api/runs", &admin, None, &mut seen);
    let run = &runs["runs"][0];
    assert_eq!(run["status"], "interrupted", "{runs}");
    assert_eq!(run["exit_code"], 130);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(api.requests(), sent, "an interrupted run is not sent again");

    // SIGTERM: the server stops the running run, records it, and exits 0.
    let mut restarted = restarted;
    let url = restarted.url.clone();
    let mut cli = start_slow_run(&project, &url, &admin);
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(restarted.child.id() as i32, libc::SIGTERM) };
    let status = restarted.child.wait().expect("the server exits");
    assert!(status.success(), "a SIGTERM'd server exits 0: {status:?}");
    let code = cli.wait().expect("cli").code();
    assert_eq!(code, Some(130), "the CLI exits as the run did");
    drop(restarted);
    let again = Server::start(&data);
    assert!(
        !again
            .banner
            .iter()
            .any(|l| l.contains("marked interrupted")),
        "the run was recorded at shutdown, not found running on restart: {:?}",
        again.banner
    );
    let (_, runs) = call(&again.url, "GET", "/api/runs", &admin, None, &mut seen);
    assert_eq!(runs["runs"][0]["status"], "interrupted", "{runs}");
}

/// `reqflo run slow --remote URL` in the background, once the server says
/// the run is running.
fn start_slow_run(
    project: &crate::common::TestProject,
    url: &str,
    token: &str,
) -> std::process::Child {
    let cli = command(
        project.path("").as_path(),
        &["run", "slow", "--remote", url],
        &[("REQFLO_TOKEN", token)],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("cli");
    let mut seen = Vec::new();
    wait_for("the run to be running", || {
        let (_, runs) = call(
            url,
            "GET",
            "/api/runs?status=running",
            token,
            None,
            &mut seen,
        );
        runs["runs"].as_array().is_some_and(|r| !r.is_empty())
    });
    cli
}

#[test]
fn a_database_the_server_cannot_use_is_refused_before_it_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").display().to_string();
    for (database, says) in [
        ("mysql://u:pw_canary_9f@db/x", "`mysql:` is not a database"),
        ("not a url", "postgres://USER@HOST:PORT/NAME"),
    ] {
        let out = command(
            dir.path(),
            &["server", "--data", &data, "--database", database],
            &[],
        )
        .output()
        .expect("reqflo");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("--database") && stderr.contains(says),
            "{stderr}"
        );
        assert!(!stderr.contains("pw_canary_9f"), "{stderr}");
    }
    // Postgres that is not there: the start fails naming it, password hidden.
    let out = command(
        dir.path(),
        &[
            "server",
            "--data",
            &data,
            "--database",
            "postgres://reqflo:pw_canary_9f@127.0.0.1:1/reqflo",
        ],
        &[],
    )
    .output()
    .expect("reqflo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("postgres://reqflo:***@127.0.0.1:1/reqflo"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw_canary_9f"), "{stderr}");
}
