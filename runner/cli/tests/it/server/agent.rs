//! A private agent (`reqflo agent`), as a team with a lab network uses it:
//! the admin registers the agent for location `lab`; the agent, started in
//! its own process with an `agent.yaml` that alone knows where the API
//! under test is, runs a journey submitted for `lab` with the managed key
//! sealed to its own key; the server's files never hold the key in any
//! form. A revoked agent gets nothing.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Server, call, data_text, examples, run_example};
use crate::common::{CANARY, assert_absent, command};

/// A running `reqflo agent`, killed when dropped.
struct Agent {
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `reqflo agent` (with `env` besides its token) and wait for its
/// ready line.
fn start_agent(
    dir: &std::path::Path,
    url: &str,
    token: &str,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Agent {
    let config = dir.join("agent.yaml");
    let data = dir.join("agent-data");
    let log_file = std::fs::File::create(log).expect("agent log");
    let mut child = command(
        dir,
        &[
            "agent",
            "--server",
            url,
            "--data",
            &data.display().to_string(),
            "--config",
            &config.display().to_string(),
        ],
        &[&[("REQFLO_AGENT_TOKEN", token), ("RUST_LOG", "info")], env].concat(),
    )
    .stdout(Stdio::piped())
    .stderr(log_file)
    .spawn()
    .expect("agent starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(ready.starts_with("reqflo agent (key "), "{ready}");
    std::thread::spawn(move || for _ in lines {});
    Agent { child }
}

#[test]
fn an_agent_runs_a_lab_journey_with_a_sealed_key_the_server_never_keeps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // The API under test: only the agent's agent.yaml names its address.
    let api = demo_api::spawn(CANARY).expect("demo api");
    let example = examples(dir.path());
    let server = Server::start(&data);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();

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

    // No agent serves `lab` yet: a run for it is refused, not left waiting.
    let refused = run_example(&example, &url, &["--location", "lab"], Some(&ci));
    refused
        .expect_code(1)
        .expect_output("no agent serves location `lab`");

    // The admin registers the lab's agent; a bad name is refused.
    let (status, _) = call(
        &url,
        "POST",
        "/api/agents",
        &admin,
        Some(json!({"name": "lab 1", "location": "lab"})),
        &mut seen,
    );
    assert_eq!(status, 400);
    let (status, _) = call(
        &url,
        "POST",
        "/api/agents",
        &ci,
        Some(json!({"name": "lab-1", "location": "lab"})),
        &mut seen,
    );
    assert_eq!(status, 403, "a builder cannot register an agent");
    let (status, agent) = call(
        &url,
        "POST",
        "/api/agents",
        &admin,
        Some(json!({"name": "lab-1", "location": "lab"})),
        &mut seen,
    );
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["id"].as_str().expect("id").to_string();
    let agent_token = agent["token"].as_str().expect("token").to_string();
    assert!(agent_token.starts_with("rqa_"));
    let (status, _) = call(
        &url,
        "POST",
        "/api/agents",
        &admin,
        Some(json!({"name": "lab-1", "location": "lab"})),
        &mut seen,
    );
    assert_eq!(status, 409, "one agent per name");

    std::fs::write(
        dir.path().join("agent.yaml"),
        format!("variables:\n  base_url: {}\n", api.base_url()),
    )
    .expect("agent.yaml");
    let agent_log = dir.path().join("agent.log");
    let running = start_agent(dir.path(), &url, &agent_token, &agent_log, &[]);

    // CI submits the run for `lab` without the API's address: the agent
    // runs it; the lines and the exit code come back as from the server.
    let run = run_example(&example, &url, &["--location", "lab", "-v"], Some(&ci));
    let agent_said = std::fs::read_to_string(&agent_log).unwrap_or_default();
    run.expect_code(0)
        .expect_output("payment-flow passed: 4 of 4 steps ok");
    run.expect_output("[redacted:PAYMENTS_API_KEY]");
    assert!(
        api.requests() >= 4,
        "the agent reached the lab's API: {agent_said}"
    );

    let (_, runs) = call(&url, "GET", "/api/runs", &admin, None, &mut seen);
    let shown = &runs["runs"][0];
    assert_eq!(shown["location"], "lab", "{shown}");
    assert_eq!(shown["worker"], "agent:lab-1", "{shown}");
    let id = shown["id"].as_str().expect("id").to_string();
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
    let (_, audit) = call(
        &url,
        "GET",
        "/api/audit?action=secret.used",
        &admin,
        None,
        &mut seen,
    );
    let used = &audit["entries"][0]["detail"];
    assert_eq!(used["agent"], "lab-1", "{audit}");
    let (_, agents) = call(&url, "GET", "/api/agents", &admin, None, &mut seen);
    assert!(agents["agents"][0]["public_key"].is_string(), "{agents}");
    assert!(!agents.to_string().contains(&agent_token));

    // Revoked: the token stops working at once, and the agent stops.
    let (status, _) = call(
        &url,
        "DELETE",
        &format!("/api/agents/{agent_id}"),
        &admin,
        None,
        &mut seen,
    );
    assert_eq!(status, 200);
    let (status, refused) = call(
        &url,
        "POST",
        "/api/agent/claim",
        &agent_token,
        Some(json!({"public_key": agents["agents"][0]["public_key"], "wait_ms": 0})),
        &mut seen,
    );
    assert_eq!(status, 401, "{refused}");
    let mut running = running;
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = running.child.try_wait().expect("agent") {
            break status.code();
        }
        assert!(Instant::now() < deadline, "the revoked agent kept running");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(1));
    let agent_said = std::fs::read_to_string(&agent_log).unwrap_or_default();
    assert!(
        agent_said.contains("unknown or revoked agent token"),
        "{agent_said}"
    );
    // And nothing for `lab` can be submitted now.
    let after = run_example(&example, &url, &["--location", "lab"], Some(&ci));
    after.expect_code(1);

    // The key, in every form, is in none of the server's files, answers,
    // log, or the agent's folder and log. (The API's address reaches the
    // server only in the run's report, as the agent saw it.)
    drop(server);
    let stored = data_text(&data);
    assert_absent(&stored, CANARY, "the server's data folder");
    assert_absent(&seen.join("\n"), CANARY, "the answers");
    assert_absent(
        &data_text(&dir.path().join("agent-data")),
        CANARY,
        "the agent's folder",
    );
    assert_absent(&agent_said, CANARY, "the agent's log");
    assert_absent(&run.all(), CANARY, "the run's output");
}

/// Wait up to `limit` until run `id` is `status`; the run.
fn until_status(url: &str, admin: &str, id: &str, status: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (_, run) = call(
            url,
            "GET",
            &format!("/api/runs/{id}"),
            admin,
            None,
            &mut Vec::new(),
        );
        if run["status"] == status {
            return run;
        }
        assert!(Instant::now() < deadline, "run {id} is not {status}: {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_agent_resolves_its_own_secret_is_cancelled_and_loses_its_run_when_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    std::fs::write(data.join("server.yaml"), "lease: 2s\n").expect("settings");
    let api = demo_api::spawn(CANARY).expect("demo api");
    let server = Server::start(&data);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();

    // The project names an address that leads nowhere: only the agent
    // knows the lab's. LAB_KEY is registered nowhere on the server.
    let count = "method: POST\nurl: \"{{base_url}}/v1/count/{{n}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";
    let own = "inputs:\n  n: {}\nsteps:\n  - id: count\n    template: count\n    values:\n      key: {type: secret, name: LAB_KEY}\n      n: {type: input, name: n}\n    expect:\n      status: 201\n";
    let files = json!({"files": {
        "reqflo.yaml": "environments:\n  lab:\n    variables: {base_url: \"http://127.0.0.1:9\"}\n",
        "templates/count.yaml": count,
        "templates/slow.yaml": "method: GET\nurl: \"{{base_url}}/slow?ms=30000\"\n",
        "journeys/own.yaml": own,
        "journeys/slow.yaml": "steps:\n  - id: wait\n    template: slow\n",
    }});
    let (status, answer) = call(
        &url,
        "PUT",
        "/api/projects/lab",
        &admin,
        Some(files),
        &mut seen,
    );
    assert_eq!(status, 200, "{answer}");
    let (status, agent) = call(
        &url,
        "POST",
        "/api/agents",
        &admin,
        Some(json!({"name": "lab-2", "location": "lab"})),
        &mut seen,
    );
    assert_eq!(status, 201, "{agent}");
    let token = agent["token"].as_str().expect("token").to_string();
    std::fs::write(
        dir.path().join("agent.yaml"),
        format!(
            "variables:\n  base_url: {}\nsecrets:\n  LAB_KEY: {{provider: env, reference: LAB_TOKEN, hosts: [127.0.0.1], allow_http: true}}\n",
            api.base_url()
        ),
    )
    .expect("agent.yaml");
    let agent_log = dir.path().join("agent.log");
    let mut agent = start_agent(
        dir.path(),
        &url,
        &token,
        &agent_log,
        &[("LAB_TOKEN", CANARY)],
    );

    let submit = |journey: &str, location: Option<&str>, seen: &mut Vec<String>| {
        let inputs = if journey == "own" {
            json!({"n": "own-1"})
        } else {
            json!({})
        };
        let mut body = json!({"project": "lab", "journeys": [journey], "environment": "lab",
                              "inputs": inputs});
        if let Some(location) = location {
            body["location"] = json!(location);
        }
        call(&url, "POST", "/api/runs", &admin, Some(body), seen)
    };
    // On the server's own workers, a secret it does not hold is refused.
    let (status, refused) = submit("own", None, &mut seen);
    assert_eq!(status, 403, "{refused}");
    // On the agent, it is the agent's to resolve, from its own environment.
    let (status, queued) = submit("own", Some("lab"), &mut seen);
    assert_eq!(status, 202, "{queued}");
    let id = queued["id"].as_str().expect("id").to_string();
    let done = until_status(&url, &admin, &id, "passed", Duration::from_secs(60));
    assert_eq!(done["worker"], "agent:lab-2", "{done}");

    // Cancelled from the server: the agent hears it with its next events.
    let (status, queued) = submit("slow", Some("lab"), &mut seen);
    assert_eq!(status, 202, "{queued}");
    let id = queued["id"].as_str().expect("id").to_string();
    until_status(&url, &admin, &id, "running", Duration::from_secs(60));
    let (status, _) = call(
        &url,
        "POST",
        &format!("/api/runs/{id}/cancel"),
        &admin,
        None,
        &mut seen,
    );
    assert_eq!(status, 202);
    let cancelled = until_status(&url, &admin, &id, "cancelled", Duration::from_secs(20));
    assert_eq!(cancelled["exit_code"], 130, "{cancelled}");

    // Killed mid-run: within the lease (2 s) the run is `interrupted`, and
    // what the dead agent held is never sent again.
    let (status, queued) = submit("slow", Some("lab"), &mut seen);
    assert_eq!(status, 202, "{queued}");
    let id = queued["id"].as_str().expect("id").to_string();
    until_status(&url, &admin, &id, "running", Duration::from_secs(60));
    let killed = Instant::now();
    let _ = agent.child.kill();
    let _ = agent.child.wait();
    let lost = until_status(&url, &admin, &id, "interrupted", Duration::from_secs(20));
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "{:?}",
        killed.elapsed()
    );
    assert!(
        lost["error"].as_str().unwrap_or_default().contains("lease"),
        "{lost}"
    );

    drop(server);
    assert_absent(&data_text(&data), CANARY, "the server's data folder");
    assert_absent(&seen.join("\n"), CANARY, "the answers");
    let agent_said = std::fs::read_to_string(&agent_log).unwrap_or_default();
    assert_absent(&agent_said, CANARY, "the agent's log");
}
