//! `reqflo run --remote URL` and `reqflo login URL`: run on a reqflo server.
//!
//! The project goes up without what the server's admin owns (`providers:`,
//! `hooks:`, `secrets:` and each environment's chain), the run is started,
//! its events stream back as the same console lines a local run prints, and
//! the command exits with the run's code. Secrets resolve on the server;
//! none passes through here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::cli::{LoginArgs, RunArgs};
use crate::console::{self, Console};
use crate::exit;
use reqflo_core::bundle::Bundle;
use reqflo_core::error::{Error, Result};
use reqflo_core::project::{PROJECT_FILE, Project};
use reqflo_core::redact::Redactor;

/// Where `reqflo login` keeps tokens: one per server URL, mode 0600.
fn tokens_file() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("reqflo")
        .join("tokens.json")
}

fn saved_tokens() -> IndexMap<String, String> {
    std::fs::read_to_string(tokens_file())
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The token for `url`: `REQFLO_TOKEN`, else the one `reqflo login` saved.
fn token_for(url: &str) -> Result<String> {
    if let Ok(token) = std::env::var("REQFLO_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_string());
    }
    saved_tokens().get(url).cloned().ok_or_else(|| {
        Error::Usage(format!(
            "no token for {url}: set REQFLO_TOKEN, or run `reqflo login {url}` and paste one"
        ))
    })
}

/// A client of one server, with its token.
struct Server {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Server {
    fn new(url: &str, token: String) -> Result<Server> {
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Usage(format!(
                "--remote takes http(s)://HOST[:PORT], got `{url}`"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("reqflo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Runtime(format!("cannot start an HTTP client: {e}")))?;
        Ok(Server { url, token, http })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    /// Send, and read a JSON answer; a non-2xx status is an error carrying
    /// the server's message and its exit code.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let response = request
            .send()
            .await
            .map_err(|e| Error::Runtime(format!("cannot reach {}: {e}", self.url)))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"].as_str().unwrap_or("no message").to_string();
        let message = format!("the server answered {status}: {message}");
        Err(match status.as_u16() {
            400 => match body["exit_code"].as_i64() {
                Some(2) => Error::Definition(reqflo_core::error::Diagnostic::new(message)),
                _ => Error::Usage(message),
            },
            403 => Error::Policy(reqflo_core::error::Diagnostic::new(message)),
            401 | 404 | 413 | 415 => Error::Usage(message),
            _ => Error::Runtime(message),
        })
    }
}

/// `reqflo login URL`: check a token read from stdin against the server and
/// save it for that URL.
pub async fn login(args: &LoginArgs) -> Result<i32> {
    console::err("paste a token from the server's admin, then Enter:");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Usage(format!("cannot read the token: {e}")))?;
    let server = Server::new(&args.url, line.trim().to_string())?;
    let me = server
        .call(server.request(reqwest::Method::GET, "/api/whoami"))
        .await?;
    let mut tokens = saved_tokens();
    tokens.insert(server.url.clone(), server.token.clone());
    let path = tokens_file();
    write_private(
        &path,
        &serde_json::to_string_pretty(&tokens).unwrap_or_default(),
    )
    .map_err(|e| Error::Runtime(format!("cannot write {}: {e}", path.display())))?;
    console::out(&format!(
        "logged in to {} as `{}` ({}); token saved in {}",
        server.url,
        me["name"].as_str().unwrap_or("?"),
        me["role"].as_str().unwrap_or("?"),
        path.display()
    ));
    Ok(exit::OK)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// What a server project holds: `reqflo.yaml` with environments' variables
/// only, and every journey and template as written.
fn upload_files(
    project: Option<&Project>,
    bundle: Option<&Path>,
) -> Result<(IndexMap<String, String>, Vec<String>)> {
    let mut files = IndexMap::new();
    let (environments, bundled) = match (bundle, project) {
        (Some(path), _) => {
            let bundle = Bundle::read(path)?;
            let journey = bundle.journey.clone();
            files.extend(bundle.files);
            (bundle.environments, Some(journey))
        }
        (None, Some(project)) => {
            for name in project.journey_names() {
                let loaded = project.journey(&name)?;
                files.insert(
                    format!("journeys/{name}.yaml"),
                    loaded.source.text().to_string(),
                );
            }
            for name in project.template_names() {
                if let Some(Ok(loaded)) = project.template(&name) {
                    files.insert(
                        format!("templates/{name}.yaml"),
                        loaded.source.text().to_string(),
                    );
                }
            }
            let config: serde_yaml::Value = serde_yaml::from_str(project.config_source.text())
                .unwrap_or(serde_yaml::Value::Null);
            let environments = config
                .get("environments")
                .and_then(|e| e.as_mapping())
                .cloned()
                .unwrap_or_default();
            (environments, None)
        }
        (None, None) => return Err(Error::Usage("no project and no bundle".into())),
    };
    // The provider chain and hooks are the server admin's.
    let mut root = serde_yaml::Mapping::new();
    root.insert(
        "environments".into(),
        serde_yaml::Value::Mapping(environments),
    );
    let text = serde_yaml::to_string(&root).map_err(|e| Error::Runtime(e.to_string()))?;
    let config = reqflo_server::sources::server_config(&text).map_err(Error::Usage)?;
    files.insert(PROJECT_FILE.to_string(), config);
    Ok((files, bundled.into_iter().collect()))
}

/// The project's name on the server: `--remote-project`, else its folder's.
fn project_name(args: &RunArgs, root: &Path) -> String {
    if let Some(name) = &args.remote_project {
        return name.clone();
    }
    let folder = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let name: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.trim_start_matches('.').to_string()
}

/// `reqflo run --remote URL`.
pub async fn run_remote(
    url: &str,
    project: Option<&Project>,
    root: &Path,
    args: RunArgs,
    _redactor: &Arc<Redactor>,
) -> Result<i32> {
    if args.selection.secrets.is_some() {
        return Err(Error::Usage("--secrets is not available with --remote: the server's admin decides where secrets come from".into()));
    }
    let server = Server::new(url, token_for(url.trim_end_matches('/'))?)?;
    let (files, bundled) = upload_files(project, args.bundle.as_deref())?;
    let name = project_name(&args, root);
    let uploaded = server
        .call(
            server
                .request(reqwest::Method::PUT, &format!("/api/projects/{name}"))
                .json(&json!({ "files": files })),
        )
        .await?;
    let journeys = if bundled.is_empty() {
        args.selection.journeys.clone()
    } else {
        bundled
    };
    if journeys.is_empty() && !args.selection.all {
        let known: Vec<String> = uploaded["journeys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|j| j.as_str().map(str::to_string))
            .collect();
        return Err(Error::Usage(format!(
            "name a journey to run, or --all (journeys: {})",
            reqflo_core::project::list_or_none(&known)
        )));
    }
    let inputs = crate::cli::parse_pairs("--input", &args.selection.inputs)?;
    let variables = crate::cli::parse_pairs("--var", &args.selection.variables)?;
    let started = server
        .call(
            server
                .request(reqwest::Method::POST, "/api/runs")
                .json(&json!({
                    "project": name,
                    "journeys": if args.selection.all { Vec::new() } else { journeys },
                    "all": args.selection.all,
                    "environment": args.selection.environment,
                    "inputs": inputs,
                    "variables": variables,
                    "location": args.location,
                })),
        )
        .await?;
    let id = started["id"].as_str().unwrap_or_default().to_string();
    let stop = crate::interrupt::on_signals()?;
    let console = Console::for_terminal(args.verbose, args.quiet, 1);
    let finished = tokio::select! {
        finished = follow(&server, &id, &console) => finished?,
        why = stop.wait() => {
            console::err(&format!("interrupted ({why}): cancelling run {id} on the server"));
            let _ = server.call(server.request(reqwest::Method::POST, &format!("/api/runs/{id}/cancel"))).await;
            follow(&server, &id, &Console::for_terminal(false, true, 1)).await?
        }
    };
    for (format, path) in [
        ("json", args.report_json.clone()),
        ("junit", args.report_junit.clone()),
        (
            "html",
            args.report_html.clone().map(|dir| dir.join("index.html")),
        ),
    ] {
        if let Some(path) = path {
            fetch_report(&server, &id, format, &path).await?;
        }
    }
    if let Some(error) = finished["error"].as_str()
        && !error.is_empty()
        && finished["status"] == "error"
    {
        console::err(&format!("error: {}", console::printable(error)));
    }
    console::err(&format!(
        "run {id} on {}: {}",
        server.url,
        finished["status"].as_str().unwrap_or("?")
    ));
    Ok(finished["exit_code"]
        .as_i64()
        .map_or(exit::RUNTIME, |c| c as i32))
}

/// Print the run's events until it ends; returns the last (`run_finished`).
async fn follow(server: &Server, id: &str, console: &Console) -> Result<Value> {
    let mut response = server
        .request(reqwest::Method::GET, &format!("/api/runs/{id}/events"))
        .send()
        .await
        .map_err(|e| Error::Runtime(format!("cannot follow run {id}: {e}")))?;
    if !response.status().is_success() {
        return Err(Error::Runtime(format!(
            "cannot follow run {id}: {}",
            response.status()
        )));
    }
    let mut buffer = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| Error::Runtime(format!("the event stream of run {id} broke: {e}")))?;
        let Some(chunk) = chunk else {
            return Err(Error::Runtime(format!(
                "the event stream of run {id} ended before the run"
            )));
        };
        buffer.extend_from_slice(&chunk);
        // Server-sent events: `data: …` lines, events apart by a blank line.
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let data: String = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|l| l.strip_prefix(' ').unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n");
            if data.is_empty() {
                continue;
            }
            let Ok(event) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            if event["event"] == "run_finished" {
                return Ok(event);
            }
            console.remote_event(&event);
        }
    }
}

async fn fetch_report(server: &Server, id: &str, format: &str, path: &Path) -> Result<()> {
    let response = server
        .request(
            reqwest::Method::GET,
            &format!("/api/runs/{id}/report/{format}"),
        )
        .send()
        .await
        .map_err(|e| Error::Runtime(format!("cannot fetch the {format} report: {e}")))?;
    if !response.status().is_success() {
        return Err(Error::Runtime(format!(
            "cannot fetch the {format} report: {}",
            response.status()
        )));
    }
    let text = response
        .text()
        .await
        .map_err(|e| Error::Runtime(format!("cannot fetch the {format} report: {e}")))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Error::Runtime(format!("cannot write {}: {e}", path.display())))
}
