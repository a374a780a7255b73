//! The `gcp` secret provider: secrets from Google Cloud Secret Manager (REST
//! v1), by secret ID or resource name, optionally one key of a JSON payload.
//!
//! The sandbox sees only the variables in the provider's `grants.env` and may
//! call only the hosts in its `grants.hosts`, so the access token's variable and
//! the endpoint must be granted explicitly. Everything but the wire
//! (`wasi_http`) is plain code with native unit tests.

wit_bindgen::generate!({
    path: "../../wit",
    world: "secret-provider",
});

mod access;
mod lookup;
mod payload;
mod reference;
mod settings;
#[cfg(target_arch = "wasm32")]
mod wasi_http;

use std::cell::RefCell;

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

use lookup::Provider;
use settings::Settings;

thread_local! {
    // The instance lives for the whole run; so does what it has read.
    static PROVIDER: RefCell<Option<Provider>> = const { RefCell::new(None) };
}

struct Gcp;

impl Guest for Gcp {
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
                Error::Unavailable("the Google Cloud provider was not configured".into())
            })?;
            let value =
                provider.resolve(&reference, &mut transport(), |name| std::env::var(name))?;
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
impl access::Transport for Offline {
    fn get(&mut self, _url: &str, _token: &str) -> Result<access::Answer, access::Failure> {
        Err(access::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }
}

export!(Gcp);

#[cfg(test)]
mod tests {
    use super::Error;
    use crate::reference::{Target, Version};
    use crate::settings::{Connection, Origin};

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

    /// A local endpoint and a token, as the tests talk to them.
    pub fn connection() -> Connection {
        match Origin::parse_base("http://127.0.0.1:8085") {
            Ok(endpoint) => Connection {
                endpoint,
                token: "ya29.test-token".into(),
                token_env: "GOOGLE_OAUTH_ACCESS_TOKEN".into(),
            },
            Err(why) => panic!("{why}"),
        }
    }

    /// Secret `stripe` of project `acme` at `version`.
    pub fn target(version: Version) -> Target {
        Target {
            project: "acme".into(),
            secret: "stripe".into(),
            version,
        }
    }
}
