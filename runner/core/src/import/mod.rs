//! Importers: other tools' requests made into reqflo templates and
//! journeys, with every credential they held turned into a secret reference
//! by name (the values are never written), and what could not be carried
//! over said, not dropped.

pub mod curl;
mod fills;
pub mod hurl;
pub mod openapi;
pub mod postman;

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

/// What a file import makes: templates (by name) and one journey.
#[derive(Debug)]
pub struct ImportedFiles {
    /// Template name → its YAML.
    pub templates: Vec<(String, String)>,
    /// The journey's YAML.
    pub journey: String,
    /// Secrets to register.
    pub secrets: Vec<SecretToRegister>,
    /// What was not carried over, with its line.
    pub unsupported: Vec<String>,
}

impl ImportedFiles {
    /// The journey of `steps` (with `inputs`, if any), and the rest as is.
    fn assemble(
        description: String,
        inputs: serde_yaml::Mapping,
        steps: Vec<serde_yaml::Value>,
        templates: Vec<(String, String)>,
        secrets: Vec<SecretToRegister>,
        unsupported: Vec<String>,
    ) -> Result<ImportedFiles, String> {
        let mut journey = serde_yaml::Mapping::new();
        journey.insert("description".into(), description.into());
        if !inputs.is_empty() {
            journey.insert("inputs".into(), inputs.into());
        }
        journey.insert("steps".into(), serde_yaml::Value::Sequence(steps));
        let journey = serde_yaml::to_string(&serde_yaml::Value::Mapping(journey))
            .map_err(|e| e.to_string())?;
        Ok(ImportedFiles {
            templates,
            journey,
            secrets,
            unsupported,
        })
    }

    /// The single-template shape of [`Imported`] is for one request; this
    /// keeps them all.
    pub fn into_parts(self) -> (Vec<(String, String)>, Imported) {
        (
            self.templates,
            Imported {
                template: String::new(),
                journey: self.journey,
                secrets: self.secrets,
                unsupported: self.unsupported,
            },
        )
    }
}
