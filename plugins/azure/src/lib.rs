//! The `azure` secret provider: secrets from Azure Key Vault by name
//! (`NAME`, `NAME/VERSION`, either with `#key` for one key of a JSON value),
//! or by the vault's own secret identifier (`https://VAULT/secrets/NAME`).
//!
//! It authenticates as `DefaultAzureCredential` does (a ready token, a client
//! secret or certificate, workload identity, managed identity: see
//! [`credential`]), or the one way config names. The
//! sandbox sees only the variables in the provider's `grants.env` and may call
//! only the hosts in its `grants.hosts`: the vault, and Azure AD when it signs
//! in itself. Everything but the wire (the SDK's wasi:http) is plain code
//! with native unit tests.

mod aad;
mod certificate;
mod credential;
mod identity;
mod keyvault;
mod provider;
use reqflo_references::azure as reference;
mod settings;
mod wire;
mod workload;

use std::time::Instant;

use reqflo_plugin_sdk::http::WasiHttp;
use reqflo_plugin_sdk::{Config, Error, SecretValue, env, export_provider};

use provider::Provider;
use settings::Settings;

/// The instance lives for the whole run; so do its token and what it fetched.
pub struct Azure(Provider);

impl reqflo_plugin_sdk::Provider for Azure {
    fn configure(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        Ok(Azure(Provider::new(settings)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let written = self.0.reference_of_identifier(reference)?;
        let reference = reference::parse(&written)?;
        self.0
            .resolve(&reference, &mut WasiHttp, env::var, Instant::now())
            .map(SecretValue::from)
    }
}

export_provider!(Azure);
