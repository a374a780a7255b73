//! Finding and loading a project: `reqflo.yaml`, journeys and templates.

pub mod cache;
pub(crate) mod load;
pub mod model;

pub use load::{Loaded, Project, list_or_none};
