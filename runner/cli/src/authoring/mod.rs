//! Writing providers: `reqflo plugin new` scaffolds a provider crate on the
//! SDK, and `reqflo plugin inspect` says what a component is and could ask for.
//! Writing journeys from elsewhere: `reqflo import` ([`import`]).
//!
//! None needs a project.

pub mod import;
mod inspect;
mod scaffold;

pub use inspect::{Import, Inspection, inspect, inspect_command, render};
pub use scaffold::{SDK_FILES, Scaffold, new_command, scaffold};
