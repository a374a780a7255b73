//! Plugins as `reqflo.yaml` configures them: secret providers and request
//! hooks, built in or from a component file. Loading and running them is
//! the sandbox's work (`reqflo-sandbox`).

pub mod hooks;
pub mod providers;

pub use hooks::{BUILTIN_HOOKS, BuiltinHook, HookSource, HookSpec, HookSpecs};
pub use providers::{
    BUILTINS, Builtin, DEFAULT_SECRET_FILE, PluginSource, ProviderSpec, Providers,
};
