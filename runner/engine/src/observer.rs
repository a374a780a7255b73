//! What a run tells whoever watches it: the CLI's console, a server's event
//! stream, a test. Every event is redacted before it is sent: none holds a
//! secret value, so an observer may store, print or forward it as it is.

use reqflo_core::plan::Plan;
use reqflo_core::report::{JourneyReport, RunReport, StepReport};

/// One thing that happened in a run. `journey` is the journey's place in
/// the run's order (0-based), so side-by-side journeys can be told apart.
#[derive(Debug)]
pub enum Event<'a> {
    /// A journey begins.
    JourneyStarted {
        /// Its place in the run.
        journey: usize,
        /// What it will do (names, templates, handles; no value).
        plan: &'a Plan,
    },
    /// A step begins.
    StepStarted {
        /// Its journey's place in the run.
        journey: usize,
        /// The step's id.
        id: &'a str,
    },
    /// The request as sent, redacted (only when [`Observer::dumps`]).
    Request {
        /// Its journey's place in the run.
        journey: usize,
        /// Method, URL, headers and body, one block of text.
        dump: &'a str,
    },
    /// The response as received, redacted (only when [`Observer::dumps`]).
    Response {
        /// Its journey's place in the run.
        journey: usize,
        /// Status, headers and body, one block of text.
        dump: &'a str,
    },
    /// A step ended (passed, failed, errored or was interrupted).
    StepFinished {
        /// Its journey's place in the run.
        journey: usize,
        /// What the report records of it.
        step: &'a StepReport,
    },
    /// A step was not run because an earlier one did not pass.
    StepSkipped {
        /// Its journey's place in the run.
        journey: usize,
        /// The step's id.
        id: &'a str,
    },
    /// A journey ended; `ran` is false for one a stop kept from starting.
    JourneyFinished {
        /// Its place in the run.
        journey: usize,
        /// Its report.
        report: &'a JourneyReport,
        /// Whether it started at all.
        ran: bool,
    },
    /// The run ended; its report is complete.
    RunFinished {
        /// The whole run's report.
        report: &'a RunReport,
    },
}

/// Receives a run's events, from whichever task runs the journey: it must be
/// shareable across threads, and quick (a slow observer slows the run).
pub trait Observer: Send + Sync {
    /// Whether [`Event::Request`] and [`Event::Response`] are wanted; building
    /// a dump of every request costs, so it is done only when asked.
    fn dumps(&self) -> bool {
        false
    }

    /// One event.
    fn event(&self, event: Event<'_>);
}

/// Watches nothing: for runs whose report is all that matters.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {
    fn event(&self, _: Event<'_>) {}
}
