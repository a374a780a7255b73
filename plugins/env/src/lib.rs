//! The `env` secret provider: a reference names an environment variable.
//!
//! The host gives this sandbox only the variables that the run's references
//! name, so `std::env` here is a view of exactly what the user asked for.

wit_bindgen::generate!({
    path: "../../wit",
    world: "secret-provider",
});

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

struct EnvProvider;

impl Guest for EnvProvider {
    fn configure(config: Vec<(String, String)>) -> Result<(), Error> {
        match config.first() {
            None => Ok(()),
            Some((key, _)) => Err(Error::InvalidReference(format!(
                "the env provider takes no configuration, got `{key}`"
            ))),
        }
    }

    fn resolve(reference: String) -> Result<Secret, Error> {
        if reference.is_empty() || reference.contains('=') || reference.contains('\0') {
            return Err(Error::InvalidReference(format!(
                "`{reference}` is not an environment variable name"
            )));
        }
        match std::env::var_os(&reference) {
            Some(value) if !value.is_empty() => Ok(Secret::new(value.as_encoded_bytes())),
            Some(_) => Err(Error::NotFound(format!(
                "environment variable {reference} is empty"
            ))),
            None => Err(Error::NotFound(format!(
                "environment variable {reference} is not set"
            ))),
        }
    }
}

export!(EnvProvider);
