//! From a parsed reference to a value: a token (from the environment, or from
//! an AppRole, JWT or Kubernetes login), one KV read per secret, and the
//! answers kept for the run.
//!
//! The plugin instance lives for the whole run and `resolve` is called once per
//! distinct reference, so a journey naming ten keys of one secret must not cost
//! ten reads, nor ten logins. Only successes are kept: a 5xx or a timeout may
//! pass, and a secret written meanwhile should be found by the next reference.

use std::collections::HashMap;
use std::rc::Rc;

use reqflo_plugin_sdk::env::Read;
use reqflo_plugin_sdk::http::Transport;
use reqflo_plugin_sdk::origin::Origin;

use crate::Error;
use crate::kv::{Place, Secret, interpret_read};
use crate::login::{Login, Method};
use crate::reference::{Reference, VaultPath};
use crate::settings::{Auth, Credentials, KvVersion, Settings};
use crate::wire;

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
        env: &impl Read,
    ) -> Result<String, Error> {
        if reference.version.is_some() && self.settings.kv_version == KvVersion::V1 {
            return Err(Error::InvalidReference(format!(
                "`?version=` needs a KV version 2 engine, and mount {:?} is configured with \
                 kv_version: 1",
                self.settings.mount.to_string()
            )));
        }
        let namespace = crate::settings::namespace(&self.settings, env)?;
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
                let request = wire::get(url, &session.token, place.namespace);
                let outcome = transport.send(request, wire::LIMITS);
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

    /// A session from the environment's token, or from a login.
    fn open_session(
        &self,
        transport: &mut impl Transport,
        env: &impl Read,
        namespace: Option<&str>,
    ) -> Result<Session, Error> {
        let connection = self.settings.connection(env)?;
        let origin = connection.origin;
        let (mount, method) = match (&connection.credentials, &self.settings.auth) {
            (Credentials::Token(token), _) => {
                return Ok(Session {
                    origin,
                    token: token.clone(),
                });
            }
            (
                Credentials::AppRole { role_id, secret_id },
                Auth::AppRole {
                    role_id_env,
                    secret_id_env,
                    mount,
                },
            ) => (
                mount,
                Method::AppRole {
                    role_id,
                    secret_id,
                    role_id_env,
                    secret_id_env,
                },
            ),
            (
                Credentials::Jwt(jwt),
                Auth::Jwt {
                    kind, role, mount, ..
                },
            ) => (
                mount,
                Method::Jwt {
                    kind: *kind,
                    role,
                    jwt,
                },
            ),
            // `connection` builds login credentials only for their own auth.
            _ => {
                return Err(Error::Unavailable(
                    "the Vault provider mixed up its authentication settings".into(),
                ));
            }
        };
        let login = Login {
            origin: &origin,
            mount,
            namespace,
            method,
        };
        let outcome = transport.send(login.request()?, wire::LIMITS);
        let token = login.interpret(outcome)?;
        Ok(Session { origin, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse;
    use reqflo_plugin_sdk::Config;
    use reqflo_plugin_sdk::env;
    use reqflo_plugin_sdk::http::{Failure, Method, Response, Scripted};
    use reqflo_plugin_sdk::testing::{TempFile, refused};

    const DB: &str = "/v1/secret/data/app/db";
    const LOGIN: &str = "/v1/auth/approle/login";

    /// The URL of `path` on the test server.
    fn url(path: &str) -> String {
        format!("http://vault:8200{path}")
    }

    /// A Vault server with no secrets: every path is a 404.
    fn server() -> Scripted {
        Scripted::new().otherwise(Ok(Response::new(404, r#"{"errors":[]}"#)))
    }

    /// How many requests went to `path`.
    fn count(server: &Scripted, path: &str) -> usize {
        let url = url(path);
        server.urls().iter().filter(|asked| **asked == url).count()
    }

    /// The token each request carried.
    fn tokens(server: &Scripted) -> Vec<Option<&str>> {
        server.header_values("x-vault-token")
    }

    fn db_body() -> String {
        let keys: Vec<String> = (0..10)
            .map(|n| format!(r#""key{n}": "value {n}""#))
            .collect();
        format!(r#"{{"data": {{"data": {{{}}}}}}}"#, keys.join(","))
    }

    fn vault() -> Scripted {
        server()
            .answer(url(DB), 200, db_body())
            .answer(
                url(&format!("{DB}?version=1")),
                200,
                r#"{"data": {"data": {"key1": "old"}}}"#,
            )
            .answer(
                url("/v1/secret/data/one"),
                200,
                r#"{"data": {"data": {"only": "solo"}}}"#,
            )
    }

    fn provider(config: &[(&str, &str)]) -> Provider {
        let mut pairs = vec![("address", "http://vault:8200")];
        pairs.extend_from_slice(config);
        match Settings::from_config(&Config::of(&pairs)) {
            Ok(settings) => Provider::new(settings),
            Err(e) => panic!("{}", e.message()),
        }
    }

    const ENV: [(&str, &str); 3] = [
        ("VAULT_TOKEN", "the-token"),
        ("VAULT_ROLE_ID", "role-1"),
        ("VAULT_SECRET_ID", "secret-1"),
    ];

    fn resolve(
        provider: &mut Provider,
        fake: &mut Scripted,
        reference: &str,
    ) -> Result<String, Error> {
        resolve_with(provider, fake, &env::fake(&ENV), reference)
    }

    fn resolve_with(
        provider: &mut Provider,
        fake: &mut Scripted,
        env: &impl env::Read,
        reference: &str,
    ) -> Result<String, Error> {
        provider.resolve(&parse(reference)?, fake, env)
    }

    /// The body of the first request, the login, as text.
    fn login_body(server: &Scripted) -> String {
        let body = server.sent().next().map(|r| r.body.clone());
        String::from_utf8_lossy(&body.unwrap_or_default()).into_owned()
    }

    /// The namespace each request carried.
    fn namespaces(server: &Scripted) -> Vec<Option<&str>> {
        server.header_values("x-vault-namespace")
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
        assert_eq!(count(&fake, DB), 1, "{:?}", fake.urls());
        // A pinned version is another secret, read (once) on its own.
        for _ in 0..3 {
            assert_eq!(
                resolve(&mut provider, &mut fake, "app/db#key1?version=1"),
                Ok("old".into())
            );
        }
        assert_eq!(fake.urls().len(), 2, "{:?}", fake.urls());
        assert!(
            tokens(&fake)
                .iter()
                .all(|t| t.as_deref() == Some("the-token"))
        );
        assert!(fake.limits().iter().all(|l| *l == wire::LIMITS));
    }

    #[test]
    fn a_one_key_secret_needs_no_key() {
        let mut provider = provider(&[]);
        let mut fake = vault();
        assert_eq!(resolve(&mut provider, &mut fake, "one"), Ok("solo".into()));
        let many = refused(
            resolve(&mut provider, &mut fake, "app/db"),
            "invalid-reference",
        );
        assert!(
            many.contains("has 10 keys") && !many.contains("value"),
            "{many}"
        );
    }

    #[test]
    fn failures_are_not_cached() {
        let mut provider = provider(&[]);
        // The answers come in this order, one a reference; the last one
        // finds the secret written meanwhile.
        let mut fake = server()
            .answer(url(DB), 503, r#"{"errors":["Vault is sealed"]}"#)
            .fail(url(DB), Failure::Timeout)
            .answer(url(DB), 404, "")
            .answer(url(DB), 200, db_body());
        for (kind, says) in [
            ("unavailable", "is sealed; unseal it and run again"),
            ("unavailable", "did not answer in time"),
            ("not-found", "no secret at \"app/db\""),
        ] {
            let m = refused(resolve(&mut provider, &mut fake, "app/db#key1"), kind);
            assert!(m.contains(says), "{m}");
        }
        let found = resolve(&mut provider, &mut fake, "app/db#key1");
        assert_eq!(found, Ok("value 1".into()));
        assert_eq!(count(&fake, DB), 4);
    }

    #[test]
    fn kv_v1_reads_without_data_and_refuses_versions() {
        let mut provider = provider(&[("mount", "kv1/"), ("kv_version", "1")]);
        let mut fake = server().answer(url("/v1/kv1/app/db"), 200, r#"{"data": {"user": "u1"}}"#);
        assert_eq!(
            resolve(&mut provider, &mut fake, "app/db#user"),
            Ok("u1".into())
        );
        let pinned = resolve(&mut provider, &mut fake, "app/db#user?version=1");
        let m = refused(pinned, "invalid-reference");
        assert!(
            m.contains("mount \"kv1\" is configured with kv_version: 1"),
            "{m}"
        );
        assert_eq!(fake.urls().len(), 1);
    }

    #[test]
    fn approle_logs_in_once_and_reads_with_the_client_token() {
        let mut provider = provider(&[("auth", "approle"), ("namespace", "team")]);
        let mut fake = vault().answer(url(LOGIN), 200, r#"{"auth": {"client_token": "s.client"}}"#);
        for reference in ["app/db#key1", "app/db#key2", "one"] {
            assert!(
                resolve(&mut provider, &mut fake, reference).is_ok(),
                "{reference}"
            );
        }
        assert_eq!(count(&fake, LOGIN), 1, "{:?}", fake.urls());
        assert_eq!(fake.asked()[0].0, Method::Post);
        assert_eq!(
            tokens(&fake),
            vec![None, Some("s.client"), Some("s.client")]
        );
        assert_eq!(
            login_body(&fake),
            r#"{"role_id":"role-1","secret_id":"secret-1"}"#
        );
        assert!(namespaces(&fake).iter().all(|h| *h == Some("team")));
    }

    #[test]
    fn jwt_and_kubernetes_log_in_once_with_the_role_and_the_jwt() {
        for (auth, mount, name) in [
            ("jwt", "jwt", "lookup-jwt"),
            ("kubernetes", "k8s/prod", "lookup-k8s"),
        ] {
            let file = TempFile::new(name, "eyJhbGciOi.payload.signature\n");
            let mut provider = provider(&[
                ("auth", auth),
                ("role", "ci"),
                ("jwt_file", file.path()),
                ("auth_mount", mount),
                ("namespace", "team"),
            ]);
            let login = format!("/v1/auth/{mount}/login");
            let mut fake =
                vault().answer(url(&login), 200, r#"{"auth": {"client_token": "s.jwt"}}"#);
            for reference in ["app/db#key1", "one"] {
                assert!(
                    resolve(&mut provider, &mut fake, reference).is_ok(),
                    "{reference}"
                );
            }
            assert_eq!(count(&fake, &login), 1, "{:?}", fake.urls());
            assert_eq!(fake.asked()[0], (Method::Post, url(&login).as_str()));
            assert_eq!(tokens(&fake), vec![None, Some("s.jwt"), Some("s.jwt")]);
            assert!(namespaces(&fake).iter().all(|h| *h == Some("team")));
            assert_eq!(
                login_body(&fake),
                r#"{"role":"ci","jwt":"eyJhbGciOi.payload.signature"}"#
            );
        }
    }

    #[test]
    fn a_missing_jwt_file_fails_before_any_request_and_a_refusal_is_retried() {
        let file = TempFile::new("lookup-refused", "eyJ.a.b");
        let mut provider = provider(&[
            ("auth", "kubernetes"),
            ("role", "ci"),
            ("jwt_file", file.path()),
        ]);
        let login = "/v1/auth/kubernetes/login";
        let mut fake = vault().answer(url(login), 400, r#"{"errors":["eyJ.a.b"]}"#);
        let m = refused(resolve(&mut provider, &mut fake, "app/db#key1"), "denied");
        assert!(
            m.starts_with("the Kubernetes login at auth/kubernetes for role \"ci\" was refused"),
            "{m}"
        );
        assert!(!m.contains("eyJ"), "{m}");
        // The file gone, the next reference says so without asking Vault.
        drop(file);
        let gone = resolve(&mut provider, &mut fake, "app/db#key2");
        let says = "but it is not there, or not granted: list `";
        assert!(refused(gone, "unavailable").contains(says));
        assert_eq!(count(&fake, login), 1);
        assert_eq!(count(&fake, DB), 0);
    }

    #[test]
    fn vault_namespace_from_the_environment_when_config_names_none() {
        let [token, role, secret] = ENV;
        let namespaced = [token, role, secret, ("VAULT_NAMESPACE", "/admin/team/")];
        let with_namespace = env::fake(&namespaced);
        let mut from_env = provider(&[]);
        let mut fake = vault();
        let reference = "app/db#key1";
        assert!(resolve_with(&mut from_env, &mut fake, &with_namespace, reference).is_ok());
        assert!(
            namespaces(&fake).iter().all(|h| *h == Some("admin/team")),
            "{:?}",
            namespaces(&fake)
        );
        // config.namespace wins over the environment.
        let mut from_config = provider(&[("namespace", "ops")]);
        let mut fake = vault();
        assert!(resolve_with(&mut from_config, &mut fake, &with_namespace, reference).is_ok());
        assert!(namespaces(&fake).iter().all(|h| *h == Some("ops")));
        // A namespace a header cannot carry is said, by the variable's name.
        let unsendable = [token, role, secret, ("VAULT_NAMESPACE", "a b")];
        let bad = env::fake(&unsendable);
        let mut provider = provider(&[]);
        let e = resolve_with(&mut provider, &mut vault(), &bad, reference);
        assert!(refused(e, "unavailable").starts_with("VAULT_NAMESPACE"));
    }

    #[test]
    fn a_refused_login_is_retried_by_the_next_reference() {
        let mut provider = provider(&[("auth", "approle")]);
        let mut fake = vault().answer(url(LOGIN), 400, "");
        refused(resolve(&mut provider, &mut fake, "app/db#key1"), "denied");
        let _ = resolve(&mut provider, &mut fake, "app/db#key2");
        assert_eq!(count(&fake, LOGIN), 2);
        assert_eq!(count(&fake, DB), 0);
    }

    #[test]
    fn a_denied_read_keeps_the_session() {
        let mut provider = provider(&[("auth", "approle")]);
        let mut fake = vault()
            .answer(url(LOGIN), 200, r#"{"auth": {"client_token": "s.client"}}"#)
            .answer(url("/v1/secret/data/other"), 403, "");
        refused(resolve(&mut provider, &mut fake, "other#k"), "denied");
        assert_eq!(resolve(&mut provider, &mut fake, "one"), Ok("solo".into()));
        assert_eq!(count(&fake, LOGIN), 1);
    }

    #[test]
    fn a_missing_token_fails_before_any_request() {
        let mut provider = provider(&[("token_env", "NOPE")]);
        let mut fake = vault();
        let m = refused(
            resolve(&mut provider, &mut fake, "app/db#key1"),
            "unavailable",
        );
        assert!(m.starts_with("NOPE is not visible"), "{m}");
        assert!(fake.urls().is_empty());
    }

    #[test]
    fn refused_connections_name_the_address() {
        let mut provider = provider(&[]);
        let mut fake = server().fail(url(DB), Failure::Refused);
        assert_eq!(
            resolve(&mut provider, &mut fake, "app/db#k"),
            Err(Error::Unavailable(
                "cannot connect to Vault at http://vault:8200 (connection refused) while \
                 reading \"app/db\" in mount \"secret\""
                    .into()
            ))
        );
    }
}
