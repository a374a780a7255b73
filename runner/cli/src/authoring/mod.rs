//! Writing providers: `reqflo plugin new` scaffolds a provider crate on the
//! SDK, `reqflo plugin inspect` says what a component is and could ask for,
//! and `reqflo plugin test` checks a provider against the contract.
//! Writing journeys from elsewhere: `reqflo import` ([`import`]).
//!
//! None needs a project.

mod contract;
pub mod import;
mod inspect;
mod scaffold;

pub use contract::contract_command;
pub use inspect::{Import, Inspection, inspect, inspect_command, render};
pub use scaffold::{SDK_VERSION, Scaffold, new_command, scaffold};
