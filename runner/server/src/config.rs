//! The server's settings: defaults, then `server.yaml`, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use reqflo_core::source::Source;

/// The settings file, in the data folder unless `--config` names another.
pub const CONFIG_FILE: &str = "server.yaml";

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where it listens (`--listen`); loopback by default.
    pub listen: SocketAddr,
    /// The data folder: database, master key, settings (`--data`).
    pub data: PathBuf,
    /// The store: SQLite in the data folder, or a Postgres server
    /// (`--database`, `database:`).
    pub database: crate::db::Database,
    /// Runs executed at once by in-process workers (`--workers`).
    pub workers: usize,
    /// Runs waiting at most; past it a new run gets 429.
    pub queue_limit: usize,
    /// Runs of one project executed at once at most (`None`: as many as
    /// there are workers), so one project's burst does not hold the others
    /// back.
    pub project_concurrency: Option<usize>,
    /// A run still going after this long is stopped and recorded
    /// `timed_out`.
    pub run_timeout: Duration,
    /// How long a process's claim on a run holds without a heartbeat
    /// (renewed every third of it): past it the run is `interrupted`.
    pub lease: Duration,
    /// The largest request body (a project upload), in bytes.
    pub max_upload_bytes: usize,
    /// Finished runs are deleted after this long; `None` keeps them.
    pub retention: Option<Duration>,
    /// Per-request timeout inside a run.
    pub request_timeout: Duration,
    /// Response bodies kept per step, in bytes.
    pub max_body: usize,
    /// Server-side providers (`providers:` in server.yaml, the same shape
    /// as in reqflo.yaml): where a secret registered by reference lives.
    /// Their `grants.env` credentials are managed secrets of those names.
    pub providers: serde_yaml::Mapping,
    /// `key_encryption: {transit: …}`: data keys wrapped by OpenBao/Vault
    /// Transit rather than the master key file.
    pub transit: Option<crate::transit::TransitConfig>,
    /// Projects served read-only from folders (`projects:` in server.yaml):
    /// name → folder, read again for every run.
    pub projects: IndexMap<String, PathBuf>,
}

/// `server.yaml`, as written; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<String>,
    database: Option<String>,
    workers: Option<usize>,
    queue_limit: Option<usize>,
    project_concurrency: Option<usize>,
    run_timeout: Option<String>,
    lease: Option<String>,
    max_upload: Option<String>,
    retention: Option<String>,
    request_timeout: Option<String>,
    max_body: Option<String>,
    providers: Option<serde_yaml::Mapping>,
    key_encryption: Option<KeyEncryption>,
    projects: Option<IndexMap<String, PathBuf>>,
}

/// `key_encryption:` in server.yaml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEncryption {
    /// OpenBao/Vault Transit.
    transit: Option<crate::transit::TransitConfig>,
}

/// Where the data folder is when `--data` is not given.
pub fn default_data_folder() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("reqflo")
        .join("server")
}

impl ServerConfig {
    /// The defaults for `data`.
    pub fn defaults(data: PathBuf) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data,
            database: crate::db::Database::InFolder,
            workers: 4,
            queue_limit: 1000,
            project_concurrency: None,
            run_timeout: Duration::from_secs(3600),
            lease: Duration::from_secs(15),
            max_upload_bytes: 10 << 20,
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
            request_timeout: Duration::from_secs(30),
            max_body: 1 << 20,
            providers: serde_yaml::Mapping::new(),
            transit: None,
            projects: IndexMap::new(),
        }
    }

    /// Read `file` (if it exists) over the defaults. Errors name
    /// file:line:column.
    pub fn load(data: PathBuf, file: Option<&Path>) -> Result<ServerConfig, String> {
        let mut config = ServerConfig::defaults(data);
        let path = file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config.data.join(CONFIG_FILE));
        if file.is_none() && !path.exists() {
            return Ok(config);
        }
        let display = path.display().to_string();
        let source = Source::read(&path, display.clone())?;
        let written: ConfigFile = source.parse().map_err(|d| d.to_string())?;
        let at = |field: &str, why: String| {
            let spot = source
                .value(&[field])
                .map(|s| format!("{}:{}:{}: ", s.file, s.line, s.column))
                .unwrap_or_else(|| format!("{display}: "));
            format!("{spot}`{field}`: {why}")
        };
        if let Some(listen) = written.listen {
            config.listen = listen.parse().map_err(|_| {
                at(
                    "listen",
                    format!("`{listen}` is not HOST:PORT (e.g. 127.0.0.1:8080)"),
                )
            })?;
        }
        if let Some(database) = written.database {
            config.database =
                crate::db::Database::parse(&database).map_err(|e| at("database", e))?;
        }
        if let Some(workers) = written.workers {
            // 0: no in-process workers; `reqflo worker` processes run them.
            config.workers = workers.min(256);
        }
        if let Some(limit) = written.queue_limit {
            config.queue_limit = limit.max(1);
        }
        if let Some(limit) = written.project_concurrency {
            if limit == 0 {
                return Err(at(
                    "project_concurrency",
                    "must be 1 or more (leave it out for no limit)".into(),
                ));
            }
            config.project_concurrency = Some(limit);
        }
        if let Some(text) = written.run_timeout {
            config.run_timeout = humantime::parse_duration(&text)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    at(
                        "run_timeout",
                        format!("`{text}` is not a duration (e.g. 30m)"),
                    )
                })?;
        }
        if let Some(text) = written.lease {
            config.lease = humantime::parse_duration(&text)
                .ok()
                .filter(|d| *d >= Duration::from_millis(300))
                .ok_or_else(|| {
                    at(
                        "lease",
                        format!("`{text}` is not a duration of 300ms or more (e.g. 15s)"),
                    )
                })?;
        }
        if let Some(size) = written.max_upload {
            config.max_upload_bytes =
                reqflo_engine::parse_size(&size).map_err(|e| at("max_upload", e))?;
        }
        if let Some(size) = written.max_body {
            config.max_body = reqflo_engine::parse_size(&size).map_err(|e| at("max_body", e))?;
        }
        if let Some(text) = written.retention {
            config.retention = if text == "forever" {
                None
            } else {
                Some(
                    humantime::parse_duration(&text)
                        .map_err(|e| at("retention", format!("{e} (e.g. 30days, or forever)")))?,
                )
            };
        }
        if let Some(text) = written.request_timeout {
            config.request_timeout = humantime::parse_duration(&text)
                .map_err(|e| at("request_timeout", e.to_string()))?;
        }
        if let Some(providers) = written.providers {
            crate::project::check_providers(&providers).map_err(|e| {
                let spot = source
                    .key(&["providers"])
                    .map(|s| format!("{}:{}:{}: ", s.file, s.line, s.column))
                    .unwrap_or_default();
                format!("{spot}`providers`: {e}")
            })?;
            config.providers = providers;
        }
        config.transit = written.key_encryption.and_then(|k| k.transit);
        // A relative folder is relative to server.yaml's own folder.
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (name, folder) in written.projects.unwrap_or_default() {
            config.projects.insert(name, base.join(folder));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_setting_names_its_line_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "workers: 2\nlisten: nowhere\n").expect("write");
        let e = ServerConfig::load(dir.path().into(), None).expect_err("bad");
        assert!(e.contains(":2:"), "{e}");
        assert!(e.contains("`listen`"), "{e}");
        std::fs::write(&file, "workers: 2\nlistne: x\n").expect("write");
        let e = ServerConfig::load(dir.path().into(), None).expect_err("bad");
        assert!(e.contains("listne"), "{e}");
        std::fs::write(&file, "workers: 3\nretention: forever\nmax_upload: 1MiB\n").expect("write");
        let config = ServerConfig::load(dir.path().into(), None).expect("good");
        assert_eq!(config.workers, 3);
        assert_eq!(config.retention, None);
        assert_eq!(config.max_upload_bytes, 1 << 20);
    }

    #[test]
    fn fairness_timeout_and_database_settings_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "project_concurrency: 2\nrun_timeout: 10m\n").expect("write");
        let config = ServerConfig::load(dir.path().into(), None).expect("good");
        assert_eq!(config.project_concurrency, Some(2));
        assert_eq!(config.run_timeout, Duration::from_secs(600));
        std::fs::write(&file, "workers: 2\nproject_concurrency: 0\n").expect("write");
        let e = ServerConfig::load(dir.path().into(), None).expect_err("bad");
        assert!(
            e.contains(":2:") && e.contains("project_concurrency"),
            "{e}"
        );
        std::fs::write(&file, "workers: 2\ndatabase: mysql://db/x\n").expect("write");
        let e = ServerConfig::load(dir.path().into(), None).expect_err("bad");
        assert!(e.contains(":2:11") && e.contains("`database`"), "{e}");
        std::fs::write(&file, "database: postgres://r@db:5432/x\n").expect("write");
        let config = ServerConfig::load(dir.path().into(), None).expect("good");
        assert_eq!(
            config.database,
            crate::db::Database::Postgres("postgres://r@db:5432/x".into())
        );
        std::fs::write(&file, "workers: 0\nlease: 3s\n").expect("write");
        let config = ServerConfig::load(dir.path().into(), None).expect("good");
        assert_eq!((config.workers, config.lease), (0, Duration::from_secs(3)));
        std::fs::write(&file, "lease: 100ms\n").expect("write");
        let e = ServerConfig::load(dir.path().into(), None).expect_err("bad");
        assert!(e.contains(":1:") && e.contains("`lease`"), "{e}");
        for bad in ["soon", "0s"] {
            std::fs::write(&file, format!("run_timeout: {bad}\n")).expect("write");
            let e = ServerConfig::load(dir.path().into(), None).expect_err("bad");
            assert!(e.contains(":1:") && e.contains("run_timeout"), "{e}");
        }
    }
}
