//! AWS references: `name-or-arn[#jsonkey][?stage=LABEL | ?version=ID][&encoding=base64]`.
//!
//! The secret is named as `aws secretsmanager get-secret-value --secret-id`
//! takes it: a name (`prod/payments`) or a full ARN. ARNs are full of `:`, so
//! the reference is split at its first `#` or `?` before anything else: AWS
//! allows neither in a secret's name. The URL order `name?stage=X#key` is
//! accepted too, since people paste both.

use std::fmt;

use reqflo_plugin_sdk::reference::{Parts, options, split};

use crate::{Error, check};

/// The longest secret ID AWS accepts (an ARN; a name stops at 512).
const MAX_SECRET_ID: usize = 2048;
/// The longest version ID AWS accepts (they are UUIDs, 36 characters, in practice).
const MAX_VERSION_ID: usize = 64;
/// The longest staging label AWS accepts.
const MAX_STAGE: usize = 256;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The secret's name or ARN, as the user wrote it.
    pub secret_id: String,
    /// Which version of the secret.
    pub selector: Selector,
    /// The key to pick from a SecretString holding a JSON object.
    pub key: Option<String>,
    /// How the value is handed on.
    pub encoding: Encoding,
}

impl Reference {
    /// The region an ARN names (`arn:aws:secretsmanager:REGION:…`); `None`
    /// for a name.
    pub fn arn_region(&self) -> Option<&str> {
        let mut parts = self.secret_id.split(':');
        (parts.next() == Some("arn"))
            .then(|| parts.nth(2))
            .flatten()
            .filter(|region| !region.is_empty())
    }
}

/// Which version of a secret a reference asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// The version labelled `AWSCURRENT` (what AWS returns when asked for neither).
    Current,
    /// The version carrying this staging label (`?stage=AWSPREVIOUS`).
    Stage(String),
    /// The version with this ID (`?version=…`).
    Version(String),
}

impl Selector {
    /// The same version, spelled one way, so that `?stage=AWSCURRENT` and no
    /// selector share a cache entry.
    pub fn canonical(&self) -> Selector {
        match self {
            Selector::Stage(stage) if stage == "AWSCURRENT" => Selector::Current,
            other => other.clone(),
        }
    }
}

/// How the selected value is handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As it is; it must be UTF-8 text.
    Text,
    /// Base64 (standard alphabet, padded), for binary secrets (`encoding=base64`).
    Base64,
}

impl fmt::Display for Reference {
    /// `secret "prod/db"`, `secret "prod/db" (stage "AWSPREVIOUS")` or
    /// `secret "prod/db" (version "…")`: the subject of every message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secret {:?}", self.secret_id)?;
        match &self.selector {
            Selector::Current => Ok(()),
            Selector::Stage(stage) => write!(f, " (stage {stage:?})"),
            Selector::Version(version) => write!(f, " (version {version:?})"),
        }
    }
}

/// Parse a reference; every refusal is `InvalidReference`.
pub fn parse(reference: &str) -> Result<Reference, Error> {
    // The ID ends at the first `#` or `?`; the key runs from `#` to the next
    // `?` (or to the end when the query came first).
    let Parts {
        id: secret_id,
        key,
        query,
    } = split(reference);
    check_secret_id(secret_id).map_err(|why| {
        Error::InvalidReference(format!("the secret name or ARN in {reference:?} {why}"))
    })?;
    let key = check::key(
        key,
        || {
            format!(
                "{reference:?} has an empty key after `#`; name a JSON key or leave out the `#`"
            )
        },
        |_| format!("the JSON key in {reference:?} has a control character"),
    )?;
    let (selector, encoding) = parse_query(reference, query.unwrap_or(""))?;
    Ok(Reference {
        secret_id: secret_id.to_string(),
        selector,
        key: key.map(str::to_string),
        encoding,
    })
}

/// Why `id` cannot be a secret name or ARN; the error completes "… ".
///
/// Names are letters, digits and `/_+=.@-` (AWS's rule); an ARN adds `:`.
/// Checking here means a typo is named before any request is signed, and
/// that nothing odd reaches the JSON body or a message.
fn check_secret_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c);
    check::name(id, MAX_SECRET_ID, allowed, |c| {
        format!(
            "has the character {c:?}; secret names hold only letters, digits and /_+=.@- \
             (and an ARN `:`)"
        )
    })?;
    if id.starts_with("arn:") && id.split(':').count() < 7 {
        return Err(
            "is not a whole secret ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME)"
                .into(),
        );
    }
    Ok(())
}

fn parse_query(reference: &str, query: &str) -> Result<(Selector, Encoding), Error> {
    let mut selector = Selector::Current;
    let mut encoding = None;
    for (name, value) in options(query) {
        match name {
            "stage" | "version" => {
                if selector != Selector::Current {
                    return Err(Error::InvalidReference(format!(
                        "{reference:?} names a version twice; give one `stage=` or one \
                         `version=`, not both"
                    )));
                }
                selector = if name == "stage" {
                    Selector::Stage(check_label(reference, name, value, MAX_STAGE)?)
                } else {
                    Selector::Version(check_label(reference, name, value, MAX_VERSION_ID)?)
                };
            }
            "encoding" => {
                if encoding.is_some() {
                    return Err(Error::InvalidReference(format!(
                        "`encoding=` is given twice in {reference:?}"
                    )));
                }
                encoding = Some(match value {
                    "base64" => Encoding::Base64,
                    "text" => Encoding::Text,
                    _ => {
                        return Err(Error::InvalidReference(format!(
                            "`encoding={value}` in {reference:?} is not known; it is `base64` \
                             (or `text`, the default)"
                        )));
                    }
                });
            }
            _ => {
                return Err(Error::InvalidReference(format!(
                    "unknown option {name:?} in {reference:?} (known: stage, version, encoding)"
                )));
            }
        }
    }
    Ok((selector, encoding.unwrap_or(Encoding::Text)))
}

/// A stage label or version ID: present, not too long, nothing invisible.
fn check_label(reference: &str, name: &str, value: &str, max: usize) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::InvalidReference(format!(
            "`{name}=` in {reference:?} is empty; give a value or leave it out for AWSCURRENT"
        )));
    }
    if value.len() > max {
        return Err(Error::InvalidReference(format!(
            "`{name}=` in {reference:?} is longer than AWS allows ({max} characters)"
        )));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidReference(format!(
            "`{name}=` in {reference:?} has a space or control character"
        )));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{accepted, refusals, refused};

    fn stage(label: &str) -> Selector {
        Selector::Stage(label.into())
    }

    #[test]
    fn names_keys_and_selectors() {
        let r = accepted(parse("prod/payments"));
        assert_eq!(r.secret_id, "prod/payments");
        assert_eq!(
            (r.selector, r.key, r.encoding),
            (Selector::Current, None, Encoding::Text)
        );
        let r = accepted(parse("prod/payments#api_key?stage=AWSPREVIOUS"));
        assert_eq!(r.key.as_deref(), Some("api_key"));
        assert_eq!(r.selector, stage("AWSPREVIOUS"));
        // The URL order too.
        let r = accepted(parse("prod/payments?stage=AWSPREVIOUS#api_key"));
        assert_eq!(r.key.as_deref(), Some("api_key"));
        assert_eq!(r.selector, stage("AWSPREVIOUS"));
        let r = accepted(parse("a?version=f00d-1&encoding=base64"));
        assert_eq!(r.selector, Selector::Version("f00d-1".into()));
        assert_eq!(r.encoding, Encoding::Base64);
        let r = accepted(parse("a?encoding=text&stage=BLUE"));
        assert_eq!((r.selector, r.encoding), (stage("BLUE"), Encoding::Text));
        assert_eq!(accepted(parse("a#k?")).selector, Selector::Current);
        assert_eq!(accepted(parse("n.a_m+e=@-/x")).secret_id, "n.a_m+e=@-/x");
    }

    #[test]
    fn arns_keep_their_colons() {
        let arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:prod/db-AbCdEf";
        let r = accepted(parse(&format!("{arn}#password?stage=AWSCURRENT")));
        assert_eq!(r.secret_id, arn);
        assert_eq!(r.arn_region(), Some("eu-west-2"));
        assert_eq!(accepted(parse("prod/db")).arn_region(), None);
        assert_eq!(r.key.as_deref(), Some("password"));
        // AWSCURRENT is what no selector means.
        assert_eq!(r.selector.canonical(), Selector::Current);
        assert_eq!(stage("AWSPREVIOUS").canonical(), stage("AWSPREVIOUS"));
        assert!(
            refused(parse("arn:aws:secretsmanager:eu-west-2")).contains("not a whole secret ARN")
        );
    }

    #[test]
    fn keys_may_hold_odd_characters() {
        let r = accepted(parse("a#api key#2:x"));
        assert_eq!(r.key.as_deref(), Some("api key#2:x"));
        refusals(
            parse,
            &[
                ("a#", "empty key"),
                ("a#?stage=X", "empty key"),
                ("a#k\n", "control character"),
            ],
        );
    }

    #[test]
    fn bad_secret_ids_are_named() {
        refusals(
            parse,
            &[
                ("", "is empty"),
                ("#key", "is empty"),
                ("?stage=X", "is empty"),
                ("team a/db", "the character ' '"),
                ("a\u{1b}[31m", "the character '\\u{1b}'"),
                ("é", "letters, digits"),
                ("x".repeat(2049).as_str(), "longer than 2048"),
            ],
        );
    }

    #[test]
    fn bad_options_are_named() {
        refusals(
            parse,
            &[
                (
                    "a?stage=X&version=Y",
                    "names a version twice; give one `stage=`",
                ),
                ("a?stage=X&stage=Y", "twice"),
                ("a?encoding=base64&encoding=text", "given twice"),
                ("a?stage=", "is empty"),
                ("a?version", "is empty"),
                ("a?stage=A B", "space or control"),
                (
                    format!("a?version={}", "v".repeat(65)).as_str(),
                    "(64 characters)",
                ),
                ("a?encoding=hex", "`encoding=hex`"),
                ("a?versionstage=X", "unknown option \"versionstage\""),
            ],
        );
    }

    #[test]
    fn display_names_the_secret_and_version() {
        assert_eq!(accepted(parse("a/b")).to_string(), "secret \"a/b\"");
        assert_eq!(
            accepted(parse("a#k?stage=AWSPREVIOUS")).to_string(),
            "secret \"a\" (stage \"AWSPREVIOUS\")"
        );
        assert_eq!(
            accepted(parse("a?version=v1")).to_string(),
            "secret \"a\" (version \"v1\")"
        );
    }
}
