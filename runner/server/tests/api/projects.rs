//! Uploads: what a project may hold, and where else it may come from.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;
use reqflo_server::auth::Role;
use reqflo_server::{AppState, router};

#[tokio::test]
async fn an_upload_holds_journeys_and_environments_only() {
    let h = Harness::new().await;
    let (status, answer) = h
        .upload(
            "shop",
            &[
                ("reqflo.yaml", CONFIG),
                ("templates/me.yaml", TEMPLATE),
                ("journeys/pay-me.yaml", JOURNEY),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["journeys"], json!(["pay-me"]));
    // What a builder may not bring, each refused with where, nothing stored.
    let attempts: &[(&str, &str, &str)] = &[
        (
            "reqflo.yaml",
            "providers:\n  file:\n    plugin: builtin:file\n    config: {path: ../data/master.key}\n",
            "reqflo.yaml:1:1",
        ),
        (
            "reqflo.yaml",
            "providers:\n  evil:\n    plugin: ./evil.wasm\n    grants: {env: [DATABASE_URL]}\n",
            "`providers:` is not accepted",
        ),
        (
            "reqflo.yaml",
            "secrets:\n  PAYMENTS_API_KEY:\n    journeys: [\"*\"]\n",
            "`secrets:` is not accepted",
        ),
        (
            "reqflo.yaml",
            "environments:\n  sandbox:\n    secrets: [env]\n",
            "reqflo.yaml:3:",
        ),
        (
            "reqflo.yaml",
            "environments:\n  sandbox:\n    hooks: [sign]\n",
            "hooks",
        ),
        (
            "reqflo.yaml",
            "environments:\n  sandbox:\n    tls: {ca_file: /etc/ssl/certs/ca-certificates.crt}\n",
            "`environments.sandbox.tls` is not accepted on a server",
        ),
        ("reqflo.yaml", "environments: [\n", "reqflo.yaml"),
        ("plugins/evil.wasm", "x", "no plugins"),
        ("journeys/../x.yaml", "x", "journeys/NAME.yaml"),
        (
            "journeys/lit.yaml",
            "steps:\n  - id: me\n    template: me\n    values:\n      key: sk_live_4eC39HqLyjWDarjtT1zdp7dc\n",
            "journeys/lit.yaml:5:",
        ),
        (
            "journeys/bad.yaml",
            "steps:\n  - id: me\n    template: nope\n",
            "journeys/bad.yaml:3:",
        ),
        (
            "journeys/bad.yaml",
            "steps:\n  - id: me\n    template: me\n    values:\n      key: {type: secret, name: X, provider: env}\n",
            "provider `env`",
        ),
    ];
    for (path, text, want) in attempts {
        let mut files = vec![("templates/me.yaml", TEMPLATE)];
        if *path != "reqflo.yaml" {
            files.push(("reqflo.yaml", CONFIG));
        }
        files.push((path, text));
        let (status, answer) = h.upload("attempt", &files).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        let message = answer["error"].as_str().unwrap_or("");
        assert!(message.contains(want), "{path}: `{want}` not in: {message}");
        assert!(!message.contains("4eC39HqLyjWD"), "{message}");
    }
    let (status, _) = h
        .call("GET", "/api/projects/attempt", Some(Role::Viewer), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    assert_eq!(h.audit("project.refused").await.len(), attempts.len());
    // Too large: 413.
    let big = "x".repeat(300 * 1024);
    let (status, _) = h.upload("big", &[("journeys/big.yaml", &big)]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_tarball_upload_and_a_served_folder_are_projects_too() {
    let h = Harness::new().await;
    let mut builder = tar::Builder::new(Vec::new());
    for (path, text) in [
        ("shop/reqflo.yaml", CONFIG),
        ("shop/templates/me.yaml", TEMPLATE),
        ("shop/journeys/pay-me.yaml", JOURNEY),
        ("shop/plugins/x.wasm", "\0asm"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, text.as_bytes())
            .expect("append");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &builder.into_inner().expect("tar")).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    let (status, text) = h
        .raw(
            "PUT",
            "/api/projects/shop",
            Some(&h.tokens[&Role::Builder]),
            "application/gzip",
            bytes,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(answer["journeys"], json!(["pay-me"]));
    assert_eq!(answer["skipped"], json!(["shop/plugins/x.wasm"]));
    let (status, text) = h
        .raw(
            "PUT",
            "/api/projects/junk",
            Some(&h.tokens[&Role::Builder]),
            "application/gzip",
            b"\x1f\x8bnot really gzip".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("the tarball"), "{text}");

    // A folder the admin serves: listed, planned, never overwritten.
    let folder = h.dir.path().join("checkout");
    std::fs::create_dir_all(folder.join("journeys")).expect("mkdir");
    std::fs::create_dir_all(folder.join("templates")).expect("mkdir");
    std::fs::write(
        folder.join("reqflo.yaml"),
        format!("{CONFIG}providers:\n  file: {{plugin: builtin:file}}\n"),
    )
    .expect("write");
    std::fs::write(folder.join("templates/me.yaml"), TEMPLATE).expect("write");
    std::fs::write(folder.join("journeys/pay-me.yaml"), JOURNEY).expect("write");
    let mut config = (*h.state.config).clone();
    config.projects.insert("served".into(), folder.clone());
    let state = AppState {
        config: std::sync::Arc::new(config),
        ..h.state.clone()
    };
    let served = Harness {
        app: router(state.clone()),
        state,
        dir: tempfile::tempdir().expect("tempdir"),
        tokens: h.tokens.clone(),
        seen: Default::default(),
        postgres: h.postgres.clone(),
    };
    let (_, list) = served
        .call("GET", "/api/projects", Some(Role::Viewer), None)
        .await;
    let entry = list["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "served")
        .cloned()
        .expect("served");
    assert_eq!(entry["journeys"], json!(["pay-me"]), "{list}");
    assert!(entry["folder"].is_string(), "{entry}");
    let (status, _) = served
        .upload("served", &[("journeys/x.yaml", JOURNEY)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The folder's `providers:` was left out: the run is planned through the
    // server's registry, so an unregistered secret is refused, not resolved.
    let (status, answer) = served
        .call(
            "POST",
            "/api/runs",
            Some(Role::Runner),
            Some(json!({"project": "served", "journeys": ["pay-me"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or("")
            .contains("not registered"),
        "{answer}"
    );
}
