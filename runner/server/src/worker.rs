//! `reqflo worker`: a process, on any machine, that takes queued runs from
//! the server's Postgres database and runs them. It holds no state of its
//! own: what it claims it leases ([`crate::lease`]), what it runs it records
//! in the database, and the server serves from there.

use std::future::Future;
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt as _};
use serde_json::json;
use sqlx::postgres::PgListener;

use crate::ServerError;
use crate::config::ServerConfig;
use crate::db::Database;
use crate::db::now;
use crate::keys::MASTER_KEY_FILE;
use crate::queue::Full;
use crate::state::AppState;
use crate::{lease, open_store, spawn_workers, wind_down};

/// How often a worker looks for queued runs without being woken (a
/// notification lost with a dropped connection is caught up this way).
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Leave run `id` (already stored `queued`) for `reqflo worker` processes,
/// unless as many runs as `queue_limit` wait already.
pub(crate) async fn offer(state: &AppState, id: &str) -> Result<Result<(), Full>, sqlx::Error> {
    if state.queue.is_closing() {
        return Ok(Err(Full::Closing));
    }
    let (waiting,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM runs WHERE status = 'queued' AND id <> $1")
            .bind(id)
            .fetch_one(&state.db)
            .await?;
    if waiting as usize >= state.config.queue_limit {
        return Ok(Err(Full::Busy));
    }
    Ok(Ok(()))
}

/// A run's status, exit code and error.
type Ended = (String, Option<i64>, Option<String>);

/// Follow run `id` in the store: its events as they are stored (a worker
/// stores them a few times a second), then `run_finished` once it ended.
pub(crate) fn follow_in_store(state: AppState, id: String) -> impl Stream<Item = String> + Send {
    stream::unfold(Some(0i64), move |next| {
        let (state, id) = (state.clone(), id.clone());
        async move {
            let from = next?;
            loop {
                // The status first: once it says ended, the events read
                // after it are all of them (the end stores both at once).
                let ended: Option<Ended> = match sqlx::query_as(
                    "SELECT status, exit_code, error FROM runs WHERE id = $1",
                )
                .bind(&id)
                .fetch_optional(&state.db)
                .await
                {
                    Ok(Some(row)) => Some(row).filter(|(s, _, _): &Ended| {
                        !matches!(s.as_str(), "queued" | "running")
                    }),
                    // Deleted, or the store is gone: the stream ends.
                    Ok(None) | Err(_) => return None,
                };
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT seq, body FROM run_events WHERE run_id = $1 AND seq >= $2 ORDER BY seq",
                )
                .bind(&id)
                .bind(from)
                .fetch_all(&state.db)
                .await
                .ok()?;
                if let Some((last, _)) = rows.last() {
                    let next = last + 1;
                    return Some((rows.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), Some(next)));
                }
                if let Some((status, exit_code, error)) = ended {
                    let last = json!({"event": "run_finished", "status": status, "exit_code": exit_code, "error": error});
                    return Some((vec![last.to_string()], None));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    })
    .flat_map(stream::iter)
}

/// What a started worker tells its caller.
pub struct WorkerReady<'a> {
    /// Its name in the runs it claims.
    pub process: &'a str,
    /// The database, without a password.
    pub database: String,
}

/// Run queued runs from the database until `shutdown` completes; then stop
/// taking runs, stop the ones running (recorded `interrupted`), and return.
pub async fn work(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(WorkerReady<'_>),
) -> Result<(), ServerError> {
    let Database::Postgres(url) = config.database.clone() else {
        return Err(ServerError::Setup(
            "a worker takes runs from the server's Postgres database (--database \
             postgres://…); SQLite in a data folder serves one process"
                .into(),
        ));
    };
    let key = config.data.join(MASTER_KEY_FILE);
    if !key.exists() {
        return Err(ServerError::Setup(format!(
            "{} is not there: a worker opens managed secrets with the server's master key; \
             copy it from the server's data folder (mode 0600)",
            key.display()
        )));
    }
    let slots = config.workers.max(1);
    let database = config.database.describe(&config.data);
    let (state, _) = open_store(config, "worker").await?;
    let listener = listen(&url)
        .await
        .map_err(|e| ServerError::Setup(format!("database {database}: {e}")))?;
    let tasks = spawn_workers(&state, slots);
    let reaper = tokio::spawn(lease::reaper(state.clone()));
    let feeder = tokio::spawn(feed(state.clone(), slots, listener));
    ready(WorkerReady {
        process: &state.process,
        database,
    });
    shutdown.await;
    tracing::info!("shutting down: no new runs; running ones are stopped and recorded");
    feeder.abort();
    reaper.abort();
    state.queue.close();
    wind_down(&state, tasks).await;
    Ok(())
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(lease::CHANNEL).await?;
    Ok(listener)
}

/// Claim up to `free` of the oldest queued runs for this process, several
/// at once, each by one process. Without `project_concurrency` a row
/// another worker is claiming is skipped, not waited for. With it, claims
/// take turns (a transaction-scoped advisory lock) so that each project's
/// share counts every process's running runs.
async fn claim(state: &AppState, free: usize) -> Result<Vec<(String, String)>, sqlx::Error> {
    let Some(share) = state.config.project_concurrency else {
        return sqlx::query_as(
            "UPDATE runs SET status = 'running', started_at = $1, worker = $2, lease_until = $3 \
             WHERE id IN (SELECT id FROM runs WHERE status = 'queued' AND location IS NULL \
             ORDER BY created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id, project",
        )
        .bind(now())
        .bind(&*state.process)
        .bind(lease::until(state.config.lease))
        .bind(free as i64)
        .fetch_all(&state.db)
        .await;
    };
    let mut tx = state.db.begin().await?;
    // Selected through a subquery: the lock function returns `void`, which
    // the `Any` driver cannot read.
    sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS turn")
        .bind(CLAIM_LOCK)
        .execute(&mut *tx)
        .await?;
    let claimed = sqlx::query_as(
        "UPDATE runs SET status = 'running', started_at = $1, worker = $2, lease_until = $3 \
         WHERE id IN (SELECT id FROM ( \
           SELECT q.id, q.created_at, \
             ROW_NUMBER() OVER (PARTITION BY q.project ORDER BY q.created_at, q.id) AS nth, \
             (SELECT COUNT(*) FROM runs r WHERE r.project = q.project AND r.status = 'running') AS busy \
           FROM runs q WHERE q.status = 'queued' AND q.location IS NULL) c \
         WHERE c.nth + c.busy <= $4 ORDER BY c.created_at, c.id LIMIT $5) RETURNING id, project",
    )
    .bind(now())
    .bind(&*state.process)
    .bind(lease::until(state.config.lease))
    .bind(share as i64)
    .bind(free as i64)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// The advisory lock claims take turns on (any fixed number: "rqflo").
const CLAIM_LOCK: i64 = 0x72_71_66_6c_6f;

/// Claim queued runs for this process's workers while some are free: the
/// oldest first, woken by a submit's notification, a run of ours ending,
/// or every [`LOOK_EVERY`].
async fn feed(state: AppState, slots: usize, mut listener: PgListener) {
    loop {
        let busy = usize::try_from(state.metrics.running.get()).unwrap_or(0) + state.queue.depth();
        let free = slots.saturating_sub(busy);
        // Whether runs may be waiting that this look did not take.
        let mut more = free == 0;
        if free > 0 {
            let queued = claim(&state, free).await;
            match queued {
                Ok(queued) => {
                    more = queued.len() == free;
                    for (id, project) in queued {
                        if state.queue.push(&id, &project).is_ok() {
                            state.metrics.queued.inc();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "queued runs could not be read"),
            }
        }
        // Runs may be waiting: look again as soon as one of ours ends (or
        // shortly: a run pushed here may have been claimed elsewhere).
        // Otherwise wait for a notification.
        let wait = if more {
            Duration::from_millis(50)
        } else {
            LOOK_EVERY
        };
        tokio::select! {
            heard = listener.try_recv() => {
                if let Err(e) = heard {
                    tracing::warn!(error = %e, "the notification connection failed; looking every second");
                    tokio::time::sleep(LOOK_EVERY).await;
                }
            }
            () = state.queue.freed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
