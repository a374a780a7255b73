//! Secrets: the plugin host, provider chains and the store of resolved values.
//!
//! A plugin returns a handle; the value behind it moves straight into the
//! [`SecretStore`]. Only the HTTP layer ever calls [`SecretStore::reveal`].

pub(crate) mod cache;
pub(crate) mod host;
pub(crate) mod net;
pub(crate) mod plugin;
pub(crate) mod providers;
mod resolve;
mod store;

pub use host::PluginHost;
pub use plugin::{
    CallError, CompiledPlugin, PluginInstance, ProviderFailure, Sandbox, SecretValue,
};
pub use providers::{Builtin, PluginSource, ProviderSpec, Providers};
pub use resolve::{Resolution, Resolver};
pub use store::{Binding, MIN_SECRET_BYTES, SecretId, SecretStore};
