//! The API in process (tower `oneshot` on the router, a real SQLite store in
//! a temporary folder): the whole endpoint × role matrix, secrets
//! management, uploads and what they refuse, runs and what policy refuses,
//! and a canary that no answer and no byte of the database holds.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use reqflo_server::api::ROUTES;
use reqflo_server::auth::Role;
use reqflo_server::{AppState, ServerConfig, router};

const ROLES: [Role; 4] = [Role::Viewer, Role::Runner, Role::Builder, Role::Admin];

struct Harness {
    dir: tempfile::TempDir,
    state: AppState,
    app: Router,
    tokens: HashMap<Role, String>,
    /// Every answer body, to be scanned for the canary.
    seen: std::sync::Mutex<Vec<String>>,
}

impl Harness {
    async fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::defaults(dir.path().join("data"));
        config.max_upload_bytes = 256 * 1024;
        let opened = reqflo_server::open(config).await.expect("open");
        let admin = opened.admin_token.expect("a first admin token");
        let app = router(opened.state.clone());
        let mut harness = Harness {
            dir,
            state: opened.state,
            app,
            tokens: HashMap::new(),
            seen: Default::default(),
        };
        harness.tokens.insert(Role::Admin, admin);
        for role in [Role::Viewer, Role::Runner, Role::Builder] {
            let (status, body) = harness
                .call(
                    "POST",
                    "/api/tokens",
                    Some(Role::Admin),
                    Some(json!({"name": role.name(), "role": role.name()})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let token = body["token"].as_str().expect("token").to_string();
            harness.tokens.insert(role, token);
        }
        harness
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.seen.lock().expect("seen").push(text.clone());
        (status, text)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        role: Option<Role>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = role.map(|r| self.tokens[&r].clone());
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, text) = self
            .raw(method, path, token.as_deref(), "application/json", bytes)
            .await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn upload(&self, name: &str, files: &[(&str, &str)]) -> (StatusCode, Value) {
        self.upload_files(name, files).await
    }

    async fn upload_files(&self, name: &str, files: &[(&str, &str)]) -> (StatusCode, Value) {
        let files: serde_json::Map<String, Value> = files
            .iter()
            .map(|(p, t)| (p.to_string(), Value::from(*t)))
            .collect();
        self.call(
            "PUT",
            &format!("/api/projects/{name}"),
            Some(Role::Builder),
            Some(json!({"files": files})),
        )
        .await
    }

    /// Every byte of the data folder (database, WAL, key file).
    fn data_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path().join("data"))
            .expect("data")
            .flatten()
        {
            all.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
        all
    }
}

/// The canary in the forms a leak would take.
fn forms(value: &str) -> Vec<String> {
    let mut forms = vec![
        value.to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value),
        hex::encode(value),
        serde_json::to_string(value)
            .expect("json")
            .trim_matches('"')
            .to_string(),
    ];
    forms.extend(
        reqflo_core::redact::encoded_forms(value.as_bytes())
            .into_iter()
            .map(|f| String::from_utf8_lossy(&f).into_owned()),
    );
    forms
}

fn assert_absent(what: &str, haystack: &[u8], canary: &str) {
    for form in forms(canary) {
        assert!(
            !haystack.windows(form.len()).any(|w| w == form.as_bytes()),
            "{what} holds the canary as `{form}`"
        );
    }
}

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
        ["secret.disabled", "secret.rotated", "secret.created"],
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
        assert_absent("the data folder", &h.data_bytes(), canary);
        for answer in h.seen.lock().expect("seen").iter() {
            assert_absent("an answer", answer.as_bytes(), canary);
        }
    }
}

const CONFIG: &str =
    "environments:\n  sandbox:\n    variables:\n      base_url: http://127.0.0.1:9\n";
const TEMPLATE: &str =
    "method: GET\nurl: \"{{base_url}}/v1/me\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";
const JOURNEY: &str = "steps:\n  - id: me\n    template: me\n    values:\n      key: {type: secret, name: PAYMENTS_API_KEY}\n";

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
    let (_, audit) = h
        .call(
            "GET",
            "/api/audit?action=project.refused",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(attempts.len()),
        "{audit}"
    );
    // Too large: 413.
    let big = "x".repeat(300 * 1024);
    let (status, _) = h.upload("big", &[("journeys/big.yaml", &big)]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

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
    let (_, audit) = h
        .call(
            "GET",
            "/api/audit?action=run.refused",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(3),
        "{audit}"
    );
    for answer in h.seen.lock().expect("seen").iter() {
        assert!(!answer.contains("hunter2"), "{answer}");
    }
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

#[tokio::test]
async fn runs_side_by_side_do_not_disturb_each_other() {
    let h = Harness::new().await;
    let key = "sk_side_by_side_0011";
    let api = demo_api::spawn(key).expect("demo api");
    let config = format!(
        "environments:\n  demo:\n    variables: {{base_url: \"{}\"}}\n",
        api.base_url()
    );
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for (journey, id) in &ids {
        loop {
            let (_, run) = h
                .call("GET", &format!("/api/runs/{id}"), Some(Role::Viewer), None)
                .await;
            let status = run["status"].as_str().unwrap_or("").to_string();
            if !matches!(status.as_str(), "queued" | "running") {
                let want = if *journey == "failing" {
                    "failed"
                } else {
                    "passed"
                };
                assert_eq!(status, want, "{run}");
                let want_code = if *journey == "failing" { 4 } else { 0 };
                assert_eq!(run["exit_code"], want_code);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "run {id} did not end");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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
