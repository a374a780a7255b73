//! Run inputs: `--input k=v`, else a prompt on a terminal, else the default.

use std::io::{BufRead, IsTerminal, Write};

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::project::model::InputDef;

/// How missing inputs are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Ask on the terminal when stdin is one.
    Prompt,
    /// Never ask; use the default or fail.
    NoPrompt,
    /// `reqflo check`: nothing runs, so a missing input is not an error.
    Check,
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
    if mode == InputMode::Prompt && std::io::stdin().is_terminal() {
        let description = declared.and_then(|d| d.description.as_deref());
        if let Some(answer) = prompt(name, description, default.as_ref())? {
            return typed(name, &answer, default.as_ref()).map(Some);
        }
    }
    match (default, mode) {
        (Some(value), _) => Ok(Some(value)),
        (None, InputMode::Check) => Ok(None),
        (None, _) => Err(Error::Usage(format!(
            "input `{name}` has no value; pass --input {name}=VALUE"
        ))),
    }
}

/// An input keeps the type of its declared default: `--input amount=10` is the
/// number 10 when the default is a number, and text otherwise.
fn typed(name: &str, raw: &str, default: Option<&Value>) -> Result<Value> {
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

/// Ask on the terminal; an empty answer means "use the default".
fn prompt(
    name: &str,
    description: Option<&str>,
    default: Option<&Value>,
) -> Result<Option<String>> {
    let mut stderr = std::io::stderr();
    let about = description.map(|d| format!(" ({d})")).unwrap_or_default();
    let shown = default.map(|d| format!(" [{d}]")).unwrap_or_default();
    let question = format!("{name}{about}{shown}: ");
    let _ = write!(stderr, "{}", crate::console::printable(&question));
    let _ = stderr.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Usage(format!("cannot read input `{name}`: {e}")))?;
    let answer = line.trim_end_matches(['\r', '\n']);
    Ok((!answer.is_empty()).then(|| answer.to_string()))
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
    fn missing_input_without_default_is_a_usage_error() {
        let given = IndexMap::new();
        let err = input_value("amount", None, &given, InputMode::NoPrompt);
        assert!(matches!(err, Err(Error::Usage(m)) if m.contains("--input amount=")));
        assert!(matches!(
            input_value("amount", None, &given, InputMode::Check),
            Ok(None)
        ));
    }
}
