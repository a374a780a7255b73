//! reqflo's engine: running planned journeys. Secrets are resolved through
//! the sandbox, each step is built, hooked, checked against where its
//! secrets may go, sent, retried and judged, and the run's report comes
//! back. What happens on the way goes to an [`Observer`] as [`Event`]s, all
//! redacted; a [`Stop`] token ends a run early. Run futures are `Send`, so a
//! server can run many at once on a multi-threaded runtime.

#![warn(missing_docs)]

mod context;
pub mod dump;
pub mod http;
mod journey;
mod judge;
pub mod observer;
mod record;
mod redirect;
pub mod run;
mod step;
pub mod stop;
mod tls;

pub use observer::{Event, Observer, Quiet};
pub use run::{RunSettings, parse_size, run_plans};
pub use stop::{Stop, stopped};
