//! `reqflo server`: the Cloud Runner in this same binary. It gets a
//! multi-threaded runtime of its own (a CLI run needs one thread; a server
//! runs many runs at once).

use std::path::PathBuf;

use crate::cli::{AgentArgs, ServerArgs, ServerCommand, WorkerArgs};
use crate::console;
use crate::exit;
use reqflo_server::config::{ServerConfig, default_data_folder};
use reqflo_server::db::Database;

/// Start the server (or `init` its data folder); returns the exit code.
pub fn server_command(args: ServerArgs) -> i32 {
    reqflo_server::init_logging(args.log_json);
    let mut config = match settings(
        args.data.clone(),
        args.config.as_deref(),
        args.database.as_deref(),
        args.workers,
    ) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let data = config.data.clone();
    let store = match &config.database {
        Database::InFolder => None,
        postgres => Some(postgres.describe(&data)),
    };
    let result = match args.command {
        Some(ServerCommand::Init { name }) => runtime
            .block_on(reqflo_server::new_admin_token(config, &name))
            .map(|token| {
                console::out(&format!("data folder: {}", data.display()));
                console::out(&format!("admin token (shown once): {token}"));
            }),
        None => runtime.block_on(reqflo_server::serve(config, shutdown_signal(), |ready| {
            console::out(&format!("data folder: {}", data.display()));
            if let Some(store) = &store {
                console::out(&format!("database: {store}"));
            }
            if let Some(token) = ready.admin_token {
                console::out(&format!(
                    "admin token (shown once; `reqflo server init` makes another): {token}"
                ));
            }
            if ready.interrupted > 0 {
                console::out(&format!(
                    "{} run(s) were running when the server last stopped: marked interrupted, not run again",
                    ready.interrupted
                ));
            }
            if ready.requeued > 0 {
                console::out(&format!("{} queued run(s) queued again", ready.requeued));
            }
            // Last: a script may wait for this line.
            console::out(&format!("reqflo server listening on {}", ready.url));
        })),
    };
    exit_code(result)
}

/// `reqflo worker`: take queued runs from the server's Postgres database
/// until Ctrl-C or SIGTERM; returns the exit code.
pub fn worker_command(args: WorkerArgs) -> i32 {
    reqflo_server::init_logging(args.log_json);
    let config = match settings(
        args.data.clone(),
        args.config.as_deref(),
        Some(&args.database),
        args.workers,
    ) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(reqflo_server::worker::work(
        config,
        shutdown_signal(),
        |ready| {
            // Last: a script may wait for this line.
            console::out(&format!(
                "reqflo worker {} taking runs from {}",
                ready.process, ready.database
            ));
        },
    ));
    exit_code(result)
}

/// `reqflo agent`: take the runs for this agent's location until Ctrl-C or
/// SIGTERM; returns the exit code (1 when the server refuses the agent).
pub fn agent_command(args: AgentArgs) -> i32 {
    reqflo_server::init_logging(args.log_json);
    let data = args.data.unwrap_or_else(|| {
        dirs::data_dir()
            .unwrap_or_else(|| std::path::PathBuf::from("."))
            .join("reqflo")
            .join("agent")
    });
    let options = reqflo_server::agent::AgentOptions {
        server: args.server,
        token: args.token.into(),
        data: absolute(data),
        config: args.config.map(absolute),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(reqflo_server::agent::serve(
        options,
        shutdown_signal(),
        |ready| {
            // Last: a script may wait for this line.
            console::out(&format!(
                "reqflo agent (key {}) taking runs from {}",
                ready.public_key, ready.server
            ));
        },
    ));
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            console::err(&format!("error: {e}"));
            exit::USAGE
        }
    }
}

/// The settings a server or worker starts with: `server.yaml` in the data
/// folder (or `--config`), then the flags; or the exit code of a bad one.
fn settings(
    data: Option<PathBuf>,
    file: Option<&std::path::Path>,
    database: Option<&str>,
    workers: Option<u16>,
) -> Result<ServerConfig, i32> {
    let data = data.unwrap_or_else(default_data_folder);
    let mut config = ServerConfig::load(absolute(data), file).map_err(|e| {
        console::err(&format!("error: {e}"));
        exit::USAGE
    })?;
    if let Some(database) = database {
        config.database = Database::parse(database).map_err(|e| {
            console::err(&format!("error: --database: {e}"));
            exit::USAGE
        })?;
    }
    if let Some(workers) = workers {
        config.workers = usize::from(workers);
    }
    Ok(config)
}

/// The multi-threaded runtime a server or worker runs on, or the exit code.
fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            console::err(&format!("error: cannot start the async runtime: {e}"));
            exit::RUNTIME
        })
}

fn exit_code(result: Result<(), reqflo_server::ServerError>) -> i32 {
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            console::err(&format!("error: {e}"));
            exit::RUNTIME
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(&path))
        .unwrap_or(path)
}
