//! What every importer shares: placeholders and the values that fill them,
//! and credentials turned into secrets by name.

use indexmap::IndexMap;
use serde_json::Value;

use super::SecretToRegister;
use crate::credentials::{named_credential, shaped_like_credential};

/// Placeholders and the journey values that fill them, and the secrets.
#[derive(Default)]
pub(super) struct Fills {
    pub(super) values: IndexMap<String, Value>,
    pub(super) secrets: Vec<SecretToRegister>,
}

impl Fills {
    /// A placeholder for a credential found at `from`: its secret's name.
    pub(super) fn secret(&mut self, hint: &str, from: String) -> String {
        let base = secret_name(hint);
        let mut name = base.clone();
        let mut n = 2;
        while self.values.contains_key(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.values.insert(
            name.clone(),
            serde_json::json!({"type": "secret", "name": name}),
        );
        self.secrets.push(SecretToRegister {
            name: name.clone(),
            from,
        });
        format!("{{{{{name}}}}}")
    }
}

/// Where an imported request's `{{variable}}` gets its value.
pub(super) enum Variable<'a> {
    /// An earlier step's capture of that name (the step's id).
    Captured(&'a str),
    /// A secret by name (a credential's name or value).
    Secret,
    /// An input of the journey, with a default or not.
    Input(Option<&'a str>),
}

impl Fills {
    /// The step's `values:`: one for each placeholder of `template_yaml`
    /// (as `source` says), then the secrets found as literals. Secrets join
    /// `secrets` once each, inputs join `inputs`.
    pub(super) fn step_values<'a>(
        mut self,
        template_yaml: &str,
        source: impl Fn(&str) -> Variable<'a>,
        secrets: &mut Vec<SecretToRegister>,
        inputs: &mut serde_yaml::Mapping,
    ) -> Result<serde_yaml::Mapping, String> {
        let yaml = |value: Value| serde_yaml::to_value(value).map_err(|e| e.to_string());
        let mut values = serde_yaml::Mapping::new();
        for placeholder in placeholders(template_yaml) {
            if self.values.contains_key(&placeholder) {
                continue;
            }
            let value = match source(&placeholder) {
                Variable::Captured(step) => {
                    serde_json::json!({"type": "capture", "step": step, "name": placeholder})
                }
                Variable::Secret => {
                    let secret = self.variable_secret_name(&placeholder);
                    if !secrets
                        .iter()
                        .chain(&self.secrets)
                        .any(|s| s.name == secret)
                    {
                        self.secrets.push(SecretToRegister {
                            name: secret.clone(),
                            from: format!("the variable `{{{{{placeholder}}}}}`"),
                        });
                    }
                    serde_json::json!({"type": "secret", "name": secret})
                }
                Variable::Input(default) => {
                    let mut input = serde_yaml::Mapping::new();
                    if let Some(default) = default {
                        input.insert("default".into(), default.into());
                    }
                    inputs.insert(placeholder.clone().into(), input.into());
                    serde_json::json!({"type": "input", "name": placeholder})
                }
            };
            values.insert(placeholder.into(), yaml(value)?);
        }
        for (key, value) in &self.values {
            values.insert(key.clone().into(), yaml(value.clone())?);
        }
        // One entry per name: several requests may use one secret.
        for secret in self.secrets {
            if !secrets.iter().any(|s| s.name == secret.name) {
                secrets.push(secret);
            }
        }
        Ok(values)
    }

    /// The secret's name for the variable `{{placeholder}}`: its own name,
    /// unless a credential found as a literal took it (a different value).
    pub(super) fn variable_secret_name(&self, placeholder: &str) -> String {
        let base = secret_name(placeholder);
        let mut name = base.clone();
        let mut n = 2;
        while self.values.contains_key(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }
}

/// `X-Api-Key` → `X_API_KEY`; `client_secret` → `CLIENT_SECRET`.
pub(super) fn secret_name(hint: &str) -> String {
    let name: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches('_').to_string();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("SECRET_{name}")
    } else {
        name
    }
}

/// Whether a value under `key` is a credential.
pub(super) fn is_credential(key: &str, value: &str) -> bool {
    !value.is_empty() && (named_credential(key) || shaped_like_credential(value).is_some())
}

/// A header's value as written in the template: a credential becomes a
/// placeholder (an `Authorization` scheme word is kept).
pub(super) fn credential_header(header: &str, value: &str, fills: &mut Fills) -> String {
    let lower = header.to_ascii_lowercase();
    if lower == "authorization" || lower == "proxy-authorization" {
        for scheme in ["Bearer ", "Basic ", "Token ", "Bot "] {
            if value.starts_with(scheme) {
                let hint = if scheme == "Basic " {
                    "basic_credentials"
                } else {
                    "api_token"
                };
                let from = format!("the `{header}` header");
                return format!("{scheme}{}", fills.secret(hint, from));
            }
        }
        return fills.secret("authorization", format!("the `{header}` header"));
    }
    if lower == "cookie" {
        // Each cookie on its own: a session cookie is a credential.
        let parts: Vec<String> = value
            .split(';')
            .map(|pair| match pair.trim().split_once('=') {
                Some((k, v))
                    if is_credential(k, v) || k.to_ascii_lowercase().contains("session") =>
                {
                    format!("{k}={}", fills.secret(k, format!("cookie `{k}`")))
                }
                _ => pair.trim().to_string(),
            })
            .collect();
        return parts.join("; ");
    }
    if is_credential(header, value) {
        return fills.secret(header, format!("the `{header}` header"));
    }
    value.to_string()
}

/// The body as `json:`, `form:` or `body:`, credentials as placeholders.
pub(super) fn body(
    data: &str,
    content_type: Option<&str>,
    template: &mut serde_yaml::Mapping,
    fills: &mut Fills,
) {
    let is_form = content_type.is_none_or(|c| c.contains("x-www-form-urlencoded"));
    if let Ok(mut json) = serde_json::from_str::<Value>(data)
        && (json.is_object() || json.is_array())
        && content_type.is_none_or(|c| c.contains("json"))
    {
        secure_json(&mut json, "", fills);
        if let Ok(yaml) = serde_yaml::to_value(&json) {
            template.insert("json".into(), yaml);
            return;
        }
    }
    if is_form && data.contains('=') && !data.contains('\n') {
        let mut form = serde_yaml::Mapping::new();
        for (key, value) in form_urlencoded::parse(data.as_bytes()) {
            let value = if is_credential(&key, &value) {
                fills.secret(&key, format!("form field `{key}`"))
            } else {
                value.into_owned()
            };
            form.insert(key.into_owned().into(), value.into());
        }
        template.insert("form".into(), form.into());
        return;
    }
    let text = if shaped_like_credential(data).is_some() {
        fills.secret(
            "request_body",
            "the body (it looks like a credential)".into(),
        )
    } else {
        data.to_string()
    };
    template.insert("body".into(), text.into());
}

/// Replace credential strings in a JSON value by placeholders.
pub(super) fn secure_json(value: &mut Value, key: &str, fills: &mut Fills) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                secure_json(v, k, fills);
            }
        }
        Value::Array(items) => {
            for item in items {
                secure_json(item, key, fills);
            }
        }
        Value::String(text) if is_credential(key, text) => {
            let hint = if key.is_empty() { "secret" } else { key };
            *text = fills.secret(hint, format!("JSON field `{key}`"));
        }
        _ => {}
    }
}

/// The `{{name}}` placeholders of a template's text, in order, once each.
pub(super) fn placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let name = after[..close].trim().to_string();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &after[close + 2..];
    }
    out
}

/// `createPayment` → `createpayment`, `get /pets/{id}` → `get-pets-id`:
/// lowercase letters and digits, other runs one `-`; `fallback` when
/// nothing is left.
pub(super) fn slug(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}
