//! Runs: policy before queueing, side by side, hostile providers, cancel,
//! retention.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::*;
use reqflo_server::AppState;
use reqflo_server::auth::Role;

#[tokio::test]
async fn policy_refuses_a_run_before_anything_is_queued() {
    let h = Harness::new().await;
    let journeys = [
        ("journeys/pay-me.yaml", JOURNEY),
        ("journeys/refund.yaml", JOURNEY),
    ];
    let db_url = "journeys/db.yaml";
    let db_journey = "steps:\n  - id: me\n    template: me\n    values:\n      key: {type: secret, name: DATABASE_URL}\n";
    let mut files = vec![
        ("reqflo.yaml", CONFIG),
        ("templates/me.yaml", TEMPLATE),
        (db_url, db_journey),
    ];
    files.extend(journeys);
    let (status, answer) = h.upload("shop", &files).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = h
        .call("POST", "/api/secrets", Some(Role::Admin), Some(json!({"name": "PAYMENTS_API_KEY", "value": "sk_test_policy_1234", "journeys": ["pay-*"], "environments": ["sandbox"]})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // SAFETY: the test's own process; nothing else reads this variable.
    unsafe { std::env::set_var("DATABASE_URL", "postgres://server:hunter2@db/prod") };
    let cases = [
        (
            json!({"project": "shop", "journeys": ["refund"], "environment": "sandbox"}),
            StatusCode::FORBIDDEN,
            "may not use secret `PAYMENTS_API_KEY`",
        ),
        (
            json!({"project": "shop", "journeys": ["db"], "environment": "sandbox"}),
            StatusCode::FORBIDDEN,
            "not registered on this server",
        ),
        (
            json!({"project": "shop", "journeys": ["pay-me"], "environment": "nowhere"}),
            StatusCode::BAD_REQUEST,
            "no environment",
        ),
        (
            json!({"project": "gone", "journeys": ["pay-me"]}),
            StatusCode::NOT_FOUND,
            "no project",
        ),
        (
            json!({"project": "shop"}),
            StatusCode::BAD_REQUEST,
            "name the `journeys`",
        ),
    ];
    for (body, want, message) in cases {
        let (status, answer) = h
            .call("POST", "/api/runs", Some(Role::Runner), Some(body))
            .await;
        assert_eq!(status, want, "{answer}");
        assert!(
            answer["error"].as_str().unwrap_or("").contains(message),
            "{answer}"
        );
    }
    // Environments are the admin's too.
    let (status, _) = h
        .call(
            "PATCH",
            "/api/secrets/PAYMENTS_API_KEY",
            Some(Role::Admin),
            Some(json!({"environments": ["production"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = h
        .call(
            "POST",
            "/api/runs",
            Some(Role::Runner),
            Some(json!({"project": "shop", "journeys": ["pay-me"], "environment": "sandbox"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or("")
            .contains("environment `sandbox`"),
        "{answer}"
    );
    let (_, runs) = h.call("GET", "/api/runs", Some(Role::Viewer), None).await;
    assert_eq!(runs["runs"], json!([]), "nothing was queued");
    assert_eq!(h.audit("run.refused").await.len(), 3);
    for answer in h.seen.lock().expect("seen").iter() {
        assert!(!answer.contains("hunter2"), "{answer}");
    }
}

#[tokio::test]
async fn runs_side_by_side_do_not_disturb_each_other() {
    let h = Harness::new().await;
    let key = "sk_side_by_side_0011";
    let api = demo_api::spawn(key).expect("demo api");
    let config = demo_config(&api);
    let status_template = "method: GET\nurl: \"{{base_url}}/status/{{code}}\"\n";
    let good = "steps:\n  - id: me\n    template: me\n    values:\n      key: {type: secret, name: KEY}\n    expect: {status: 200}\n";
    let failing = "steps:\n  - id: boom\n    template: status\n    values: {code: 500}\n    expect: {status: 200}\n";
    // The demo API's /echo answers 200 with the request it got, key included.
    let template = "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  X-Key: \"{{key}}\"\n";
    let (status, answer) = h
        .upload(
            "mixed",
            &[
                ("reqflo.yaml", &config),
                ("templates/me.yaml", template),
                ("templates/status.yaml", status_template),
                ("journeys/good.yaml", good),
                ("journeys/failing.yaml", failing),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = h
        .call(
            "POST",
            "/api/secrets",
            Some(Role::Admin),
            Some(json!({"name": "KEY", "value": key})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let _workers = reqflo_server::spawn_workers(&h.state, 4);
    let mut ids = Vec::new();
    for i in 0..12 {
        let journey = if i % 3 == 0 { "failing" } else { "good" };
        let (status, answer) = h
            .call(
                "POST",
                "/api/runs",
                Some(Role::Runner),
                Some(json!({"project": "mixed", "journeys": [journey]})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        ids.push((journey, answer["id"].as_str().expect("id").to_string()));
    }
    for (journey, id) in &ids {
        let run = h.ended(id).await;
        let (want, code) = if *journey == "failing" {
            ("failed", 4)
        } else {
            ("passed", 0)
        };
        assert_eq!(run["status"], want, "{run}");
        assert_eq!(run["exit_code"], code);
    }
    let (_, metrics) = h
        .raw("GET", "/metrics", None, "text/plain", Vec::new())
        .await;
    assert!(
        metrics.contains("reqflo_runs_total{outcome=\"passed\"} 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains("reqflo_runs_total{outcome=\"failed\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("reqflo_secret_resolutions_total{provider=\"managed\"} 8"),
        "{metrics}"
    );
    for answer in h.seen.lock().expect("seen").iter() {
        assert_absent("an answer", answer.as_bytes(), key);
    }
}

#[tokio::test]
async fn cancelling_a_queued_and_a_running_run_and_retention() {
    let h = Harness::new().await;
    let api = demo_api::spawn("sk_cancel_test_1234").expect("demo api");
    let config = demo_config(&api);
    let slow = "method: GET\nurl: \"{{base_url}}/slow?ms=30000\"\n";
    let journey = "steps:\n  - id: wait\n    template: slow\n";
    let (status, answer) = h
        .upload(
            "slow",
            &[
                ("reqflo.yaml", &config),
                ("templates/slow.yaml", slow),
                ("journeys/wait.yaml", journey),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // One worker: the first run runs, the second waits in the queue.
    let _workers = reqflo_server::spawn_workers(&h.state, 1);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, answer) = h
            .call(
                "POST",
                "/api/runs",
                Some(Role::Runner),
                Some(json!({"project": "slow", "journeys": ["wait"]})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        ids.push(answer["id"].as_str().expect("id").to_string());
    }
    let status_of = |id: String| {
        let h = &h;
        async move {
            let (_, run) = h
                .call("GET", &format!("/api/runs/{id}"), Some(Role::Viewer), None)
                .await;
            run
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while status_of(ids[0].clone()).await["status"] != "running" {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status_of(ids[1].clone()).await["status"], "queued");
    // The queued one never starts.
    let (status, _) = h
        .call(
            "POST",
            &format!("/api/runs/{}/cancel", ids[1]),
            Some(Role::Runner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let queued = status_of(ids[1].clone()).await;
    assert_eq!(queued["status"], "cancelled", "{queued}");
    assert_eq!(queued["exit_code"], 130);
    // The running one stops where it is.
    let (status, _) = h
        .call(
            "POST",
            &format!("/api/runs/{}/cancel", ids[0]),
            Some(Role::Runner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    loop {
        let run = status_of(ids[0].clone()).await;
        if run["status"] != "running" {
            assert_eq!(run["status"], "cancelled", "{run}");
            assert_eq!(run["exit_code"], 130);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the running run was not stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, answer) = h
        .call(
            "POST",
            &format!("/api/runs/{}/cancel", ids[0]),
            Some(Role::Runner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, _) = h
        .call(
            "POST",
            "/api/runs/run_nope/cancel",
            Some(Role::Runner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Retention: runs finished longer ago than it are deleted, events and all.
    let mut config = (*h.state.config).clone();
    config.retention = Some(std::time::Duration::ZERO);
    let state = AppState {
        config: std::sync::Arc::new(config),
        ..h.state.clone()
    };
    let deleted = reqflo_server::sweep(&state).await.expect("sweep");
    assert_eq!(deleted, 2);
    let (status, _) = h
        .call(
            "GET",
            &format!("/api/runs/{}", ids[0]),
            Some(Role::Viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_hostile_provider_fails_its_own_runs_and_reads_nothing_of_the_servers() {
    let hostile = std::path::Path::new(reqflo_sandbox::PLUGIN_DIR).join("reqflo_test_hostile.wasm");
    let providers = format!(
        "hostile:\n  plugin: \"{}\"\n  limits: {{timeout_ms: 500, memory_mib: 16}}\n",
        hostile.display()
    );
    let h = Harness::with(|config| {
        config.providers = serde_yaml::from_str(&providers).expect("providers");
    })
    .await;
    let key = "sk_good_runs_0099";
    let server_secret = "postgres://server:hunter2hunter2@db/prod";
    // SAFETY: this test's own process; the plugin must never see it.
    unsafe { std::env::set_var("REQFLO_TEST_SERVER_ONLY", server_secret) };
    let api = demo_api::spawn(key).expect("demo api");
    let config = demo_config(&api);
    let template = "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  X-Key: \"{{key}}\"\n";
    let journey = |name: &str| {
        format!(
            "steps:\n  - id: echo\n    template: echo\n    values:\n      key: {{type: secret, name: {name}}}\n    expect: {{status: 200}}\n"
        )
    };
    let names = [
        "GOOD",
        "LOOPS",
        "PANICS",
        "ALLOCATES",
        "READS_ENV",
        "READS_KEY_FILE",
    ];
    let mut files: Vec<(String, String)> = vec![
        ("reqflo.yaml".into(), config),
        ("templates/echo.yaml".into(), template.into()),
    ];
    for name in names {
        files.push((
            format!("journeys/{}.yaml", name.to_lowercase()),
            journey(name),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (status, answer) = h.upload("hostile", &refs).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let key_file = h.dir.path().join("data/master.key");
    let references = [
        ("LOOPS", "loop".to_string()),
        ("PANICS", "panic".to_string()),
        ("ALLOCATES", "alloc:512".to_string()),
        ("READS_ENV", "env:REQFLO_TEST_SERVER_ONLY".to_string()),
        ("READS_KEY_FILE", format!("file:{}", key_file.display())),
    ];
    let (status, _) = h
        .call(
            "POST",
            "/api/secrets",
            Some(Role::Admin),
            Some(json!({"name": "GOOD", "value": key})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for (name, reference) in &references {
        let (status, answer) = h
            .call(
                "POST",
                "/api/secrets",
                Some(Role::Admin),
                Some(json!({"name": name, "provider": "hostile", "reference": reference})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let _workers = reqflo_server::spawn_workers(&h.state, 4);
    let mut ids = Vec::new();
    for round in 0..2 {
        for name in names {
            let (status, answer) = h
                .call(
                    "POST",
                    "/api/runs",
                    Some(Role::Runner),
                    Some(json!({"project": "hostile", "journeys": [name.to_lowercase()]})),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{round} {name}: {answer}");
            ids.push((name, answer["id"].as_str().expect("id").to_string()));
        }
    }
    for (name, id) in &ids {
        let run = h.ended(id).await;
        let want = if *name == "GOOD" { "passed" } else { "error" };
        assert_eq!(run["status"], want, "{name}: {run}");
    }
    let data = h.data_bytes().await;
    for answer in h.seen.lock().expect("seen").iter() {
        assert!(!answer.contains("hunter2hunter2"), "{answer}");
        assert_absent("an answer", answer.as_bytes(), key);
    }
    assert_absent("the data folder", &data, key);
    assert!(!data.windows(14).any(|w| w == b"hunter2hunter2"));
}
