//! Run inputs: given (`--input k=v`, a server's request), else asked for
//! (the CLI prompts on a terminal), else the default.

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::project::model::InputDef;

/// Asks a person for an input's value: the CLI on a terminal. A server
/// has no one to ask and passes every input in.
pub trait Ask: Send + Sync {
    /// The answer for input `name`; `None` (an empty answer, or no one to
    /// ask) means "use the default".
    fn ask(
        &self,
        name: &str,
        description: Option<&str>,
        default: Option<&Value>,
    ) -> Result<Option<String>>;
}

/// How missing inputs are handled.
#[derive(Clone, Copy)]
pub enum InputMode {
    /// Ask through this.
    Prompt(&'static dyn Ask),
    /// Never ask; use the default or fail.
    NoPrompt,
    /// `reqflo check`: nothing runs, so a missing input is not an error.
    Check,
}

impl std::fmt::Debug for InputMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputMode::Prompt(_) => "Prompt",
            InputMode::NoPrompt => "NoPrompt",
            InputMode::Check => "Check",
        })
    }
}

/// Find the value of input `name`. Returns `None` only in [`InputMode::Check`].
pub fn input_value(
    name: &str,
    declared: Option<&InputDef>,
    given: &IndexMap<String, String>,
    mode: InputMode,
) -> Result<Option<Value>> {
    let default = declared.and_then(|d| d.default.clone());
    if let Some(raw) = given.get(name) {
        return typed(name, raw, default.as_ref()).map(Some);
    }
    if let InputMode::Prompt(asker) = mode {
        let description = declared.and_then(|d| d.description.as_deref());
        if let Some(answer) = asker.ask(name, description, default.as_ref())? {
            return typed(name, &answer, default.as_ref()).map(Some);
        }
    }
    match (default, mode) {
        (Some(value), _) => Ok(Some(value)),
        (None, InputMode::Check) => Ok(None),
        (None, _) => Err(Error::MissingInput(name.to_string())),
    }
}

/// An input keeps the type of its declared default: `--input amount=10` is the
/// number 10 when the default is a number, and text otherwise.
pub(super) fn typed(name: &str, raw: &str, default: Option<&Value>) -> Result<Value> {
    match default {
        Some(Value::Number(_)) => raw
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .map_err(|_| Error::Usage(format!("input `{name}` must be a number, got `{raw}`"))),
        Some(Value::Bool(_)) => raw.parse::<bool>().map(Value::Bool).map_err(|_| {
            Error::Usage(format!("input `{name}` must be true or false, got `{raw}`"))
        }),
        _ => Ok(Value::String(raw.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_take_the_defaults_type() {
        assert_eq!(
            typed("a", "10", Some(&Value::from(1))).ok(),
            Some(Value::from(10))
        );
        assert!(typed("a", "ten", Some(&Value::from(1))).is_err());
        assert_eq!(typed("a", "10", None).ok(), Some(Value::from("10")));
    }

    #[test]
    fn missing_input_without_default_is_an_error_naming_it() {
        let given = IndexMap::new();
        let err = input_value("amount", None, &given, InputMode::NoPrompt);
        assert!(matches!(err, Err(Error::MissingInput(name)) if name == "amount"));
        assert!(matches!(
            input_value("amount", None, &given, InputMode::Check),
            Ok(None)
        ));
    }
}
