//! What every handler and worker shares.

use std::collections::HashMap;
use std::sync::Arc;

use reqflo_core::redact::Redactor;

use crate::db::Db;
use tokio::sync::RwLock;

use crate::config::ServerConfig;
use crate::keys::Keyring;
use crate::metrics::Metrics;
use crate::queue::Queue;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub db: Db,
    /// The key-encryption keys (a rotation takes it for writing).
    pub keys: Arc<RwLock<Keyring>>,
    /// Runs waiting and running.
    pub queue: Arc<Queue>,
    /// Settings.
    pub config: Arc<ServerConfig>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// This process's name in the runs it claims ([`crate::lease`]).
    pub process: Arc<str>,
    /// Whether its runs' events are stored as they happen (a worker's: the
    /// server follows them through the store), not only when they end.
    pub stores_events: bool,
    /// The redactors of runs private agents hold here, by run.
    pub agent_redactors: AgentRedactors,
}

/// The redactors of the runs private agents hold, by run: what an agent
/// sends back is redacted again with the values sealed to it (a second
/// guard: the agent's own redactor came first).
pub type AgentRedactors = Arc<std::sync::Mutex<HashMap<String, Arc<Redactor>>>>;
