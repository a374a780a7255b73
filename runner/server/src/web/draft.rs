//! Build mode's pure part: what a template needs and where it sends, which
//! secrets a journey may pick and why not, and the journey YAML a filled-in
//! form describes (`build.rs` has the pages).

use indexmap::IndexMap;

use super::FormData;
use super::page::StepDraft;
use crate::credentials;
use crate::project::StoredProject;
use crate::registry::SecretPolicy;
use reqflo_core::project::PROJECT_FILE;

/// A template's placeholders and the host its URL goes to in `environment`.
pub(super) fn template_facts(
    stored: &StoredProject,
    template: &str,
    environment: &str,
) -> (Vec<String>, Option<String>) {
    let Some(text) = stored.files.get(&format!("templates/{template}.yaml")) else {
        return (Vec::new(), None);
    };
    let mut names: Vec<String> = Vec::new();
    for part in text.split("{{").skip(1) {
        if let Some((name, _)) = part.split_once("}}") {
            let name = name.trim().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let url = serde_yaml::from_str::<serde_yaml::Value>(text)
        .ok()
        .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_string))
        .unwrap_or_default();
    let variables = environment_variables(stored, environment);
    let mut resolved = url;
    for (name, value) in &variables {
        resolved = resolved.replace(&format!("{{{{{name}}}}}"), value);
    }
    let host = resolved
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or("").to_string())
        .filter(|h| !h.contains("{{") && !h.is_empty());
    (names, host)
}

pub(super) fn environment_variables(
    stored: &StoredProject,
    environment: &str,
) -> IndexMap<String, String> {
    let text = stored.files.get(PROJECT_FILE).map_or("", String::as_str);
    let config: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or(serde_yaml::Value::Null);
    config
        .get("environments")
        .and_then(|e| e.get(environment))
        .and_then(|e| e.get("variables"))
        .and_then(|v| v.as_mapping())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let value = match v {
                        serde_yaml::Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    k.as_str().map(|k| (k.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Why `secret` may not be used by `journey` in `environment` towards
/// `host`, or `None` when it may.
pub(super) fn denied(
    secret: &SecretPolicy,
    journey: &str,
    environment: &str,
    host: Option<&str>,
) -> Option<String> {
    let matches = |pattern: &str, name: &str| {
        globset::Glob::new(pattern)
            .map(|g| g.compile_matcher().is_match(name))
            .unwrap_or(false)
    };
    if secret.disabled {
        return Some("disabled".into());
    }
    if let Some(globs) = &secret.journeys
        && !globs.iter().any(|g| matches(g, journey))
    {
        return Some(format!("only for journeys {}", globs.join(", ")));
    }
    if let Some(envs) = &secret.environments
        && !envs.iter().any(|e| matches(e, environment))
    {
        return Some(format!("only in environments {}", envs.join(", ")));
    }
    if let (Some(hosts), Some(host)) = (&secret.hosts, host) {
        let bare = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !hosts
            .iter()
            .any(|h| h == host || h == bare || matches(h, bare))
        {
            return Some(format!(
                "may be sent only to {}, not {host}",
                hosts.join(", ")
            ));
        }
    }
    None
}

/// The journey the second form describes, as YAML, or why not.
pub(super) fn journey_yaml(
    form: &FormData,
    steps: &[StepDraft],
    stored: &StoredProject,
    environment: &str,
) -> Result<String, String> {
    let mut out = serde_yaml::Mapping::new();
    out.insert(
        "description".into(),
        format!("Built in the web UI ({} steps)", steps.len()).into(),
    );
    let mut list = Vec::new();
    for step in steps {
        list.push(step_value(form, step, stored, environment)?);
    }
    out.insert("steps".into(), serde_yaml::Value::Sequence(list));
    serde_yaml::to_string(&out).map_err(|e| e.to_string())
}

/// One step the form describes (its fields named by `step.index`), or why
/// not.
pub(super) fn step_value(
    form: &FormData,
    step: &StepDraft,
    stored: &StoredProject,
    environment: &str,
) -> Result<serde_yaml::Value, String> {
    let mut map = serde_yaml::Mapping::new();
    map.insert("id".into(), step.id.clone().into());
    map.insert("template".into(), step.template.clone().into());
    let (placeholders, _) = template_facts(stored, &step.template, environment);
    let mut values = serde_yaml::Mapping::new();
    for name in placeholders {
        let key = format!("v_{}_{name}", step.index);
        let mut source = serde_yaml::Mapping::new();
        match form.get(&format!("{key}_source")) {
            "variable" | "" => continue,
            "literal" => {
                let literal = form.get(&format!("{key}_literal"));
                if let Some(what) = credentials::shaped_like_credential(literal) {
                    return Err(format!(
                        "Step `{}`, `{name}`: this literal looks like a credential ({what}). A journey never holds one: register it as a secret (Admin > Secrets management) and choose \"a secret, by name\".",
                        step.id
                    ));
                }
                // Typed as YAML reads it: `1200` a number, `true` a
                // boolean, anything else text.
                let typed = match serde_yaml::from_str::<serde_yaml::Value>(literal) {
                    Ok(v @ (serde_yaml::Value::Number(_) | serde_yaml::Value::Bool(_))) => v,
                    _ => literal.into(),
                };
                values.insert(name.clone().into(), typed);
                continue;
            }
            "input" => {
                let input = form.get(&format!("{key}_input")).trim();
                source.insert("type".into(), "input".into());
                source.insert(
                    "name".into(),
                    if input.is_empty() {
                        name.clone()
                    } else {
                        input.to_string()
                    }
                    .into(),
                );
            }
            "secret" => {
                let secret = form.get(&format!("{key}_secret"));
                if secret.is_empty() {
                    return Err(format!("Step `{}`, `{name}`: choose a secret.", step.id));
                }
                source.insert("type".into(), "secret".into());
                source.insert("name".into(), secret.into());
            }
            "capture" => {
                let Some((from, capture)) = form.get(&format!("{key}_capture")).split_once('.')
                else {
                    return Err(format!(
                        "Step `{}`, `{name}`: choose a capture of an earlier step.",
                        step.id
                    ));
                };
                source.insert("type".into(), "capture".into());
                source.insert("step".into(), from.into());
                source.insert("name".into(), capture.into());
            }
            "generate" => {
                source.insert("type".into(), "generate".into());
                source.insert("kind".into(), "uuid".into());
            }
            other => {
                return Err(format!(
                    "Step `{}`, `{name}`: unknown source `{other}`.",
                    step.id
                ));
            }
        }
        values.insert(name.clone().into(), serde_yaml::Value::Mapping(source));
    }
    if !values.is_empty() {
        map.insert("values".into(), serde_yaml::Value::Mapping(values));
    }
    let mut captures = serde_yaml::Mapping::new();
    for line in form
        .get(&format!("c_{}", step.index))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let Some((name, path)) = line.split_once('=') else {
            return Err(format!(
                "Step `{}`: a capture is `name = $.json.path`.",
                step.id
            ));
        };
        captures.insert(name.trim().into(), path.trim().into());
    }
    if !captures.is_empty() {
        map.insert("capture".into(), serde_yaml::Value::Mapping(captures));
    }
    let status = form.get(&format!("s_{}", step.index)).trim();
    if !status.is_empty() {
        let code: u16 = status
            .parse()
            .map_err(|_| format!("Step `{}`: the expected status is a number.", step.id))?;
        let mut expect = serde_yaml::Mapping::new();
        expect.insert(
            "status".into(),
            serde_yaml::Value::Number(u64::from(code).into()),
        );
        map.insert("expect".into(), serde_yaml::Value::Mapping(expect));
    }
    Ok(serde_yaml::Value::Mapping(map))
}
