//! Plugins as `reqflo.yaml` configures them: secret providers and request
//! hooks, built in or from a component file. Loading and running them is
//! the sandbox's work (`reqflo-sandbox`).

pub mod hooks;
pub mod providers;
pub mod spec;

pub use hooks::HookSpecs;
pub use providers::{DEFAULT_SECRET_FILE, HELD_PROVIDER, Providers};
pub use spec::{BUILTINS, Builtin, FileGrant, PluginKind, PluginSource, PluginSpec};
