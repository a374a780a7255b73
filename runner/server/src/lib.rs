//! reqflo's Cloud Runner (`reqflo server`): admins register secrets
//! (write-only, encrypted at rest) and decide which journeys may use them;
//! builders upload journeys; runs are queued, checked against policy before
//! anything is sent, executed by in-process workers on the same engine as
//! the CLI, and kept as a redacted history with an audit log of every use.
//!
//! One process, SQLite in a data folder, and a master key file created on
//! first start: nothing else is needed.

#![warn(missing_docs)]

pub mod agent;
pub mod api;
pub mod auth;
pub mod blocks;
pub mod config;
use reqflo_core::credentials;
pub mod db;
pub mod edit;
pub mod error;
mod execute;
pub mod keys;
pub mod lease;
pub mod metrics;
mod probe;
pub mod project;
pub mod queue;
pub mod registry;
pub mod sealing;
pub mod sources;
pub mod state;
pub mod transit;
pub mod web;
pub mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::RwLock;

pub use api::{AppState, router};
pub use config::ServerConfig;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data folder, key or database.
    #[error("{0}")]
    Setup(String),
    /// The listening socket.
    #[error("cannot listen on {addr}: {why}")]
    Listen {
        /// Where.
        addr: SocketAddr,
        /// Why.
        why: String,
    },
}

/// A server's state, opened from its data folder; `admin_token` is set when
/// this opening created the first admin token (to be shown once).
pub struct Opened {
    /// What handlers share.
    pub state: AppState,
    /// The first admin token, if it was just created.
    pub admin_token: Option<String>,
    /// Whether the master key was just created.
    pub key_created: bool,
}

/// Open (creating on first use) the data folder: the folder (0700), the
/// master key (0600), the database, and the first admin token.
pub async fn open(config: ServerConfig) -> Result<Opened, ServerError> {
    let (state, key_created) = open_store(config, "server").await?;
    let setup = |what: &str, e: &dyn std::fmt::Display| ServerError::Setup(format!("{what}: {e}"));
    let tokens: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tokens")
        .fetch_one(&state.db)
        .await
        .map_err(|e| setup("database", &e))?;
    let admin_token = if tokens.0 == 0 {
        let (_, token) = api::tokens::issue(
            &state.db,
            "admin",
            auth::Role::Admin,
            "reqflo server (first start)",
        )
        .await
        .map_err(|e| ServerError::Setup(e.message))?;
        Some(token)
    } else {
        None
    };
    Ok(Opened {
        state,
        admin_token,
        key_created,
    })
}

/// The state a process of `kind` (`server`, `worker`) works with: the
/// data folder, its keys and the store, migrated. Returns whether the
/// master key was just created.
pub(crate) async fn open_store(
    config: ServerConfig,
    kind: &str,
) -> Result<(AppState, bool), ServerError> {
    let setup = |what: &str, e: &dyn std::fmt::Display| ServerError::Setup(format!("{what}: {e}"));
    create_private_folder(&config.data)
        .map_err(|e| setup(&format!("data folder {}", config.data.display()), &e))?;
    let (keys, key_created) = keys::Keyring::open_or_create(&config.data, config.transit.clone())
        .map_err(|e| setup("key-encryption key", &e))?;
    let db = db::open(&config.database, &config.data)
        .await
        .map_err(|e| {
            let named = config.database.describe(&config.data);
            setup(&format!("database {named}"), &e)
        })?;
    let state = AppState {
        db,
        keys: Arc::new(RwLock::new(keys)),
        queue: Arc::new(queue::Queue::new(
            config.queue_limit,
            config.project_concurrency,
        )),
        config: Arc::new(config),
        metrics: Arc::new(metrics::Metrics::default()),
        process: lease::process_name(kind).into(),
        stores_events: kind == "worker",
        agent_redactors: Default::default(),
    };
    Ok((state, key_created))
}

/// A new admin token for the data folder (`reqflo server init`): creates
/// the folder, key and database if needed. Returns the token.
pub async fn new_admin_token(config: ServerConfig, name: &str) -> Result<String, ServerError> {
    let opened = open(config).await?;
    if let Some(token) = opened.admin_token {
        return Ok(token);
    }
    let (_, token) = api::tokens::issue(
        &opened.state.db,
        name,
        auth::Role::Admin,
        "reqflo server init",
    )
    .await
    .map_err(|e| ServerError::Setup(e.message))?;
    Ok(token)
}

fn create_private_folder(path: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// What a started server tells its caller before it serves.
pub struct Ready<'a> {
    /// Where it listens.
    pub url: String,
    /// The first admin token, when this start created it.
    pub admin_token: Option<&'a str>,
    /// Runs left `running` by a previous process, now `interrupted`.
    pub interrupted: u64,
    /// Runs left `queued`, queued again.
    pub requeued: usize,
}

/// Serve until `shutdown` completes; then stop taking runs, stop the ones
/// running (recorded as `interrupted`), and return.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(Ready<'_>),
) -> Result<(), ServerError> {
    let listen = config.listen;
    let workers = config.workers;
    if workers == 0 && config.database == db::Database::InFolder {
        return Err(ServerError::Setup(
            "`workers: 0` leaves runs to `reqflo worker` processes, which need a Postgres \
             database (--database postgres://…); SQLite in a data folder serves one process"
                .into(),
        ));
    }
    let opened = open(config).await?;
    let state = opened.state;
    let (interrupted, requeued) = recover(&state)
        .await
        .map_err(|e| ServerError::Setup(format!("database: {e}")))?;
    let listener =
        tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ServerError::Listen {
                addr: listen,
                why: e.to_string(),
            })?;
    let addr = listener.local_addr().map_err(|e| ServerError::Listen {
        addr: listen,
        why: e.to_string(),
    })?;
    let tasks = spawn_workers(&state, workers);
    tokio::spawn(retention(state.clone()));
    tokio::spawn(lease::reaper(state.clone()));
    ready(Ready {
        url: format!("http://{addr}"),
        admin_token: opened.admin_token.as_deref(),
        interrupted,
        requeued,
    });
    let closing = state.clone();
    let app = router(state.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new runs; running ones are stopped and recorded");
            closing.queue.close();
        })
        .await;
    wind_down(&state, tasks).await;
    served.map_err(|e| ServerError::Listen {
        addr,
        why: e.to_string(),
    })
}

/// Once the queue is closed: wait (a bounded time) for the workers to
/// record the runs they stopped, then end them and close the store.
pub(crate) async fn wind_down(state: &AppState, tasks: Vec<tokio::task::JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while state.metrics.running.get() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for task in tasks {
        task.abort();
    }
    state.db.close().await;
}

/// Start `n` in-process workers taking runs from the state's queue.
pub fn spawn_workers(state: &AppState, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| tokio::spawn(execute::worker(state.clone())))
        .collect()
}

/// After a restart: a run left `running` died with the previous process and
/// is `interrupted` (never re-sent: its requests may have had effects); a
/// run left `queued` never started and is queued again, and so is one left
/// `running` that is declared `rerun: safe`. On SQLite this server was the
/// only process, so every run left `running` was its own; on Postgres other
/// processes may be running theirs, so only runs whose lease lapsed are
/// (the reaper takes the rest within a lease).
async fn recover(state: &AppState) -> Result<(u64, usize), sqlx::Error> {
    if state.config.database == db::Database::InFolder {
        // This server was the only process: every lease it left is lapsed.
        sqlx::query("UPDATE runs SET lease_until = '' WHERE status = 'running'")
            .execute(&state.db)
            .await?;
    }
    let (interrupted, _) = lease::reap(&state.db).await?;
    if state.config.workers == 0 {
        // Queued runs wait in the database for `reqflo worker` processes.
        return Ok((interrupted, 0));
    }
    let queued: Vec<(String, String)> =
        sqlx::query_as("SELECT id, project FROM runs WHERE status = 'queued' AND location IS NULL ORDER BY created_at")
            .fetch_all(&state.db)
            .await?;
    let mut requeued = 0;
    for (id, project) in queued {
        if state.queue.push(&id, &project).is_ok() {
            state.metrics.queued.inc();
            requeued += 1;
        }
    }
    Ok((interrupted, requeued))
}

/// Delete finished runs (with their events and reports) older than the
/// retention setting; returns how many.
pub async fn sweep(state: &AppState) -> Result<u64, sqlx::Error> {
    let Some(keep) = state.config.retention else {
        return Ok(0);
    };
    let cutoff = humantime::format_rfc3339_millis(SystemTime::now() - keep).to_string();
    let done = sqlx::query("DELETE FROM runs WHERE finished_at IS NOT NULL AND finished_at <= $1")
        .bind(&cutoff)
        .execute(&state.db)
        .await?;
    Ok(done.rows_affected())
}

/// [`sweep`] hourly.
async fn retention(state: AppState) {
    if state.config.retention.is_none() {
        return;
    }
    loop {
        match sweep(&state).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "runs past retention deleted"),
            Err(e) => tracing::error!(error = %e, "the retention sweep failed"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Structured logs on stderr (`tracing`): requests, runs and errors, never a
/// value (nothing logged holds one: bodies are never logged). `RUST_LOG`
/// filters; `json` writes one JSON object per line.
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
