//! Write a reqflo secret provider as a trait impl.
//!
//! A provider turns a *reference* (whatever your users write in `reqflo.yaml`)
//! into a secret. reqflo runs it as a sandboxed WebAssembly component that
//! implements the `secret-provider` world of `reqflo:plugin@0.1.0`
//! (`wit/reqflo-plugin.wit` in this crate). This crate generates the bindings
//! and the exports, so a provider is one type:
//!
//! ```ignore
//! use reqflo_plugin_sdk::{Config, Error, Provider, SecretValue, export_provider};
//!
//! struct Upper;
//!
//! impl Provider for Upper {
//!     fn configure(config: Config) -> Result<Self, Error> {
//!         config.expect_keys(&[])?;
//!         Ok(Upper)
//!     }
//!
//!     fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
//!         std::env::var(reference)
//!             .map(SecretValue::from)
//!             .map_err(|_| Error::NotFound(format!("{reference} is not set")))
//!     }
//! }
//!
//! export_provider!(Upper);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the
//! `.wasm` file is the component. `resolve` runs natively too, so unit tests
//! call it directly. Messages in [`Error`] are shown to users (after
//! redaction): name what was looked for, never a value.
//!
//! With the `http` feature, [`http::send`] makes requests through wasi:http,
//! which the host allows only to the provider's `grants.hosts`; [`origin`]
//! parses and prints server addresses safely.

mod config;
pub mod env;
pub mod files;
pub mod http;
pub mod origin;
mod provider;
pub mod reference;
pub mod renew;
pub mod testing;
mod value;

pub use config::Config;
pub use provider::{Error, Provider};
pub use value::SecretValue;

/// What [`export_provider!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    /// The generated bindings; not a stable API.
    pub mod bindings {
        wit_bindgen::generate!({
            path: "wit",
            world: "secret-provider",
            // The exports are generated in the provider's crate, by
            // `export_provider!`, so the macros must be visible from there.
            pub_export_macro: true,
            export_macro_name: "export_bindings",
            default_bindings_module: "$crate::__private::bindings",
            // Tests compare errors.
            additional_derives: [PartialEq, Eq],
        });
    }

    pub use crate::provider::{configure, resolve};
    pub use bindings::export_bindings;
    pub use bindings::exports::reqflo::plugin::provider::Guest;
    pub use bindings::reqflo::plugin::secrets::Secret;
}

/// Export a [`Provider`] as the component's `reqflo:plugin/provider`.
///
/// Use it once, at the top level of the provider's crate (a `cdylib`). The
/// provider is created by [`Provider::configure`] and lives, in a
/// thread-local cell, for as long as the host keeps the sandbox: one run.
#[macro_export]
macro_rules! export_provider {
    ($provider:ty) => {
        // Only a component exports anything: a native build (the provider's
        // unit tests, or its use as an rlib) has no host to export to, and a
        // native linker refuses the component's export names.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                static __REQFLO_PROVIDER: ::core::cell::RefCell<::core::option::Option<$provider>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct __ReqfloExport;

            impl $crate::__private::Guest for __ReqfloExport {
                fn configure(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::core::result::Result<(), $crate::Error> {
                    $crate::__private::configure(&__REQFLO_PROVIDER, config)
                }

                fn resolve(
                    reference: ::std::string::String,
                ) -> ::core::result::Result<$crate::__private::Secret, $crate::Error> {
                    $crate::__private::resolve(&__REQFLO_PROVIDER, &reference)
                }
            }

            $crate::__private::export_bindings!(
                __ReqfloExport with_types_in $crate::__private::bindings
            );
        };
    };
}
