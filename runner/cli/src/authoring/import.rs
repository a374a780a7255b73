//! `reqflo import curl`, `hurl`, `postman` and `openapi`: write the templates and
//! the journey an import makes into the project (or start one in the
//! current folder), then say which secrets to register and what was not
//! carried over.

use std::path::Path;

use reqflo_core::error::{Error, Result};
use reqflo_core::import::{Imported, curl, hurl, openapi, postman};
use reqflo_core::project::PROJECT_FILE;

use crate::cli::{ImportCurlArgs, ImportFileArgs};
use crate::console;
use crate::exit;

/// `reqflo import curl '<command>'`.
pub fn curl_command(args: &ImportCurlArgs, project: Option<&Path>, cwd: &Path) -> Result<i32> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.command),
    };
    check_name(&name)?;
    let imported = curl::import(&args.command, &name)
        .map_err(|why| Error::Usage(format!("import curl: {why}")))?;
    let root = project_root(project, cwd)?;
    let templates = [(name.clone(), imported.template.clone())];
    write(&root, &name, &templates, &imported, args.force)?;
    Ok(exit::OK)
}

/// What a file import reads.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A `.hurl` file.
    Hurl,
    /// A Postman collection.
    Postman,
    /// An OpenAPI 3 description.
    Openapi,
}

/// `reqflo import hurl FILE.hurl`, `reqflo import postman COLLECTION.json`.
pub fn file_command(
    source: Source,
    args: &ImportFileArgs,
    project: Option<&Path>,
    cwd: &Path,
) -> Result<i32> {
    let path = cwd.join(&args.file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => path
            .file_stem()
            .map(|s| {
                // `payments.postman_collection.json` is `payments`.
                let stem = s.to_string_lossy();
                stem.trim_end_matches(".postman_collection").replace(
                    |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                    "-",
                )
            })
            .unwrap_or_else(|| "imported".into()),
    };
    check_name(&name)?;
    let (kind, imported) = match source {
        Source::Hurl => ("hurl", hurl::import(&text, &name)),
        Source::Postman => ("postman", postman::import(&text, &name)),
        Source::Openapi => ("openapi", openapi::import(&text, &name)),
    };
    let imported = imported
        .map_err(|why| Error::Usage(format!("import {kind}: {}: {why}", args.file.display())))?;
    let (templates, imported) = imported.into_parts();
    let root = project_root(project, cwd)?;
    write(&root, &name, &templates, &imported, args.force)?;
    Ok(exit::OK)
}

/// Where to write: the project named or found, else the current folder
/// (made a project: an empty reqflo.yaml).
fn project_root(project: Option<&Path>, cwd: &Path) -> Result<std::path::PathBuf> {
    if let Some(path) = project {
        return Ok(cwd.join(path));
    }
    Ok(cwd
        .ancestors()
        .find(|dir| dir.join(PROJECT_FILE).is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf()))
}

/// Write the files (never over existing ones without `--force`) and say
/// what to do next.
fn write(
    root: &Path,
    name: &str,
    templates: &[(String, String)],
    imported: &Imported,
    force: bool,
) -> Result<()> {
    let journey = root.join("journeys").join(format!("{name}.yaml"));
    let mut files: Vec<(std::path::PathBuf, &str)> = templates
        .iter()
        .map(|(t, text)| {
            (
                root.join("templates").join(format!("{t}.yaml")),
                text.as_str(),
            )
        })
        .collect();
    files.push((journey, imported.journey.as_str()));
    for (path, _) in &files {
        if path.exists() && !force {
            return Err(Error::Usage(format!(
                "{} exists already: give another --name, or --force to replace it",
                path.display()
            )));
        }
    }
    let io = |path: &Path, e: std::io::Error| {
        Error::Usage(format!("cannot write {}: {e}", path.display()))
    };
    for (path, text) in &files {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| io(folder, e))?;
        }
        std::fs::write(path, text).map_err(|e| io(path, e))?;
    }
    let config = root.join(PROJECT_FILE);
    let made_project = !config.exists();
    if made_project {
        let text = "# A reqflo project (started by `reqflo import`). Environments,\n# providers and the secrets registry go here: see the docs.\n";
        std::fs::write(&config, text).map_err(|e| io(&config, e))?;
    }
    let written: Vec<String> = templates
        .iter()
        .map(|(t, _)| format!("templates/{t}.yaml"))
        .collect();
    console::out(&format!(
        "wrote {} and journeys/{name}.yaml",
        written.join(", ")
    ));
    if made_project {
        console::out(&format!("started a project: {PROJECT_FILE}"));
    }
    if !imported.secrets.is_empty() {
        console::out(
            "secrets the journey names (their values were not written; give them before running):",
        );
        for secret in &imported.secrets {
            console::out(&format!("  {:<20} from {}", secret.name, secret.from));
        }
        let first = &imported.secrets[0].name;
        console::out(&format!(
            "  e.g. `export {first}=…` (the env provider), or register them in the secrets registry"
        ));
    }
    if !imported.unsupported.is_empty() {
        console::out("not carried over:");
        for what in &imported.unsupported {
            console::out(&format!("  {what}"));
        }
    }
    console::out(&format!("next: reqflo check {name} && reqflo run {name}"));
    Ok(())
}

/// `post-charges` from `curl -X POST https://…/v1/charges`.
fn default_name(command: &str) -> String {
    let words = shlex_like(command);
    let method = words
        .windows(2)
        .find(|w| w[0] == "-X" || w[0] == "--request")
        .map(|w| w[1].to_ascii_lowercase());
    let has_data = words
        .iter()
        .any(|w| w.starts_with("-d") || w.starts_with("--data") || w == "--json");
    let method = method.unwrap_or_else(|| if has_data { "post" } else { "get" }.into());
    let last = words
        .iter()
        .find(|w| w.contains("://"))
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.rfind(|p| !p.is_empty()).map(str::to_string))
        })
        .unwrap_or_else(|| "request".into());
    let slug: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{method}-{}", slug.trim_matches('-'))
}

/// The command's words, roughly (for the default name only).
fn shlex_like(command: &str) -> Vec<String> {
    command
        .split_whitespace()
        .map(|w| w.trim_matches(['\'', '"']).to_string())
        .collect()
}

/// A name is a file stem: letters, digits, `-` and `_`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--name {name}: use letters, digits, `-` and `_`"
        )))
    }
}
