//! The harness: a server's state on a real SQLite store in a temporary
//! folder, its router called in process (tower `oneshot`), a token per role,
//! every answer kept for the canary scans.
#![allow(dead_code)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use reqflo_server::auth::Role;
use reqflo_server::{AppState, ServerConfig, router};

pub const ROLES: [Role; 4] = [Role::Viewer, Role::Runner, Role::Builder, Role::Admin];

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
    pub tokens: HashMap<Role, String>,
    /// Every answer body, to be scanned for the canary.
    pub seen: std::sync::Mutex<Vec<String>>,
    /// The Postgres database the store is on, if not SQLite.
    pub postgres: Option<String>,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with(|_| {}).await
    }

    /// A harness on the store `REQFLO_TEST_STORE` names: `postgres` (a
    /// database of its own on the tests' private cluster), else SQLite.
    pub async fn with(change: impl FnOnce(&mut ServerConfig)) -> Harness {
        match std::env::var("REQFLO_TEST_STORE").as_deref() {
            Ok("postgres") => Harness::on_postgres(change).await,
            Ok("sqlite") | Err(_) => Harness::on(None, change).await,
            Ok(other) => panic!("REQFLO_TEST_STORE={other}: expected postgres or sqlite"),
        }
    }

    /// A harness whose store is a new database on the tests' Postgres.
    pub async fn on_postgres(change: impl FnOnce(&mut ServerConfig)) -> Harness {
        Harness::on(Some(crate::pg::database()), change).await
    }

    async fn on(postgres: Option<String>, change: impl FnOnce(&mut ServerConfig)) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::defaults(dir.path().join("data"));
        config.max_upload_bytes = 256 * 1024;
        if let Some(url) = &postgres {
            config.database = reqflo_server::db::Database::Postgres(url.clone());
        }
        change(&mut config);
        let opened = reqflo_server::open(config).await.expect("open");
        let admin = opened.admin_token.expect("a first admin token");
        let app = router(opened.state.clone());
        let mut harness = Harness {
            dir,
            state: opened.state,
            app,
            tokens: HashMap::new(),
            seen: Default::default(),
            postgres,
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

    pub async fn raw(
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

    pub async fn call(
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

    pub async fn upload(&self, name: &str, files: &[(&str, &str)]) -> (StatusCode, Value) {
        self.upload_files(name, files).await
    }

    pub async fn upload_files(&self, name: &str, files: &[(&str, &str)]) -> (StatusCode, Value) {
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

    /// A project of `files` (with `reqflo.yaml` for a demo API that accepts
    /// `key`, and `templates/post.yaml`, [`POST_PAYMENT`]), and `PAY_KEY`
    /// registered with that value for journeys `journeys`. The API runs as
    /// long as what this returns is kept.
    pub async fn payments(
        &self,
        project: &str,
        key: &str,
        files: &[(&str, &str)],
        journeys: &str,
    ) -> demo_api::Running {
        let api = demo_api::spawn(key).expect("demo api");
        let config = demo_config(&api);
        let mut all = vec![
            ("reqflo.yaml", config.as_str()),
            ("templates/post.yaml", POST_PAYMENT),
        ];
        all.extend_from_slice(files);
        let (status, answer) = self.upload(project, &all).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let body = json!({"name": "PAY_KEY", "value": key, "journeys": [journeys]});
        let (status, answer) = self
            .call("POST", "/api/secrets", Some(Role::Admin), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        api
    }

    /// A file of a project as it is stored now.
    pub async fn stored_file(&self, project: &str, path: &str) -> String {
        let (_, answer) = self
            .call(
                "GET",
                &format!("/api/projects/{project}"),
                Some(Role::Viewer),
                None,
            )
            .await;
        answer["files"][path]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Every byte of the data folder (database, WAL, key file), and every
    /// row of the Postgres database when the store is there.
    pub async fn data_bytes(&self) -> Vec<u8> {
        let mut all = match &self.postgres {
            Some(url) => crate::pg::rows(url).await,
            None => Vec::new(),
        };
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
pub fn forms(value: &str) -> Vec<String> {
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

pub fn assert_absent(what: &str, haystack: &[u8], canary: &str) {
    for form in forms(canary) {
        assert!(
            !haystack.windows(form.len()).any(|w| w == form.as_bytes()),
            "{what} holds the canary as `{form}`"
        );
    }
}

/// A template that creates a payment with `{{key}}` and `{{amount}}`.
pub const POST_PAYMENT: &str = "method: POST\nurl: \"{{base_url}}/v1/payments\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\njson:\n  amount: \"{{amount}}\"\n  currency: usd\n";

pub const CONFIG: &str =
    "environments:\n  sandbox:\n    variables:\n      base_url: http://127.0.0.1:9\n";
pub const TEMPLATE: &str =
    "method: GET\nurl: \"{{base_url}}/v1/me\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";
pub const JOURNEY: &str = "steps:\n  - id: me\n    template: me\n    values:\n      key: {type: secret, name: PAYMENTS_API_KEY}\n";

/// `reqflo.yaml` with one environment, `demo`, whose base_url is `api`'s.
pub fn demo_config(api: &demo_api::Running) -> String {
    format!(
        "environments:\n  demo:\n    variables: {{base_url: \"{}\"}}\n",
        api.base_url()
    )
}

impl Harness {
    /// The audit entries with `action`, newest first.
    pub async fn audit(&self, action: &str) -> Vec<Value> {
        let (_, audit) = self
            .call(
                "GET",
                &format!("/api/audit?action={action}"),
                Some(Role::Admin),
                None,
            )
            .await;
        audit["entries"].as_array().cloned().unwrap_or_default()
    }

    /// Poll run `id` until it has ended; its JSON.
    pub async fn ended(&self, id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let (_, run) = self
                .call("GET", &format!("/api/runs/{id}"), Some(Role::Viewer), None)
                .await;
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                return run;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "run {id} did not end: {run}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
