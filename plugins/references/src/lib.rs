//! How each built-in provider reads a secret reference: `op://…`
//! (1Password), `path#key` (Vault), `name#key?stage=…` (AWS),
//! `projects/…/secrets/…` (GCP) and `https://….vault.azure.net/…` (Azure).
//!
//! Plain Rust with no WebAssembly or HTTP dependency, so that the providers
//! (components) and the fuzz targets (native, instrumented) use one copy.
//! Every parser refuses bad input with [`Error::InvalidReference`].

pub mod aws;
pub mod azure;
pub mod gcp;
pub mod onepassword;
pub mod vault;

mod check;
#[cfg(test)]
mod testing;

/// The providers' error type, which the parsers return.
pub use reqflo_plugin_sdk::Error;
