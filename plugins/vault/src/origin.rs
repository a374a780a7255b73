//! The Vault server's address as an origin, `scheme://host:port`.
//!
//! The same rules as the 1Password plugin's (each plugin is its own crate, so
//! the code is repeated rather than shared): no credentials, no path, a host
//! that is safe to print and to put back into a URL.

use std::fmt;

/// An HTTP origin, `scheme://host:port`: the Vault server, or where a
/// redirect pointed. It never carries a path, so it never carries a query
/// string that might hold something sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// Parse a Vault address: http or https, no credentials, no path but `/`.
    /// The error completes "it …".
    pub fn parse_base(url: &str) -> Result<Origin, &'static str> {
        let (origin, rest) = Origin::parse_prefix(url.trim())?;
        if !rest.is_empty() && rest != "/" {
            return Err("has a path, query or fragment; give just scheme://host[:port]");
        }
        Ok(origin)
    }

    /// The origin a `Location` header points to, relative to `self`; `None` when
    /// it cannot be read (the caller then names no destination).
    pub fn of_location(&self, location: &str) -> Option<Origin> {
        let location = location.trim();
        if let Some(rest) = location.strip_prefix("//") {
            let scheme = if self.https { "https://" } else { "http://" };
            return Origin::parse_prefix(&format!("{scheme}{rest}"))
                .ok()
                .map(|(origin, _)| origin);
        }
        if location.starts_with('/') {
            return Some(self.clone());
        }
        Origin::parse_prefix(location)
            .ok()
            .map(|(origin, _)| origin)
    }

    /// `host:port`, the form `grants.hosts` uses.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A URL on this origin; `path_and_query` starts with `/`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{self}{path_and_query}")
    }

    /// Split `scheme://authority` off `url`, returning the rest.
    fn parse_prefix(url: &str) -> Result<(Origin, &str), &'static str> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("must start with http:// or https://")?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err("must start with http:// or https://");
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        if authority.contains('@') {
            return Err("carries a user name or password; the token comes from the environment");
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None if https => 443,
            None => 80,
            Some(port) => match port.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return Err("has an invalid port"),
            },
        };
        Ok((
            Origin {
                https,
                host: host.to_ascii_lowercase(),
                port,
            },
            rest,
        ))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// `host[:port]` or `[v6][:port]`, with a host that is safe to print and to
/// put back into a URL.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']').ok_or("has an invalid host name")?;
        let inside = &rest[..close];
        if inside.is_empty()
            || !inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.".contains(c))
        {
            return Err("has an invalid host name");
        }
        let host = &authority[..close + 2];
        match &rest[close + 1..] {
            "" => (host, None),
            after => (
                host,
                Some(after.strip_prefix(':').ok_or("has an invalid port")?),
            ),
        }
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !valid {
            return Err("has an invalid host name");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("has no host name");
    }
    if host.len() > 253 {
        return Err("has an invalid host name");
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let origin = |url| Origin::parse_base(url).map(|o| o.to_string());
        assert_eq!(
            origin("http://127.0.0.1:8200"),
            Ok("http://127.0.0.1:8200".into())
        );
        assert_eq!(
            origin(" https://Vault.example.com/ "),
            Ok("https://vault.example.com:443".into())
        );
        assert_eq!(origin("http://[::1]:8200"), Ok("http://[::1]:8200".into()));
        assert!(origin("vault.example.com:8200").is_err());
        assert!(origin("https://vault.example.com/v1").is_err());
        assert!(origin("https://user:pw@vault.example.com").is_err());
        assert!(origin("https://vault.example.com:0").is_err());
        assert!(origin("https://vault example.com").is_err());
        assert!(origin("https://:8200").is_err());
    }

    #[test]
    fn locations_name_only_their_origin() {
        let Ok(base) = Origin::parse_base("http://vault:8200") else {
            panic!("base")
        };
        let to = |location| base.of_location(location).map(|o| o.to_string());
        assert_eq!(
            to("https://active.vault:8200/v1/secret/data/x?token=abc"),
            Some("https://active.vault:8200".into())
        );
        assert_eq!(to("//other:81/x"), Some("http://other:81".into()));
        assert_eq!(to("/v1/x"), Some("http://vault:8200".into()));
        assert_eq!(to("javascript:alert(1)"), None);
        assert_eq!(base.authority(), "vault:8200");
    }
}
