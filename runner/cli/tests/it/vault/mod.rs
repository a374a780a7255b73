//! The built-in Vault provider against a REAL OpenBao dev server (KV v2 at
//! `secret/`, root token `root`, from the test virtualenv): versions, keys,
//! policies, AppRole, JWT and Kubernetes logins (the cluster's TokenReview
//! a fake, `reqflo-fakes`), KV v1, namespaces, a sealed server and one that
//! is down.
//!
//! The tests in this binary share one server and run in parallel, so each
//! keeps to its own path prefix, policy, role and mount names.

/// Denied, unavailable and misconfigured, and redaction.
mod failures;
/// Reading KV v1 and v2: versions, keys, namespaces, paths.
mod kv;
/// JWT, Kubernetes and AppRole logins.
mod logins;

use crate::common::servers::{self, OPENBAO_ROOT_TOKEN};
// What the provider tests share (a chain project, registry lines, journeys).
pub(super) use crate::common::chain::{
    chain_project as vault_project, echoes, line, pays, secrets,
};

use serde_json::{Value, json};

/// A second value, so tests can tell which one was picked.
pub(super) const OTHER: &str = "0ther/Val+ue=Kq7";

/// OpenBao's HTTP API with the root token, to set up each test's data.
pub(super) struct Bao {
    url: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Bao {
    /// The server this test binary shares.
    pub(super) fn shared() -> Bao {
        Bao::at(&servers::openbao().url)
    }

    pub(super) fn at(url: &str) -> Bao {
        Bao {
            url: url.to_string(),
            client: reqwest::Client::new(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    /// `METHOD /v1/{path}` (in `namespace`), which must succeed; its JSON, or
    /// null for an empty answer.
    pub(super) fn call_in(
        &self,
        namespace: Option<&str>,
        method: &str,
        path: &str,
        body: Value,
    ) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let url = format!("{}/v1/{path}", self.url);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header("X-Vault-Token", OPENBAO_ROOT_TOKEN);
        if let Some(namespace) = namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if !body.is_null() {
            request = request.body(serde_json::to_vec(&body).expect("json"));
        }
        // A dev server's KV v2 mount upgrades itself for a moment after
        // start, answering 400 "Upgrading from non-versioned to versioned
        // data" meanwhile: wait that out (up to 10 s), as a client would.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let (status, bytes) = loop {
            let attempt = request.try_clone().expect("a request with a plain body");
            let (status, bytes) = self.runtime.block_on(async {
                let response = attempt.send().await.expect("OpenBao answers");
                let status = response.status();
                (status, response.bytes().await.expect("body"))
            });
            let upgrading = status == reqwest::StatusCode::BAD_REQUEST
                && String::from_utf8_lossy(&bytes).contains("Upgrading from non-versioned");
            if !upgrading || std::time::Instant::now() > deadline {
                break (status, bytes);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        assert!(
            status.is_success(),
            "{method} {url}: {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON answer")
        }
    }

    pub(super) fn call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call_in(None, method, path, body)
    }

    /// A new version of the KV v2 secret at `path` in `secret/`.
    pub(super) fn write(&self, path: &str, data: Value) {
        self.call(
            "POST",
            &format!("secret/data/{path}"),
            json!({ "data": data }),
        );
    }

    /// A policy that may read exactly `paths` (ACL paths, mount included).
    pub(super) fn policy(&self, name: &str, paths: &[&str]) {
        let rules: String = paths
            .iter()
            .map(|p| format!("path \"{p}\" {{ capabilities = [\"read\"] }}\n"))
            .collect();
        self.call(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            json!({ "policy": rules }),
        );
    }

    /// A token with the ID `id` (chosen, so tests can look for it in output)
    /// and `policies`; `uses` limits how many requests it may make (0: any).
    pub(super) fn token(&self, id: &str, policies: &[&str], uses: u32) {
        self.call(
            "POST",
            "auth/token/create",
            json!({ "id": id, "policies": policies, "num_uses": uses, "no_default_policy": true }),
        );
    }
}

/// The provider block for `vault`: builtin:vault with `config` (a YAML flow
/// map's inside), granted `env` and `hosts`.
pub(super) fn provider(config: &str, env: &str, hosts: &str) -> String {
    format!(
        "  vault:\n    plugin: builtin:vault\n    config: {{{config}}}\n    grants:\n      env: [{env}]\n      hosts: [{hosts}]\n"
    )
}

/// The usual provider: the shared server, a token from VAULT_TOKEN, and `extra` config.
pub(super) fn shared_provider(extra: &str) -> String {
    let bao = servers::openbao();
    let config = if extra.is_empty() {
        format!("address: \"{}\"", bao.url)
    } else {
        format!("address: \"{}\", {extra}", bao.url)
    };
    provider(&config, "VAULT_TOKEN", &format!("\"{}\"", bao.authority))
}

pub(super) fn token(value: &str) -> [(&str, &str); 1] {
    [("VAULT_TOKEN", value)]
}
