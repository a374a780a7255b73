//! Environment variables, as a provider sees them: only those listed in its
//! `grants.env` exist inside the sandbox, so "not set" usually means "not
//! granted", and the messages say so.
//!
//! Lookups take the variable reader as a function (`env::var` in the
//! component, [`fake`] in unit tests), so every message is tested natively.

use std::env::VarError;

use crate::Error;

/// Reads one variable: [`var`] in the component, [`fake`] in tests.
pub trait Read: Fn(&str) -> Result<String, VarError> {}

impl<F: Fn(&str) -> Result<String, VarError>> Read for F {}

/// The process environment, which in a component is what the host granted.
pub fn var(name: &str) -> Result<String, VarError> {
    std::env::var(name)
}

/// An environment of just these variables, for unit tests.
pub fn fake<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Read + 'a {
    move |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
            .ok_or(VarError::NotPresent)
    }
}

/// The trimmed value of `name`, or `None` when it is not set; a value that
/// is not UTF-8 is an error naming the variable (and nothing of the value).
pub fn optional(read: &impl Read, name: &str) -> Result<Option<String>, Error> {
    match read(name) {
        Ok(value) => Ok(Some(value.trim().to_string())),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(not_utf8(name)),
    }
}

/// The trimmed value of `name`, which must be set and not blank.
///
/// `provider` names the provider as users know it ("Vault"); `advice`
/// follows "…list it under the provider's grants.env" in the message for a
/// missing variable, e.g. `" (or point config.token_env at another
/// variable)"`, or is empty.
pub fn required(
    read: &impl Read,
    provider: &str,
    name: &str,
    advice: &str,
) -> Result<String, Error> {
    match optional(read, name)? {
        Some(value) if value.is_empty() => Err(Error::Unavailable(format!(
            "{name} is empty in the {provider} provider's environment"
        ))),
        Some(value) => Ok(value),
        None => Err(Error::Unavailable(format!(
            "{name} is not visible to the {provider} provider: set it and list it under the \
             provider's grants.env{advice}"
        ))),
    }
}

/// The error for a variable whose value is not UTF-8 text.
pub fn not_utf8(name: &str) -> Error {
    Error::Unavailable(format!("{name} does not hold UTF-8 text"))
}

/// `config.{key}`'s value as the name of a variable to read: anything the
/// environment can hold (not empty, no `=` or NUL), else an error naming
/// the key.
pub fn variable_name(key: &str, value: &str) -> Result<String, Error> {
    if value.is_empty() || value.contains(['=', '\0']) {
        return Err(Error::InvalidReference(format!(
            "config.{key} {value:?} is not an environment variable name"
        )));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_read_trimmed_and_named_when_missing() {
        let env = fake(&[("TOKEN", " t \n"), ("BLANK", " ")]);
        assert_eq!(optional(&env, "TOKEN"), Ok(Some("t".into())));
        assert_eq!(optional(&env, "NONE"), Ok(None));
        assert_eq!(required(&env, "Vault", "TOKEN", ""), Ok("t".into()));
        let blank = required(&env, "Vault", "BLANK", "").err();
        assert_eq!(
            blank.as_ref().map(Error::message),
            Some("BLANK is empty in the Vault provider's environment")
        );
        let missing = required(&env, "Vault", "NONE", " (or set config.x)").err();
        assert_eq!(
            missing.as_ref().map(|e| (e.kind(), e.message())),
            Some((
                "unavailable",
                "NONE is not visible to the Vault provider: set it and list it under the \
                 provider's grants.env (or set config.x)"
            ))
        );
        assert_eq!(not_utf8("X").message(), "X does not hold UTF-8 text");
    }

    #[test]
    fn variable_names() {
        assert_eq!(
            variable_name("token_env", "MY_TOKEN"),
            Ok("MY_TOKEN".into())
        );
        for bad in ["", "A=B", "A\0"] {
            let error = variable_name("token_env", bad).err();
            assert_eq!(
                error.as_ref().map(Error::message),
                Some(
                    format!("config.token_env {bad:?} is not an environment variable name")
                        .as_str()
                )
            );
        }
    }
}
