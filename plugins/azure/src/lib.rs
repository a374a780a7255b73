//! The `azure` secret provider: secrets from Azure Key Vault by name
//! (`NAME`, `NAME/VERSION`, either with `#key` for one key of a JSON value),
//! or by the vault's own secret identifier (`https://VAULT/secrets/NAME`).
//!
//! It authenticates with a bearer token from the environment, or with Azure
//! AD's client credentials grant (a client secret from the environment). The
//! sandbox sees only the variables in the provider's `grants.env` and may call
//! only the hosts in its `grants.hosts`: the vault, and Azure AD when it signs
//! in itself. Everything but the wire (the SDK's wasi:http) is plain code with native
//! unit tests.

mod aad;
mod identity;
mod keyvault;
mod provider;
use reqflo_references::azure as reference;
mod settings;
mod wire;

use std::time::Instant;

use reqflo_plugin_sdk::{Config, Error, SecretValue, export_provider};

use provider::Provider;
use settings::Settings;

/// The instance lives for the whole run; so do its token and what it fetched.
struct Azure(Provider);

impl reqflo_plugin_sdk::Provider for Azure {
    fn configure(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config.into())?;
        Ok(Azure(Provider::new(settings)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let written = self.0.reference_of_identifier(reference)?;
        let reference = reference::parse(&written)?;
        self.0
            .resolve(
                &reference,
                &mut transport(),
                |name| std::env::var(name),
                Instant::now(),
            )
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
    fn get(&mut self, _url: &str, _token: &str) -> Result<wire::Answer, wire::Failure> {
        Err(wire::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }

    fn post_form(&mut self, _url: &str, _form: &str) -> Result<wire::Answer, wire::Failure> {
        Err(wire::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }

    fn get_with(
        &mut self,
        _url: &str,
        _header: (&str, &str),
    ) -> Result<wire::Answer, wire::Failure> {
        Err(wire::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }
}

export_provider!(Azure);

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

    /// The vault the tests talk to.
    pub fn origin() -> crate::wire::Origin {
        match crate::wire::parse_origin("https://myvault.vault.azure.net") {
            Ok(origin) => origin,
            Err(why) => panic!("{why}"),
        }
    }
}
