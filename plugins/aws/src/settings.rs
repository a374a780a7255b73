//! The provider's configuration: `config:` keys (`region`, `endpoint`), and
//! the region and credentials it reads from its environment at the first
//! resolve.

use reqflo_plugin_sdk::{Config, env, http};

use crate::Error;
use crate::endpoint::Endpoint;
use crate::profile::{Shared, Sts};

/// The access key ID, as every AWS tool names it.
const ACCESS_KEY_ENV: &str = "AWS_ACCESS_KEY_ID";
/// The secret access key.
const SECRET_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token of temporary credentials (optional).
const SESSION_TOKEN_ENV: &str = "AWS_SESSION_TOKEN";
/// Where the region comes from without `config.region`, in the SDKs' order.
const REGION_ENVS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// What `configure` accepted. The environment is read later, at the first
/// resolve, so a run whose journeys never use this provider does not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    region: Option<String>,
    endpoint: Option<Endpoint>,
    /// `instance_metadata: true`: with no keys in the environment, ask the
    /// EC2 instance metadata service (IMDSv2) for the instance role's.
    instance_metadata: bool,
}

/// Where the credentials come from, in the order of aws-config, the AWS
/// SDK for Rust (other SDKs try a web identity before the profile). Its
/// `Debug` is written by hand: a container's authorization is a secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    Environment,
    /// The static keys of this profile of the shared files ([`crate::profile`]).
    Profile(String),
    /// A profile's `role_arn`, assumed at STS with its `source_profile`'s keys.
    AssumeRole(crate::sts::AssumeRole),
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`: a token exchanged
    /// at STS (EKS IAM roles for service accounts).
    WebIdentity(crate::sts::WebIdentity),
    /// The ECS or EKS Pod Identity container credentials endpoint
    /// (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, or `…_RELATIVE_URI` on
    /// 169.254.170.2), with `AWS_CONTAINER_AUTHORIZATION_TOKEN` if set.
    Container {
        /// The endpoint's URL.
        url: String,
        /// The `Authorization` header's value; secret.
        authorization: Option<String>,
    },
    /// EC2's instance metadata service, IMDSv2 (`AWS_EC2_METADATA_SERVICE_ENDPOINT`
    /// or `http://169.254.169.254`).
    Instance {
        /// `scheme://host[:port]`.
        endpoint: String,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Environment => f.write_str("Environment"),
            Source::Profile(name) => f.debug_tuple("Profile").field(name).finish(),
            Source::AssumeRole(role) => f.debug_tuple("AssumeRole").field(role).finish(),
            Source::WebIdentity(web) => f.debug_tuple("WebIdentity").field(web).finish(),
            Source::Container { url, authorization } => f
                .debug_struct("Container")
                .field("url", url)
                .field(
                    "authorization",
                    &authorization.as_ref().map(|_| "<redacted>"),
                )
                .finish(),
            Source::Instance { endpoint } => f
                .debug_struct("Instance")
                .field("endpoint", endpoint)
                .finish(),
        }
    }
}

/// Where to send requests and how to sign them.
pub struct Connection {
    /// The region in the signature's scope (and the default endpoint's name).
    pub region: String,
    /// The Secrets Manager endpoint.
    pub endpoint: Endpoint,
    /// The credentials that sign each request; empty until a credential
    /// endpoint has given them.
    pub credentials: Credentials,
    /// Where they come from, and are renewed from.
    pub source: Source,
    /// When credentials from an endpoint expire.
    pub expires: Option<std::time::SystemTime>,
}

/// AWS credentials. No `Debug`: nothing here may reach a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA…` (long-term) or `ASIA…` (temporary).
    pub access_key_id: String,
    /// The signing key; it never leaves the sandbox, not even in a header.
    pub secret_access_key: String,
    /// The token that comes with temporary credentials.
    pub session_token: Option<String>,
}

impl Credentials {
    /// None yet: a credential endpoint hands them out at the first resolve.
    pub fn none() -> Credentials {
        Credentials {
            access_key_id: String::new(),
            secret_access_key: String::new(),
            session_token: None,
        }
    }
}

impl Settings {
    /// Accept the provider's `config:` map (`region`, `endpoint`).
    ///
    /// Parsed by hand rather than by `Config::parse`: the messages name the
    /// AWS provider and its keys in their own words, which users and tests
    /// already rely on.
    pub fn from_config(config: &Config) -> Result<Settings, Error> {
        let mut settings = Settings {
            region: None,
            endpoint: None,
            instance_metadata: false,
        };
        for (key, value) in config.pairs() {
            match key.as_str() {
                "region" => {
                    let region = value.trim();
                    check_region(region).map_err(|why| {
                        Error::InvalidReference(format!("config.region {region:?} {why}"))
                    })?;
                    settings.region = Some(region.to_string());
                }
                "endpoint" => {
                    let endpoint = crate::endpoint::parse(value).map_err(|why| {
                        Error::InvalidReference(format!(
                            "config.endpoint is not a usable Secrets Manager URL: it {why}"
                        ))
                    })?;
                    settings.endpoint = Some(endpoint);
                }
                "instance_metadata" => {
                    settings.instance_metadata = match value.trim() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(Error::InvalidReference(format!(
                                "config.instance_metadata is {other:?}; it is true or false"
                            )));
                        }
                    };
                }
                other => {
                    return Err(Error::InvalidReference(format!(
                        "unknown config key `{other}` for the AWS provider (known: region, \
                         endpoint, instance_metadata)"
                    )));
                }
            }
        }
        Ok(settings)
    }

    /// The region, endpoint and credentials, from config and the sandbox's
    /// environment (`read` is `env::var` in the component) and files.
    pub fn connection(&self, read: impl env::Read) -> Result<Connection, Error> {
        self.connection_with(read, |path| std::fs::read_to_string(path))
    }

    /// [`Settings::connection`], with the shared files read by `open`.
    pub fn connection_with(
        &self,
        read: impl env::Read,
        open: impl Fn(&str) -> std::io::Result<String>,
    ) -> Result<Connection, Error> {
        let env_keys = !matches!(read(ACCESS_KEY_ENV), Err(std::env::VarError::NotPresent));
        let region = match &self.region {
            Some(region) => Some(region.clone()),
            None => region_from_env(&read)?,
        };
        // The shared files matter for the credentials when the environment
        // holds no key, and for the region when nothing else names one: then
        // a file the keys make needless does not fail the run.
        let shared = if !env_keys {
            Some(Shared::load(&read, open)?)
        } else if region.is_none() {
            Shared::load_for_region(&read, open)
        } else {
            None
        };
        let region = match (region, shared.as_ref().and_then(Shared::region)) {
            (Some(region), _) => region,
            (None, Some(region)) => {
                check_region(region).map_err(|why| {
                    let profile = shared.as_ref().map(Shared::name).unwrap_or_default();
                    Error::Unavailable(format!(
                        "the region {region:?} of AWS profile `{profile}` {why}"
                    ))
                })?;
                region.to_string()
            }
            (None, None) => {
                return Err(Error::Unavailable(
                    "no AWS region: set config.region, or set AWS_REGION (or \
                     AWS_DEFAULT_REGION) and list it under the provider's grants.env, or give \
                     the profile a region in the shared config file"
                        .into(),
                ));
            }
        };
        let endpoint = match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => crate::endpoint::for_region(&region),
        };
        let connection = |source, credentials| Connection {
            region: region.clone(),
            endpoint: endpoint.clone(),
            credentials,
            source,
            expires: None,
        };
        if !env_keys {
            let sts = sts_url(&read, &region);
            let from_profile = match &shared {
                Some(shared) => shared.credentials(&Sts {
                    url: &sts,
                    region: &region,
                })?,
                None => None,
            };
            if let Some((source, credentials)) = from_profile {
                return Ok(connection(source, credentials));
            }
            if let Some(source) = self.endpoint_source(&read, sts) {
                return Ok(connection(source, Credentials::none()));
            }
        }
        // Without keys, the platform may hand them out.
        let access_key_id = env::required(
            &read,
            "AWS",
            ACCESS_KEY_ENV,
            " (or use a profile of the shared files; on ECS or EKS, grant \
             AWS_CONTAINER_CREDENTIALS_FULL_URI instead; on EC2, config.instance_metadata: true)",
        )?;
        // The key ID travels in the Authorization header and the token in its
        // own: anything but visible ASCII would be refused far less helpfully
        // by the HTTP layer. Neither value is ever quoted.
        if !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::Unavailable(format!(
                "{ACCESS_KEY_ENV} does not hold an AWS access key ID: it has characters other \
                 than letters and digits"
            )));
        }
        let secret_access_key = env::required(&read, "AWS", SECRET_KEY_ENV, "")?;
        let session_token = match env::optional(&read, SESSION_TOKEN_ENV)? {
            Some(token) if token.is_empty() => None,
            Some(token) if !http::is_header_token(&token) => {
                return Err(Error::Unavailable(format!(
                    "{SESSION_TOKEN_ENV} does not hold an AWS session token: it has \
                     characters an HTTP header cannot carry"
                )));
            }
            token => token,
        };
        let credentials = Credentials {
            access_key_id,
            secret_access_key,
            session_token,
        };
        Ok(connection(Source::Environment, credentials))
    }

    /// A credential endpoint the environment or config names: STS for a web
    /// identity, else the container's, else the instance's (when asked for).
    fn endpoint_source(&self, read: &impl env::Read, sts: String) -> Option<Source> {
        // A value that is not UTF-8 names no endpoint, as an unset one.
        let visible = |name: &str| {
            env::optional(read, name)
                .ok()
                .flatten()
                .filter(|v| !v.is_empty())
        };
        if let (Some(token_file), Some(role_arn)) = (
            visible("AWS_WEB_IDENTITY_TOKEN_FILE"),
            visible("AWS_ROLE_ARN"),
        ) {
            return Some(Source::WebIdentity(crate::sts::WebIdentity::from_env(
                token_file,
                role_arn,
                visible("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| "reqflo".into()),
                sts,
            )));
        }
        let container = visible("AWS_CONTAINER_CREDENTIALS_FULL_URI").or_else(|| {
            visible("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                .map(|path| format!("http://169.254.170.2{path}"))
        });
        if let Some(url) = container {
            return Some(Source::Container {
                url,
                authorization: visible("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            });
        }
        let endpoint = visible("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        if endpoint.is_some() || self.instance_metadata {
            return Some(Source::Instance {
                endpoint: endpoint
                    .unwrap_or_else(|| "http://169.254.169.254".into())
                    .trim_end_matches('/')
                    .to_string(),
            });
        }
        None
    }
}

impl Settings {
    /// Whether config.endpoint names the endpoint (then an ARN's region
    /// changes only the signature's scope).
    pub fn has_endpoint(&self) -> bool {
        self.endpoint.is_some()
    }
}

/// Whether `region` is a usable region name.
pub fn valid_region(region: &str) -> bool {
    check_region(region).is_ok()
}

/// STS's `scheme://host[:port]`: `AWS_ENDPOINT_URL_STS`, or the region's.
fn sts_url(read: &impl env::Read, region: &str) -> String {
    env::optional(read, "AWS_ENDPOINT_URL_STS")
        .ok()
        .flatten()
        .filter(|v| !v.is_empty())
        .map(|url| url.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"))
}

/// The first of `AWS_REGION`, `AWS_DEFAULT_REGION` that the sandbox sees.
fn region_from_env(read: &impl env::Read) -> Result<Option<String>, Error> {
    for name in REGION_ENVS {
        if let Ok(region) = read(name) {
            let region = region.trim();
            if region.is_empty() {
                continue;
            }
            check_region(region)
                .map_err(|why| Error::Unavailable(format!("{name} {region:?} {why}")))?;
            return Ok(Some(region.to_string()));
        }
    }
    Ok(None)
}

/// Why `region` cannot be a region name; the error completes "config.region … ".
///
/// A region becomes part of a host name and of the signature's scope, so it
/// is held to what AWS uses (`eu-west-2`, `us-gov-east-1`).
fn check_region(region: &str) -> Result<(), &'static str> {
    let valid = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err("is not an AWS region name (like eu-west-2)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqflo_plugin_sdk::env::fake;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        accepted(Settings::from_config(&Config::of(pairs)))
    }

    #[test]
    fn a_sources_debug_shows_no_authorization() {
        let container = Source::Container {
            url: "http://169.254.170.2/creds".into(),
            authorization: Some("canary-auth-token".into()),
        };
        let shown = format!("{container:?}");
        assert!(!shown.contains("canary-auth-token"), "{shown}");
        assert_eq!(
            shown,
            r#"Container { url: "http://169.254.170.2/creds", authorization: Some("<redacted>") }"#
        );
        assert_eq!(
            format!("{:?}", Source::Profile("ci".into())),
            r#"Profile("ci")"#
        );
    }

    /// Why `pairs` are refused; a bad config is an invalid reference.
    fn config_error(pairs: &[(&str, &str)]) -> String {
        refused(
            Settings::from_config(&Config::of(pairs)),
            "invalid-reference",
        )
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ];

    /// Why `s` cannot connect with `vars`; every such error is unavailable.
    fn connection_error(s: &Settings, vars: &[(&str, &str)]) -> String {
        // No `Debug` for a connection (it holds credentials): one shows as `()`.
        refused(s.connection(fake(vars)).map(|_| ()), "unavailable")
    }

    #[test]
    fn unknown_and_bad_config_is_named() {
        assert_eq!(
            config_error(&[("secret", "x")]),
            "unknown config key `secret` for the AWS provider (known: region, endpoint, instance_metadata)"
        );
        for bad in ["EU-WEST-2", "eu west", "", "-eu", "eu-west-2.evil.com"] {
            let message = config_error(&[("region", bad)]);
            assert!(message.starts_with("config.region"), "{message}");
        }
        let message = config_error(&[("endpoint", "http://x/path")]);
        assert!(message.starts_with("config.endpoint"), "{message}");
        assert_eq!(
            config_error(&[("instance_metadata", " yes ")]),
            "config.instance_metadata is \"yes\"; it is true or false"
        );
    }

    #[test]
    fn config_wins_then_aws_region_then_aws_default_region() {
        let vars = [
            KEYS[0],
            KEYS[1],
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "ap-south-1"),
        ];
        let region = |s: &Settings, vars: &[(&str, &str)]| {
            let c = accepted(s.connection(fake(vars)));
            (c.region, c.endpoint.to_string())
        };
        assert_eq!(
            region(&settings(&[("region", "eu-west-2")]), &vars),
            (
                "eu-west-2".into(),
                "https://secretsmanager.eu-west-2.amazonaws.com".into()
            )
        );
        assert_eq!(region(&settings(&[]), &vars).0, "us-east-1");
        assert_eq!(
            region(&settings(&[]), &[vars[0], vars[1], vars[3]]).0,
            "ap-south-1"
        );
        let custom = settings(&[
            ("region", "eu-west-2"),
            ("endpoint", "http://127.0.0.1:5000"),
        ]);
        assert_eq!(region(&custom, &vars).1, "http://127.0.0.1:5000");
        let defaults = settings(&[]);
        assert_eq!(
            connection_error(&defaults, &KEYS),
            "no AWS region: set config.region, or set AWS_REGION (or AWS_DEFAULT_REGION) and \
             list it under the provider's grants.env, or give the profile a region in the \
             shared config file"
        );
        assert!(
            connection_error(&defaults, &[KEYS[0], KEYS[1], ("AWS_REGION", "x y")])
                .starts_with("AWS_REGION \"x y\" is not an AWS region name")
        );
    }

    #[test]
    fn credentials_come_from_the_granted_environment() {
        let s = settings(&[("region", "eu-west-2")]);
        let c = accepted(s.connection(fake(&[
            KEYS[0],
            ("AWS_SECRET_ACCESS_KEY", " wJalr/K7+EXAMPLEKEY\n"),
            ("AWS_SESSION_TOKEN", "FwoGZX+IvYX/dz=="),
        ])));
        assert_eq!(c.credentials.access_key_id, "AKIDEXAMPLE");
        assert_eq!(c.credentials.secret_access_key, "wJalr/K7+EXAMPLEKEY");
        assert_eq!(
            c.credentials.session_token.as_deref(),
            Some("FwoGZX+IvYX/dz==")
        );
        let c = accepted(s.connection(fake(&KEYS)));
        assert!(c.credentials.session_token.is_none());
        assert_eq!(
            connection_error(&s, &[KEYS[1]]),
            "AWS_ACCESS_KEY_ID is not visible to the AWS provider: set it and list it under \
             the provider's grants.env (or use a profile of the shared files; on ECS or EKS, \
             grant AWS_CONTAINER_CREDENTIALS_FULL_URI instead; on EC2, \
             config.instance_metadata: true)"
        );
        assert!(
            connection_error(&s, &[KEYS[0]]).starts_with("AWS_SECRET_ACCESS_KEY is not visible")
        );
        assert!(
            connection_error(&s, &[KEYS[0], ("AWS_SECRET_ACCESS_KEY", " ")])
                .contains("AWS_SECRET_ACCESS_KEY is empty")
        );
        let bad_id = connection_error(&s, &[("AWS_ACCESS_KEY_ID", "AKID EXAMPLE"), KEYS[1]]);
        assert!(
            bad_id.contains("does not hold an AWS access key ID"),
            "{bad_id}"
        );
        assert!(!bad_id.contains("AKID EXAMPLE"));
        let bad_token = connection_error(
            &s,
            &[KEYS[0], KEYS[1], ("AWS_SESSION_TOKEN", "Zq9\u{7f}Xw")],
        );
        assert!(bad_token.contains("cannot carry"), "{bad_token}");
        assert!(!bad_token.contains("Zq9"));
    }

    #[test]
    fn keys_win_then_a_web_identity_then_the_container() {
        let s = settings(&[("region", "eu-west-2")]);
        let web = [
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app"),
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:1/creds",
            ),
        ];
        let c = accepted(s.connection(fake(&web)));
        let Source::WebIdentity(identity) = c.source else {
            panic!("not a web identity")
        };
        assert_eq!(identity.sts, "https://sts.eu-west-2.amazonaws.com");
        assert_eq!(identity.session_name, "reqflo");
        assert_eq!(identity.token_file, "/var/run/secrets/token");
        let mut overridden = web.to_vec();
        overridden.push(("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000/"));
        overridden.push(("AWS_ROLE_SESSION_NAME", "ci"));
        let c = accepted(s.connection(fake(&overridden)));
        assert!(matches!(c.source, Source::WebIdentity(ref w)
            if w.sts == "http://127.0.0.1:5000" && w.session_name == "ci"));
        // Keys in the environment come first; a role alone is no identity.
        let mut with_keys = web.to_vec();
        with_keys.extend(KEYS);
        assert_eq!(
            accepted(s.connection(fake(&with_keys))).source,
            Source::Environment
        );
        let c = accepted(s.connection(fake(&web[1..])));
        assert!(matches!(c.source, Source::Container { .. }));
    }
}
