//! The `vault` secret provider: `path#key[?version=N]` references resolved
//! through a HashiCorp Vault or OpenBao KV secrets engine (v2 or v1), with a
//! token from the environment or an AppRole login.
//!
//! The sandbox sees only the variables in the provider's `grants.env` and may
//! call only the hosts in its `grants.hosts`, so the address, the token and
//! the server must be granted explicitly. Everything but the wire
//! (the SDK's wasi:http) is plain code with native unit tests.

mod approle;
mod kv;
mod lookup;
use reqflo_references::vault as reference;
mod settings;
mod wire;

use reqflo_plugin_sdk::origin;
use reqflo_plugin_sdk::{Config, Error, SecretValue, export_provider};

use lookup::Provider;
use settings::Settings;

/// The instance lives for the whole run; so do its token and what it read.
struct Vault(Provider);

impl reqflo_plugin_sdk::Provider for Vault {
    fn configure(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config.into())?;
        Ok(Vault(Provider::new(settings)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let reference = reference::parse(reference)?;
        self.0
            .resolve(&reference, &mut transport(), |name| std::env::var(name))
            .map(SecretValue::from)
    }
}

#[cfg(target_arch = "wasm32")]
fn transport() -> wire::WasiHttp {
    wire::WasiHttp
}

/// Native builds exist for unit tests only; they have no wasi:http to call.
#[cfg(not(target_arch = "wasm32"))]
fn transport() -> Offline {
    Offline
}

#[cfg(not(target_arch = "wasm32"))]
struct Offline;

#[cfg(not(target_arch = "wasm32"))]
impl wire::Transport for Offline {
    fn send(&mut self, _request: wire::Request) -> Result<wire::Answer, wire::Failure> {
        Err(wire::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }
}

export_provider!(Vault);

#[cfg(test)]
mod tests {
    use super::Error;

    /// The kind (as WIT spells it) and message of an error.
    pub fn kind_and_message(error: &Error) -> (&'static str, String) {
        match error {
            Error::NotFound(m) => ("not-found", m.clone()),
            Error::Denied(m) => ("denied", m.clone()),
            Error::InvalidReference(m) => ("invalid-reference", m.clone()),
            Error::Unavailable(m) => ("unavailable", m.clone()),
        }
    }

    /// The message of an error, whatever its kind.
    pub fn message(error: &Error) -> String {
        kind_and_message(error).1
    }

    /// The Vault server the tests talk to.
    pub fn origin() -> crate::origin::Origin {
        match crate::origin::Origin::parse_base("http://vault:8200") {
            Ok(origin) => origin,
            Err(why) => panic!("{why}"),
        }
    }
}
