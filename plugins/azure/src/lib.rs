//! The `azure` secret provider: secrets from Azure Key Vault by name
//! (`NAME`, `NAME/VERSION`, either with `#key` for one key of a JSON value).
//!
//! It authenticates with a bearer token from the environment, or with Azure
//! AD's client credentials grant (a client secret from the environment). The
//! sandbox sees only the variables in the provider's `grants.env` and may call
//! only the hosts in its `grants.hosts`: the vault, and Azure AD when it signs
//! in itself. Everything but the wire (`wasi_http`) is plain code with native
//! unit tests.

wit_bindgen::generate!({
    path: "../../wit",
    world: "secret-provider",
});

mod aad;
mod keyvault;
mod provider;
mod reference;
mod settings;
#[cfg(target_arch = "wasm32")]
mod wasi_http;
mod wire;

use std::cell::RefCell;
use std::time::Instant;

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

use provider::Provider;
use settings::Settings;

thread_local! {
    // The instance lives for the whole run; so do its token and what it fetched.
    static PROVIDER: RefCell<Option<Provider>> = const { RefCell::new(None) };
}

struct Azure;

impl Guest for Azure {
    fn configure(config: Vec<(String, String)>) -> Result<(), Error> {
        let settings = Settings::from_config(config)?;
        PROVIDER.with(|slot| *slot.borrow_mut() = Some(Provider::new(settings)));
        Ok(())
    }

    fn resolve(reference: String) -> Result<Secret, Error> {
        let reference = reference::parse(&reference)?;
        PROVIDER.with(|slot| {
            let mut slot = slot.borrow_mut();
            let provider = slot.as_mut().ok_or_else(|| {
                Error::Unavailable("the Azure Key Vault provider was not configured".into())
            })?;
            let value = provider.resolve(
                &reference,
                &mut transport(),
                |name| std::env::var(name),
                Instant::now(),
            )?;
            Ok(Secret::new(&value))
        })
    }
}

#[cfg(target_arch = "wasm32")]
fn transport() -> wasi_http::WasiHttp {
    wasi_http::WasiHttp
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
}

export!(Azure);

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
        match crate::wire::Origin::parse_base("https://myvault.vault.azure.net") {
            Ok(origin) => origin,
            Err(why) => panic!("{why}"),
        }
    }
}
