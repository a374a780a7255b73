//! The store: SQLite in the data folder (sqlx), migrated on start.

use std::path::Path;
use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The database file in the data folder.
pub const DATABASE_FILE: &str = "reqflo.db";

/// Open (creating if needed) the database in `folder` and bring its schema
/// up to date. Migrations are versioned and run in order, once each.
pub async fn open(folder: &Path) -> Result<SqlitePool, sqlx::Error> {
    let path = folder.join(DATABASE_FILE);
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL syncs at checkpoints rather than at every commit:
        // a crash of the process loses nothing, a power cut may lose the
        // last commits (SQLite's documented trade-off). Every commit syncing
        // cost more than the rest of a one-step run's bookkeeping.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Now, as stored: RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
