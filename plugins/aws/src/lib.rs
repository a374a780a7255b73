//! The `aws` secret provider: secrets from AWS Secrets Manager by name or
//! ARN (`name-or-arn[#jsonkey][?stage=…|?version=…][&encoding=base64]`),
//! read with `GetSecretValue` signed by SigV4.
//!
//! The sandbox sees only the variables in the provider's `grants.env` (the
//! credentials and, optionally, the region) and may call only the hosts in
//! its `grants.hosts`. Everything but the wire (the SDK's wasi:http) is plain code
//! with native unit tests.

mod api;
mod chain;
mod endpoint;
mod lookup;
use reqflo_references::aws as reference;
mod settings;
mod sign;
mod value;
mod wire;

use std::time::SystemTime;

use reqflo_plugin_sdk::{Config, Error, export_provider};

use lookup::Provider;
use settings::Settings;

/// The instance lives for the whole run; so does what it has read.
struct Aws(Provider);

impl reqflo_plugin_sdk::Provider for Aws {
    fn configure(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config.into())?;
        Ok(Aws(Provider::new(settings)))
    }

    fn resolve(&mut self, reference: &str) -> Result<reqflo_plugin_sdk::SecretValue, Error> {
        let reference = reference::parse(reference)?;
        // The wasi clock: SigV4 signatures carry the time and AWS refuses
        // one more than five minutes off.
        self.0
            .resolve(
                &reference,
                &mut transport(),
                |name| std::env::var(name),
                SystemTime::now,
            )
            .map(reqflo_plugin_sdk::SecretValue::from)
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

export_provider!(Aws);

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
        match crate::endpoint::parse("http://moto:5000") {
            Ok(endpoint) => endpoint,
            Err(why) => panic!("{why}"),
        }
    }
}
