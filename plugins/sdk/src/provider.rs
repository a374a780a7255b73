//! The trait a provider implements, and the glue between it and the exports.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::__private::bindings::reqflo::plugin::secrets::Secret;
use crate::{Config, SecretValue};

/// Why a reference could not be resolved (the WIT `error` variant).
///
/// In a chain of providers, [`Error::NotFound`] moves on to the next one;
/// every other kind stops the run, naming the provider and the reference.
/// Messages are shown to users after redaction, with control characters
/// removed and the length capped: say what was looked for, never a value.
pub use crate::__private::bindings::exports::reqflo::plugin::provider::Error;

/// A secret provider: configured once per run, then asked for references.
pub trait Provider: Sized + 'static {
    /// Build the provider from its `config:` map in `reqflo.yaml` (values
    /// rendered as strings). Called once, before any [`Provider::resolve`].
    fn configure(config: Config) -> Result<Self, Error>;

    /// Resolve one reference. The value goes to the host as an opaque handle
    /// and this copy is zeroed.
    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error>;
}

impl Error {
    /// The kind as the WIT spells it: `not-found`, `denied`,
    /// `invalid-reference` or `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not-found",
            Error::Denied(_) => "denied",
            Error::InvalidReference(_) => "invalid-reference",
            Error::Unavailable(_) => "unavailable",
        }
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::NotFound(m) | Error::Denied(m) | Error::InvalidReference(m) => m,
            Error::Unavailable(m) => m,
        }
    }
}

/// `configure` export: build the provider and keep it for the run. A second
/// call (the host never makes one) starts over.
#[doc(hidden)]
pub fn configure<P: Provider>(
    state: &'static LocalKey<RefCell<Option<P>>>,
    config: Vec<(String, String)>,
) -> Result<(), Error> {
    let provider = P::configure(Config::from(config))?;
    state.with(|slot| *slot.borrow_mut() = Some(provider));
    Ok(())
}

/// `resolve` export: ask the provider, then hand the bytes to the host.
#[doc(hidden)]
pub fn resolve<P: Provider>(
    state: &'static LocalKey<RefCell<Option<P>>>,
    reference: &str,
) -> Result<Secret, Error> {
    let value = with_provider(state, |provider| provider.resolve(reference))?;
    Ok(Secret::new(value.expose_bytes()))
}

/// Run `f` on the configured provider.
fn with_provider<P: Provider, T>(
    state: &'static LocalKey<RefCell<Option<P>>>,
    f: impl FnOnce(&mut P) -> Result<T, Error>,
) -> Result<T, Error> {
    state.with(|slot| {
        let mut slot = slot.borrow_mut();
        let provider = slot
            .as_mut()
            .ok_or_else(|| Error::Unavailable("the provider was not configured".into()))?;
        f(provider)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts its calls, to show that one instance serves the whole run.
    struct Counter {
        prefix: String,
        calls: usize,
    }

    impl Provider for Counter {
        fn configure(config: Config) -> Result<Self, Error> {
            config.expect_keys(&["prefix"])?;
            Ok(Counter {
                prefix: config.get("prefix").unwrap_or("v").to_string(),
                calls: 0,
            })
        }

        fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
            self.calls += 1;
            if reference == "missing" {
                return Err(Error::NotFound(format!("no {reference}")));
            }
            Ok(format!("{}-{reference}-{}", self.prefix, self.calls).into())
        }
    }

    thread_local! {
        static STATE: RefCell<Option<Counter>> = const { RefCell::new(None) };
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_configured_provider_lives_for_the_run() {
        // Secret::new needs the host, so this drives the same path as the
        // export up to the hand-over.
        let unconfigured = with_provider(&STATE, |p| p.resolve("a"));
        assert!(
            matches!(&unconfigured, Err(Error::Unavailable(m)) if m == "the provider was not configured")
        );
        assert!(configure(&STATE, pairs(&[("prefix", "x")])).is_ok());
        let first = with_provider(&STATE, |p| p.resolve("a"));
        let second = with_provider(&STATE, |p| p.resolve("b"));
        assert_eq!(
            first.map(|v| v.expose_bytes().to_vec()),
            Ok(b"x-a-1".to_vec())
        );
        assert_eq!(
            second.map(|v| v.expose_bytes().to_vec()),
            Ok(b"x-b-2".to_vec())
        );
        let missing = with_provider(&STATE, |p| p.resolve("missing"));
        assert!(matches!(missing, Err(Error::NotFound(m)) if m == "no missing"));
    }

    #[test]
    fn a_refused_configuration_is_the_providers_error() {
        let error = configure(&STATE, pairs(&[("prefx", "x")])).err();
        assert_eq!(
            error.as_ref().map(|e| (e.kind(), e.message())),
            Some((
                "invalid-reference",
                "unknown config key `prefx` (expected prefix)"
            ))
        );
    }

    #[test]
    fn kinds_are_spelled_as_in_the_wit() {
        let all = [
            Error::NotFound("a".into()),
            Error::Denied("b".into()),
            Error::InvalidReference("c".into()),
            Error::Unavailable("d".into()),
        ];
        let kinds: Vec<_> = all.iter().map(|e| (e.kind(), e.message())).collect();
        assert_eq!(
            kinds,
            [
                ("not-found", "a"),
                ("denied", "b"),
                ("invalid-reference", "c"),
                ("unavailable", "d")
            ]
        );
    }
}
