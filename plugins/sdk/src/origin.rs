//! A server's address as an origin, `scheme://host[:port]`: parsed from what a
//! user configured, or from where a redirect pointed.
//!
//! An origin never carries a path, so it never carries a query string that
//! might hold something sensitive, and its host is checked to be safe to
//! print and to put back into a URL. Providers name servers in their error
//! messages with it.

use std::fmt;

/// An HTTP origin, `scheme://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
    /// Print `https://host` rather than `https://host:443`.
    short: bool,
}

impl Origin {
    /// Parse a server address: http or https, no credentials, no path but
    /// `/`. The error completes "it …" (`endpoint `x` {why}`).
    pub fn parse_base(url: &str) -> Result<Origin, &'static str> {
        let (origin, rest) = Origin::parse_prefix(url.trim())?;
        if !rest.is_empty() && rest != "/" {
            return Err("has a path, query or fragment; give just scheme://host[:port]");
        }
        Ok(origin)
    }

    /// `https://host`, port 443, for a host name the caller built from
    /// checked parts (a region name, say).
    pub fn https(host: &str) -> Origin {
        Origin {
            https: true,
            host: host.to_ascii_lowercase(),
            port: 443,
            short: false,
        }
    }

    /// The same origin, printed without the scheme's default port
    /// (`https://host`), as users usually write it. Origins derived from it
    /// by [`Origin::of_location`] print the same way.
    pub fn without_default_port(self) -> Origin {
        Origin {
            short: true,
            ..self
        }
    }

    /// The origin a `Location` header points to, relative to `self`; `None`
    /// when it cannot be read (the caller then names no destination).
    pub fn of_location(&self, location: &str) -> Option<Origin> {
        let location = location.trim();
        let parsed = if let Some(rest) = location.strip_prefix("//") {
            let scheme = if self.https { "https://" } else { "http://" };
            Origin::parse_prefix(&format!("{scheme}{rest}"))
                .ok()
                .map(|(origin, _)| origin)
        } else if location.starts_with('/') {
            return Some(self.clone());
        } else {
            Origin::parse_prefix(location)
                .ok()
                .map(|(origin, _)| origin)
        };
        parsed.map(|origin| Origin {
            short: self.short,
            ..origin
        })
    }

    /// Where a redirect from this origin pointed, as a message says it:
    /// `to https://active:8200` (only the origin: a path or query may carry
    /// anything), `to a location reqflo could not read`, or `without a
    /// location` when the answer named none.
    pub fn redirect_destination(&self, location: Option<&str>) -> String {
        match location.map(|l| self.of_location(l)) {
            Some(Some(to)) => format!("to {to}"),
            Some(None) => "to a location reqflo could not read".to_string(),
            None => "without a location".to_string(),
        }
    }

    /// `host:port`, the form `grants.hosts` uses.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The host name (lowercase), or `[v6]` address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Whether the host is this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.as_str();
        host == "localhost"
            || host == "[::1]"
            || host
                .strip_prefix("127.")
                .is_some_and(|rest| rest.split('.').count() == 3)
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
            return Err("carries a user name or password; credentials come from the environment");
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
                short: false,
            },
            rest,
        ))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default_port) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", self.host)?;
        if !self.short || self.port != default_port {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
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

    fn origin(url: &str) -> Result<String, &'static str> {
        Origin::parse_base(url).map(|o| o.to_string())
    }

    #[test]
    fn addresses_print_with_their_port_or_without_the_default_one() {
        for (url, printed, short) in [
            (
                "http://127.0.0.1:8200",
                "http://127.0.0.1:8200",
                "http://127.0.0.1:8200",
            ),
            (
                " https://Vault.example.com/ ",
                "https://vault.example.com:443",
                "https://vault.example.com",
            ),
            ("HTTP://10.0.0.1", "http://10.0.0.1:80", "http://10.0.0.1"),
            (
                "http://[::1]:8200",
                "http://[::1]:8200",
                "http://[::1]:8200",
            ),
            (
                "https://SM.example.com/",
                "https://sm.example.com:443",
                "https://sm.example.com",
            ),
            (
                "https://sm.example.com:443",
                "https://sm.example.com:443",
                "https://sm.example.com",
            ),
            ("http://h:443", "http://h:443", "http://h:443"),
            ("http://h", "http://h:80", "http://h"),
        ] {
            let parsed = Origin::parse_base(url);
            assert_eq!(
                parsed.as_ref().map(|o| o.to_string()).as_deref(),
                Ok(printed)
            );
            let short_form = parsed.map(|o| o.without_default_port().to_string());
            assert_eq!(short_form.as_deref(), Ok(short), "{url}");
        }
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "vault.example.com:8200",
            "ftp://vault.example.com",
            "https://vault.example.com/v1",
            "https://vault.example.com?x=1",
            "https://user:pw@vault.example.com",
            "https://vault.example.com:0",
            "https://vault.example.com:99999",
            "https://vault example.com",
            "https://:8200",
            "https://[zz]:1",
            "https://[::1]x",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
        assert_eq!(
            origin("https://u:p@v"),
            Err("carries a user name or password; credentials come from the environment")
        );
        assert_eq!(
            origin(&format!("https://{}", "a".repeat(254))),
            Err("has an invalid host name")
        );
    }

    #[test]
    fn built_origins_give_urls_and_authorities() {
        let aws = Origin::https("secretsmanager.eu-west-2.amazonaws.com").without_default_port();
        assert_eq!(
            aws.url("/"),
            "https://secretsmanager.eu-west-2.amazonaws.com/"
        );
        assert_eq!(
            aws.authority(),
            "secretsmanager.eu-west-2.amazonaws.com:443"
        );
        // A short origin's redirects print short too.
        assert_eq!(
            aws.of_location("https://evil.example/x")
                .map(|o| o.to_string()),
            Some("https://evil.example".into())
        );
    }

    #[test]
    fn locations_name_only_their_origin() {
        let Ok(base) = Origin::parse_base("http://vault:8200") else {
            panic!("base")
        };
        for (location, named, destination) in [
            (
                "https://active.vault:8200/v1/secret/data/x?token=abc",
                Some("https://active.vault:8200"),
                "to https://active.vault:8200",
            ),
            (
                "//other:81/x",
                Some("http://other:81"),
                "to http://other:81",
            ),
            ("/v1/x", Some("http://vault:8200"), "to http://vault:8200"),
            (
                "javascript:alert(1)",
                None,
                "to a location reqflo could not read",
            ),
            (
                "https://a\u{1b}b/",
                None,
                "to a location reqflo could not read",
            ),
        ] {
            let origin = base.of_location(location).map(|o| o.to_string());
            assert_eq!(origin.as_deref(), named, "{location}");
            assert_eq!(base.redirect_destination(Some(location)), destination);
        }
        assert_eq!(base.redirect_destination(None), "without a location");
        assert_eq!(base.authority(), "vault:8200");
        assert_eq!(
            (base.host(), base.port(), base.is_https()),
            ("vault", 8200, false)
        );
    }

    #[test]
    fn loopback() {
        for (url, loopback) in [
            ("http://localhost:1", true),
            ("http://127.0.0.1", true),
            ("http://[::1]:9", true),
            ("http://127.0.0.1.example.com", false),
            ("http://10.0.0.1", false),
        ] {
            assert_eq!(
                Origin::parse_base(url).map(|o| o.is_loopback()),
                Ok(loopback),
                "{url}"
            );
        }
    }
}
