//! reqflo's sandbox: WebAssembly plugins under wasmtime. One engine per
//! process, a compiled-code cache, memory, CPU and time limits, network
//! grants; secret providers ([`secrets`]) and request hooks ([`hooks`]) run
//! here, and a secret's value goes from a provider straight into the
//! [`reqflo_core::secret::SecretStore`] as a handle.

#![warn(missing_docs)]

pub mod builtin;
mod guest;
pub mod hooks;
pub mod secrets;
mod wasi;

pub use guest::EPOCH_TICK;

pub use builtin::{Embedded, Load, PLUGIN_DIR};
