//! reqflo: run multi-step HTTP API journeys whose secrets are resolved by
//! sandboxed WebAssembly plugins and never written down.
//!
//! Data flows one way: [`project`] (files) → [`plan`] (validated, nothing sent)
//! → [`secrets`] (plugin host, handles) → [`http`] (requests, secrets injected at
//! the last moment) → [`console`], with [`redact`] on every byte that leaves.

#![warn(missing_docs)]

pub mod app;
pub mod authoring;
pub mod bundle;
pub mod cli;
pub mod console;
pub mod duration;
pub mod error;
pub mod expect;
pub mod hooks;
pub mod http;
pub mod plan;
pub mod project;
pub mod redact;
pub mod report;
pub mod run;
pub mod secrets;
pub mod source;
pub mod template;
