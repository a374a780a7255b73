//! A key-encryption key held by OpenBao or Vault's Transit engine: data keys
//! are wrapped and unwrapped by the Transit API, so the key itself never
//! leaves OpenBao, and rotating it (a new Transit key version, then
//! `rewrap`) never shows the data keys to anyone.

use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// `key_encryption: {transit: …}` in server.yaml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitConfig {
    /// OpenBao's address, e.g. `https://bao.internal:8200`.
    pub address: String,
    /// The Transit key's name.
    pub key: String,
    /// Where the Transit engine is mounted (default `transit`).
    #[serde(default = "default_mount")]
    pub mount: String,
    /// The environment variable holding the server's OpenBao token (default
    /// `REQFLO_TRANSIT_TOKEN`): the server's own credential, read at start.
    #[serde(default = "default_token_env")]
    pub token_env: String,
}

fn default_mount() -> String {
    "transit".into()
}

fn default_token_env() -> String {
    "REQFLO_TRANSIT_TOKEN".into()
}

/// Why Transit could not wrap or unwrap: never a key.
#[derive(Debug, thiserror::Error)]
#[error("the key-encryption key {id}: {why}")]
pub struct TransitError {
    /// The Transit key's id.
    pub id: String,
    /// Why, in words.
    pub why: String,
}

/// A Transit key, ready to wrap and unwrap.
pub struct Transit {
    config: TransitConfig,
    token: SecretString,
    http: reqwest::Client,
}

impl std::fmt::Debug for Transit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transit").field("id", &self.id()).finish()
    }
}

impl Transit {
    /// Read the token from the configured variable.
    pub fn new(config: TransitConfig) -> Result<Transit, TransitError> {
        let token = std::env::var(&config.token_env).map_err(|_| TransitError {
            id: format!("transit:{}", config.key),
            why: format!("the token variable {} is not set", config.token_env),
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TransitError {
                id: format!("transit:{}", config.key),
                why: e.to_string(),
            })?;
        Ok(Transit {
            config,
            token: SecretString::from(token),
            http,
        })
    }

    /// Names the key in rows it wrapped: address, mount and key name.
    pub fn id(&self) -> String {
        format!(
            "transit:{}/{}/{}",
            self.config.address.trim_end_matches('/'),
            self.config.mount,
            self.config.key
        )
    }

    /// `POST /v1/{mount}/{path}` where `path` names the key (`encrypt/KEY`).
    async fn call(&self, action: &str, body: Value) -> Result<Value, TransitError> {
        let path = match action {
            "rotate" => format!("keys/{}/rotate", self.config.key),
            _ => format!("{action}/{}", self.config.key),
        };
        let fail = |why: String| TransitError { id: self.id(), why };
        let url = format!(
            "{}/v1/{}/{path}",
            self.config.address.trim_end_matches('/'),
            self.config.mount,
        );
        let response = self
            .http
            .post(&url)
            .header("X-Vault-Token", self.token.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| fail(format!("cannot reach {}: {e}", self.config.address)))?;
        let status = response.status();
        // Transit's answers hold data keys: never quoted in an error.
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let errors = answer["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            return Err(fail(format!("{action} answered {status}: {errors}")));
        }
        Ok(answer)
    }

    /// Wrap a data key: Transit's ciphertext (`vault:vN:…`), as bytes.
    pub async fn wrap(&self, data_key: &[u8; 32]) -> Result<Vec<u8>, TransitError> {
        let plaintext = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(data_key));
        let answer = self
            .call("encrypt", json!({ "plaintext": *plaintext }))
            .await?;
        answer["data"]["ciphertext"]
            .as_str()
            .map(|c| c.as_bytes().to_vec())
            .ok_or_else(|| TransitError {
                id: self.id(),
                why: "encrypt answered without a ciphertext".into(),
            })
    }

    /// Unwrap what [`Transit::wrap`] wrapped.
    pub async fn unwrap_key(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, TransitError> {
        let ciphertext = std::str::from_utf8(wrapped).map_err(|_| TransitError {
            id: self.id(),
            why: "a wrapped key is not Transit's".into(),
        })?;
        let answer = self
            .call("decrypt", json!({ "ciphertext": ciphertext }))
            .await?;
        let plaintext = answer["data"]["plaintext"].as_str().unwrap_or_default();
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(plaintext)
                .map_err(|_| TransitError {
                    id: self.id(),
                    why: "decrypt answered a plaintext that is not base64".into(),
                })?,
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| TransitError {
            id: self.id(),
            why: "decrypt answered a data key of the wrong size".into(),
        })?;
        Ok(Zeroizing::new(key))
    }

    /// A new version of the Transit key (later wraps use it).
    pub async fn rotate(&self) -> Result<(), TransitError> {
        self.call("rotate", json!({})).await.map(|_| ())
    }

    /// Re-wrap under the key's latest version, inside OpenBao: the data key
    /// is never shown to the server.
    pub async fn rewrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, TransitError> {
        let ciphertext = std::str::from_utf8(wrapped).map_err(|_| TransitError {
            id: self.id(),
            why: "a wrapped key is not Transit's".into(),
        })?;
        let answer = self
            .call("rewrap", json!({ "ciphertext": ciphertext }))
            .await?;
        answer["data"]["ciphertext"]
            .as_str()
            .map(|c| c.as_bytes().to_vec())
            .ok_or_else(|| TransitError {
                id: self.id(),
                why: "rewrap answered without a ciphertext".into(),
            })
    }
}
