//! From a parsed reference to a secret: one signed `GetSecretValue` per
//! secret version, with the answers kept for the rest of the run.
//!
//! The plugin instance lives for the whole run and `resolve` is called once
//! per distinct reference, so a journey naming five keys of one secret must
//! not cost five calls (AWS bills per call). Only successes are cached: a
//! throttled or failed call may pass next time.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::SystemTime;

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::http::{Failure, Request, Response, Transport};

use crate::Error;
use crate::api::{self, SecretValue};
use crate::reference::{Reference, Selector};
use crate::settings::{Connection, Settings};
use crate::sign;
use crate::value;

/// A configured provider and what it has read so far in this run.
pub struct Provider {
    settings: Settings,
    connection: Option<Connection>,
    /// (secret ID, version selector) → that version's contents.
    secrets: HashMap<(String, Selector), Rc<SecretValue>>,
}

impl Provider {
    /// A provider that has not talked to AWS yet.
    pub fn new(settings: Settings) -> Provider {
        Provider {
            settings,
            connection: None,
            secrets: HashMap::new(),
        }
    }

    /// The bytes `reference` points to. `env` reads the sandbox's environment
    /// and `now` its clock (both injected so the tests control them).
    pub fn resolve(
        &mut self,
        reference: &Reference,
        transport: &mut impl Transport,
        env: impl env::Read,
        now: impl Fn() -> SystemTime,
    ) -> Result<Vec<u8>, Error> {
        if self.connection.is_none() {
            // Not cached on failure: the next reference reports the same problem.
            self.connection = Some(self.settings.connection(env)?);
        }
        let key = (reference.secret_id.clone(), reference.selector.canonical());
        let secret = match self.secrets.get(&key) {
            Some(secret) => Rc::clone(secret),
            None => {
                let time = now();
                // Credentials from an endpoint: fetched, or renewed, first.
                if let Some(connection) = self.connection.as_mut() {
                    crate::chain::fresh(connection, transport, time)?;
                }
                let secret = Rc::new(self.fetch(reference, transport, time)?);
                self.secrets.insert(key, Rc::clone(&secret));
                secret
            }
        };
        value::select(&secret, reference)
    }

    /// One signed `GetSecretValue`.
    fn fetch(
        &self,
        reference: &Reference,
        transport: &mut impl Transport,
        time: SystemTime,
    ) -> Result<SecretValue, Error> {
        let connection = self
            .connection
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the AWS provider has no connection".into()))?;
        // A secret lives where its ARN says: that region signs the request
        // and names the endpoint (a configured endpoint stays), whatever
        // region is configured.
        let arn_region = reference
            .arn_region()
            .filter(|region| *region != connection.region && crate::settings::valid_region(region));
        let (region, endpoint) = match arn_region {
            Some(region) if self.settings.has_endpoint() => {
                (region.to_string(), connection.endpoint.clone())
            }
            Some(region) => (region.to_string(), crate::endpoint::for_region(region)),
            None => (connection.region.clone(), connection.endpoint.clone()),
        };
        let url = crate::endpoint::url(&endpoint);
        let body = api::request_body(reference);
        let mut headers = vec![
            ("content-type".to_string(), api::CONTENT_TYPE.to_string()),
            ("x-amz-target".to_string(), api::TARGET.to_string()),
        ];
        let signature = sign::signature_headers(
            &url,
            &headers,
            &body,
            &region,
            sign::SERVICE,
            &connection.credentials,
            time,
        )?;
        headers.extend(signature);
        let request = || {
            let mut request = Request::post(url.clone(), body.clone());
            request.headers = headers.clone();
            request
        };
        let mut outcome = transport.send(request(), crate::wire::limits());
        // Throttling and a server's error are tried once more, after a
        // short random wait, as the SDKs do (the signature is still fresh).
        if retryable(&outcome) {
            std::thread::sleep(jitter());
            outcome = transport.send(request(), crate::wire::limits());
        }
        api::interpret(&endpoint, reference, outcome)
    }
}

/// Whether an outcome is worth one more try: 429, 5xx, or AWS's throttling.
fn retryable(outcome: &Result<Response, Failure>) -> bool {
    outcome.as_ref().is_ok_and(|response| {
        response.status == 429
            || (500..=599).contains(&response.status)
            || response
                .header(api::ERROR_TYPE)
                .is_some_and(|t| t.contains("Throttling"))
    })
}

/// 50 to 250 ms, random (std's `RandomState` is seeded by the OS).
fn jitter() -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    std::time::Duration::from_millis(50 + random % 200)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use reqflo_plugin_sdk::Config;
    use reqflo_plugin_sdk::http::Scripted;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    use super::*;
    use crate::reference::parse;

    /// Where requests go with `config.endpoint` set, as in most tests.
    const MOTO: &str = "http://moto:5000/";

    /// What AWS answers for a secret that does not exist; every request
    /// without an answer of its own gets it.
    fn not_found() -> Response {
        Response::new(400, "").with_header(api::ERROR_TYPE, "ResourceNotFoundException")
    }

    /// Secrets Manager at `url`, answering each request with the next of
    /// `answers` (the last one again after that), and anything else as not
    /// found.
    fn secrets_manager(url: &str, answers: &[Result<Response, Failure>]) -> Scripted {
        let mut script = Scripted::new().otherwise(Ok(not_found()));
        for answer in answers {
            script.add(url, answer.clone());
        }
        script
    }

    fn ok(body: String) -> Result<Response, Failure> {
        Ok(Response::new(200, body))
    }

    fn throttled() -> Result<Response, Failure> {
        Ok(Response::new(400, "").with_header(api::ERROR_TYPE, "ThrottlingException"))
    }

    /// How many requests asked with `body`.
    fn count(fake: &Scripted, body: &str) -> usize {
        fake.sent().filter(|r| r.body == body.as_bytes()).count()
    }

    #[test]
    fn an_arns_region_signs_and_routes_the_request() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";
        let mut provider = configured(&[]);
        let mut fake = secrets_manager(
            "https://secretsmanager.us-east-1.amazonaws.com/",
            &[ok(db_json("east"))],
        );
        assert_eq!(
            accepted(resolve(
                &mut provider,
                &mut fake,
                &format!("{arn}#password")
            )),
            "east"
        );
        assert_eq!(
            fake.urls(),
            ["https://secretsmanager.us-east-1.amazonaws.com/"]
        );
        assert_eq!(count(&fake, &format!(r#"{{"SecretId":"{arn}"}}"#)), 1);
        let authorization = fake.header_values("authorization")[0].unwrap_or_default();
        assert!(
            authorization.contains("/us-east-1/secretsmanager/aws4_request"),
            "{authorization}"
        );
    }

    #[test]
    fn throttling_is_tried_once_more() {
        let mut provider = configured(&[]);
        let region = "https://secretsmanager.eu-west-2.amazonaws.com/";
        let mut fake = secrets_manager(region, &[throttled(), ok(db_json("hunter2"))]);
        assert_eq!(
            accepted(resolve(&mut provider, &mut fake, "prod/db#password")),
            "hunter2"
        );
        assert_eq!(fake.urls().len(), 2);
        // Throttled twice: said, after two tries.
        let mut provider = configured(&[]);
        let mut fake = secrets_manager(region, &[throttled(), throttled(), ok(db_json("hunter2"))]);
        assert!(resolve(&mut provider, &mut fake, "prod/db").is_err());
        assert_eq!(fake.urls().len(), 2);
    }

    const DB: &str = r#"{"SecretId":"prod/db"}"#;
    const DB_PREVIOUS: &str = r#"{"SecretId":"prod/db","VersionStage":"AWSPREVIOUS"}"#;

    fn db_json(password: &str) -> String {
        let inner = format!(r#"{{"user": "svc", "password": "{password}", "port": 5432}}"#);
        format!(r#"{{"SecretString": {}}}"#, serde_json::Value::from(inner))
    }

    fn configured(config: &[(&str, &str)]) -> Provider {
        Provider::new(accepted(Settings::from_config(&Config::of(config))))
    }

    const ENV: [(&str, &str); 3] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_REGION", "eu-west-2"),
    ];

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_767_323_045)
    }

    fn resolve(
        provider: &mut Provider,
        fake: &mut Scripted,
        reference: &str,
    ) -> Result<String, Error> {
        provider
            .resolve(&accepted(parse(reference)), fake, env::fake(&ENV), now)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn several_keys_of_one_version_cost_one_call() {
        let mut provider = configured(&[("endpoint", "http://moto:5000")]);
        // Asked in this order: the current version, then the previous.
        let mut fake = secrets_manager(
            MOTO,
            &[ok(db_json("current-pw")), ok(db_json("previous-pw"))],
        );
        for (reference, expected) in [
            ("prod/db#password", "current-pw"),
            ("prod/db#user", "svc"),
            ("prod/db#port", "5432"),
            // AWSCURRENT is the version asked for without a stage.
            ("prod/db#password?stage=AWSCURRENT", "current-pw"),
            ("prod/db#password?stage=AWSPREVIOUS", "previous-pw"),
            ("prod/db?stage=AWSPREVIOUS#user", "svc"),
        ] {
            assert_eq!(
                accepted(resolve(&mut provider, &mut fake, reference)),
                expected,
                "{reference}"
            );
        }
        assert_eq!(fake.urls().len(), 2, "{:?}", fake.urls());
        assert_eq!((count(&fake, DB), count(&fake, DB_PREVIOUS)), (1, 1));
    }

    #[test]
    fn requests_are_signed_posts_to_the_endpoint() {
        let mut provider = configured(&[("endpoint", "http://moto:5000")]);
        let mut fake = secrets_manager(MOTO, &[ok(db_json("pw"))]);
        assert_eq!(
            accepted(resolve(&mut provider, &mut fake, "prod/db#password")),
            "pw"
        );
        assert_eq!(fake.urls(), vec!["http://moto:5000/"]);
        assert_eq!(count(&fake, DB), 1);
        let Some(request) = fake.sent().next() else {
            panic!("no request")
        };
        assert_eq!(request.method, reqflo_plugin_sdk::http::Method::Post);
        let headers = &request.headers;
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "x-amz-target",
                "x-amz-date",
                "authorization"
            ]
        );
        assert!(headers.contains(&(
            "x-amz-target".to_string(),
            "secretsmanager.GetSecretValue".to_string()
        )));
        let authorization = &headers[3].1;
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-2/secretsmanager/aws4_request"
            ),
            "{authorization}"
        );
        assert_eq!(fake.limits()[0], crate::wire::limits());
        // Without config.endpoint, the region's public endpoint.
        let mut by_region = configured(&[]);
        let _ = resolve(&mut by_region, &mut fake, "prod/db");
        assert_eq!(
            fake.urls()[1],
            "https://secretsmanager.eu-west-2.amazonaws.com/"
        );
    }

    #[test]
    fn failures_are_not_cached() {
        let mut provider = configured(&[("endpoint", "http://moto:5000")]);
        let mut fake = secrets_manager(MOTO, &[Err(Failure::Timeout), ok(db_json("pw"))]);
        assert_eq!(
            refused(
                resolve(&mut provider, &mut fake, "prod/db#password"),
                "unavailable"
            ),
            "Secrets Manager at http://moto:5000 did not answer in time while reading secret \
             \"prod/db\""
        );
        assert_eq!(
            accepted(resolve(&mut provider, &mut fake, "prod/db#password")),
            "pw"
        );
        assert_eq!(count(&fake, DB), 2);
    }

    #[test]
    fn a_missing_key_is_not_found_but_costs_no_second_call() {
        let mut provider = configured(&[("endpoint", "http://moto:5000")]);
        // The one secret there, then nothing: "prod/none" is not found.
        let mut fake = secrets_manager(MOTO, &[ok(db_json("pw")), Ok(not_found())]);
        let message = refused(
            resolve(&mut provider, &mut fake, "prod/db#nope"),
            "not-found",
        );
        assert!(
            message.contains("its keys: \"password\", \"port\", \"user\""),
            "{message}"
        );
        assert_eq!(
            accepted(resolve(&mut provider, &mut fake, "prod/db#password")),
            "pw"
        );
        assert_eq!(count(&fake, DB), 1);
        // A missing secret is not found, naming it.
        let message = refused(resolve(&mut provider, &mut fake, "prod/none"), "not-found");
        assert!(
            message.starts_with("secret \"prod/none\" not found"),
            "{message}"
        );
    }

    #[test]
    fn missing_credentials_fail_before_any_request() {
        let mut provider = configured(&[("region", "eu-west-2")]);
        let mut fake = Scripted::new();
        let reference = accepted(parse("prod/db"));
        let outcome = provider.resolve(&reference, &mut fake, env::fake(&[]), now);
        assert_eq!(
            refused(outcome, "unavailable"),
            "AWS_ACCESS_KEY_ID is not visible to the AWS provider: set it and list it under the \
             provider's grants.env (or use a profile of the shared files; on ECS or EKS, grant \
             AWS_CONTAINER_CREDENTIALS_FULL_URI instead; on EC2, config.instance_metadata: true)"
        );
        assert!(fake.urls().is_empty());
    }
}
