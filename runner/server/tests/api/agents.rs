//! The private agents' protocol in process, on the store `REQFLO_TEST_STORE`
//! names (SQLite, or Postgres in scripts/test's second pass): register,
//! claim (the managed value sealed to the agent's key), events that renew
//! the lease and carry a cancel, the end and its reports, each redacted
//! again by the server; what a run's former holder sends is refused; a
//! revoked agent gets nothing; no byte of the store holds the value.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;
use reqflo_server::auth::Role;
use reqflo_server::sealing::AgentKey;

const KEY: &str = "sk_agent_Cn4ry/+=\"<7qx";

/// POST `body` to an agent endpoint with `token`.
async fn agent_call(h: &Harness, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let (status, text) = h
        .raw(
            "POST",
            path,
            Some(token),
            "application/json",
            body.to_string().into_bytes(),
        )
        .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_claims_a_sealed_run_streams_it_and_is_cut_off_when_revoked() {
    let h = Harness::new().await;
    let journey = "steps:\n  - id: pay\n    template: post\n    values:\n      key: {type: secret, name: PAY_KEY}\n      amount: 1000\n";
    let _api = h
        .payments("lab", KEY, &[("journeys/pay.yaml", journey)], "pay")
        .await;
    let submit = json!({"project": "lab", "journeys": ["pay"], "location": "lab"});

    // No agent serves `lab`: refused, nothing queued.
    let (status, answer) = h
        .call(
            "POST",
            "/api/runs",
            Some(Role::Runner),
            Some(submit.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // Registered by an admin only; the token is an agent's, not a user's.
    let new = json!({"name": "lab-1", "location": "lab"});
    let (status, _) = h
        .call(
            "POST",
            "/api/agents",
            Some(Role::Builder),
            Some(new.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, agent) = h
        .call("POST", "/api/agents", Some(Role::Admin), Some(new))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let token = agent["token"].as_str().expect("token").to_string();
    let id = agent["id"].as_str().expect("id").to_string();
    let folder = tempfile::tempdir().expect("tempdir");
    let key = AgentKey::load_or_create(folder.path()).expect("key");
    let ask = json!({"public_key": key.public_text(), "wait_ms": 0});

    let admin = h.tokens[&Role::Admin].clone();
    let (status, _) = agent_call(&h, "/api/agent/claim", &admin, ask.clone()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a user's token is not an agent's"
    );
    let bad = json!({"public_key": "not a key", "wait_ms": 0});
    let (status, answer) = agent_call(&h, "/api/agent/claim", &token, bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = agent_call(&h, "/api/agent/claim", &token, ask.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "nothing queued yet");

    // A run for `lab` waits for the agent; no worker takes it.
    let (status, answer) = h
        .call("POST", "/api/runs", Some(Role::Runner), Some(submit))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let run = answer["id"].as_str().expect("id").to_string();
    let (status, given) = agent_call(&h, "/api/agent/claim", &token, ask.clone()).await;
    assert_eq!(status, StatusCode::OK, "{given}");
    assert_eq!(given["run"], run.as_str());
    let sealed = given["sealed"]["PAY_KEY"].as_str().expect("sealed");
    assert_eq!(key.open(sealed).expect("opens").as_slice(), KEY.as_bytes());
    let stranger = AgentKey::load_or_create(tempfile::tempdir().expect("t").path()).expect("k");
    assert!(
        stranger.open(sealed).is_err(),
        "only this agent's key opens it"
    );
    let (_, shown) = h
        .call("GET", &format!("/api/runs/{run}"), Some(Role::Viewer), None)
        .await;
    assert_eq!(shown["status"], "running");
    assert_eq!(shown["worker"], "agent:lab-1");
    let used = h.audit("secret.used").await;
    assert_eq!(used[0]["detail"]["agent"], "lab-1", "{used:?}");

    // Events renew the lease; what they hold is redacted again here.
    let leaked = format!("{{\"event\":\"request\",\"dump\":\"Authorization: Bearer {KEY}\"}}");
    let events = json!({"from": 0, "events": [leaked]});
    let path = format!("/api/agent/runs/{run}/events");
    let (status, heard) = agent_call(&h, &path, &token, events).await;
    assert_eq!(status, StatusCode::OK, "{heard}");
    assert_eq!(heard["cancel"], false);
    // A cancel from the server reaches the agent in the next answer.
    let (status, _) = h
        .call(
            "POST",
            &format!("/api/runs/{run}/cancel"),
            Some(Role::Runner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, heard) = agent_call(&h, &path, &token, json!({"from": 1, "events": []})).await;
    assert_eq!(heard["cancel"], true, "{heard}");

    // The end, with reports that hold the value: stored redacted.
    let report = format!("{{\"leak\": \"{KEY}\"}}");
    let finish = json!({
        "status": "cancelled", "exit_code": 130, "error": format!("stopped at {KEY}"),
        "events": {"from": 1, "events": ["{\"event\":\"step_finished\"}"]},
        "reports": {"json": report, "junit": "<x/>", "html": "<p></p>"},
    });
    let finish_path = format!("/api/agent/runs/{run}/finish");
    let (status, answer) = agent_call(&h, &finish_path, &token, finish.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ended = h.ended(&run).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(
        ended["error"]
            .as_str()
            .is_some_and(|e| e.contains("[redacted:PAY_KEY]")),
        "{ended}"
    );
    // Once ended, what its former holder sends is refused.
    let (status, _) = agent_call(&h, &finish_path, &token, finish).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = agent_call(&h, &path, &token, json!({"from": 2, "events": []})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let bad_end = json!({"status": "great", "exit_code": 0, "error": null,
                         "events": {"from": 0, "events": []}, "reports": {}});
    let (status, _) = agent_call(&h, &finish_path, &token, bad_end).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Revoked: nothing more, and no run for `lab` can be submitted.
    let (status, _) = h
        .call(
            "DELETE",
            &format!("/api/agents/{id}"),
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = agent_call(&h, "/api/agent/claim", &token, ask).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, agents) = h.call("GET", "/api/agents", Some(Role::Admin), None).await;
    assert!(agents["agents"][0]["revoked_at"].is_string(), "{agents}");
    assert!(!agents.to_string().contains(&token));

    let seen = h.seen.lock().expect("seen").join("\n");
    // The sealed value is in the claim's answer only, which is not a leak:
    // it is ciphertext; the value itself is in no answer.
    assert_absent("the answers", seen.as_bytes(), KEY);
    assert_absent("the store", &h.data_bytes().await, KEY);
}
