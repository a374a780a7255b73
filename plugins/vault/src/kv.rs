//! The KV secrets engine's answers: a secret's key/value map (v1 and v2),
//! deleted and destroyed versions, and picking a reference's key.
//!
//! Nothing here derives `Debug`: a secret holds values, and a stray `{:?}`
//! must not be able to print one.

use std::collections::BTreeMap;
use std::fmt;

use reqflo_plugin_sdk::http::{Failure, Response};
use reqflo_plugin_sdk::origin::Origin;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Error;
use crate::reference::VaultPath;
use crate::settings::KvVersion;
use crate::wire::{failure_error, unexpected, unreadable};

/// At most this many key names are listed in a message.
const LISTED_KEYS: usize = 20;

/// Where a secret lives, for messages: `"app/db" (version 2) in mount "secret"`.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    /// The mount.
    pub mount: &'a VaultPath,
    /// The secret's path below it.
    pub path: &'a VaultPath,
    /// The pinned version, if any.
    pub version: Option<u64>,
    /// The namespace, if any.
    pub namespace: Option<&'a str>,
}

impl Place<'_> {
    /// `"app/db"`, with the version when one is pinned.
    fn secret(&self) -> String {
        match self.version {
            Some(version) => format!("{:?} (version {version})", self.path.to_string()),
            None => format!("{:?}", self.path.to_string()),
        }
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in mount {:?}", self.secret(), self.mount.to_string())?;
        if let Some(namespace) = self.namespace {
            write!(f, " of namespace {namespace:?}")?;
        }
        Ok(())
    }
}

/// One secret: its keys and their values, as read.
pub struct Secret {
    entries: BTreeMap<String, Entry>,
}

/// One value of a secret.
enum Entry {
    /// A JSON string: the value itself.
    Text(String),
    /// A number or boolean: its JSON text, as the server sent it.
    Scalar(String),
    /// JSON `null`.
    Null,
    /// An object or an array, which is no single value.
    Nested(&'static str),
}

impl Entry {
    fn of(raw: &RawValue) -> Entry {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => match serde_json::from_str::<String>(text) {
                Ok(value) => Entry::Text(value),
                // A raw value is valid JSON, so a leading quote is a string.
                Err(_) => Entry::Nested("an unreadable string"),
            },
            Some(b'{') => Entry::Nested("a JSON object"),
            Some(b'[') => Entry::Nested("a JSON array"),
            _ if text == "null" => Entry::Null,
            _ => Entry::Scalar(text.to_string()),
        }
    }
}

/// KV v1's `GET /v1/{mount}/{path}` and the inner `data` of KV v2.
type Map = BTreeMap<String, Box<RawValue>>;

#[derive(Deserialize)]
struct V1Body {
    data: Option<Map>,
    /// Set (for instance) when a KV v2 mount is read the v1 way.
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct V2Body {
    data: Option<V2Data>,
}

#[derive(Deserialize)]
struct V2Data {
    data: Option<Map>,
    metadata: Option<Metadata>,
}

/// A version's metadata, which Vault sends with a deleted or destroyed one.
#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    deletion_time: Option<String>,
    #[serde(default)]
    destroyed: Option<bool>,
    #[serde(default)]
    version: Option<u64>,
}

/// Turn the answer to a KV read into the secret, or an error naming `place`.
pub fn interpret_read(
    origin: &Origin,
    kv_version: KvVersion,
    place: Place<'_>,
    outcome: Result<Response, Failure>,
) -> Result<Secret, Error> {
    let doing = format!("reading {place}");
    let answer = outcome.map_err(|failure| failure_error(origin, &failure, &doing))?;
    let not_found = || {
        Error::NotFound(format!(
            "no secret at {place}{}",
            mount_hint(place, kv_version)
        ))
    };
    match (answer.status, kv_version) {
        (200..=299, KvVersion::V2) => {
            let body: V2Body =
                serde_json::from_slice(&answer.body).map_err(|_| unreadable(origin, &doing))?;
            let data = body.data.ok_or_else(|| unreadable(origin, &doing))?;
            match data.data {
                Some(map) => Ok(Secret::of(&map)),
                None => Err(gone(place, data.metadata).unwrap_or_else(not_found)),
            }
        }
        (200..=299, KvVersion::V1) => {
            let body: V1Body =
                serde_json::from_slice(&answer.body).map_err(|_| unreadable(origin, &doing))?;
            body.data
                .map(|map| Secret::of(&map))
                .ok_or_else(|| unreadable(origin, &doing))
        }
        (404, KvVersion::V2) => {
            // A deleted or destroyed version is a 404 that still carries the
            // version's metadata; only those fields are read.
            let metadata = serde_json::from_slice::<V2Body>(&answer.body)
                .ok()
                .and_then(|b| b.data)
                .and_then(|d| d.metadata);
            Err(gone(place, metadata).unwrap_or_else(not_found))
        }
        (404, KvVersion::V1) => {
            let versioned = serde_json::from_slice::<V1Body>(&answer.body)
                .ok()
                .and_then(|b| b.warnings)
                .is_some_and(|w| {
                    w.iter()
                        .any(|w| w.starts_with("Invalid path for a versioned K/V secrets engine"))
                });
            if versioned {
                // A configuration mistake, not a missing secret: a chain must
                // not quietly move on to the next provider.
                return Err(Error::InvalidReference(format!(
                    "mount {:?} is a KV version 2 engine, but the provider has \
                     kv_version: 1; set config.kv_version to 2",
                    place.mount.to_string()
                )));
            }
            Err(not_found())
        }
        (401, _) => Err(Error::Denied(format!(
            "Vault at {origin} rejected the token (401) while reading {place}"
        ))),
        (403, _) => Err(Error::Denied(format!(
            "the token may not read {place} (403): no policy grants it read there, or \
             the token is invalid or expired"
        ))),
        _ => Err(unexpected(origin, &answer, &doing)),
    }
}

/// A path that starts with the mount (as `vault kv get secret/app` or the
/// API's `secret/data/app` spell it) is the likeliest reason for a miss: say
/// what the path below the mount would be.
fn mount_hint(place: Place<'_>, kv_version: KvVersion) -> String {
    let Some(rest) = place.path.segments().strip_prefix(place.mount.segments()) else {
        return String::new();
    };
    let rest = match (kv_version, rest) {
        (KvVersion::V2, [data, rest @ ..]) if data == "data" => rest,
        _ => rest,
    };
    if rest.is_empty() {
        return String::new();
    }
    format!(
        "; references are relative to the mount, so this may be {:?}",
        rest.join("/")
    )
}

/// The not-found error for a version that was deleted or destroyed.
fn gone(place: Place<'_>, metadata: Option<Metadata>) -> Option<Error> {
    let metadata = metadata?;
    let how = if metadata.destroyed == Some(true) {
        "destroyed"
    } else if metadata
        .deletion_time
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        "deleted"
    } else {
        return None;
    };
    let which = match (place.version, metadata.version) {
        (Some(asked), _) => format!("version {asked}"),
        (None, Some(latest)) => format!("the latest version ({latest})"),
        (None, None) => "the latest version".to_string(),
    };
    let unpinned = Place {
        version: None,
        ..place
    };
    Some(Error::NotFound(format!(
        "{which} of secret {unpinned} was {how}"
    )))
}

impl Secret {
    fn of(map: &Map) -> Secret {
        Secret {
            entries: map
                .iter()
                .map(|(key, raw)| (key.clone(), Entry::of(raw)))
                .collect(),
        }
    }

    /// The value of `key`, or of the only key when `key` is `None`.
    pub fn select(&self, key: Option<&str>, place: Place<'_>) -> Result<String, Error> {
        let secret = place.secret();
        let (key, entry) = match key {
            Some(key) => match self.entries.get(key) {
                Some(entry) => (key, entry),
                None => {
                    return Err(Error::NotFound(format!(
                        "no key {key:?} in secret {secret} (its keys: {})",
                        self.key_names()
                    )));
                }
            },
            None => {
                let mut entries = self.entries.iter();
                match (entries.next(), entries.next()) {
                    (Some((key, entry)), None) => (key.as_str(), entry),
                    (None, _) => {
                        return Err(Error::NotFound(format!("secret {place} has no keys")));
                    }
                    (Some(_), Some(_)) => {
                        return Err(Error::InvalidReference(format!(
                            "secret {secret} has {} keys ({}); name one with `#key`",
                            self.entries.len(),
                            self.key_names()
                        )));
                    }
                }
            }
        };
        match entry {
            Entry::Text(value) | Entry::Scalar(value) => Ok(value.clone()),
            Entry::Null => Err(Error::InvalidReference(format!(
                "key {key:?} in secret {secret} is null, not a value"
            ))),
            Entry::Nested(what) => Err(Error::InvalidReference(format!(
                "key {key:?} in secret {secret} holds {what}, not a single value"
            ))),
        }
    }

    /// The key names (never values), sorted, at most [`LISTED_KEYS`].
    fn key_names(&self) -> String {
        if self.entries.is_empty() {
            return "none".into();
        }
        let mut names: Vec<String> = self
            .entries
            .keys()
            .take(LISTED_KEYS)
            .map(|k| format!("{k:?}"))
            .collect();
        if self.entries.len() > LISTED_KEYS {
            names.push(format!("and {} more", self.entries.len() - LISTED_KEYS));
        }
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{origin, path};
    use reqflo_plugin_sdk::testing::{accepted, refused};

    fn read(kv: KvVersion, version: Option<u64>, status: u16, body: &str) -> Result<Secret, Error> {
        let (mount, secret) = (path("secret"), path("app/db"));
        let place = Place {
            mount: &mount,
            path: &secret,
            version,
            namespace: None,
        };
        interpret_read(&origin(), kv, place, Ok(Response::new(status, body)))
    }

    /// The message of the `kind` error a read gave. A [`Secret`] has no
    /// `Debug`, so a read that succeeded after all is reported without it.
    fn failed(read: Result<Secret, Error>, kind: &str) -> String {
        refused(read.map(|_| "a secret"), kind)
    }

    fn pick(secret: &Secret, key: Option<&str>) -> Result<String, Error> {
        let (mount, secret_path) = (path("secret"), path("app/db"));
        let place = Place {
            mount: &mount,
            path: &secret_path,
            version: None,
            namespace: None,
        };
        secret.select(key, place)
    }

    const V2: &str = r#"{"data": {"data": {"user": "u", "password": "hunter2", "port": 5432,
        "tls": true, "big": 1.2345678901234568e+22, "none": null, "o": {"x": 1}, "a": [1]},
        "metadata": {"version": 2, "deletion_time": "", "destroyed": false}}}"#;

    #[test]
    fn v2_values_by_key() {
        let secret = accepted(read(KvVersion::V2, None, 200, V2));
        for (key, value) in [
            ("password", "hunter2"),
            ("port", "5432"),
            ("tls", "true"),
            ("big", "1.2345678901234568e+22"),
        ] {
            assert_eq!(pick(&secret, Some(key)), Ok(value.into()), "{key}");
        }
        for (key, says) in [
            ("o", "holds a JSON object"),
            ("a", "holds a JSON array"),
            ("none", "is null"),
        ] {
            let m = refused(pick(&secret, Some(key)), "invalid-reference");
            assert!(m.contains(says), "{m}");
        }
    }

    #[test]
    fn a_missing_key_lists_names_never_values() {
        let secret = accepted(read(KvVersion::V2, None, 200, V2));
        let m = refused(pick(&secret, Some("pass")), "not-found");
        assert_eq!(
            m,
            "no key \"pass\" in secret \"app/db\" (its keys: \"a\", \"big\", \"none\", \"o\", \
             \"password\", \"port\", \"tls\", \"user\")"
        );
        assert!(!m.contains("hunter2"));
    }

    #[test]
    fn without_a_key_the_only_key_or_a_list_of_names() {
        let one = accepted(read(
            KvVersion::V2,
            None,
            200,
            r#"{"data": {"data": {"token": "t0ken"}}}"#,
        ));
        assert_eq!(pick(&one, None), Ok("t0ken".into()));
        let many = accepted(read(KvVersion::V2, None, 200, V2));
        let m = refused(pick(&many, None), "invalid-reference");
        assert!(
            m.starts_with("secret \"app/db\" has 8 keys (\"a\", \"big\""),
            "{m}"
        );
        assert!(m.ends_with("name one with `#key`"), "{m}");
        assert!(!m.contains("hunter2"));
        let none = accepted(read(KvVersion::V2, None, 200, r#"{"data": {"data": {}}}"#));
        assert_eq!(
            pick(&none, None),
            Err(Error::NotFound(
                "secret \"app/db\" in mount \"secret\" has no keys".into()
            ))
        );
    }

    #[test]
    fn long_key_lists_are_cut() {
        let keys: Vec<String> = (0..30).map(|n| format!("\"k{n:02}\": \"v\"")).collect();
        let body = format!(r#"{{"data": {{"data": {{{}}}}}}}"#, keys.join(","));
        let secret = accepted(read(KvVersion::V2, None, 200, &body));
        let m = refused(pick(&secret, None), "invalid-reference");
        assert!(m.contains("\"k19\", and 10 more"), "{m}");
        assert!(!m.contains("k20"), "{m}");
    }

    #[test]
    fn v1_reads_data_directly() {
        let secret = accepted(read(
            KvVersion::V1,
            None,
            200,
            r#"{"lease_duration": 2764800, "data": {"password": "p1", "user": "u1"}}"#,
        ));
        assert_eq!(pick(&secret, Some("user")), Ok("u1".into()));
    }

    #[test]
    fn not_found_deleted_and_destroyed() {
        let deleted = r#"{"data": {"data": null, "metadata": {"deletion_time":
            "2026-01-01T00:00:00Z", "destroyed": false, "version": 1}}}"#;
        let destroyed = r#"{"data": {"data": null, "metadata": {"deletion_time": "",
            "destroyed": true, "version": 2}}}"#;
        for (version, body, message) in [
            (
                None,
                r#"{"errors":[]}"#,
                "no secret at \"app/db\" in mount \"secret\"",
            ),
            (
                Some(9),
                "",
                "no secret at \"app/db\" (version 9) in mount \"secret\"",
            ),
            (
                Some(1),
                deleted,
                "version 1 of secret \"app/db\" in mount \"secret\" was deleted",
            ),
            (
                None,
                destroyed,
                "the latest version (2) of secret \"app/db\" in mount \"secret\" was destroyed",
            ),
        ] {
            let m = failed(read(KvVersion::V2, version, 404, body), "not-found");
            assert_eq!(m, message);
        }
        // Some servers say the same with a 200 and no data.
        let m = failed(read(KvVersion::V2, None, 200, destroyed), "not-found");
        assert!(m.ends_with("was destroyed"), "{m}");
        failed(read(KvVersion::V1, None, 404, ""), "not-found");
    }

    #[test]
    fn a_path_that_repeats_the_mount_gets_a_hint() {
        let mount = path("secret");
        let hint = |text: &str, kv| {
            let secret = path(text);
            let place = Place {
                mount: &mount,
                path: &secret,
                version: None,
                namespace: None,
            };
            mount_hint(place, kv)
        };
        let expected = "; references are relative to the mount, so this may be \"app/db\"";
        assert_eq!(hint("secret/data/app/db", KvVersion::V2), expected);
        assert_eq!(hint("secret/app/db", KvVersion::V2), expected);
        assert_eq!(hint("secret/app/db", KvVersion::V1), expected);
        assert_eq!(hint("app/db", KvVersion::V2), "");
        assert_eq!(hint("secret", KvVersion::V2), "");
        assert_eq!(hint("secrets/app", KvVersion::V2), "");
    }

    #[test]
    fn a_v2_mount_read_as_v1_is_a_configuration_error() {
        // OpenBao 2.7's answer, verbatim.
        let body = concat!(
            r#"{"data": null, "warnings": ["Invalid path for a versioned K/V secrets engine. "#,
            r#"See the API docs for the appropriate API endpoints to use."]}"#
        );
        let m = failed(read(KvVersion::V1, None, 404, body), "invalid-reference");
        assert!(m.contains("set config.kv_version to 2"), "{m}");
    }

    #[test]
    fn denied_and_other_statuses() {
        let forbidden = read(
            KvVersion::V2,
            None,
            403,
            r#"{"errors":["permission denied"]}"#,
        );
        assert_eq!(
            failed(forbidden, "denied"),
            "the token may not read \"app/db\" in mount \"secret\" (403): no policy grants \
             it read there, or the token is invalid or expired"
        );
        assert_eq!(
            failed(read(KvVersion::V2, None, 401, ""), "denied"),
            "Vault at http://vault:8200 rejected the token (401) while reading \
             \"app/db\" in mount \"secret\""
        );
        assert_eq!(
            failed(read(KvVersion::V2, Some(1), 500, "hunter2"), "unavailable"),
            "Vault at http://vault:8200 answered 500 while reading \"app/db\" (version 1) \
             in mount \"secret\""
        );
    }

    #[test]
    fn unreadable_bodies_are_never_quoted() {
        for body in [
            r#"{"data": {"data": {"k": "hunter2""#,
            "[]",
            r#"{"data": {"data": 5}}"#,
        ] {
            let m = failed(read(KvVersion::V2, None, 200, body), "unavailable");
            assert!(m.contains("JSON reqflo could not read"), "{m}");
            assert!(!m.contains("hunter2"));
        }
        assert!(read(KvVersion::V1, None, 200, r#"{"data": null}"#).is_err());
    }

    #[test]
    fn the_namespace_is_named() {
        let (mount, secret) = (path("secret"), path("app/db"));
        let place = Place {
            mount: &mount,
            path: &secret,
            version: Some(4),
            namespace: Some("admin/team"),
        };
        assert_eq!(
            place.to_string(),
            "\"app/db\" (version 4) in mount \"secret\" of namespace \"admin/team\""
        );
    }
}
