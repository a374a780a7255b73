//! `reqflo server` end to end, as a team uses it: the real binary started
//! on a free port with a temporary data folder, an admin who registers the
//! demo API's key, a builder's CI token, `reqflo run --remote` on
//! `examples/payments`, the run and its reports read over the API, the
//! audit entry of the use, a denied journey, and a server killed mid-run.
//! The canary is then looked for in every form in the database and key
//! files, the server's logs, every answer and every report.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{CANARY, assert_absent, command};

/// A running `reqflo server`.
struct Server {
    child: Child,
    url: String,
    /// The admin token printed on first start (or `None` on a restart).
    admin: Option<String>,
    /// What it printed on stdout.
    banner: Vec<String>,
    log: PathBuf,
}

impl Server {
    fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    /// Start with `env` in the server's own environment.
    fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
        let log = data.with_extension(format!("log{}", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut child = command(
            data.parent().expect("parent"),
            &[
                "server",
                "--data",
                &data.display().to_string(),
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "2",
            ],
            &[&[("RUST_LOG", "info")], env].concat(),
        )
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let mut url = None;
        let mut admin = None;
        // The banner ends with the line that says where it listens.
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("reqflo server listening on ") {
                url = Some(rest.trim().to_string());
            }
            if let Some(at) = line.find("rqf_") {
                admin = Some(line[at..].trim().to_string());
            }
            let done = url.is_some();
            banner.push(line);
            if done {
                break;
            }
        }
        // The rest of stdout is drained so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        let url = url.unwrap_or_else(|| panic!("no URL in the banner: {banner:?}"));
        Server {
            child,
            url,
            admin,
            banner,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking JSON client (the test's own, not reqflo's).
fn call(
    url: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    seen: &mut Vec<String>,
) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut request = client
            .request(method.parse().expect("method"), format!("{url}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        seen.push(text.clone());
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    })
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A copy of `examples/payments` in `dir` (a run makes a `.home` in its folder).
fn examples(dir: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/payments");
    let to = dir.join("payments");
    for sub in ["", "journeys", "templates"] {
        std::fs::create_dir_all(to.join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(from.join(sub)).expect("read").flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).expect("copy");
            }
        }
    }
    to
}

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
    for entry in std::fs::read_dir(&data).expect("data").flatten() {
        everything.push(
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).into_owned(),
        );
    }
    for text in &everything {
        assert_absent(text, CANARY, "server test");
    }
}

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
    let mut cli = command(
        project.path("").as_path(),
        &["run", "slow", "--remote", &url],
        &[("REQFLO_TOKEN", &admin)],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("cli");
    wait_for("the run to be running", || {
        let (_, runs) = call(
            &url,
            "GET",
            "/api/runs?status=running",
            &admin,
            None,
            &mut seen,
        );
        runs["runs"].as_array().is_some_and(|r| !r.is_empty())
    });
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
    let mut cli = command(
        project.path("").as_path(),
        &["run", "slow", "--remote", &url],
        &[("REQFLO_TOKEN", &admin)],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("cli");
    wait_for("the second run to be running", || {
        let (_, runs) = call(
            &url,
            "GET",
            "/api/runs?status=running",
            &admin,
            None,
            &mut seen,
        );
        runs["runs"].as_array().is_some_and(|r| !r.is_empty())
    });
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

#[test]
fn a_secret_held_by_openbao_resolves_with_a_managed_token_never_the_servers_own() {
    let bao = crate::common::servers::openbao();
    let value = "sk_bao/Se+cret=7f3c";
    // The secret lives in OpenBao (a real server), KV v2 at secret/.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/secret/data/cloud-runner/payments", bao.url))
            .header("X-Vault-Token", crate::common::servers::OPENBAO_ROOT_TOKEN)
            .json(&json!({"data": {"api_key": value}}))
            .send()
            .await
            .expect("OpenBao answers");
        assert!(answer.status().is_success(), "{:?}", answer.text().await);
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        data.join("server.yaml"),
        format!(
            "providers:\n  vault:\n    plugin: builtin:vault\n    config: {{address: \"{}\"}}\n    grants:\n      env: [VAULT_TOKEN]\n      hosts: [\"{}\"]\n",
            bao.url, bao.authority
        ),
    )
    .expect("server.yaml");
    let api = demo_api::spawn(value).expect("demo api");
    let example = examples(dir.path());
    // The server's own VAULT_TOKEN is wrong: the provider must get the
    // managed one, and never read the server's environment.
    let server = Server::start_with(&data, &[("VAULT_TOKEN", "the-servers-own-wrong-token")]);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(
            json!({"name": "VAULT_TOKEN", "description": "the vault provider's token", "value": crate::common::servers::OPENBAO_ROOT_TOKEN, "journeys": []}),
        ),
        &mut seen,
    );
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(
            json!({"name": "PAYMENTS_API_KEY", "provider": "vault", "reference": "cloud-runner/payments#api_key", "journeys": ["payment-flow"]}),
        ),
        &mut seen,
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["provider"], "vault");
    // A provider the server does not have, and a rotation of a value it does not hold.
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(json!({"name": "OTHER", "provider": "nope"})),
        &mut seen,
    );
    assert_eq!(status, 400, "{answer}");
    let (status, _) = call(
        &url,
        "PUT",
        "/api/secrets/PAYMENTS_API_KEY/value",
        &admin,
        Some(json!({"value": "whatever1"})),
        &mut seen,
    );
    assert_eq!(status, 409);

    let base = format!("base_url={}", api.base_url());
    let run = crate::common::reqflo(
        &example,
        &[
            "run",
            "payment-flow",
            "--env",
            "sandbox",
            "--remote",
            &url,
            "--var",
            &base,
            "-v",
        ],
        &[("REQFLO_TOKEN", &admin)],
    );
    run.expect_code(0).expect_output("payment-flow passed");
    let (_, audit) = call(
        &url,
        "GET",
        "/api/audit?action=secret.used",
        &admin,
        None,
        &mut seen,
    );
    let entries = audit["entries"].as_array().cloned().unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["target"] == "PAYMENTS_API_KEY" && e["detail"]["provider"] == "vault"),
        "{audit}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["target"] == "VAULT_TOKEN" && e["detail"]["as"] == "provider credential"),
        "{audit}"
    );
    let mut everything = vec![run.all(), server.log()];
    everything.extend(seen.iter().cloned());
    drop(server);
    for entry in std::fs::read_dir(&data).expect("data").flatten() {
        everything.push(
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).into_owned(),
        );
    }
    for text in &everything {
        assert_absent(text, value, "openbao-backed server secret");
    }
}

#[test]
fn data_keys_wrapped_by_openbao_transit_open_and_rotate_without_the_values() {
    let bao = crate::common::servers::openbao();
    let root = crate::common::servers::OPENBAO_ROOT_TOKEN;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for (path, body) in [
            ("sys/mounts/transit-rqf", json!({"type": "transit"})),
            ("transit-rqf/keys/reqflo", json!({})),
        ] {
            let answer = client
                .post(format!("{}/v1/{path}", bao.url))
                .header("X-Vault-Token", root)
                .json(&body)
                .send()
                .await
                .expect("OpenBao answers");
            assert!(
                answer.status().is_success(),
                "{path}: {:?}",
                answer.text().await
            );
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        data.join("server.yaml"),
        format!(
            "key_encryption:\n  transit: {{address: \"{}\", key: reqflo, mount: transit-rqf}}\n",
            bao.url
        ),
    )
    .expect("server.yaml");
    let api = demo_api::spawn(CANARY).expect("demo api");
    let example = examples(dir.path());
    let server = Server::start_with(&data, &[("REQFLO_TRANSIT_TOKEN", root)]);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(json!({"name": "PAYMENTS_API_KEY", "value": CANARY, "journeys": ["payment-flow"]})),
        &mut seen,
    );
    assert_eq!(status, 201, "{answer}");
    let data_bytes = || {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&data).expect("data").flatten() {
            all.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
        all
    };
    let holds = |needle: &str| {
        data_bytes()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    assert!(holds("vault:v1:"), "the data key is wrapped by Transit");
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
    ];
    crate::common::reqflo(&example, &args, &[("REQFLO_TOKEN", &admin)]).expect_code(0);
    // Rotation: a new Transit key version; every data key re-wrapped inside OpenBao.
    let (status, rotated) = call(&url, "POST", "/api/keys/rotate", &admin, None, &mut seen);
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["rewrapped"], 1);
    assert_eq!(
        rotated["from"], rotated["to"],
        "the same Transit key, a new version"
    );
    wait_for("the WAL to hold the re-wrapped key", || holds("vault:v2:"));
    let again = crate::common::reqflo(&example, &args, &[("REQFLO_TOKEN", &admin)]);
    again.expect_code(0).expect_output("payment-flow passed");
    let mut everything = vec![again.all(), server.log()];
    everything.extend(seen.iter().cloned());
    drop(server);
    everything.push(String::from_utf8_lossy(&data_bytes()).into_owned());
    for text in &everything {
        assert_absent(text, CANARY, "transit-wrapped server secret");
    }
}
