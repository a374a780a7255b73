//! `reqflo server` end to end, as a team uses it (the harness here; the
//! tests in the modules): the real binary started
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

use serde_json::Value;

use crate::common::{Run, command};

/// A running `reqflo server`.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// The admin token printed on first start (or `None` on a restart).
    pub admin: Option<String>,
    /// What it printed on stdout.
    pub banner: Vec<String>,
    pub log: PathBuf,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    /// Start with `env` in the server's own environment.
    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_args(data, &["--workers", "2"], env)
    }

    /// Start with `args` after `--data` and `--listen`, and `env`.
    pub fn start_args(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let log = data.with_extension(format!("log{}", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut child = command(
            data.parent().expect("parent"),
            &[
                &[
                    "server",
                    "--data",
                    &data.display().to_string(),
                    "--listen",
                    "127.0.0.1:0",
                ],
                args,
            ]
            .concat(),
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

    pub fn log(&self) -> String {
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
pub fn call(
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

pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A copy of `examples/payments` in `dir` (a run makes a `.home` in its folder).
pub fn examples(dir: &Path) -> PathBuf {
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

/// `reqflo run payment-flow --env sandbox --remote URL` in the example
/// project, then `extra` arguments, with `token` as `REQFLO_TOKEN` (none:
/// the token `reqflo login` saved).
pub fn run_example(example: &Path, url: &str, extra: &[&str], token: Option<&str>) -> Run {
    let mut args = vec!["run", "payment-flow", "--env", "sandbox", "--remote", url];
    args.extend_from_slice(extra);
    let env: Vec<(&str, &str)> = token.map(|t| ("REQFLO_TOKEN", t)).into_iter().collect();
    crate::common::reqflo(example, &args, &env)
}

/// Everything in a data folder (database, WAL, key files), as text.
pub fn data_text(data: &Path) -> String {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(data).expect("data").flatten() {
        all.extend(std::fs::read(entry.path()).unwrap_or_default());
    }
    String::from_utf8_lossy(&all).into_owned()
}

mod agent;
mod aws_web_identity;
mod keys;
mod restart;
mod scale;
mod team;
mod ui;
