//! The listings: `reqflo secrets list` and `reqflo plugins list`, as
//! aligned tables of names, providers, digests and grants; never a value.

use std::path::Path;

use reqflo_core::error::{Error, PluginError, Result};
use reqflo_core::plugins::FileGrant;
use reqflo_core::project::Project;
use reqflo_sandbox::Load as _;
use reqflo_sandbox::secrets::{Builtin, PluginSource, Providers};

use crate::console;
use crate::exit;

/// Print rows as aligned columns.
fn table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        console::out(line.trim_end());
    }
}

/// The environments' provider chains, as `secrets list` shows an unpinned
/// secret's provider: `env → file`, or `dev: env → file; prod: op` when they differ.
fn chains(project: &Project) -> String {
    let chain = |def: &reqflo_core::project::model::EnvironmentDef| match &def.secrets {
        Some(chain) => chain.join(" → "),
        None => reqflo_core::plan::DEFAULT_CHAIN.join(" → "),
    };
    let all: Vec<(String, String)> = project
        .config
        .environments
        .iter()
        .map(|(name, def)| (name.clone(), chain(def)))
        .collect();
    match all.first() {
        None => reqflo_core::plan::DEFAULT_CHAIN.join(" → "),
        Some((_, first)) if all.iter().all(|(_, c)| c == first) => first.clone(),
        Some(_) => all
            .iter()
            .map(|(env, c)| format!("{env}: {c}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// `reqflo secrets list`: names, providers, who may use them; never values.
pub fn secrets_list(project: &Project) -> Result<i32> {
    let config = &project.config;
    let mut rows = vec![vec![
        "NAME".to_string(),
        "PROVIDER".into(),
        "REFERENCE".into(),
        "JOURNEYS".into(),
        "HOSTS".into(),
        "DESCRIPTION".into(),
    ]];
    for (name, entry) in &config.secrets {
        rows.push(vec![
            name.clone(),
            entry.provider.clone().unwrap_or_else(|| chains(project)),
            entry.reference.clone().unwrap_or_else(|| name.clone()),
            entry
                .journeys
                .as_ref()
                .map(|j| j.join(", "))
                .unwrap_or_else(|| "*".into()),
            entry
                .hosts
                .as_ref()
                .map(|h| h.join(", "))
                .unwrap_or_else(|| "*".into()),
            entry.description.clone().unwrap_or_default(),
        ]);
    }
    // Secrets journeys use without a registry entry resolve by name through the
    // environment's chain; list them so nothing is used unseen.
    let mut unregistered: Vec<(String, Vec<String>)> = Vec::new();
    for journey in project.journey_names() {
        let Ok(loaded) = project.journey(&journey) else {
            continue;
        };
        for step in &loaded.file.steps {
            for value in step.values.values() {
                let is_secret = value.get("type").and_then(|t| t.as_str()) == Some("secret");
                let Some(name) = value
                    .get("name")
                    .and_then(|n| n.as_str())
                    .filter(|_| is_secret)
                else {
                    continue;
                };
                if config.secrets.contains_key(name) {
                    continue;
                }
                match unregistered.iter_mut().find(|(n, _)| n == name) {
                    Some((_, users)) if !users.contains(&journey) => users.push(journey.clone()),
                    Some(_) => {}
                    None => unregistered.push((name.to_string(), vec![journey.clone()])),
                }
            }
        }
    }
    // Secrets granted to hooks are used too, by every journey the hook runs in.
    for (hook, def) in &config.hooks {
        for name in &def.secrets {
            if config.secrets.contains_key(name) {
                continue;
            }
            let user = format!("hook {hook}");
            match unregistered.iter_mut().find(|(n, _)| n == name) {
                Some((_, users)) if !users.contains(&user) => users.push(user),
                Some(_) => {}
                None => unregistered.push((name.clone(), vec![user])),
            }
        }
    }
    for (name, users) in unregistered {
        rows.push(vec![
            name.clone(),
            "(environment chain)".into(),
            name,
            format!("used by {}", users.join(", ")),
            "*".into(),
            "(not in the registry)".into(),
        ]);
    }
    table(&rows);
    Ok(exit::OK)
}

/// `reqflo plugins list`: every provider and hook, its digest, pin and grants.
pub fn plugins_list(project: &Project) -> Result<i32> {
    let providers = Providers::from_project(project)?;
    let mut rows = vec![vec![
        "PROVIDER".to_string(),
        "PLUGIN".into(),
        "SHA256".into(),
        "PIN".into(),
        "GRANTS".into(),
    ]];
    for spec in providers.all() {
        let builtin = matches!(spec.source, PluginSource::Builtin(_));
        let (digest, pin) = digest_and_pin(spec.load(), builtin, spec.sha256.is_some());
        let mut grants = Vec::new();
        match spec.source {
            PluginSource::Builtin(Builtin::Env) => {
                grants.push("env: the variables this run's references name".to_string())
            }
            PluginSource::Builtin(Builtin::File) => {
                if let Some(path) = spec.secret_file(project) {
                    grants.push(format!("file (read-only): {}", display_path(&path)));
                }
            }
            PluginSource::Builtin(_) | PluginSource::Path(_) | PluginSource::Held => {}
        }
        if !spec.env.is_empty() {
            grants.push(format!("env: {}", spec.env.join(", ")));
        }
        if !spec.hosts.is_empty() {
            let hosts: Vec<String> = spec.hosts.iter().map(ToString::to_string).collect();
            grants.push(format!("hosts: {}", hosts.join(", ")));
        }
        if !spec.files.is_empty() {
            let files: Vec<String> = spec
                .files
                .iter()
                .map(|grant| match grant {
                    FileGrant::Path(path) => path.display().to_string(),
                    FileGrant::Variable(name) => format!("${name}"),
                })
                .collect();
            grants.push(format!("files: {}", files.join(", ")));
        }
        if let Some(ca) = &spec.ca_file {
            grants.push(format!("extra CA: {}", display_path(ca)));
        }
        rows.push(vec![
            spec.name.clone(),
            spec.plugin.clone(),
            digest,
            pin,
            if grants.is_empty() {
                "none".into()
            } else {
                grants.join("; ")
            },
        ]);
    }
    table(&rows);
    hooks_list(project)?;
    Ok(exit::OK)
}

/// The request hooks, after the providers: plugin, digest, pin, granted
/// secrets (names only) and hosts.
fn hooks_list(project: &Project) -> Result<()> {
    let hooks = reqflo_sandbox::hooks::HookSpecs::from_project(project)?;
    let mut rows = vec![vec![
        "HOOK".to_string(),
        "PLUGIN".into(),
        "SHA256".into(),
        "PIN".into(),
        "GRANTS".into(),
    ]];
    for spec in hooks.all() {
        let builtin = matches!(spec.source, PluginSource::Builtin(_));
        let (digest, pin) = digest_and_pin(spec.load(), builtin, spec.sha256.is_some());
        let mut grants = Vec::new();
        if !spec.secrets.is_empty() {
            grants.push(format!("secret handles: {}", spec.secrets.join(", ")));
        }
        if !spec.hosts.is_empty() {
            let hosts: Vec<String> = spec.hosts.iter().map(ToString::to_string).collect();
            grants.push(format!("hosts: {}", hosts.join(", ")));
        }
        rows.push(vec![
            spec.name.clone(),
            spec.plugin.clone(),
            digest,
            pin,
            if grants.is_empty() {
                "none".into()
            } else {
                grants.join("; ")
            },
        ]);
    }
    if rows.len() > 1 {
        console::out("");
        table(&rows);
    }
    Ok(())
}

/// The SHA256 and PIN columns of `plugins list`, from loading the plugin.
fn digest_and_pin<B>(loaded: Result<(B, String)>, builtin: bool, pinned: bool) -> (String, String) {
    let pin = match loaded {
        Ok((_, digest)) => {
            let pin = match (builtin, pinned) {
                (true, _) => "built in",
                (false, true) => "pinned, matches",
                (false, false) => "not pinned",
            };
            return (digest, pin.to_string());
        }
        Err(Error::Plugin(PluginError::PinMismatch { .. })) => "PIN MISMATCH: refused",
        Err(Error::Plugin(PluginError::NotBuilt { .. })) => "not in this build",
        Err(_) => "file missing",
    };
    ("-".into(), pin.into())
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}
