//! Errors grouped by kind. A front end decides what each kind means to its
//! users (the CLI maps kinds to exit codes, a server to HTTP statuses); no
//! front end needs to read a message to tell errors apart.
//!
//! Messages are lowercase fragments that read well after "failed to …" and never
//! carry a secret value; everything printed still passes the redactor.

use std::fmt;

/// Any failure reqflo reports; the variant is its kind.
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
    Secret(SecretError),
    /// A plugin could not be loaded, or misbehaved.
    #[error("{0}")]
    Plugin(PluginError),
    /// A run input has no value and no one was asked for one.
    #[error("input `{0}` has no value")]
    MissingInput(String),
    /// Sending a request or reading its response failed.
    #[error("{0}")]
    Runtime(String),
    /// The user stopped the run (Ctrl-C, SIGTERM).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// A plugin failure that is none of [`PluginError`]'s particular kinds.
    pub fn plugin(message: impl Into<String>) -> Error {
        Error::Plugin(PluginError::Failed(message.into()))
    }
}

/// Why a secret could not be resolved (a provider's own refusal or fault
/// is a [`PluginError`]).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No provider of the chain has it.
    #[error("secret `{name}` not found (tried {})", tried.join("; "))]
    NotFound {
        /// The secret's name.
        name: String,
        /// What each provider said, `provider: why`.
        tried: Vec<String>,
    },
    /// The value is too short to be redacted without masking ordinary text.
    #[error(
        "secret `{name}` from provider `{provider}` is shorter than {min} bytes; reqflo refuses values too short to redact safely"
    )]
    TooShort {
        /// The secret's name.
        name: String,
        /// The provider that answered.
        provider: String,
        /// The shortest value reqflo accepts.
        min: usize,
    },
    /// The chain names a provider the project does not define.
    #[error("no provider `{0}`")]
    NoProvider(String),
    /// A provider's secret file is missing or cannot be opened.
    #[error("provider `{provider}`: {why}")]
    SecretFile {
        /// The provider.
        provider: String,
        /// What is wrong with its file.
        why: String,
    },
}

/// Why a plugin could not be loaded or did not behave.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file's SHA-256 is not the one `reqflo.yaml` pins.
    #[error(
        "plugin {plugin} for {owner} does not match its sha256 pin (pinned {pinned}, file is {actual}); refusing to load it"
    )]
    PinMismatch {
        /// The plugin as written (`./plugins/x.wasm`).
        plugin: String,
        /// Who uses it: `provider `x``, `hook `y` (…)`.
        owner: String,
        /// The pinned digest, hex.
        pinned: String,
        /// The file's digest, hex.
        actual: String,
    },
    /// A built-in that this build of reqflo does not carry.
    #[error("{owner}: this reqflo was built without `builtin:{builtin}`")]
    NotBuilt {
        /// Who asked for it.
        owner: String,
        /// The built-in's name.
        builtin: String,
    },
    /// The plugin's file cannot be read.
    #[error("cannot read plugin {path} for {owner}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Who uses it.
        owner: String,
        /// Why not, as the OS says it.
        reason: String,
    },
    /// Anything else: it failed to compile, start, configure or answer.
    #[error("{0}")]
    Failed(String),
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
