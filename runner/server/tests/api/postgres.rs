//! The store on a real Postgres (Debian's server, started by `pg`): the
//! same code as on SQLite, migrated on start, and no secret value in any
//! row. The whole suite also runs on Postgres with
//! `REQFLO_TEST_STORE=postgres` (scripts/test does).

use axum::http::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::harness::*;
use reqflo_server::auth::Role;
use reqflo_server::db::Database;

#[tokio::test]
async fn a_run_on_postgres_passes_its_history_filters_and_no_row_holds_the_value() {
    let h = Harness::on_postgres(|_| {}).await;
    let key = "sk_pg_Cn4ry/+=\"<9aa0f";
    let journey = "steps:\n  - id: pay\n    template: post\n    values:\n      key: {type: secret, name: PAY_KEY}\n      amount: 1000\n    expect:\n      status: 201\n";
    let _api = h
        .payments("ledger", key, &[("journeys/pay_1.yaml", journey)], "pay_*")
        .await;
    let _workers = reqflo_server::spawn_workers(&h.state, 2);
    let (status, answer) = h
        .call(
            "POST",
            "/api/runs",
            Some(Role::Runner),
            Some(json!({"project": "ledger", "journeys": ["pay_1"]})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["id"].as_str().expect("id").to_string();
    let run = h.ended(&id).await;
    assert_eq!(run["status"], "passed", "{run}");

    // The history's filters read the same as on SQLite: a journey by its
    // exact name (`%` and `_` in a filter literal), an actor by a prefix in any case.
    let mut browser = Browser::new(&h);
    browser.login(&h.tokens[&Role::Viewer]).await;
    for (query, found) in [
        ("journey=pay_1", true),
        ("journey=pa__1", false),
        ("journey=pay%25", false),
        ("actor=RUN", true),
        ("actor=r_n", false),
    ] {
        let got = browser.get(&format!("/runs?{query}")).await;
        assert_eq!(got.status, StatusCode::OK, "{query}: {}", got.body);
        assert_eq!(got.body.contains(&id), found, "{query}: {}", got.body);
    }

    // Migrated once, versioned as on SQLite.
    let url = h.postgres.clone().expect("on postgres");
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&h.state.db)
            .await
            .expect("migrations");
    assert_eq!(versions, [(1,), (2,), (3,), (4,), (5,)]);

    let rows = crate::pg::rows(&url).await;
    assert!(
        String::from_utf8_lossy(&rows).contains(&id),
        "the dump holds the run"
    );
    assert_absent("the Postgres rows", &rows, key);
    assert_absent("pg_dump", &crate::pg::dump(&url), key);
    for answer in h.seen.lock().expect("seen").iter() {
        assert_absent("an answer", answer.as_bytes(), key);
    }

    // A second start on the same database: nothing migrated again, no new
    // first admin token, the run still there.
    let mut config = reqflo_server::ServerConfig::defaults(h.dir.path().join("data"));
    config.database = Database::Postgres(url);
    let again = reqflo_server::open(config).await.expect("reopen");
    assert!(again.admin_token.is_none());
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM runs WHERE id = $1")
        .bind(&id)
        .fetch_one(&again.state.db)
        .await
        .expect("count");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = reqflo_server::ServerConfig::defaults(dir.path().join("data"));
    // Port 1 on loopback: nothing listens there.
    config.database =
        Database::parse("postgres://reqflo:hunter2pw@127.0.0.1:1/reqflo").expect("a URL");
    let Err(e) = reqflo_server::open(config.clone()).await else {
        panic!("opened a database that is not there");
    };
    let e = e.to_string();
    assert!(
        e.contains("postgres://reqflo:***@127.0.0.1:1/reqflo"),
        "{e}"
    );
    assert!(e.contains("refused"), "{e}");
    assert!(!e.contains("hunter2pw"), "{e}");
    assert!(!format!("{config:?}").contains("hunter2pw"));
    for bad in ["mysql://x@h/db", "not a url", "/var/lib/reqflo.db"] {
        let e = Database::parse(bad).expect_err(bad);
        assert!(e.contains("postgres://USER@HOST:PORT/NAME"), "{bad}: {e}");
    }
    assert_eq!(Database::parse("sqlite"), Ok(Database::InFolder));
}
