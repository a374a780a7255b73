//! `reqflo import postman COLLECTION.json`: a Postman collection (v2.0 or
//! v2.1) made into a template per request and one journey of them in
//! order (folders flattened). `{{name}}` stays a placeholder: a collection
//! variable becomes an input with its value as the default, a credential's
//! name or value a secret by name (never written). Scripts (tests,
//! pre-request) and what else has no reqflo form are reported.

use serde_json::Value;

use super::ImportedFiles;
use super::SecretToRegister;
use super::fills::{Fills, Variable, body, credential_header, is_credential, slug};
use crate::credentials::{named_credential, shaped_like_credential};

/// A request of the collection, with where it is (`Folder / Name`).
struct Item<'a> {
    path: String,
    request: &'a Value,
    events: bool,
}

/// Import the collection's JSON `text` as journey `name`.
pub fn import(text: &str, name: &str) -> Result<ImportedFiles, String> {
    let collection: Value = serde_json::from_str(text)
        .map_err(|e| format!("not JSON: line {} column {}: {e}", e.line(), e.column()))?;
    let items = collection
        .get("item")
        .and_then(Value::as_array)
        .ok_or("not a Postman collection: no `item` list")?;
    let mut requests = Vec::new();
    let mut unsupported = Vec::new();
    flatten(items, "", &mut requests, &mut unsupported);
    if requests.is_empty() {
        return Err("the collection holds no request".into());
    }
    let collection_auth = collection.get("auth");
    let variables: Vec<(String, String)> = collection
        .get("variable")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| {
                    let key = v.get("key")?.as_str()?.to_string();
                    let value = v.get("value").map(text_of).unwrap_or_default();
                    Some((key, value))
                })
                .collect()
        })
        .unwrap_or_default();
    if collection.get("event").is_some() {
        unsupported.push("the collection's scripts (pre-request, tests): left out".into());
    }

    let mut templates = Vec::new();
    let mut steps = Vec::new();
    let mut secrets: Vec<SecretToRegister> = Vec::new();
    let mut inputs = serde_yaml::Mapping::new();
    for (index, item) in requests.iter().enumerate() {
        if item.events {
            unsupported.push(format!("`{}`: its scripts (pre-request, tests), left out: write `capture:` and `expect:` by hand", item.path));
        }
        let template_name = format!("{name}-{}", index + 1);
        let mut fills = Fills::default();
        let template = template_of(item, collection_auth, &mut fills, &mut unsupported)?;
        let template_yaml = serde_yaml::to_string(&serde_yaml::Value::Mapping(template))
            .map_err(|e| e.to_string())?;
        let source = |placeholder: &str| {
            let declared = variables
                .iter()
                .find(|(k, _)| k == placeholder)
                .map(|(_, v)| v.as_str());
            let credential = named_credential(placeholder)
                || declared.is_some_and(|v| shaped_like_credential(v).is_some());
            if credential {
                Variable::Secret
            } else {
                Variable::Input(declared)
            }
        };
        let values = fills.step_values(&template_yaml, source, &mut secrets, &mut inputs)?;
        let mut step = serde_yaml::Mapping::new();
        step.insert(
            "id".into(),
            format!("{}-{}", step_name(&item.path), index + 1).into(),
        );
        step.insert("template".into(), template_name.clone().into());
        if !values.is_empty() {
            step.insert("values".into(), values.into());
        }
        templates.push((template_name, template_yaml));
        steps.push(serde_yaml::Value::Mapping(step));
    }
    let title = collection
        .pointer("/info/name")
        .and_then(Value::as_str)
        .unwrap_or("a Postman collection");
    ImportedFiles::assemble(
        format!("Imported from {title}"),
        inputs,
        steps,
        templates,
        secrets,
        unsupported,
    )
}

/// Every request under `items`, folders flattened in order.
fn flatten<'a>(
    items: &'a [Value],
    prefix: &str,
    out: &mut Vec<Item<'a>>,
    unsupported: &mut Vec<String>,
) {
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("request");
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix} / {name}")
        };
        if let Some(children) = item.get("item").and_then(Value::as_array) {
            if item.get("event").is_some() {
                unsupported.push(format!("folder `{path}`: its scripts, left out"));
            }
            flatten(children, &path, out, unsupported);
        } else if let Some(request) = item.get("request") {
            out.push(Item {
                path,
                request,
                events: item
                    .get("event")
                    .and_then(Value::as_array)
                    .is_some_and(|e| !e.is_empty()),
            });
        }
    }
}

/// A value Postman wrote as text (or a number, a boolean).
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `[{key, value, disabled}]` as pairs, the disabled ones left out.
fn pairs(list: Option<&Value>) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|p| !p.get("disabled").and_then(Value::as_bool).unwrap_or(false))
                .filter_map(|p| {
                    let key = p.get("key")?.as_str()?.to_string();
                    Some((key, p.get("value").map(text_of).unwrap_or_default()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A request as a template.
fn template_of(
    item: &Item<'_>,
    collection_auth: Option<&Value>,
    fills: &mut Fills,
    unsupported: &mut Vec<String>,
) -> Result<serde_yaml::Mapping, String> {
    let request = item.request;
    let mut template = serde_yaml::Mapping::new();
    // A request may be only its URL.
    let (method, url) = match request {
        Value::String(url) => ("GET".to_string(), Value::String(url.clone())),
        _ => (
            request
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("GET")
                .to_ascii_uppercase(),
            request.get("url").cloned().unwrap_or(Value::Null),
        ),
    };
    template.insert("method".into(), method.into());
    let raw = match &url {
        Value::String(s) => s.clone(),
        Value::Object(_) => url.get("raw").map(text_of).unwrap_or_default(),
        _ => String::new(),
    };
    if raw.is_empty() {
        return Err(format!("`{}` has no URL", item.path));
    }
    let (base, query_text) = raw
        .split_once('?')
        .map_or((raw.as_str(), ""), |(b, q)| (b, q));
    template.insert("url".into(), base.to_string().into());
    let mut query = serde_yaml::Mapping::new();
    let listed = pairs(url.get("query"));
    let query_pairs: Vec<(String, String)> = if listed.is_empty() {
        form_urlencoded::parse(query_text.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    } else {
        listed
    };
    for (key, value) in query_pairs {
        let value = if !value.contains("{{") && is_credential(&key, &value) {
            fills.secret(&key, format!("`{}`: query parameter `{key}`", item.path))
        } else {
            value
        };
        query.insert(key.into(), value.into());
    }
    if !query.is_empty() {
        template.insert("query".into(), query.into());
    }
    let mut headers = serde_yaml::Mapping::new();
    let mut content_type = None;
    for (key, value) in pairs(request.get("header")) {
        if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_ascii_lowercase());
        }
        let written = if value.contains("{{") {
            value
        } else {
            credential_header(&key, &value, fills)
        };
        headers.insert(key.into(), written.into());
    }
    // The request's auth, else the collection's (Postman's inheritance).
    let auth = request.get("auth").or(collection_auth);
    if let Some(auth) = auth {
        auth_of(
            auth,
            &item.path,
            &mut headers,
            &mut template,
            fills,
            unsupported,
        );
    }
    if !headers.is_empty() {
        template.insert("headers".into(), headers.into());
    }
    if let Some(body_def) = request.get("body") {
        match body_def.get("mode").and_then(Value::as_str) {
            Some("raw") => {
                let text = body_def.get("raw").map(text_of).unwrap_or_default();
                let language = body_def
                    .pointer("/options/raw/language")
                    .and_then(Value::as_str);
                let kind = content_type
                    .clone()
                    .or_else(|| (language == Some("json")).then(|| "application/json".to_string()));
                if !text.is_empty() {
                    body(&text, kind.as_deref(), &mut template, fills);
                }
            }
            Some("urlencoded") => {
                let mut form = serde_yaml::Mapping::new();
                for (key, value) in pairs(body_def.get("urlencoded")) {
                    let value = if !value.contains("{{") && is_credential(&key, &value) {
                        fills.secret(&key, format!("`{}`: form field `{key}`", item.path))
                    } else {
                        value
                    };
                    form.insert(key.into(), value.into());
                }
                template.insert("form".into(), form.into());
            }
            Some(other) => unsupported.push(format!("`{}`: a `{other}` body, left out", item.path)),
            None => {}
        }
    }
    Ok(template)
}

/// Postman's `auth` as headers or `basic_auth:`.
fn auth_of(
    auth: &Value,
    path: &str,
    headers: &mut serde_yaml::Mapping,
    template: &mut serde_yaml::Mapping,
    fills: &mut Fills,
    unsupported: &mut Vec<String>,
) {
    let kind = auth.get("type").and_then(Value::as_str).unwrap_or("noauth");
    let field = |name: &str| -> String {
        pairs(auth.get(kind))
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    // A value is a placeholder already, or becomes a secret.
    let secret = |value: String, hint: &str, what: &str, fills: &mut Fills| {
        if value.contains("{{") {
            value
        } else {
            fills.secret(hint, format!("`{path}`: {what}"))
        }
    };
    match kind {
        "noauth" => {}
        "bearer" => {
            let token = secret(field("token"), "api_token", "its bearer token", fills);
            headers.insert("Authorization".into(), format!("Bearer {token}").into());
        }
        "basic" => {
            let mut basic = serde_yaml::Mapping::new();
            basic.insert("username".into(), field("username").into());
            let password = secret(
                field("password"),
                "password",
                "its basic auth password",
                fills,
            );
            basic.insert("password".into(), password.into());
            template.insert("basic_auth".into(), basic.into());
        }
        "apikey" => {
            let key = field("key");
            let key = if key.is_empty() {
                "X-Api-Key".to_string()
            } else {
                key
            };
            let value = secret(field("value"), &key, "its API key", fills);
            if field("in") == "query" {
                unsupported.push(format!(
                    "`{path}`: an API key in the query: it is a header here"
                ));
            }
            headers.insert(key.into(), value.into());
        }
        other => unsupported.push(format!("`{path}`: `{other}` auth, left out")),
    }
}

/// `Payments / Create a payment` → `create-a-payment` (at most 40 characters).
fn step_name(path: &str) -> String {
    let last = path.rsplit(" / ").next().unwrap_or(path);
    slug(last, "request").chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLLECTION: &str = r#"{
      "info": {"name": "Payments", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
      "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}]},
      "variable": [{"key": "base_url", "value": "http://127.0.0.1:8080"}],
      "item": [
        {"name": "Payments", "item": [
          {"name": "Create a payment", "request": {
            "method": "POST",
            "header": [{"key": "Content-Type", "value": "application/json"}, {"key": "X-Old", "value": "1", "disabled": true}],
            "url": {"raw": "{{base_url}}/v1/payments"},
            "body": {"mode": "raw", "raw": "{\"amount\": 1200, \"currency\": \"usd\"}", "options": {"raw": {"language": "json"}}}
          }, "event": [{"listen": "test", "script": {"exec": ["pm.test('ok')"]}}]}
        ]},
        {"name": "Me", "request": {"method": "GET", "url": "{{base_url}}/v1/me?api_key=abcdefabcdefabcdef", "auth": {"type": "apikey", "apikey": [{"key": "key", "value": "X-Api-Key"}, {"key": "value", "value": "{{api_key}}"}]}}}
      ]
    }"#;

    #[test]
    fn requests_become_steps_inherit_auth_and_keep_no_secret() {
        let imported = import(COLLECTION, "payments").expect("imported");
        assert_eq!(imported.templates.len(), 2);
        let all: String = imported
            .templates
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<String>()
            + &imported.journey;
        assert!(
            !all.contains("sk_live_") && !all.contains("abcdefabcdef"),
            "{all}"
        );
        assert!(
            imported.templates[0]
                .1
                .contains("Authorization: Bearer {{API_TOKEN}}"),
            "{}",
            imported.templates[0].1
        );
        assert!(!imported.templates[0].1.contains("X-Old"));
        assert!(imported.templates[0].1.contains("amount: 1200"));
        assert!(
            imported.journey.contains("default: http://127.0.0.1:8080"),
            "{}",
            imported.journey
        );
        assert!(
            imported.journey.contains("id: create-a-payment-1"),
            "{}",
            imported.journey
        );
        let names: Vec<&str> = imported.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["API_TOKEN", "API_KEY", "API_KEY_2"],
            "{:?}",
            imported.secrets
        );
        assert!(
            imported
                .unsupported
                .iter()
                .any(|u| u.contains("Create a payment") && u.contains("scripts"))
        );
    }

    #[test]
    fn what_is_not_a_collection_is_refused() {
        assert!(import("{", "x").is_err_and(|e| e.contains("line 1")));
        assert!(import("{}", "x").is_err_and(|e| e.contains("no `item`")));
        assert!(import(r#"{"item": []}"#, "x").is_err_and(|e| e.contains("no request")));
        assert!(
            import(
                r#"{"item": [{"name": "a", "request": {"method": "GET"}}]}"#,
                "x"
            )
            .is_err_and(|e| e.contains("no URL"))
        );
    }
}
