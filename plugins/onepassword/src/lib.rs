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
use reqflo_references::onepassword as reference;
mod settings;

use reqflo_plugin_sdk::{Config, Error, SecretValue, export_provider};

use lookup::Provider;
use settings::Settings;

/// The instance lives for the whole run; so does what it has looked up.
struct OnePassword(Provider);

impl reqflo_plugin_sdk::Provider for OnePassword {
    fn configure(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config.into())?;
        Ok(OnePassword(Provider::new(settings)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let reference = reference::parse(reference)?;
        self.0
            .resolve(&reference, &mut transport(), |name| std::env::var(name))
            .map(SecretValue::from)
    }
}

#[cfg(target_arch = "wasm32")]
fn transport() -> connect::WasiHttp {
    connect::WasiHttp
}

/// Native builds exist for unit tests only; they have no wasi:http to call.
#[cfg(not(target_arch = "wasm32"))]
fn transport() -> Offline {
    Offline
}

#[cfg(not(target_arch = "wasm32"))]
struct Offline;

#[cfg(not(target_arch = "wasm32"))]
impl connect::Transport for Offline {
    fn get(&mut self, _url: &str, _token: &str) -> Result<connect::Answer, connect::Failure> {
        Err(connect::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }
}

export_provider!(OnePassword);

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

    /// The Connect server the tests talk to.
    pub fn origin() -> crate::settings::Origin {
        match crate::settings::Origin::parse_base("http://connect:8080") {
            Ok(origin) => origin,
            Err(why) => panic!("{why}"),
        }
    }
}
