//! What a step keeps from its response and what it expects of it, checked
//! while planning: captures (JSONPath, header, secret or not) and
//! expectations (status, headers, JSONPath matchers). JSONPaths are parsed
//! once per distinct text.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use serde_json_path::JsonPath;

use super::build::Planner;
use super::{CaptureFrom, CaptureRule, Expectations, Matcher};
use crate::error::{Diagnostic, Error, Result};
use crate::predicate;
use crate::project::model::{CaptureDef, ExpectDef, StatusDef};

impl Planner<'_> {
    pub(super) fn captures(
        &mut self,
        i: &str,
        defs: &IndexMap<String, CaptureDef>,
    ) -> Result<Vec<CaptureRule>> {
        let mut rules = Vec::new();
        for (name, def) in defs {
            let path = ["steps", i, "capture", name];
            let (from, secret) = match def {
                CaptureDef::Path(p) => (self.json_path(p, &path)?, false),
                CaptureDef::Spec(spec) => match (&spec.jsonpath, &spec.header) {
                    (Some(p), None) => (self.json_path(p, &path)?, spec.secret),
                    (None, Some(h)) => (CaptureFrom::Header(h.clone()), spec.secret),
                    _ => {
                        return Err(self.definition(
                            format!(
                                "capture `{name}` needs exactly one of `jsonpath` and `header`"
                            ),
                            &path,
                        ));
                    }
                },
            };
            rules.push(CaptureRule {
                name: name.clone(),
                from,
                secret,
            });
        }
        Ok(rules)
    }

    fn json_path(&mut self, written: &str, path: &[&str]) -> Result<CaptureFrom> {
        let source = self.source;
        let parsed = self.parse_path(written, || source.value(path))?;
        Ok(CaptureFrom::Json(written.to_string(), parsed))
    }

    /// Parse a JSONPath once per text; `at` finds the position only when
    /// there is an error.
    fn parse_path(
        &mut self,
        written: &str,
        at: impl FnOnce() -> Option<crate::error::Spot>,
    ) -> Result<Arc<JsonPath>> {
        if let Some(parsed) = self.paths.get(written) {
            return Ok(Arc::clone(parsed));
        }
        let parsed = Arc::new(JsonPath::parse(written).map_err(|e| {
            Error::Definition(
                Diagnostic::new(format!("`{written}` is not a JSONPath: {e}"))
                    .at(at())
                    .hint("JSONPath (RFC 9535) starts at `$`, e.g. `$.data.id`; names with `-` need brackets: `$['x-key']`"),
            )
        })?);
        self.paths.insert(written.to_string(), Arc::clone(&parsed));
        Ok(parsed)
    }

    pub(super) fn expectations(&mut self, i: &str, def: &ExpectDef) -> Result<Expectations> {
        let status = match &def.status {
            None => Vec::new(),
            Some(StatusDef::One(code)) => vec![*code],
            Some(StatusDef::Any(codes)) => codes.clone(),
        };
        if let Some(bad) = status.iter().find(|c| !(100..=599).contains(*c)) {
            return Err(self.definition(
                format!("{bad} is not an HTTP status code"),
                &["steps", i, "expect", "status"],
            ));
        }
        let mut headers = Vec::new();
        for (name, raw) in &def.headers {
            let matcher = matcher(raw)
                .map_err(|m| self.definition(m, &["steps", i, "expect", "headers", name]))?;
            headers.push((name.clone(), matcher));
        }
        let mut json = Vec::new();
        for (written, raw) in &def.json {
            let path = ["steps", i, "expect", "json", written];
            let source = self.source;
            let parsed = self.parse_path(written, || source.key(&path))?;
            let matcher = matcher(raw).map_err(|m| self.definition(m, &path))?;
            json.push((written.clone(), parsed, matcher));
        }
        let body = match &def.body {
            Some(raw) => Some(
                matcher(raw).map_err(|m| self.definition(m, &["steps", i, "expect", "body"]))?,
            ),
            None => None,
        };
        let sha256 = match &def.sha256 {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(hex.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(self.definition(
                    "`sha256` takes the body's SHA-256 as 64 hex digits".into(),
                    &["steps", i, "expect", "sha256"],
                ));
            }
            None => None,
        };
        Ok(Expectations {
            status,
            headers,
            json,
            body,
            sha256,
        })
    }
}

/// `{exists: bool}`, `{equals: v}`, a map of predicates (every key one:
/// `{">=": 1, "<": 10}`), or a value to equal (a bare value, or a map with
/// other keys).
fn matcher(raw: &Value) -> Result<Matcher, String> {
    let Some(map) = raw.as_object().filter(|m| predicate::is_predicates(m)) else {
        return Ok(Matcher::Equals(raw.clone()));
    };
    if let Some(v) = map.get("exists")
        && map.len() == 1
    {
        return v
            .as_bool()
            .map(Matcher::Exists)
            .ok_or_else(|| "`exists` takes true or false".to_string());
    }
    if let Some(v) = map.get("equals")
        && map.len() == 1
    {
        return Ok(Matcher::Equals(v.clone()));
    }
    predicate::parse(map).map(Matcher::All)
}
