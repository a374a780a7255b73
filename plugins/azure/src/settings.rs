//! The provider's configuration: `config:` keys, how it authenticates, and the
//! environment it reads at the first resolve.

use reqflo_plugin_sdk::{Config, env, files};

use crate::Error;
use crate::wire::Origin;

/// The provider as messages about its environment name it.
const PROVIDER: &str = "Azure Key Vault";
/// Where a ready-made bearer token comes from unless `config.token_env` says.
pub const DEFAULT_TOKEN_ENV: &str = "AZURE_ACCESS_TOKEN";
/// Where the client secret comes from unless `config.client_secret_env` says.
pub const DEFAULT_CLIENT_SECRET_ENV: &str = "AZURE_CLIENT_SECRET";
/// Azure AD's public-cloud authority.
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Every key `configure` accepts, for the "unknown key" message.
const KNOWN_KEYS: &str = "vault_url, token_env, tenant_id, client_id, client_secret_env, authority, managed_identity, \
     workload_identity";

/// What `configure` accepted. The environment is read later, at the first
/// resolve that needs it, so a run that never uses this provider cannot fail
/// because of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The vault, `https://NAME.vault.azure.net`.
    pub vault: Origin,
    /// How to get a bearer token for it.
    pub auth: Auth,
}

/// How the provider gets its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No key chose: the first link whose variables are visible, in
    /// `DefaultAzureCredential`'s order ([`crate::credential`]).
    Default,
    /// A token for `https://vault.azure.net`, ready-made in an environment variable.
    Token {
        /// The variable's name.
        env: String,
    },
    /// Azure AD's client credentials grant for the app config names: a
    /// client secret, else a client certificate.
    ClientCredentials(ClientCredentials),
    /// The managed identity Azure gives the workload (a VM, App Service,
    /// Functions): no secret anywhere.
    ManagedIdentity {
        /// A user-assigned identity's client ID; `None` for the
        /// system-assigned one.
        client_id: Option<String>,
    },
    /// Workload identity (AKS): the federated token in the file
    /// `AZURE_FEDERATED_TOKEN_FILE` names, as a client assertion for the
    /// client `AZURE_CLIENT_ID` of tenant `AZURE_TENANT_ID`.
    WorkloadIdentity {
        /// config.tenant_id, else `AZURE_TENANT_ID`.
        tenant: Option<String>,
        /// config.client_id, else `AZURE_CLIENT_ID`.
        client_id: Option<String>,
        /// config.authority, else `AZURE_AUTHORITY_HOST`, else the public cloud's.
        authority: Option<Origin>,
    },
}

/// An app registration that signs in with a client secret or a client
/// assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// Azure AD's base URL (`https://login.microsoftonline.com`).
    pub authority: Origin,
    /// The directory (tenant) ID or domain.
    pub tenant: String,
    /// The application (client) ID.
    pub client_id: String,
    /// The variable holding the client secret, if it signs in with one.
    pub secret_env: String,
}

impl Settings {
    /// Accept the provider's `config:` map.
    pub fn from_config(config: &Config) -> Result<Settings, Error> {
        let mut vault = None;
        let mut token_env = None;
        let mut tenant = None;
        let mut client_id = None;
        let mut secret_env = None;
        let mut authority = None;
        let mut managed = false;
        let mut workload = false;
        for (key, value) in config.pairs() {
            match key.as_str() {
                "vault_url" => {
                    vault = Some(crate::wire::parse_origin(value).map_err(|why| {
                        invalid(format!(
                            "config.vault_url is not a usable Key Vault URL \
                             (like https://myvault.vault.azure.net): it {why}"
                        ))
                    })?);
                }
                "authority" => {
                    authority = Some(crate::wire::parse_origin(value).map_err(|why| {
                        invalid(format!(
                            "config.authority is not a usable Azure AD URL \
                             (like {DEFAULT_AUTHORITY}): it {why}"
                        ))
                    })?);
                }
                "token_env" => token_env = Some(env::variable_name(key, value)?),
                "client_secret_env" => secret_env = Some(env::variable_name(key, value)?),
                "tenant_id" => tenant = Some(identifier("tenant_id", value)?),
                "client_id" => client_id = Some(identifier("client_id", value)?),
                "managed_identity" => managed = flag(key, value)?,
                "workload_identity" => workload = flag(key, value)?,
                other => {
                    return Err(invalid(format!(
                        "unknown config key `{other}` for the Azure Key Vault provider \
                         (known: {KNOWN_KEYS})"
                    )));
                }
            }
        }
        let vault = vault.ok_or_else(|| {
            invalid(
                "config.vault_url is required: the vault's URL, \
                 like https://myvault.vault.azure.net"
                    .to_string(),
            )
        })?;
        if workload {
            let unused = [
                ("managed_identity", managed),
                ("token_env", token_env.is_some()),
                ("client_secret_env", secret_env.is_some()),
            ];
            if let Some((key, _)) = unused.iter().find(|(_, set)| *set) {
                return Err(invalid(format!(
                    "config.{key} is not used with workload_identity: true (the token is the \
                     federated one in AZURE_FEDERATED_TOKEN_FILE)"
                )));
            }
            return Ok(Settings {
                vault,
                auth: Auth::WorkloadIdentity {
                    tenant,
                    client_id,
                    authority,
                },
            });
        }
        if managed {
            let unused = [
                ("tenant_id", tenant.is_some()),
                ("token_env", token_env.is_some()),
                ("client_secret_env", secret_env.is_some()),
                ("authority", authority.is_some()),
            ];
            if let Some((key, _)) = unused.iter().find(|(_, set)| *set) {
                return Err(invalid(format!(
                    "config.{key} is not used with managed_identity: true (the identity is \
                     Azure's; config.client_id picks a user-assigned one)"
                )));
            }
            return Ok(Settings {
                vault,
                auth: Auth::ManagedIdentity { client_id },
            });
        }
        let auth = match (tenant, client_id) {
            (Some(tenant), Some(client_id)) => {
                if token_env.is_some() {
                    return Err(invalid(
                        "config.token_env cannot be used with tenant_id and client_id: \
                         the token then comes from Azure AD"
                            .to_string(),
                    ));
                }
                let authority = match authority {
                    Some(authority) => authority,
                    None => authority_of(&vault)?,
                };
                Auth::ClientCredentials(ClientCredentials {
                    authority,
                    tenant,
                    client_id,
                    secret_env: secret_env.unwrap_or_else(|| DEFAULT_CLIENT_SECRET_ENV.into()),
                })
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid(
                    "client credentials need both config.tenant_id and config.client_id"
                        .to_string(),
                ));
            }
            (None, None) => {
                let unused = [
                    ("client_secret_env", secret_env.is_some()),
                    ("authority", authority.is_some()),
                ];
                if let Some((key, _)) = unused.iter().find(|(_, set)| *set) {
                    return Err(invalid(format!(
                        "config.{key} is only used with client credentials: \
                         set config.tenant_id and config.client_id too"
                    )));
                }
                match token_env {
                    Some(env) => Auth::Token { env },
                    None => Auth::Default,
                }
            }
        };
        Ok(Settings { vault, auth })
    }

    /// The OAuth scope of a token for this vault: Key Vault's resource in the
    /// vault's cloud, `/.default` (the permissions the app was granted).
    pub fn scope(&self) -> String {
        let host = self.vault.host();
        // Sovereign clouds have vaults, and tokens, of their own.
        let resource = ["vault.usgovcloudapi.net", "vault.azure.cn"]
            .into_iter()
            .find(|suffix| host.ends_with(&format!(".{suffix}")))
            .unwrap_or("vault.azure.net");
        format!("https://{resource}/.default")
    }
}

/// The trimmed value of `name` from the sandbox's environment (`read` is
/// `env::var` in the component); trimming forgives `$(cat file)`'s newline.
/// A value that cannot travel in an HTTP header or form is refused here,
/// without being quoted.
pub fn read_env(
    read: &impl env::Read,
    name: &str,
    what: &str,
    alternative: &str,
) -> Result<String, Error> {
    // A missing variable is told what it should hold and what else would do;
    // a blank or unreadable one gets the SDK's words.
    if env::optional(read, name)?.is_none() {
        return Err(Error::Unavailable(format!(
            "{name} is not visible to the {PROVIDER} provider: set it to {what} and list it \
             under the provider's grants.env ({alternative})"
        )));
    }
    let value = env::required(read, PROVIDER, name, "")?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Unavailable(format!(
            "{name} does not hold {what}: it has spaces or characters an HTTP request \
             cannot carry"
        )));
    }
    Ok(value)
}

/// The path in the variable `name` (the path of `what`), and the bytes of
/// that file, read now. The sandbox holds only the files in the provider's
/// grants.files: a file that is not there says what to grant.
pub fn read_granted_file(
    read: &impl env::Read,
    name: &str,
    what: &str,
    alternative: &str,
) -> Result<(String, Vec<u8>), Error> {
    let path = read_env(read, name, what, alternative)?;
    let bytes = files::read(&path, name)?;
    Ok((path, bytes))
}

/// `true` or `false`, as config writes a flag.
fn flag(key: &str, value: &str) -> Result<bool, Error> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(invalid(format!(
            "config.{key} is {other:?}; it is true or false"
        ))),
    }
}

/// The Azure AD of `vault`'s cloud (public, US Gov, China), where neither
/// config.authority nor `AZURE_AUTHORITY_HOST` says.
pub fn authority_of(vault: &Origin) -> Result<Origin, Error> {
    let host = vault.host();
    let authority = [
        (
            "vault.usgovcloudapi.net",
            "https://login.microsoftonline.us",
        ),
        ("vault.azure.cn", "https://login.chinacloudapi.cn"),
    ]
    .into_iter()
    .find(|(suffix, _)| host.ends_with(&format!(".{suffix}")))
    .map_or(DEFAULT_AUTHORITY, |(_, authority)| authority);
    crate::wire::parse_origin(authority)
        .map_err(|why| invalid(format!("the default authority {why}")))
}

/// Tenant and client IDs are GUIDs (a tenant may also be a domain name); they
/// go into a URL path and a form, so only those characters are accepted.
pub fn identifier(key: &str, value: &str) -> Result<String, Error> {
    let value = value.trim().to_string();
    let valid = !value.is_empty()
        && value.len() <= 256
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        return Err(invalid(format!(
            "config.{key} {value:?} is not an Azure AD ID: use the GUID (letters, \
             digits and `-`) or, for a tenant, its domain name"
        )));
    }
    Ok(value)
}

fn invalid(message: String) -> Error {
    Error::InvalidReference(message)
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::testing;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        testing::accepted(Settings::from_config(&Config::of(pairs)))
    }

    fn refused(pairs: &[(&str, &str)]) -> String {
        testing::refused(
            Settings::from_config(&Config::of(pairs)),
            "invalid-reference",
        )
    }

    const VAULT: (&str, &str) = ("vault_url", "https://myvault.vault.azure.net/");

    #[test]
    fn the_default_chain_unless_config_picks_a_token_variable() {
        let s = settings(&[VAULT]);
        assert_eq!(s.vault.to_string(), "https://myvault.vault.azure.net");
        assert_eq!(s.auth, Auth::Default);
        let s = settings(&[VAULT, ("token_env", "KV_TOKEN")]);
        assert_eq!(
            s.auth,
            Auth::Token {
                env: "KV_TOKEN".into()
            }
        );
    }

    #[test]
    fn client_credentials_with_defaults_and_overrides() {
        let defaults = [
            VAULT,
            ("tenant_id", "contoso.onmicrosoft.com"),
            ("client_id", " 00000000-1111-2222-3333-444444444444 "),
        ];
        let overrides = [
            VAULT,
            ("tenant_id", "t"),
            ("client_id", "c"),
            ("client_secret_env", "MY_SECRET"),
            ("authority", "http://127.0.0.1:9000"),
        ];
        for (pairs, [authority, tenant, client_id, secret_env]) in [
            (
                &defaults[..],
                [
                    "https://login.microsoftonline.com",
                    "contoso.onmicrosoft.com",
                    "00000000-1111-2222-3333-444444444444",
                    "AZURE_CLIENT_SECRET",
                ],
            ),
            (&overrides, ["http://127.0.0.1:9000", "t", "c", "MY_SECRET"]),
        ] {
            let Auth::ClientCredentials(c) = settings(pairs).auth else {
                panic!("not client credentials: {pairs:?}")
            };
            assert_eq!(c.authority.to_string(), authority);
            assert_eq!(
                [c.tenant, c.client_id, c.secret_env],
                [tenant, client_id, secret_env]
            );
        }
    }

    #[test]
    fn refusals_name_the_key() {
        assert_eq!(
            refused(&[VAULT, ("vault", "x")]),
            "unknown config key `vault` for the Azure Key Vault provider (known: vault_url, \
             token_env, tenant_id, client_id, client_secret_env, authority, managed_identity, \
             workload_identity)"
        );
        assert_eq!(
            refused(&[
                VAULT,
                ("workload_identity", "true"),
                ("client_secret_env", "S")
            ]),
            "config.client_secret_env is not used with workload_identity: true (the token is \
             the federated one in AZURE_FEDERATED_TOKEN_FILE)"
        );
        assert_eq!(
            refused(&[VAULT, ("workload_identity", "yes")]),
            "config.workload_identity is \"yes\"; it is true or false"
        );
        assert!(refused(&[]).starts_with("config.vault_url is required"));
        assert!(refused(&[("vault_url", "myvault.vault.azure.net")]).contains("http"));
        assert!(refused(&[("vault_url", "https://v.vault.azure.net/secrets/x")]).contains("path"));
        assert!(refused(&[VAULT, ("tenant_id", "t")]).contains("both"));
        assert!(refused(&[VAULT, ("client_id", "c")]).contains("both"));
        assert!(refused(&[VAULT, ("tenant_id", "a/b"), ("client_id", "c")]).contains("tenant_id"));
        assert!(refused(&[VAULT, ("tenant_id", "t"), ("client_id", "")]).contains("client_id"));
        assert!(
            refused(&[
                VAULT,
                ("tenant_id", "t"),
                ("client_id", "c"),
                ("token_env", "X")
            ])
            .contains("token_env cannot be used")
        );
        assert!(refused(&[VAULT, ("client_secret_env", "X")]).contains("client_secret_env"));
        assert!(refused(&[VAULT, ("authority", "https://login.example")]).contains("authority"));
        assert!(refused(&[VAULT, ("token_env", "A=B")]).contains("token_env"));
        assert!(
            refused(&[
                VAULT,
                ("tenant_id", "t"),
                ("client_id", "c"),
                ("authority", "login")
            ])
            .contains("authority")
        );
    }

    #[test]
    fn the_scope_follows_the_vault_s_cloud() {
        let scope = |url| settings(&[("vault_url", url)]).scope();
        assert_eq!(
            scope("https://v.vault.azure.net"),
            "https://vault.azure.net/.default"
        );
        assert_eq!(
            scope("https://v.vault.usgovcloudapi.net"),
            "https://vault.usgovcloudapi.net/.default"
        );
        assert_eq!(
            scope("https://v.vault.azure.cn"),
            "https://vault.azure.cn/.default"
        );
        assert_eq!(
            scope("http://127.0.0.1:8443"),
            "https://vault.azure.net/.default"
        );
        let authority = |url| {
            let vault = settings(&[("vault_url", url)]).vault;
            testing::accepted(authority_of(&vault)).to_string()
        };
        assert_eq!(
            authority("https://v.vault.usgovcloudapi.net"),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            authority("https://v.vault.azure.cn"),
            "https://login.chinacloudapi.cn"
        );
        assert_eq!(
            authority("https://v.vault.azure.net"),
            "https://login.microsoftonline.com"
        );
    }

    #[test]
    fn environment_values() {
        let read = |value: Option<&str>| {
            let pairs: Vec<(&str, &str)> = value.map(|v| ("T", v)).into_iter().collect();
            read_env(
                &env::fake(&pairs),
                "T",
                "a token",
                "or use client credentials",
            )
        };
        assert_eq!(read(Some(" tok.en\n")).ok(), Some("tok.en".to_string()));
        let m = read(None).err().map(|e| e.message().to_string());
        assert_eq!(
            m.as_deref(),
            Some(
                "T is not visible to the Azure Key Vault provider: set it to a token and list \
                 it under the provider's grants.env (or use client credentials)"
            )
        );
        let m = read(Some("  ")).err().map(|e| e.message().to_string());
        assert!(m.is_some_and(|m| m.contains("T is empty")));
        let m = read(Some("se cret")).err().map(|e| e.message().to_string());
        assert!(m.is_some_and(|m| m.contains("cannot carry") && !m.contains("se cret")));
    }
}
