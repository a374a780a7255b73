//! Fairness and limits on one server: a project's share of the workers
//! (`project_concurrency`), and `run_timeout`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;
use reqflo_server::auth::Role;

/// Submit a run of `journey` in `project`; its id.
async fn submit(h: &Harness, project: &str, journey: &str) -> String {
    let (status, answer) = h
        .call(
            "POST",
            "/api/runs",
            Some(Role::Runner),
            Some(json!({"project": project, "journeys": [journey]})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["id"].as_str().expect("id").to_string()
}

/// A project whose journey `wait` takes `ms` milliseconds.
async fn slow_project(h: &Harness, api: &demo_api::Running, name: &str, ms: u64) {
    let slow = format!("method: GET\nurl: \"{{{{base_url}}}}/slow?ms={ms}\"\n");
    let (status, answer) = h
        .upload(
            name,
            &[
                ("reqflo.yaml", &demo_config(api)),
                ("templates/slow.yaml", &slow),
                (
                    "journeys/wait.yaml",
                    "steps:\n  - id: wait\n    template: slow\n",
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn a_project_runs_its_share_at_once_and_the_others_go_ahead() {
    let h = Harness::with(|config| config.project_concurrency = Some(1)).await;
    let api = demo_api::spawn("sk_limits_test_1234").expect("demo api");
    slow_project(&h, &api, "busy", 600).await;
    slow_project(&h, &api, "other", 10).await;
    let _workers = reqflo_server::spawn_workers(&h.state, 2);
    let first = submit(&h, "busy", "wait").await;
    let second = submit(&h, "busy", "wait").await;
    let other = submit(&h, "other", "wait").await;
    let (first, second, other) = (
        h.ended(&first).await,
        h.ended(&second).await,
        h.ended(&other).await,
    );
    for run in [&first, &second, &other] {
        assert_eq!(run["status"], "passed", "{run}");
    }
    let at = |run: &Value, field: &str| run[field].as_str().unwrap_or_default().to_string();
    // Two workers, but one run of `busy` at a time: the second started
    // after the first ended, and `other` did not wait behind it.
    assert!(
        at(&second, "started_at") >= at(&first, "finished_at"),
        "{first} {second}"
    );
    assert!(
        at(&other, "finished_at") < at(&first, "finished_at"),
        "{first} {other}"
    );
}

#[tokio::test]
async fn a_run_past_its_timeout_is_stopped_and_the_worker_goes_on() {
    let h =
        Harness::with(|config| config.run_timeout = std::time::Duration::from_millis(300)).await;
    let api = demo_api::spawn("sk_limits_test_1234").expect("demo api");
    slow_project(&h, &api, "slow", 20_000).await;
    slow_project(&h, &api, "quick", 10).await;
    let _workers = reqflo_server::spawn_workers(&h.state, 1);
    let slow = submit(&h, "slow", "wait").await;
    let quick = submit(&h, "quick", "wait").await;
    let slow = h.ended(&slow).await;
    assert_eq!(slow["status"], "timed_out", "{slow}");
    assert_eq!(slow["exit_code"], 130, "{slow}");
    assert!(
        slow["error"]
            .as_str()
            .is_some_and(|e| e.contains("run_timeout (300ms)")),
        "{slow}"
    );
    assert_eq!(h.ended(&quick).await["status"], "passed");
    // The history filters on it.
    let (_, runs) = h
        .call(
            "GET",
            "/api/runs?status=timed_out",
            Some(Role::Viewer),
            None,
        )
        .await;
    assert!(
        runs.to_string()
            .contains(slow["id"].as_str().unwrap_or("?")),
        "{runs}"
    );
}

#[tokio::test]
async fn a_lapsed_lease_queues_a_safe_run_again_and_interrupts_the_others() {
    let h = Harness::new().await;
    let api = demo_api::spawn("sk_limits_test_1234").expect("demo api");
    slow_project(&h, &api, "plain", 10).await;
    let safe = "rerun: safe\nsteps:\n  - id: wait\n    template: slow\n";
    let (status, answer) = h
        .upload(
            "safe",
            &[
                ("reqflo.yaml", &demo_config(&api)),
                (
                    "templates/slow.yaml",
                    "method: GET\nurl: \"{{base_url}}/slow?ms=10\"\n",
                ),
                ("journeys/wait.yaml", safe),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // No workers: both stay queued; then each is taken by a process that
    // died (its lease long lapsed), three times over for the safe one.
    let plain = submit(&h, "plain", "wait").await;
    let safe = submit(&h, "safe", "wait").await;
    let die = |id: &str| {
        sqlx::query(
            "UPDATE runs SET status = 'running', worker = 'worker@gone:1:dead', lease_until = '2000-01-01T00:00:00.000Z' WHERE id = $1",
        )
        .bind(id.to_string())
        .execute(&h.state.db)
    };
    die(&plain).await.expect("update");
    for attempt in 2..=3 {
        die(&safe).await.expect("update");
        let (_, again) = reqflo_server::lease::reap(&h.state.db).await.expect("reap");
        assert_eq!(again, [(safe.clone(), "safe".to_string())]);
        let (_, run) = h
            .call(
                "GET",
                &format!("/api/runs/{safe}"),
                Some(Role::Viewer),
                None,
            )
            .await;
        assert_eq!(
            (&run["status"], &run["attempt"]),
            (&json!("queued"), &json!(attempt))
        );
    }
    let (_, run) = h
        .call(
            "GET",
            &format!("/api/runs/{plain}"),
            Some(Role::Viewer),
            None,
        )
        .await;
    assert_eq!(run["status"], "interrupted", "{run}");
    assert!(
        run["error"]
            .as_str()
            .is_some_and(|e| e.contains("worker@gone:1:dead") && e.contains("not run again")),
        "{run}"
    );
    // The third attempt is the last: a lapse now interrupts it.
    die(&safe).await.expect("update");
    let (interrupted, again) = reqflo_server::lease::reap(&h.state.db).await.expect("reap");
    assert_eq!((interrupted, again.len()), (1, 0));
}
