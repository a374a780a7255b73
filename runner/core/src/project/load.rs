//! Project discovery and file loading, with positions for every error.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::{JourneyFile, ProjectFile, TemplateFile};
use crate::error::{Diagnostic, Error, Result};
use crate::source::Source;

/// The file that marks a project's root.
pub const PROJECT_FILE: &str = "reqflo.yaml";

/// A parsed file together with its source, for positions.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The name (file stem) it was loaded as.
    pub name: String,
    /// What it says.
    pub file: T,
    /// Where it came from.
    pub source: Source,
}

/// A project: its root, `reqflo.yaml`, and where journeys and templates live.
#[derive(Debug)]
pub struct Project {
    /// The folder holding `reqflo.yaml`.
    pub root: PathBuf,
    /// `reqflo.yaml`, parsed.
    pub config: ProjectFile,
    /// `reqflo.yaml`'s source, for positions.
    pub config_source: Source,
}

impl Project {
    /// Find the project: `--project DIR` (or a path to its reqflo.yaml), else the
    /// nearest folder at or above `cwd` holding `reqflo.yaml`.
    pub fn discover(explicit: Option<&Path>, cwd: &Path) -> Result<Project> {
        let root = match explicit {
            Some(path) => {
                let path = cwd.join(path);
                let root = if path.is_file() {
                    path.parent().map(Path::to_path_buf).unwrap_or(path)
                } else {
                    path
                };
                if !root.join(PROJECT_FILE).is_file() {
                    return Err(Error::Usage(format!(
                        "no {PROJECT_FILE} in {}",
                        root.display()
                    )));
                }
                root
            }
            None => cwd
                .ancestors()
                .find(|dir| dir.join(PROJECT_FILE).is_file())
                .map(Path::to_path_buf)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "no {PROJECT_FILE} in {} or any folder above it (use --project DIR)",
                        cwd.display()
                    ))
                })?,
        };
        Project::load(root)
    }

    /// Load the project rooted at `root`.
    pub fn load(root: PathBuf) -> Result<Project> {
        let source = Source::read(&root.join(PROJECT_FILE), PROJECT_FILE.to_string())
            .map_err(|m| Error::Config(Diagnostic::new(m)))?;
        let config: ProjectFile = source.parse().map_err(Error::Config)?;
        Ok(Project {
            root,
            config,
            config_source: source,
        })
    }

    /// Names of all journeys, sorted.
    pub fn journey_names(&self) -> Vec<String> {
        stems(&self.root.join("journeys"))
    }

    /// Names of all templates, sorted.
    pub fn template_names(&self) -> Vec<String> {
        stems(&self.root.join("templates"))
    }

    /// Load `journeys/NAME.yaml`; an unknown name is a usage error.
    pub fn journey(&self, name: &str) -> Result<Loaded<JourneyFile>> {
        let Some(path) = find_file(&self.root.join("journeys"), name) else {
            return Err(Error::Usage(format!(
                "no journey `{name}` in {} (journeys: {})",
                self.root.join("journeys").display(),
                list_or_none(&self.journey_names())
            )));
        };
        self.load_file(name, &path, "journeys")
            .map_err(Error::Definition)
    }

    /// Load `templates/NAME.yaml`, or `None` when no such file exists.
    pub fn template(&self, name: &str) -> Option<Result<Loaded<TemplateFile>, Diagnostic>> {
        let path = find_file(&self.root.join("templates"), name)?;
        Some(self.load_file(name, &path, "templates"))
    }

    fn load_file<T: DeserializeOwned + Serialize>(
        &self,
        name: &str,
        path: &Path,
        folder: &str,
    ) -> Result<Loaded<T>, Diagnostic> {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source =
            Source::read(path, format!("{folder}/{file_name}")).map_err(Diagnostic::new)?;
        // Journeys can run to thousands of steps: long files are parsed once
        // per content and kept (see `cache`).
        let file = super::cache::parse_through(source.text(), || source.parse())?;
        Ok(Loaded {
            name: name.to_string(),
            file,
            source,
        })
    }

    /// Resolve a path a user wrote in reqflo.yaml: `~/` is the home folder,
    /// relative paths are relative to the project root.
    pub fn resolve_path(&self, written: &str) -> PathBuf {
        if let Some(rest) = written.strip_prefix("~/")
            && let Some(home) = dirs::home_dir()
        {
            return home.join(rest);
        }
        self.root.join(written)
    }
}

/// `NAME.yaml` or `NAME.yml` in `dir`. Names with path separators never match,
/// so a journey cannot reach outside its folder.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return None;
    }
    ["yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .find(|p| p.is_file())
}

fn stems(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let ext = path.extension()?.to_str()?;
            if ext != "yaml" && ext != "yml" {
                return None;
            }
            Some(path.file_stem()?.to_str()?.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `a, b, c` or `none`.
pub fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
