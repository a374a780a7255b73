//! "Test resolve": does a secret resolve on this server right now? The
//! answer is ok, not found or refused, with the value's length class, never
//! the value. A managed value is decrypted; a provider-held one is asked of
//! its provider, in the same sandbox a run uses, with its managed
//! credentials. The value is dropped (and zeroed) before the answer is made.

use std::sync::Arc;

use serde_json::json;

use crate::api::record;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::execute::open_value;
use crate::project::StoredProject;
use crate::registry::{self, length_class};
use crate::state::AppState;
use reqflo_core::plan::SecretUse;
use reqflo_core::redact::Redactor;
use reqflo_core::secret::{Binding, HeldValues, SecretStore};
use reqflo_sandbox::secrets::{Providers, Resolver};

/// What a test resolve found.
#[derive(Debug, serde::Serialize)]
pub struct Probe {
    /// `ok`, `not found`, `disabled` or `failed`.
    pub outcome: &'static str,
    /// In words, with the length class when it resolved.
    pub message: String,
}

/// Resolve `name` once, as a run would, and say how it went.
pub async fn probe(state: &AppState, caller: &Caller, name: &str) -> Result<Probe, ApiError> {
    let secret = registry::one(&state.db, name)
        .await?
        .ok_or_else(|| crate::error::missing("secret", name))?;
    let found = if secret.disabled {
        Probe {
            outcome: "disabled",
            message: "disabled: no run can use it".into(),
        }
    } else if secret.provider.is_none() {
        let mut held = HeldValues::default();
        match open_value(state, name, &mut held).await {
            Ok(Some(_)) => {
                let len = held
                    .get(name)
                    .map_or(0, |v| secrecy::ExposeSecret::expose_secret(&v).len());
                Probe {
                    outcome: "ok",
                    message: format!("resolves (managed here), {}", length_class(len)),
                }
            }
            Ok(None) => Probe {
                outcome: "not found",
                message: "no stored value".into(),
            },
            Err(e) => Probe {
                outcome: "failed",
                message: e.to_string(),
            },
        }
    } else {
        through_provider(state, &secret).await
    };
    record(
        &state.db,
        &caller.actor(),
        "secret.tested",
        name,
        json!({"outcome": found.outcome}),
    )
    .await?;
    Ok(found)
}

async fn through_provider(state: &AppState, secret: &registry::SecretPolicy) -> Probe {
    let provider = secret.provider.clone().unwrap_or_default();
    let fail = |message: String| Probe {
        outcome: "failed",
        message,
    };
    let project = match StoredProject::default().compose(&[], &state.config.providers) {
        Ok(project) => project,
        Err(e) => return fail(e.to_string()),
    };
    let providers = match Providers::hosted(&project) {
        Ok(providers) => providers,
        Err(e) => return fail(e.to_string()),
    };
    // The provider's credentials, as a run would give them.
    let mut held = HeldValues::default();
    if let Some(spec) = providers.get(&provider) {
        for variable in &spec.env {
            if let Err(e) = open_value(state, variable, &mut held).await {
                return fail(e.to_string());
            }
        }
    }
    let use_ = SecretUse {
        name: secret.name.clone(),
        chain: vec![provider.clone()],
        reference: secret
            .reference
            .clone()
            .unwrap_or_else(|| secret.name.clone()),
        binding: Binding::default(),
    };
    let redactor = Redactor::for_run();
    let mut store = SecretStore::default();
    let uses = [use_];
    let mut resolver = Resolver::new(&project, &providers, &uses, Arc::clone(&redactor))
        .with_held(Some(Arc::new(held)));
    let resolution = resolver.check_all(&uses, &mut store).await;
    let outcome = resolution.into_iter().next().map(|r| r.outcome);
    let len = store.lengths().next();
    match (outcome, len) {
        (Some(Ok(via)), Some(len)) => Probe {
            outcome: "ok",
            message: format!("resolves via {via}, {}", length_class(len)),
        },
        (Some(Ok(via)), None) => Probe {
            outcome: "ok",
            message: format!("resolves via {via}"),
        },
        (Some(Err(e)), _) => {
            let message = redactor.redact(&e.to_string()).into_owned();
            let outcome = if message.contains("not found") {
                "not found"
            } else {
                "failed"
            };
            Probe { outcome, message }
        }
        (None, _) => fail("nothing was resolved".into()),
    }
}
