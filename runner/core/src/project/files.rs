//! Where a project's files come from: a folder on disk, or text in memory (a
//! bundle, a project a server keeps in its database, a test). Loading reads
//! through [`ProjectFiles`], so neither kind needs the other.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::source::io_reason;

/// The files of a project, by path relative to its root with `/` between
/// parts: `reqflo.yaml`, `journeys/NAME.yaml`, `templates/NAME.yaml`.
pub trait ProjectFiles: Send + Sync + fmt::Debug {
    /// The text of `path`, or why it cannot be read (a lowercase reason).
    fn read(&self, path: &str) -> Result<String, String>;

    /// The bytes of `path` (a file to upload need not be text).
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        self.read(path).map(String::into_bytes)
    }

    /// Whether `path` is a file of the project.
    fn exists(&self, path: &str) -> bool;

    /// The names of the files directly in `folder` (`journeys`, `templates`).
    fn list(&self, folder: &str) -> Vec<String>;

    /// How messages name `folder`: a path on disk, or where the text came from.
    fn show(&self, folder: &str) -> String;
}

/// A project in a folder on disk.
#[derive(Debug, Clone)]
pub struct FolderFiles {
    root: PathBuf,
}

impl FolderFiles {
    /// The files under `root`.
    pub fn new(root: PathBuf) -> FolderFiles {
        FolderFiles { root }
    }
}

impl ProjectFiles for FolderFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.root.join(path)).map_err(|e| io_reason(&e))
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.root.join(path)).map_err(|e| io_reason(&e))
    }

    fn exists(&self, path: &str) -> bool {
        self.root.join(path).is_file()
    }

    fn list(&self, folder: &str) -> Vec<String> {
        std::fs::read_dir(self.root.join(folder))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().is_file())
            .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
            .collect()
    }

    fn show(&self, folder: &str) -> String {
        self.root.join(folder).display().to_string()
    }
}

/// A project held in memory: nothing is read from or written to disk.
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    /// Named in messages, e.g. `bundle flow.bundle.yaml`.
    origin: String,
    files: BTreeMap<String, String>,
}

impl MemoryFiles {
    /// An empty project; `origin` says in messages where its files came from.
    pub fn new(origin: impl Into<String>) -> MemoryFiles {
        MemoryFiles {
            origin: origin.into(),
            files: BTreeMap::new(),
        }
    }

    /// Add (or replace) the file at `path`, e.g. `journeys/flow.yaml`.
    pub fn with(mut self, path: impl Into<String>, text: impl Into<String>) -> MemoryFiles {
        self.insert(path, text);
        self
    }

    /// Add (or replace) the file at `path`.
    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }
}

impl ProjectFiles for MemoryFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("no such file in {}", self.origin))
    }

    fn exists(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    fn list(&self, folder: &str) -> Vec<String> {
        let prefix = format!("{folder}/");
        self.files
            .keys()
            .filter_map(|path| path.strip_prefix(&prefix))
            .filter(|name| !name.contains('/'))
            .map(str::to_string)
            .collect()
    }

    fn show(&self, folder: &str) -> String {
        format!("{folder}/ of {}", self.origin)
    }
}

/// `dir/name` as the `/`-separated project path the files are keyed by.
pub(crate) fn join(folder: &str, name: &str) -> String {
    format!("{folder}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_lists_only_the_folder_asked_for() {
        let files = MemoryFiles::new("a test")
            .with("reqflo.yaml", "{}")
            .with("journeys/a.yaml", "steps: []")
            .with("journeys/b.yml", "steps: []")
            .with("templates/t.yaml", "method: GET");
        let mut journeys = files.list("journeys");
        journeys.sort();
        assert_eq!(journeys, ["a.yaml", "b.yml"]);
        assert!(files.exists("templates/t.yaml"));
        assert!(!files.exists("templates/u.yaml"));
        assert_eq!(
            files.read("journeys/c.yaml").unwrap_err(),
            "no such file in a test"
        );
    }
}
