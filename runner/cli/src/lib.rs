//! The `reqflo` command line: arguments ([`cli`]), the commands ([`app`]),
//! what a person sees ([`console`], an observer of the engine's events),
//! Ctrl-C and SIGTERM ([`interrupt`]) and writing plugins ([`authoring`]).
//! The work itself is the engine's (`reqflo-engine`), on the core
//! (`reqflo-core`) and the sandbox (`reqflo-sandbox`).

#![warn(missing_docs)]

pub mod app;
pub mod authoring;
pub mod cli;
pub mod console;
pub use reqflo_core::exit;
pub mod interrupt;
pub mod listing;
pub mod remote;
pub mod serve;
