//! The provider's configuration: `config:` keys, the access token it reads from
//! the environment at the first resolve, and the Secret Manager endpoint: the
//! configured one, or Google's global or regional one for each secret.

use reqflo_plugin_sdk::{Config, env};

use crate::Error;
use crate::credentials::{self, CREDENTIALS_ENV};
use crate::reference::{Target, check_location, check_project};

/// The host of Google's global Secret Manager endpoint.
const GLOBAL_HOST: &str = "secretmanager.googleapis.com";
/// Where the access token comes from unless `config.token_env` names another
/// variable: the name gcloud and Google's client libraries use for a raw token.
const DEFAULT_TOKEN_ENV: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";
/// The keys `config:` may hold, for the unknown-key message.
const KNOWN_KEYS: &str = "project, location, endpoint, token_env, metadata";
/// The provider as the SDK's environment messages name it.
const PROVIDER: &str = "Google Cloud";

/// What `configure` accepted. The environment is read later, at the first
/// resolve, so a run whose journeys never use this provider does not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The project of references that do not name one.
    pub project: Option<String>,
    /// The location that makes references that do not name a project
    /// regional secrets there.
    pub location: Option<String>,
    /// `config.endpoint`: where every request goes, whatever the secret's
    /// location; None for Google's own endpoints.
    pub endpoint: Option<Origin>,
    token_env: String,
    /// `metadata: true`: with no token in `token_env`, ask the metadata
    /// server (as on a VM, GKE or Cloud Run). Also on when
    /// `GCE_METADATA_HOST` is visible.
    metadata: bool,
}

/// The metadata server of a Google Cloud VM, GKE node or Cloud Run
/// service, unless `GCE_METADATA_HOST` names another (as Google's client
/// libraries read it).
const METADATA_HOST: &str = "metadata.google.internal";
const METADATA_HOST_ENV: &str = "GCE_METADATA_HOST";

/// An endpoint and the access token to call it with.
pub struct Connection {
    /// `config.endpoint`'s `scheme://host:port`, when set; see
    /// [`Connection::origin`].
    pub endpoint: Option<Origin>,
    /// The OAuth 2 access token; secret, never part of a message. Empty
    /// until a credentials file's endpoint or the metadata server has given
    /// one.
    pub token: String,
    /// Where the token came from, to name it in messages: a variable, a
    /// credentials file, or the metadata server.
    pub token_env: String,
    /// The link of the chain that gives the token (and renews it).
    pub source: Source,
    /// When a fetched token is to be renewed ([`reqflo_plugin_sdk::renew`]).
    pub renew_at: Option<std::time::Instant>,
    /// A credentials file's `quota_project_id`, sent as
    /// `x-goog-user-project`.
    pub quota_project: Option<String>,
}

/// Where a connection's token comes from, in the chain's order.
pub enum Source {
    /// A ready token from `token_env`, used as it is.
    Ready,
    /// A credentials file (`GOOGLE_APPLICATION_CREDENTIALS`, or gcloud's).
    File(Box<credentials::File>),
    /// The metadata server at this origin.
    Metadata(Origin),
}

impl Connection {
    /// Where the request for `target` goes: `config.endpoint` when set (a
    /// fake, an emulator, a private endpoint), else Google's global endpoint,
    /// or for a regional secret the regional one of its location. The
    /// location was checked to be a host-name label.
    pub fn origin(&self, target: &Target) -> Origin {
        match (&self.endpoint, &target.location) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, None) => Origin::https(GLOBAL_HOST),
            (None, Some(location)) => {
                Origin::https(&format!("secretmanager.{location}.rep.googleapis.com"))
            }
        }
    }
}

impl Settings {
    /// Accept the provider's `config:` map (`project`, `location`,
    /// `endpoint`, `token_env`, `metadata`).
    ///
    /// Hand-written rather than `Config::parse`: each key is checked in the
    /// order written, and the unknown-key and `metadata` messages keep the
    /// provider's own wording.
    pub fn from_config(config: Config) -> Result<Settings, Error> {
        let mut settings = Settings {
            project: None,
            location: None,
            endpoint: None,
            token_env: DEFAULT_TOKEN_ENV.to_string(),
            metadata: false,
        };
        for (key, value) in config {
            match key.as_str() {
                "project" => {
                    check_project(&value).map_err(|why| {
                        Error::InvalidReference(format!("config.project {value:?} {why}"))
                    })?;
                    settings.project = Some(value);
                }
                "location" => {
                    check_location(&value).map_err(|why| {
                        Error::InvalidReference(format!("config.location {value:?} {why}"))
                    })?;
                    settings.location = Some(value);
                }
                "endpoint" => settings.endpoint = Some(parse_endpoint(&value)?),
                "token_env" => settings.token_env = env::variable_name("token_env", &value)?,
                "metadata" => settings.metadata = metadata_flag(&value)?,
                other => {
                    return Err(Error::InvalidReference(format!(
                        "unknown config key `{other}` for the Google Cloud Secret Manager \
                         provider (known: {KNOWN_KEYS})"
                    )));
                }
            }
        }
        Ok(settings)
    }

    /// The endpoint and where its token comes from, in the order of Google's
    /// Application Default Credentials after a ready token: the token in
    /// `token_env`, the file in `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
    /// well-known file, the metadata server. Read from the sandbox's
    /// environment and files (`read` is `env::var` in the component).
    pub fn connection(&self, read: &impl env::Read) -> Result<Connection, Error> {
        let name = &self.token_env;
        if env::optional(read, name)?.is_some() {
            return self.ready_connection(read);
        }
        if let Some(file) = credentials::find(read)? {
            return Ok(Connection {
                endpoint: self.endpoint.clone(),
                token: String::new(),
                token_env: format!("the access token from {}", file.name),
                quota_project: file.quota_project.clone(),
                source: Source::File(Box::new(file)),
                renew_at: None,
            });
        }
        // The metadata server's, as Application Default Credentials end on
        // Google Cloud (a VM, GKE, Cloud Run), when the configuration or a
        // visible GCE_METADATA_HOST asks for it.
        if self.metadata || metadata_host(read).is_some() {
            return self.metadata_connection(read);
        }
        // Not the SDK's `env::required` wording: this one says where a
        // token comes from, and what the other links need.
        Err(Error::Unavailable(format!(
            "{name} is not visible to the Google Cloud provider: set it (say, to \
             $(gcloud auth print-access-token)) and list it under the provider's grants.env, \
             or point config.token_env at another variable; or grant {CREDENTIALS_ENV} \
             (grants.env, and `${CREDENTIALS_ENV}` under grants.files) naming a credentials \
             file; on Google Cloud, config.metadata: true takes the workload's own account \
             from the metadata server instead"
        )))
    }

    /// A connection with the ready token in `token_env`.
    fn ready_connection(&self, read: &impl env::Read) -> Result<Connection, Error> {
        let name = &self.token_env;
        // `required` reads it again to refuse a blank one in the SDK's
        // words; its trimming forgives the newline of
        // `$(gcloud auth print-access-token)` pasted into a file.
        let token = env::required(read, PROVIDER, name, "")?;
        // A token travels in a header: anything but visible ASCII there would be
        // refused by the HTTP layer with a far less helpful message.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Unavailable(format!(
                "{name} does not hold an access token: it has characters an HTTP header \
                 cannot carry"
            )));
        }
        Ok(Connection {
            endpoint: self.endpoint.clone(),
            token,
            token_env: name.clone(),
            source: Source::Ready,
            renew_at: None,
            quota_project: None,
        })
    }

    /// A connection whose token the metadata server gives: at
    /// `GCE_METADATA_HOST` (`host[:port]`) when the provider may read it,
    /// else `metadata.google.internal`.
    fn metadata_connection(&self, read: &impl env::Read) -> Result<Connection, Error> {
        let host = metadata_host(read).unwrap_or_else(|| METADATA_HOST.to_string());
        let origin = Origin::parse_base(&format!("http://{host}"))
            .map(Origin::without_default_port)
            .map_err(|why| {
                Error::Unavailable(format!(
                    "{METADATA_HOST_ENV} {host:?} is not a host[:port]: it {why}"
                ))
            })?;
        Ok(Connection {
            endpoint: self.endpoint.clone(),
            token: String::new(),
            token_env: format!(
                "the metadata server's token (no {} was visible)",
                self.token_env
            ),
            source: Source::Metadata(origin),
            renew_at: None,
            quota_project: None,
        })
    }
}

/// `config.metadata`: `true` or `false`.
fn metadata_flag(value: &str) -> Result<bool, Error> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(Error::InvalidReference(format!(
            "config.metadata is {other:?}; it is true or false"
        ))),
    }
}

/// `GCE_METADATA_HOST`, trimmed, when it is visible and not blank. A value
/// that is not UTF-8 counts as not set, so the usual server is asked.
fn metadata_host(read: &impl env::Read) -> Option<String> {
    env::optional(read, METADATA_HOST_ENV)
        .ok()
        .flatten()
        .filter(|host| !host.is_empty())
}

fn parse_endpoint(value: &str) -> Result<Origin, Error> {
    let origin = Origin::parse_base(value).map_err(|why| {
        Error::InvalidReference(format!(
            "config.endpoint is not a usable Secret Manager URL: it {why}"
        ))
    })?;
    // Every request carries a Google access token; plain HTTP would hand it to
    // anyone on the path. A local fake or emulator is the one exception.
    if !origin.is_https() && !origin.is_loopback() {
        return Err(Error::InvalidReference(format!(
            "config.endpoint {origin} must use https://: every request carries the access \
             token (plain http:// is allowed only to a loopback address, for a local fake)"
        )));
    }
    Ok(origin)
}

/// The endpoint's origin, or where a redirect pointed (the SDK's).
pub use reqflo_plugin_sdk::origin::Origin;

#[cfg(test)]
mod tests {
    use super::*;
    use reqflo_plugin_sdk::env::fake;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        accepted(Settings::from_config(Config::of(pairs)))
    }

    /// Why `pairs` are refused; a bad config is an invalid reference.
    fn config_error(pairs: &[(&str, &str)]) -> String {
        refused(
            Settings::from_config(Config::of(pairs)),
            "invalid-reference",
        )
    }

    /// Why `s` cannot connect with `vars`; every such error is unavailable.
    fn connection_error(s: &Settings, vars: &[(&str, &str)]) -> String {
        // No `Debug` for a connection (it holds the token): one shows as `()`.
        refused(s.connection(&fake(vars)).map(|_| ()), "unavailable")
    }

    #[test]
    fn defaults() {
        let s = settings(&[]);
        assert_eq!(
            (&s.project, &s.location, &s.endpoint),
            (&None, &None, &None)
        );
        let c = s.connection(&fake(&[("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.a0\n")]));
        assert!(
            c.is_ok_and(|c| c.token == "ya29.a0" && c.token_env == "GOOGLE_OAUTH_ACCESS_TOKEN")
        );
    }

    #[test]
    fn every_key() {
        let s = settings(&[
            ("project", "acme-payments"),
            ("location", "europe-west1"),
            ("endpoint", "http://127.0.0.1:8085/"),
            ("token_env", "GCP_TOKEN"),
        ]);
        assert_eq!(s.project.as_deref(), Some("acme-payments"));
        assert_eq!(s.location.as_deref(), Some("europe-west1"));
        assert_eq!(
            s.endpoint.as_ref().map(|e| e.to_string()).as_deref(),
            Some("http://127.0.0.1:8085")
        );
        let vars = [
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "wrong"),
            ("GCP_TOKEN", "right"),
        ];
        assert!(s.connection(&fake(&vars)).is_ok_and(|c| c.token == "right"));
    }

    #[test]
    fn unknown_keys_are_named() {
        assert_eq!(
            config_error(&[("region", "eu")]),
            "unknown config key `region` for the Google Cloud Secret Manager provider \
             (known: project, location, endpoint, token_env, metadata)"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for (pairs, said) in [
            (("project", "Acme Payments"), "config.project"),
            (("project", ""), "empty"),
            (
                ("location", "Europe-West1"),
                "config.location \"Europe-West1\" has a character a location cannot have ('E')",
            ),
            (("location", "eu west"), "' '"),
            (("location", ""), "config.location \"\" is empty"),
            (("location", "-eu"), "is not a location ID"),
            (("endpoint", "secretmanager.googleapis.com"), "https://"),
            (("endpoint", "https://x.example/v1"), "has a path"),
            (("token_env", ""), "token_env"),
            (("token_env", "A=B"), "token_env"),
            (
                ("metadata", "yes"),
                "config.metadata is \"yes\"; it is true or false",
            ),
        ] {
            let message = config_error(&[pairs]);
            assert!(message.contains(said), "{message}");
        }
    }

    #[test]
    fn requests_go_to_the_configured_endpoint_or_googles_for_the_location() {
        use crate::reference::Version;
        let target = |location: Option<&str>| Target {
            project: "acme".into(),
            location: location.map(str::to_string),
            secret: "stripe".into(),
            version: Version::Latest,
        };
        let token = [("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.a0")];
        let origins = |pairs: &[(&str, &str)]| {
            let connection = settings(pairs).connection(&fake(&token)).ok();
            [None, Some("europe-west1")].map(|location| {
                connection
                    .as_ref()
                    .map(|c| c.origin(&target(location)).to_string())
            })
        };
        assert_eq!(
            origins(&[]),
            [
                Some("https://secretmanager.googleapis.com:443".into()),
                Some("https://secretmanager.europe-west1.rep.googleapis.com:443".into()),
            ]
        );
        // config.location changes no origin by itself: the target carries it.
        assert_eq!(origins(&[("location", "us-east1")]), origins(&[]));
        // config.endpoint serves global and regional secrets alike.
        let local = Some("http://127.0.0.1:8085".to_string());
        assert_eq!(
            origins(&[("endpoint", "http://127.0.0.1:8085")]),
            [local.clone(), local]
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:9",
            "http://127.1.2.3",
            "http://localhost:8085",
            "http://[::1]:8085",
            "https://secretmanager.example.com",
        ] {
            settings(&[("endpoint", ok)]);
        }
        for bad in [
            "http://10.0.0.1:8085",
            "http://127.example.com",
            "http://secretmanager.googleapis.com",
        ] {
            let m = config_error(&[("endpoint", bad)]);
            assert!(m.contains("must use https://"), "{m}");
        }
    }

    #[test]
    fn missing_or_unusable_tokens_fail_at_resolve() {
        let s = settings(&[]);
        // No variable and no metadata server asked for: named, with how.
        let m = connection_error(&s, &[]);
        assert!(
            m.starts_with("GOOGLE_OAUTH_ACCESS_TOKEN is not visible to the Google Cloud provider")
                && m.contains("grants.env")
                && m.contains("config.metadata: true"),
            "{m}"
        );
        // With config.metadata: the metadata server will be asked, at its
        // usual address, or at GCE_METADATA_HOST (which alone asks for it).
        let c = settings(&[("metadata", "true")])
            .connection(&fake(&[]))
            .ok();
        assert!(c.is_some_and(|c| {
            c.token.is_empty()
                && matches!(&c.source, Source::Metadata(m) if m.url("") == "http://metadata.google.internal")
        }));
        let c = s
            .connection(&fake(&[("GCE_METADATA_HOST", "127.0.0.1:8089")]))
            .ok();
        assert!(c.is_some_and(|c| {
            matches!(&c.source, Source::Metadata(m) if m.url("") == "http://127.0.0.1:8089")
        }));
        let m = connection_error(&s, &[("GCE_METADATA_HOST", "a b/c")]);
        assert!(m.starts_with("GCE_METADATA_HOST"), "{m}");
        let m = connection_error(&s, &[("GOOGLE_OAUTH_ACCESS_TOKEN", " \n")]);
        assert!(m.contains("is empty"), "{m}");
        let m = connection_error(&s, &[("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29 secret")]);
        assert!(m.contains("cannot carry") && !m.contains("ya29"), "{m}");
    }
}
