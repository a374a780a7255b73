//! Admin > Secrets management: a value goes in and never comes out.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::*;
use reqflo_server::auth::Role;

#[tokio::test]
async fn a_secret_goes_in_and_never_comes_out() {
    let h = Harness::new().await;
    let canary = "sk_live_Cn4ry/+=9f3a17c0";
    let (status, created) = h
        .call(
            "POST",
            "/api/secrets",
            Some(Role::Admin),
            Some(json!({"name": "PAYMENTS_API_KEY", "description": "test key", "value": canary,
                        "journeys": ["pay-*"], "environments": ["sandbox"], "hosts": ["127.0.0.1"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["length_class"], "16-31 bytes");
    // Bad requests: none stores anything, none echoes the value.
    for (body, want) in [
        (
            json!({"name": "PAYMENTS_API_KEY", "value": canary}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"name": "SHORT", "value": "abc"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "bad name!", "value": canary}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "X", "value": canary, "allow_http": canary}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "X", "valeu": canary}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "X", "value": canary, "journeys": ["[unclosed"]}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = h
            .call("POST", "/api/secrets", Some(Role::Admin), Some(body))
            .await;
        assert_eq!(status, want, "{answer}");
    }
    let (status, answer) = h
        .raw(
            "POST",
            "/api/secrets",
            Some(&h.tokens[&Role::Admin]),
            "application/json",
            format!("{{\"name\": \"X\", \"value\": \"{canary}").into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.contains("line 1, column"), "{answer}");
    let (_, list) = h.call("GET", "/api/secrets", Some(Role::Admin), None).await;
    assert_eq!(list["secrets"].as_array().map(Vec::len), Some(1), "{list}");

    // Test resolve: ok with the length class, never the value.
    let (status, probe) = h
        .call(
            "POST",
            "/api/secrets/PAYMENTS_API_KEY/test",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{probe}");
    assert_eq!(probe["outcome"], "ok", "{probe}");
    assert!(
        probe["message"]
            .as_str()
            .unwrap_or("")
            .contains("16-31 bytes"),
        "{probe}"
    );
    let (status, _) = h
        .call("POST", "/api/secrets/NOPE/test", Some(Role::Admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Rotate: a new version, the old one gone.
    let rotated_value = "sk_live_R0tated/+=77aa11";
    let (status, rotated) = h
        .call(
            "PUT",
            "/api/secrets/PAYMENTS_API_KEY/value",
            Some(Role::Admin),
            Some(json!({"value": rotated_value})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["version"], 2);
    assert!(rotated["rotated_at"].is_string());
    // Policy, disable, enable.
    let (status, changed) = h
        .call(
            "PATCH",
            "/api/secrets/PAYMENTS_API_KEY",
            Some(Role::Admin),
            Some(json!({"journeys": null, "disabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert!(changed["journeys"].is_null());
    assert_eq!(changed["disabled"], true);
    let (_, probe) = h
        .call(
            "POST",
            "/api/secrets/PAYMENTS_API_KEY/test",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(probe["outcome"], "disabled", "{probe}");
    let (status, _) = h
        .call(
            "PATCH",
            "/api/secrets/PAYMENTS_API_KEY",
            Some(Role::Admin),
            Some(json!({"hosts": "not a list"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Master key rotation re-wraps without the value.
    let (status, keys) = h
        .call("POST", "/api/keys/rotate", Some(Role::Admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    assert_eq!(keys["rewrapped"], 1);
    assert_ne!(keys["from"], keys["to"]);
    // The audit log has each change, and no value.
    let (_, audit) = h
        .call(
            "GET",
            "/api/audit?target=PAYMENTS_API_KEY",
            Some(Role::Admin),
            None,
        )
        .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "secret.tested",
            "secret.disabled",
            "secret.rotated",
            "secret.tested",
            "secret.created"
        ],
        "{audit}"
    );
    let (status, _) = h
        .call(
            "DELETE",
            "/api/secrets/PAYMENTS_API_KEY",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(
            "GET",
            "/api/secrets/PAYMENTS_API_KEY",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    h.state.db.close().await;
    for canary in [canary, rotated_value] {
        assert_absent("the data folder", &h.data_bytes().await, canary);
        for answer in h.seen.lock().expect("seen").iter() {
            assert_absent("an answer", answer.as_bytes(), canary);
        }
    }
}
