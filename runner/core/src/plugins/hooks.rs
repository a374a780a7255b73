//! Request hooks as configured under `hooks:` in `reqflo.yaml`.

use indexmap::IndexMap;

use super::spec::{Declared, PluginKind, PluginSpec};
use crate::error::{Diagnostic, Error, Result};
use crate::project::Project;

/// Every hook a project defines, by name.
#[derive(Debug, Default)]
pub struct HookSpecs {
    specs: IndexMap<String, PluginSpec>,
}

impl HookSpecs {
    /// Read and check `hooks:` from reqflo.yaml.
    pub fn from_project(project: &Project) -> Result<HookSpecs> {
        let source = &project.config_source;
        let mut specs = IndexMap::new();
        for (name, def) in &project.config.hooks {
            let mut spec = Declared {
                kind: PluginKind::Hook,
                section: "hooks",
                name,
                plugin: &def.plugin,
                sha256: &def.sha256,
                config: &def.config,
                hosts: &def.grants.hosts,
                hosts_example: "examples: `auth.example.com`, `https://auth.example.com:8443`",
                allow_http: def.allow_http,
                limits: def.limits,
            }
            .parse(project)?;
            for (i, secret) in def.secrets.iter().enumerate() {
                if def.secrets[..i].contains(secret) {
                    return Err(Error::Config(
                        Diagnostic::new(format!("secret `{secret}` is granted twice"))
                            .at(source.value(&["hooks", name, "secrets", &i.to_string()])),
                    ));
                }
            }
            spec.secrets = def.secrets.clone();
            specs.insert(name.clone(), spec);
        }
        Ok(HookSpecs { specs })
    }

    /// A hook by name.
    pub fn get(&self, name: &str) -> Option<&PluginSpec> {
        self.specs.get(name)
    }

    /// All hooks, in the order reqflo.yaml lists them.
    pub fn all(&self) -> impl Iterator<Item = &PluginSpec> {
        self.specs.values()
    }
}
