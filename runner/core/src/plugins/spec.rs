//! One plugin as `reqflo.yaml` configures it, provider or hook: where its
//! component comes from, its configuration, grants and limits. The built-in
//! plugins are listed here once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Result, Spot};
use crate::grant::HostGrant;
use crate::project::Project;
use crate::project::model::Limits;

/// Default sandbox memory cap.
const DEFAULT_MEMORY_MIB: u64 = 64;
/// Default budget of one plugin call (a hook's token exchange included).
const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// What a plugin does: the WIT world it implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// Resolves secrets (world `secret-provider`).
    Provider,
    /// Edits a step's request before it is sent (world `request-hook`).
    Hook,
}

impl PluginKind {
    /// `provider` or `hook`, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            PluginKind::Provider => "provider",
            PluginKind::Hook => "hook",
        }
    }
}

/// Plugins compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Environment variables.
    Env,
    /// A local YAML, JSON or dotenv file.
    File,
    /// 1Password, through a Connect server.
    OnePassword,
    /// HashiCorp Vault or OpenBao, KV v2 or v1.
    Vault,
    /// AWS Secrets Manager.
    Aws,
    /// Google Cloud Secret Manager.
    Gcp,
    /// Azure Key Vault.
    Azure,
    /// A webhook-style HMAC-SHA256 signature header over timestamp and body.
    HmacSignature,
    /// OAuth2 client credentials; the access token becomes a derived secret.
    OAuth2,
}

/// Every built-in plugin: the one list (the build embeds each one's
/// component, named `reqflo_plugin_NAME` or `reqflo_hook_NAME`).
pub const BUILTINS: [Builtin; 9] = [
    Builtin::Env,
    Builtin::File,
    Builtin::OnePassword,
    Builtin::Vault,
    Builtin::Aws,
    Builtin::Gcp,
    Builtin::Azure,
    Builtin::HmacSignature,
    Builtin::OAuth2,
];

impl Builtin {
    /// Its name after `builtin:`.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Env => "env",
            Builtin::File => "file",
            Builtin::OnePassword => "onepassword",
            Builtin::Vault => "vault",
            Builtin::Aws => "aws",
            Builtin::Gcp => "gcp",
            Builtin::Azure => "azure",
            Builtin::HmacSignature => "hmac-signature",
            Builtin::OAuth2 => "oauth2",
        }
    }

    /// Whether it is a provider or a hook.
    pub fn kind(self) -> PluginKind {
        match self {
            Builtin::HmacSignature | Builtin::OAuth2 => PluginKind::Hook,
            _ => PluginKind::Provider,
        }
    }

    /// The built-in called `name`, of any kind.
    pub fn named(name: &str) -> Option<Builtin> {
        BUILTINS.into_iter().find(|b| b.name() == name)
    }

    /// `builtin:a, builtin:b` for the built-ins of `kind`, for hints.
    pub fn list(kind: PluginKind) -> String {
        Builtin::of(kind)
            .map(|b| format!("builtin:{}", b.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The built-ins of `kind`, in the order of [`BUILTINS`].
    pub fn of(kind: PluginKind) -> impl Iterator<Item = Builtin> {
        BUILTINS.into_iter().filter(move |b| b.kind() == kind)
    }
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// Embedded in the binary.
    Builtin(Builtin),
    /// A component file on disk.
    Path(PathBuf),
    /// No plugin: values the embedding host holds itself and hands to the
    /// run (the Cloud Runner's managed secrets, decrypted in the worker).
    Held,
}

/// One entry of `grants.files`: where the file the plugin may read is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileGrant {
    /// A path, resolved against the project.
    Path(PathBuf),
    /// `$NAME`: the path in reqflo's own environment variable NAME, read when
    /// the sandbox starts (unset: no file is granted).
    Variable(String),
}

impl FileGrant {
    /// Parse one entry as written; the error completes "in grants.files: …".
    pub fn parse(
        written: &str,
        project_root: &dyn Fn(&str) -> PathBuf,
    ) -> Result<FileGrant, String> {
        let written = written.trim();
        if written.is_empty() {
            return Err("an entry is empty; give a path or `$NAME`".into());
        }
        match written.strip_prefix('$') {
            Some(name) => {
                let ok = !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if ok {
                    Ok(FileGrant::Variable(name.to_string()))
                } else {
                    Err(format!(
                        "`{written}` is not `$NAME` with NAME a variable name (letters, digits, _)"
                    ))
                }
            }
            None => Ok(FileGrant::Path(project_root(written))),
        }
    }

    /// The path it grants now, if any: a variable's path is read from
    /// `lookup` (the process environment, or a server's held values), with a
    /// leading `~/` under `HOME` from the same place, as the cloud SDKs
    /// read `AWS_SHARED_CREDENTIALS_FILE=~/.aws/credentials`.
    pub fn path(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
        match self {
            FileGrant::Path(path) => Some(path.clone()),
            FileGrant::Variable(name) => {
                let path = lookup(name)?;
                let path = path.trim();
                if path.is_empty() {
                    return None;
                }
                match (path.strip_prefix("~/"), lookup("HOME")) {
                    (Some(rest), Some(home)) if !home.trim().is_empty() => {
                        Some(Path::new(home.trim()).join(rest))
                    }
                    _ => Some(PathBuf::from(path)),
                }
            }
        }
    }
}

/// One plugin: its component, configuration, grants and limits.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// Provider or hook.
    pub kind: PluginKind,
    /// Its name (the key under `providers:` or `hooks:`).
    pub name: String,
    /// The `plugin:` string as written.
    pub plugin: String,
    /// Where the component comes from.
    pub source: PluginSource,
    /// Passed to `configure`.
    pub config: Vec<(String, String)>,
    /// `grants.env`: environment variables the sandbox may read (providers).
    pub env: Vec<String>,
    /// `grants.hosts`, parsed: where it may reach (a provider over
    /// `wasi:http`, a hook through the host's token exchange).
    pub hosts: Vec<HostGrant>,
    /// `grants.files`: files the sandbox may read (providers).
    pub files: Vec<FileGrant>,
    /// `allow_http: true`: plain HTTP to hosts other than loopback is meant.
    pub allow_http: bool,
    /// Extra CA certificates for its HTTPS (providers).
    pub ca_file: Option<PathBuf>,
    /// Names of the secrets whose handles it receives (hooks).
    pub secrets: Vec<String>,
    /// A pinned digest for a plugin from a file.
    pub sha256: Option<String>,
    /// Memory cap in bytes.
    pub memory_bytes: usize,
    /// Budget of one call.
    pub timeout: Duration,
    /// Where it is declared, if in reqflo.yaml.
    pub declared_at: Option<Spot>,
}

impl PluginSpec {
    /// A built-in with its defaults, as if declared with no options.
    pub fn builtin(builtin: Builtin) -> PluginSpec {
        PluginSpec {
            kind: builtin.kind(),
            name: builtin.name().to_string(),
            plugin: format!("builtin:{}", builtin.name()),
            source: PluginSource::Builtin(builtin),
            config: Vec::new(),
            env: Vec::new(),
            hosts: Vec::new(),
            files: Vec::new(),
            allow_http: false,
            ca_file: None,
            secrets: Vec::new(),
            sha256: None,
            memory_bytes: memory_bytes(Limits::default()),
            timeout: timeout(Limits::default()),
            declared_at: None,
        }
    }

    /// The provider whose values the embedding host holds ([`PluginSource::Held`]).
    pub fn held(name: &str) -> PluginSpec {
        PluginSpec {
            kind: PluginKind::Provider,
            name: name.to_string(),
            plugin: "managed".to_string(),
            source: PluginSource::Held,
            ..PluginSpec::builtin(Builtin::Env)
        }
    }

    /// How messages name it: `provider `NAME`` or `hook `NAME` (PLUGIN)`.
    pub fn label(&self) -> String {
        match self.kind {
            PluginKind::Provider => format!("provider `{}`", self.name),
            PluginKind::Hook => format!("hook `{}` ({})", self.name, self.plugin),
        }
    }
}

/// What the `providers:` and `hooks:` entries have in common, as written.
pub(super) struct Declared<'a> {
    /// Provider or hook.
    pub kind: PluginKind,
    /// `providers` or `hooks`: where in reqflo.yaml, for positions.
    pub section: &'static str,
    /// The entry's name.
    pub name: &'a str,
    /// `plugin:`.
    pub plugin: &'a str,
    /// `sha256:`.
    pub sha256: &'a Option<String>,
    /// `config:`.
    pub config: &'a IndexMap<String, Value>,
    /// `grants.hosts:`.
    pub hosts: &'a [String],
    /// An example of `grants.hosts` for the hint of a bad one.
    pub hosts_example: &'static str,
    /// `allow_http:`.
    pub allow_http: bool,
    /// `limits:`.
    pub limits: Limits,
}

impl Declared<'_> {
    /// Check the common part of an entry; the caller fills the rest.
    pub(super) fn parse(&self, project: &Project) -> Result<PluginSpec> {
        let source = &project.config_source;
        let at = |path: &[&str]| {
            let mut full = vec![self.section, self.name];
            full.extend_from_slice(path);
            source.value(&full)
        };
        let plugin_source = match self.plugin.strip_prefix("builtin:") {
            Some(name) => match Builtin::named(name).filter(|b| b.kind() == self.kind) {
                Some(builtin) => PluginSource::Builtin(builtin),
                None => {
                    let noun = match self.kind {
                        PluginKind::Provider => "plugin",
                        PluginKind::Hook => "hook",
                    };
                    return Err(Error::Config(
                        Diagnostic::new(format!("unknown built-in {noun} `{}`", self.plugin))
                            .at(at(&["plugin"]))
                            .hint(format!("built-in {noun}s are {}", Builtin::list(self.kind))),
                    ));
                }
            },
            None => PluginSource::Path(project.resolve_path(self.plugin)),
        };
        if matches!(plugin_source, PluginSource::Builtin(_)) && self.sha256.is_some() {
            let what = match self.kind {
                PluginKind::Provider => "built-in plugins",
                PluginKind::Hook => "built-in hooks",
            };
            return Err(Error::Config(
                Diagnostic::new(format!("{what} are part of reqflo and take no sha256 pin"))
                    .at(at(&["sha256"])),
            ));
        }
        let mut config = Vec::new();
        for (key, value) in self.config {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(Error::Config(
                        Diagnostic::new(format!(
                            "config `{key}` must be a string, number or boolean"
                        ))
                        .at(at(&["config", key])),
                    ));
                }
            };
            config.push((key.clone(), text));
        }
        let mut hosts = Vec::new();
        for (i, written) in self.hosts.iter().enumerate() {
            let grant = HostGrant::parse_allowing(written, self.allow_http).map_err(|why| {
                Error::Config(
                    Diagnostic::new(format!("in grants.hosts: {why}"))
                        .at(at(&["grants", "hosts", &i.to_string()]))
                        .hint(self.hosts_example),
                )
            })?;
            hosts.push(grant);
        }
        Ok(PluginSpec {
            kind: self.kind,
            name: self.name.to_string(),
            plugin: self.plugin.to_string(),
            source: plugin_source,
            config,
            env: Vec::new(),
            hosts,
            files: Vec::new(),
            allow_http: self.allow_http,
            ca_file: None,
            secrets: Vec::new(),
            sha256: self.sha256.clone(),
            memory_bytes: memory_bytes(self.limits),
            timeout: timeout(self.limits),
            declared_at: source.key(&[self.section, self.name]),
        })
    }
}

fn memory_bytes(limits: Limits) -> usize {
    let mib = limits
        .memory_mib
        .unwrap_or(DEFAULT_MEMORY_MIB)
        .clamp(1, 4096);
    (mib as usize) << 20
}

fn timeout(limits: Limits) -> Duration {
    Duration::from_millis(limits.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_has_one_name_and_a_kind() {
        for builtin in BUILTINS {
            assert_eq!(Builtin::named(builtin.name()), Some(builtin));
        }
        assert_eq!(
            Builtin::list(PluginKind::Hook),
            "builtin:hmac-signature, builtin:oauth2"
        );
        assert_eq!(
            Builtin::named("oauth2").map(Builtin::kind),
            Some(PluginKind::Hook)
        );
    }

    #[test]
    fn a_variables_path_is_trimmed_and_a_leading_tilde_is_home() {
        let env = |name: &str| match name {
            "CREDS" => Some(" ~/.aws/credentials ".to_string()),
            "PLAIN" => Some("/etc/creds".to_string()),
            "EMPTY" => Some("  ".to_string()),
            "HOME" => Some("/home/ci".to_string()),
            _ => None,
        };
        let grant = |name: &str| FileGrant::Variable(name.to_string()).path(&env);
        assert_eq!(
            grant("CREDS"),
            Some(PathBuf::from("/home/ci/.aws/credentials"))
        );
        assert_eq!(grant("PLAIN"), Some(PathBuf::from("/etc/creds")));
        assert_eq!(grant("EMPTY"), None);
        assert_eq!(grant("UNSET"), None);
        // Without a HOME, `~` stays as written (and names no file).
        let no_home = |name: &str| (name == "CREDS").then(|| "~/x".to_string());
        assert_eq!(
            FileGrant::Variable("CREDS".into()).path(&no_home),
            Some(PathBuf::from("~/x"))
        );
    }
}
