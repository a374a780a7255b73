//! Errors grouped by kind, each kind owning one exit code.
//!
//! Messages are lowercase fragments that read well after "failed to …" and never
//! carry a secret value; everything printed still passes the redactor.

use std::fmt;

/// Documented exit codes (README and `--help`).
pub mod exit {
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
}

/// Any failure reqflo reports; the variant decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// `reqflo.yaml` is missing or wrong.
    #[error("{0}")]
    Config(Diagnostic),
    /// A journey or template is wrong.
    #[error("{0}")]
    Definition(Diagnostic),
    /// The registry forbids what the journey asks for.
    #[error("{0}")]
    Policy(Diagnostic),
    /// A secret could not be resolved.
    #[error("{0}")]
    Secret(String),
    /// A plugin could not be loaded, or misbehaved.
    #[error("{0}")]
    Plugin(String),
    /// Sending a request or reading its response failed.
    #[error("{0}")]
    Runtime(String),
    /// The user stopped the run (Ctrl-C, SIGTERM).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config(_) => exit::USAGE,
            Error::Definition(_) => exit::DEFINITION,
            Error::Policy(_) | Error::Secret(_) | Error::Plugin(_) | Error::Runtime(_) => {
                exit::RUNTIME
            }
            Error::Interrupted(_) => exit::INTERRUPTED,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place in a file a user wrote: 1-based line and column, plus the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spot {
    /// The file, relative to the project root where possible.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The text of that line, for the snippet.
    pub line_text: String,
}

/// An error about something a user wrote, printed like rustc does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, as a lowercase fragment.
    pub message: String,
    /// Where, when known.
    pub spot: Option<Spot>,
    /// One line on how to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with no position yet.
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            spot: None,
            hint: None,
        }
    }

    /// Attach the place it is about.
    pub fn at(mut self, spot: Option<Spot>) -> Self {
        self.spot = spot;
        self
    }

    /// Attach a one-line fix hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(spot) = &self.spot {
            let number = spot.line.to_string();
            let pad = " ".repeat(number.len());
            write!(f, "\n{pad}--> {}:{}:{}", spot.file, spot.line, spot.column)?;
            write!(f, "\n{pad} |")?;
            write!(f, "\n{number} | {}", spot.line_text.trim_end())?;
            // Count characters, not bytes, so the caret lands under the right spot.
            let before: String = spot
                .line_text
                .chars()
                .take(spot.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} | {before}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}
