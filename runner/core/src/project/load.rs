//! Project discovery and file loading, with positions for every error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::files::{FolderFiles, MemoryFiles, ProjectFiles, join};
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
    /// The folder holding `reqflo.yaml`; paths written in it (a plugin file,
    /// a secret file) are relative to this folder. For a project in memory,
    /// the folder it stands in (a bundle's).
    pub root: PathBuf,
    /// Its files: a folder, or text in memory.
    files: Arc<dyn ProjectFiles>,
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

    /// Load the project in the folder `root`.
    pub fn load(root: PathBuf) -> Result<Project> {
        let files = FolderFiles::new(root.clone());
        Project::open(root, Arc::new(files))
    }

    /// A project whose files are in memory: nothing is read from disk but
    /// what `reqflo.yaml` itself points at (a plugin, a secret file), which
    /// is relative to `root`.
    pub fn in_memory(root: PathBuf, files: MemoryFiles) -> Result<Project> {
        Project::open(root, Arc::new(files))
    }

    fn open(root: PathBuf, files: Arc<dyn ProjectFiles>) -> Result<Project> {
        let source = read(&*files, &root, PROJECT_FILE).map_err(Error::Config)?;
        let config: ProjectFile = source.parse().map_err(Error::Config)?;
        Ok(Project {
            root,
            files,
            config,
            config_source: source,
        })
    }

    /// Names of all journeys, sorted.
    pub fn journey_names(&self) -> Vec<String> {
        stems(self.files.list("journeys"))
    }

    /// Names of all templates, sorted.
    pub fn template_names(&self) -> Vec<String> {
        stems(self.files.list("templates"))
    }

    /// Load `journeys/NAME.yaml`; an unknown name is a usage error.
    pub fn journey(&self, name: &str) -> Result<Loaded<JourneyFile>> {
        let Some(path) = self.find_file("journeys", name) else {
            return Err(Error::Usage(format!(
                "no journey `{name}` in {} (journeys: {})",
                self.files.show("journeys"),
                list_or_none(&self.journey_names())
            )));
        };
        self.load_file(name, &path).map_err(Error::Definition)
    }

    /// Load `templates/NAME.yaml`, or `None` when no such file exists.
    pub fn template(&self, name: &str) -> Option<Result<Loaded<TemplateFile>, Diagnostic>> {
        let path = self.find_file("templates", name)?;
        Some(self.load_file(name, &path))
    }

    /// `folder/NAME.yaml` or `folder/NAME.yml`. Names with path separators
    /// never match, so a journey cannot reach outside its folder.
    fn find_file(&self, folder: &str, name: &str) -> Option<String> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return None;
        }
        ["yaml", "yml"]
            .iter()
            .map(|ext| join(folder, &format!("{name}.{ext}")))
            .find(|path| self.files.exists(path))
    }

    fn load_file<T: DeserializeOwned + Serialize>(
        &self,
        name: &str,
        path: &str,
    ) -> Result<Loaded<T>, Diagnostic> {
        let source = read(&*self.files, &self.root, path)?;
        // Journeys can run to thousands of steps: long files are parsed once
        // per content and kept (see `cache`).
        let file = super::cache::parse_through(source.text(), || source.parse())?;
        Ok(Loaded {
            name: name.to_string(),
            file,
            source,
        })
    }

    /// The text of a data file a journey names (`for_each: {file: …}`): a
    /// path relative to the project root that stays inside it.
    pub fn data_file(&self, written: &str) -> Result<String, String> {
        inside_project(written)?;
        self.files
            .read(written)
            .map_err(|why| format!("cannot read {written}: {why}"))
    }

    /// The bytes of a file a template uploads (`multipart:`), at most
    /// `limit`: a path inside the project, as for [`Project::data_file`].
    pub fn data_bytes(&self, written: &str, limit: usize) -> Result<Vec<u8>, String> {
        inside_project(written)?;
        let bytes = self
            .files
            .read_bytes(written)
            .map_err(|why| format!("cannot read {written}: {why}"))?;
        if bytes.len() > limit {
            return Err(format!(
                "{written} is {} bytes; a file part is at most {limit}",
                bytes.len()
            ));
        }
        Ok(bytes)
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

/// Read `path` of `files` as a source named by that path.
fn read(files: &dyn ProjectFiles, root: &Path, path: &str) -> Result<Source, Diagnostic> {
    let text = files
        .read(path)
        .map_err(|why| Diagnostic::new(format!("cannot read {path}: {why}")))?;
    Ok(Source::from_text(root.join(path), path.to_string(), text))
}

/// The names of the `.yaml` and `.yml` files among `files`, sorted.
fn stems(files: Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let (stem, ext) = file.rsplit_once('.')?;
            (matches!(ext, "yaml" | "yml") && !stem.is_empty()).then(|| stem.to_string())
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

/// Whether `written` is a path inside the project: relative, without `..`.
fn inside_project(written: &str) -> Result<(), String> {
    let inside = !written.is_empty()
        && !written.starts_with(['/', '\\'])
        && !written.contains(':')
        && written
            .split(['/', '\\'])
            .all(|part| !part.is_empty() && part != "..");
    if !inside {
        return Err(format!(
            "`{written}` is not a path inside the project (write it relative to the folder holding reqflo.yaml, without `..`)"
        ));
    }
    Ok(())
}
