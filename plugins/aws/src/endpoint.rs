//! The Secrets Manager endpoint: `scheme://host[:port]`, from `config.endpoint`
//! or derived from the region, and the origin of a redirect's `Location`.

use std::fmt;

/// An HTTP origin. It never carries a path, so it never carries a query
/// string that might hold something sensitive, and it prints the way the
/// user would write it (no `:443` after an `https://` host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    host: String,
    port: u16,
}

impl Endpoint {
    /// Parse an endpoint URL: http or https, no credentials, no path but `/`.
    /// The error completes "it …".
    pub fn parse(url: &str) -> Result<Endpoint, &'static str> {
        let (endpoint, rest) = Endpoint::parse_prefix(url.trim())?;
        if !rest.is_empty() && rest != "/" {
            return Err("has a path, query or fragment; give just scheme://host[:port]");
        }
        Ok(endpoint)
    }

    /// AWS's public endpoint for Secrets Manager in `region` (a checked
    /// region name: lowercase letters, digits and `-`).
    pub fn for_region(region: &str) -> Endpoint {
        // The China partition lives under its own domain.
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Endpoint {
            https: true,
            host: format!("secretsmanager.{region}.{domain}"),
            port: 443,
        }
    }

    /// The origin a `Location` header points to, relative to `self`; `None`
    /// when it cannot be read (the caller then names no destination).
    pub fn of_location(&self, location: &str) -> Option<Endpoint> {
        let location = location.trim();
        if let Some(rest) = location.strip_prefix("//") {
            let scheme = if self.https { "https://" } else { "http://" };
            return Endpoint::parse_prefix(&format!("{scheme}{rest}"))
                .ok()
                .map(|(endpoint, _)| endpoint);
        }
        if location.starts_with('/') {
            return Some(self.clone());
        }
        Endpoint::parse_prefix(location)
            .ok()
            .map(|(endpoint, _)| endpoint)
    }

    /// `host:port`, the form `grants.hosts` uses.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URL every request goes to: the JSON protocol always posts to `/`.
    pub fn url(&self) -> String {
        format!("{self}/")
    }

    /// Split `scheme://authority` off `url`, returning the rest.
    fn parse_prefix(url: &str) -> Result<(Endpoint, &str), &'static str> {
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
            Endpoint {
                https,
                host: host.to_ascii_lowercase(),
                port,
            },
            rest,
        ))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default_port) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default_port {
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

    #[test]
    fn endpoints_print_as_written() {
        let endpoint = |url| Endpoint::parse(url).map(|e| e.to_string());
        assert_eq!(
            endpoint("http://127.0.0.1:4566"),
            Ok("http://127.0.0.1:4566".into())
        );
        assert_eq!(
            endpoint("https://SM.example.com/"),
            Ok("https://sm.example.com".into())
        );
        assert_eq!(
            endpoint("https://sm.example.com:443"),
            Ok("https://sm.example.com".into())
        );
        assert_eq!(
            endpoint("http://[::1]:9000"),
            Ok("http://[::1]:9000".into())
        );
        for bad in [
            "sm.example.com",
            "ftp://sm.example.com",
            "https://sm.example.com/v1",
            "https://sm.example.com?x=1",
            "https://AKID:secret@sm.example.com",
            "https://sm.example.com:0",
            "https://sm.example.com:99999",
            "https://:8080",
            "https://sm example.com",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_have_their_public_endpoint() {
        let eu = Endpoint::for_region("eu-west-2");
        assert_eq!(eu.url(), "https://secretsmanager.eu-west-2.amazonaws.com/");
        assert_eq!(eu.authority(), "secretsmanager.eu-west-2.amazonaws.com:443");
        assert_eq!(
            Endpoint::for_region("cn-north-1").to_string(),
            "https://secretsmanager.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn locations_name_only_their_origin() {
        let Ok(base) = Endpoint::parse("http://moto:5000") else {
            panic!("base")
        };
        let to = |location| base.of_location(location).map(|e| e.to_string());
        assert_eq!(
            to("https://evil.example/steal?X-Amz-Signature=abc"),
            Some("https://evil.example".into())
        );
        assert_eq!(to("//other:81/x"), Some("http://other:81".into()));
        assert_eq!(to("/login"), Some("http://moto:5000".into()));
        assert_eq!(to("javascript:alert(1)"), None);
        assert_eq!(to("https://a\u{1b}b/"), None);
    }
}
