//! The JUnit XML report: a test suite per journey, a test case per step,
//! in the Jenkins format that GitLab, Jenkins and GitHub reporters read.

use std::io::Write;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::model::{Outcome, RunReport, StepReport};

/// Write `report` as JUnit XML.
pub fn write(report: &RunReport, out: &mut dyn Write) -> std::io::Result<()> {
    let mut junit = Report::new("reqflo");
    junit.set_time(seconds(report.duration_ms));
    if let Some(error) = &report.error {
        // A run that stopped before any journey (e.g. a secret did not resolve)
        // is one errored case, so CI shows why.
        let mut suite = TestSuite::new("reqflo");
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(error.as_str());
        suite.add_test_case(TestCase::new("run", status));
        junit.add_test_suite(suite);
    }
    for journey in &report.journeys {
        let mut suite = TestSuite::new(format!("{} ({})", journey.name, journey.environment));
        suite.set_time(seconds(journey.duration_ms));
        for step in &journey.steps {
            let mut case = TestCase::new(step.id.as_str(), status(step));
            case.set_classname(journey.name.as_str());
            case.set_time(seconds(step.duration_ms));
            if let Some(request) = &step.request {
                let mut detail = format!(
                    "{} {}",
                    request.method.as_deref().unwrap_or(""),
                    request.url.as_deref().unwrap_or("")
                );
                if let Some(status) = step.response.as_ref().and_then(|r| r.status) {
                    detail.push_str(&format!(" -> {status}"));
                }
                case.set_system_out(detail);
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.serialize(out).map_err(std::io::Error::other)
}

fn status(step: &StepReport) -> TestCaseStatus {
    let problems: Vec<&str> = step.problems().collect();
    let kind = match step.outcome {
        Outcome::Passed => return TestCaseStatus::success(),
        Outcome::Skipped => return TestCaseStatus::skipped(),
        Outcome::Failed => NonSuccessKind::Failure,
        // An interrupted step is an error to CI: it did not finish.
        Outcome::Error | Outcome::Interrupted => NonSuccessKind::Error,
    };
    let mut status = TestCaseStatus::non_success(kind);
    if let Some(first) = problems.first() {
        status.set_message(*first);
    }
    status.set_type(match kind {
        NonSuccessKind::Failure => "expectation",
        NonSuccessKind::Error if step.outcome == Outcome::Interrupted => "interrupted",
        NonSuccessKind::Error => "runtime",
    });
    status.set_description(problems.join("\n"));
    status
}

fn seconds(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}
