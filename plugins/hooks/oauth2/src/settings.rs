//! The hook's configuration, as plain Rust so the unit tests run natively.

use reqflo_hook_support::config::{Role, each_once, header_name, secret_name, unknown};
use reqflo_hook_support::{ClientAuth, ClientCredentials};

/// The hook's settings, from its `config:` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The grant but its client secret: the token endpoint, the client ID,
    /// the scopes and extra form fields (`audience`), and how the client
    /// secret is sent. Kept as the host's own record, so that each request
    /// hands it over as it is.
    pub grant: ClientCredentials,
    /// The granted secret that is the client secret; `None`: the only one.
    pub secret: Option<String>,
    /// The header that carries the token.
    pub header: String,
    /// The header's value, with `{secret}` where the token goes.
    pub format: String,
}

/// Every key `config:` may have.
const KEYS: [&str; 8] = [
    "token_url",
    "client_id",
    "scope",
    "audience",
    "auth",
    "secret",
    "header",
    "format",
];

impl Settings {
    /// Read the `config:` map; the message of an error names the key.
    pub fn from_config(config: &[(String, String)]) -> Result<Settings, String> {
        let mut token_url = None;
        let mut client_id = None;
        let mut settings = Settings {
            grant: ClientCredentials {
                token_url: String::new(),
                client_id: String::new(),
                scope: None,
                extra: Vec::new(),
                auth: ClientAuth::Basic,
            },
            secret: None,
            header: "Authorization".into(),
            format: "Bearer {secret}".into(),
        };
        for entry in each_once(config) {
            let (key, value) = entry?;
            let bad = |why: &str| format!("config `{key}` {why}");
            match key {
                "token_url" => {
                    let lower = value.to_ascii_lowercase();
                    let scheme = lower.starts_with("https://") || lower.starts_with("http://");
                    if !scheme || value.contains(char::is_whitespace) {
                        return Err(bad("must be an http:// or https:// URL"));
                    }
                    token_url = Some(value.to_string());
                }
                "client_id" => {
                    if value.is_empty() {
                        return Err(bad("is empty"));
                    }
                    client_id = Some(value.to_string());
                }
                "scope" => {
                    if !value.trim().is_empty() {
                        settings.grant.scope = Some(value.trim().to_string());
                    }
                }
                "audience" => {
                    if value.is_empty() {
                        return Err(bad("is empty"));
                    }
                    settings
                        .grant
                        .extra
                        .push(("audience".into(), value.to_string()));
                }
                "auth" => {
                    settings.grant.auth = match value {
                        "basic" => ClientAuth::Basic,
                        "body" => ClientAuth::Body,
                        _ => return Err(bad(&format!("is `{value}`; use basic or body"))),
                    }
                }
                "secret" => settings.secret = Some(secret_name(value).map_err(|e| bad(&e))?),
                "header" => settings.header = header_name(value).map_err(|e| bad(&e))?,
                "format" => {
                    if value.matches("{secret}").count() != 1 {
                        return Err(bad("must use `{secret}` exactly once"));
                    }
                    settings.format = value.to_string();
                }
                other => return Err(unknown(other, &KEYS)),
            }
        }
        settings.grant.token_url = token_url.ok_or("config `token_url` is missing")?;
        settings.grant.client_id = client_id.ok_or("config `client_id` is missing")?;
        Ok(settings)
    }
}

/// How the messages speak of the granted secret that is the client secret.
pub const CLIENT_SECRET: Role = Role {
    noun: "the client secret",
    which: "is the client secret",
};

#[cfg(test)]
mod tests {
    use super::*;
    use reqflo_hook_support::config::choose;
    use reqflo_hook_support::testing::{accepted, config, refused};

    const TOKEN_URL: (&str, &str) = ("token_url", "https://auth.example.com/oauth/token");
    const CLIENT_ID: (&str, &str) = ("client_id", "reqflo-ci");
    const MINIMAL: [(&str, &str); 2] = [TOKEN_URL, CLIENT_ID];

    /// The settings of `MINIMAL` and `extra`.
    fn with(extra: &[(&str, &str)]) -> Result<Settings, String> {
        let mut pairs = MINIMAL.to_vec();
        pairs.extend_from_slice(extra);
        Settings::from_config(&config(&pairs))
    }

    #[test]
    fn defaults_send_a_bearer_token_with_basic_auth() {
        assert_eq!(
            with(&[]),
            Ok(Settings {
                grant: ClientCredentials {
                    token_url: "https://auth.example.com/oauth/token".into(),
                    client_id: "reqflo-ci".into(),
                    scope: None,
                    extra: vec![],
                    auth: ClientAuth::Basic,
                },
                secret: None,
                header: "Authorization".into(),
                format: "Bearer {secret}".into(),
            })
        );
    }

    #[test]
    fn every_key_is_read() {
        let s = accepted(with(&[
            ("scope", " read write "),
            ("audience", "https://api.example.com"),
            ("auth", "body"),
            ("secret", "client_secret"),
            ("header", "X-Api-Token"),
            ("format", "Token {secret}"),
        ]));
        assert_eq!(s.grant.scope.as_deref(), Some("read write"));
        assert_eq!(
            s.grant.extra,
            vec![(
                "audience".to_string(),
                "https://api.example.com".to_string()
            )]
        );
        assert_eq!(s.grant.auth, ClientAuth::Body);
        assert_eq!(s.secret.as_deref(), Some("client_secret"));
        assert_eq!(s.header, "X-Api-Token");
        assert_eq!(s.format, "Token {secret}");
    }

    #[test]
    fn bad_config_names_the_key() {
        let required = [
            (&[("client_id", "x")][..], "config `token_url` is missing"),
            (
                &[("token_url", "https://a/t")],
                "config `client_id` is missing",
            ),
            (
                &[("token_url", "ftp://a/t"), ("client_id", "x")],
                "config `token_url` must be an http:// or https:// URL",
            ),
        ];
        for (pairs, message) in required {
            assert_eq!(refused(Settings::from_config(&config(pairs))), message);
        }
        let beside_minimal = [
            (
                ("tokenurl", "x"),
                "unknown config `tokenurl` (known: token_url, client_id, scope, audience, auth, secret, header, format)",
            ),
            (
                ("auth", "digest"),
                "config `auth` is `digest`; use basic or body",
            ),
            (
                ("format", "Bearer"),
                "config `format` must use `{secret}` exactly once",
            ),
            (
                ("format", "{secret} {secret}"),
                "config `format` must use `{secret}` exactly once",
            ),
            (
                ("header", "Auth orization"),
                "config `header` `Auth orization` is not a valid header name",
            ),
            (("audience", ""), "config `audience` is empty"),
            (("client_id", "y"), "config `client_id` is given twice"),
        ];
        for (pair, message) in beside_minimal {
            assert_eq!(refused(with(&[pair])), message);
        }
    }

    #[test]
    fn the_client_secret_is_the_named_or_only_secret() {
        let only = accepted(with(&[])).secret;
        let named = accepted(with(&[("secret", "b")])).secret;
        assert_eq!(choose(&["cs"], only.as_deref(), &CLIENT_SECRET), Ok(0));
        assert_eq!(choose(&["a", "b"], named.as_deref(), &CLIENT_SECRET), Ok(1));
        let refusals = [
            (
                &[][..],
                only.as_deref(),
                "no secret is granted to this hook; list the client secret under `secrets:`",
            ),
            (
                &["a", "b"],
                only.as_deref(),
                "several secrets are granted (`a`, `b`); say which one is the client secret with config `secret`",
            ),
            (
                &["a"],
                named.as_deref(),
                "config `secret` names `b`, which is not granted to this hook (granted: `a`)",
            ),
        ];
        for (granted, named, message) in refusals {
            assert_eq!(choose(granted, named, &CLIENT_SECRET), Err(message.into()));
        }
    }
}
