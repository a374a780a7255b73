//! Exit codes: a front end's reading of an error's kind and of a run's
//! outcome. The CLI exits with them; the server records them per run, so
//! `reqflo run --remote` exits as a local run would. They are documented
//! in the README, the book and `--help`.

use crate::error::Error;
use crate::report::{Outcome, RunReport};

/// Every step passed.
pub const OK: i32 = 0;
/// Bad command line or project configuration.
pub const USAGE: i32 = 1;
/// A journey or template definition is wrong.
pub const DEFINITION: i32 = 2;
/// Network, secret resolution, plugin fault or policy denial.
pub const RUNTIME: i32 = 3;
/// An expectation failed.
pub const EXPECTATION: i32 = 4;
/// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

/// The exit code for an error, by its kind.
pub fn for_error(error: &Error) -> i32 {
    match error {
        Error::Usage(_) | Error::Config(_) | Error::MissingInput(_) => USAGE,
        Error::Definition(_) => DEFINITION,
        Error::Policy(_) | Error::Secret(_) | Error::Plugin(_) | Error::Runtime(_) => RUNTIME,
        Error::Interrupted(_) => INTERRUPTED,
    }
}

/// The exit code a run's report stands for: 0 passed, 4 an expectation
/// failed, 3 an error, 130 stopped.
pub fn for_report(report: &RunReport) -> i32 {
    match report.outcome {
        Outcome::Passed | Outcome::Skipped => OK,
        Outcome::Failed => EXPECTATION,
        Outcome::Error => RUNTIME,
        Outcome::Interrupted => INTERRUPTED,
    }
}

/// An error as the command line says it: what the library said, and for
/// the errors a flag mends, which flag.
pub fn message(error: &Error) -> String {
    match error {
        Error::MissingInput(name) => format!("{error}; pass --input {name}=VALUE"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_input_names_the_flag_that_gives_it() {
        let error = Error::MissingInput("amount".into());
        assert_eq!(for_error(&error), USAGE);
        assert_eq!(
            message(&error),
            "input `amount` has no value; pass --input amount=VALUE"
        );
    }
}
