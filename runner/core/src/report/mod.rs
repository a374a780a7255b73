//! Reports: the run as data, written as JSON, JUnit XML and HTML.
//!
//! Every string in a report was redacted when it was recorded, the files are
//! written through a [`crate::redact::RedactingWriter`], and every file is
//! scanned for known values after it is written (a hit deletes it: exit 3).

mod files;
mod html;
mod json;
mod junit;
mod model;

pub use files::{Format, ReportTargets, render, scan_file, write_reports};
pub use model::{
    CaptureReport, JourneyReport, MessageReport, Outcome, RunReport, SCHEMA_VERSION, StepReport,
};
