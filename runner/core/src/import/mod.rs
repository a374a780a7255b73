//! Importers: other tools' requests made into reqflo templates and
//! journeys, with every credential they held turned into a secret reference
//! by name (the values are never written), and what could not be carried
//! over said, not dropped.

pub mod curl;
mod fills;
pub mod hurl;

/// An import's files and what the user has to do next.
#[derive(Debug)]
pub struct Imported {
    /// `templates/NAME.yaml`.
    pub template: String,
    /// `journeys/NAME.yaml`.
    pub journey: String,
    /// Secrets the journey names, to register.
    pub secrets: Vec<SecretToRegister>,
    /// What the source said that reqflo did not carry over, and why.
    pub unsupported: Vec<String>,
}

/// A secret an import made of a credential it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretToRegister {
    /// Its name in the journey.
    pub name: String,
    /// Where the value was (never the value).
    pub from: String,
}
