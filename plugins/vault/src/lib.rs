//! The `vault` secret provider: `path#key[?version=N]` references resolved
//! through a HashiCorp Vault or OpenBao KV secrets engine (v2 or v1), with a
//! token from the environment or from a login, once per run: AppRole (IDs
//! from the environment), JWT, or Kubernetes (a role and a JWT from a file,
//! by default the pod's service account token, so a worker in a cluster needs
//! no Vault token).
//!
//! The sandbox sees only the variables in the provider's `grants.env`, the
//! files in its `grants.files`, and may call only the hosts in its
//! `grants.hosts`, so the address, the token or JWT file, and the server must
//! be granted explicitly. Everything but the wire
//! (the SDK's wasi:http) is plain code with native unit tests.

mod kv;
mod login;
mod lookup;
use reqflo_references::vault as reference;
mod settings;
#[cfg(test)]
mod testing;
mod wire;

use reqflo_plugin_sdk::http::WasiHttp;
use reqflo_plugin_sdk::{Config, Error, SecretValue, env, export_provider};

use lookup::Provider;
use settings::Settings;

/// The Vault provider, as the component exports it (and as a native caller
/// can drive it). The instance lives for the whole run; so do its token and
/// what it read.
pub struct Vault(Provider);

impl reqflo_plugin_sdk::Provider for Vault {
    fn configure(config: Config) -> Result<Self, Error> {
        Ok(Vault(Provider::new(Settings::from_config(&config)?)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let reference = reference::parse(reference)?;
        self.0
            .resolve(&reference, &mut WasiHttp, &env::var)
            .map(SecretValue::from)
    }
}

export_provider!(Vault);
