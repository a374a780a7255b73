//! What a hook's host functions work with: the secrets it holds (as
//! handles), the request it edits, and the run's context (its spec, the
//! token endpoint client, the run's access tokens and redactor).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use zeroize::Zeroizing;

use crate::secrets::Binding;
use reqflo_core::message::BuiltRequest;
use reqflo_core::plugins::PluginSpec;
use reqflo_core::redact::Redactor;

/// A secret as a hook holds it: bytes in host memory, a name for views and
/// messages, and the destinations it may be sent to.
pub struct HookSecret {
    pub(super) value: Zeroizing<Vec<u8>>,
    pub(super) label: String,
    pub(super) binding: Binding,
    /// Created by the guest itself: counts against its handle budget.
    pub(super) guest_made: bool,
}

impl HookSecret {
    /// A secret the host hands to a hook (granted or derived).
    pub fn granted(value: &[u8], label: &str, binding: Binding) -> HookSecret {
        HookSecret {
            value: Zeroizing::new(value.to_vec()),
            label: label.to_string(),
            binding,
            guest_made: false,
        }
    }
}

impl std::fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HookSecret({}, [redacted])", self.label)
    }
}

/// The request a hook is editing; it goes back to the step afterwards.
pub struct Outgoing {
    /// The request, as built from the step's template.
    pub request: BuiltRequest,
}

/// What a hook's host functions need beyond its store.
pub struct HookContext {
    /// The hook's configuration (its name, grants, budget).
    pub spec: PluginSpec,
    /// The client for token endpoints: no redirects, no cookies, no proxy.
    pub client: reqwest::Client,
    /// Access tokens of the run, shared by every hook.
    pub tokens: Arc<TokenCache>,
    /// The run's redactor: learns every derived secret, hides what hooks print.
    pub redactor: Arc<Redactor>,
}

/// An access token kept for the rest of the run.
pub(super) struct Cached {
    pub(super) token: Zeroizing<Vec<u8>>,
    pub(super) label: String,
    pub(super) binding: Binding,
    pub(super) until: Instant,
}

/// Access tokens of one run, keyed by (token URL, client ID, scope, client secret's name).
#[derive(Default)]
pub struct TokenCache {
    pub(super) tokens: Mutex<HashMap<(String, String, String, String), Cached>>,
}

/// The WIT `client-credentials` record, as the exchange reads it.
pub struct ClientCredentialsArg {
    /// The token endpoint.
    pub token_url: String,
    /// The client ID (not a secret).
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// Extra form fields.
    pub extra: Vec<(String, String)>,
    /// HTTP Basic (true) or the form body (false).
    pub basic: bool,
}

/// Fields of a secret the OAuth exchange needs.
impl HookSecret {
    /// The bytes: only for building a request at the last moment.
    pub(super) fn reveal(&self) -> &[u8] {
        &self.value
    }

    /// The name it is shown as.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// Where it may be sent, if bound.
    pub(super) fn hosts(&self) -> Option<&[String]> {
        self.binding.hosts.as_deref()
    }

    /// Where it may be sent.
    pub(super) fn binding(&self) -> &Binding {
        &self.binding
    }

    /// A new secret derived from this one (bound where it is bound).
    pub(super) fn derived(&self, value: Zeroizing<Vec<u8>>, label: String) -> HookSecret {
        HookSecret {
            value,
            label,
            binding: self.binding.clone(),
            guest_made: false,
        }
    }
}
