//! The hook's configuration, as plain Rust so the unit tests run natively.

/// How the client secret reaches the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`).
    Body,
}

/// The hook's settings, from its `config:` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The token endpoint.
    pub token_url: String,
    /// The client ID.
    pub client_id: String,
    /// Space-separated scopes, if any.
    pub scope: Option<String>,
    /// Extra form fields (`audience`).
    pub extra: Vec<(String, String)>,
    /// How the client secret is sent.
    pub auth: Auth,
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
            token_url: String::new(),
            client_id: String::new(),
            scope: None,
            extra: Vec::new(),
            auth: Auth::Basic,
            secret: None,
            header: "Authorization".into(),
            format: "Bearer {secret}".into(),
        };
        for (i, (key, value)) in config.iter().enumerate() {
            if config[..i].iter().any(|(k, _)| k == key) {
                return Err(format!("config `{key}` is given twice"));
            }
            let bad = |why: &str| format!("config `{key}` {why}");
            match key.as_str() {
                "token_url" => {
                    let lower = value.to_ascii_lowercase();
                    let scheme = lower.starts_with("https://") || lower.starts_with("http://");
                    if !scheme || value.contains(char::is_whitespace) {
                        return Err(bad("must be an http:// or https:// URL"));
                    }
                    token_url = Some(value.clone());
                }
                "client_id" => {
                    if value.is_empty() {
                        return Err(bad("is empty"));
                    }
                    client_id = Some(value.clone());
                }
                "scope" => {
                    if !value.trim().is_empty() {
                        settings.scope = Some(value.trim().to_string());
                    }
                }
                "audience" => {
                    if value.is_empty() {
                        return Err(bad("is empty"));
                    }
                    settings.extra.push(("audience".into(), value.clone()));
                }
                "auth" => {
                    settings.auth = match value.as_str() {
                        "basic" => Auth::Basic,
                        "body" => Auth::Body,
                        _ => return Err(bad(&format!("is `{value}`; use basic or body"))),
                    }
                }
                "secret" => {
                    if value.is_empty() {
                        return Err(bad("is empty; name one of the hook's secrets"));
                    }
                    settings.secret = Some(value.clone());
                }
                "header" => {
                    let token =
                        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
                    if value.is_empty() || !value.chars().all(token) {
                        return Err(bad(&format!("`{value}` is not a valid header name")));
                    }
                    settings.header = value.clone();
                }
                "format" => {
                    if value.matches("{secret}").count() != 1 {
                        return Err(bad("must use `{secret}` exactly once"));
                    }
                    settings.format = value.clone();
                }
                other => {
                    return Err(format!(
                        "unknown config `{other}` (known: {})",
                        KEYS.join(", ")
                    ));
                }
            }
        }
        settings.token_url = token_url.ok_or("config `token_url` is missing")?;
        settings.client_id = client_id.ok_or("config `client_id` is missing")?;
        Ok(settings)
    }

    /// Pick the client secret among the granted secrets' names.
    pub fn secret_index(&self, granted: &[&str]) -> Result<usize, String> {
        let list = || {
            if granted.is_empty() {
                "none".to_string()
            } else {
                granted
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        match &self.secret {
            Some(name) => granted.iter().position(|g| g == name).ok_or_else(|| {
                format!(
                    "config `secret` names `{name}`, which is not granted to this hook (granted: {})",
                    list()
                )
            }),
            None if granted.len() == 1 => Ok(0),
            None if granted.is_empty() => Err(
                "no secret is granted to this hook; list the client secret under `secrets:`"
                    .into(),
            ),
            None => Err(format!(
                "several secrets are granted ({}); say which one is the client secret with config `secret`",
                list()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const MINIMAL: [(&str, &str); 2] = [
        ("token_url", "https://auth.example.com/oauth/token"),
        ("client_id", "reqflo-ci"),
    ];

    fn refused(extra: &[(&str, &str)]) -> String {
        let mut pairs = MINIMAL.to_vec();
        pairs.extend_from_slice(extra);
        match Settings::from_config(&config(&pairs)) {
            Ok(s) => panic!("accepted {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults_send_a_bearer_token_with_basic_auth() {
        let s = Settings::from_config(&config(&MINIMAL));
        assert_eq!(
            s,
            Ok(Settings {
                token_url: "https://auth.example.com/oauth/token".into(),
                client_id: "reqflo-ci".into(),
                scope: None,
                extra: vec![],
                auth: Auth::Basic,
                secret: None,
                header: "Authorization".into(),
                format: "Bearer {secret}".into(),
            })
        );
    }

    #[test]
    fn every_key_is_read() {
        let mut pairs = MINIMAL.to_vec();
        pairs.extend_from_slice(&[
            ("scope", " read write "),
            ("audience", "https://api.example.com"),
            ("auth", "body"),
            ("secret", "client_secret"),
            ("header", "X-Api-Token"),
            ("format", "Token {secret}"),
        ]);
        let s = Settings::from_config(&config(&pairs)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.scope.as_deref(), Some("read write"));
        assert_eq!(
            s.extra,
            vec![(
                "audience".to_string(),
                "https://api.example.com".to_string()
            )]
        );
        assert_eq!(s.auth, Auth::Body);
        assert_eq!(s.secret.as_deref(), Some("client_secret"));
        assert_eq!(s.header, "X-Api-Token");
        assert_eq!(s.format, "Token {secret}");
    }

    #[test]
    fn bad_config_names_the_key() {
        assert_eq!(
            Settings::from_config(&config(&[("client_id", "x")])),
            Err("config `token_url` is missing".into())
        );
        assert_eq!(
            Settings::from_config(&config(&[("token_url", "https://a/t")])),
            Err("config `client_id` is missing".into())
        );
        assert_eq!(
            refused(&[("tokenurl", "x")]),
            "unknown config `tokenurl` (known: token_url, client_id, scope, audience, auth, secret, header, format)"
        );
        assert_eq!(
            Settings::from_config(&config(&[("token_url", "ftp://a/t"), ("client_id", "x")])),
            Err("config `token_url` must be an http:// or https:// URL".into())
        );
        assert_eq!(
            refused(&[("auth", "digest")]),
            "config `auth` is `digest`; use basic or body"
        );
        assert_eq!(
            refused(&[("format", "Bearer")]),
            "config `format` must use `{secret}` exactly once"
        );
        assert_eq!(
            refused(&[("format", "{secret} {secret}")]),
            "config `format` must use `{secret}` exactly once"
        );
        assert_eq!(
            refused(&[("header", "Auth orization")]),
            "config `header` `Auth orization` is not a valid header name"
        );
        assert_eq!(refused(&[("audience", "")]), "config `audience` is empty");
        assert_eq!(
            refused(&[("client_id", "y")]),
            "config `client_id` is given twice"
        );
    }

    #[test]
    fn the_client_secret_is_the_named_or_only_secret() {
        let only = Settings::from_config(&config(&MINIMAL)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(only.secret_index(&["cs"]), Ok(0));
        assert_eq!(
            only.secret_index(&[]),
            Err(
                "no secret is granted to this hook; list the client secret under `secrets:`".into()
            )
        );
        assert_eq!(
            only.secret_index(&["a", "b"]),
            Err("several secrets are granted (`a`, `b`); say which one is the client secret with config `secret`".into())
        );
        let mut pairs = MINIMAL.to_vec();
        pairs.push(("secret", "b"));
        let named = Settings::from_config(&config(&pairs)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(named.secret_index(&["a", "b"]), Ok(1));
        assert_eq!(
            named.secret_index(&["a"]),
            Err(
                "config `secret` names `b`, which is not granted to this hook (granted: `a`)"
                    .into()
            )
        );
    }
}
