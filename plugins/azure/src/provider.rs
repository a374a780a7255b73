//! From a parsed reference to a value: a bearer token ([`crate::credential`],
//! kept until it is due for renewal), one Get Secret per secret and version, and
//! `#key` picked out of what came back.
//!
//! The plugin instance lives for the whole run and `resolve` is called once
//! per distinct reference, so `db#user` and `db#password` must cost one fetch.
//! Only successes are kept: a 5xx or a timeout may pass.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Instant;

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::http::Transport;

use crate::Error;
use crate::aad::AccessToken;
use crate::credential::{self, Holder};
use crate::keyvault::{self, TokenSource};
use crate::reference::Reference;
use crate::settings::Settings;
use crate::wire::{self, Server};

/// A configured provider and what it has fetched so far in this run.
pub struct Provider {
    settings: Settings,
    token: Option<(AccessToken, Holder)>,
    /// (name, version) in Key Vault's case-insensitive terms → the value.
    values: HashMap<(String, Option<String>), String>,
}

impl Provider {
    /// A provider that has not talked to any server yet.
    pub fn new(settings: Settings) -> Provider {
        Provider {
            settings,
            token: None,
            values: HashMap::new(),
        }
    }

    /// A Key Vault secret identifier, as the portal and `az keyvault secret
    /// show` give it (`https://NAME.vault.azure.net/secrets/S[/VERSION]`,
    /// `#key` kept), as the reference `S[/VERSION][#key]`; its vault must be
    /// config.vault_url's. Any other reference passes as it is.
    pub fn reference_of_identifier<'r>(&self, reference: &'r str) -> Result<Cow<'r, str>, Error> {
        let Some((_, after_scheme)) = reference.split_once("://") else {
            return Ok(Cow::Borrowed(reference));
        };
        let (uri, key) = match reference.split_once('#') {
            Some((uri, key)) => (uri, Some(key)),
            None => (reference, None),
        };
        let vault = &self.settings.vault;
        let same_vault = vault.of_location(uri).is_some_and(|o| {
            o.authority() == vault.authority() && o.is_https() == vault.is_https()
        });
        if !same_vault {
            return Err(Error::InvalidReference(format!(
                "{uri:?} is a secret of another vault than config.vault_url ({}); this provider reads that vault only",
                vault.url("")
            )));
        }
        let path = after_scheme
            .split('#')
            .next()
            .and_then(|rest| rest.find('/').map(|at| &rest[at..]))
            .unwrap_or("")
            .trim_end_matches('/');
        let secret = path
            .strip_prefix("/secrets/")
            .filter(|rest| !rest.is_empty() && !rest.contains('?'))
            .ok_or_else(|| {
                Error::InvalidReference(format!(
                    "{uri:?} is not a Key Vault secret identifier (https://VAULT/secrets/NAME[/VERSION])"
                ))
            })?;
        Ok(Cow::Owned(match key {
            Some(key) => format!("{secret}#{key}"),
            None => secret.to_string(),
        }))
    }

    /// The bytes `reference` points to. `env` is `env::var` in the
    /// component; `now` is when this resolution started.
    pub fn resolve(
        &mut self,
        reference: &Reference,
        transport: &mut impl Transport,
        env: impl env::Read,
        now: Instant,
    ) -> Result<Vec<u8>, Error> {
        let key = reference.cache_key();
        if let Some(value) = self.values.get(&key) {
            return Ok(keyvault::select(value, reference)?.into_bytes());
        }
        let (token, holder) = self.token(transport, &env, now)?;
        let vault = Server {
            role: "Key Vault",
            origin: &self.settings.vault,
        };
        let source = match &holder {
            Holder::Env(name) => TokenSource::Env(name),
            Holder::App(client_id) => TokenSource::ClientCredentials(client_id),
            Holder::ManagedIdentity => TokenSource::ManagedIdentity,
        };
        let outcome = wire::send(
            transport,
            keyvault::secret_request(vault, reference, &token),
        );
        let rejected = matches!(&outcome, Ok(answer) if answer.status == 401);
        let fetched = keyvault::interpret(vault, reference, source, outcome);
        if rejected {
            // Revoked or expired early: the next resolution asks for a new one.
            self.token = None;
        }
        let value = fetched?;
        // Kept before `#key` is picked: a missing key is the reference's
        // fault, and another key of the same value must not fetch it again.
        let selected = keyvault::select(&value, reference);
        self.values.insert(key, value);
        Ok(selected?.into_bytes())
    }

    /// A token worth using now, and whose it is: the one held, or a new one.
    fn token(
        &mut self,
        transport: &mut impl Transport,
        env: &impl env::Read,
        now: Instant,
    ) -> Result<(String, Holder), Error> {
        if let Some((token, holder)) = &self.token
            && token.is_fresh(now)
        {
            return Ok((token.value.clone(), holder.clone()));
        }
        let (token, holder) = credential::token(&self.settings, transport, env, now)?;
        let held = (token.value.clone(), holder.clone());
        self.token = Some((token, holder));
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqflo_plugin_sdk::Config;
    use reqflo_plugin_sdk::http::{Limits, Method, Request, Response, Scripted};
    use reqflo_plugin_sdk::testing::{accepted, refused};

    use super::*;
    use crate::reference::parse;

    const VAULT: &str = "https://myvault.vault.azure.net";
    const TOKEN_URL: &str = "http://login.test/tenant-1/oauth2/v2.0/token";
    const IMDS_URL: &str = "http://127.0.0.1:9191/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net";
    const APP_SERVICE_URL: &str = "http://127.0.0.1:8181/msi/token?resource=https%3A%2F%2Fvault.azure.net&api-version=2019-08-01&client_id=uai-1";
    /// The variables the provider sees unless a test says otherwise.
    const ENV: &[(&str, &str)] = &[
        ("AZURE_ACCESS_TOKEN", "static-token"),
        ("AZURE_CLIENT_SECRET", "client-s3cret"),
    ];

    /// Each GET sent, as its URL and bearer token, or, to an identity
    /// endpoint (no token), its one header as `name: value`.
    fn gets(server: &Scripted) -> Vec<(String, String)> {
        let said = |request: &Request| match request.header_value("authorization") {
            Some(bearer) => bearer.trim_start_matches("Bearer ").to_string(),
            None => request
                .headers
                .first()
                .map(|(name, value)| format!("{name}: {value}"))
                .unwrap_or_default(),
        };
        server
            .sent()
            .filter(|request| request.method == Method::Get)
            .map(|request| (request.url.clone(), said(request)))
            .collect()
    }

    /// Each POST sent, as its URL and form.
    fn posts(server: &Scripted) -> Vec<(String, String)> {
        server
            .sent()
            .filter(|request| request.method == Method::Post)
            .map(|request| {
                let form = String::from_utf8_lossy(&request.body).into_owned();
                (request.url.clone(), form)
            })
            .collect()
    }

    /// How many requests went to `url`.
    fn asked(server: &Scripted, url: &str) -> usize {
        server.urls().iter().filter(|sent| **sent == url).count()
    }

    /// The Get Secret URL of `path` in the test vault.
    fn secret(path: &str) -> String {
        format!("{VAULT}{path}?api-version=7.5")
    }

    /// Azure AD issuing `aad-1`, then `aad-2`, each for an hour.
    fn with_aad(server: Scripted) -> Scripted {
        let token =
            |n| format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"aad-{n}"}}"#);
        server
            .answer(TOKEN_URL, 200, token(1))
            .answer(TOKEN_URL, 200, token(2))
    }

    /// A managed identity endpoint at `url` issuing `mi-1`, then `mi-2`, each
    /// for a minute.
    fn with_identity(server: Scripted, url: &str) -> Scripted {
        // IMDS writes expires_in as a string.
        let token = |n| {
            format!(
                r#"{{"token_type":"Bearer","expires_in":"60","access_token":"mi-{n}","resource":"https://vault.azure.net"}}"#
            )
        };
        server.answer(url, 200, token(1)).answer(url, 200, token(2))
    }

    #[test]
    fn a_managed_identity_token_comes_from_imds_or_app_service_and_is_renewed() {
        let imds = env::fake(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9191")]);
        let mut p = provider(&[("managed_identity", "true")]);
        let mut imds_fake = with_identity(fake(), IMDS_URL);
        let now = Instant::now();
        for name in ["api", "db#user"] {
            accepted(resolve_in(&mut p, &mut imds_fake, &imds, name, now));
        }
        // A token living a minute is inside the renewal margin: renewed.
        assert_eq!(asked(&imds_fake, IMDS_URL), 2);
        assert_eq!(
            gets(&imds_fake)[0],
            (
                "http://127.0.0.1:9191/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net".to_string(),
                "metadata: true".to_string()
            )
        );
        assert_eq!(gets(&imds_fake)[1].1, "mi-1");
        // App Service: its endpoint and header, a user-assigned identity.
        let app_service = env::fake(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:8181/msi/token"),
            ("IDENTITY_HEADER", "h-123"),
        ]);
        let mut p = provider(&[("managed_identity", "true"), ("client_id", "uai-1")]);
        let mut app_fake = with_identity(fake(), APP_SERVICE_URL);
        accepted(resolve_in(&mut p, &mut app_fake, &app_service, "api", now));
        assert_eq!(
            gets(&app_fake)[0],
            (
                "http://127.0.0.1:8181/msi/token?resource=https%3A%2F%2Fvault.azure.net&api-version=2019-08-01&client_id=uai-1".to_string(),
                "x-identity-header: h-123".to_string()
            )
        );
        // No identity: said, with what to do.
        let mut bare = fake().answer(
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net",
            400,
            r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
        );
        let mut p = provider(&[("managed_identity", "true")]);
        let e = resolve_in(&mut p, &mut bare, &env::fake(&[]), "api", now);
        assert!(refused(e, "denied").contains("has no identity to give"));
        // Client-credential keys do not go with it.
        let with_tenant = Settings::from_config(&Config::of(&[
            ("vault_url", VAULT),
            ("managed_identity", "true"),
            ("tenant_id", "t"),
        ]));
        let m = refused(with_tenant, "invalid-reference");
        assert!(m.contains("not used with managed_identity"), "{m}");
    }

    fn bundle(value: &str) -> String {
        serde_json::json!({"value": value, "attributes": {"enabled": true}}).to_string()
    }

    /// The test vault, with three secrets; it has no other.
    fn fake() -> Scripted {
        let db = bundle(r#"{"user": "svc", "password": "hunter22"}"#);
        Scripted::new()
            .answer(secret("/secrets/db"), 200, db)
            .answer(secret("/secrets/api"), 200, bundle("latest-key"))
            .answer(secret("/secrets/api/0a1b"), 200, bundle("older-key"))
            .otherwise(Ok(Response::new(
                404,
                r#"{"error":{"code":"SecretNotFound"}}"#,
            )))
    }

    fn provider(pairs: &[(&str, &str)]) -> Provider {
        let mut config = vec![("vault_url", VAULT)];
        config.extend_from_slice(pairs);
        Provider::new(accepted(Settings::from_config(&Config::of(&config))))
    }

    #[test]
    fn a_secret_identifier_of_the_configured_vault_is_a_reference() {
        let p = provider(&[]);
        let pass = |written: &str| p.reference_of_identifier(written).map(|r| r.into_owned());
        assert_eq!(pass("api/0a1b#key"), Ok("api/0a1b#key".to_string()));
        assert_eq!(pass(&format!("{VAULT}/secrets/api")), Ok("api".to_string()));
        assert_eq!(
            pass("https://MYVAULT.vault.azure.net:443/secrets/db/0f3c/#password"),
            Ok("db/0f3c#password".to_string())
        );
        for (written, says) in [
            ("https://other.vault.azure.net/secrets/api", "another vault"),
            (
                "http://myvault.vault.azure.net/secrets/api",
                "another vault",
            ),
            (
                "https://myvault.vault.azure.net/keys/api",
                "not a Key Vault secret identifier",
            ),
            (
                "https://myvault.vault.azure.net/secrets/",
                "not a Key Vault secret identifier",
            ),
            (
                "https://myvault.vault.azure.net/secrets/api?api-version=7.4",
                "not a Key Vault secret identifier",
            ),
        ] {
            let refused = p.reference_of_identifier(written).map(|r| r.into_owned());
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.kind() == "invalid-reference" && e.message().contains(says)),
                "{written}: {refused:?}"
            );
        }
    }

    fn client_credentials() -> Provider {
        provider(&[
            ("tenant_id", "tenant-1"),
            ("client_id", "app-1"),
            ("authority", "http://login.test"),
        ])
    }

    /// What `reference` resolves to, as text, in environment `env` at `now`.
    fn resolve_in(
        provider: &mut Provider,
        fake: &mut Scripted,
        env: &impl env::Read,
        reference: &str,
        now: Instant,
    ) -> Result<String, Error> {
        let bytes = provider.resolve(&parse(reference)?, fake, env, now)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// [`resolve_in`] the usual environment, at `now`.
    fn resolve_at(
        provider: &mut Provider,
        fake: &mut Scripted,
        reference: &str,
        now: Instant,
    ) -> Result<String, Error> {
        resolve_in(provider, fake, &env::fake(ENV), reference, now)
    }

    fn resolve(
        provider: &mut Provider,
        fake: &mut Scripted,
        reference: &str,
    ) -> Result<String, Error> {
        resolve_at(provider, fake, reference, Instant::now())
    }

    #[test]
    fn latest_pinned_and_keys_with_a_static_token() {
        let mut provider = provider(&[]);
        let mut fake = fake();
        for (reference, value) in [
            ("api", "latest-key"),
            ("api/0a1b", "older-key"),
            ("db#password", "hunter22"),
            ("db#user", "svc"),
            // Names are case-insensitive in Key Vault, so this is the same fetch.
            ("DB#user", "svc"),
        ] {
            let resolved = resolve(&mut provider, &mut fake, reference);
            assert_eq!(resolved.as_deref(), Ok(value), "{reference}");
        }
        let gets = gets(&fake);
        let urls: Vec<&str> = gets.iter().map(|(url, _)| url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://myvault.vault.azure.net/secrets/api?api-version=7.5",
                "https://myvault.vault.azure.net/secrets/api/0a1b?api-version=7.5",
                "https://myvault.vault.azure.net/secrets/db?api-version=7.5",
            ]
        );
        assert!(gets.iter().all(|(_, token)| token == "static-token"));
        assert!(posts(&fake).is_empty());
    }

    /// A request's method, URL and headers.
    type Sent<'a> = (Method, &'a str, Vec<(&'a str, &'a str)>);

    /// Each request sent, in order.
    fn wire(server: &Scripted) -> Vec<Sent<'_>> {
        server
            .sent()
            .map(|request| {
                let headers = request.headers.iter();
                let headers = headers.map(|(n, v)| (n.as_str(), v.as_str())).collect();
                (request.method, request.url.as_str(), headers)
            })
            .collect()
    }

    #[test]
    fn every_request_asks_for_json_and_reads_error_bodies() {
        let json = ("accept", "application/json");
        let mut signed_in = client_credentials();
        let mut aad = with_aad(fake());
        assert!(resolve(&mut signed_in, &mut aad, "api").is_ok());
        let vault_get = (
            Method::Get,
            "https://myvault.vault.azure.net/secrets/api?api-version=7.5",
            vec![("authorization", "Bearer aad-1"), json],
        );
        assert_eq!(
            wire(&aad),
            [
                (
                    Method::Post,
                    TOKEN_URL,
                    vec![("content-type", "application/x-www-form-urlencoded"), json]
                ),
                vault_get.clone(),
            ]
        );
        let imds = env::fake(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9191")]);
        let mut p = provider(&[("managed_identity", "true")]);
        let mut imds_fake = with_identity(fake(), IMDS_URL);
        accepted(resolve_in(
            &mut p,
            &mut imds_fake,
            &imds,
            "api",
            Instant::now(),
        ));
        assert_eq!(
            wire(&imds_fake)[0],
            (Method::Get, IMDS_URL, vec![("metadata", "true"), json])
        );
        let everything = Limits::read_all(1024 * 1024);
        let limits = [aad.limits(), imds_fake.limits()].concat();
        assert!(limits.iter().all(|sent| *sent == everything), "{limits:?}");
    }

    #[test]
    fn client_credentials_fetch_one_token_per_run() {
        let mut provider = client_credentials();
        let mut fake = with_aad(fake());
        for reference in ["api", "api/0a1b", "db#user"] {
            assert!(resolve(&mut provider, &mut fake, reference).is_ok());
        }
        let posts = posts(&fake);
        assert_eq!(posts.len(), 1);
        let (url, form) = &posts[0];
        assert_eq!(url, TOKEN_URL);
        assert_eq!(
            form,
            "grant_type=client_credentials&client_id=app-1&client_secret=client-s3cret\
             &scope=https%3A%2F%2Fvault.azure.net%2F.default"
        );
        assert!(gets(&fake).iter().all(|(_, token)| token == "aad-1"));
    }

    #[test]
    fn an_expiring_token_is_renewed() {
        let mut provider = client_credentials();
        let mut fake = with_aad(fake());
        let start = Instant::now();
        assert!(resolve_at(&mut provider, &mut fake, "api", start).is_ok());
        let later = start + Duration::from_secs(3599 - 300);
        assert!(resolve_at(&mut provider, &mut fake, "db#user", later).is_ok());
        assert_eq!(posts(&fake).len(), 2);
        assert_eq!(gets(&fake)[1].1, "aad-2");
    }

    #[test]
    fn a_rejected_token_is_dropped() {
        let mut provider = client_credentials();
        let mut fake = with_aad(fake()).answer(secret("/secrets/revoked"), 401, "");
        let m = refused(resolve(&mut provider, &mut fake, "revoked"), "denied");
        assert!(
            m.contains("the token Azure AD issued to client app-1 was not accepted"),
            "{m}"
        );
        assert!(resolve(&mut provider, &mut fake, "api").is_ok());
        assert_eq!(posts(&fake).len(), 2);
    }

    #[test]
    fn failures_are_not_cached() {
        let mut provider = provider(&[]);
        let mut fake = Scripted::new().answer(secret("/secrets/api"), 503, "");
        let first = refused(resolve(&mut provider, &mut fake, "api"), "unavailable");
        assert!(first.contains("answered 503"), "{first}");
        let mut healthy = self::fake();
        assert_eq!(
            resolve(&mut provider, &mut healthy, "api"),
            Ok("latest-key".into())
        );
        // A missing key is not a failed fetch: the value stays cached.
        assert!(resolve(&mut provider, &mut healthy, "db#nope").is_err());
        assert!(resolve(&mut provider, &mut healthy, "db#user").is_ok());
        assert_eq!(gets(&healthy).len(), 2);
    }

    #[test]
    fn a_refused_token_request_sends_nothing_to_the_vault() {
        let mut provider = client_credentials();
        let mut fake = fake().answer(
            TOKEN_URL,
            401,
            r#"{"error":"invalid_client","error_codes":[7000215]}"#,
        );
        let m = refused(resolve(&mut provider, &mut fake, "api"), "denied");
        assert!(
            m.starts_with("Azure AD refused the client credentials (invalid_client"),
            "{m}"
        );
        assert!(!m.contains("client-s3cret"));
        assert!(gets(&fake).is_empty());
    }

    #[test]
    fn missing_credentials_fail_at_resolve_without_a_request() {
        let mut fake = fake();
        let client_secret_in_nope = [
            ("tenant_id", "tenant-1"),
            ("client_id", "app-1"),
            ("client_secret_env", "NOPE"),
        ];
        for (config, says) in [
            (&[("token_env", "NOPE")][..], "NOPE is not visible"),
            (&client_secret_in_nope, "the client secret of client app-1"),
        ] {
            let e = refused(
                resolve(&mut provider(config), &mut fake, "api"),
                "unavailable",
            );
            assert!(
                e.starts_with("NOPE is not visible") && e.contains(says),
                "{e}"
            );
        }
        assert!(gets(&fake).is_empty() && posts(&fake).is_empty());
    }
}
