//! The store: SQLite in the data folder by default, or Postgres
//! (`--database postgres://…`), through one code path (sqlx's `Any`
//! driver), migrated on start.

use std::path::Path;
use std::time::SystemTime;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _};

/// The store, whichever database it is on.
pub type Db = sqlx::AnyPool;

/// The database file in the data folder.
pub const DATABASE_FILE: &str = "reqflo.db";

/// The versioned schema, once per database kind: the same tables, spelled
/// for each.
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// Where the store is.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// `reqflo.db` in the data folder.
    InFolder,
    /// A Postgres server, by URL (`postgres://user@host:5432/name`).
    Postgres(String),
}

impl Database {
    /// Read `--database` or `database:`: a `postgres://` (or
    /// `postgresql://`) URL; `sqlite` names the default.
    pub fn parse(text: &str) -> Result<Database, String> {
        let text = text.trim();
        if text == "sqlite" {
            return Ok(Database::InFolder);
        }
        let url = url::Url::parse(text).map_err(|e| {
            format!("not a database URL ({e}); expected postgres://USER@HOST:PORT/NAME or `sqlite`")
        })?;
        match url.scheme() {
            "postgres" | "postgresql" => Ok(Database::Postgres(text.to_string())),
            other => Err(format!(
                "`{other}:` is not a database this server uses; expected postgres://USER@HOST:PORT/NAME or `sqlite`"
            )),
        }
    }

    /// How to name it in logs and errors: a Postgres URL without its
    /// password.
    pub fn describe(&self, folder: &Path) -> String {
        match self {
            Database::InFolder => folder.join(DATABASE_FILE).display().to_string(),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        // Only fails for URLs that cannot have one.
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "a Postgres database".into(),
            },
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A URL may carry a password: never print it.
        f.write_str(&self.describe(Path::new(".")))
    }
}

/// Open (creating if needed) the store and bring its schema up to date.
/// Migrations are versioned and run in order, once each.
pub async fn open(database: &Database, folder: &Path) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let (url, migrator, sqlite) = match database {
        Database::InFolder => {
            let options = SqliteConnectOptions::new()
                .filename(folder.join(DATABASE_FILE))
                .create_if_missing(true);
            (options.to_url_lossy().to_string(), &SQLITE, true)
        }
        Database::Postgres(url) => (url.clone(), &POSTGRES, false),
    };
    let options: AnyConnectOptions = url.parse()?;
    // One connection first: a pool retries until its timeout and then says
    // only that it timed out; this says why (refused, no such database,
    // authentication failed).
    sqlx::AnyConnection::connect_with(&options)
        .await?
        .close()
        .await?;
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 8 } else { 16 })
        .after_connect(move |connection, _| {
            Box::pin(async move {
                if sqlite {
                    // What the `Any` URL cannot say. With WAL, NORMAL syncs
                    // at checkpoints rather than at every commit: a crash of
                    // the process loses nothing, a power cut may lose the
                    // last commits (SQLite's documented trade-off). Every
                    // commit syncing cost more than the rest of a one-step
                    // run's bookkeeping.
                    connection
                        .execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

/// Now, as stored: RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
