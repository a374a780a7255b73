//! Finding and loading a project: `reqflo.yaml`, journeys and templates.

pub mod cache;
pub mod files;
pub(crate) mod load;
pub mod model;

pub use files::{FolderFiles, MemoryFiles, ProjectFiles};
pub use load::{Loaded, PROJECT_FILE, Project, list_or_none};
