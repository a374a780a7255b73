//! Request hooks as configured under `hooks:` in `reqflo.yaml`.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Result, Spot};
use crate::grant::HostGrant;
use crate::project::Project;

/// Default sandbox memory cap of a hook.
const DEFAULT_MEMORY_MIB: u64 = 64;
/// Default budget of one hook call (a token exchange included).
const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// Hooks compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinHook {
    /// A webhook-style HMAC-SHA256 signature header over timestamp and body.
    HmacSignature,
    /// OAuth2 client credentials; the access token becomes a derived secret.
    OAuth2,
}

/// Every built-in hook, for messages.
pub const BUILTIN_HOOKS: [BuiltinHook; 2] = [BuiltinHook::HmacSignature, BuiltinHook::OAuth2];

impl BuiltinHook {
    fn named(name: &str) -> Option<BuiltinHook> {
        BUILTIN_HOOKS.into_iter().find(|b| b.name() == name)
    }

    /// Its name after `builtin:`.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinHook::HmacSignature => "hmac-signature",
            BuiltinHook::OAuth2 => "oauth2",
        }
    }
}

/// Where a hook's component comes from.
#[derive(Debug, Clone)]
pub enum HookSource {
    /// Embedded in the binary.
    Builtin(BuiltinHook),
    /// A component file on disk.
    Path(PathBuf),
}

/// One hook: a plugin plus its configuration, granted secrets, grants and limits.
#[derive(Debug, Clone)]
pub struct HookSpec {
    /// The hook's name (its key under `hooks:`).
    pub name: String,
    /// The `plugin:` string as written.
    pub plugin: String,
    /// Where the component comes from.
    pub source: HookSource,
    /// Passed to `configure`.
    pub config: Vec<(String, String)>,
    /// Names of the secrets whose handles it receives.
    pub secrets: Vec<String>,
    /// `grants.hosts`, parsed: where the host may call for it (token endpoints).
    pub hosts: Vec<HostGrant>,
    /// `allow_http: true`: a token endpoint other than loopback over plain HTTP is meant.
    pub allow_http: bool,
    /// A pinned digest for a custom hook.
    pub sha256: Option<String>,
    /// Memory cap in bytes.
    pub memory_bytes: usize,
    /// Budget of one call.
    pub timeout: Duration,
    /// Where it is declared.
    pub declared_at: Option<Spot>,
}

impl HookSpec {
    /// `hook `NAME` (PLUGIN)`, how messages name it.
    pub fn label(&self) -> String {
        format!("hook `{}` ({})", self.name, self.plugin)
    }
}

/// Every hook a project defines, by name.
#[derive(Debug, Default)]
pub struct HookSpecs {
    specs: IndexMap<String, HookSpec>,
}

impl HookSpecs {
    /// Read and check `hooks:` from reqflo.yaml.
    pub fn from_project(project: &Project) -> Result<HookSpecs> {
        let source = &project.config_source;
        let mut specs = IndexMap::new();
        for (name, def) in &project.config.hooks {
            let at = |path: &[&str]| {
                let mut full = vec!["hooks", name.as_str()];
                full.extend_from_slice(path);
                source.value(&full)
            };
            let hook_source = if let Some(builtin) = def.plugin.strip_prefix("builtin:") {
                HookSource::Builtin(BuiltinHook::named(builtin).ok_or_else(|| {
                    Error::Config(
                        Diagnostic::new(format!("unknown built-in hook `{}`", def.plugin))
                            .at(at(&["plugin"]))
                            .hint(format!(
                                "built-in hooks are {}",
                                BUILTIN_HOOKS
                                    .map(|b| format!("builtin:{}", b.name()))
                                    .join(", ")
                            )),
                    )
                })?)
            } else {
                HookSource::Path(project.resolve_path(&def.plugin))
            };
            if matches!(hook_source, HookSource::Builtin(_)) && def.sha256.is_some() {
                return Err(Error::Config(
                    Diagnostic::new("built-in hooks are part of reqflo and take no sha256 pin")
                        .at(at(&["sha256"])),
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
                            .at(at(&["config", key])),
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
                            .at(at(&["grants", "hosts", &i.to_string()]))
                            .hint("examples: `auth.example.com`, `https://auth.example.com:8443`"),
                    )
                })?;
                hosts.push(grant);
            }
            for (i, secret) in def.secrets.iter().enumerate() {
                if def.secrets[..i].contains(secret) {
                    return Err(Error::Config(
                        Diagnostic::new(format!("secret `{secret}` is granted twice"))
                            .at(at(&["secrets", &i.to_string()])),
                    ));
                }
            }
            let mib = def
                .limits
                .memory_mib
                .unwrap_or(DEFAULT_MEMORY_MIB)
                .clamp(1, 4096);
            specs.insert(
                name.clone(),
                HookSpec {
                    name: name.clone(),
                    plugin: def.plugin.clone(),
                    source: hook_source,
                    config,
                    secrets: def.secrets.clone(),
                    hosts,
                    allow_http: def.allow_http,
                    sha256: def.sha256.clone(),
                    memory_bytes: (mib as usize) << 20,
                    timeout: Duration::from_millis(
                        def.limits.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS).max(1),
                    ),
                    declared_at: source.key(&["hooks", name]),
                },
            );
        }
        Ok(HookSpecs { specs })
    }

    /// A hook by name.
    pub fn get(&self, name: &str) -> Option<&HookSpec> {
        self.specs.get(name)
    }

    /// All hooks, in the order reqflo.yaml lists them.
    pub fn all(&self) -> impl Iterator<Item = &HookSpec> {
        self.specs.values()
    }
}
