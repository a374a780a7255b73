//! The `onepassword` secret provider: `op://vault/item/[section/]field`
//! references resolved through a 1Password Connect server.
//!
//! The sandbox sees only the variables in the provider's `grants.env` and may
//! call only the hosts in its `grants.hosts`, so the Connect host and token must
//! be granted explicitly. Everything but the wire (the SDK's wasi:http) is plain code
//! with native unit tests.

mod connect;
mod item;
mod lookup;
mod otp;
use reqflo_references::onepassword as reference;
mod settings;

use reqflo_plugin_sdk::http::WasiHttp;
use reqflo_plugin_sdk::{Config, Error, SecretValue, env, export_provider};

use lookup::Provider;
use settings::Settings;

/// The instance lives for the whole run; so does what it has looked up.
pub struct OnePassword(Provider);

impl reqflo_plugin_sdk::Provider for OnePassword {
    fn configure(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config)?;
        Ok(OnePassword(Provider::new(settings)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        self.0
            .resolve(reference, &mut WasiHttp, env::var)
            .map(SecretValue::from)
    }
}

export_provider!(OnePassword);
