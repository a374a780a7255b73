//! Where a project comes from besides a JSON upload or a bundle: a tarball
//! of a project folder, or a folder the server serves read-only (a git
//! checkout named in server.yaml, read again for every run).
//!
//! A project folder is also what its authors run locally, so its
//! `reqflo.yaml` usually has `providers:`, `hooks:`, `secrets:` and provider
//! chains. A folder the admin points the server at is read with those left
//! out ([`server_config`]): on the server they are the admin's. A tarball is
//! an upload like any other and is refused when it holds them.

use std::io::Read as _;
use std::path::Path;

use indexmap::IndexMap;

use crate::project::{Refused, StoredProject};
use reqflo_core::project::PROJECT_FILE;

/// The most files a tarball may hold, and the most bytes once unpacked
/// (a small archive must not unpack into gigabytes).
const MAX_ENTRIES: usize = 2000;
const MAX_UNPACKED: u64 = 64 << 20;
const MAX_FILE: u64 = 4 << 20;

/// `reqflo.yaml` as a server reads it: environments' variables only (each
/// environment's provider chain and hooks, and the `providers:`, `hooks:`
/// and `secrets:` sections, belong to the server's admin).
pub fn server_config(text: &str) -> Result<String, String> {
    let config: serde_yaml::Value = if text.trim().is_empty() {
        serde_yaml::Value::Null
    } else {
        serde_yaml::from_str(text).map_err(|e| format!("{PROJECT_FILE}: {e}"))?
    };
    let environments = config
        .get("environments")
        .and_then(|e| e.as_mapping())
        .cloned()
        .unwrap_or_default();
    let mut kept = serde_yaml::Mapping::new();
    for (name, mut env) in environments {
        if let Some(map) = env.as_mapping_mut() {
            map.remove("secrets");
            map.remove("hooks");
        }
        kept.insert(name, env);
    }
    if kept.is_empty() {
        return Ok(String::new());
    }
    let mut root = serde_yaml::Mapping::new();
    root.insert("environments".into(), serde_yaml::Value::Mapping(kept));
    serde_yaml::to_string(&root).map_err(|e| e.to_string())
}

/// Whether `path` is a file a server project holds.
fn wanted(path: &str) -> bool {
    path == PROJECT_FILE
        || path.split_once('/').is_some_and(|(folder, file)| {
            matches!(folder, "journeys" | "templates")
                && file.ends_with(".yaml")
                && !file.contains('/')
        })
}

/// Read a project folder served read-only (`projects:` in server.yaml).
pub fn from_folder(root: &Path) -> Result<StoredProject, Refused> {
    let fail = |path: &Path, e: std::io::Error| {
        Refused(format!(
            "cannot read {}: {}",
            path.display(),
            reqflo_core::source::io_reason(&e)
        ))
    };
    let mut files = IndexMap::new();
    let config = root.join(PROJECT_FILE);
    let text = std::fs::read_to_string(&config).map_err(|e| fail(&config, e))?;
    files.insert(
        PROJECT_FILE.to_string(),
        server_config(&text).map_err(Refused)?,
    );
    for folder in ["journeys", "templates"] {
        let dir = root.join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let text = std::fs::read_to_string(&path).map_err(|e| fail(&path, e))?;
            files.insert(format!("{folder}/{name}"), text);
        }
    }
    StoredProject::from_files(files)
}

/// Read a tarball (`.tar` or `.tar.gz`) of a project folder. Files other
/// than the project's are skipped and named in the answer; a plugin file
/// is never read. Returns the project and what was skipped.
pub fn from_tarball(bytes: &[u8]) -> Result<(StoredProject, Vec<String>), Refused> {
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn std::io::Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    // The archive is read through a bounded reader: past the limit it ends.
    let mut archive = tar::Archive::new(reader.take(MAX_UNPACKED + 1));
    let bad = |why: String| Refused(format!("the tarball: {why}"));
    let mut found: Vec<(String, String)> = Vec::new();
    let mut skipped = Vec::new();
    let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(bad(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let path = path.trim_start_matches("./").to_string();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if entry.size() > MAX_FILE {
            return Err(bad(format!(
                "`{path}` is larger than {} MiB",
                MAX_FILE >> 20
            )));
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).map_err(|_| {
            bad(format!(
                "`{path}` is not UTF-8 text, or the archive is larger than {} MiB unpacked",
                MAX_UNPACKED >> 20
            ))
        })?;
        found.push((path, text));
    }
    // `tar czf p.tgz payments/` puts everything under one folder: look there.
    let prefix = if found.iter().any(|(p, _)| p == PROJECT_FILE) {
        String::new()
    } else {
        found
            .iter()
            .find_map(|(p, _)| {
                p.strip_suffix(PROJECT_FILE)
                    .filter(|d| d.ends_with('/') && d.matches('/').count() == 1)
            })
            .unwrap_or_default()
            .to_string()
    };
    let mut files = IndexMap::new();
    for (path, text) in found {
        match path.strip_prefix(&prefix) {
            Some(inner) if wanted(inner) => {
                files.insert(inner.to_string(), text);
            }
            _ => skipped.push(path),
        }
    }
    if !files.contains_key(PROJECT_FILE) {
        return Err(bad(format!(
            "no {PROJECT_FILE} at its top (or in its one top folder)"
        )));
    }
    Ok((StoredProject::from_files(files)?, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(files: &[(&str, &str)], gzip: bool) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .expect("append");
        }
        let bytes = builder.into_inner().expect("tar");
        if !gzip {
            return bytes;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &bytes).expect("gzip");
        encoder.finish().expect("gzip")
    }

    const CONFIG: &str =
        "environments:\n  dev:\n    variables: {base_url: \"http://127.0.0.1:9\"}\n";
    const TEMPLATE: &str = "method: GET\nurl: \"{{base_url}}/x\"\n";
    const JOURNEY: &str = "steps:\n  - id: x\n    template: t\n";

    #[test]
    fn a_tarball_of_a_project_folder_is_read_in_or_under_one_folder() {
        for (prefix, gzip) in [("", true), ("./", false), ("shop/", true)] {
            let bytes = tarball(
                &[
                    (&format!("{prefix}reqflo.yaml"), CONFIG),
                    (&format!("{prefix}templates/t.yaml"), TEMPLATE),
                    (&format!("{prefix}journeys/j.yaml"), JOURNEY),
                    (&format!("{prefix}plugins/evil.wasm"), "\0asm"),
                    (&format!("{prefix}README.md"), "hello"),
                ],
                gzip,
            );
            let (project, skipped) =
                from_tarball(&bytes).unwrap_or_else(|r| panic!("{prefix}: {}", r.0));
            assert_eq!(project.journey_names(), ["j"]);
            assert_eq!(skipped.len(), 2, "{skipped:?}");
        }
    }

    #[test]
    fn a_bad_tarball_is_refused_clearly() {
        let e =
            from_tarball(b"not a tarball at all, just text that is long enough").expect_err("bad");
        assert!(e.0.starts_with("the tarball"), "{}", e.0);
        let e =
            from_tarball(&tarball(&[("journeys/j.yaml", JOURNEY)], true)).expect_err("no config");
        assert!(e.0.contains("no reqflo.yaml"), "{}", e.0);
        let e = from_tarball(&tarball(
            &[("reqflo.yaml", "providers:\n  x: {plugin: builtin:vault}\n")],
            true,
        ))
        .expect_err("providers");
        assert!(e.0.contains("`providers:` is not accepted"), "{}", e.0);
    }

    #[test]
    fn a_served_folder_leaves_out_what_the_admin_owns() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("reqflo.yaml"),
            "environments:\n  dev:\n    variables: {base_url: \"http://127.0.0.1:9\"}\n    secrets: [env, file]\nproviders:\n  file: {plugin: builtin:file}\nsecrets:\n  K: {journeys: [\"*\"]}\n",
        )
        .expect("write");
        std::fs::create_dir_all(dir.path().join("journeys")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
        std::fs::write(dir.path().join("journeys/j.yaml"), JOURNEY).expect("write");
        std::fs::write(dir.path().join("templates/t.yaml"), TEMPLATE).expect("write");
        let project = from_folder(dir.path()).unwrap_or_else(|r| panic!("{}", r.0));
        let config = &project.files[PROJECT_FILE];
        assert!(
            !config.contains("providers") && !config.contains("secrets"),
            "{config}"
        );
        assert_eq!(project.environment_names(), ["dev"]);
        let e = from_folder(&dir.path().join("missing")).expect_err("missing");
        assert!(e.0.contains("cannot read"), "{}", e.0);
    }
}
