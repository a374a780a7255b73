//! Secret Manager references: `SECRET`, `SECRET/versions/VERSION`, or the
//! resource name `projects/PROJECT/secrets/SECRET[/versions/VERSION]` of a
//! global secret or `projects/PROJECT/locations/LOCATION/secrets/SECRET[…]`
//! of a regional one, each optionally followed by `#KEY` to pick one key of a
//! JSON payload.
//!
//! Names are checked against Google's rules before anything is sent, so a typo
//! is an invalid reference here rather than a puzzling 400 from the server, and
//! every name is safe to put into a URL path as it is.

use std::fmt;

use crate::{Error, check};

/// The longest secret ID Secret Manager accepts.
const MAX_SECRET_ID: usize = 255;
/// Longer than any project ID (30) or domain-scoped ID Google issues.
const MAX_PROJECT: usize = 100;
/// A location becomes one label of the regional endpoint's host name
/// (`secretmanager.LOCATION.rep.googleapis.com`), and a DNS label is at
/// most 63 bytes.
const MAX_LOCATION: usize = 63;

/// A parsed reference. Names keep the user's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The project ID or number, when the reference names one.
    pub project: Option<String>,
    /// The location of a regional secret named in full; a short reference
    /// takes config.location instead.
    pub location: Option<String>,
    /// The secret ID.
    pub secret: String,
    /// Which version of the secret.
    pub version: Version,
    /// The key to pick from a JSON object payload (`#KEY`).
    pub key: Option<String>,
}

/// A secret version: `latest`, a version number, or an alias the secret
/// defines (`prod`, `canary`: Secret Manager's version aliases).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Version {
    /// The most recently created version (Secret Manager's `latest` alias).
    Latest,
    /// A version number, from 1.
    Number(u64),
    /// A version alias: a letter, then letters, digits, `-` and `_` (up to 63).
    Alias(String),
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Number(n) => write!(f, "{n}"),
            Version::Alias(alias) => f.write_str(alias),
        }
    }
}

/// One secret version in one project, global or in one location: what a
/// single `:access` call reads. A regional secret is another secret than a
/// global one of the same ID, so the location is part of the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Project ID or number.
    pub project: String,
    /// The location of a regional secret; None for a global one.
    pub location: Option<String>,
    /// Secret ID.
    pub secret: String,
    /// Version.
    pub version: Version,
}

impl Target {
    /// `/v1/projects/P/secrets/S/versions/V:access`, or
    /// `/v1/projects/P/locations/L/secrets/S/versions/V:access` for a
    /// regional secret. Every part was checked to hold only characters that
    /// need no escaping in a path.
    pub fn access_path(&self) -> String {
        let Target {
            project,
            secret,
            version,
            ..
        } = self;
        match &self.location {
            None => format!("/v1/projects/{project}/secrets/{secret}/versions/{version}:access"),
            Some(location) => format!(
                "/v1/projects/{project}/locations/{location}/secrets/{secret}/versions/\
                 {version}:access"
            ),
        }
    }

    /// Where the secret lives, as messages name it: `project "P"`, or
    /// `location "L" of project "P"` for a regional secret.
    pub fn place(&self) -> String {
        match &self.location {
            None => format!("project {:?}", self.project),
            Some(location) => format!("location {location:?} of project {:?}", self.project),
        }
    }

    /// The same secret at another version.
    pub fn at(&self, version: Version) -> Target {
        Target {
            version,
            ..self.clone()
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Version::Latest => f.write_str("the latest version")?,
            Version::Number(n) => write!(f, "version {n}")?,
            Version::Alias(alias) => write!(f, "version alias {alias:?}")?,
        }
        write!(f, " of secret {:?} in {}", self.secret, self.place())
    }
}

impl Reference {
    /// The version to read. A short reference takes its project from
    /// `default_project` (config.project) and its location from
    /// `default_location` (config.location); a resource name keeps its own,
    /// so `projects/P/secrets/S` stays global whatever config.location says.
    pub fn target(
        &self,
        default_project: Option<&str>,
        default_location: Option<&str>,
    ) -> Result<Target, Error> {
        let (project, location) = match (&self.project, default_project) {
            (Some(project), _) => (project.clone(), self.location.clone()),
            (None, Some(project)) => (project.to_string(), default_location.map(str::to_string)),
            (None, None) => {
                let secret = &self.secret;
                let name = match default_location {
                    None => format!("secrets/{secret}"),
                    Some(location) => format!("locations/{location}/secrets/{secret}"),
                };
                return Err(Error::InvalidReference(format!(
                    "secret {secret:?} names no project: set config.project for this provider or \
                     write projects/PROJECT/{name}"
                )));
            }
        };
        Ok(Target {
            project,
            location,
            secret: self.secret.clone(),
            version: self.version.clone(),
        })
    }
}

/// Parse a reference; every refusal is `InvalidReference`.
pub fn parse(reference: &str) -> Result<Reference, Error> {
    let (path, key) = match reference.split_once('#') {
        Some((path, key)) => (path, Some(key)),
        None => (reference, None),
    };
    let segments: Vec<&str> = path.split('/').collect();
    // The version first: every form may end in `/versions/VERSION`.
    let (name, version) = match segments.as_slice() {
        [name @ .., "versions", version] => (name, Some(*version)),
        name => (name, None),
    };
    let (project, location, secret) = match name {
        [secret] => (None, None, *secret),
        ["projects", project, "secrets", secret] => (Some(*project), None, *secret),
        [
            "projects",
            project,
            "locations",
            location,
            "secrets",
            secret,
        ] => (Some(*project), Some(*location), *secret),
        _ => {
            return Err(Error::InvalidReference(format!(
                "{reference:?} is not a Secret Manager reference: write SECRET, \
                 SECRET/versions/VERSION or projects/PROJECT/secrets/SECRET[/versions/VERSION] \
                 (projects/PROJECT/locations/LOCATION/secrets/SECRET[/versions/VERSION] for a \
                 regional secret), optionally followed by #KEY"
            )));
        }
    };
    if let Some(project) = project {
        check_project(project)
            .map_err(|why| Error::InvalidReference(format!("the project {project:?} {why}")))?;
    }
    if let Some(location) = location {
        check_location(location).map_err(|why| {
            Error::InvalidReference(format!("the location {location:?} in {reference:?} {why}"))
        })?;
    }
    check_secret(secret)
        .map_err(|why| Error::InvalidReference(format!("the secret ID {secret:?} {why}")))?;
    let version = match version {
        None => Version::Latest,
        Some(text) => parse_version(text)?,
    };
    let key = check::key(
        key,
        || format!("{reference:?} ends in an empty #KEY; name the JSON key to pick, or drop the #"),
        |_| format!("the JSON key in {reference:?} has a control character"),
    )?;
    Ok(Reference {
        project: project.map(str::to_string),
        location: location.map(str::to_string),
        secret: secret.to_string(),
        version,
        key: key.map(str::to_string),
    })
}

/// A project ID (`acme-payments`), number (`270012345678`) or domain-scoped ID
/// (`example.com:acme`). The error completes "the project … ".
pub fn check_project(project: &str) -> Result<(), String> {
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':');
    check::name(project, MAX_PROJECT, allowed, |c| {
        format!(
            "has a character a project ID cannot have ({c:?}): name a project by its ID \
             (lowercase letters, digits and hyphens) or its number"
        )
    })
}

/// A location ID (`europe-west1`, `us-central1`): lowercase letters, digits
/// and `-`, starting with a letter and not ending in `-`, since it becomes a
/// label of the regional endpoint's host name. The error completes
/// "the location … ".
pub fn check_location(location: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    check::name(location, MAX_LOCATION, allowed, |c| {
        format!(
            "has a character a location cannot have ({c:?}): a location is lowercase \
             letters, digits and - (europe-west1)"
        )
    })?;
    if !location.starts_with(|c: char| c.is_ascii_lowercase()) || location.ends_with('-') {
        return Err(
            "is not a location ID: one starts with a letter and ends with a letter or \
             digit (europe-west1)"
                .into(),
        );
    }
    Ok(())
}

/// Secret Manager's rule for secret IDs: `[A-Za-z0-9_-]{1,255}`. The error
/// completes "the secret ID … ".
fn check_secret(secret: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    check::name(secret, MAX_SECRET_ID, allowed, |c| {
        format!(
            "has a character Secret Manager does not allow ({c:?}): secret IDs are letters, \
             digits, - and _"
        )
    })
}

fn parse_version(text: &str) -> Result<Version, Error> {
    if text == "latest" {
        return Ok(Version::Latest);
    }
    let number = (!text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse::<u64>().ok())
        .flatten();
    let alias = text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match number {
        Some(n) => Ok(Version::Number(n)),
        None if alias => Ok(Version::Alias(text.to_string())),
        None => Err(Error::InvalidReference(format!(
            "the version {text:?} is neither `latest`, a version number (1, 2, …) nor a \
             version alias (a letter, then letters, digits, - and _)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{accepted, refusals, refused};

    fn reference(project: Option<&str>, secret: &str, version: Version) -> Reference {
        Reference {
            project: project.map(str::to_string),
            location: None,
            secret: secret.into(),
            version,
            key: None,
        }
    }

    #[test]
    fn every_form() {
        assert_eq!(
            accepted(parse("db-password")),
            reference(None, "db-password", Version::Latest)
        );
        assert_eq!(
            accepted(parse("db_password/versions/3")),
            reference(None, "db_password", Version::Number(3))
        );
        assert_eq!(
            accepted(parse("Stripe/versions/latest")),
            reference(None, "Stripe", Version::Latest)
        );
        assert_eq!(
            accepted(parse("projects/acme-payments/secrets/stripe")),
            reference(Some("acme-payments"), "stripe", Version::Latest)
        );
        assert_eq!(
            accepted(parse("projects/270012345678/secrets/stripe/versions/12")),
            reference(Some("270012345678"), "stripe", Version::Number(12))
        );
        assert_eq!(
            accepted(parse("projects/example.com:acme/secrets/s"))
                .project
                .as_deref(),
            Some("example.com:acme")
        );
        // A secret may be called "projects" or "versions".
        assert_eq!(accepted(parse("projects")).secret, "projects");
        assert_eq!(accepted(parse("versions/versions/1")).secret, "versions");
    }

    #[test]
    fn regional_secrets_name_their_location() {
        let regional = |project: &str, location: &str, secret: &str, version| Reference {
            location: Some(location.into()),
            ..reference(Some(project), secret, version)
        };
        assert_eq!(
            accepted(parse("projects/acme/locations/europe-west1/secrets/stripe")),
            regional("acme", "europe-west1", "stripe", Version::Latest)
        );
        assert_eq!(
            accepted(parse(
                "projects/270012345678/locations/us-central1/secrets/s_1/versions/12"
            )),
            regional("270012345678", "us-central1", "s_1", Version::Number(12))
        );
        let r = accepted(parse(
            "projects/acme/locations/me-central2/secrets/s/versions/prod#api_key",
        ));
        assert_eq!(
            (r.location.as_deref(), &r.version, r.key.as_deref()),
            (
                Some("me-central2"),
                &Version::Alias("prod".into()),
                Some("api_key")
            )
        );
        // A global resource name and a short reference name no location.
        assert_eq!(
            accepted(parse("projects/acme/secrets/stripe")).location,
            None
        );
        assert_eq!(accepted(parse("stripe/versions/2")).location, None);
    }

    #[test]
    fn locations_are_lowercase_letters_digits_and_hyphens() {
        refusals(
            parse,
            &[
                (
                    "projects/acme/locations/Europe-West1/secrets/s",
                    "the location \"Europe-West1\" in \
                     \"projects/acme/locations/Europe-West1/secrets/s\" has a character a \
                     location cannot have ('E'): a location is lowercase letters, digits and -",
                ),
                ("projects/acme/locations/europe_west1/secrets/s", "'_'"),
                ("projects/acme/locations/eu.west/secrets/s#k", "'.'"),
                ("projects/acme/locations/eu%2Fx/secrets/s", "'%'"),
                (
                    "projects/acme/locations//secrets/s",
                    "the location \"\" in \"projects/acme/locations//secrets/s\" is empty",
                ),
                ("projects/acme/locations/-eu/secrets/s", "is not a location"),
                ("projects/acme/locations/eu-/secrets/s", "is not a location"),
                ("projects/acme/locations/1eu/secrets/s", "is not a location"),
                (
                    &format!("projects/acme/locations/{}/secrets/s", "a".repeat(64)),
                    "longer than 63",
                ),
                // The project and secret follow their own rules there too.
                (
                    "projects/Acme/locations/eu/secrets/s",
                    "the project \"Acme\"",
                ),
                (
                    "projects/acme/locations/eu/secrets/s.x",
                    "the secret ID \"s.x\"",
                ),
            ],
        );
        accepted(parse(&format!(
            "projects/acme/locations/{}/secrets/s",
            "a".repeat(63)
        )));
        assert_eq!(check_location("europe-west1"), Ok(()));
    }

    #[test]
    fn json_keys() {
        let r = accepted(parse("stripe#api_key"));
        assert_eq!(
            (r.secret.as_str(), r.key.as_deref()),
            ("stripe", Some("api_key"))
        );
        let r = accepted(parse("projects/p1-x/secrets/s/versions/2#a key/with#marks"));
        assert_eq!(r.key.as_deref(), Some("a key/with#marks"));
        assert_eq!(r.version, Version::Number(2));
        refusals(
            parse,
            &[
                ("stripe#", "empty #KEY"),
                ("stripe#a\u{1b}b", "control character"),
            ],
        );
    }

    #[test]
    fn wrong_shapes_show_the_syntax() {
        for bad in [
            "",
            "a/b",
            "a/versions",
            "a/version/1",
            "projects/p/secrets",
            "projects/p/secret/s",
            "projects/p/secrets/s/versions",
            "projects/p/secrets/s/versions/1/x",
            "projects/p/locations/eu/secrets",
            "projects/p/locations/eu/secret/s",
            "projects/p/locations/eu/secrets/s/versions",
            "projects/p/location/eu/secrets/s",
            "projects/p/locations/eu",
            "/s",
            "s/",
        ] {
            let m = refused(parse(bad));
            assert!(
                m.contains("SECRET/versions/VERSION") || m.contains("is empty"),
                "{bad}: {m}"
            );
        }
        assert!(refused(parse("")).contains("is empty"));
        assert!(refused(parse("a/b")).contains(
            "projects/PROJECT/locations/LOCATION/secrets/SECRET[/versions/VERSION] for a \
                 regional secret"
        ));
    }

    #[test]
    fn names_follow_googles_rules() {
        refusals(
            parse,
            &[
                (
                    "db.password",
                    "the secret ID \"db.password\" has a character",
                ),
                ("db password", "' '"),
                ("dé", "'é'"),
                ("s".repeat(256).as_str(), "longer than 255"),
                ("projects/Acme/secrets/s", "the project \"Acme\""),
                ("projects/a%2F/secrets/s", "'%'"),
                ("projects//secrets/s", "the project \"\" is empty"),
            ],
        );
        accepted(parse(&"s".repeat(255)));
    }

    #[test]
    fn versions() {
        assert_eq!(accepted(parse("s/versions/1")).version, Version::Number(1));
        // Version aliases: a letter, then letters, digits, - and _.
        assert_eq!(
            accepted(parse("s/versions/prod")).version,
            Version::Alias("prod".into())
        );
        assert_eq!(
            accepted(parse("projects/p/secrets/s/versions/canary_2-b#key")).version,
            Version::Alias("canary_2-b".into())
        );
        for bad in [
            "0",
            "01",
            "-1",
            "1.0",
            "_x",
            "9lives",
            "99999999999999999999999",
        ] {
            let m = refused(parse(&format!("s/versions/{bad}")));
            assert!(
                m.contains("neither `latest`, a version number"),
                "{bad}: {m}"
            );
        }
        let long_alias = format!("s/versions/a{}", "b".repeat(63));
        assert!(refused(parse(&long_alias)).contains("version alias"));
    }

    #[test]
    fn targets_fill_in_the_default_project() {
        let t = accepted(parse("stripe/versions/4")).target(Some("acme"), None);
        assert!(t.as_ref().is_ok_and(|t| t.project == "acme"));
        let t = accepted(parse("projects/other/secrets/stripe")).target(Some("acme"), None);
        assert!(t.as_ref().is_ok_and(|t| t.project == "other"));
        assert_eq!(
            refused(accepted(parse("stripe")).target(None, None)),
            "secret \"stripe\" names no project: set config.project for this provider or \
             write projects/PROJECT/secrets/stripe"
        );
    }

    #[test]
    fn targets_fill_in_the_default_location_of_short_references_only() {
        let location = |reference: &str, project, default| {
            accepted(accepted(parse(reference)).target(project, default)).location
        };
        let eu = Some("europe-west1");
        // A short reference is regional when config.location says so.
        assert_eq!(location("stripe", Some("acme"), eu).as_deref(), eu);
        assert_eq!(location("stripe", Some("acme"), None), None);
        // A resource name keeps its own location, or its lack of one.
        assert_eq!(location("projects/p/secrets/s", None, eu), None);
        assert_eq!(
            location("projects/p/locations/us-east1/secrets/s", None, eu).as_deref(),
            Some("us-east1")
        );
        assert_eq!(
            location("projects/p/locations/us-east1/secrets/s", None, None).as_deref(),
            Some("us-east1")
        );
        assert_eq!(
            refused(accepted(parse("stripe")).target(None, eu)),
            "secret \"stripe\" names no project: set config.project for this provider or \
             write projects/PROJECT/locations/europe-west1/secrets/stripe"
        );
    }

    #[test]
    fn paths_and_descriptions() {
        let t = Target {
            project: "acme".into(),
            location: None,
            secret: "stripe".into(),
            version: Version::Latest,
        };
        assert_eq!(
            t.access_path(),
            "/v1/projects/acme/secrets/stripe/versions/latest:access"
        );
        assert_eq!(
            t.to_string(),
            "the latest version of secret \"stripe\" in project \"acme\""
        );
        let pinned = t.at(Version::Number(7));
        assert_eq!(
            pinned.access_path(),
            "/v1/projects/acme/secrets/stripe/versions/7:access"
        );
        assert_eq!(
            pinned.to_string(),
            "version 7 of secret \"stripe\" in project \"acme\""
        );
        assert_eq!(
            t.at(Version::Alias("prod".into())).to_string(),
            "version alias \"prod\" of secret \"stripe\" in project \"acme\""
        );
    }

    #[test]
    fn regional_paths_and_descriptions_name_the_location() {
        let t = Target {
            project: "acme".into(),
            location: Some("europe-west1".into()),
            secret: "stripe".into(),
            version: Version::Latest,
        };
        assert_eq!(
            t.access_path(),
            "/v1/projects/acme/locations/europe-west1/secrets/stripe/versions/latest:access"
        );
        assert_eq!(t.place(), "location \"europe-west1\" of project \"acme\"");
        assert_eq!(
            t.to_string(),
            "the latest version of secret \"stripe\" in location \"europe-west1\" of project \
             \"acme\""
        );
        let pinned = t.at(Version::Number(7));
        assert_eq!(
            pinned.access_path(),
            "/v1/projects/acme/locations/europe-west1/secrets/stripe/versions/7:access"
        );
        assert_eq!(
            pinned.to_string(),
            "version 7 of secret \"stripe\" in location \"europe-west1\" of project \"acme\""
        );
        // The same secret ID globally is another secret: another cache key.
        assert_ne!(
            pinned,
            Target {
                location: None,
                ..pinned.clone()
            }
        );
    }
}
