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
    use reqflo_plugin_sdk::testing::{accepted, refused};

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        accepted(Settings::from_config(Config::of(pairs)))
    }

    /// The message `connection` refuses `vars` with, as unavailable.
    fn unavailable(s: &Settings, vars: &[(&str, &str)]) -> String {
        // The origin stands for the connection, which has no `Debug`: it
        // holds the token.
        refused(s.connection(env(vars)).map(|c| c.origin), "unavailable")
    }

    #[test]
    fn config_host_is_an_origin() {
        let host = |url| settings(&[("host", url)]).host.map(|o| o.to_string());
        for (url, origin) in [
            ("http://localhost:8080", "http://localhost:8080"),
            ("https://OP.example.com/", "https://op.example.com:443"),
            ("HTTP://10.0.0.1", "http://10.0.0.1:80"),
            ("http://[::1]:9000", "http://[::1]:9000"),
        ] {
            assert_eq!(host(url).as_deref(), Some(origin), "{url}");
        }
        let authority = settings(&[("host", "https://op.example.com")]).host;
        assert_eq!(
            authority.map(|o| o.authority()),
            Some("op.example.com:443".into())
        );
        for bad in [
            "op.example.com",
            "ftp://op.example.com",
            "https://op.example.com/v1",
            "https://op.example.com?x=1",
            "https://user:pw@op.example.com",
            "https://op.example.com:0",
            "https://op.example.com:99999",
            "https://:8080",
            "https://op example.com",
        ] {
            let refusal = Settings::from_config(Config::of(&[("host", bad)]));
            let message = refused(refusal, "invalid-reference");
            assert!(
                message.starts_with("config.host is not a usable 1Password Connect URL: it "),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn unknown_config_keys_are_named() {
        assert_eq!(
            refused(
                Settings::from_config(Config::of(&[("vault", "x")])),
                "invalid-reference"
            ),
            "unknown config key `vault` for the 1Password provider (known: host, token_env)"
        );
        assert!(Settings::from_config(Config::of(&[("token_env", "")])).is_err());
    }

    #[test]
    fn missing_environment_fails_at_resolve_not_configure() {
        let s = settings(&[]);
        assert_eq!(
            unavailable(&s, &[]),
            "OP_CONNECT_HOST is not visible to the 1Password provider: set it and list it \
             under the provider's grants.env (or set config.host)"
        );
        let no_token = unavailable(&s, &[("OP_CONNECT_HOST", "http://c:8080")]);
        assert!(no_token.starts_with("OP_CONNECT_TOKEN is not visible"));
    }

    #[test]
    fn config_host_and_token_env_win() {
        let s = settings(&[("host", "http://connect:8080/"), ("token_env", "MY_TOKEN")]);
        let vars = [
            ("OP_CONNECT_HOST", "http://ignored"),
            ("OP_CONNECT_TOKEN", "wrong"),
            ("MY_TOKEN", " tok.en \n"),
        ];
        let c = accepted(s.connection(env(&vars)));
        assert_eq!(c.origin.to_string(), "http://connect:8080");
        assert_eq!(c.token, "tok.en");
    }

    #[test]
    fn bad_environment_values() {
        let s = settings(&[]);
        let host = |url| [("OP_CONNECT_HOST", url), ("OP_CONNECT_TOKEN", "t")];
        let token = |value| [("OP_CONNECT_HOST", "http://c"), ("OP_CONNECT_TOKEN", value)];
        for (vars, says) in [
            (
                host("connect:8080"),
                "OP_CONNECT_HOST is not a usable 1Password Connect URL",
            ),
            (token("a b"), "cannot carry"),
            (token("  "), "OP_CONNECT_TOKEN is empty"),
        ] {
            let message = unavailable(&s, &vars);
            // Never the token itself: it is a secret.
            assert!(
                message.contains(says) && !message.contains("a b"),
                "{vars:?}: {message}"
            );
        }
    }
}
