//! The `file` secret provider: secrets from one local YAML, JSON or dotenv file.
//!
//! The sandbox has no filesystem at all. The host opens the configured file
//! read-only and hands it over as this plugin's stdin, so the plugin can read that
//! one file and nothing else, not even its neighbours in the same directory.

use std::collections::BTreeMap;
use std::io::Read;

use reqflo_plugin_sdk::{Config, Error, Provider, SecretValue, export_provider};

/// Larger than any sane secret file; a bigger one is a mistake, not a secret file.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The provider: the secret file, read once at configure, for the run.
pub struct Loaded {
    path: String,
    document: Document,
}

enum Document {
    Tree(serde_json::Value),
    Flat(BTreeMap<String, String>),
}

#[derive(Clone, Copy)]
enum Format {
    Yaml,
    Json,
    Dotenv,
}

impl Format {
    fn named(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "env" | "dotenv" => Some(Format::Dotenv),
            _ => None,
        }
    }

    fn of_path(path: &str) -> Format {
        let file_name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        if file_name == ".env" || file_name.starts_with(".env.") {
            return Format::Dotenv;
        }
        match file_name.rsplit_once('.') {
            Some((_, ext)) => Format::named(ext).unwrap_or(Format::Yaml),
            None => Format::Yaml,
        }
    }
}

impl Provider for Loaded {
    fn configure(config: Config) -> Result<Loaded, Error> {
        let mut path = None;
        let mut format = None;
        for (key, value) in config {
            match key.as_str() {
                "path" => path = Some(value),
                "format" => {
                    format = Some(Format::named(&value).ok_or_else(|| {
                        Error::InvalidReference(format!(
                            "format `{value}` is not one of yaml, json, dotenv"
                        ))
                    })?)
                }
                other => {
                    return Err(Error::InvalidReference(format!(
                        "unknown config key `{other}` (expected path, format)"
                    )));
                }
            }
        }
        let path = path.ok_or_else(|| Error::InvalidReference("config needs `path`".into()))?;
        let format = format.unwrap_or_else(|| Format::of_path(&path));

        let mut text = String::new();
        let read = std::io::stdin()
            .take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text);
        if read.is_err() {
            return Err(Error::Unavailable(format!(
                "{path} is not readable UTF-8 text"
            )));
        }
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::Unavailable(format!("{path} is larger than 4 MiB")));
        }
        let document = parse(format, &text).map_err(|why| {
            Error::Unavailable(format!("{path} is not a valid secret file: {why}"))
        })?;
        Ok(Loaded { path, document })
    }

    fn resolve(&mut self, reference: &str) -> Result<SecretValue, Error> {
        self.lookup(reference).map(SecretValue::from)
    }
}

impl Loaded {
    /// An exact top-level key wins; otherwise `a.b.c` walks nested maps.
    fn lookup(&self, reference: &str) -> Result<String, Error> {
        let missing = || Error::NotFound(format!("no `{reference}` in {}", self.path));
        match &self.document {
            Document::Flat(map) => map.get(reference).cloned().ok_or_else(missing),
            Document::Tree(root) => {
                let node = match root.get(reference) {
                    Some(node) => node,
                    None => reference
                        .split('.')
                        .try_fold(root, |node, part| node.get(part))
                        .ok_or_else(missing)?,
                };
                match node {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    serde_json::Value::Number(n) => Ok(n.to_string()),
                    serde_json::Value::Bool(b) => Ok(b.to_string()),
                    serde_json::Value::Null => Err(missing()),
                    _ => Err(Error::InvalidReference(format!(
                        "`{reference}` in {} is a map or list, not a value",
                        self.path
                    ))),
                }
            }
        }
    }
}

/// Parse errors never quote the file: its text is secret material.
fn parse(format: Format, text: &str) -> Result<Document, String> {
    match format {
        Format::Yaml => {
            if text.trim().is_empty() {
                return Ok(Document::Tree(
                    serde_json::Value::Object(Default::default()),
                ));
            }
            serde_yaml::from_str::<serde_json::Value>(text)
                .map_err(|e| location(e.location().map(|l| (l.line(), l.column()))))
                .and_then(tree)
        }
        Format::Json => serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| location(Some((e.line(), e.column()))))
            .and_then(tree),
        Format::Dotenv => dotenv(text).map(Document::Flat),
    }
}

fn tree(value: serde_json::Value) -> Result<Document, String> {
    if value.is_object() {
        Ok(Document::Tree(value))
    } else {
        Err("the top level must be a map of names to values".into())
    }
}

fn location(at: Option<(usize, usize)>) -> String {
    match at {
        Some((line, column)) => format!("syntax error at line {line}, column {column}"),
        None => "syntax error".into(),
    }
}

/// `KEY=value` lines, with optional `export `, comments and single or double quotes.
fn dotenv(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {} is not KEY=value", index + 1));
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("line {} has no valid name before `=`", index + 1));
        }
        let value = value.trim();
        let value = if let Some(inner) = quoted(value, '"') {
            inner
                .replace("\\n", "\n")
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else if let Some(inner) = quoted(value, '\'') {
            inner.to_string()
        } else {
            // An unquoted value ends at a ` #` comment, as in shells.
            value
                .split(" #")
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string()
        };
        map.insert(key.to_string(), value);
    }
    Ok(map)
}

fn quoted(value: &str, quote: char) -> Option<&str> {
    value
        .strip_prefix(quote)
        .and_then(|rest| rest.strip_suffix(quote))
}

export_provider!(Loaded);

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(format: Format, text: &str) -> Loaded {
        match parse(format, text) {
            Ok(document) => Loaded {
                path: "secrets.test".into(),
                document,
            },
            Err(why) => panic!("{why}"),
        }
    }

    fn resolve(loaded: &mut Loaded, reference: &str) -> Result<Vec<u8>, (&'static str, String)> {
        loaded
            .resolve(reference)
            .map(|v| v.expose_bytes().to_vec())
            .map_err(|e| (e.kind(), e.message().to_string()))
    }

    #[test]
    fn nested_keys_and_formats() {
        let mut yaml = loaded(Format::Yaml, "a:\n  b: one\n  n: 3\nmap: {x: 1}\n");
        assert_eq!(resolve(&mut yaml, "a.b"), Ok(b"one".to_vec()));
        assert_eq!(resolve(&mut yaml, "a.n"), Ok(b"3".to_vec()));
        assert_eq!(
            resolve(&mut yaml, "a.c"),
            Err(("not-found", "no `a.c` in secrets.test".into()))
        );
        assert_eq!(
            resolve(&mut yaml, "map").map_err(|e| e.0),
            Err("invalid-reference")
        );
        let mut dotenv = loaded(Format::Dotenv, "export K=\"v w\"\nJ=x # note\n");
        assert_eq!(resolve(&mut dotenv, "K"), Ok(b"v w".to_vec()));
        assert_eq!(resolve(&mut dotenv, "J"), Ok(b"x".to_vec()));
        assert!(matches!(Format::of_path("dir/.env.local"), Format::Dotenv));
        assert!(parse(Format::Json, "[1]").is_err());
    }
}
