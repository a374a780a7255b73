//! The `gcp` secret provider: secrets from Google Cloud Secret Manager (REST
//! v1), by secret ID or resource name, optionally one key of a JSON payload.
//!
//! The sandbox sees only the variables in the provider's `grants.env` and may
//! call only the hosts in its `grants.hosts`, so the access token's variable and
//! the endpoint must be granted explicitly. Everything but the wire
//! (the SDK's wasi:http) is plain code with native unit tests.

mod access;
mod lookup;
mod metadata;
mod payload;
use reqflo_references::gcp as reference;
mod settings;

use reqflo_plugin_sdk::{Config, Error, SecretValue, export_provider};

use lookup::Provider;
use settings::Settings;

/// The instance lives for the whole run; so does what it has read.
struct Gcp(Provider);

impl reqflo_plugin_sdk::Provider for Gcp {
    fn configure(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config.into())?;
        Ok(Gcp(Provider::new(settings)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let reference = reference::parse(reference)?;
        self.0
            .resolve(&reference, &mut transport(), |name| std::env::var(name))
            .map(SecretValue::from)
    }
}

#[cfg(target_arch = "wasm32")]
fn transport() -> access::WasiHttp {
    access::WasiHttp
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

    fn get_metadata(&mut self, _url: &str) -> Result<access::Answer, access::Failure> {
        Err(access::Failure::Broken(
            "no wasi:http outside a component".into(),
        ))
    }
}

export_provider!(Gcp);

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
                metadata: None,
                expires: None,
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
