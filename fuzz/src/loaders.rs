//! `reqflo.yaml`, journeys and templates: YAML text → model, with positions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqflo_core::error::{Diagnostic, Spot};
use reqflo_core::project::Loaded;
use reqflo_core::project::model::{JourneyFile, ProjectFile, TemplateFile};
use reqflo_core::source::Source;
use reqflo_core::template::{Filled, Fills, Template};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Turn fuzz bytes into a source file the way the loader reads one.
fn source(data: &[u8], display: &str) -> Option<Source> {
    let text = std::str::from_utf8(data).ok()?;
    Some(Source::from_text(
        PathBuf::from(display),
        display.to_string(),
        text.to_string(),
    ))
}

/// A spot must name this file and a line of it, with that line's own text.
fn check_spot(source: &Source, spot: &Spot) {
    assert_eq!(spot.file, source.display);
    assert!(spot.line >= 1, "line 0 in {spot:?}");
    // YAML's line breaks: `\r\n`, `\n`, and a lone `\r`.
    let text = source.text().replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    // serde_yaml may point just past the last line break (end of input).
    assert!(spot.line <= lines.len() + 1, "line past the end: {spot:?}");
    if let Some(line) = lines.get(spot.line - 1) {
        assert_eq!(&spot.line_text, line, "{spot:?}");
    }
}

fn check_diagnostic(source: &Source, diagnostic: &Diagnostic) {
    if let Some(spot) = &diagnostic.spot {
        check_spot(source, spot);
    }
    // Printing it (the snippet and caret) must not panic either.
    let _ = diagnostic.to_string();
}

/// Parse like the loader does, then ask the position index about the usual
/// paths (building it runs yaml-rust2's event parser over the same text).
fn load<T: DeserializeOwned>(data: &[u8], display: &str) -> Option<(Source, T)> {
    let source = source(data, display)?;
    let parsed = source.parse::<T>();
    for path in [
        &[][..],
        &["steps"][..],
        &["steps", "0", "values", "a"][..],
        &["environments", "sandbox", "variables"][..],
        &["json", "0"][..],
    ] {
        if let Some(spot) = source.value(path) {
            check_spot(&source, &spot);
        }
        if let Some(spot) = source.key(path) {
            check_spot(&source, &spot);
        }
    }
    match parsed {
        Ok(file) => Some((source, file)),
        Err(diagnostic) => {
            check_diagnostic(&source, &diagnostic);
            None
        }
    }
}

/// Fuzz target `project_file`: `reqflo.yaml`.
pub fn project_file(data: &[u8]) {
    let _ = load::<ProjectFile>(data, "reqflo.yaml");
}

/// Fuzz target `journey_file`: `journeys/NAME.yaml`.
pub fn journey_file(data: &[u8]) {
    let _ = load::<JourneyFile>(data, "journeys/fuzz.yaml");
}

/// Fills every placeholder with a value, counting what was asked for.
struct Everything(Value);

impl Fills for Everything {
    fn fill(&self, _name: &str) -> Option<Filled<'_>> {
        Some(Filled::Value(&self.0))
    }
}

/// Fills only the placeholders the compiled template says it has.
struct Listed<'a>(&'a BTreeMap<String, Option<Spot>>, Value);

impl Fills for Listed<'_> {
    fn fill(&self, name: &str) -> Option<Filled<'_>> {
        self.0.contains_key(name).then_some(Filled::Value(&self.1))
    }
}

/// Fuzz target `template_file`: `templates/NAME.yaml`, loaded and compiled.
///
/// Property: the placeholders a compiled template lists are all it uses, so a
/// plan that fills those never meets an unfilled one while rendering.
pub fn template_file(data: &[u8]) {
    let Some((source, file)) = load::<TemplateFile>(data, "templates/fuzz.yaml") else {
        return;
    };
    let loaded = Loaded {
        name: "fuzz".to_string(),
        file,
        source,
    };
    let template = match Template::compile(&loaded) {
        Ok(template) => template,
        Err(diagnostic) => {
            check_diagnostic(&loaded.source, &diagnostic);
            return;
        }
    };
    for spot in template.placeholders.values().flatten() {
        check_spot(&loaded.source, spot);
    }
    let fills = Listed(&template.placeholders, Value::from("v"));
    let mut used = Vec::new();
    let render = |text: &reqflo_core::template::Text, used: &mut Vec<_>| {
        text.render(&fills, used)
            .expect("a listed placeholder is unfilled")
    };
    render(&template.method, &mut used);
    render(&template.url, &mut used);
    for (_, value) in &template.headers {
        render(value, &mut used);
    }
    if let Some((user, password)) = &template.basic_auth {
        render(user, &mut used);
        render(password, &mut used);
    }
    for (_, value) in &template.query {
        value
            .render_text(&fills, &mut used)
            .expect("a listed placeholder is unfilled");
    }
    match &template.body {
        reqflo_core::template::Body::Json(json) => {
            let mut out = Vec::new();
            json.write_json(&fills, &mut out, &mut used)
                .expect("a listed placeholder is unfilled");
            serde_json::from_slice::<Value>(&out).expect("a JSON body renders as JSON");
        }
        reqflo_core::template::Body::Form(fields) => {
            for (_, value) in fields {
                value
                    .render_text(&fills, &mut used)
                    .expect("a listed placeholder is unfilled");
            }
        }
        reqflo_core::template::Body::Raw(text) => {
            render(text, &mut used);
        }
        reqflo_core::template::Body::Multipart(parts) => {
            for part in parts {
                if let reqflo_core::multipart::PartKind::Text(text) = &part.kind {
                    render(text, &mut used);
                }
            }
        }
        reqflo_core::template::Body::None => {}
    }
    // And with everything filled, nothing is left over.
    let _ = template.url.render(&Everything(Value::Null), &mut used);
}
