//! Provider instances as configured in `reqflo.yaml`, plus the built-in defaults.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::spec::{Builtin, Declared, FileGrant, PluginKind, PluginSource, PluginSpec};
use crate::error::{Diagnostic, Error, Result};
use crate::project::Project;

/// Where the `file` provider looks when reqflo.yaml does not say.
pub const DEFAULT_SECRET_FILE: &str = "~/.config/reqflo/secrets.yaml";

impl PluginSpec {
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
    specs: IndexMap<String, PluginSpec>,
}

/// The provider under which a host's own values resolve on a server
/// ([`Providers::hosted`]): the Cloud Runner's managed secrets.
pub const HELD_PROVIDER: &str = "managed";

impl Providers {
    /// Read `providers:` from reqflo.yaml, adding `env` and `file` when absent.
    pub fn from_project(project: &Project) -> Result<Providers> {
        let mut specs = declared(project)?;
        for builtin in [Builtin::Env, Builtin::File] {
            specs.entry(builtin.name().to_string()).or_insert_with(|| {
                let mut spec = PluginSpec::builtin(builtin);
                if builtin == Builtin::File {
                    spec.config = vec![("path".into(), DEFAULT_SECRET_FILE.into())];
                }
                spec
            });
        }
        Ok(Providers { specs })
    }

    /// The providers of a project run by a server: those declared (by the
    /// server's admin), and [`HELD_PROVIDER`] for the values the server holds.
    /// There is no `env` or `file`: on a server they would read the server's
    /// own environment and files, which belong to no journey.
    pub fn hosted(project: &Project) -> Result<Providers> {
        let mut specs = declared(project)?;
        for (name, spec) in &specs {
            if matches!(
                spec.source,
                PluginSource::Builtin(Builtin::Env | Builtin::File)
            ) || name == HELD_PROVIDER
            {
                return Err(Error::Config(
                    Diagnostic::new(format!(
                        "provider `{name}` ({}) is not available on a server: it would read the server's own environment or files",
                        spec.plugin
                    ))
                    .at(project.config_source.value(&["providers", name, "plugin"])),
                ));
            }
        }
        specs.insert(HELD_PROVIDER.to_string(), PluginSpec::held(HELD_PROVIDER));
        Ok(Providers { specs })
    }

    /// The providers of a project run by a private agent (`reqflo agent`):
    /// the agent's own, as a local run has them (`env` and `file` read the
    /// agent's environment and files, which are its to give), and
    /// [`HELD_PROVIDER`] for the server's values sealed to the agent.
    pub fn on_agent(project: &Project) -> Result<Providers> {
        let mut providers = Providers::from_project(project)?;
        if providers.specs.contains_key(HELD_PROVIDER) {
            return Err(Error::Config(
                Diagnostic::new(format!(
                    "provider `{HELD_PROVIDER}` is the server's managed secrets; name the agent's own provider otherwise"
                ))
                .at(project.config_source.value(&["providers", HELD_PROVIDER])),
            ));
        }
        providers
            .specs
            .insert(HELD_PROVIDER.to_string(), PluginSpec::held(HELD_PROVIDER));
        Ok(providers)
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&PluginSpec> {
        self.specs.get(name)
    }

    /// All providers, declared ones first.
    pub fn all(&self) -> impl Iterator<Item = &PluginSpec> {
        self.specs.values()
    }

    /// Provider names, for error hints.
    pub fn names(&self) -> Vec<String> {
        self.specs.keys().cloned().collect()
    }
}

/// The `providers:` entries of reqflo.yaml, checked.
fn declared(project: &Project) -> Result<IndexMap<String, PluginSpec>> {
    let source = &project.config_source;
    let mut specs = IndexMap::new();
    for (name, def) in &project.config.providers {
        let mut spec = Declared {
                kind: PluginKind::Provider,
                section: "providers",
                name,
                plugin: &def.plugin,
                sha256: &def.sha256,
                config: &def.config,
                hosts: &def.grants.hosts,
                hosts_example: "examples: `127.0.0.1:8200`, `https://vault.example.com`, `*.example.com:443`",
                allow_http: def.allow_http,
                limits: def.limits,
            }
            .parse(project)?;
        spec.env = def.grants.env.clone();
        for (i, written) in def.grants.files.iter().enumerate() {
            let grant = FileGrant::parse(written, &|path| project.resolve_path(path)).map_err(|why| {
                Error::Config(
                    Diagnostic::new(format!("in grants.files: {why}"))
                        .at(source.value(&["providers", name, "grants", "files", &i.to_string()]))
                        .hint("examples: `keys/sa.json`, `/var/run/secrets/token`, `$AWS_WEB_IDENTITY_TOKEN_FILE`"),
                )
            })?;
            spec.files.push(grant);
        }
        if let Some(written) = &def.ca_file {
            let path = project.resolve_path(written);
            if !path.is_file() {
                return Err(Error::Config(
                    Diagnostic::new(format!("ca_file {} does not exist", path.display()))
                        .at(source.value(&["providers", name, "ca_file"])),
                ));
            }
            spec.ca_file = Some(path);
        }
        // The file plugin is told which file it reads (for its messages and
        // format); the host opens it.
        if matches!(spec.source, PluginSource::Builtin(Builtin::File))
            && !spec.config.iter().any(|(k, _)| k == "path")
        {
            spec.config
                .push(("path".into(), DEFAULT_SECRET_FILE.into()));
        }
        specs.insert(name.clone(), spec);
    }
    Ok(specs)
}
