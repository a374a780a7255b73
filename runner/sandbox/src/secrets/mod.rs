//! Secrets: the plugin host, provider chains and the store of resolved values.
//!
//! A plugin returns a handle; the value behind it moves straight into the
//! [`SecretStore`]. Only the HTTP layer ever calls [`SecretStore::reveal`].

pub(crate) mod cache;
pub(crate) mod host;
pub(crate) mod net;
pub(crate) mod plugin;
mod resolve;

pub use host::PluginHost;
pub use net::NetPolicy;
pub use plugin::{
    CallError, CompiledPlugin, PluginInstance, ProviderFailure, Sandbox, SecretValue,
};
pub use resolve::{Resolution, Resolver, is_bare_address};
// The configuration and the store are the core's; re-exported so a caller of
// the sandbox names one path.
pub use reqflo_core::plugins::{Builtin, PluginSource, PluginSpec, Providers};
pub use reqflo_core::secret::{Binding, HeldValues, MIN_SECRET_BYTES, SecretId, SecretStore};
