//! The server's secrets registry: each managed secret's policy (which
//! journeys, environments and hosts), and the check every run passes before
//! it is queued.

use crate::db::Db;
use globset::Glob;
use serde::{Deserialize, Serialize};

use reqflo_core::plan::Plan;

/// One managed secret's metadata and policy; never its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretPolicy {
    /// Its name, as journeys reference it.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Journey globs that may use it; `None`: every journey.
    pub journeys: Option<Vec<String>>,
    /// Environments it may be used in; `None`: every one.
    pub environments: Option<Vec<String>>,
    /// The only destinations it may be sent to; `None`: anywhere.
    pub hosts: Option<Vec<String>>,
    /// Plain HTTP beyond loopback is meant.
    pub allow_http: bool,
    /// A disabled secret resolves for no run.
    pub disabled: bool,
    /// The server-side provider that holds the value; `None`: the value is
    /// managed here (encrypted in the store).
    pub provider: Option<String>,
    /// The reference into that provider.
    pub reference: Option<String>,
    /// The current version.
    pub version: i64,
    /// How long the value is, as a class ("16-31 bytes"); never the length.
    pub length_class: String,
    /// When it was registered.
    pub created_at: String,
    /// Who registered it.
    pub created_by: String,
    /// When its value was last replaced.
    pub rotated_at: Option<String>,
    /// When a run last used it.
    pub last_used_at: Option<String>,
    /// Which run.
    pub last_used_by: Option<String>,
}

/// A `secrets` row as stored (lists as JSON text).
#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    description: String,
    journeys: Option<String>,
    environments: Option<String>,
    hosts: Option<String>,
    // Stored 0 or 1: neither SQLite nor `Any` has a boolean both read back.
    allow_http: i64,
    disabled: i64,
    provider: Option<String>,
    reference: Option<String>,
    version: i64,
    length_class: String,
    created_at: String,
    created_by: String,
    rotated_at: Option<String>,
    last_used_at: Option<String>,
    last_used_by: Option<String>,
}

const COLUMNS: &str = "name, description, journeys, environments, hosts, allow_http, disabled, provider, reference, version, length_class, created_at, created_by, rotated_at, last_used_at, last_used_by";

fn from_row(row: Row) -> SecretPolicy {
    let list =
        |text: Option<String>| text.and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok());
    SecretPolicy {
        name: row.name,
        description: row.description,
        journeys: list(row.journeys),
        environments: list(row.environments),
        hosts: list(row.hosts),
        allow_http: row.allow_http != 0,
        disabled: row.disabled != 0,
        provider: row.provider,
        reference: row.reference,
        version: row.version,
        length_class: row.length_class,
        created_at: row.created_at,
        created_by: row.created_by,
        rotated_at: row.rotated_at,
        last_used_at: row.last_used_at,
        last_used_by: row.last_used_by,
    }
}

/// Every managed secret, by name.
pub async fn all(db: &Db) -> Result<Vec<SecretPolicy>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM secrets ORDER BY name"
    )))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// One managed secret.
pub async fn one(db: &Db, name: &str) -> Result<Option<SecretPolicy>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM secrets WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(db)
    .await?;
    Ok(row.map(from_row))
}

/// Why a run may not use what its plans name, or `None` when it may. The
/// journey globs were already enforced by planning (with position); this
/// adds what only the server knows: registered, enabled, and allowed in
/// this environment.
pub fn refusal(plans: &[Plan], registry: &[SecretPolicy]) -> Option<String> {
    refusal_for(plans, registry, false)
}

/// [`refusal`] for a run on a private agent (`on_agent`): a secret not
/// registered here is the agent's own to resolve, and a registered one must
/// be a value the server holds (it is sealed to the agent; a reference
/// into a provider of the server's would need the server's credentials).
pub fn refusal_for(plans: &[Plan], registry: &[SecretPolicy], on_agent: bool) -> Option<String> {
    for plan in plans {
        for secret in &plan.secrets {
            let entry = registry.iter().find(|e| e.name == secret.name);
            if on_agent
                && let Some(entry) = entry
                && let Some(provider) = &entry.provider
            {
                return Some(format!(
                    "journey `{}` uses secret `{}`, a reference into the server's provider `{provider}`: \
                     a private agent cannot resolve it; register its value, or declare it in the agent's agent.yaml",
                    plan.journey, secret.name
                ));
            }
            let Some(entry) = entry else {
                if on_agent {
                    continue;
                }
                return Some(format!(
                    "journey `{}` uses secret `{}`, which is not registered on this server (an admin registers it in Admin > Secrets management); a server never reads its own environment or files",
                    plan.journey, secret.name
                ));
            };
            if entry.disabled {
                return Some(format!(
                    "journey `{}` uses secret `{}`, which an admin has disabled",
                    plan.journey, secret.name
                ));
            }
            if let Some(allowed) = &entry.environments
                && !allowed.iter().any(|e| glob_match(e, &plan.environment))
            {
                return Some(format!(
                    "secret `{}` may not be used in environment `{}` (allowed: {})",
                    secret.name,
                    plan.environment,
                    allowed.join(", ")
                ));
            }
        }
    }
    None
}

fn glob_match(pattern: &str, name: &str) -> bool {
    Glob::new(pattern)
        .map(|g| g.compile_matcher().is_match(name))
        .unwrap_or(false)
}

/// How a value's length is shown: a class, so the list says "short" or
/// "long" without giving the length away.
pub fn length_class(len: usize) -> String {
    match len {
        0..=7 => "under 8 bytes".into(),
        8..=15 => "8-15 bytes".into(),
        16..=31 => "16-31 bytes".into(),
        32..=63 => "32-63 bytes".into(),
        _ => "64 bytes or more".into(),
    }
}
