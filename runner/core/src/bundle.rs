//! Bundles: one journey with everything it needs, in one shareable file.
//!
//! A bundle holds the journey and the templates it uses as written, and the
//! parts of `reqflo.yaml` it relies on: environments, the request hooks its
//! steps and environments attach, the registry entries it or those hooks name,
//! and the providers those refer to. Secrets appear by name and
//! reference only. `reqflo export` resolves the journey's secrets where it
//! can, only to refuse a bundle that holds one of their values (a key pasted
//! into a variable or a journey by mistake).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{Diagnostic, Error, Result};
use crate::project::{MemoryFiles, PROJECT_FILE, Project};
use crate::redact::Redactor;

/// The bundle format version this reqflo writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// A bundle file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Format version.
    pub reqflo_bundle: u32,
    /// The journey to run.
    pub journey: String,
    /// `environments:` from reqflo.yaml.
    #[serde(default)]
    pub environments: serde_yaml::Mapping,
    /// The `providers:` entries that environments or secrets name.
    #[serde(default)]
    pub providers: serde_yaml::Mapping,
    /// The `hooks:` entries that the journey's steps or environments attach.
    #[serde(default, skip_serializing_if = "serde_yaml::Mapping::is_empty")]
    pub hooks: serde_yaml::Mapping,
    /// The registry entries the journey or its hooks name.
    #[serde(default)]
    pub secrets: serde_yaml::Mapping,
    /// `journeys/NAME.yaml` and `templates/NAME.yaml`, as written.
    pub files: IndexMap<String, String>,
}

/// Build the bundle of `journey` in `project`.
pub fn export(project: &Project, journey: &str) -> Result<Bundle> {
    let mut files = IndexMap::new();
    let mut secret_names = BTreeSet::new();
    let mut hook_names: BTreeSet<String> = BTreeSet::new();
    // The journey, and every journey it includes, with their templates.
    let mut journeys = vec![journey.to_string()];
    while let Some(name) = journeys.pop() {
        let path = format!("journeys/{name}.yaml");
        if files.contains_key(&path) {
            continue;
        }
        let loaded = project.journey(&name)?;
        files.insert(path, loaded.source.text().to_string());
        journeys.extend(loaded.file.steps.iter().filter_map(|s| s.include.clone()));
        add_steps(
            project,
            &loaded,
            &mut files,
            &mut secret_names,
            &mut hook_names,
        )?;
    }
    // The registry and environments as written, taken from the YAML itself so
    // nothing is re-interpreted on the way out.
    let config: serde_yaml::Value =
        serde_yaml::from_str(project.config_source.text()).unwrap_or(serde_yaml::Value::Null);
    let section = |name: &str| {
        config
            .get(name)
            .and_then(|v| v.as_mapping())
            .cloned()
            .unwrap_or_default()
    };
    let environments = section("environments");
    // Hooks travel with the journey: a step or environment that names one
    // must find it where the bundle runs, and the secrets granted to it are
    // part of what the journey needs.
    for env in environments.values() {
        hook_names.extend(names_in(env, "hooks"));
    }
    let mut hooks = serde_yaml::Mapping::new();
    for (key, entry) in &section("hooks") {
        if key.as_str().is_some_and(|k| hook_names.contains(k)) {
            secret_names.extend(names_in(entry, "secrets"));
            hooks.insert(key.clone(), entry.clone());
        }
    }
    let registry = section("secrets");
    let mut secrets = serde_yaml::Mapping::new();
    for (key, entry) in &registry {
        if key.as_str().is_some_and(|k| secret_names.contains(k)) {
            secrets.insert(key.clone(), entry.clone());
        }
    }
    let mut wanted_providers = BTreeSet::new();
    for env in environments.values() {
        wanted_providers.extend(names_in(env, "secrets"));
    }
    for entry in secrets.values() {
        if let Some(name) = entry.get("provider").and_then(|p| p.as_str()) {
            wanted_providers.insert(name.to_string());
        }
    }
    let mut providers = serde_yaml::Mapping::new();
    for (key, entry) in &section("providers") {
        if key.as_str().is_some_and(|k| wanted_providers.contains(k)) {
            providers.insert(key.clone(), entry.clone());
        }
    }
    Ok(Bundle {
        reqflo_bundle: BUNDLE_VERSION,
        journey: journey.to_string(),
        environments,
        providers,
        hooks,
        secrets,
        files,
    })
}

/// The templates `loaded`'s steps name, and the secrets and hooks they use.
fn add_steps(
    project: &Project,
    loaded: &crate::project::Loaded<crate::project::model::JourneyFile>,
    files: &mut IndexMap<String, String>,
    secret_names: &mut BTreeSet<String>,
    hook_names: &mut BTreeSet<String>,
) -> Result<()> {
    for (i, step) in loaded.file.steps.iter().enumerate() {
        if step.include.is_some() {
            secret_names.extend(step.secret_names().map(str::to_string));
            continue;
        }
        let template_file = format!("templates/{}.yaml", step.template);
        if !files.contains_key(&template_file) {
            let template = project.template(&step.template).ok_or_else(|| {
                Error::Definition(
                    Diagnostic::new(format!("unknown template `{}`", step.template))
                        .at(loaded.source.value(&["steps", &i.to_string(), "template"])),
                )
            })?;
            let template = template.map_err(Error::Definition)?;
            files.insert(template_file, template.source.text().to_string());
        }
        secret_names.extend(step.secret_names().map(str::to_string));
        hook_names.extend(step.hooks.iter().cloned());
    }
    Ok(())
}

/// The strings in the list `entry.key`, if it is one.
fn names_in(entry: &serde_yaml::Value, key: &str) -> Vec<String> {
    entry
        .get(key)
        .and_then(|s| s.as_sequence())
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str().map(str::to_string))
        .collect()
}

impl Bundle {
    /// The first part of the bundle holding a value `redactor` knows, in any
    /// encoded form: where (a file, or a section of reqflo.yaml) and the
    /// secret's name. Never the value.
    pub fn find_value(&self, redactor: &Redactor) -> Option<(String, String)> {
        let sections = [
            ("environments", &self.environments),
            ("providers", &self.providers),
            ("hooks", &self.hooks),
            ("secrets", &self.secrets),
        ];
        for (key, section) in sections {
            // A section that does not serialize holds nothing to find.
            let text = serde_yaml::to_string(section).unwrap_or_default();
            if let Some(name) = found_secret(redactor, &text) {
                return Some((format!("`{key}:` from {PROJECT_FILE}"), name));
            }
        }
        self.files
            .iter()
            .find_map(|(path, text)| found_secret(redactor, text).map(|name| (path.clone(), name)))
    }

    /// The bundle as YAML text.
    pub fn to_yaml(&self) -> Result<String> {
        let body = serde_yaml::to_string(self)
            .map_err(|e| Error::Runtime(format!("cannot write the bundle: {e}")))?;
        Ok(format!(
            "# A reqflo bundle: run it with `reqflo run --bundle FILE`.\n\
             # Secrets are named here, never included: they resolve where it runs.\n{body}"
        ))
    }

    /// Read a bundle file.
    pub fn read(path: &Path) -> Result<Bundle> {
        let display = path.display().to_string();
        let source = crate::source::Source::read(path, display).map_err(Error::Usage)?;
        let bundle: Bundle = source.parse().map_err(Error::Config)?;
        if bundle.reqflo_bundle != BUNDLE_VERSION {
            return Err(Error::Config(Diagnostic::new(format!(
                "{} is a version {} bundle; this reqflo reads version {BUNDLE_VERSION}",
                path.display(),
                bundle.reqflo_bundle
            ))));
        }
        Ok(bundle)
    }

    /// The bundle as a project in memory, standing in the folder `root` (the
    /// bundle file's): nothing is unpacked to disk.
    pub fn into_project(self, root: PathBuf) -> Result<Project> {
        let mut config = serde_yaml::Mapping::new();
        for (key, section) in [
            ("environments", self.environments),
            ("providers", self.providers),
            ("hooks", self.hooks),
            ("secrets", self.secrets),
        ] {
            if !section.is_empty() {
                config.insert(key.into(), serde_yaml::Value::Mapping(section));
            }
        }
        let config = serde_yaml::to_string(&config)
            .map_err(|e| Error::Runtime(format!("cannot read the bundle's project: {e}")))?;
        let mut files = MemoryFiles::new("the bundle").with(PROJECT_FILE, config);
        for (name, text) in self.files {
            // Only journeys/NAME.yaml and templates/NAME.yaml: a bundle holds
            // nothing else a project would read.
            let Some((folder, file)) = name.split_once('/') else {
                return Err(bad_file(&name));
            };
            let stem_ok = file
                .strip_suffix(".yaml")
                .is_some_and(|s| !s.is_empty() && !s.starts_with('.') && !s.contains(['/', '\\']));
            if !matches!(folder, "journeys" | "templates") || !stem_ok {
                return Err(bad_file(&name));
            }
            files.insert(name, text);
        }
        Project::in_memory(root, files)
    }
}

fn bad_file(name: &str) -> Error {
    Error::Config(Diagnostic::new(format!(
        "bundle file `{name}` is not journeys/NAME.yaml or templates/NAME.yaml"
    )))
}

/// The name of a secret whose value (in some form) is in `text`: the first
/// redaction marker that redacting `text` adds.
fn found_secret(redactor: &Redactor, text: &str) -> Option<String> {
    if !redactor.finds(text.as_bytes()) {
        return None;
    }
    let redacted = redactor.redact(text);
    let mut rest: &str = &redacted;
    while let Some(start) = rest.find("[redacted:") {
        let after = &rest[start + "[redacted:".len()..];
        let name = after.split(']').next().unwrap_or("");
        if !text.contains(&format!("[redacted:{name}]")) {
            return Some(name.to_string());
        }
        rest = after;
    }
    // Found, but every marker was in the text already: still a value.
    Some("?".to_string())
}
