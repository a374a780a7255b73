//! The `gcp` secret provider: secrets from Google Cloud Secret Manager (REST
//! v1), by secret ID or resource name, optionally one key of a JSON payload.
//!
//! The sandbox sees only the variables in the provider's `grants.env`, the
//! files in its `grants.files`, and may call only the hosts in its
//! `grants.hosts`, so each link of the credential chain (a token's variable,
//! a credentials file, the token endpoints) and the endpoint must be granted
//! explicitly. Everything but the wire
//! (the SDK's wasi:http) is plain code with native unit tests.

mod access;
#[cfg(test)]
mod adc_tests;
mod credentials;
mod external;
#[cfg(test)]
mod fixtures;
mod lookup;
mod metadata;
mod oauth;
mod payload;
mod settings;
mod token;

use reqflo_plugin_sdk::http::WasiHttp;
use reqflo_plugin_sdk::{Config, Error, SecretValue, env, export_provider};
use reqflo_references::gcp as reference;

use lookup::Provider;
use settings::Settings;

/// The instance lives for the whole run; so does what it has read.
pub struct Gcp(Provider);

impl reqflo_plugin_sdk::Provider for Gcp {
    fn configure(config: Config) -> Result<Self, Error> {
        Ok(Gcp(Provider::new(Settings::from_config(config)?)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let reference = reference::parse(reference)?;
        self.0
            .resolve(&reference, &mut WasiHttp, env::var)
            .map(SecretValue::from)
    }
}

export_provider!(Gcp);
