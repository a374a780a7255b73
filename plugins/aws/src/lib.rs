//! The `aws` secret provider: secrets from AWS Secrets Manager by name or
//! ARN (`name-or-arn[#jsonkey][?stage=…|?version=…][&encoding=base64]`),
//! read with `GetSecretValue` signed by SigV4.
//!
//! The sandbox sees only the variables in the provider's `grants.env` (the
//! credentials and, optionally, the region) and may call only the hosts in
//! its `grants.hosts`. Everything but the wire (`wasi_http`) is plain code
//! with native unit tests.

wit_bindgen::generate!({
    path: "../../wit",
    world: "secret-provider",
});

mod api;
mod endpoint;
mod lookup;
mod reference;
mod settings;
mod sign;
mod value;
#[cfg(target_arch = "wasm32")]
mod wasi_http;
mod wire;

use std::cell::RefCell;
use std::time::SystemTime;

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

use lookup::Provider;
use settings::Settings;

thread_local! {
    // The instance lives for the whole run; so does what it has read.
    static PROVIDER: RefCell<Option<Provider>> = const { RefCell::new(None) };
}

struct Aws;

impl Guest for Aws {
    fn configure(config: Vec<(String, String)>) -> Result<(), Error> {
        let settings = Settings::from_config(config)?;
        PROVIDER.with(|slot| *slot.borrow_mut() = Some(Provider::new(settings)));
        Ok(())
    }

    fn resolve(reference: String) -> Result<Secret, Error> {
        let reference = reference::parse(&reference)?;
        PROVIDER.with(|slot| {
            let mut slot = slot.borrow_mut();
            let provider = slot
                .as_mut()
                .ok_or_else(|| Error::Unavailable("the AWS provider was not configured".into()))?;
            // The wasi clock: SigV4 signatures carry the time and AWS refuses
            // one more than five minutes off.
            let value = provider.resolve(
                &reference,
                &mut transport(),
                |name| std::env::var(name),
                SystemTime::now,
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
    fn send(&mut self, _request: wire::Request) -> Result<wire::Answer, wire::Failure> {
        Err(wire::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }
}

export!(Aws);

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

    /// The endpoint the tests talk to.
    pub fn endpoint() -> crate::endpoint::Endpoint {
        match crate::endpoint::Endpoint::parse("http://moto:5000") {
            Ok(endpoint) => endpoint,
            Err(why) => panic!("{why}"),
        }
    }
}
