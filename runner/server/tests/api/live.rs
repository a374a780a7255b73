//! The run page's live progress: server-sent events that say when its live
//! part changed and when the run ended, and carry no run data.

use axum::http::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::harness::*;
use reqflo_server::auth::Role;

#[tokio::test]
async fn the_run_page_follows_a_run_by_server_sent_events() {
    let h = Harness::new().await;
    let key = "sk_live_progress_Cn4ry_77";
    let api = demo_api::spawn(key).expect("demo api");
    let slow = "method: GET\nurl: \"{{base_url}}/slow?ms=400\"\n";
    let journey = "steps:\n  - id: first\n    template: slow\n  - id: second\n    template: slow\n";
    let (status, answer) = h
        .upload(
            "live",
            &[
                ("reqflo.yaml", &demo_config(&api)),
                ("templates/slow.yaml", slow),
                ("journeys/wait.yaml", journey),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let _workers = reqflo_server::spawn_workers(&h.state, 1);
    let (status, answer) = h
        .call(
            "POST",
            "/api/runs",
            Some(Role::Runner),
            Some(json!({"project": "live", "journeys": ["wait"]})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["id"].as_str().expect("id").to_string();
    let mut viewer = Browser::new(&h);
    viewer.login(&h.tokens[&Role::Viewer]).await;
    // While it runs, the page listens (the part re-fetches on `sse:step`).
    let page = viewer.get(&format!("/runs/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "sse-connect=\"/runs/{id}/live\" sse-close=\"done\""
        )),
        "{}",
        page.body
    );
    assert!(page.body.contains("hx-trigger=\"sse:step"), "{}", page.body);
    // The stream: changes while it runs, then `done`, then it ends.
    let live = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        viewer.get(&format!("/runs/{id}/live")),
    )
    .await
    .expect("the stream ends with the run");

    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(
        live.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let events: Vec<&str> = live
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert!(events.len() >= 2, "{}", live.body);
    assert_eq!(events.last(), Some(&"done"), "{}", live.body);
    assert!(events[..events.len() - 1].iter().all(|e| *e == "step"));
    // No run data in it: only the words `changed` and `done`.
    for data in live.body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        assert!(matches!(data, "changed" | "done"), "{data}");
    }
    // It ended: the page no longer listens, and the stream says `done` at once.
    let (_, run) = h
        .call("GET", &format!("/api/runs/{id}"), Some(Role::Viewer), None)
        .await;
    assert_eq!(run["status"], "passed", "{run}");
    let page = viewer.get(&format!("/runs/{id}")).await;
    assert!(!page.body.contains("sse-connect"), "{}", page.body);
    // The process that ran it, by the name in the API's `worker`.
    let by = run["worker"].as_str().expect("a worker");
    assert!(by.starts_with("server@"), "{run}");
    assert!(
        page.body
            .contains(&format!("<dt>Run by</dt><dd><code>{by}</code></dd>")),
        "{}",
        page.body
    );
    let ended = viewer.get(&format!("/runs/{id}/live")).await;
    assert_eq!(ended.body.trim(), "event: done\ndata: done");
    // Without a session: the login page, no stream.
    let stranger = Browser::new(&h);
    assert_eq!(
        stranger.get(&format!("/runs/{id}/live")).await.status,
        StatusCode::SEE_OTHER
    );
}
