//! Projects on the server: what a builder may upload, and the project a run
//! sees, composed from the upload and the admin's registry.
//!
//! On a laptop the person who writes `reqflo.yaml` owns the secrets it
//! reads. On the server builders write journeys and admins own providers,
//! hooks and the registry, so an upload holds journeys, templates and
//! environments' variables only; everything else is refused, with where.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use reqflo_core::bundle::Bundle;
use reqflo_core::error::{Error, Result};
use reqflo_core::plan::{self, InputMode, Plan, PlanOptions};
use reqflo_core::plugins::{HELD_PROVIDER, Providers};
use reqflo_core::project::{MemoryFiles, PROJECT_FILE, Project};
use reqflo_core::source::Source;

use crate::credentials;
use crate::registry::SecretPolicy;

/// A project as stored: `reqflo.yaml` (environments only), journeys and
/// templates, each file's text as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredProject {
    /// `path → text`.
    pub files: IndexMap<String, String>,
}

/// Why an upload was refused: the message names the file, line and column.
#[derive(Debug)]
pub struct Refused(pub String);

impl StoredProject {
    /// Check an upload of files. Nothing is stored unless this passes.
    pub fn from_files(files: IndexMap<String, String>) -> Result<StoredProject, Refused> {
        for path in files.keys() {
            check_path(path)?;
        }
        let mut files = files;
        if !files.contains_key(PROJECT_FILE) {
            files.insert(PROJECT_FILE.to_string(), String::new());
        }
        let project = StoredProject { files };
        project.check_config()?;
        for (path, text) in &project.files {
            if let Some(found) = credentials::find(path, text) {
                return Err(Refused(found));
            }
        }
        Ok(project)
    }

    /// Check an upload of a bundle (`reqflo export`'s file).
    pub fn from_bundle(text: &str) -> Result<StoredProject, Refused> {
        let source = Source::from_text(
            PathBuf::from("bundle.yaml"),
            "the uploaded bundle".into(),
            text.to_string(),
        );
        let bundle: Bundle = source.parse().map_err(|d| Refused(d.to_string()))?;
        for (key, section) in [
            ("providers", &bundle.providers),
            ("hooks", &bundle.hooks),
            ("secrets", &bundle.secrets),
        ] {
            if !section.is_empty() {
                let spot = source
                    .key(&[key])
                    .map(|s| format!("{}:{}:{}: ", s.file, s.line, s.column))
                    .unwrap_or_default();
                return Err(Refused(format!("{spot}{}", admin_owns(key))));
            }
        }
        let mut config = serde_yaml::Mapping::new();
        if !bundle.environments.is_empty() {
            config.insert(
                "environments".into(),
                serde_yaml::Value::Mapping(bundle.environments),
            );
        }
        let config_text = if config.is_empty() {
            String::new()
        } else {
            serde_yaml::to_string(&config).map_err(|e| Refused(e.to_string()))?
        };
        let mut files = IndexMap::new();
        files.insert(PROJECT_FILE.to_string(), config_text);
        files.extend(bundle.files);
        StoredProject::from_files(files)
    }

    /// `reqflo.yaml` may hold environments with variables, nothing else.
    fn check_config(&self) -> Result<(), Refused> {
        let text = self.files.get(PROJECT_FILE).map_or("", String::as_str);
        let source = Source::from_text(PROJECT_FILE.into(), PROJECT_FILE.into(), text.to_string());
        let refuse = |path: &[&str], why: String| {
            let spot = source
                .key(path)
                .map(|s| format!("{}:{}:{}: ", s.file, s.line, s.column))
                .unwrap_or_else(|| format!("{PROJECT_FILE}: "));
            Refused(format!("{spot}{why}"))
        };
        let value: serde_yaml::Value = if text.trim().is_empty() {
            serde_yaml::Value::Null
        } else {
            source.parse().map_err(|d| Refused(d.to_string()))?
        };
        let Some(map) = value.as_mapping() else {
            return Ok(());
        };
        for key in map.keys() {
            let key = key.as_str().unwrap_or("?");
            if key != "environments" {
                return Err(refuse(&[key], admin_owns(key)));
            }
        }
        let environments = map
            .get("environments")
            .and_then(|e| e.as_mapping())
            .into_iter()
            .flatten();
        for (name, env) in environments {
            let name = name.as_str().unwrap_or("?");
            for key in ["secrets", "hooks"] {
                if env.get(key).is_some() {
                    let what = if key == "secrets" {
                        "the provider chain"
                    } else {
                        "request hooks"
                    };
                    return Err(refuse(
                        &["environments", name, key],
                        format!(
                            "`environments.{name}.{key}` is not accepted on a server: {what} are the server admin's; remove it (`reqflo run --remote` leaves it out for you)"
                        ),
                    ));
                }
            }
            // Its files would be read from the server's own disk.
            if env.get("tls").is_some() {
                return Err(refuse(
                    &["environments", name, "tls"],
                    format!(
                        "`environments.{name}.tls` is not accepted on a server: a CA or client certificate file would be read from the server's disk; run such journeys locally for now"
                    ),
                ));
            }
        }
        // The full check (unknown keys, types) is the core's, as for a local run.
        Project::in_memory(std::env::temp_dir(), self.memory_files(""))
            .map(|_| ())
            .map_err(|e| Refused(e.to_string()))
    }

    fn memory_files(&self, registry: &str) -> MemoryFiles {
        let mut files = MemoryFiles::new("the uploaded project");
        if !self.files.contains_key(PROJECT_FILE) {
            files.insert(PROJECT_FILE, registry.to_string());
        }
        for (path, text) in &self.files {
            if path == PROJECT_FILE {
                files.insert(path.clone(), format!("{text}\n{registry}"));
            } else {
                files.insert(path.clone(), text.clone());
            }
        }
        files
    }

    /// The project a run sees: the upload, with the server's registry as its
    /// `secrets:` section (every entry resolving through the server's
    /// `managed` provider). The registry is appended, so positions in the
    /// builder's own lines stay true.
    pub fn compose(
        &self,
        registry: &[SecretPolicy],
        providers: &serde_yaml::Mapping,
    ) -> Result<Project> {
        // Paths in reqflo.yaml would be relative to this; an upload has none.
        self.compose_in(registry, providers, std::env::temp_dir())
    }

    /// [`StoredProject::compose`], with `providers:` paths (plugin files)
    /// relative to `base` (a private agent's config folder).
    pub fn compose_in(
        &self,
        registry: &[SecretPolicy],
        providers: &serde_yaml::Mapping,
        base: std::path::PathBuf,
    ) -> Result<Project> {
        let mut secrets = serde_yaml::Mapping::new();
        for entry in registry {
            let mut map = serde_yaml::Mapping::new();
            map.insert("description".into(), entry.description.clone().into());
            if let Some(journeys) = &entry.journeys {
                map.insert("journeys".into(), strings(journeys));
            }
            let provider = entry.provider.as_deref().unwrap_or(HELD_PROVIDER);
            map.insert("provider".into(), provider.into());
            if let Some(reference) = &entry.reference {
                map.insert("reference".into(), reference.clone().into());
            }
            if let Some(hosts) = &entry.hosts {
                map.insert("hosts".into(), strings(hosts));
            }
            if entry.allow_http {
                map.insert("allow_http".into(), true.into());
            }
            secrets.insert(entry.name.clone().into(), serde_yaml::Value::Mapping(map));
        }
        let mut section = serde_yaml::Mapping::new();
        if !secrets.is_empty() {
            section.insert("secrets".into(), serde_yaml::Value::Mapping(secrets));
        }
        if !providers.is_empty() {
            section.insert(
                "providers".into(),
                serde_yaml::Value::Mapping(providers.clone()),
            );
        }
        let registry = if section.is_empty() {
            String::new()
        } else {
            serde_yaml::to_string(&section)
                .map_err(|e| Error::Runtime(format!("cannot compose the registry: {e}")))?
        };
        Project::in_memory(base, self.memory_files(&registry))
    }

    /// The journeys' names.
    pub fn journey_names(&self) -> Vec<String> {
        names_under(&self.files, "journeys/")
    }

    /// The templates' names.
    pub fn template_names(&self) -> Vec<String> {
        names_under(&self.files, "templates/")
    }

    /// The environments' names.
    pub fn environment_names(&self) -> Vec<String> {
        let text = self.files.get(PROJECT_FILE).map_or("", String::as_str);
        serde_yaml::from_str::<serde_yaml::Value>(text)
            .ok()
            .and_then(|v| v.get("environments").and_then(|e| e.as_mapping()).cloned())
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Check the server's `providers:` as a run would read them: known plugins,
/// grants, no `env` or `file` (which would read the server's own
/// environment and files).
pub fn check_providers(providers: &serde_yaml::Mapping) -> Result<(), String> {
    let project = StoredProject::default()
        .compose(&[], providers)
        .map_err(|e| e.to_string())?;
    Providers::hosted(&project)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Plan `journeys` in `environment` on the server: every secret resolves
/// through the `managed` provider (or one the admin declared), never a
/// local one.
pub fn plan_all(
    project: &Project,
    journeys: &[String],
    environment: Option<&str>,
    inputs: &IndexMap<String, String>,
    variables: &IndexMap<String, String>,
    input_mode: InputMode,
) -> Result<Vec<Plan>> {
    let providers = Providers::hosted(project)?;
    let run = RunChoices {
        environment,
        inputs,
        variables,
        input_mode,
    };
    plan_with(project, &providers, Some(HELD_PROVIDER), journeys, &run)
}

/// What a run was submitted with.
pub struct RunChoices<'a> {
    /// The environment.
    pub environment: Option<&'a str>,
    /// Inputs.
    pub inputs: &'a IndexMap<String, String>,
    /// Variables over the environment's.
    pub variables: &'a IndexMap<String, String>,
    /// Whether inputs may be asked for.
    pub input_mode: InputMode,
}

/// Plan `journeys` with `providers`; a secret not pinned to a provider
/// resolves through `chain` (`None`: the environment's chain, else the
/// default).
pub fn plan_with(
    project: &Project,
    providers: &Providers,
    chain: Option<&str>,
    journeys: &[String],
    run: &RunChoices<'_>,
) -> Result<Vec<Plan>> {
    let options = PlanOptions {
        environment: run.environment.map(str::to_string),
        secrets: chain.map(str::to_string),
        inputs: run.inputs.clone(),
        variables: run.variables.clone(),
        input_mode: run.input_mode,
    };
    let mut plans = Vec::with_capacity(journeys.len());
    for name in journeys {
        // A `for_each:` journey is one plan a row.
        let journey = project.journey(name)?;
        plans.extend(plan::plan_iterations(
            project, providers, &journey, &options,
        )?);
    }
    Ok(plans)
}

fn admin_owns(section: &str) -> String {
    match section {
        "providers" | "hooks" | "secrets" => format!(
            "`{section}:` is not accepted on a server: providers, hooks and the secrets registry are the server admin's (Admin > Secrets management); remove it (`reqflo run --remote` leaves it out for you)"
        ),
        other => {
            format!("`{other}:` is not a section a server project may hold (environments only)")
        }
    }
}

fn strings(list: &[String]) -> serde_yaml::Value {
    serde_yaml::Value::Sequence(list.iter().map(|s| s.clone().into()).collect())
}

fn names_under(files: &IndexMap<String, String>, folder: &str) -> Vec<String> {
    let mut names: Vec<String> = files
        .keys()
        .filter_map(|p| p.strip_prefix(folder))
        .filter_map(|f| f.strip_suffix(".yaml"))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// Only `reqflo.yaml`, `journeys/NAME.yaml` and `templates/NAME.yaml`.
fn check_path(path: &str) -> Result<(), Refused> {
    if path == PROJECT_FILE {
        return Ok(());
    }
    let ok = path.split_once('/').is_some_and(|(folder, file)| {
        matches!(folder, "journeys" | "templates")
            && file.strip_suffix(".yaml").is_some_and(|stem| {
                !stem.is_empty()
                    && !stem.starts_with('.')
                    && stem
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            })
    });
    if ok {
        Ok(())
    } else {
        let shown: String = path.chars().take(120).filter(|c| !c.is_control()).collect();
        Err(Refused(format!(
            "`{shown}`: a project holds reqflo.yaml, journeys/NAME.yaml and templates/NAME.yaml only (no plugins, no other files)"
        )))
    }
}
