//! The `env` secret provider: a reference names an environment variable.
//!
//! The host gives this sandbox only the variables that the run's references
//! name, so `std::env` here is a view of exactly what the user asked for.

use reqflo_plugin_sdk::{Config, Error, Provider, SecretValue, export_provider};

/// The provider: granted environment variables, by name.
pub struct EnvProvider;

impl Provider for EnvProvider {
    fn configure(config: Config) -> Result<Self, Error> {
        match config.pairs().first() {
            None => Ok(EnvProvider),
            Some((key, _)) => Err(Error::InvalidReference(format!(
                "the env provider takes no configuration, got `{key}`"
            ))),
        }
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        if reference.is_empty() || reference.contains('=') || reference.contains('\0') {
            return Err(Error::InvalidReference(format!(
                "`{reference}` is not an environment variable name"
            )));
        }
        match std::env::var_os(reference) {
            Some(value) if !value.is_empty() => Ok(value.into_encoded_bytes().into()),
            Some(_) => Err(Error::NotFound(format!(
                "environment variable {reference} is empty"
            ))),
            None => Err(Error::NotFound(format!(
                "environment variable {reference} is not set"
            ))),
        }
    }
}

export_provider!(EnvProvider);

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> EnvProvider {
        match EnvProvider::configure(Config::default()) {
            Ok(provider) => provider,
            Err(e) => panic!("{}", e.message()),
        }
    }

    #[test]
    fn names_are_checked_and_missing_ones_are_not_found() {
        let refused = EnvProvider::configure(Config::from(vec![("x".into(), "1".into())]));
        assert_eq!(
            refused.err().map(|e| (e.kind(), e.message().to_string())),
            Some((
                "invalid-reference",
                "the env provider takes no configuration, got `x`".into()
            ))
        );
        for bad in ["", "A=B", "A\0B"] {
            assert_eq!(
                env().resolve(bad).err().map(|e| e.kind()),
                Some("invalid-reference")
            );
        }
        let missing = env().resolve("REQFLO_SURELY_NOT_SET_ANYWHERE");
        assert_eq!(
            missing.err().map(|e| (e.kind(), e.message().to_string())),
            Some((
                "not-found",
                "environment variable REQFLO_SURELY_NOT_SET_ANYWHERE is not set".into()
            ))
        );
        // PATH is set wherever tests run.
        assert!(env().resolve("PATH").is_ok());
    }
}
