//! The checks behind reqflo's fuzz targets, one function per target, so a
//! target file is only the libFuzzer entry point.
//!
//! Every check panics (a libFuzzer crash) when a property fails; inputs that
//! are merely invalid must come back as errors, never as panics.

pub mod imports;
pub mod loaders;
pub mod providers;
pub mod redact;
pub mod references;
pub mod render;

/// The providers' error type, which the reference parsers return.
pub use reqflo_references::Error;
/// The built-in providers' reference parsers, as the providers use them.
pub use reqflo_references::{
    aws as aws_reference, onepassword as onepassword_reference, vault as vault_reference,
};
