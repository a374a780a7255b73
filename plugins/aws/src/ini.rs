//! The INI dialect of AWS's shared config and credentials files, parsed by
//! the rules of AWS's own SDKs (aws-config's profile parser; botocore reads
//! the same files with Python's configparser):
//!
//! - `#` and `;` start a comment line; after a section header, or after
//!   whitespace in a property's value, they start a comment to the line's end;
//! - `[name]` opens a section; in the config file a profile is
//!   `[profile name]` (or `[default]`), and other sections (`[sso-session x]`,
//!   `[services x]`) are not profiles; in the credentials file every section
//!   is a profile named as written;
//! - `key = value`, the key case-insensitive (configparser lowercases it);
//!   an indented line continues the property above it (AWS's sub-properties).
//!
//! Hand-written rather than a general INI crate: those differ from AWS on
//! exactly these points (section naming, comments inside values,
//! continuation lines), and their errors quote the offending line, which
//! here may hold a secret key. Errors name the file and line only.

use std::collections::BTreeMap;

use crate::Error;

/// Which of the two files: they name their profiles differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `~/.aws/credentials`: `[name]`.
    Credentials,
    /// `~/.aws/config`: `[profile name]` or `[default]`.
    Config,
}

/// A profile's properties: lowercased key → value. No `Debug`: the values
/// include secret keys.
pub type Properties = BTreeMap<String, String>;

/// One file, parsed.
#[derive(Default)]
pub struct Parsed {
    /// Each profile's properties (a profile written twice is merged, the
    /// later value of a key winning).
    pub profiles: BTreeMap<String, Properties>,
    /// The config file's sections that are not profiles, as written
    /// (`ci` for a `[ci]` that was meant as `[profile ci]`).
    pub other_sections: Vec<String>,
}

/// Parse `text`, the file at `path`. A malformed line is an error naming
/// the file and the line's number, never its text.
pub fn parse(text: &str, path: &str, kind: Kind) -> Result<Parsed, Error> {
    let mut parsed = Parsed::default();
    // The current section: `None` before the first, `Some(None)` in one that
    // is not a profile (its properties are checked, then dropped).
    let mut section: Option<Option<String>> = None;
    let mut last_key: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let bad = |why: &str| {
            Error::Unavailable(format!(
                "the AWS shared file {path} is malformed at line {}: {why}",
                index + 1
            ))
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if trimmed.starts_with('[') {
            let header = without_comment(trimmed, false);
            let Some(inner) = header
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .map(str::trim)
                .filter(|inner| !inner.is_empty())
            else {
                return Err(bad("a section header is `[name]`"));
            };
            let profile = profile_name(inner, kind);
            match &profile {
                Some(name) => {
                    parsed.profiles.entry(name.clone()).or_default();
                }
                None => parsed.other_sections.push(inner.to_string()),
            }
            section = Some(profile);
            last_key = None;
            continue;
        }
        let Some(current) = &section else {
            return Err(bad("a property comes before any `[section]`"));
        };
        let properties = current
            .as_ref()
            .and_then(|name| parsed.profiles.get_mut(name));
        if line.starts_with([' ', '\t']) {
            let Some(key) = &last_key else {
                return Err(bad("an indented line continues no property"));
            };
            if let Some(value) = properties.and_then(|p| p.get_mut(key)) {
                value.push('\n');
                value.push_str(without_comment(trimmed, true));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad("expected `key = value`, a `[section]` or a comment"));
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(bad("a property needs a name (one word) before its `=`"));
        }
        if let Some(properties) = properties {
            properties.insert(key.clone(), without_comment(value.trim(), true).to_string());
        }
        last_key = Some(key);
    }
    Ok(parsed)
}

/// The profile a section header's inside names, if it names one.
fn profile_name(inner: &str, kind: Kind) -> Option<String> {
    match kind {
        Kind::Credentials => Some(inner.to_string()),
        Kind::Config if inner == "default" => Some(inner.to_string()),
        Kind::Config => inner
            .strip_prefix("profile")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string),
    }
}

/// `text` up to a `#` or `;` comment; in a value (`after_space`) only one
/// that follows whitespace is a comment, as a key may hold either sign.
fn without_comment(text: &str, after_space: bool) -> &str {
    let mut previous = None;
    for (at, c) in text.char_indices() {
        let starts =
            matches!(c, '#' | ';') && (!after_space || previous.is_some_and(char::is_whitespace));
        if starts {
            return text[..at].trim_end();
        }
        previous = Some(c);
    }
    text
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::testing::refused;

    use super::*;

    fn parsed(text: &str, kind: Kind) -> Parsed {
        match parse(text, "/home/me/.aws/config", kind) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{}", e.message()),
        }
    }

    fn value<'a>(parsed: &'a Parsed, profile: &str, key: &str) -> Option<&'a str> {
        parsed
            .profiles
            .get(profile)
            .and_then(|p| p.get(key))
            .map(String::as_str)
    }

    #[test]
    fn profiles_comments_and_continuations_read_as_the_sdks_read_them() {
        let text = "# a comment\n; another\n\n[default] # inline\nregion = eu-west-2 ; said\n\
            [profile ci]\r\nAWS_Access_Key_ID=AKIDCI\nrole_arn   =   arn:x#y  \n\
            s3 =\n  max_concurrent_requests = 20\n[sso-session corp]\nsso_region = x\n\
            [ci]\nregion = us-east-1\n[profile   spaced name  ]\nk = v\n";
        let config = parsed(text, Kind::Config);
        assert_eq!(value(&config, "default", "region"), Some("eu-west-2"));
        assert_eq!(value(&config, "ci", "aws_access_key_id"), Some("AKIDCI"));
        assert_eq!(value(&config, "ci", "role_arn"), Some("arn:x#y"));
        assert_eq!(
            value(&config, "ci", "s3"),
            Some("\nmax_concurrent_requests = 20")
        );
        // `[ci]` and `[sso-session corp]` are no profiles in the config file.
        assert_eq!(value(&config, "ci", "region"), None);
        assert_eq!(config.other_sections, ["sso-session corp", "ci"]);
        assert_eq!(value(&config, "spaced name", "k"), Some("v"));
        // In the credentials file, a section is a profile as written.
        let credentials = parsed("[ci]\naws_secret_access_key = a/b+c\n", Kind::Credentials);
        assert_eq!(
            value(&credentials, "ci", "aws_secret_access_key"),
            Some("a/b+c")
        );
        assert!(
            parsed("[profile x]\n", Kind::Credentials)
                .profiles
                .contains_key("profile x")
        );
        // A profile written twice is merged.
        let twice = parsed("[a]\nk = 1\nj = 2\n[a]\nk = 3\n", Kind::Credentials);
        assert_eq!(
            (value(&twice, "a", "k"), value(&twice, "a", "j")),
            (Some("3"), Some("2"))
        );
    }

    #[test]
    fn a_malformed_line_is_named_by_file_and_number_never_quoted() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let cases = [
            (
                format!("[default]\n{secret}\n"),
                2,
                "expected `key = value`",
            ),
            (
                format!("aws_secret_access_key = {secret}\n"),
                1,
                "before any `[section]`",
            ),
            (
                format!("[default\nk = {secret}\n"),
                1,
                "a section header is `[name]`",
            ),
            ("[]\n".to_string(), 1, "a section header is `[name]`"),
            (
                format!("[default]\n  {secret}\n"),
                2,
                "continues no property",
            ),
            (format!("[default]\nmy key = {secret}\n"), 2, "needs a name"),
        ];
        for (text, line, why) in cases {
            let message = refused(
                parse(&text, "/creds", Kind::Credentials).map(|_| ()),
                "unavailable",
            );
            assert!(
                message.starts_with(&format!(
                    "the AWS shared file /creds is malformed at line {line}: "
                )) && message.contains(why),
                "{message}"
            );
            assert!(!message.contains(secret), "{message}");
        }
    }
}
