//! reqflo: run multi-step HTTP API journeys whose secrets are resolved by
//! sandboxed WebAssembly plugins and never written down.
//!
//! Data flows one way: [`project`] (files) → [`plan`] (validated, nothing sent)
//! → [`secrets`] (plugin host, handles) → [`http`] (requests, secrets injected at
//! the last moment) → [`console`], with [`redact`] on every byte that leaves.

#![warn(missing_docs)]

// The default `host` feature is everything that runs journeys (wasmtime, HTTP,
// the CLI). Without it only the loaders, templates and redactor build: that is
// what fuzz/ links, so fuzzing does not compile wasmtime or the plugins.

#[cfg(feature = "host")]
pub mod app;
#[cfg(feature = "host")]
pub mod authoring;
#[cfg(feature = "host")]
pub mod bundle;
pub mod cleartext;
#[cfg(feature = "host")]
pub mod cli;
#[cfg(feature = "host")]
pub mod console;
pub mod duration;
pub mod error;
#[cfg(feature = "host")]
pub mod expect;
#[cfg(feature = "host")]
pub mod hooks;
#[cfg(feature = "host")]
pub mod http;
#[cfg(feature = "host")]
pub mod interrupt;
#[cfg(feature = "host")]
pub mod plan;
pub mod project;
pub mod redact;
#[cfg(feature = "host")]
pub mod report;
#[cfg(feature = "host")]
pub mod run;
#[cfg(feature = "host")]
pub mod secrets;
pub mod source;
pub mod template;

/// Without the `host` feature (the fuzz targets' build): only the handle type
/// the template renderer records, none of the plugin host.
#[cfg(not(feature = "host"))]
pub mod secrets {
    #[path = "store.rs"]
    mod store;
    pub use store::{Binding, MIN_SECRET_BYTES, SecretId, SecretStore};
}
