//! What a step's line and a journey's closing line show, whether they come
//! from a local run's reports or from a server's events.

use reqflo_core::duration::human;
use reqflo_core::report::{JourneyReport, Outcome, StepReport};

use super::millis;

/// What a step's line shows: from a [`StepReport`] here, or from a server's
/// event for `run --remote`.
pub(super) struct StepLine<'a> {
    pub(super) id: &'a str,
    pub(super) outcome: Outcome,
    /// Method and URL, when a request was built.
    pub(super) request: Option<(&'a str, &'a str)>,
    pub(super) status: Option<u16>,
    pub(super) duration_ms: f64,
    pub(super) problems: Vec<&'a str>,
}

impl<'a> From<&'a StepReport> for StepLine<'a> {
    fn from(step: &'a StepReport) -> StepLine<'a> {
        StepLine {
            id: &step.id,
            outcome: step.outcome,
            request: step.request.as_ref().map(|r| {
                (
                    r.method.as_deref().unwrap_or(""),
                    r.url.as_deref().unwrap_or(""),
                )
            }),
            status: step.response.as_ref().and_then(|r| r.status),
            duration_ms: step.duration_ms,
            problems: step.problems().collect(),
        }
    }
}

/// What a journey's closing line shows.
pub(super) struct JourneyLine<'a> {
    pub(super) name: &'a str,
    pub(super) outcome: Outcome,
    pub(super) duration_ms: f64,
    pub(super) total: usize,
    pub(super) passed: usize,
    pub(super) failed: usize,
    pub(super) stopped: usize,
    pub(super) skipped: usize,
}

impl<'a> From<&'a JourneyReport> for JourneyLine<'a> {
    fn from(journey: &'a JourneyReport) -> JourneyLine<'a> {
        let count = |o: Outcome| journey.steps.iter().filter(|s| s.outcome == o).count();
        JourneyLine {
            name: &journey.name,
            outcome: journey.outcome,
            duration_ms: journey.duration_ms,
            total: journey.steps.len(),
            passed: count(Outcome::Passed),
            failed: count(Outcome::Failed) + count(Outcome::Error),
            stopped: count(Outcome::Interrupted),
            skipped: count(Outcome::Skipped),
        }
    }
}

/// A journey's closing line (printed even with `--quiet`).
pub(super) fn summary(journey: &JourneyLine<'_>) -> String {
    let verdict = match journey.outcome {
        Outcome::Passed => "passed",
        Outcome::Interrupted => "interrupted",
        _ => "failed",
    };
    let stopped = if journey.stopped > 0 {
        format!(", {} interrupted", journey.stopped)
    } else {
        String::new()
    };
    format!(
        "{} {verdict}: {} of {} step{} ok, {} failed{stopped}, {} skipped ({})",
        journey.name,
        journey.passed,
        journey.total,
        if journey.total == 1 { "" } else { "s" },
        journey.failed,
        journey.skipped,
        human(millis(journey.duration_ms))
    )
}
