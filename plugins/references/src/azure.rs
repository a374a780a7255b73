//! Key Vault references: `NAME`, `NAME/VERSION`, either with `#key` to pick
//! one key of a secret that holds a JSON object.
//!
//! Names follow Key Vault's own rule (1–127 letters, digits and `-`), so they
//! go into a URL as they are. Key Vault compares names case-insensitively.

use std::fmt;

use crate::{Error, check};

/// The longest secret name Key Vault accepts.
const MAX_NAME: usize = 127;
/// Key Vault's versions are 32 hex digits; a little slack costs nothing.
const MAX_VERSION: usize = 64;

/// A parsed reference, spelled as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The secret's name.
    pub name: String,
    /// A pinned version, or `None` for the latest.
    pub version: Option<String>,
    /// The key to pick from a JSON object value.
    pub key: Option<String>,
}

impl Reference {
    /// What identifies one fetched value: the name and version, in Key Vault's
    /// case-insensitive terms.
    pub fn cache_key(&self) -> (String, Option<String>) {
        (
            self.name.to_ascii_lowercase(),
            self.version.as_ref().map(|v| v.to_ascii_lowercase()),
        )
    }
}

/// The secret (and version) a reference names, for messages:
/// ``secret `db` (latest version)``, ``secret `db` version 0f3c…``.
pub struct Subject<'a>(pub &'a Reference);

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.version {
            Some(version) => write!(f, "secret `{}` version {version}", self.0.name),
            None => write!(f, "secret `{}` (latest version)", self.0.name),
        }
    }
}

/// Parse a reference; every refusal is `InvalidReference`.
pub fn parse(reference: &str) -> Result<Reference, Error> {
    if reference.contains("://") {
        return Err(Error::InvalidReference(format!(
            "{reference:?} is a URL; a Key Vault reference is the secret's name, \
             NAME[/VERSION][#key], and the vault is config.vault_url"
        )));
    }
    let (path, key) = match reference.split_once('#') {
        Some((path, key)) => (path, Some(key)),
        None => (reference, None),
    };
    let (name, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        [name] => (*name, None),
        [name, version] => (*name, Some(*version)),
        segments => {
            return Err(Error::InvalidReference(format!(
                "{reference:?} has {} path segments; a Key Vault reference is \
                 NAME[/VERSION][#key]",
                segments.len()
            )));
        }
    };
    check_name(name)?;
    if let Some(version) = version {
        check_version(name, version)?;
    }
    let key = check::key(
        key,
        || {
            format!(
                "{reference:?} ends in an empty `#`; name the JSON key after it, or leave it out"
            )
        },
        |_| "the JSON key after `#` has control characters".into(),
    )?;
    Ok(Reference {
        name: name.to_string(),
        version: version.map(str::to_string),
        key: key.map(str::to_string),
    })
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::InvalidReference(
            "the secret name is empty; a Key Vault reference is NAME[/VERSION][#key]".into(),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
    {
        return Err(Error::InvalidReference(format!(
            "the secret name {name:?} has the character {c:?}; Key Vault names have only \
             letters, digits and `-`"
        )));
    }
    if name.len() > MAX_NAME {
        return Err(Error::InvalidReference(format!(
            "the secret name is {} characters long; Key Vault names have at most {MAX_NAME}",
            name.len()
        )));
    }
    Ok(())
}

fn check_version(name: &str, version: &str) -> Result<(), Error> {
    let valid = !version.is_empty()
        && version.len() <= MAX_VERSION
        && version.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid {
        return Err(Error::InvalidReference(format!(
            "the version {version:?} of secret `{name}` is not a Key Vault version \
             (32 hex digits, as in the secret's identifier); leave it out for the latest"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{accepted, refusals, refused};

    #[test]
    fn names_versions_and_keys() {
        assert_eq!(
            accepted(parse("stripe-key")),
            Reference {
                name: "stripe-key".into(),
                version: None,
                key: None
            }
        );
        let pinned = accepted(parse(
            "Stripe-Key/0f3c9d7e2b1a4c5d8e9f0a1b2c3d4e5f#pass word",
        ));
        assert_eq!(pinned.name, "Stripe-Key");
        assert_eq!(
            pinned.version.as_deref(),
            Some("0f3c9d7e2b1a4c5d8e9f0a1b2c3d4e5f")
        );
        assert_eq!(pinned.key.as_deref(), Some("pass word"));
        assert_eq!(
            pinned.cache_key(),
            (
                "stripe-key".into(),
                Some("0f3c9d7e2b1a4c5d8e9f0a1b2c3d4e5f".into())
            )
        );
        // Only the first `#` splits: a key may hold one.
        assert_eq!(accepted(parse("db#a#b")).key.as_deref(), Some("a#b"));
        assert!(parse(&"a".repeat(127)).is_ok());
    }

    #[test]
    fn subjects_for_messages() {
        assert_eq!(
            Subject(&accepted(parse("db"))).to_string(),
            "secret `db` (latest version)"
        );
        assert_eq!(
            Subject(&accepted(parse("db/abc"))).to_string(),
            "secret `db` version abc"
        );
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert_eq!(
            refused(parse("stripe_key")),
            "the secret name \"stripe_key\" has the character '_'; Key Vault names have only \
             letters, digits and `-`"
        );
        refusals(
            parse,
            &[
                ("", "empty"),
                ("/v1", "empty"),
                ("a".repeat(128).as_str(), "at most 127"),
                ("a/b/c", "3 path segments"),
                ("a/", "not a Key Vault version"),
                ("a/x-y", "not a Key Vault version"),
                (
                    format!("a/{}", "f".repeat(65)).as_str(),
                    "not a Key Vault version",
                ),
                ("a#", "empty `#`"),
                ("a#k\u{1b}", "control"),
                ("https://v.vault.azure.net/secrets/a", "config.vault_url"),
            ],
        );
    }
}
