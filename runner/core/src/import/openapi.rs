//! `reqflo import openapi SPEC.yaml`: an OpenAPI 3 description (YAML or
//! JSON) made into a template per operation and one journey with a step
//! per operation, in the spec's order (delete the ones you do not want).
//! The first server is `{{base_url}}`'s default; path, query and header
//! parameters are placeholders filled by inputs (an example is the
//! default); a JSON example body is the template's body; the security
//! schemes (HTTP bearer or basic, API keys, OAuth 2 and OpenID Connect
//! tokens) become placeholders filled by secrets by name. What has no
//! reqflo form is reported.

use serde_json::Value;

use super::fills::{Fills, Variable, secure_json, slug};
use super::{ImportedFiles, SecretToRegister};
use crate::credentials::named_credential;

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Import the description `text` as journey `name`.
pub fn import(text: &str, name: &str) -> Result<ImportedFiles, String> {
    let spec: Value = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(at) => format!(
            "not YAML or JSON: line {} column {}: {e}",
            at.line(),
            at.column()
        ),
        None => format!("not YAML or JSON: {e}"),
    })?;
    let version = spec
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !version.starts_with('3') {
        return Err(match spec.get("swagger") {
            Some(_) => "a Swagger 2 description: convert it to OpenAPI 3 first".into(),
            None => "not an OpenAPI 3 description: no `openapi: 3…`".into(),
        });
    }
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the description has no `paths`")?;
    let server = spec
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .map(|s| s.trim_end_matches('/').to_string());
    let mut unsupported = Vec::new();
    let mut templates = Vec::new();
    let mut steps = Vec::new();
    let mut secrets: Vec<SecretToRegister> = Vec::new();
    let mut inputs = serde_yaml::Mapping::new();
    let mut defaults: Vec<(String, String)> = Vec::new();
    if let Some(server) = &server {
        defaults.push(("base_url".into(), server.clone()));
    }
    for (path, item) in paths {
        let shared = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let id = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(|id| slug(id, "operation"))
                .unwrap_or_else(|| slug(&format!("{method} {path}"), "operation"));
            let template_name = format!("{name}-{id}");
            let mut fills = Fills::default();
            let mut template = serde_yaml::Mapping::new();
            template.insert("method".into(), method.to_ascii_uppercase().into());
            template.insert(
                "url".into(),
                format!("{{{{base_url}}}}{}", placeholders_in_path(path)).into(),
            );
            let mut query = serde_yaml::Mapping::new();
            let mut headers = serde_yaml::Mapping::new();
            let own = operation
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for parameter in shared.iter().chain(&own) {
                let parameter = resolve(&spec, parameter);
                let (Some(param), Some(place)) = (
                    parameter.get("name").and_then(Value::as_str),
                    parameter.get("in").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let required = parameter
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(place == "path");
                if let Some(example) = example_of(parameter) {
                    defaults.push((param.to_string(), example));
                }
                match place {
                    "path" => {}
                    "query" if required => {
                        query.insert(param.into(), format!("{{{{{param}}}}}").into());
                    }
                    "header" if required => {
                        headers.insert(param.into(), format!("{{{{{param}}}}}").into());
                    }
                    "query" | "header" => {}
                    other => unsupported
                        .push(format!("`{id}`: the {other} parameter `{param}`, left out")),
                }
            }
            security(
                &spec,
                operation,
                &id,
                &mut headers,
                &mut query,
                &mut template,
                &mut fills,
                &mut unsupported,
            );
            if !query.is_empty() {
                template.insert("query".into(), query.into());
            }
            if !headers.is_empty() {
                template.insert("headers".into(), headers.into());
            }
            if let Some(body) = operation.get("requestBody").map(|b| resolve(&spec, b)) {
                match json_example(&spec, body) {
                    Some(mut example) => {
                        secure_json(&mut example, "", &mut fills);
                        if let Ok(yaml) = serde_yaml::to_value(&example) {
                            template.insert("json".into(), yaml);
                        }
                    }
                    None => unsupported.push(format!(
                        "`{id}`: a request body with no JSON example: write it by hand"
                    )),
                }
            }
            let template_yaml = serde_yaml::to_string(&serde_yaml::Value::Mapping(template))
                .map_err(|e| e.to_string())?;
            let source = |placeholder: &str| {
                if named_credential(placeholder) {
                    Variable::Secret
                } else {
                    Variable::Input(
                        defaults
                            .iter()
                            .find(|(k, _)| k == placeholder)
                            .map(|(_, v)| v.as_str()),
                    )
                }
            };
            let values = fills.step_values(&template_yaml, source, &mut secrets, &mut inputs)?;
            let mut step = serde_yaml::Mapping::new();
            step.insert("id".into(), id.clone().into());
            step.insert("template".into(), template_name.clone().into());
            if !values.is_empty() {
                step.insert("values".into(), values.into());
            }
            templates.push((template_name, template_yaml));
            steps.push(serde_yaml::Value::Mapping(step));
        }
    }
    if steps.is_empty() {
        return Err("the description has no operations".into());
    }
    let title = spec
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("an OpenAPI description");
    ImportedFiles::assemble(
        format!("Imported from {title}"),
        inputs,
        steps,
        templates,
        secrets,
        unsupported,
    )
}

/// `/pets/{petId}` → `/pets/{{petId}}`.
fn placeholders_in_path(path: &str) -> String {
    path.replace('{', "{{").replace('}', "}}")
}

/// A `$ref` (`#/components/…`) followed, up to a few levels.
fn resolve<'a>(spec: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let Some(pointer) = value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match spec.pointer(pointer) {
            Some(found) => value = found,
            None => break,
        }
    }
    value
}

/// A parameter's example (`example`, or its schema's), as text.
fn example_of(parameter: &Value) -> Option<String> {
    let example = parameter
        .get("example")
        .or_else(|| parameter.pointer("/schema/example"))
        .or_else(|| parameter.pointer("/schema/default"))?;
    Some(match example {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A request body's JSON example: `example`, the first of `examples`, or
/// its schema's `example`.
fn json_example(spec: &Value, body: &Value) -> Option<Value> {
    let content = body.get("content")?.as_object()?;
    let (_, media) = content.iter().find(|(kind, _)| kind.contains("json"))?;
    if let Some(example) = media.get("example") {
        return Some(example.clone());
    }
    if let Some(first) = media
        .get("examples")
        .and_then(Value::as_object)
        .and_then(|e| e.values().next())
    {
        return resolve(spec, first).get("value").cloned();
    }
    resolve(spec, media.get("schema")?).get("example").cloned()
}

/// The operation's security (else the description's): its first
/// requirement, as placeholders filled by secrets.
#[allow(clippy::too_many_arguments)]
fn security(
    spec: &Value,
    operation: &Value,
    id: &str,
    headers: &mut serde_yaml::Mapping,
    query: &mut serde_yaml::Mapping,
    template: &mut serde_yaml::Mapping,
    fills: &mut Fills,
    unsupported: &mut Vec<String>,
) {
    let requirements = operation.get("security").or_else(|| spec.get("security"));
    let Some(first) = requirements
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_object)
    else {
        return;
    };
    for scheme_name in first.keys() {
        let pointer = format!("/components/securitySchemes/{scheme_name}");
        let Some(scheme) = spec.pointer(&pointer).map(|s| resolve(spec, s)) else {
            unsupported.push(format!(
                "`{id}`: the security scheme `{scheme_name}` is not described"
            ));
            continue;
        };
        let kind = scheme
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let http = scheme
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let from = format!("the security scheme `{scheme_name}`");
        match (kind, http.as_str()) {
            ("http", "basic") => {
                let mut basic = serde_yaml::Mapping::new();
                basic.insert("username".into(), "{{username}}".into());
                basic.insert("password".into(), fills.secret("password", from).into());
                template.insert("basic_auth".into(), basic.into());
            }
            ("http", "bearer") | ("oauth2", _) | ("openIdConnect", _) => {
                let token = fills.secret(&format!("{scheme_name}_token"), from);
                headers.insert("Authorization".into(), format!("Bearer {token}").into());
            }
            ("apiKey", _) => {
                let key = scheme
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("X-Api-Key");
                let placeholder = fills.secret(key, from);
                match scheme.get("in").and_then(Value::as_str) {
                    Some("query") => {
                        query.insert(key.into(), placeholder.into());
                    }
                    Some("header") => {
                        headers.insert(key.into(), placeholder.into());
                    }
                    _ => unsupported.push(format!("`{id}`: an API key in a cookie, left out")),
                }
            }
            (other, _) => unsupported.push(format!(
                "`{id}`: the `{other}` security scheme `{scheme_name}`, left out"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r##"
openapi: 3.0.3
info: {title: Payments}
servers: [{url: "https://api.example.com/"}]
security: [{bearer: []}]
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
    key: {type: apiKey, in: header, name: X-Api-Key}
  parameters:
    id: {name: id, in: path, required: true, schema: {type: string, example: pay_0001}}
paths:
  /v1/payments:
    post:
      operationId: createPayment
      requestBody:
        content:
          application/json:
            example: {amount: 1200, currency: usd, password: hunter2}
  /v1/payments/{id}:
    parameters: [{$ref: "#/components/parameters/id"}]
    get:
      operationId: getPayment
      security: [{key: []}]
      parameters:
        - {name: expand, in: query, required: true, example: customer}
        - {name: session, in: cookie}
"##;

    #[test]
    fn operations_become_steps_with_parameters_and_security_as_secrets() {
        let imported = import(SPEC, "payments").expect("imported");
        assert_eq!(imported.templates.len(), 2);
        let (_, create) = &imported.templates[0];
        assert!(
            create.contains("Authorization: Bearer {{BEARER_TOKEN}}"),
            "{create}"
        );
        assert!(
            create.contains("password: '{{PASSWORD}}'") && !create.contains("hunter2"),
            "{create}"
        );
        let (_, get) = &imported.templates[1];
        assert!(
            get.contains("url: '{{base_url}}/v1/payments/{{id}}'"),
            "{get}"
        );
        assert!(get.contains("X-Api-Key: '{{X_API_KEY}}'"), "{get}");
        assert!(get.contains("expand: '{{expand}}'"), "{get}");
        let journey = &imported.journey;
        assert!(
            journey.contains("default: https://api.example.com"),
            "{journey}"
        );
        assert!(journey.contains("default: pay_0001"), "{journey}");
        assert!(journey.contains("id: createpayment"), "{journey}");
        let names: Vec<&str> = imported.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["BEARER_TOKEN", "PASSWORD", "X_API_KEY"]);
        assert!(
            imported
                .unsupported
                .iter()
                .any(|u| u.contains("cookie parameter `session`")),
            "{:?}",
            imported.unsupported
        );
    }

    #[test]
    fn what_is_not_openapi_3_is_refused() {
        assert!(import("swagger: '2.0'\npaths: {}\n", "x").is_err_and(|e| e.contains("Swagger 2")));
        assert!(import("a: [", "x").is_err_and(|e| e.contains("line")));
        assert!(import("openapi: 3.1.0\n", "x").is_err_and(|e| e.contains("no `paths`")));
        assert!(
            import("openapi: 3.1.0\npaths: {}\n", "x").is_err_and(|e| e.contains("no operations"))
        );
    }
}
