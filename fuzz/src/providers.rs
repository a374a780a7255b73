//! Every built-in networked provider and `env`, as the host drives them:
//! `configure` with any `config:` map, then `resolve` any references. They
//! are linked as the libraries they also are (`crate-type = ["cdylib",
//! "rlib"]`). Natively every request fails as a component's would with no
//! network, so what runs is the config and reference handling and every
//! error path: none may panic, and every message is bounded text.

use arbitrary::Arbitrary;
use reqflo_plugin_sdk::{Config, Error, Provider};

/// One provider's configuration and the references asked of it.
#[derive(Arbitrary, Debug)]
pub struct Case {
    /// Which provider (modulo the number of them).
    pub provider: u8,
    /// Its `config:` pairs.
    pub config: Vec<(String, String)>,
    /// References to resolve, in order, with the same instance.
    pub references: Vec<String>,
}

/// Configure the chosen provider and resolve each reference.
pub fn configure_and_resolve(case: Case) {
    let Case {
        provider,
        config,
        references,
    } = case;
    match provider % 6 {
        0 => run::<reqflo_plugin_vault::Vault>(config, &references),
        1 => run::<reqflo_plugin_aws::Aws>(config, &references),
        2 => run::<reqflo_plugin_gcp::Gcp>(config, &references),
        3 => run::<reqflo_plugin_azure::Azure>(config, &references),
        4 => run::<reqflo_plugin_onepassword::OnePassword>(config, &references),
        _ => run::<reqflo_plugin_env::EnvProvider>(config, &references),
    }
}

fn run<P: Provider>(config: Vec<(String, String)>, references: &[String]) {
    let mut provider = match P::configure(Config::from(config)) {
        Ok(provider) => provider,
        Err(e) => return check(&e),
    };
    // A run asks a provider for a handful of secrets; more adds nothing.
    for reference in references.iter().take(8) {
        if let Err(e) = provider.resolve(reference) {
            check(&e);
        }
    }
}

/// A message names what was looked for: some text, never an empty one.
fn check(error: &Error) {
    assert!(
        !error.message().trim().is_empty(),
        "{} error with no message",
        error.kind()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_runs_natively_and_fails_with_a_message() {
        for provider in 0..6 {
            configure_and_resolve(Case {
                provider,
                config: vec![("address".into(), "http://127.0.0.1:1".into())],
                references: vec!["app/db#password".into(), String::new(), "op://v/i/f".into()],
            });
        }
        // Configured, then asked: no token granted, so it says which.
        let configured = reqflo_plugin_vault::Vault::configure(Config::of(&[
            ("address", "http://127.0.0.1:1"),
            ("token_env", "REQFLO_FUZZ_NO_SUCH_TOKEN"),
        ]));
        let Ok(mut vault) = configured else {
            panic!("the vault provider refused a plain address")
        };
        let error = vault.resolve("app/db#password").err();
        assert!(
            error.as_ref().is_some_and(|e| e
                .message()
                .contains("REQFLO_FUZZ_NO_SUCH_TOKEN is not visible")),
            "{:?}",
            error.map(|e| e.message().to_string())
        );
    }
}
