//! The checks behind reqflo's fuzz targets, one function per target, so a
//! target file is only the libFuzzer entry point.
//!
//! Every check panics (a libFuzzer crash) when a property fails; inputs that
//! are merely invalid must come back as errors, never as panics.

pub mod loaders;
pub mod redact;
pub mod references;
pub mod render;

/// The plugins' `crate::Error`, for their reference modules compiled below.
pub use reqflo_plugin_sdk::Error;

// The plugins' reference parsers, compiled from their own source files.
//
// The plugin crates are `cdylib`-only WebAssembly components: a path
// dependency on them cannot link, and would compile their whole native
// dependency trees (SigV4 signing, wasi HTTP) under fuzz instrumentation.
// The parsers only need `crate::Error`, so their modules are included as is.

/// `op://vault/item/[section/]field[?attribute=…]` (plugins/onepassword).
#[allow(dead_code)]
#[path = "../../plugins/onepassword/src/reference.rs"]
pub mod onepassword_reference;

/// `path/to/secret#key?version=N` (plugins/vault).
#[allow(dead_code)]
#[path = "../../plugins/vault/src/reference.rs"]
pub mod vault_reference;

/// `name-or-arn[#key][?stage=…|?version=…][&encoding=base64]` (plugins/aws).
#[allow(dead_code)]
#[path = "../../plugins/aws/src/reference.rs"]
pub mod aws_reference;

/// What the included modules' own unit tests expect from their crate.
#[cfg(test)]
mod tests {
    /// The message of an error, whatever its kind.
    pub fn message(error: &crate::Error) -> String {
        format!("{error:?}")
    }
}
