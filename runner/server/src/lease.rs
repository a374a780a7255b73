//! Who runs a run, and for how long: a process claims a queued run with a
//! lease it renews (the heartbeat); a run whose lease lapsed (its process
//! was killed, or lost the database) is marked `interrupted` by whichever
//! process looks next (the reaper), never sent again, and the results of a
//! process that lost its lease are refused.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::db::{Database, Db, now};
use crate::queue::CANCELLED;
use crate::queue::LiveRun;
use crate::state::AppState;

/// The channel a submit notifies and workers listen on (Postgres).
pub(crate) const CHANNEL: &str = "reqflo_runs";

/// How many times a run declared `rerun: safe` is run at most.
pub const MAX_ATTEMPTS: i64 = 3;

/// Why a run stopped when its process no longer held it.
pub const LEASE_LOST: &str = "its lease was lost";

/// A name for this process, unique among the processes sharing a database:
/// what it is, its host, its pid and a random part (a pid is reused).
pub fn process_name(kind: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{kind}@{host}:{}:{}", std::process::id(), &random[..8])
}

/// When a lease taken now ends.
pub fn until(lease: Duration) -> String {
    humantime::format_rfc3339_millis(SystemTime::now() + lease).to_string()
}

/// Claim run `id` for this process if it is still queued (or was claimed
/// by this process already: a worker claims runs before it starts them);
/// whether it did. The conditional update is atomic on SQLite and Postgres
/// alike: of two processes that try, one changes the row and the other
/// changes nothing.
pub async fn claim(state: &AppState, id: &str) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE runs SET status = 'running', started_at = $1, worker = $2, lease_until = $3 \
         WHERE id = $4 AND (status = 'queued' OR (status = 'running' AND worker = $2))",
    )
    .bind(now())
    .bind(&*state.process)
    .bind(until(state.config.lease))
    .bind(id)
    .execute(&state.db)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Renew the lease on run `id` every third of the lease until aborted;
/// stop the run when the lease is gone (reaped) or a cancel was asked of it
/// from another process.
pub fn heartbeat(state: &AppState, id: &str, live: &Arc<LiveRun>) -> tokio::task::JoinHandle<()> {
    let (state, id, live) = (state.clone(), id.to_string(), Arc::clone(live));
    tokio::spawn(async move {
        let every = state.config.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let held: Result<Option<(i64,)>, sqlx::Error> = sqlx::query_as(
                "UPDATE runs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND status = 'running' \
                 RETURNING cancel_asked",
            )
            .bind(until(state.config.lease))
            .bind(&id)
            .bind(&*state.process)
            .fetch_optional(&state.db)
            .await;
            match held {
                Ok(Some((0,))) => {}
                Ok(Some(_)) => live.stop.ask(CANCELLED),
                Ok(None) => {
                    tracing::warn!(run = %id, "the run's lease was lost; stopping it");
                    live.stop.ask(LEASE_LOST);
                    return;
                }
                // The database did not answer: try again; if it stays away
                // past the lease, another process reaps the run and this
                // one's results are refused.
                Err(e) => tracing::warn!(run = %id, error = %e, "the lease was not renewed"),
            }
        }
    })
}

/// Tell the workers listening that a run is queued (Postgres); a worker
/// that misses it finds the run within a second.
pub(crate) async fn announce(state: &AppState) {
    if !matches!(state.config.database, Database::Postgres(_)) {
        return;
    }
    if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("NOTIFY {CHANNEL}")))
        .execute(&state.db)
        .await
    {
        tracing::warn!(error = %e, "workers were not notified of a queued run");
    }
}

/// How often a worker stores the events its runs made since it last did.
const STORE_EVENTS_EVERY: Duration = Duration::from_millis(250);

/// Store run `id`'s new events every [`STORE_EVENTS_EVERY`] while this
/// process holds it, until aborted (the run's end stores the rest).
pub fn store_events(
    state: &AppState,
    id: &str,
    live: &Arc<LiveRun>,
) -> tokio::task::JoinHandle<()> {
    let (state, id, live) = (state.clone(), id.to_string(), Arc::clone(live));
    tokio::spawn(async move {
        let mut stored = 0usize;
        loop {
            tokio::time::sleep(STORE_EVENTS_EVERY).await;
            let new: Vec<Arc<str>> = live
                .history
                .lock()
                .map(|h| h.get(stored..).map(<[_]>::to_vec).unwrap_or_default())
                .unwrap_or_default();
            if new.is_empty() {
                continue;
            }
            match insert_events(&state, &id, stored, &new).await {
                Ok(()) => stored += new.len(),
                Err(e) => tracing::warn!(run = %id, error = %e, "events were not stored yet"),
            }
        }
    })
}

async fn insert_events(
    state: &AppState,
    id: &str,
    from: usize,
    events: &[Arc<str>],
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.begin().await?;
    for (i, body) in events.iter().enumerate() {
        sqlx::query(
            "INSERT INTO run_events (run_id, seq, body) SELECT $1, $2, $3 \
             WHERE EXISTS (SELECT 1 FROM runs WHERE id = $1 AND worker = $4 AND status = 'running') \
             ON CONFLICT (run_id, seq) DO NOTHING",
        )
        .bind(id)
        .bind((from + i) as i64)
        .bind(&**body)
        .bind(&*state.process)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Runs whose lease lapsed: those declared `rerun: safe` (and not
/// cancelled, and under [`MAX_ATTEMPTS`]) go back to the queue, the others
/// are marked `interrupted`. Returns how many were interrupted, and the
/// runs queued again (id, project).
pub async fn reap(db: &Db) -> Result<(u64, Vec<(String, String)>), sqlx::Error> {
    let at = now();
    let again: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "UPDATE runs SET status = 'queued', worker = NULL, lease_until = NULL, started_at = NULL, \
         attempt = attempt + 1 \
         WHERE status = 'running' AND lease_until < $1 AND rerun_safe = 1 AND cancel_asked = 0 \
         AND attempt < $2 RETURNING id, project, location",
    )
    .bind(&at)
    .bind(MAX_ATTEMPTS)
    .fetch_all(db)
    .await?;
    // A run for a location waits in the store for an agent there.
    let again = again
        .into_iter()
        .filter(|(_, _, location)| location.is_none())
        .map(|(id, project, _)| (id, project))
        .collect();
    let reaped = sqlx::query(
        "UPDATE runs SET status = 'interrupted', exit_code = 130, finished_at = $1, \
         error = 'the process running it (' || COALESCE(worker, '?') || ') stopped renewing its lease; it was not run again' \
         WHERE status = 'running' AND lease_until < $2",
    )
    .bind(&at)
    .bind(&at)
    .execute(db)
    .await?;
    Ok((reaped.rows_affected(), again))
}

/// [`reap`] every half lease, for as long as the process runs; runs queued
/// again join this process's queue (when it has workers) and the workers
/// are told.
pub async fn reaper(state: AppState) {
    let mut every = tokio::time::interval(state.config.lease / 2);
    loop {
        every.tick().await;
        match reap(&state.db).await {
            Ok((interrupted, again)) => {
                if interrupted > 0 {
                    tracing::warn!(
                        runs = interrupted,
                        "runs whose process stopped renewing its lease were marked interrupted"
                    );
                }
                if again.is_empty() {
                    continue;
                }
                tracing::warn!(
                    runs = again.len(),
                    "runs declared `rerun: safe` whose process stopped renewing its lease were queued again"
                );
                if state.config.workers > 0 {
                    for (id, project) in &again {
                        if state.queue.push(id, project).is_ok() {
                            state.metrics.queued.inc();
                        }
                    }
                }
                announce(&state).await;
            }
            Err(e) => tracing::warn!(error = %e, "the lease reaper could not reach the store"),
        }
    }
}
