//! The Secrets Manager endpoint: `scheme://host[:port]`, from `config.endpoint`
//! or derived from the region, and the origin of a redirect's `Location`.
//!
//! An endpoint is the SDK's [`Origin`], printed the way the user would write
//! it (no `:443` after an `https://` host).

use reqflo_plugin_sdk::origin::Origin;

/// The endpoint requests go to.
pub type Endpoint = Origin;

/// Parse an endpoint URL: http or https, no credentials, no path but `/`.
/// The error completes "it …".
pub fn parse(url: &str) -> Result<Endpoint, &'static str> {
    Origin::parse_base(url).map(Origin::without_default_port)
}

/// AWS's public endpoint for Secrets Manager in `region` (a checked region
/// name: lowercase letters, digits and `-`).
pub fn for_region(region: &str) -> Endpoint {
    // The China partition lives under its own domain.
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Origin::https(&format!("secretsmanager.{region}.{domain}")).without_default_port()
}

/// The URL every request goes to: the JSON protocol always posts to `/`.
pub fn url(endpoint: &Endpoint) -> String {
    endpoint.url("/")
}

/// The endpoint the unit tests talk to: moto's, as the integration tests
/// run it.
#[cfg(test)]
pub fn moto() -> Endpoint {
    match parse("http://moto:5000") {
        Ok(endpoint) => endpoint,
        Err(why) => panic!("{why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_print_as_written() {
        // Configured or derived from a region, an endpoint prints as users
        // write it: no `:443` after an `https://` host.
        for (endpoint, printed) in [
            (parse("http://127.0.0.1:4566"), "http://127.0.0.1:4566"),
            (parse("https://SM.example.com/"), "https://sm.example.com"),
            (
                parse("https://sm.example.com:443"),
                "https://sm.example.com",
            ),
            (parse("http://[::1]:9000"), "http://[::1]:9000"),
            (
                Ok(for_region("cn-north-1")),
                "https://secretsmanager.cn-north-1.amazonaws.com.cn",
            ),
        ] {
            assert_eq!(endpoint.map(|e| e.to_string()).as_deref(), Ok(printed));
        }
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
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_have_their_public_endpoint() {
        let eu = for_region("eu-west-2");
        assert_eq!(url(&eu), "https://secretsmanager.eu-west-2.amazonaws.com/");
        assert_eq!(eu.authority(), "secretsmanager.eu-west-2.amazonaws.com:443");
    }

    #[test]
    fn locations_name_only_their_origin() {
        let base = moto();
        for (location, origin) in [
            (
                "https://evil.example/steal?X-Amz-Signature=abc",
                Some("https://evil.example"),
            ),
            ("//other:81/x", Some("http://other:81")),
            ("/login", Some("http://moto:5000")),
            ("javascript:alert(1)", None),
            ("https://a\u{1b}b/", None),
        ] {
            let to = base.of_location(location).map(|e| e.to_string());
            assert_eq!(to.as_deref(), origin, "{location}");
        }
    }
}
