//! Where the bearer token comes from. Config may pick one way (`token_env`,
//! `tenant_id` with `client_id`, `workload_identity`, `managed_identity`);
//! without, the first link whose variables the provider sees, in
//! `DefaultAzureCredential`'s order:
//!
//! 1. a ready token in `AZURE_ACCESS_TOKEN` (reqflo's own first link);
//! 2. the environment (`EnvironmentCredential`): `AZURE_TENANT_ID` and
//!    `AZURE_CLIENT_ID` with `AZURE_CLIENT_SECRET`, else with the client
//!    certificate in `AZURE_CLIENT_CERTIFICATE_PATH` ([`crate::certificate`]);
//! 3. workload identity, `AZURE_FEDERATED_TOKEN_FILE` ([`crate::workload`]);
//! 4. managed identity ([`crate::identity`]) where App Service's
//!    `IDENTITY_ENDPOINT` or `AZURE_POD_IDENTITY_AUTHORITY_HOST` says there
//!    is one; IMDS on a VM, which no variable announces, with
//!    `managed_identity: true`.
//!
//! Each token request walks the chain again, so a renewal reads the files
//! anew.

use std::time::{Instant, SystemTime};

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::http::Transport;
use reqflo_plugin_sdk::origin::Origin;

use crate::Error;
use crate::aad::{self, AccessToken, Proof};
use crate::certificate::{self, PATH_ENV};
use crate::settings::{
    Auth, ClientCredentials, DEFAULT_CLIENT_SECRET_ENV, DEFAULT_TOKEN_ENV, Settings, authority_of,
    identifier, read_env,
};
use crate::workload::{self, TOKEN_FILE_ENV};

/// Who the token was issued to, for the vault's messages about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A ready token from this variable.
    Env(String),
    /// Azure AD issued it to this client ID.
    App(String),
    /// The workload's managed identity.
    ManagedIdentity,
}

/// A new token for the vault, and whose it is.
pub fn token(
    settings: &Settings,
    transport: &mut impl Transport,
    env: &impl env::Read,
    now: Instant,
) -> Result<(AccessToken, Holder), Error> {
    match &settings.auth {
        Auth::Token { env: name } => ready(env, name),
        Auth::ClientCredentials(client) => signed_in(
            client,
            environment_proof(client, env)?,
            settings,
            transport,
            now,
        ),
        Auth::WorkloadIdentity {
            tenant,
            client_id,
            authority,
        } => {
            let client = app(
                settings,
                tenant.as_deref(),
                client_id.as_deref(),
                authority.as_ref(),
                env,
            )?;
            let proof = Proof::Federated(workload::assertion(env)?);
            signed_in(&client, proof, settings, transport, now)
        }
        Auth::ManagedIdentity { client_id } => {
            let token =
                crate::identity::token(settings, client_id.as_deref(), transport, env, now)?;
            Ok((token, Holder::ManagedIdentity))
        }
        Auth::Default => default_chain(settings, transport, env, now),
    }
}

/// `DefaultAzureCredential`'s order over what the provider sees.
fn default_chain(
    settings: &Settings,
    transport: &mut impl Transport,
    env: &impl env::Read,
    now: Instant,
) -> Result<(AccessToken, Holder), Error> {
    let visible = |name: &str| visible(env, name);
    if visible(DEFAULT_TOKEN_ENV) {
        return ready(env, DEFAULT_TOKEN_ENV);
    }
    // A secret or a certificate granted says the environment link is meant:
    // from here on, a missing ID is named rather than passed over.
    if visible(DEFAULT_CLIENT_SECRET_ENV) || visible(PATH_ENV) {
        let client = app(settings, None, None, None, env)?;
        let proof = environment_proof(&client, env)?;
        return signed_in(&client, proof, settings, transport, now);
    }
    if visible(TOKEN_FILE_ENV) {
        let client = app(settings, None, None, None, env)?;
        let proof = Proof::Federated(workload::assertion(env)?);
        return signed_in(&client, proof, settings, transport, now);
    }
    let app_service = visible("IDENTITY_ENDPOINT") && visible("IDENTITY_HEADER");
    if app_service || visible("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
        // As Azure's SDKs do, AZURE_CLIENT_ID picks a user-assigned identity.
        let client_id = env::optional(env, "AZURE_CLIENT_ID")?.filter(|id| !id.trim().is_empty());
        let client_id = client_id
            .map(|id| {
                identifier("client_id", &id).map_err(|_| {
                    Error::Unavailable(
                        "AZURE_CLIENT_ID does not hold a managed identity's client ID: it has \
                         characters other than letters, digits, `-`, `.` and `_`"
                            .into(),
                    )
                })
            })
            .transpose()?;
        let token = crate::identity::token(settings, client_id.as_deref(), transport, env, now)?;
        return Ok((token, Holder::ManagedIdentity));
    }
    Err(Error::Unavailable(format!(
        "{DEFAULT_TOKEN_ENV} is not visible to the Azure Key Vault provider, nor any other \
         credential: list under the provider's grants.env {DEFAULT_TOKEN_ENV} (a bearer token \
         for https://vault.azure.net), or AZURE_TENANT_ID and AZURE_CLIENT_ID with \
         {DEFAULT_CLIENT_SECRET_ENV} or {PATH_ENV}, or {TOKEN_FILE_ENV} (AKS workload \
         identity); on an Azure VM, set config.managed_identity: true"
    )))
}

/// Whether `name` is set to something other than blanks.
fn visible(env: &impl env::Read, name: &str) -> bool {
    env::optional(env, name)
        .ok()
        .flatten()
        .is_some_and(|value| !value.trim().is_empty())
}

/// A ready-made token from the variable `name`, never renewed.
fn ready(env: &impl env::Read, name: &str) -> Result<(AccessToken, Holder), Error> {
    let value = read_env(
        env,
        name,
        "a bearer token for https://vault.azure.net",
        "or configure tenant_id and client_id for client credentials",
    )?;
    let token = AccessToken {
        value,
        renew_at: None,
    };
    Ok((token, Holder::Env(name.to_string())))
}

/// `EnvironmentCredential`'s order for one app: its client secret when the
/// variable is visible, else its client certificate.
fn environment_proof(client: &ClientCredentials, env: &impl env::Read) -> Result<Proof, Error> {
    if visible(env, &client.secret_env) || !visible(env, PATH_ENV) {
        return Ok(Proof::Secret(read_env(
            env,
            &client.secret_env,
            &format!("the client secret of client {}", client.client_id),
            &format!(
                "or point config.client_secret_env at another variable, or grant {PATH_ENV} \
                 and the file for a client certificate"
            ),
        )?));
    }
    Ok(Proof::Certificate(certificate::assertion(
        client,
        env,
        SystemTime::now(),
    )?))
}

/// A token Azure AD issues to `client` for `proof`.
fn signed_in(
    client: &ClientCredentials,
    proof: Proof,
    settings: &Settings,
    transport: &mut impl Transport,
    now: Instant,
) -> Result<(AccessToken, Holder), Error> {
    let token = aad::sign_in(client, &proof, &settings.scope(), transport, now)?;
    Ok((token, Holder::App(client.client_id.clone())))
}

/// The app to sign in as: config's IDs, else `AZURE_TENANT_ID` and
/// `AZURE_CLIENT_ID`; Azure AD at config.authority, else
/// `AZURE_AUTHORITY_HOST`, else the vault's cloud's.
pub fn app(
    settings: &Settings,
    tenant: Option<&str>,
    client_id: Option<&str>,
    authority: Option<&Origin>,
    read: &impl env::Read,
) -> Result<ClientCredentials, Error> {
    let from_env = |name: &str, what: &str, key: &str| -> Result<String, Error> {
        let value = read_env(read, name, what, &format!("or set config.{key}"))?;
        identifier(key, &value).map_err(|_| {
            Error::Unavailable(format!(
                "{name} does not hold an Azure AD ID (a GUID, or a tenant's domain name)"
            ))
        })
    };
    let tenant = match tenant {
        Some(tenant) => tenant.to_string(),
        None => from_env("AZURE_TENANT_ID", "the tenant (directory) ID", "tenant_id")?,
    };
    let client_id = match client_id {
        Some(id) => id.to_string(),
        None => from_env(
            "AZURE_CLIENT_ID",
            "the application (client) ID",
            "client_id",
        )?,
    };
    let authority = match authority {
        Some(authority) => authority.clone(),
        None => match env::optional(read, "AZURE_AUTHORITY_HOST")? {
            Some(host) if !host.is_empty() => crate::wire::parse_origin(&host).map_err(|why| {
                Error::Unavailable(format!(
                    "AZURE_AUTHORITY_HOST is not a usable Azure AD URL: it {why}"
                ))
            })?,
            _ => authority_of(&settings.vault)?,
        },
    };
    Ok(ClientCredentials {
        authority,
        tenant,
        client_id,
        secret_env: DEFAULT_CLIENT_SECRET_ENV.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::Config;
    use reqflo_plugin_sdk::env::fake;
    use reqflo_plugin_sdk::http::{Method, Scripted};
    use reqflo_plugin_sdk::testing::{
        TempFile, accepted, form_field, form_fields, jwt_parts, refused,
    };

    use super::*;
    use crate::certificate::tests::{CERT, KEY};

    const VAULT: &str = "https://myvault.vault.azure.net";
    const AUTHORITY: &str = "http://login.test";
    const TOKEN_URL: &str = "http://login.test/tenant-1/oauth2/v2.0/token";
    const APP: [(&str, &str); 3] = [
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "app-1"),
        ("AZURE_AUTHORITY_HOST", AUTHORITY),
    ];

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut config = vec![("vault_url", VAULT)];
        config.extend_from_slice(pairs);
        accepted(Settings::from_config(&Config::of(&config)))
    }

    /// Azure AD issuing `aad-1` for an hour.
    fn aad() -> Scripted {
        Scripted::new().answer(
            TOKEN_URL,
            200,
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"aad-1"}"#,
        )
    }

    /// The token request's form fields.
    fn form(server: &Scripted) -> Vec<(String, String)> {
        let posts: Vec<_> = server.sent().filter(|r| r.method == Method::Post).collect();
        assert_eq!(posts.len(), 1, "one token request");
        form_fields(&posts[0].body)
    }

    /// What the default chain sends with the variables `vars`.
    fn chain(vars: &[(&str, &str)]) -> (Result<Holder, Error>, Scripted) {
        let mut server = aad();
        let got = token(&settings(&[]), &mut server, &fake(vars), Instant::now());
        (got.map(|(_, holder)| holder), server)
    }

    #[test]
    fn the_chain_s_order() {
        let bundle = TempFile::new("chain.pem", &format!("{KEY}{CERT}"));
        let federated = TempFile::new("federated.jwt", "federated.jwt.token");
        let (cert, file) = (bundle.path(), federated.path());
        let with = |extra: &[(&'static str, &str)]| -> Vec<(&str, String)> {
            APP.iter()
                .chain(extra)
                .map(|(k, v)| (*k, v.to_string()))
                .collect()
        };
        let all = with(&[
            ("AZURE_CLIENT_SECRET", "client-s3cret"),
            (PATH_ENV, cert),
            (TOKEN_FILE_ENV, file),
        ]);
        let run = |vars: &[(&str, String)]| {
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            chain(&vars)
        };
        // A ready token beats everything, and asks nobody.
        let mut ready_too = all.clone();
        ready_too.push(("AZURE_ACCESS_TOKEN", "ready".into()));
        let (holder, server) = run(&ready_too);
        assert_eq!(holder, Ok(Holder::Env("AZURE_ACCESS_TOKEN".into())));
        assert_eq!(server.sent().count(), 0);
        // The client secret beats the certificate.
        let (holder, server) = run(&all);
        assert_eq!(holder, Ok(Holder::App("app-1".into())));
        let sent = form(&server);
        assert_eq!(form_field(&sent, "client_secret"), "client-s3cret");
        assert_eq!(form_field(&sent, "client_assertion"), "");
        // The certificate beats workload identity.
        let no_secret: Vec<_> = all
            .iter()
            .filter(|(k, _)| *k != "AZURE_CLIENT_SECRET")
            .cloned()
            .collect();
        let (holder, server) = run(&no_secret);
        assert_eq!(holder, Ok(Holder::App("app-1".into())));
        let sent = form(&server);
        assert_eq!(
            form_field(&sent, "client_assertion_type"),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        let (header, claims) = jwt_parts(form_field(&sent, "client_assertion"));
        assert!(header["x5t"].is_string(), "{header}");
        assert_eq!(claims["aud"], TOKEN_URL);
        assert_eq!(
            form_field(&sent, "scope"),
            "https://vault.azure.net/.default"
        );
        // Workload identity beats managed identity.
        let mut federated_only: Vec<_> = no_secret
            .iter()
            .filter(|(k, _)| *k != PATH_ENV)
            .cloned()
            .collect();
        federated_only.push((
            "IDENTITY_ENDPOINT",
            "http://127.0.0.1:8181/msi/token".into(),
        ));
        federated_only.push(("IDENTITY_HEADER", "h".into()));
        let (holder, server) = run(&federated_only);
        assert_eq!(holder, Ok(Holder::App("app-1".into())));
        assert_eq!(
            form_field(&form(&server), "client_assertion"),
            "federated.jwt.token"
        );
        // Managed identity last: App Service's endpoint, AZURE_CLIENT_ID's identity.
        let app_service = [
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:8181/msi/token"),
            ("IDENTITY_HEADER", "h"),
            ("AZURE_CLIENT_ID", "uai-1"),
        ];
        let url = "http://127.0.0.1:8181/msi/token?resource=https%3A%2F%2Fvault.azure.net&api-version=2019-08-01&client_id=uai-1";
        let mut server = Scripted::new().answer(
            url,
            200,
            r#"{"token_type":"Bearer","expires_in":"3600","access_token":"mi-1"}"#,
        );
        let got = token(
            &settings(&[]),
            &mut server,
            &fake(&app_service),
            Instant::now(),
        );
        assert_eq!(got.map(|(_, h)| h), Ok(Holder::ManagedIdentity));
        // An identity's client ID that cannot be one is named as the variable.
        let (holder, server) = chain(&[app_service[0], app_service[1], ("AZURE_CLIENT_ID", "a b")]);
        assert_eq!(
            refused(holder, "unavailable"),
            "AZURE_CLIENT_ID does not hold a managed identity's client ID: it has characters \
             other than letters, digits, `-`, `.` and `_`"
        );
        assert!(server.urls().is_empty());
        // Nothing at all: every option named, nothing sent.
        let (holder, server) = chain(&[]);
        let m = refused(holder, "unavailable");
        assert!(
            m.starts_with("AZURE_ACCESS_TOKEN is not visible to the Azure Key Vault provider, nor any other credential")
                && m.contains("AZURE_CLIENT_CERTIFICATE_PATH")
                && m.contains("config.managed_identity: true"),
            "{m}"
        );
        assert_eq!(server.sent().count(), 0);
        // A certificate without the app's IDs: the missing one named.
        let (holder, _) = chain(&[(PATH_ENV, cert)]);
        assert!(refused(holder, "unavailable").starts_with("AZURE_TENANT_ID is not visible"));
    }

    #[test]
    fn configured_client_credentials_fall_back_to_the_certificate() {
        let bundle = TempFile::new("configured.pem", &format!("{KEY}{CERT}"));
        let cert = bundle.path();
        let configured = settings(&[
            ("tenant_id", "tenant-1"),
            ("client_id", "app-1"),
            ("authority", AUTHORITY),
        ]);
        let mut server = aad();
        let got = token(
            &configured,
            &mut server,
            &fake(&[(PATH_ENV, cert)]),
            Instant::now(),
        );
        assert_eq!(got.map(|(_, h)| h), Ok(Holder::App("app-1".into())));
        assert!(!form_field(&form(&server), "client_assertion").is_empty());
        // Neither: the secret is asked for, the certificate offered.
        let mut server = aad();
        let m = refused(
            token(&configured, &mut server, &fake(&[]), Instant::now()).map(drop),
            "unavailable",
        );
        assert!(
            m.starts_with("AZURE_CLIENT_SECRET is not visible")
                && m.contains("grant AZURE_CLIENT_CERTIFICATE_PATH"),
            "{m}"
        );
    }

    #[test]
    fn the_app_comes_from_config_or_the_environment() {
        let defaults = settings(&[]);
        let vars = fake(&[
            ("AZURE_TENANT_ID", "tenant-1"),
            ("AZURE_CLIENT_ID", "client-1"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us"),
        ]);
        let c = accepted(app(&defaults, None, None, None, &vars));
        assert_eq!(
            (
                c.tenant.as_str(),
                c.client_id.as_str(),
                c.authority.to_string().as_str()
            ),
            ("tenant-1", "client-1", "https://login.microsoftonline.us")
        );
        let c = accepted(app(&defaults, Some("t2"), Some("c2"), None, &fake(&[])));
        assert_eq!((c.tenant.as_str(), c.client_id.as_str()), ("t2", "c2"));
        assert_eq!(c.authority.to_string(), "https://login.microsoftonline.com");
        // Without AZURE_AUTHORITY_HOST, the vault's cloud's Azure AD.
        let china = accepted(Settings::from_config(&Config::of(&[(
            "vault_url",
            "https://v.vault.azure.cn",
        )])));
        let c = accepted(app(&china, Some("t"), Some("c"), None, &fake(&[])));
        assert_eq!(c.authority.to_string(), "https://login.chinacloudapi.cn");
        let missing = refused(
            app(&defaults, None, Some("c"), None, &fake(&[])).map(drop),
            "unavailable",
        );
        assert!(
            missing.starts_with("AZURE_TENANT_ID is not visible"),
            "{missing}"
        );
        let bad = fake(&[("AZURE_TENANT_ID", "a/b")]);
        let bad = refused(
            app(&defaults, None, Some("c"), None, &bad).map(drop),
            "unavailable",
        );
        assert_eq!(
            bad,
            "AZURE_TENANT_ID does not hold an Azure AD ID (a GUID, or a tenant's domain name)"
        );
    }
}
