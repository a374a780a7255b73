//! Vault references: `path/to/secret#key?version=N`.
//!
//! The path is relative to the provider's mount (as `vault kv get -mount=…`
//! takes it). The key picks one entry of the secret; without it the secret
//! must have exactly one. `?version=N` pins a KV v2 version. The URL order
//! `path?version=N#key` is accepted too, since people paste both.

use std::fmt;

use reqflo_plugin_sdk::reference::{Parts, options, split};

use crate::{Error, check};

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The secret's path below the mount.
    pub path: VaultPath,
    /// The key inside the secret, when the reference names one.
    pub key: Option<String>,
    /// The KV v2 version, when pinned.
    pub version: Option<u64>,
}

/// A path in Vault (a secret below its mount, or a mount): non-empty
/// segments, none of them `.` or `..`, so that the URL built from it reaches
/// exactly what it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VaultPath(Vec<String>);

impl VaultPath {
    /// Parse a `/`-separated path; the error completes "the path … ".
    pub fn parse(text: &str) -> Result<VaultPath, String> {
        if text.is_empty() {
            return Err("is empty".into());
        }
        let mut segments = Vec::new();
        for segment in text.split('/') {
            check_segment(segment)?;
            segments.push(segment.to_string());
        }
        Ok(VaultPath(segments))
    }

    /// The segments, for building URLs.
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for VaultPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// Why one segment cannot be part of a path.
fn check_segment(segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err("has an empty segment (a leading, trailing or doubled `/`)".into());
    }
    // A URL parser folds `.` and `..` (also when percent-encoded), which
    // would send the request to another endpoint than the secret's.
    if segment == "." || segment == ".." {
        return Err(format!("has a `{segment}` segment"));
    }
    if let Some(c) = segment.chars().find(|c| c.is_control()) {
        return Err(format!("has a control character {c:?}"));
    }
    Ok(())
}

/// Parse a reference; every refusal is `InvalidReference`.
pub fn parse(reference: &str) -> Result<Reference, Error> {
    let Parts {
        id: path,
        key,
        query,
    } = split(reference);
    let path = VaultPath::parse(path)
        .map_err(|why| Error::InvalidReference(format!("the path of {reference:?} {why}")))?;
    let key = check::key(
        key,
        || format!("{reference:?} has an empty key after `#`; name a key or leave out the `#`"),
        |c| format!("the key in {reference:?} has a control character {c:?}"),
    )?;
    let version = match query {
        None => None,
        Some(query) => parse_query(reference, query)?,
    };
    Ok(Reference {
        path,
        key: key.map(str::to_string),
        version,
    })
}

fn parse_query(reference: &str, query: &str) -> Result<Option<u64>, Error> {
    let mut version = None;
    for (name, value) in options(query) {
        if name != "version" {
            return Err(Error::InvalidReference(format!(
                "unknown option {name:?} in {reference:?} (the only one is `?version=N`)"
            )));
        }
        if version.is_some() {
            return Err(Error::InvalidReference(format!(
                "`version=` is given twice in {reference:?}"
            )));
        }
        version = Some(match value.parse::<u64>() {
            Ok(0) | Err(_) => {
                return Err(Error::InvalidReference(format!(
                    "`version={value}` in {reference:?} is not a version number: \
                     versions count from 1 (leave it out for the latest)"
                )));
            }
            Ok(n) => n,
        });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{accepted, refusals};

    /// Each reference and what it parses to: the path as text, the key and the version.
    fn parses_to(cases: &[(&str, &str, Option<&str>, Option<u64>)]) {
        for &(text, path, key, version) in cases {
            let r = accepted(parse(text));
            assert_eq!(
                (r.path.to_string().as_str(), r.key.as_deref(), r.version),
                (path, key, version),
                "{text:?}"
            );
        }
    }

    #[test]
    fn paths_keys_and_versions() {
        parses_to(&[
            ("payments/api", "payments/api", None, None),
            ("payments/api#key", "payments/api", Some("key"), None),
            ("a/b/c#key?version=3", "a/b/c", Some("key"), Some(3)),
            ("a?version=12#key", "a", Some("key"), Some(12)),
            ("a?version=2", "a", None, Some(2)),
            ("a#k?", "a", Some("k"), None),
        ]);
    }

    #[test]
    fn keys_and_segments_may_hold_odd_characters() {
        parses_to(&[
            (
                "team a/db é#api key#2",
                "team a/db é",
                Some("api key#2"),
                None,
            ),
            ("a%20b#k", "a%20b", Some("k"), None),
        ]);
    }

    #[test]
    fn bad_paths_are_named() {
        refusals(
            parse,
            &[
                ("", "is empty"),
                ("#key", "is empty"),
                ("/a#k", "empty segment"),
                ("a/#k", "empty segment"),
                ("a//b", "empty segment"),
                ("a/../sys/seal", "`..` segment"),
                ("./a", "`.` segment"),
                ("a\u{1b}[31m", "control character"),
            ],
        );
    }

    #[test]
    fn bad_keys_and_options_are_named() {
        refusals(
            parse,
            &[
                ("a#", "empty key"),
                ("a#?version=1", "empty key"),
                ("a#k\n", "control character"),
                ("a#k?version=0", "versions count from 1"),
                ("a#k?version=x", "`version=x`"),
                ("a#k?version=", "not a version number"),
                ("a#k?version=-1", "not a version number"),
                ("a#k?version=1&version=2", "twice"),
                ("a#k?field=x", "unknown option \"field\""),
            ],
        );
    }
}
