//! The provider's configuration: `config:` keys, the environment it reads at the
//! first resolve, and the Connect server's origin.

use reqflo_plugin_sdk::{Config, env};

use crate::Error;

/// The provider as its messages name it.
const PROVIDER: &str = "1Password";

/// Where the Connect server's URL comes from when `config.host` is absent.
const HOST_ENV: &str = "OP_CONNECT_HOST";
/// Where the token comes from unless `config.token_env` names another variable.
const DEFAULT_TOKEN_ENV: &str = "OP_CONNECT_TOKEN";

/// What `configure` accepted. The environment is read later, at the first
/// resolve, so a run whose journeys never use this provider does not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    host: Option<Origin>,
    token_env: String,
}

/// A Connect server and the token to call it with.
pub struct Connection {
    /// The server's `scheme://host:port`.
    pub origin: Origin,
    /// The bearer token; secret, never part of a message.
    pub token: String,
}

impl Settings {
    /// Accept the provider's `config:` map (`host`, `token_env`).
    ///
    /// Not `Config::parse`: its unknown-key message is worded differently, and
    /// users (and tests) know this one.
    pub fn from_config(config: Config) -> Result<Settings, Error> {
        let mut host = None;
        let mut token_env = DEFAULT_TOKEN_ENV.to_string();
        for (key, value) in config {
            match key.as_str() {
                "host" => {
                    let origin = Origin::parse_base(&value).map_err(|why| {
                        Error::InvalidReference(format!(
                            "config.host is not a usable 1Password Connect URL: it {why}"
                        ))
                    })?;
                    host = Some(origin);
                }
                "token_env" => token_env = env::variable_name("token_env", &value)?,
                other => {
                    return Err(Error::InvalidReference(format!(
                        "unknown config key `{other}` for the 1Password provider \
                         (known: host, token_env)"
                    )));
                }
            }
        }
        Ok(Settings { host, token_env })
    }

    /// The server and token, from config and the sandbox's environment
    /// (`read` is `env::var` in the component). Values are trimmed, which
    /// forgives the newline of `$(cat file)`.
    pub fn connection(&self, read: impl env::Read) -> Result<Connection, Error> {
        let origin = match &self.host {
            Some(origin) => origin.clone(),
            None => {
                let text = env::required(&read, PROVIDER, HOST_ENV, " (or set config.host)")?;
                Origin::parse_base(&text).map_err(|why| {
                    Error::Unavailable(format!(
                        "{HOST_ENV} is not a usable 1Password Connect URL: it {why}"
                    ))
                })?
            }
        };
        let name = &self.token_env;
        let advice = " (or point config.token_env at another variable)";
        let token = env::required(&read, PROVIDER, name, advice)?;
        // A token travels in a header: anything but visible ASCII there would be
        // refused by the HTTP layer with a far less helpful message.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Unavailable(format!(
                "{name} does not hold a 1Password Connect token: \
                 it has characters an HTTP header cannot carry"
            )));
        }
        Ok(Connection { origin, token })
    }
}

/// The Connect server's origin, or where a redirect pointed (the SDK's).
pub use reqflo_plugin_sdk::origin::Origin;

#[cfg(test)]
mod tests {
    use super::*;
    use reqflo_plugin_sdk::env::fake as env;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        match Settings::from_config(Config::of(pairs)) {
            Ok(settings) => settings,
            Err(e) => panic!("{}", e.message()),
        }
    }

    #[test]
    fn base_urls() {
        let origin = |url| Origin::parse_base(url).map(|o| o.to_string());
        assert_eq!(
            origin("http://localhost:8080"),
            Ok("http://localhost:8080".into())
        );
        assert_eq!(
            origin("https://OP.example.com/"),
            Ok("https://op.example.com:443".into())
        );
        assert_eq!(origin("HTTP://10.0.0.1"), Ok("http://10.0.0.1:80".into()));
        assert_eq!(origin("http://[::1]:9000"), Ok("http://[::1]:9000".into()));
        assert!(origin("op.example.com").is_err());
        assert!(origin("ftp://op.example.com").is_err());
        assert!(origin("https://op.example.com/v1").is_err());
        assert!(origin("https://op.example.com?x=1").is_err());
        assert!(origin("https://user:pw@op.example.com").is_err());
        assert!(origin("https://op.example.com:0").is_err());
        assert!(origin("https://op.example.com:99999").is_err());
        assert!(origin("https://:8080").is_err());
        assert!(origin("https://op example.com").is_err());
    }

    #[test]
    fn authority_is_host_and_port() {
        let origin = Origin::parse_base("https://op.example.com").ok();
        assert_eq!(
            origin.map(|o| o.authority()),
            Some("op.example.com:443".into())
        );
    }

    #[test]
    fn locations_name_only_their_origin() {
        let base = Origin::parse_base("http://connect:8080").ok();
        let Some(base) = base else { panic!("base") };
        let to = |location| base.of_location(location).map(|o| o.to_string());
        assert_eq!(
            to("https://evil.example/steal?token=abc"),
            Some("https://evil.example:443".into())
        );
        assert_eq!(to("//other:81/x"), Some("http://other:81".into()));
        assert_eq!(to("/v1/login"), Some("http://connect:8080".into()));
        assert_eq!(to("javascript:alert(1)"), None);
        assert_eq!(to("https://a\u{1b}b/"), None);
    }

    #[test]
    fn unknown_config_keys_are_named() {
        match Settings::from_config(Config::of(&[("vault", "x")])) {
            Err(Error::InvalidReference(m)) => assert_eq!(
                m,
                "unknown config key `vault` for the 1Password provider (known: host, token_env)"
            ),
            other => panic!("{:?}", other.map_err(|e| e.message().to_string())),
        }
        assert!(Settings::from_config(Config::of(&[("host", "https://x/v1")])).is_err());
        assert!(Settings::from_config(Config::of(&[("token_env", "")])).is_err());
    }

    #[test]
    fn missing_environment_fails_at_resolve_not_configure() {
        let s = settings(&[]);
        let e = s
            .connection(env(&[]))
            .err()
            .map(|e| e.message().to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "OP_CONNECT_HOST is not visible to the 1Password provider: set it and list it \
                 under the provider's grants.env (or set config.host)"
            )
        );
        let e = s
            .connection(env(&[("OP_CONNECT_HOST", "http://c:8080")]))
            .err()
            .map(|e| e.message().to_string());
        assert!(e.is_some_and(|m| m.starts_with("OP_CONNECT_TOKEN is not visible")));
    }

    #[test]
    fn config_host_and_token_env_win() {
        let s = settings(&[("host", "http://connect:8080/"), ("token_env", "MY_TOKEN")]);
        let vars = [
            ("OP_CONNECT_HOST", "http://ignored"),
            ("OP_CONNECT_TOKEN", "wrong"),
            ("MY_TOKEN", " tok.en \n"),
        ];
        match s.connection(env(&vars)) {
            Ok(c) => {
                assert_eq!(c.origin.to_string(), "http://connect:8080");
                assert_eq!(c.token, "tok.en");
            }
            Err(e) => panic!("{}", e.message()),
        }
    }

    #[test]
    fn bad_environment_values() {
        let s = settings(&[]);
        let bad_host = [
            ("OP_CONNECT_HOST", "connect:8080"),
            ("OP_CONNECT_TOKEN", "t"),
        ];
        assert!(s.connection(env(&bad_host)).is_err());
        let bad_token = [("OP_CONNECT_HOST", "http://c"), ("OP_CONNECT_TOKEN", "a b")];
        let e = s
            .connection(env(&bad_token))
            .err()
            .map(|e| e.message().to_string());
        assert!(e.is_some_and(|m| m.contains("cannot carry") && !m.contains("a b")));
        let empty = [("OP_CONNECT_HOST", "http://c"), ("OP_CONNECT_TOKEN", "  ")];
        let e = s
            .connection(env(&empty))
            .err()
            .map(|e| e.message().to_string());
        assert!(e.is_some_and(|m| m.contains("OP_CONNECT_TOKEN is empty")));
    }
}
