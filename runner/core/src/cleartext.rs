//! The plain-HTTP rule: a credential or a secret-bearing request goes to a
//! host other than loopback over TLS only, unless its entry in reqflo.yaml
//! says `allow_http: true`.
//!
//! Loopback is `127.0.0.0/8`, `::1` and the name `localhost` (RFC 6761 reserves
//! it, and `*.localhost`, for loopback): what tests and local development use,
//! and where nothing crosses a network. Every other host, private addresses
//! included, is somewhere a packet capture can read the value.

use std::net::IpAddr;

/// Whether `host` (as in a URL: an IPv6 address with or without brackets, a
/// name with or without a trailing dot) is the local machine.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            // `::ffff:127.0.0.1` is the same loopback address, mapped.
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether sending a credential to `scheme://host` breaks the rule: plain
/// `http` to a host other than loopback, with no `allow_http: true`.
pub fn refused(scheme: &str, host: &str, allow_http: bool) -> bool {
    scheme.eq_ignore_ascii_case("http") && !allow_http && !is_loopback(host)
}

/// The end of every refusal message: what to do instead.
pub const HINT: &str = "use https, or set `allow_http: true` on its entry in reqflo.yaml if plain HTTP is really meant";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_127_slash_8_v6_one_and_localhost() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
            "localhost",
            "LOCALHOST.",
            "api.localhost",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "192.168.1.1",
            "0.0.0.0",
            "::",
            "128.0.0.1",
            "example.com",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn only_plain_http_off_loopback_without_the_opt_in_is_refused() {
        assert!(refused("http", "vault.example.com", false));
        assert!(refused("HTTP", "10.0.0.1", false));
        assert!(!refused("http", "vault.example.com", true));
        assert!(!refused("http", "127.0.0.1", false));
        assert!(!refused("https", "vault.example.com", false));
    }
}
