//! From a parsed reference to a secret: one `:access` call per secret version,
//! kept for the rest of the run.
//!
//! The plugin instance lives for the whole run and `resolve` is called once per
//! distinct reference, so a journey naming five keys of one JSON secret must
//! not cost five calls. Only successes are cached: a 503 or a timeout may pass.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::http::Transport;

use crate::Error;
use crate::access;
use crate::payload;
use crate::reference::{Reference, Target, Version};
use crate::settings::{Connection, Settings};

/// A configured provider and the payloads it has read so far in this run.
pub struct Provider {
    settings: Settings,
    connection: Option<Connection>,
    /// (project, location, secret, version) → the decoded payload.
    payloads: HashMap<Target, Rc<Vec<u8>>>,
}

impl Provider {
    /// A provider that has not talked to Secret Manager yet.
    pub fn new(settings: Settings) -> Provider {
        Provider {
            settings,
            connection: None,
            payloads: HashMap::new(),
        }
    }

    /// The bytes `reference` points to: a version's payload, or one key of it.
    pub fn resolve(
        &mut self,
        reference: &Reference,
        transport: &mut impl Transport,
        read: impl env::Read,
    ) -> Result<Vec<u8>, Error> {
        // Checked before the token: a reference that cannot work needs none.
        let target = reference.target(
            self.settings.project.as_deref(),
            self.settings.location.as_deref(),
        )?;
        if self.connection.is_none() {
            // Not cached on failure: the next reference reports the same problem.
            self.connection = Some(self.settings.connection(&read)?);
        }
        let data = self.payload(&target, transport)?;
        match &reference.key {
            None => Ok(data.to_vec()),
            Some(key) => payload::pick(&target, &data, key),
        }
    }

    fn payload(
        &mut self,
        target: &Target,
        transport: &mut impl Transport,
    ) -> Result<Rc<Vec<u8>>, Error> {
        if let Some(data) = self.payloads.get(target) {
            return Ok(Rc::clone(data));
        }
        let connection = self.connection.as_mut().ok_or_else(|| {
            Error::Unavailable("the Google Cloud provider has no connection".into())
        })?;
        crate::token::fresh_token(connection, transport, Instant::now())?;
        let accessed = access::access(connection, target, transport)?;
        let data = Rc::new(accessed.data);
        // `latest` and an alias name a numbered version; remember it under that number too,
        // so pinning the same version later in the run costs nothing.
        if let (Version::Latest | Version::Alias(_), Some(number)) =
            (&target.version, accessed.version)
        {
            self.payloads
                .insert(target.at(Version::Number(number)), Rc::clone(&data));
        }
        self.payloads.insert(target.clone(), Rc::clone(&data));
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::Config;
    use reqflo_plugin_sdk::http::{ErrorBody, Failure, Limits, Scripted};
    use reqflo_plugin_sdk::testing::{accepted, refused};

    use super::*;
    use crate::reference::parse;

    const ENDPOINT: &str = "http://127.0.0.1:8085";
    const SECRET_JSON: &str = r#"{"api_key": "sk_1", "webhook": "wh_1", "account": "acct_1"}"#;
    /// The metadata server the tests point GCE_METADATA_HOST at.
    const METADATA: &str = "http://127.0.0.1:8089";

    /// Secret Manager's answers, scripted by path under [`ENDPOINT`].
    trait SecretManager {
        /// Answer `path` with version `number` of a secret holding `data`.
        fn version(self, path: &str, number: u64, data: &str) -> Scripted;
        /// Answer `path` with `status` and `body`.
        fn at(self, path: &str, status: u16, body: &str) -> Scripted;
        /// Answer the metadata server's token route with `status` and `body`.
        fn metadata(self, status: u16, body: &str) -> Scripted;
    }

    impl SecretManager for Scripted {
        fn version(self, path: &str, number: u64, data: &str) -> Scripted {
            let body = serde_json::json!({
                "name": format!("projects/270012345678/secrets/x/versions/{number}"),
                "payload": {
                    "data": base64_of(data),
                    "dataCrc32c": payload::crc32c(data.as_bytes()).to_string(),
                },
            });
            self.at(path, 200, &body.to_string())
        }

        fn at(self, path: &str, status: u16, body: &str) -> Scripted {
            self.answer(format!("{ENDPOINT}{path}"), status, body)
        }

        fn metadata(self, status: u16, body: &str) -> Scripted {
            let url = format!("{METADATA}{}", crate::metadata::TOKEN_PATH);
            self.answer(url, status, body)
        }
    }

    /// The paths of the requests sent to Secret Manager, in order.
    fn asked(server: &Scripted) -> Vec<&str> {
        server
            .urls()
            .into_iter()
            .filter_map(|url| url.strip_prefix(ENDPOINT))
            .collect()
    }

    /// The bearer token of each request sent to Secret Manager, in order.
    fn tokens(server: &Scripted) -> Vec<&str> {
        server
            .sent()
            .filter(|request| request.url.starts_with(ENDPOINT))
            .filter_map(|request| request.header_value("authorization"))
            .map(|value| value.trim_start_matches("Bearer "))
            .collect()
    }

    /// The URLs asked of a metadata server, in order.
    fn metadata_asked(server: &Scripted) -> Vec<&str> {
        server
            .urls()
            .into_iter()
            .filter(|url| !url.starts_with(ENDPOINT))
            .collect()
    }

    fn base64_of(text: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn provider(project: Option<&str>) -> Provider {
        let mut config = vec![("endpoint", ENDPOINT)];
        if let Some(project) = project {
            config.push(("project", project));
        }
        configured(&config)
    }

    /// A provider configured by `pairs` alone.
    fn configured(pairs: &[(&str, &str)]) -> Provider {
        Provider::new(accepted(Settings::from_config(Config::of(pairs))))
    }

    /// A provider for project `acme` with no `config.metadata`, for tests
    /// whose environment has no token either.
    fn provider_without_token() -> Provider {
        provider(Some("acme"))
    }

    const TOKEN: &[(&str, &str)] = &[("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.the-token")];

    /// Resolve `reference` with the token in the environment.
    fn resolve(
        provider: &mut Provider,
        server: &mut Scripted,
        reference: &str,
    ) -> Result<String, Error> {
        resolve_in(TOKEN, provider, server, reference)
    }

    /// Resolve `reference` with `vars` as the sandbox's environment.
    fn resolve_in(
        vars: &[(&str, &str)],
        provider: &mut Provider,
        server: &mut Scripted,
        reference: &str,
    ) -> Result<String, Error> {
        provider
            .resolve(&accepted(parse(reference)), server, env::fake(vars))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Resolve each reference, expecting its value.
    fn resolves(provider: &mut Provider, server: &mut Scripted, cases: &[(&str, &str)]) {
        for (reference, value) in cases {
            assert_eq!(
                accepted(resolve(provider, server, reference)),
                *value,
                "{reference}"
            );
        }
    }

    /// The `:access` path of `version` of `secret` in `project`.
    fn access(project: &str, secret: &str, version: &str) -> String {
        format!("/v1/projects/{project}/secrets/{secret}/versions/{version}:access")
    }

    const LATEST: &str = "/v1/projects/acme/secrets/stripe/versions/latest:access";
    /// The latest version of the regional secret `stripe` in europe-west1.
    const REGIONAL_LATEST: &str =
        "/v1/projects/acme/locations/europe-west1/secrets/stripe/versions/latest:access";
    /// Google's NOT_FOUND for a secret that is not there (a global secret
    /// asked of a regional endpoint, say).
    const NO_SECRET: &str = r#"{"error": {"code": 404, "status": "NOT_FOUND",
        "message": "Secret [projects/1/locations/europe-west1/secrets/stripe] not found or has no versions."}}"#;

    #[test]
    fn every_key_of_one_secret_costs_one_access_call() {
        let mut provider = provider(Some("acme"));
        let mut fake = Scripted::new().version(LATEST, 4, SECRET_JSON);
        resolves(
            &mut provider,
            &mut fake,
            &[
                ("stripe#api_key", "sk_1"),
                ("stripe#webhook", "wh_1"),
                ("stripe/versions/latest#account", "acct_1"),
                ("projects/acme/secrets/stripe#api_key", "sk_1"),
                // `latest` was version 4: pinning it is a cache hit.
                ("stripe/versions/4#account", "acct_1"),
                ("stripe", SECRET_JSON),
            ],
        );
        assert_eq!(asked(&fake), [LATEST]);
        assert_eq!(tokens(&fake), ["ya29.the-token"]);
    }

    #[test]
    fn versions_and_projects_are_separate_entries() {
        let mut provider = provider(Some("acme"));
        let mut fake = Scripted::new()
            .version(LATEST, 2, "sk_new")
            .version(&access("acme", "stripe", "1"), 1, "sk_old")
            .version(&access("other", "stripe", "latest"), 9, "sk_other");
        resolves(
            &mut provider,
            &mut fake,
            &[
                ("stripe", "sk_new"),
                ("stripe/versions/1", "sk_old"),
                ("projects/other/secrets/stripe", "sk_other"),
            ],
        );
        assert_eq!(asked(&fake).len(), 3, "{:?}", asked(&fake));
    }

    #[test]
    fn failures_are_not_cached() {
        let mut provider = provider(Some("acme"));
        // A 503, then a timeout: each is reported, and neither is kept.
        let mut fake = Scripted::new()
            .at(
                LATEST,
                503,
                r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "try later"}}"#,
            )
            .fail(format!("{ENDPOINT}{LATEST}"), Failure::Timeout);
        let first = refused(resolve(&mut provider, &mut fake, "stripe"), "unavailable");
        assert!(first.contains("answered 503 UNAVAILABLE"), "{first}");
        let second = refused(resolve(&mut provider, &mut fake, "stripe"), "unavailable");
        assert!(second.contains("did not answer in time"), "{second}");
        let mut healthy = Scripted::new().version(LATEST, 1, "sk_ok_1");
        resolves(&mut provider, &mut healthy, &[("stripe", "sk_ok_1")]);
    }

    #[test]
    fn a_missing_key_does_not_refetch() {
        let mut provider = provider(Some("acme"));
        let mut fake = Scripted::new().version(LATEST, 1, SECRET_JSON);
        assert_eq!(
            refused(
                resolve(&mut provider, &mut fake, "stripe#nope"),
                "not-found"
            ),
            "no key \"nope\" in the JSON of the latest version of secret \"stripe\" in project \"acme\""
        );
        resolves(&mut provider, &mut fake, &[("stripe#api_key", "sk_1")]);
        assert_eq!(asked(&fake).len(), 1);
    }

    #[test]
    fn no_project_and_no_token_fail_before_any_request() {
        let mut fake = Scripted::new().version(LATEST, 1, "sk_1");
        let m = refused(
            resolve(&mut provider(None), &mut fake, "stripe"),
            "invalid-reference",
        );
        assert!(m.contains("names no project"), "{m}");

        let settings = Settings::from_config(Config::of(&[
            ("project", "acme"),
            ("token_env", "NOPE"),
            ("metadata", "true"),
        ]));
        let mut provider = Provider::new(accepted(settings));
        // No token in NOPE: the metadata server is asked; not granted here.
        let m = refused(resolve(&mut provider, &mut fake, "stripe"), "unavailable");
        assert!(
            m.starts_with(
                "no access token: the metadata server at http://metadata.google.internal"
            ) && m.contains("not in grants.hosts")
                && m.contains("GOOGLE_OAUTH_ACCESS_TOKEN"),
            "{m}"
        );
        assert!(asked(&fake).is_empty());
    }

    #[test]
    fn a_token_s_lifetime_from_the_server_neither_overflows_nor_is_zero() {
        let no_token = [("GCE_METADATA_HOST", "127.0.0.1:8089")];
        // A lifetime past what the clock holds: used now, asked for again
        // at the next fetch, never a panic.
        let mut provider = provider_without_token();
        let mut fake = Scripted::new()
            .version(LATEST, 1, "sk_1")
            .version(&access("acme", "other", "latest"), 1, "o_1")
            .metadata(
                200,
                r#"{"access_token": "ya29.huge", "expires_in": 18446744073709551615}"#,
            )
            .metadata(200, r#"{"access_token": "ya29.next", "expires_in": 3599}"#);
        for name in ["stripe", "other"] {
            accepted(resolve_in(&no_token, &mut provider, &mut fake, name));
        }
        assert_eq!(tokens(&fake), ["ya29.huge", "ya29.next"]);
        // A token that has already expired is refused, never sent.
        let mut fake = Scripted::new()
            .version(LATEST, 1, "sk_1")
            .metadata(200, r#"{"access_token": "ya29.gone", "expires_in": 0}"#);
        let m = refused(
            resolve_in(
                &no_token,
                &mut provider_without_token(),
                &mut fake,
                "stripe",
            ),
            "unavailable",
        );
        assert_eq!(
            m,
            "the metadata server at http://127.0.0.1:8089 gave an access token that has \
             already expired; this machine's clock may be off"
        );
        assert!(tokens(&fake).is_empty());
    }

    #[test]
    fn the_metadata_servers_token_is_used_and_renewed_before_it_expires() {
        let mut provider = provider_without_token();
        let no_token = [("GCE_METADATA_HOST", "127.0.0.1:8089")];
        // The first token lives a minute (inside the five-minute margin, so
        // it is renewed at the next fetch); the second an hour.
        let mut fake = Scripted::new()
            .version(LATEST, 1, "sk_1")
            .version(&access("acme", "other", "latest"), 1, "o_1")
            .version(&access("acme", "third", "latest"), 1, "t_1")
            .metadata(
                200,
                r#"{"access_token": "ya29.meta-1", "expires_in": 60, "token_type": "Bearer"}"#,
            )
            .metadata(
                200,
                r#"{"access_token": "ya29.meta-2", "expires_in": 3599, "token_type": "Bearer"}"#,
            );
        for name in ["stripe", "other", "third"] {
            accepted(resolve_in(&no_token, &mut provider, &mut fake, name));
        }
        assert_eq!(tokens(&fake), ["ya29.meta-1", "ya29.meta-2", "ya29.meta-2"]);
        assert_eq!(
            metadata_asked(&fake),
            [
                format!("http://127.0.0.1:8089{}", crate::metadata::TOKEN_PATH),
                format!("http://127.0.0.1:8089{}", crate::metadata::TOKEN_PATH)
            ]
        );
        // The metadata server is asked with its header and no token, and
        // read within 64 KiB whatever it answers.
        let metadata_requests: Vec<_> = fake
            .sent()
            .zip(fake.limits())
            .filter(|(request, _)| request.url.starts_with(METADATA))
            .collect();
        assert_eq!(metadata_requests.len(), 2);
        for (request, limits) in metadata_requests {
            assert_eq!(
                request.headers,
                [("metadata-flavor".into(), "Google".into())]
            );
            assert_eq!(
                limits,
                Limits {
                    max_body_bytes: 64 * 1024,
                    error_body: ErrorBody::UpTo(64 * 1024),
                }
            );
        }
        // No service account: said so, as denied.
        let mut bare = Scripted::new()
            .version(LATEST, 1, "sk_1")
            .metadata(404, "Not Found");
        let mut fresh = provider_without_token();
        let m = refused(
            resolve_in(&no_token, &mut fresh, &mut bare, "stripe"),
            "denied",
        );
        assert!(m.contains("no default service account"), "{m}");
    }

    #[test]
    fn regional_secrets_by_full_name_or_config_location() {
        // config.endpoint serves both: the regional path at the same origin.
        let mut provider = configured(&[
            ("project", "acme"),
            ("location", "europe-west1"),
            ("endpoint", ENDPOINT),
        ]);
        let mut fake = Scripted::new()
            .version(REGIONAL_LATEST, 3, SECRET_JSON)
            .version(LATEST, 8, "sk_global")
            .version(
                "/v1/projects/other/locations/us-east1/secrets/stripe/versions/2:access",
                2,
                "sk_us",
            );
        resolves(
            &mut provider,
            &mut fake,
            &[
                // Short references are regional through config.location.
                ("stripe#api_key", "sk_1"),
                (
                    "projects/acme/locations/europe-west1/secrets/stripe#webhook",
                    "wh_1",
                ),
                // `latest` was version 3 in europe-west1: a cache hit.
                ("stripe/versions/3#account", "acct_1"),
                // A global resource name stays global; another location is
                // another secret.
                ("projects/acme/secrets/stripe", "sk_global"),
                (
                    "projects/other/locations/us-east1/secrets/stripe/versions/2",
                    "sk_us",
                ),
            ],
        );
        assert_eq!(
            asked(&fake),
            [
                REGIONAL_LATEST,
                LATEST,
                "/v1/projects/other/locations/us-east1/secrets/stripe/versions/2:access"
            ]
        );
        // The global `latest` was version 8: pinning version 8 regionally is
        // not that cache entry but a request of its own (unscripted here).
        refused(
            resolve(&mut provider, &mut fake, "stripe/versions/8"),
            "denied",
        );
        assert_eq!(
            asked(&fake).last(),
            Some(&"/v1/projects/acme/locations/europe-west1/secrets/stripe/versions/8:access")
        );
    }

    #[test]
    fn without_an_endpoint_a_regional_secret_goes_to_its_locations_endpoint() {
        let regional = "https://secretmanager.europe-west1.rep.googleapis.com:443";
        let global = "https://secretmanager.googleapis.com:443";
        let mut provider = configured(&[("project", "acme")]);
        let body = serde_json::json!({"payload": {"data": base64_of("sk_eu")}}).to_string();
        let mut fake = Scripted::new()
            .answer(format!("{regional}{REGIONAL_LATEST}"), 200, body.as_str())
            .answer(format!("{global}{LATEST}"), 200, body.as_str());
        for reference in [
            "projects/acme/locations/europe-west1/secrets/stripe",
            "stripe",
        ] {
            assert_eq!(
                accepted(resolve(&mut provider, &mut fake, reference)),
                "sk_eu"
            );
        }
        assert_eq!(
            fake.urls(),
            [
                format!("{regional}{REGIONAL_LATEST}"),
                format!("{global}{LATEST}")
            ]
        );
        // A failure names the regional endpoint and the location.
        let mut down =
            Scripted::new().fail(format!("{regional}{REGIONAL_LATEST}"), Failure::Timeout);
        let mut provider = configured(&[("project", "acme"), ("location", "europe-west1")]);
        assert_eq!(
            refused(resolve(&mut provider, &mut down, "stripe"), "unavailable"),
            "Secret Manager at https://secretmanager.europe-west1.rep.googleapis.com:443 did \
             not answer in time while reading the latest version of secret \"stripe\" in \
             location \"europe-west1\" of project \"acme\""
        );
    }

    #[test]
    fn regional_messages_name_the_location() {
        let mut provider = configured(&[
            ("project", "acme"),
            ("location", "europe-west1"),
            ("endpoint", ENDPOINT),
        ]);
        let mut fake = Scripted::new().version(REGIONAL_LATEST, 1, SECRET_JSON).at(
            "/v1/projects/acme/locations/europe-west1/secrets/gone/versions/latest:access",
            404,
            NO_SECRET,
        );
        assert_eq!(
            refused(
                resolve(&mut provider, &mut fake, "stripe#nope"),
                "not-found"
            ),
            "no key \"nope\" in the JSON of the latest version of secret \"stripe\" in \
             location \"europe-west1\" of project \"acme\""
        );
        assert_eq!(
            refused(resolve(&mut provider, &mut fake, "gone"), "not-found"),
            "secret \"gone\" not found in location \"europe-west1\" of project \"acme\", \
             or it has no versions (404 NOT_FOUND)"
        );
        // config.location with no project: the hint names the regional form.
        let m = refused(
            resolve(
                &mut configured(&[("location", "europe-west1")]),
                &mut fake,
                "stripe",
            ),
            "invalid-reference",
        );
        assert!(
            m.ends_with("write projects/PROJECT/locations/europe-west1/secrets/stripe"),
            "{m}"
        );
        assert_eq!(asked(&fake).len(), 2, "{:?}", asked(&fake));
    }
}
