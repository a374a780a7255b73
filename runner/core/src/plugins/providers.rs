//! Provider instances as configured in `reqflo.yaml`, plus the built-in defaults.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Result, Spot};
use crate::grant::HostGrant;
use crate::project::Project;
use crate::project::model::{Grants, Limits};

/// Default sandbox memory cap.
const DEFAULT_MEMORY_MIB: u64 = 64;
/// Default budget of one plugin call.
const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Where the `file` provider looks when reqflo.yaml does not say.
pub const DEFAULT_SECRET_FILE: &str = "~/.config/reqflo/secrets.yaml";

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
}

/// Every built-in plugin, for messages and listings.
pub const BUILTINS: [Builtin; 7] = [
    Builtin::Env,
    Builtin::File,
    Builtin::OnePassword,
    Builtin::Vault,
    Builtin::Aws,
    Builtin::Gcp,
    Builtin::Azure,
];

impl Builtin {
    fn named(name: &str) -> Option<Builtin> {
        match name {
            "env" => Some(Builtin::Env),
            "file" => Some(Builtin::File),
            "onepassword" => Some(Builtin::OnePassword),
            "vault" => Some(Builtin::Vault),
            "aws" => Some(Builtin::Aws),
            "gcp" => Some(Builtin::Gcp),
            "azure" => Some(Builtin::Azure),
            _ => None,
        }
    }

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
        }
    }
}

/// Where a provider's plugin comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// Embedded in the binary.
    Builtin(Builtin),
    /// A component file on disk.
    Path(PathBuf),
}

/// One provider: a plugin plus its configuration, grants and limits.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    /// The provider's name (the key under `providers:`).
    pub name: String,
    /// The `plugin:` string as written.
    pub plugin: String,
    /// Where the component comes from.
    pub source: PluginSource,
    /// Passed to `configure`.
    pub config: Vec<(String, String)>,
    /// What the sandbox may touch.
    pub grants: Grants,
    /// `grants.hosts`, parsed.
    pub hosts: Vec<HostGrant>,
    /// `allow_http: true`: plain HTTP to hosts other than loopback is meant.
    pub allow_http: bool,
    /// Extra CA certificates for its HTTPS.
    pub ca_file: Option<PathBuf>,
    /// A pinned digest for a custom plugin.
    pub sha256: Option<String>,
    /// Memory cap in bytes.
    pub memory_bytes: usize,
    /// Budget of one call.
    pub timeout: Duration,
    /// Where it is declared, if in reqflo.yaml.
    pub declared_at: Option<Spot>,
}

impl ProviderSpec {
    /// The secret file for a `builtin:file` provider.
    pub fn secret_file(&self, project: &Project) -> Option<PathBuf> {
        match self.source {
            PluginSource::Builtin(Builtin::File) => {
                let written = self
                    .config
                    .iter()
                    .find(|(k, _)| k == "path")
                    .map(|(_, v)| v.as_str())
                    .unwrap_or(DEFAULT_SECRET_FILE);
                Some(project.resolve_path(written))
            }
            _ => None,
        }
    }

    /// Whether a `builtin:file` provider reads the default file (not one the
    /// user configured).
    pub fn uses_default_secret_file(&self) -> bool {
        self.config
            .iter()
            .any(|(k, v)| k == "path" && v == DEFAULT_SECRET_FILE)
    }
}

/// Every provider a project can use, by name.
#[derive(Debug)]
pub struct Providers {
    specs: IndexMap<String, ProviderSpec>,
}

impl Providers {
    /// Read `providers:` from reqflo.yaml, adding `env` and `file` when absent.
    pub fn from_project(project: &Project) -> Result<Providers> {
        let source = &project.config_source;
        let mut specs = IndexMap::new();
        for (name, def) in &project.config.providers {
            let at = |field: &str| source.value(&["providers", name, field]);
            let plugin_source = if let Some(builtin) = def.plugin.strip_prefix("builtin:") {
                PluginSource::Builtin(Builtin::named(builtin).ok_or_else(|| {
                    Error::Config(
                        Diagnostic::new(format!("unknown built-in plugin `{}`", def.plugin))
                            .at(at("plugin"))
                            .hint(format!(
                                "built-in plugins are {}",
                                BUILTINS.map(|b| format!("builtin:{}", b.name())).join(", ")
                            )),
                    )
                })?)
            } else {
                PluginSource::Path(project.resolve_path(&def.plugin))
            };
            if matches!(plugin_source, PluginSource::Builtin(_)) && def.sha256.is_some() {
                return Err(Error::Config(
                    Diagnostic::new("built-in plugins are part of reqflo and take no sha256 pin")
                        .at(at("sha256")),
                ));
            }
            let mut config = Vec::new();
            for (key, value) in &def.config {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(Error::Config(
                            Diagnostic::new(format!(
                                "config `{key}` must be a string, number or boolean"
                            ))
                            .at(source.value(&[
                                "providers",
                                name,
                                "config",
                                key,
                            ])),
                        ));
                    }
                };
                config.push((key.clone(), text));
            }
            let mut hosts = Vec::new();
            for (i, written) in def.grants.hosts.iter().enumerate() {
                let grant = HostGrant::parse_allowing(written, def.allow_http).map_err(|why| {
                    Error::Config(
                        Diagnostic::new(format!("in grants.hosts: {why}"))
                            .at(source.value(&[
                                "providers",
                                name,
                                "grants",
                                "hosts",
                                &i.to_string(),
                            ]))
                            .hint("examples: `127.0.0.1:8200`, `https://vault.example.com`, `*.example.com:443`"),
                    )
                })?;
                hosts.push(grant);
            }
            let ca_file = match &def.ca_file {
                Some(written) => {
                    let path = project.resolve_path(written);
                    if !path.is_file() {
                        return Err(Error::Config(
                            Diagnostic::new(format!("ca_file {} does not exist", path.display()))
                                .at(at("ca_file")),
                        ));
                    }
                    Some(path)
                }
                None => None,
            };
            // The file plugin is told which file it reads (for its messages and
            // format); the host opens it.
            if matches!(plugin_source, PluginSource::Builtin(Builtin::File))
                && !config.iter().any(|(k, _)| k == "path")
            {
                config.push(("path".into(), DEFAULT_SECRET_FILE.into()));
            }
            specs.insert(
                name.clone(),
                ProviderSpec {
                    name: name.clone(),
                    plugin: def.plugin.clone(),
                    source: plugin_source,
                    config,
                    grants: def.grants.clone(),
                    hosts,
                    allow_http: def.allow_http,
                    ca_file,
                    sha256: def.sha256.clone(),
                    memory_bytes: memory_bytes(def.limits),
                    timeout: Duration::from_millis(
                        def.limits.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS).max(1),
                    ),
                    declared_at: source.key(&["providers", name]),
                },
            );
        }
        for builtin in [Builtin::Env, Builtin::File] {
            specs
                .entry(builtin.name().to_string())
                .or_insert_with(|| ProviderSpec {
                    name: builtin.name().to_string(),
                    plugin: format!("builtin:{}", builtin.name()),
                    source: PluginSource::Builtin(builtin),
                    config: match builtin {
                        Builtin::File => vec![("path".into(), DEFAULT_SECRET_FILE.into())],
                        _ => Vec::new(),
                    },
                    grants: Grants::default(),
                    hosts: Vec::new(),
                    allow_http: false,
                    ca_file: None,
                    sha256: None,
                    memory_bytes: memory_bytes(Limits::default()),
                    timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
                    declared_at: None,
                });
        }
        Ok(Providers { specs })
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&ProviderSpec> {
        self.specs.get(name)
    }

    /// All providers, declared ones first.
    pub fn all(&self) -> impl Iterator<Item = &ProviderSpec> {
        self.specs.values()
    }

    /// Provider names, for error hints.
    pub fn names(&self) -> Vec<String> {
        self.specs.keys().cloned().collect()
    }
}

fn memory_bytes(limits: Limits) -> usize {
    let mib = limits
        .memory_mib
        .unwrap_or(DEFAULT_MEMORY_MIB)
        .clamp(1, 4096);
    (mib as usize) << 20
}
