//! The tests' Postgres (`support/pg_cluster.rs`), and its rows as JSON.

#[path = "../support/pg_cluster.rs"]
mod cluster;

pub use cluster::{database, dump};

use sqlx::Connection as _;

/// Every row of every table of the database at `url`, as JSON text (what
/// a dump would show; Postgres compresses long values on disk, so its
/// files are no proof).
pub async fn rows(url: &str) -> Vec<u8> {
    let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut connection)
    .await
    .expect("tables");
    let mut all = Vec::new();
    for (table,) in tables {
        let dumped: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text FROM \"{table}\" t"
        )))
        .fetch_all(&mut connection)
        .await
        .expect("rows");
        for (row,) in dumped {
            all.extend(row.into_bytes());
            all.push(b'\n');
        }
    }
    let _ = connection.close().await;
    all
}
