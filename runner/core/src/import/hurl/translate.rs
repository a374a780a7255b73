//! Hurl's parts as reqflo's: each entry a template and a step, its
//! placeholders filled by captures, inputs or secrets, its captures and
//! asserts as reqflo captures and expectations.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::super::ImportedFiles;
use super::super::SecretToRegister;
use super::super::fills::{Fills, Variable, body, credential_header, is_credential};
use super::{Entry, first_word, literal, query_and_rest};
use crate::credentials::named_credential;

/// The filters Hurl and reqflo share, as reqflo writes them; `Err` names
/// one that has no reqflo form.
fn filters(written: &str) -> (Vec<Value>, Result<String, String>) {
    let mut out = Vec::new();
    let mut rest = written.to_string();
    loop {
        let current = rest.clone();
        let (word, after) = current.split_once(' ').unwrap_or((current.as_str(), ""));
        let after = after.trim_start();
        let with_argument = |name: &str| -> Option<(Value, String)> {
            let (_, argument, remaining) = query_and_rest(&format!("x {after}"))?;
            Some((json!({ name: argument? }), remaining))
        };
        let taken = match word {
            "split" | "regex" | "jsonpath" => with_argument(word),
            "nth" => {
                let (n, remaining) = after.split_once(' ').unwrap_or((after, ""));
                n.parse::<i64>()
                    .ok()
                    .map(|n| (json!({"nth": n}), remaining.to_string()))
            }
            "base64Decode" => Some((json!("base64-decode"), after.to_string())),
            "urlDecode" => Some((json!("url-decode"), after.to_string())),
            "toInt" => Some((json!("to-int"), after.to_string())),
            _ => return (out, Ok(current)),
        };
        match taken {
            Some((filter, remaining)) => {
                out.push(filter);
                rest = remaining;
            }
            None => return (out, Err(word.to_string())),
        }
    }
}

/// Build the templates and the journey.
pub(super) fn build(
    entries: Vec<Entry>,
    name: &str,
    mut unsupported: Vec<String>,
) -> Result<ImportedFiles, String> {
    let mut templates = Vec::new();
    let mut steps = Vec::new();
    let mut secrets: Vec<SecretToRegister> = Vec::new();
    let mut inputs = serde_yaml::Mapping::new();
    // Capture name → the step that made it.
    let mut captured: IndexMap<String, String> = IndexMap::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let id = format!("{}-{}", entry.method.to_ascii_lowercase(), index + 1);
        let template_name = format!("{name}-{}", index + 1);
        let mut fills = Fills::default();
        let mut template = serde_yaml::Mapping::new();
        template.insert("method".into(), entry.method.clone().into());
        template.insert("url".into(), entry.url.clone().into());
        let mut headers = serde_yaml::Mapping::new();
        let mut content_type = None;
        for (header, value) in &entry.headers {
            if header.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_ascii_lowercase());
            }
            let written = if value.contains("{{") {
                value.clone()
            } else {
                credential_header(header, value, &mut fills)
            };
            headers.insert(header.clone().into(), written.into());
        }
        if !entry.cookies.is_empty() {
            let cookie = entry
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            headers.insert(
                "Cookie".into(),
                credential_header("Cookie", &cookie, &mut fills).into(),
            );
        }
        if !headers.is_empty() {
            template.insert("headers".into(), headers.into());
        }
        let pairs = |list: &[(String, String)], what: &str, fills: &mut Fills| {
            let mut map = serde_yaml::Mapping::new();
            for (key, value) in list {
                let value = if !value.contains("{{") && is_credential(key, value) {
                    fills.secret(key, format!("{what} `{key}` (line {})", entry.line))
                } else {
                    value.clone()
                };
                map.insert(key.clone().into(), value.into());
            }
            map
        };
        if !entry.query.is_empty() {
            let map = pairs(&entry.query, "query parameter", &mut fills);
            template.insert("query".into(), map.into());
        }
        if !entry.form.is_empty() {
            let map = pairs(&entry.form, "form field", &mut fills);
            template.insert("form".into(), map.into());
        }
        if let Some((user, password)) = &entry.basic {
            let mut auth = serde_yaml::Mapping::new();
            auth.insert("username".into(), user.clone().into());
            let password = if password.contains("{{") {
                password.clone()
            } else {
                fills.secret("password", format!("`[BasicAuth]` (line {})", entry.line))
            };
            auth.insert("password".into(), password.into());
            template.insert("basic_auth".into(), auth.into());
        }
        if !entry.body.is_empty() {
            let text = entry.body.join("\n");
            body(&text, content_type.as_deref(), &mut template, &mut fills);
        }
        // Placeholders: an earlier capture, else an input (or a secret, by
        // a credential's name).
        let template_yaml = serde_yaml::to_string(&serde_yaml::Value::Mapping(template))
            .map_err(|e| e.to_string())?;
        let source = |placeholder: &str| match captured.get(placeholder) {
            Some(step) => Variable::Captured(step),
            None if named_credential(placeholder) => Variable::Secret,
            None => Variable::Input(None),
        };
        let values = fills.step_values(&template_yaml, source, &mut secrets, &mut inputs)?;

        let mut step = serde_yaml::Mapping::new();
        step.insert("id".into(), id.clone().into());
        step.insert("template".into(), template_name.clone().into());
        if !values.is_empty() {
            step.insert("values".into(), values.into());
        }
        let mut capture = serde_yaml::Mapping::new();
        for (line, text) in &entry.captures {
            match capture_of(text) {
                Ok((capture_name, spec)) => {
                    captured.insert(capture_name.clone(), id.clone());
                    capture.insert(
                        capture_name.into(),
                        serde_yaml::to_value(spec).map_err(|e| e.to_string())?,
                    );
                }
                Err(why) => unsupported.push(format!("line {line}: capture: {why}")),
            }
        }
        if !capture.is_empty() {
            step.insert("capture".into(), capture.into());
        }
        let expect = expectations(&entry, &mut unsupported);
        if !expect.is_empty() {
            step.insert(
                "expect".into(),
                serde_yaml::to_value(Value::Object(expect)).map_err(|e| e.to_string())?,
            );
        }
        templates.push((template_name, template_yaml));
        steps.push(serde_yaml::Value::Mapping(step));
    }
    ImportedFiles::assemble(
        "Imported from a Hurl file".to_string(),
        inputs,
        steps,
        templates,
        secrets,
        unsupported,
    )
}

/// `name: jsonpath "$.id" [filters]` as a reqflo capture.
fn capture_of(text: &str) -> Result<(String, Value), String> {
    let (name, query) = text.split_once(':').ok_or("not `name: query`")?;
    let name = name.trim().to_string();
    let (kind, argument, rest) = query_and_rest(query.trim()).ok_or("an unclosed string")?;
    let mut spec = match (kind.as_str(), argument) {
        ("jsonpath", Some(path)) => json!({"jsonpath": path}),
        ("header", Some(header)) => json!({"header": header}),
        ("cookie", Some(cookie)) => json!({"cookie": cookie}),
        ("regex", Some(regex)) => json!({"regex": regex}),
        ("status", None) => json!({"status": true}),
        ("body", None) => json!({"body": true}),
        ("url", None) => json!({"url": true}),
        ("duration", None) => json!({"duration": true}),
        (other, _) => return Err(format!("`{other}` has no reqflo form")),
    };
    let (filters, left) = filters(&rest);
    match left {
        Ok(left) if left.trim().is_empty() => {}
        Ok(left) => return Err(format!("`{}` has no reqflo form", first_word(&left))),
        Err(filter) => return Err(format!("the filter `{filter}` has no reqflo form")),
    }
    if !filters.is_empty() {
        spec["filters"] = Value::Array(filters);
    }
    if named_credential(&name) {
        spec["secret"] = json!(true);
    }
    Ok((name, spec))
}

/// The entry's status, response headers and asserts as `expect:`.
fn expectations(entry: &Entry, unsupported: &mut Vec<String>) -> Map<String, Value> {
    let mut expect = Map::new();
    if let Some(status) = entry.status {
        expect.insert("status".into(), json!(status));
    }
    let mut headers = Map::new();
    for (name, value) in &entry.response_headers {
        headers.insert(name.clone(), json!({"==": value}));
    }
    let mut json_checks = Map::new();
    let mut cookies = Map::new();
    for (line, text) in &entry.asserts {
        let Some((kind, argument, rest)) = query_and_rest(text) else {
            unsupported.push(format!("line {line}: assert: an unclosed string"));
            continue;
        };
        if text.contains("{{") {
            unsupported.push(format!(
                "line {line}: assert: a `{{{{variable}}}}` in an assert, left out"
            ));
            continue;
        }
        let (filters, predicate) = filters(&rest);
        if !filters.is_empty() {
            unsupported.push(format!(
                "line {line}: assert: filters in an assert, left out"
            ));
            continue;
        }
        let predicate = match predicate {
            Ok(p) => p,
            Err(filter) => {
                unsupported.push(format!(
                    "line {line}: assert: the filter `{filter}` has no reqflo form"
                ));
                continue;
            }
        };
        let Some(test) = predicate_of(&predicate) else {
            unsupported.push(format!(
                "line {line}: assert: `{}` has no reqflo form",
                first_word(&predicate)
            ));
            continue;
        };
        let add = |map: &mut Map<String, Value>, key: String, test: (String, Value)| {
            let entry = map.entry(key).or_insert_with(|| json!({}));
            if let Some(object) = entry.as_object_mut() {
                object.insert(test.0, test.1);
            }
        };
        match (kind.as_str(), argument) {
            ("jsonpath", Some(path)) => add(&mut json_checks, path, test),
            ("header", Some(header)) => add(&mut headers, header, test),
            ("cookie", Some(cookie)) => add(&mut cookies, cookie, test),
            ("body", None) => {
                let mut body = expect.get("body").cloned().unwrap_or_else(|| json!({}));
                if let Some(object) = body.as_object_mut() {
                    object.insert(test.0, test.1);
                }
                expect.insert("body".into(), body);
            }
            ("status", None)
                if test.0 == "==" && test.1.as_u64().is_some_and(|c| (100..=599).contains(&c)) =>
            {
                expect.insert("status".into(), test.1);
            }
            ("duration", None)
                if ["<", "<=", ">", ">="].contains(&test.0.as_str()) && test.1.is_number() =>
            {
                let mut duration = expect.get("duration").cloned().unwrap_or_else(|| json!({}));
                if let Some(object) = duration.as_object_mut() {
                    object.insert(test.0, test.1);
                }
                expect.insert("duration".into(), duration);
            }
            ("sha256", None) if test.0 == "==" => {
                match test.1.as_str().and_then(|h| h.strip_prefix("hex,")) {
                    Some(hex) => {
                        expect.insert("sha256".into(), json!(hex.trim_end_matches(';')));
                    }
                    None => unsupported.push(format!("line {line}: assert: sha256 takes `hex,…;`")),
                }
            }
            (other, _) => {
                unsupported.push(format!("line {line}: assert: `{other}` has no reqflo form"))
            }
        }
    }
    for (key, map) in [
        ("headers", headers),
        ("json", json_checks),
        ("cookies", cookies),
    ] {
        if !map.is_empty() {
            expect.insert(key.into(), Value::Object(map));
        }
    }
    expect
}

/// A Hurl predicate as a reqflo one: its name and argument.
fn predicate_of(text: &str) -> Option<(String, Value)> {
    let text = text.trim();
    let (word, argument) = text
        .split_once(' ')
        .map_or((text, ""), |(w, a)| (w, a.trim()));
    let value = || literal(argument);
    Some(match word {
        "==" | "!=" | ">" | ">=" | "<" | "<=" => (word.to_string(), value()?),
        "contains" => ("contains".into(), value()?),
        "startsWith" => ("starts-with".into(), value()?),
        "endsWith" => ("ends-with".into(), value()?),
        "matches" => ("matches".into(), value()?),
        "exists" => ("exists".into(), json!(true)),
        "not" if argument == "exists" => ("exists".into(), json!(false)),
        "isEmpty" => ("empty".into(), json!(true)),
        "isInteger" => ("type".into(), json!("integer")),
        "isString" => ("type".into(), json!("string")),
        "isBoolean" => ("type".into(), json!("boolean")),
        "isFloat" | "isNumber" => ("type".into(), json!("number")),
        "isIsoDate" | "isDate" => ("type".into(), json!("date")),
        "isUuid" => ("type".into(), json!("uuid")),
        "count" => {
            let (op, n) = argument.split_once(' ')?;
            if op != "==" {
                return None;
            }
            ("count".into(), json!(n.trim().parse::<u64>().ok()?))
        }
        _ => return None,
    })
}
