//! The `vault` secret provider: `path#key[?version=N]` references resolved
//! through a HashiCorp Vault or OpenBao KV secrets engine (v2 or v1), with a
//! token from the environment or an AppRole login.
//!
//! The sandbox sees only the variables in the provider's `grants.env` and may
//! call only the hosts in its `grants.hosts`, so the address, the token and
//! the server must be granted explicitly. Everything but the wire
//! (`wasi_http`) is plain code with native unit tests.

wit_bindgen::generate!({
    path: "../../wit",
    world: "secret-provider",
});

mod approle;
mod kv;
mod lookup;
mod origin;
mod reference;
mod settings;
#[cfg(target_arch = "wasm32")]
mod wasi_http;
mod wire;

use std::cell::RefCell;

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

use lookup::Provider;
use settings::Settings;

thread_local! {
    // The instance lives for the whole run; so do its token and what it read.
    static PROVIDER: RefCell<Option<Provider>> = const { RefCell::new(None) };
}

struct Vault;

impl Guest for Vault {
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
                Error::Unavailable("the Vault provider was not configured".into())
            })?;
            let value =
                provider.resolve(&reference, &mut transport(), |name| std::env::var(name))?;
            Ok(Secret::new(value.as_bytes()))
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
    fn send(&mut self, _request: wire::Request) -> Result<wire::Answer, wire::Failure> {
        Err(wire::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }
}

export!(Vault);

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
