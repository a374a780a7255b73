//! From a parsed reference to a secret: one `:access` call per secret version,
//! kept for the rest of the run.
//!
//! The plugin instance lives for the whole run and `resolve` is called once per
//! distinct reference, so a journey naming five keys of one JSON secret must
//! not cost five calls. Only successes are cached: a 503 or a timeout may pass.

use std::collections::HashMap;
use std::env::VarError;
use std::rc::Rc;
use std::time::Instant;

use crate::Error;
use crate::access::{self, Transport};
use crate::payload;
use crate::reference::{Reference, Target, Version};
use crate::settings::{Connection, Settings};

/// A configured provider and the payloads it has read so far in this run.
pub struct Provider {
    settings: Settings,
    connection: Option<Connection>,
    /// (project, secret, version) → the decoded payload.
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
        env: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<Vec<u8>, Error> {
        // Checked before the token: a reference that cannot work needs none.
        let target = reference.target(self.settings.project.as_deref())?;
        if self.connection.is_none() {
            // Not cached on failure: the next reference reports the same problem.
            self.connection = Some(self.settings.connection(env)?);
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
        crate::metadata::fresh_token(connection, transport, Instant::now())?;
        let url = connection.endpoint.url(&target.access_path());
        let outcome = transport.get(&url, &connection.token);
        let accessed = access::interpret(connection, target, outcome)?;
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
    use super::*;
    use crate::access::{Answer, Failure};
    use crate::reference::parse;
    use crate::tests::kind_and_message;

    const ENDPOINT: &str = "http://127.0.0.1:8085";
    const SECRET_JSON: &str = r#"{"api_key": "sk_1", "webhook": "wh_1", "account": "acct_1"}"#;

    /// Secret Manager made of canned answers, counting what was asked.
    #[derive(Default)]
    struct Fake {
        routes: HashMap<String, Result<(u16, String), Failure>>,
        asked: Vec<String>,
        tokens: Vec<String>,
        /// What the metadata server answers, in turn; when none are left,
        /// the host refuses it (not granted).
        metadata: Vec<(u16, String)>,
        metadata_asked: Vec<String>,
    }

    impl Fake {
        fn version(mut self, path: &str, version: u64, data: &str) -> Fake {
            let body = serde_json::json!({
                "name": format!("projects/270012345678/secrets/x/versions/{version}"),
                "payload": {
                    "data": base64_of(data),
                    "dataCrc32c": payload::crc32c(data.as_bytes()).to_string(),
                },
            });
            self.routes
                .insert(format!("{ENDPOINT}{path}"), Ok((200, body.to_string())));
            self
        }

        fn answer(mut self, path: &str, status: u16, body: &str) -> Fake {
            self.routes
                .insert(format!("{ENDPOINT}{path}"), Ok((status, body.to_string())));
            self
        }

        fn fail(mut self, path: &str, failure: Failure) -> Fake {
            self.routes
                .insert(format!("{ENDPOINT}{path}"), Err(failure));
            self
        }
    }

    impl Transport for Fake {
        fn get(&mut self, url: &str, token: &str) -> Result<Answer, Failure> {
            self.asked
                .push(url.trim_start_matches(ENDPOINT).to_string());
            self.tokens.push(token.to_string());
            match self.routes.get(url) {
                Some(Ok((status, body))) => Ok(Answer {
                    status: *status,
                    location: None,
                    body: body.clone().into_bytes(),
                }),
                Some(Err(failure)) => Err(failure.clone()),
                None => Ok(Answer {
                    status: 404,
                    location: None,
                    body: br#"{"error": {"code": 404, "status": "NOT_FOUND", "message": "Secret [x] not found or has no versions."}}"#.to_vec(),
                }),
            }
        }

        fn get_metadata(&mut self, url: &str) -> Result<Answer, Failure> {
            self.metadata_asked.push(url.to_string());
            if self.metadata.is_empty() {
                return Err(Failure::Denied);
            }
            let (status, body) = self.metadata.remove(0);
            Ok(Answer {
                status,
                location: None,
                body: body.into_bytes(),
            })
        }
    }

    fn base64_of(text: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn provider(project: Option<&str>) -> Provider {
        let mut config = vec![("endpoint".to_string(), ENDPOINT.to_string())];
        if let Some(project) = project {
            config.push(("project".into(), project.into()));
        }
        match Settings::from_config(config) {
            Ok(settings) => Provider::new(settings),
            Err(e) => panic!("{}", kind_and_message(&e).1),
        }
    }

    fn env(name: &str) -> Result<String, VarError> {
        match name {
            "GOOGLE_OAUTH_ACCESS_TOKEN" => Ok("ya29.the-token".into()),
            _ => Err(VarError::NotPresent),
        }
    }

    fn resolve(
        provider: &mut Provider,
        fake: &mut Fake,
        reference: &str,
    ) -> Result<String, (&'static str, String)> {
        let reference = parse(reference).map_err(|e| kind_and_message(&e))?;
        provider
            .resolve(&reference, fake, env)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|e| kind_and_message(&e))
    }

    const LATEST: &str = "/v1/projects/acme/secrets/stripe/versions/latest:access";

    #[test]
    fn every_key_of_one_secret_costs_one_access_call() {
        let mut provider = provider(Some("acme"));
        let mut fake = Fake::default().version(LATEST, 4, SECRET_JSON);
        for (reference, value) in [
            ("stripe#api_key", "sk_1"),
            ("stripe#webhook", "wh_1"),
            ("stripe/versions/latest#account", "acct_1"),
            ("projects/acme/secrets/stripe#api_key", "sk_1"),
            // `latest` was version 4: pinning it is a cache hit.
            ("stripe/versions/4#account", "acct_1"),
            ("stripe", SECRET_JSON),
        ] {
            assert_eq!(
                resolve(&mut provider, &mut fake, reference),
                Ok(value.to_string()),
                "{reference}"
            );
        }
        assert_eq!(fake.asked, [LATEST]);
        assert_eq!(fake.tokens, ["ya29.the-token"]);
    }

    #[test]
    fn versions_and_projects_are_separate_entries() {
        let mut provider = provider(Some("acme"));
        let mut fake = Fake::default()
            .version(LATEST, 2, "sk_new")
            .version(
                "/v1/projects/acme/secrets/stripe/versions/1:access",
                1,
                "sk_old",
            )
            .version(
                "/v1/projects/other/secrets/stripe/versions/latest:access",
                9,
                "sk_other",
            );
        assert_eq!(
            resolve(&mut provider, &mut fake, "stripe"),
            Ok("sk_new".into())
        );
        assert_eq!(
            resolve(&mut provider, &mut fake, "stripe/versions/1"),
            Ok("sk_old".into())
        );
        assert_eq!(
            resolve(&mut provider, &mut fake, "projects/other/secrets/stripe"),
            Ok("sk_other".into())
        );
        assert_eq!(fake.asked.len(), 3, "{:?}", fake.asked);
    }

    #[test]
    fn failures_are_not_cached() {
        let mut provider = provider(Some("acme"));
        let mut fake = Fake::default().answer(
            LATEST,
            503,
            r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "try later"}}"#,
        );
        let first = resolve(&mut provider, &mut fake, "stripe");
        assert!(first.is_err_and(|(_, m)| m.contains("answered 503 UNAVAILABLE")));
        fake = fake.fail(LATEST, Failure::Timeout);
        let second = resolve(&mut provider, &mut fake, "stripe");
        assert!(second.is_err_and(|(_, m)| m.contains("did not answer in time")));
        let mut healthy = Fake::default().version(LATEST, 1, "sk_ok_1");
        assert_eq!(
            resolve(&mut provider, &mut healthy, "stripe"),
            Ok("sk_ok_1".into())
        );
    }

    #[test]
    fn a_missing_key_does_not_refetch() {
        let mut provider = provider(Some("acme"));
        let mut fake = Fake::default().version(LATEST, 1, SECRET_JSON);
        let e = resolve(&mut provider, &mut fake, "stripe#nope");
        assert!(e.is_err_and(|(kind, m)| kind == "not-found"
            && m == "no key \"nope\" in the JSON of the latest version of secret \"stripe\" in project \"acme\""));
        assert_eq!(
            resolve(&mut provider, &mut fake, "stripe#api_key"),
            Ok("sk_1".into())
        );
        assert_eq!(fake.asked.len(), 1);
    }

    #[test]
    fn no_project_and_no_token_fail_before_any_request() {
        let mut fake = Fake::default().version(LATEST, 1, "sk_1");
        let e = resolve(&mut provider(None), &mut fake, "stripe");
        assert!(
            e.is_err_and(|(kind, m)| kind == "invalid-reference" && m.contains("names no project"))
        );

        let settings = Settings::from_config(vec![
            ("project".into(), "acme".into()),
            ("token_env".into(), "NOPE".into()),
            ("metadata".into(), "true".into()),
        ]);
        let Ok(settings) = settings else {
            panic!("settings")
        };
        let reference = parse("stripe").map_err(|e| kind_and_message(&e));
        let Ok(reference) = reference else {
            panic!("reference")
        };
        // No token in NOPE: the metadata server is asked; not granted here.
        let e = Provider::new(settings).resolve(&reference, &mut fake, env);
        assert!(e.is_err_and(|e| {
            let m = kind_and_message(&e).1;
            m.starts_with("no access token: the metadata server at http://metadata.google.internal")
                && m.contains("not in grants.hosts")
                && m.contains("GOOGLE_OAUTH_ACCESS_TOKEN")
        }));
        assert!(fake.asked.is_empty());
    }

    #[test]
    fn the_metadata_servers_token_is_used_and_renewed_before_it_expires() {
        let settings = Settings::from_config(vec![
            ("project".into(), "acme".into()),
            ("endpoint".into(), ENDPOINT.into()),
        ]);
        let Ok(settings) = settings else {
            panic!("settings")
        };
        let mut provider = Provider::new(settings);
        let no_token = |name: &str| match name {
            "GCE_METADATA_HOST" => Ok("127.0.0.1:8089".to_string()),
            _ => Err(VarError::NotPresent),
        };
        // The first token lives a minute (inside the five-minute margin, so
        // it is renewed at the next fetch); the second an hour.
        let mut fake = Fake::default()
            .version(LATEST, 1, "sk_1")
            .version(
                "/v1/projects/acme/secrets/other/versions/latest:access",
                1,
                "o_1",
            )
            .version(
                "/v1/projects/acme/secrets/third/versions/latest:access",
                1,
                "t_1",
            );
        fake.metadata = vec![
            (
                200,
                r#"{"access_token": "ya29.meta-1", "expires_in": 60, "token_type": "Bearer"}"#
                    .into(),
            ),
            (
                200,
                r#"{"access_token": "ya29.meta-2", "expires_in": 3599, "token_type": "Bearer"}"#
                    .into(),
            ),
        ];
        for name in ["stripe", "other", "third"] {
            let reference = parse(name).map_err(|e| kind_and_message(&e));
            let Ok(reference) = reference else {
                panic!("reference")
            };
            assert!(
                provider.resolve(&reference, &mut fake, no_token).is_ok(),
                "{name}"
            );
        }
        assert_eq!(fake.tokens, ["ya29.meta-1", "ya29.meta-2", "ya29.meta-2"]);
        assert_eq!(
            fake.metadata_asked,
            [
                format!("http://127.0.0.1:8089{}", crate::metadata::TOKEN_PATH),
                format!("http://127.0.0.1:8089{}", crate::metadata::TOKEN_PATH)
            ]
        );
        // No service account: said so, as denied.
        let mut bare = Fake::default().version(LATEST, 1, "sk_1");
        bare.metadata = vec![(404, "Not Found".into())];
        let mut fresh = provider_without_token();
        let reference = parse("stripe").map_err(|e| kind_and_message(&e));
        let Ok(reference) = reference else {
            panic!("reference")
        };
        let e = fresh
            .resolve(&reference, &mut bare, no_token)
            .map_err(|e| kind_and_message(&e));
        assert!(e.is_err_and(|(k, m)| k == "denied" && m.contains("no default service account")));
    }

    fn provider_without_token() -> Provider {
        match Settings::from_config(vec![
            ("project".into(), "acme".into()),
            ("endpoint".into(), ENDPOINT.into()),
        ]) {
            Ok(settings) => Provider::new(settings),
            Err(e) => panic!("{}", kind_and_message(&e).1),
        }
    }
}
