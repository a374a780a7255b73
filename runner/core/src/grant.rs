//! Network grants: which hosts a plugin may reach (`grants.hosts`), and
//! whether a credential may go there over plain HTTP.

/// One entry of `grants.hosts`: `host`, `host:port`, `https://host[:port]`
/// or `http://host[:port]`; `*.example.com` matches any subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGrant {
    scheme: Option<&'static str>,
    host: String,
    port: Option<u16>,
}

impl HostGrant {
    /// Parse one grant as written in reqflo.yaml.
    pub fn parse(text: &str) -> Result<HostGrant, String> {
        let written = text.trim();
        let (scheme, rest) = match written.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "http" => (Some("http"), rest),
                "https" => (Some("https"), rest),
                other => {
                    return Err(format!(
                        "`{written}`: plugins may use http and https only, not `{other}`"
                    ));
                }
            },
            None => (None, written),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.chars().any(char::is_whitespace) {
            return Err(format!(
                "`{written}` is not a host grant: write `host`, `host:port` or `https://host:port`, without a path"
            ));
        }
        let (host, port) = split_host_port(rest).ok_or_else(|| {
            format!("`{written}` has a port that is not a number from 1 to 65535")
        })?;
        let bare = host.strip_prefix("*.").unwrap_or(host);
        if bare.is_empty() || bare.contains('*') {
            return Err(format!(
                "`{written}` names no host (a wildcard may only start a name: `*.example.com`)"
            ));
        }
        Ok(HostGrant {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Parse one grant of an entry whose `allow_http` is as given: an explicit
    /// `http://` grant to a host other than loopback needs it.
    pub fn parse_allowing(text: &str, allow_http: bool) -> Result<HostGrant, String> {
        let grant = HostGrant::parse(text)?;
        if grant.scheme == Some("http")
            && !allow_http
            && !crate::cleartext::is_loopback(&grant.host)
        {
            return Err(format!(
                "`{}` is plain HTTP to a host other than loopback, and credentials go there over TLS only ({})",
                text.trim(),
                crate::cleartext::HINT
            ));
        }
        Ok(grant)
    }

    /// Whether a request to `scheme://host:port` is covered by this grant.
    /// Without a port, only the scheme's default port is allowed.
    /// Whether this grant covers `target`.
    pub fn allows(&self, target: &Target) -> bool {
        if self.scheme.is_some_and(|s| s != target.scheme) {
            return false;
        }
        let port_ok = match self.port {
            Some(port) => port == target.port,
            None => target.port == default_port(target.scheme),
        };
        let host_ok = match self.host.strip_prefix("*.") {
            Some(suffix) => target
                .host
                .strip_suffix(suffix)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => self.host == target.host,
        };
        port_ok && host_ok
    }
}

/// Whether any of `grants` covers a request to `uri`.
pub fn grants_allow(grants: &[HostGrant], uri: &http::Uri) -> bool {
    Target::of(uri).is_some_and(|target| grants.iter().any(|g| g.allows(&target)))
}

/// Why a credential may not go to `uri` over plain HTTP, if it may not: the
/// URL uses `http` to a host other than loopback and `allow_http` is off.
pub fn cleartext_refusal(uri: &http::Uri, allow_http: bool) -> Option<String> {
    let target = Target::of(uri)?;
    crate::cleartext::refused(target.scheme, &target.host, allow_http).then(|| {
        format!(
            "tried to reach {target} over plain HTTP; credentials go to hosts other than loopback over TLS only ({})",
            crate::cleartext::HINT
        )
    })
}

impl std::fmt::Display for HostGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{scheme}://")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// `host[:port]` with IPv6 in brackets; `None` when the port is not a port.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    match port {
        None => Some((host, None)),
        Some(port) => match port.parse::<u16>() {
            Ok(0) | Err(_) => None,
            Ok(port) => Some((host, Some(port))),
        },
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// Where a request is going, as the grant check sees it.
#[derive(Debug)]
pub struct Target {
    scheme: &'static str,
    host: String,
    port: u16,
}

impl Target {
    /// The scheme, host and port of `uri`; `None` for other schemes.
    pub fn of(uri: &http::Uri) -> Option<Target> {
        let scheme = match uri.scheme_str()?.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            _ => return None,
        };
        let authority = uri.authority()?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Target {
            scheme,
            port: authority.port_u16().unwrap_or(default_port(scheme)),
            host,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::of(&url.parse().expect("uri")).expect("target")
    }

    fn allows(grant: &str, url: &str) -> bool {
        HostGrant::parse(grant).expect("grant").allows(&target(url))
    }

    #[test]
    fn grants_match_scheme_host_and_port() {
        assert!(allows("127.0.0.1:8200", "http://127.0.0.1:8200/v1/x"));
        assert!(allows("127.0.0.1:8200", "https://127.0.0.1:8200/"));
        assert!(!allows("127.0.0.1:8200", "http://127.0.0.1:8201/"));
        assert!(!allows("127.0.0.1:8200", "http://127.0.0.2:8200/"));
        assert!(allows(
            "https://Vault.Example.com",
            "https://vault.example.com/v1"
        ));
        assert!(!allows(
            "https://vault.example.com",
            "http://vault.example.com/"
        ));
        assert!(!allows(
            "https://vault.example.com",
            "https://vault.example.com:8443/"
        ));
        assert!(allows("api.example.com", "http://api.example.com/"));
        assert!(!allows(
            "api.example.com",
            "http://api.example.com.evil.net/"
        ));
        assert!(allows("*.example.com", "https://a.b.example.com/"));
        assert!(!allows("*.example.com", "https://example.com/"));
        assert!(!allows("*.example.com", "https://badexample.com/"));
        assert!(allows("[::1]:8080", "http://[::1]:8080/"));
        assert!(!allows("[::1]:8080", "http://[::2]:8080/"));
    }

    #[test]
    fn bad_grants_are_refused() {
        for bad in [
            "ftp://host",
            "host:0",
            "host:99999",
            "host/path",
            "https://user@host",
            "",
            "*",
            "a.*.com",
            "[::1",
        ] {
            assert!(HostGrant::parse(bad).is_err(), "{bad} should be refused");
        }
        let grant = HostGrant::parse("HTTPS://Connect.Internal:8443/").expect("grant");
        assert_eq!(grant.to_string(), "https://connect.internal:8443");
    }
}
