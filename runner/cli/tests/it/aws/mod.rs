//! The built-in AWS provider against a REAL moto server (`moto_server` from
//! the test virtualenv) that enforces SigV4 and IAM: after the setup's
//! actions (`fixtures/moto_setup.py`) every request must be signed by a
//! known access key whose policy allows it, so a wrong key, a missing
//! session token or a user without a policy is refused by moto itself.
//!
//! The tests share one server and run in parallel. Each reads its own
//! secrets, so moto's request log can be counted per secret.

/// Keys from the environment, web identity, container and instance endpoints.
mod credentials;
/// Regions, endpoints and misbehaving servers.
mod endpoints;
/// AWS profiles: shared credentials file, config file, assumed roles.
mod profile;
/// Reading secrets: references, versions, keys, caching, redaction.
mod secrets;

use crate::common::servers::{self, MOTO_SETUP_IAM_ACTIONS, Moto};
// What the provider tests share (a chain project, registry lines, journeys).
use crate::common::CANARY;
pub(super) use crate::common::chain::{chain_project as aws_project, echoes, line, pays, secrets};

use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{Value, json};

/// The region the secrets live in (moto keeps one store per region).
pub(super) const REGION: &str = "eu-west-2";
/// A second value, so tests can tell which one was picked.
pub(super) const OTHER: &str = "0ther/Val+ue=Kq7";
/// The text held by a SecretBinary.
pub(super) const BINARY_TEXT: &str = "b1nary/Text+Val=9";
/// Bytes that are not UTF-8, held by another SecretBinary.
pub(super) const RAW_BYTES: [u8; 9] = [0xff, 0xfe, 0x00, 0x80, b'r', b'q', 0xc3, 0x28, 0x07];
/// The versions of the rotated secret, oldest first; the last is AWSCURRENT.
pub(super) const ROTATED: [&str; 3] = ["r0tated/One+V=1", "r0tated/Two+V=2", CANARY];

/// The moto server of this binary, its setup's credentials, ARNs and
/// version IDs.
pub(super) struct Aws {
    pub(super) moto: Moto,
    setup: Value,
}

impl Aws {
    /// A credential from the setup: `who` is reader, nobody or role.
    pub(super) fn credential(&self, who: &str, field: &str) -> String {
        self.setup[who][field]
            .as_str()
            .unwrap_or_else(|| panic!("no {who}.{field} in the setup"))
            .to_string()
    }

    /// The reader's keys, as the environment the provider is granted.
    pub(super) fn reader_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ACCESS_KEY_ID",
                self.credential("reader", "access_key_id"),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.credential("reader", "secret_access_key"),
            ),
        ]
    }

    /// The moto role's temporary keys, as a credential endpoint hands them out.
    pub(super) fn role_keys(&self) -> reqflo_fakes::aws_credentials::IssuedKeys {
        reqflo_fakes::aws_credentials::IssuedKeys {
            access_key_id: self.credential("role", "access_key_id"),
            secret_access_key: self.credential("role", "secret_access_key"),
            session_token: Some(self.credential("role", "session_token")),
        }
    }

    pub(super) fn arn(&self, name: &str) -> String {
        self.setup["secrets"][name]["arn"]
            .as_str()
            .unwrap_or_else(|| panic!("no ARN for {name}"))
            .to_string()
    }

    pub(super) fn version_id(&self, name: &str, index: usize) -> String {
        self.setup["secrets"][name]["versions"][index]
            .as_str()
            .unwrap_or_else(|| panic!("no version {index} of {name}"))
            .to_string()
    }

    /// The headers of each GetSecretValue call reqflo made for `secret_id`,
    /// as moto recorded them.
    pub(super) fn reads_of(&self, secret_id: &str) -> Vec<Value> {
        servers::moto_requests(&self.moto, "secretsmanager.GetSecretValue")
            .into_iter()
            // moto_setup.py's own probes (boto3's) are not the plugin's.
            .filter(|(headers, _)| {
                !headers["User-Agent"]
                    .as_str()
                    .is_some_and(|agent| agent.starts_with("Boto3"))
            })
            .filter(|(_, body)| {
                serde_json::from_str::<Value>(body).is_ok_and(|b| b["SecretId"] == secret_id)
            })
            .map(|(headers, _)| headers)
            .collect()
    }
}

/// The secrets of this binary: (name, versions as moto_setup.py takes them,
/// deleted afterwards).
fn spec() -> Value {
    let base64 = base64::engine::general_purpose::STANDARD;
    let string = |value: &str| json!({ "string": value });
    let payments = json!({
        "api_key": CANARY,
        "username": "svc-payments-user",
        "port": 8443,
        "webhook": OTHER,
    });
    let cache = json!({ "a": CANARY, "b": "second/Key+Value=1", "c": "third/Key+Value=2" });
    json!({ "secrets": [
        { "name": "reqflo/string", "versions": [string(CANARY)] },
        { "name": "reqflo/binary-text", "versions": [{ "binary_b64": base64.encode(BINARY_TEXT) }] },
        { "name": "reqflo/binary-raw", "versions": [{ "binary_b64": base64.encode(RAW_BYTES) }] },
        { "name": "reqflo/json", "versions": [string(&payments.to_string())] },
        { "name": "reqflo/rotated", "versions": ROTATED.map(string) },
        { "name": "reqflo/deleted", "versions": [string(OTHER)], "delete": true },
        { "name": "reqflo/cache", "versions": [string(&cache.to_string())] },
        { "name": "reqflo/session", "versions": [string(CANARY)] },
        { "name": "reqflo/redaction", "versions": [string(&payments.to_string())] },
        { "name": "reqflo/plain", "versions": [string(CANARY)] },
        { "name": "reqflo/chain-1", "versions": [string(CANARY)] },
        { "name": "reqflo/chain-2", "versions": [string(CANARY)] },
        { "name": "reqflo/contract", "versions": [string(CANARY)] },
        { "name": "reqflo/web-identity", "versions": [string(CANARY)] },
        { "name": "reqflo/profile", "versions": [string(CANARY)] },
    ]})
}

/// The moto server, started and set up once per test binary.
pub(super) fn aws() -> &'static Aws {
    static AWS: OnceLock<Aws> = OnceLock::new();
    AWS.get_or_init(|| {
        let spec = spec();
        let calls: usize = spec["secrets"]
            .as_array()
            .expect("secrets")
            .iter()
            .map(|s| {
                s["versions"].as_array().expect("versions").len() + usize::from(s["delete"] == true)
            })
            .sum();
        let actions = MOTO_SETUP_IAM_ACTIONS + calls;
        let moto = servers::moto(actions);
        let setup = servers::moto_setup(&moto, REGION, actions, &spec);
        Aws { moto, setup }
    })
}

/// The provider block for `aws`: builtin:aws with `config` (a YAML flow
/// map's inside), granted `env` and `hosts`.
pub(super) fn provider(config: &str, env: &str, hosts: &str) -> String {
    format!(
        "  aws:\n    plugin: builtin:aws\n    config: {{{config}}}\n    grants:\n      env: [{env}]\n      hosts: [{hosts}]\n"
    )
}

/// The usual provider: moto as the endpoint, the region in config, the
/// credentials (and a session token, when there is one) from the environment.
pub(super) fn moto_provider() -> String {
    let server = &aws().moto.server;
    provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN",
        &format!("\"{}\"", server.authority),
    )
}

/// `env` as the `(&str, &str)` pairs `TestProject::run` takes.
pub(super) fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
