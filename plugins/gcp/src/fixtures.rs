//! What the unit tests share: a local Secret Manager connection and a target.

use crate::reference::{Target, Version};
use crate::settings::{Connection, Origin, Source};

/// A local endpoint and a token, as the tests talk to them.
pub fn connection() -> Connection {
    match Origin::parse_base("http://127.0.0.1:8085") {
        Ok(endpoint) => Connection {
            endpoint: Some(endpoint),
            token: "ya29.test-token".into(),
            token_env: "GOOGLE_OAUTH_ACCESS_TOKEN".into(),
            source: Source::Ready,
            renew_at: None,
            quota_project: None,
        },
        Err(why) => panic!("{why}"),
    }
}

/// Secret `stripe` of project `acme` at `version`.
pub fn target(version: Version) -> Target {
    Target {
        project: "acme".into(),
        location: None,
        secret: "stripe".into(),
        version,
    }
}
