//! The provider's configuration: `config:` keys, and what it reads at the
//! first resolve (address and token or AppRole credentials from the
//! environment; for a JWT or Kubernetes login, the JWT from its file).

use reqflo_plugin_sdk::env::{self, Read, variable_name};
use reqflo_plugin_sdk::files;
use reqflo_plugin_sdk::http::is_header_token;
use reqflo_plugin_sdk::origin::Origin;
use reqflo_plugin_sdk::{Config, Error};

use crate::reference::VaultPath;

/// Where the address comes from when `config.address` is absent.
const ADDRESS_ENV: &str = "VAULT_ADDR";
/// Where the namespace comes from when config.namespace does not say.
const NAMESPACE_ENV: &str = "VAULT_NAMESPACE";
/// The config keys, for the unknown-key message.
const KNOWN_KEYS: &str = "address, mount, kv_version, namespace, auth, token_env, role_id_env, \
                          secret_id_env, approle_mount, role, jwt_file, auth_mount";
/// Where Kubernetes mounts a pod's service account token, for `auth: kubernetes`.
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Which KV secrets engine the mount runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvVersion {
    /// Unversioned: `GET /v1/{mount}/{path}`.
    V1,
    /// Versioned: `GET /v1/{mount}/data/{path}[?version=N]`.
    V2,
}

/// How the provider gets a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A token from an environment variable.
    Token {
        /// The variable holding the token.
        env: String,
    },
    /// An AppRole login, once per run.
    AppRole {
        /// The variable holding the role ID.
        role_id_env: String,
        /// The variable holding the secret ID.
        secret_id_env: String,
        /// Where the AppRole auth method is enabled.
        mount: VaultPath,
    },
    /// A JWT or Kubernetes login with a JWT read from a file, once per run.
    Jwt {
        /// Which of the two auth methods.
        kind: JwtKind,
        /// The Vault role to log in as.
        role: String,
        /// The file holding the JWT.
        jwt_file: String,
        /// Where the auth method is enabled.
        mount: VaultPath,
    },
}

/// The auth methods that exchange a JWT and a role for a token; they differ
/// in defaults and in what a refusal should make the user check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtKind {
    /// `auth: jwt`: a JWT from any issuer Vault's `jwt` method trusts.
    Jwt,
    /// `auth: kubernetes`: the pod's service account token.
    Kubernetes,
}

/// What `configure` accepted. The environment is read later, at the first
/// resolve, so a run whose journeys never use this provider does not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    address: Option<Origin>,
    /// The KV mount the references are relative to.
    pub mount: VaultPath,
    /// The KV engine version of the mount.
    pub kv_version: KvVersion,
    /// The Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// How to get a token.
    pub auth: Auth,
}

/// The server and what to authenticate with, read from config and environment.
pub struct Connection {
    /// The server's `scheme://host:port`.
    pub origin: Origin,
    /// A token, or what to log in with; secret, never part of a message.
    pub credentials: Credentials,
}

/// What the provider authenticates with. No `Debug`: these are secrets.
pub enum Credentials {
    /// A Vault token, ready to send.
    Token(String),
    /// An AppRole role ID and secret ID, to exchange for a token.
    AppRole {
        /// The role ID.
        role_id: String,
        /// The secret ID.
        secret_id: String,
    },
    /// A JWT, trimmed, to exchange for a token with a role.
    Jwt(String),
}

impl Settings {
    /// Accept the provider's `config:` map; see [`KNOWN_KEYS`].
    // Hand-written rather than `Config::parse`: the unknown-key message names
    // the provider and says "known:", and kv_version and auth say what they
    // accept in words of their own.
    pub fn from_config(config: &Config) -> Result<Settings, Error> {
        let mut address = None;
        let mut mount = None;
        let mut kv_version = KvVersion::V2;
        let mut namespace = None;
        let mut auth = AuthKeys::default();
        for (key, value) in config.pairs() {
            match key.as_str() {
                "address" => {
                    address = Some(Origin::parse_base(value).map_err(|why| {
                        Error::InvalidReference(format!(
                            "config.address is not a usable Vault address: it {why}"
                        ))
                    })?);
                }
                "mount" => mount = Some(mount_path("mount", value)?),
                "kv_version" => kv_version = KvVersion::from_config(value)?,
                "namespace" => {
                    namespace = Some(namespace_path(value).ok_or_else(|| {
                        Error::InvalidReference(format!(
                            "config.namespace {value:?} {NOT_A_NAMESPACE}"
                        ))
                    })?);
                }
                "auth" => auth.method = AuthMethod::from_config(value)?,
                "token_env" => auth.token_env = Some(variable_name("token_env", value)?),
                "role_id_env" => auth.role_id_env = Some(variable_name("role_id_env", value)?),
                "secret_id_env" => {
                    auth.secret_id_env = Some(variable_name("secret_id_env", value)?)
                }
                "approle_mount" => auth.mount = Some(mount_path("approle_mount", value)?),
                "role" => auth.role = Some(required_text("role", value, ROLE)?),
                "jwt_file" => auth.jwt_file = Some(required_text("jwt_file", value, JWT_FILE)?),
                "auth_mount" => auth.auth_mount = Some(mount_path("auth_mount", value)?),
                other => {
                    return Err(Error::InvalidReference(format!(
                        "unknown config key `{other}` for the Vault provider (known: {KNOWN_KEYS})"
                    )));
                }
            }
        }
        let auth = auth.into_auth()?;
        Ok(Settings {
            address,
            mount: match mount {
                Some(mount) => mount,
                None => mount_path("mount", "secret")?,
            },
            kv_version,
            namespace,
            auth,
        })
    }

    /// The server and credentials, from config and the sandbox's environment
    /// (`read` is `env::var` in the component, `env::fake` in tests).
    pub fn connection(&self, read: &impl Read) -> Result<Connection, Error> {
        let origin = match &self.address {
            Some(origin) => origin.clone(),
            None => {
                // A value that is not UTF-8 is no address either: the message
                // names both ways to give one.
                let text = match env::optional(read, ADDRESS_ENV).ok().flatten() {
                    Some(text) if !text.is_empty() => text,
                    _ => {
                        return Err(Error::Unavailable(format!(
                            "no Vault address: set config.address, or set {ADDRESS_ENV} and \
                             list it under the provider's grants.env"
                        )));
                    }
                };
                Origin::parse_base(&text).map_err(|why| {
                    Error::Unavailable(format!(
                        "{ADDRESS_ENV} is not a usable Vault address: it {why}"
                    ))
                })?
            }
        };
        let credentials = match &self.auth {
            Auth::Token { env } => {
                let token = credential(read, env, "token_env")?;
                // A token travels in a header: anything but visible ASCII
                // there would be refused later with a far less helpful message.
                if !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Error::Unavailable(format!(
                        "{env} does not hold a Vault token: it has characters an HTTP \
                         header cannot carry"
                    )));
                }
                Credentials::Token(token)
            }
            Auth::AppRole {
                role_id_env,
                secret_id_env,
                ..
            } => Credentials::AppRole {
                role_id: credential(read, role_id_env, "role_id_env")?,
                secret_id: credential(read, secret_id_env, "secret_id_env")?,
            },
            Auth::Jwt { jwt_file, .. } => Credentials::Jwt(jwt_from_file(jwt_file)?),
        };
        Ok(Connection {
            origin,
            credentials,
        })
    }
}

impl KvVersion {
    /// `config.kv_version`: `1` or `2`.
    fn from_config(value: &str) -> Result<KvVersion, Error> {
        match value.trim() {
            "1" => Ok(KvVersion::V1),
            "2" => Ok(KvVersion::V2),
            other => Err(Error::InvalidReference(format!(
                "config.kv_version is {other:?}; it must be 1 or 2"
            ))),
        }
    }
}

impl JwtKind {
    /// The method as `config.auth` and Vault name it, and its default mount:
    /// `jwt` or `kubernetes`.
    pub fn auth(self) -> &'static str {
        match self {
            JwtKind::Jwt => "jwt",
            JwtKind::Kubernetes => "kubernetes",
        }
    }

    /// How messages name the login: `JWT` or `Kubernetes`.
    pub fn title(self) -> &'static str {
        match self {
            JwtKind::Jwt => "JWT",
            JwtKind::Kubernetes => "Kubernetes",
        }
    }
}

/// `config.auth` as given, before the keys that go with it are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum AuthMethod {
    #[default]
    Token,
    AppRole,
    Jwt(JwtKind),
}

impl AuthMethod {
    /// `config.auth`: `token`, `approle`, `jwt` or `kubernetes`.
    fn from_config(value: &str) -> Result<AuthMethod, Error> {
        match value.trim() {
            "token" => Ok(AuthMethod::Token),
            "approle" => Ok(AuthMethod::AppRole),
            "jwt" => Ok(AuthMethod::Jwt(JwtKind::Jwt)),
            "kubernetes" => Ok(AuthMethod::Jwt(JwtKind::Kubernetes)),
            other => Err(Error::InvalidReference(format!(
                "config.auth is {other:?}; it must be `token`, `approle`, `jwt` or `kubernetes`"
            ))),
        }
    }

    /// What the provider does for a token, as a stray key's refusal says it.
    fn doing(self) -> &'static str {
        match self {
            AuthMethod::Token => "uses a token",
            AuthMethod::AppRole => "logs in with AppRole",
            AuthMethod::Jwt(JwtKind::Jwt) => "logs in with JWT",
            AuthMethod::Jwt(JwtKind::Kubernetes) => "logs in with Kubernetes",
        }
    }
}

/// The methods an authentication key belongs to.
#[derive(Clone, Copy)]
enum KeyGroup {
    Token,
    AppRole,
    Jwt,
}

impl KeyGroup {
    /// Whether `method` reads the group's keys.
    fn applies_to(self, method: AuthMethod) -> bool {
        matches!(
            (self, method),
            (KeyGroup::Token, AuthMethod::Token)
                | (KeyGroup::AppRole, AuthMethod::AppRole)
                | (KeyGroup::Jwt, AuthMethod::Jwt(_))
        )
    }

    /// The `auth:` settings the group's keys are for.
    fn owners(self) -> &'static str {
        match self {
            KeyGroup::Token => "`auth: token`",
            KeyGroup::AppRole => "`auth: approle`",
            KeyGroup::Jwt => "`auth: jwt` or `auth: kubernetes`",
        }
    }

    /// The hint for a provider left on the default token: likely the user
    /// meant to log in and forgot `auth:`.
    fn switch(self) -> &'static str {
        match self {
            KeyGroup::Token => "",
            KeyGroup::AppRole => " (set `auth: approle` to log in with AppRole)",
            KeyGroup::Jwt => " (set `auth: jwt` or `auth: kubernetes` to log in with a JWT)",
        }
    }
}

/// The authentication keys as given, checked together once all are read:
/// which of them apply depends on `auth`, whatever order they came in.
#[derive(Default)]
struct AuthKeys {
    method: AuthMethod,
    token_env: Option<String>,
    role_id_env: Option<String>,
    secret_id_env: Option<String>,
    mount: Option<VaultPath>,
    role: Option<String>,
    jwt_file: Option<String>,
    auth_mount: Option<VaultPath>,
}

impl AuthKeys {
    /// The [`Auth`] the keys describe, with defaults for what they leave out.
    fn into_auth(self) -> Result<Auth, Error> {
        // A key that would be silently ignored is a mistake worth naming.
        let given = [
            ("token_env", self.token_env.is_some(), KeyGroup::Token),
            ("role_id_env", self.role_id_env.is_some(), KeyGroup::AppRole),
            (
                "secret_id_env",
                self.secret_id_env.is_some(),
                KeyGroup::AppRole,
            ),
            ("approle_mount", self.mount.is_some(), KeyGroup::AppRole),
            ("role", self.role.is_some(), KeyGroup::Jwt),
            ("jwt_file", self.jwt_file.is_some(), KeyGroup::Jwt),
            ("auth_mount", self.auth_mount.is_some(), KeyGroup::Jwt),
        ];
        let stray = given
            .iter()
            .find(|(_, given, group)| *given && !group.applies_to(self.method));
        if let Some((key, _, group)) = stray {
            let switch = match self.method {
                AuthMethod::Token => group.switch(),
                _ => "",
            };
            return Err(Error::InvalidReference(format!(
                "config.{key} is for {}; this provider {}{switch}",
                group.owners(),
                self.method.doing()
            )));
        }
        match self.method {
            AuthMethod::Token => Ok(Auth::Token {
                env: self.token_env.unwrap_or_else(|| "VAULT_TOKEN".into()),
            }),
            AuthMethod::AppRole => Ok(Auth::AppRole {
                role_id_env: self.role_id_env.unwrap_or_else(|| "VAULT_ROLE_ID".into()),
                secret_id_env: self
                    .secret_id_env
                    .unwrap_or_else(|| "VAULT_SECRET_ID".into()),
                mount: match self.mount {
                    Some(mount) => mount,
                    None => mount_path("approle_mount", "approle")?,
                },
            }),
            AuthMethod::Jwt(kind) => {
                // No default role: Vault has none, and guessing one would only
                // move the mistake to a login refusal.
                let Some(role) = self.role else {
                    return Err(Error::InvalidReference(format!(
                        "`auth: {}` needs config.role, {ROLE}",
                        kind.auth()
                    )));
                };
                let jwt_file = match (self.jwt_file, kind) {
                    (Some(file), _) => file,
                    (None, JwtKind::Kubernetes) => SERVICE_ACCOUNT_TOKEN.into(),
                    (None, JwtKind::Jwt) => {
                        return Err(Error::InvalidReference(format!(
                            "`auth: jwt` needs config.jwt_file, {JWT_FILE} (and list it under \
                             the provider's grants.files)"
                        )));
                    }
                };
                Ok(Auth::Jwt {
                    kind,
                    role,
                    jwt_file,
                    mount: match self.auth_mount {
                        Some(mount) => mount,
                        None => mount_path("auth_mount", kind.auth())?,
                    },
                })
            }
        }
    }
}

/// The namespace to send: config.namespace, else `VAULT_NAMESPACE` when
/// the provider may read it (as the Vault CLI and SDKs take it), else none.
pub fn namespace(settings: &Settings, read: &impl Read) -> Result<Option<String>, Error> {
    if let Some(namespace) = &settings.namespace {
        return Ok(Some(namespace.clone()));
    }
    // Read raw, not through `env::optional`: the message quotes the value as
    // it is set, and an unreadable one means no namespace, as before.
    match read(NAMESPACE_ENV) {
        Ok(text) if !text.trim().is_empty() => namespace_path(&text).map(Some).ok_or_else(|| {
            Error::Unavailable(format!("{NAMESPACE_ENV} {text:?} {NOT_A_NAMESPACE}"))
        }),
        _ => Ok(None),
    }
}

/// What a namespace that is not one is told.
const NOT_A_NAMESPACE: &str =
    "is not a namespace path (letters, digits and `/`-separated names, no spaces)";

/// A namespace path without its surrounding slashes, or `None`: it travels
/// in a header, which carries visible ASCII only.
fn namespace_path(value: &str) -> Option<String> {
    let trimmed = value.trim().trim_matches('/');
    is_header_token(trimmed).then(|| trimmed.to_string())
}

/// A mount path as Vault prints it (`secret/`) or as the API takes it
/// (`secret`): the surrounding slashes are noise.
fn mount_path(key: &str, value: &str) -> Result<VaultPath, Error> {
    VaultPath::parse(value.trim().trim_matches('/'))
        .map_err(|why| Error::InvalidReference(format!("config.{key} {value:?} {why}")))
}

/// What `config.role` names, for the messages that ask for it.
const ROLE: &str = "the name of the Vault role to log in as";
/// What `config.jwt_file` names, for the messages that ask for it.
const JWT_FILE: &str = "the file that holds the JWT";

/// `config.{key}` trimmed; empty is refused rather than sent as nothing.
fn required_text(key: &str, value: &str, what: &str) -> Result<String, Error> {
    match value.trim() {
        "" => Err(Error::InvalidReference(format!(
            "config.{key} is empty; it must be {what}"
        ))),
        text => Ok(text.to_string()),
    }
}

/// The JWT in `path`, read now (at login, not at configure: a projected
/// service account token is rotated while the pod lives). In the component the
/// sandbox lends the file only when it is in `grants.files`, and then a missing
/// file and a refused one look alike, so the message offers both. Neither the
/// JWT nor any of the file's text ever goes into a message.
fn jwt_from_file(path: &str) -> Result<String, Error> {
    let text = files::read_text(path, "config.jwt_file")?;
    // Trimmed for the newline most tools write; a JWT is visible ASCII only,
    // so anything else means the file holds something else.
    let jwt = text.trim();
    if !is_header_token(jwt) {
        return Err(Error::Unavailable(format!(
            "the JWT file {path} (config.jwt_file) holds no JWT: it is empty or has characters \
             a JWT does not"
        )));
    }
    Ok(jwt.to_string())
}

/// The trimmed value of `name`, which `config.{key}` names; trimming forgives
/// the newline of `$(cat file)`.
fn credential(read: &impl Read, name: &str, key: &str) -> Result<String, Error> {
    let advice = format!(" (or point config.{key} at another variable)");
    env::required(read, "Vault", name, &advice)
}

#[cfg(test)]
mod tests;
