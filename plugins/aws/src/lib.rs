//! The `aws` secret provider: secrets from AWS Secrets Manager by name or
//! ARN (`name-or-arn[#jsonkey][?stage=…|?version=…][&encoding=base64]`),
//! read with `GetSecretValue` signed by SigV4.
//!
//! The sandbox sees only the variables in the provider's `grants.env` (the
//! credentials and, optionally, the region), the files in its
//! `grants.files` (the shared config and credentials files, a web identity
//! token) and may call only the hosts in its `grants.hosts`. Everything but the wire (the SDK's wasi:http) is plain
//! code with native unit tests.

mod api;
mod chain;
mod endpoint;
mod ini;
mod lookup;
mod profile;
use reqflo_references::aws as reference;
mod settings;
mod sign;
mod sts;
mod value;
mod wire;

use std::time::SystemTime;

use reqflo_plugin_sdk::http::WasiHttp;
use reqflo_plugin_sdk::{Config, Error, SecretValue, env, export_provider};

use lookup::Provider;
use settings::Settings;

/// The instance lives for the whole run; so does what it has read.
pub struct Aws(Provider);

impl reqflo_plugin_sdk::Provider for Aws {
    fn configure(config: Config) -> Result<Self, Error> {
        Ok(Aws(Provider::new(Settings::from_config(&config)?)))
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        let reference = reference::parse(reference)?;
        // The wasi clock: SigV4 signatures carry the time and AWS refuses
        // one more than five minutes off.
        self.0
            .resolve(&reference, &mut WasiHttp, env::var, SystemTime::now)
            .map(SecretValue::from)
    }
}

export_provider!(Aws);
