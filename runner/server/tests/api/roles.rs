//! Every endpoint checks the role, before it reads the body.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::*;
use reqflo_server::auth::Role;

use reqflo_server::api::ROUTES;

#[tokio::test]
async fn every_endpoint_checks_the_role() {
    let h = Harness::new().await;
    for (method, path, needs) in ROUTES {
        let path = path
            .replace("{id}", "x")
            .replace("{name}", "x")
            .replace("{format}", "json");
        let body = matches!(*method, "POST" | "PUT" | "PATCH").then(|| json!({}));
        let (status, _) = h.call(method, &path, None, body.clone()).await;
        match needs {
            None => assert!(
                status.is_success(),
                "{method} {path} without a token: {status}"
            ),
            Some(_) => assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a token"
            ),
        }
        let Some(needs) = needs else { continue };
        let token = Some("rqf_not-a-real-token");
        let (status, _) = h
            .raw(method, &path, token, "application/json", b"{}".to_vec())
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong token"
        );
        for role in ROLES {
            let (status, answer) = h.call(method, &path, Some(role), body.clone()).await;
            if role >= *needs {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} as {}: {status} {answer}",
                    role.name()
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {}: {answer}",
                    role.name()
                );
                assert!(
                    answer["error"]
                        .as_str()
                        .unwrap_or("")
                        .contains(needs.name()),
                    "{answer}"
                );
            }
        }
    }
    // A revoked token is refused at once.
    let (_, list) = h.call("GET", "/api/tokens", Some(Role::Admin), None).await;
    let viewer = list["tokens"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["role"] == "viewer"))
        .and_then(|t| t["id"].as_str())
        .expect("viewer token")
        .to_string();
    assert!(
        list.to_string().find("rqf_").is_none(),
        "a token list holds no token: {list}"
    );
    let (status, _) = h
        .call(
            "DELETE",
            &format!("/api/tokens/{viewer}"),
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.call("GET", "/api/runs", Some(Role::Viewer), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Every route the table names is served, and the description lists it.
    let (_, openapi) = h.call("GET", "/api/openapi.json", None, None).await;
    for (method, path, _) in ROUTES {
        assert!(
            openapi["paths"][path][method.to_ascii_lowercase()].is_object(),
            "{method} {path}"
        );
    }
}
