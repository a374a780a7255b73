//! Checks that several parsers make of the parts of a reference, each
//! parser wording the refusal its own way.

use crate::Error;

/// Why a secret's name cannot be used: it is empty, longer than `max`
/// bytes, or has a character that `allowed` refuses (worded by `bad`).
/// Names go into URLs and messages as they are, so anything else is
/// refused before a request is made. The error completes "the … ".
// Plain `fn`s rather than closures: one copy then serves every name a
// provider checks, which keeps the components small.
pub(crate) fn name(
    name: &str,
    max: usize,
    allowed: fn(char) -> bool,
    bad: fn(char) -> String,
) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > max {
        return Err(format!("is longer than {max} characters"));
    }
    match name.chars().find(|&c| !allowed(c)) {
        None => Ok(()),
        Some(c) => Err(bad(c)),
    }
}

/// The key after `#`, when there is one: it must name something and hold
/// nothing invisible, since it is looked up in the secret and quoted in
/// messages. `empty` and `control` word the refusals.
pub(crate) fn key(
    key: Option<&str>,
    empty: impl FnOnce() -> String,
    control: impl FnOnce(char) -> String,
) -> Result<Option<&str>, Error> {
    match key {
        None => Ok(None),
        Some("") => Err(Error::InvalidReference(empty())),
        Some(key) => match key.chars().find(|c| c.is_control()) {
            Some(c) => Err(Error::InvalidReference(control(c))),
            None => Ok(Some(key)),
        },
    }
}
