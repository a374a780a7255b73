//! From a parsed reference to a value: a token (from the environment or an
//! AppRole login), one KV read per secret, and the answers kept for the run.
//!
//! The plugin instance lives for the whole run and `resolve` is called once per
//! distinct reference, so a journey naming ten keys of one secret must not cost
//! ten reads, nor ten logins. Only successes are kept: a 5xx or a timeout may
//! pass, and a secret written meanwhile should be found by the next reference.

use std::collections::HashMap;
use std::env::VarError;
use std::rc::Rc;

use crate::Error;
use crate::approle::Login;
use crate::kv::{Place, Secret, interpret_read};
use crate::origin::Origin;
use crate::reference::{Reference, VaultPath};
use crate::settings::{Auth, Credentials, KvVersion, Settings};
use crate::wire::{self, Method, Request, Transport};

/// A configured provider and what it has learned so far in this run.
pub struct Provider {
    settings: Settings,
    session: Option<Session>,
    /// (path, pinned version) → the secret read there. One provider instance
    /// serves one mount, so the mount needs no place in the key.
    secrets: HashMap<(VaultPath, Option<u64>), Rc<Secret>>,
}

/// A server and a token to read it with. No `Debug`: the token is secret.
struct Session {
    origin: Origin,
    token: String,
}

impl Provider {
    /// A provider that has not talked to any server yet.
    pub fn new(settings: Settings) -> Provider {
        Provider {
            settings,
            session: None,
            secrets: HashMap::new(),
        }
    }

    /// The value `reference` points to.
    pub fn resolve(
        &mut self,
        reference: &Reference,
        transport: &mut impl Transport,
        env: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<String, Error> {
        if reference.version.is_some() && self.settings.kv_version == KvVersion::V1 {
            return Err(Error::InvalidReference(format!(
                "`?version=` needs a KV version 2 engine, and mount {:?} is configured with \
                 kv_version: 1",
                self.settings.mount.to_string()
            )));
        }
        let namespace = crate::settings::namespace(&self.settings, &env)?;
        let place = Place {
            mount: &self.settings.mount,
            path: &reference.path,
            version: reference.version,
            namespace: namespace.as_deref(),
        };
        let key = (reference.path.clone(), reference.version);
        let secret = match self.secrets.get(&key) {
            Some(secret) => Rc::clone(secret),
            None => {
                let session = match self.session.take() {
                    Some(session) => session,
                    None => self.open_session(transport, env, namespace.as_deref())?,
                };
                let url = session.origin.url(&wire::secret_path(
                    self.settings.kv_version,
                    &self.settings.mount,
                    &reference.path,
                    reference.version,
                ));
                let request = Request {
                    method: Method::Get,
                    url,
                    headers: wire::headers(Some(&session.token), place.namespace),
                    body: None,
                };
                let outcome = transport.send(request);
                let read =
                    interpret_read(&session.origin, self.settings.kv_version, place, outcome);
                // The session is kept whatever the read said: a token that may
                // not read one path may well read the next.
                self.session = Some(session);
                let secret = Rc::new(read?);
                self.secrets.insert(key, Rc::clone(&secret));
                secret
            }
        };
        secret.select(reference.key.as_deref(), place)
    }

    /// A session from the environment's token, or from an AppRole login.
    fn open_session(
        &self,
        transport: &mut impl Transport,
        env: impl Fn(&str) -> Result<String, VarError>,
        namespace: Option<&str>,
    ) -> Result<Session, Error> {
        let connection = self.settings.connection(env)?;
        let origin = connection.origin;
        let token = match (connection.credentials, &self.settings.auth) {
            (Credentials::Token(token), _) => token,
            (
                Credentials::AppRole { role_id, secret_id },
                Auth::AppRole {
                    role_id_env,
                    secret_id_env,
                    mount,
                },
            ) => {
                let login = Login {
                    origin: &origin,
                    mount,
                    namespace,
                    role_id_env,
                    secret_id_env,
                };
                let outcome = transport.send(login.request(&role_id, &secret_id)?);
                login.interpret(outcome)?
            }
            // `connection` builds AppRole credentials only for AppRole auth.
            (Credentials::AppRole { .. }, Auth::Token { .. }) => {
                return Err(Error::Unavailable(
                    "the Vault provider mixed up its authentication settings".into(),
                ));
            }
        };
        Ok(Session { origin, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse;
    use crate::tests::kind_and_message;
    use crate::wire::{Answer, Failure};

    /// A Vault server made of canned answers, recording what was asked.
    #[derive(Default)]
    struct Fake {
        routes: HashMap<String, Result<(u16, String), Failure>>,
        asked: Vec<(Method, String)>,
        headers: Vec<Vec<(&'static str, String)>>,
        bodies: Vec<Option<Vec<u8>>>,
    }

    impl Fake {
        fn route(mut self, path: &str, status: u16, body: &str) -> Fake {
            let url = format!("http://vault:8200{path}");
            self.routes.insert(url, Ok((status, body.to_string())));
            self
        }

        fn fail(mut self, path: &str, failure: Failure) -> Fake {
            self.routes
                .insert(format!("http://vault:8200{path}"), Err(failure));
            self
        }

        fn count(&self, path: &str) -> usize {
            let url = format!("http://vault:8200{path}");
            self.asked.iter().filter(|(_, asked)| *asked == url).count()
        }

        fn tokens(&self) -> Vec<Option<String>> {
            self.headers
                .iter()
                .map(|h| {
                    h.iter()
                        .find(|(name, _)| *name == "x-vault-token")
                        .map(|(_, v)| v.clone())
                })
                .collect()
        }
    }

    impl Transport for Fake {
        fn send(&mut self, request: Request) -> Result<Answer, Failure> {
            self.asked.push((request.method, request.url.clone()));
            self.headers.push(request.headers);
            self.bodies.push(request.body);
            match self.routes.get(&request.url) {
                Some(Ok((status, body))) => Ok(Answer {
                    status: *status,
                    location: None,
                    body: body.clone().into_bytes(),
                }),
                Some(Err(failure)) => Err(failure.clone()),
                None => Ok(Answer {
                    status: 404,
                    location: None,
                    body: br#"{"errors":[]}"#.to_vec(),
                }),
            }
        }
    }

    const DB: &str = "/v1/secret/data/app/db";

    fn db_body() -> String {
        let keys: Vec<String> = (0..10)
            .map(|n| format!(r#""key{n}": "value {n}""#))
            .collect();
        format!(r#"{{"data": {{"data": {{{}}}}}}}"#, keys.join(","))
    }

    fn vault() -> Fake {
        Fake::default()
            .route(DB, 200, &db_body())
            .route(
                &format!("{DB}?version=1"),
                200,
                r#"{"data": {"data": {"key1": "old"}}}"#,
            )
            .route(
                "/v1/secret/data/one",
                200,
                r#"{"data": {"data": {"only": "solo"}}}"#,
            )
    }

    fn provider(config: &[(&str, &str)]) -> Provider {
        let mut pairs = vec![("address".to_string(), "http://vault:8200".to_string())];
        pairs.extend(config.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        match Settings::from_config(pairs) {
            Ok(settings) => Provider::new(settings),
            Err(e) => panic!("{}", kind_and_message(&e).1),
        }
    }

    fn env(name: &str) -> Result<String, VarError> {
        match name {
            "VAULT_TOKEN" => Ok("the-token".into()),
            "VAULT_ROLE_ID" => Ok("role-1".into()),
            "VAULT_SECRET_ID" => Ok("secret-1".into()),
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
            .map_err(|e| kind_and_message(&e))
    }

    #[test]
    fn ten_keys_of_one_secret_cost_one_read() {
        let mut provider = provider(&[]);
        let mut fake = vault();
        for n in 0..10 {
            assert_eq!(
                resolve(&mut provider, &mut fake, &format!("app/db#key{n}")),
                Ok(format!("value {n}"))
            );
        }
        assert_eq!(fake.count(DB), 1, "{:?}", fake.asked);
        // A pinned version is another secret, read (once) on its own.
        for _ in 0..3 {
            assert_eq!(
                resolve(&mut provider, &mut fake, "app/db#key1?version=1"),
                Ok("old".into())
            );
        }
        assert_eq!(fake.asked.len(), 2, "{:?}", fake.asked);
        assert!(
            fake.tokens()
                .iter()
                .all(|t| t.as_deref() == Some("the-token"))
        );
    }

    #[test]
    fn a_one_key_secret_needs_no_key() {
        let mut provider = provider(&[]);
        let mut fake = vault();
        assert_eq!(resolve(&mut provider, &mut fake, "one"), Ok("solo".into()));
        let many = resolve(&mut provider, &mut fake, "app/db");
        assert!(many.is_err_and(|(k, m)| k == "invalid-reference"
            && m.contains("has 10 keys")
            && !m.contains("value")));
    }

    #[test]
    fn failures_are_not_cached() {
        let mut provider = provider(&[]);
        let mut fake = vault().route(DB, 503, r#"{"errors":["Vault is sealed"]}"#);
        let first = resolve(&mut provider, &mut fake, "app/db#key1");
        assert!(first.is_err_and(
            |(k, m)| k == "unavailable" && m.ends_with("is sealed; unseal it and run again")
        ));
        fake = fake.fail(DB, Failure::Timeout);
        let second = resolve(&mut provider, &mut fake, "app/db#key1");
        assert!(second.is_err_and(|(_, m)| m.contains("did not answer in time")));
        fake = fake.route(DB, 404, "");
        let third = resolve(&mut provider, &mut fake, "app/db#key1");
        assert!(third.is_err_and(|(k, _)| k == "not-found"));
        let mut healthy = vault();
        assert_eq!(
            resolve(&mut provider, &mut healthy, "app/db#key1"),
            Ok("value 1".into())
        );
    }

    #[test]
    fn kv_v1_reads_without_data_and_refuses_versions() {
        let mut provider = provider(&[("mount", "kv1/"), ("kv_version", "1")]);
        let mut fake = Fake::default().route("/v1/kv1/app/db", 200, r#"{"data": {"user": "u1"}}"#);
        assert_eq!(
            resolve(&mut provider, &mut fake, "app/db#user"),
            Ok("u1".into())
        );
        let pinned = resolve(&mut provider, &mut fake, "app/db#user?version=1");
        assert!(pinned.is_err_and(|(k, m)| k == "invalid-reference"
            && m.contains("mount \"kv1\" is configured with kv_version: 1")));
        assert_eq!(fake.asked.len(), 1);
    }

    #[test]
    fn approle_logs_in_once_and_reads_with_the_client_token() {
        let mut provider = provider(&[("auth", "approle"), ("namespace", "team")]);
        let mut fake = vault().route(
            "/v1/auth/approle/login",
            200,
            r#"{"auth": {"client_token": "s.client"}}"#,
        );
        for reference in ["app/db#key1", "app/db#key2", "one"] {
            assert!(
                resolve(&mut provider, &mut fake, reference).is_ok(),
                "{reference}"
            );
        }
        assert_eq!(fake.count("/v1/auth/approle/login"), 1, "{:?}", fake.asked);
        assert_eq!(fake.asked[0].0, Method::Post);
        assert_eq!(
            fake.tokens(),
            vec![None, Some("s.client".into()), Some("s.client".into())]
        );
        let login_body = fake.bodies[0].clone().unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&login_body),
            r#"{"role_id":"role-1","secret_id":"secret-1"}"#
        );
        assert!(
            fake.headers
                .iter()
                .all(|h| h.contains(&("x-vault-namespace", "team".into())))
        );
    }

    #[test]
    fn vault_namespace_from_the_environment_when_config_names_none() {
        let with_namespace = |name: &str| match name {
            "VAULT_NAMESPACE" => Ok("/admin/team/".to_string()),
            other => env(other),
        };
        let mut from_env = provider(&[]);
        let mut fake = vault();
        let reference = parse("app/db#key1").map_err(|e| kind_and_message(&e));
        let reference = reference.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            from_env
                .resolve(&reference, &mut fake, with_namespace)
                .is_ok()
        );
        assert!(
            fake.headers
                .iter()
                .all(|h| h.contains(&("x-vault-namespace", "admin/team".into()))),
            "{:?}",
            fake.headers
        );
        // config.namespace wins over the environment.
        let mut from_config = provider(&[("namespace", "ops")]);
        let mut fake = vault();
        assert!(
            from_config
                .resolve(&reference, &mut fake, with_namespace)
                .is_ok()
        );
        assert!(
            fake.headers
                .iter()
                .all(|h| h.contains(&("x-vault-namespace", "ops".into())))
        );
        // A namespace a header cannot carry is said, by the variable's name.
        let bad = |name: &str| match name {
            "VAULT_NAMESPACE" => Ok("a b".to_string()),
            other => env(other),
        };
        let mut provider = provider(&[]);
        let e = provider
            .resolve(&reference, &mut vault(), bad)
            .map_err(|e| kind_and_message(&e));
        assert!(e.is_err_and(|(k, m)| k == "unavailable" && m.starts_with("VAULT_NAMESPACE")));
    }

    #[test]
    fn a_refused_login_is_retried_by_the_next_reference() {
        let mut provider = provider(&[("auth", "approle")]);
        let mut fake = vault().route("/v1/auth/approle/login", 400, "");
        let first = resolve(&mut provider, &mut fake, "app/db#key1");
        assert!(first.is_err_and(|(k, _)| k == "denied"));
        let _ = resolve(&mut provider, &mut fake, "app/db#key2");
        assert_eq!(fake.count("/v1/auth/approle/login"), 2);
        assert_eq!(fake.count(DB), 0);
    }

    #[test]
    fn a_denied_read_keeps_the_session() {
        let mut provider = provider(&[("auth", "approle")]);
        let mut fake = vault()
            .route(
                "/v1/auth/approle/login",
                200,
                r#"{"auth": {"client_token": "s.client"}}"#,
            )
            .route("/v1/secret/data/other", 403, "");
        let denied = resolve(&mut provider, &mut fake, "other#k");
        assert_eq!(denied.err().map(|(k, _)| k), Some("denied"));
        assert_eq!(resolve(&mut provider, &mut fake, "one"), Ok("solo".into()));
        assert_eq!(fake.count("/v1/auth/approle/login"), 1);
    }

    #[test]
    fn a_missing_token_fails_before_any_request() {
        let mut provider = provider(&[("token_env", "NOPE")]);
        let mut fake = vault();
        let e = resolve(&mut provider, &mut fake, "app/db#key1");
        assert!(e.is_err_and(|(k, m)| k == "unavailable" && m.starts_with("NOPE is not visible")));
        assert!(fake.asked.is_empty());
    }

    #[test]
    fn refused_connections_name_the_address() {
        let mut provider = provider(&[]);
        let mut fake = Fake::default().fail(DB, Failure::Refused);
        assert_eq!(
            resolve(&mut provider, &mut fake, "app/db#k"),
            Err((
                "unavailable",
                "cannot connect to Vault at http://vault:8200 (connection refused)".into()
            ))
        );
    }
}
