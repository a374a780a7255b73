//! What a step keeps from its response and what it expects of it, checked
//! while planning: captures (JSONPath, header, secret or not) and
//! expectations (status, headers, JSONPath matchers). JSONPaths are parsed
//! once per distinct text.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use serde_json_path::JsonPath;

use super::build::Planner;
use super::{
    Arg, CaptureFrom, CaptureRule, Deferred, Earlier, Expectations, Fill, Matcher, PlannedStep,
    Until, When,
};
use crate::error::{Diagnostic, Error, Result};
use crate::filter::{Filter, Regex};
use crate::predicate;
use crate::project::model::{CaptureDef, CaptureSpec, ExpectDef, PollDef, StatusDef, WhenDef};

impl Planner<'_> {
    pub(super) fn captures(
        &mut self,
        i: &str,
        defs: &IndexMap<String, CaptureDef>,
    ) -> Result<Vec<CaptureRule>> {
        let mut rules = Vec::new();
        for (name, def) in defs {
            let path = ["steps", i, "capture", name];
            let (from, filters, secret) = match def {
                CaptureDef::Path(p) => (self.json_path(p, &path)?, Vec::new(), false),
                CaptureDef::Spec(spec) => {
                    let from = self.capture_from(name, spec, &path)?;
                    let mut filters = Vec::new();
                    for (n, raw) in spec.filters.iter().enumerate() {
                        let at = n.to_string();
                        let filter = Filter::parse(raw).map_err(|m| {
                            self.definition(
                                format!("capture `{name}`: {m}"),
                                &["steps", i, "capture", name, "filters", &at],
                            )
                        })?;
                        filters.push(filter);
                    }
                    (from, filters, spec.secret)
                }
            };
            rules.push(CaptureRule {
                name: name.clone(),
                from,
                filters,
                secret,
            });
        }
        Ok(rules)
    }

    /// Where a capture's long form reads from: exactly one source.
    fn capture_from(
        &mut self,
        name: &str,
        spec: &CaptureSpec,
        path: &[&str],
    ) -> Result<CaptureFrom> {
        let mut sources = Vec::new();
        if let Some(p) = &spec.jsonpath {
            sources.push(self.json_path(p, path)?);
        }
        if let Some(h) = &spec.header {
            sources.push(CaptureFrom::Header(h.clone()));
        }
        if let Some(c) = &spec.cookie {
            sources.push(CaptureFrom::Cookie(c.clone()));
        }
        if let Some(r) = &spec.regex {
            let regex = Regex::new(r).map_err(|m| {
                let at = [path, &["regex"]].concat();
                self.definition(format!("capture `{name}`: {m}"), &at)
            })?;
            sources.push(CaptureFrom::Regex(regex));
        }
        for (on, source) in [
            (spec.status, CaptureFrom::Status),
            (spec.duration, CaptureFrom::Duration),
            (spec.body, CaptureFrom::Body),
            (spec.url, CaptureFrom::Url),
        ] {
            if on {
                sources.push(source);
            }
        }
        if sources.len() != 1 {
            return Err(self.definition(
                format!(
                    "capture `{name}` needs exactly one of `jsonpath`, `header`, `cookie`, `regex`, `status: true`, `duration: true`, `body: true` and `url: true`"
                ),
                path,
            ));
        }
        Ok(sources.remove(0))
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

    pub(super) fn expectations(
        &mut self,
        i: &str,
        def: &ExpectDef,
        at: Earlier<'_>,
    ) -> Result<Expectations> {
        self.expectations_in(i, "expect", def, at)
    }

    /// Expectations under `section` (`expect`, `until`) of step `i`.
    fn expectations_in(
        &mut self,
        i: &str,
        section: &str,
        def: &ExpectDef,
        at: Earlier<'_>,
    ) -> Result<Expectations> {
        let status = match &def.status {
            None => Vec::new(),
            Some(StatusDef::One(code)) => vec![*code],
            Some(StatusDef::Any(codes)) => codes.clone(),
        };
        if let Some(bad) = status.iter().find(|c| !(100..=599).contains(*c)) {
            return Err(self.definition(
                format!("{bad} is not an HTTP status code"),
                &["steps", i, section, "status"],
            ));
        }
        let mut headers = Vec::new();
        for (name, raw) in &def.headers {
            let matcher = self.placed(raw, &["steps", i, section, "headers", name], at, true)?;
            headers.push((name.clone(), matcher));
        }
        let mut json = Vec::new();
        for (written, raw) in &def.json {
            let path = ["steps", i, section, "json", written];
            let source = self.source;
            let parsed = self.parse_path(written, || source.key(&path))?;
            let matcher = self.placed(raw, &path, at, true)?;
            json.push((written.clone(), parsed, matcher));
        }
        let body = match &def.body {
            Some(raw) => Some(self.placed(raw, &["steps", i, section, "body"], at, true)?),
            None => None,
        };
        let sha256 = match &def.sha256 {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(hex.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(self.definition(
                    "`sha256` takes the body's SHA-256 as 64 hex digits".into(),
                    &["steps", i, section, "sha256"],
                ));
            }
            None => None,
        };
        let mut cookies = Vec::new();
        for (name, raw) in &def.cookies {
            let matcher = self.placed(raw, &["steps", i, section, "cookies", name], at, true)?;
            cookies.push((name.clone(), matcher));
        }
        let duration = match &def.duration {
            Some(raw) => Some(
                duration_matcher(raw)
                    .map_err(|m| self.definition(m, &["steps", i, section, "duration"]))?,
            ),
            None => None,
        };
        Ok(Expectations {
            status,
            headers,
            json,
            body: body.map(Box::new),
            sha256,
            cookies,
            duration: duration.map(Box::new),
        })
    }

    /// A step's `until:` and `poll:`, checked.
    pub(super) fn until(
        &mut self,
        i: &str,
        def: Option<&ExpectDef>,
        poll: Option<&PollDef>,
        at: Earlier<'_>,
    ) -> Result<Option<Until>> {
        let Some(def) = def else {
            return match poll {
                Some(_) => Err(self.definition(
                    "`poll:` says how `until:` polls; this step has no `until:`".into(),
                    &["steps", i, "poll"],
                )),
                None => Ok(None),
            };
        };
        let expect = self.expectations_in(i, "until", def, at)?;
        let interval = match poll.and_then(|p| p.interval.as_deref()) {
            None => std::time::Duration::from_secs(1),
            Some(text) => crate::duration::parse(text).map_err(|m| {
                self.definition(
                    format!("poll interval: {m}"),
                    &["steps", i, "poll", "interval"],
                )
            })?,
        };
        let backoff = poll.and_then(|p| p.backoff).unwrap_or(1.0);
        if !(1.0..=10.0).contains(&backoff) {
            return Err(self.definition(
                format!("poll backoff: a factor of 1 to 10, got {backoff}"),
                &["steps", i, "poll", "backoff"],
            ));
        }
        let max = poll.and_then(|p| p.max).unwrap_or(10);
        if !(1..=1000).contains(&max) {
            return Err(self.definition(
                format!("poll max: 1 to 1000 attempts, got {max}"),
                &["steps", i, "poll", "max"],
            ));
        }
        Ok(Some(Until {
            expect,
            interval,
            backoff,
            max,
        }))
    }

    /// A step's `when:`, checked: a value that is not a secret (a secret
    /// must not decide what runs: the decision would show it), and a test.
    pub(super) fn when(
        &mut self,
        i: &str,
        def: &WhenDef,
        earlier: &[PlannedStep],
        variables: &IndexMap<String, Value>,
    ) -> Result<When> {
        let path = ["steps", i, "when", "value"];
        let value = self.fill(&path, "when", &def.value, earlier, variables)?;
        let secret = match &value {
            Fill::Secret(_) => true,
            Fill::Capture(step, name) => earlier
                .get(*step)
                .is_some_and(|s| s.captures.iter().any(|c| &c.name == name && c.secret)),
            _ => false,
        };
        if secret {
            return Err(self.definition(
                "`when:` cannot test a secret (the step's running or not would tell its value)"
                    .into(),
                &path,
            ));
        }
        if matches!(value, Fill::Generate(..)) {
            return Err(self.definition(
                "`when:` tests a value known before the step: a literal, an input, a variable or a capture".into(),
                &path,
            ));
        }
        let at = Earlier {
            steps: earlier,
            variables,
        };
        let test = self.placed(&def.is, &["steps", i, "when", "is"], at, false)?;
        Ok(When { value, test })
    }

    /// A matcher whose value, or a predicate's argument, may be a value
    /// source (`{type: capture, step: …, name: …}`): a literal, an input or
    /// a variable is put in now; a capture or a secret when the step runs.
    /// A secret is compared only for equality, alone (anything else would
    /// tell something of its value), and only where `secrets` allows.
    fn placed(
        &mut self,
        raw: &Value,
        path: &[&str],
        at: Earlier<'_>,
        secrets: bool,
    ) -> Result<Matcher> {
        let bare = is_source(raw);
        let map = raw
            .as_object()
            .filter(|m| !bare && predicate::is_predicates(m));
        if !bare && !map.is_some_and(|m| m.values().any(is_source)) {
            return matcher(raw).map_err(|m| self.definition(m, path));
        }
        let entries: Vec<(Option<&String>, &Value)> = match map {
            Some(map) => map.iter().map(|(k, v)| (Some(k), v)).collect(),
            None => vec![(None, raw)],
        };
        let mut args = Vec::new();
        let mut secret_at = None;
        for (name, value) in entries {
            let place: Vec<&str> = match name {
                Some(name) => [path, &[name.as_str()]].concat(),
                None => path.to_vec(),
            };
            if name.is_some_and(|n| n == "exists") {
                return Err(self.definition("`exists` takes true or false".into(), &place));
            }
            if !is_source(value) {
                args.push((name.cloned(), Arg::Fixed(value.clone())));
                continue;
            }
            let arg = match self.fill(&place, "expected value", value, at.steps, at.variables)? {
                Fill::Value(value) => Arg::Fixed(value),
                Fill::Capture(index, capture) => {
                    let step = &at.steps[index];
                    if step.captures.iter().any(|c| c.name == capture && c.secret) {
                        secret_at = Some(place.clone());
                    }
                    Arg::Capture(index, step.id.clone(), capture)
                }
                Fill::Secret(index) => {
                    secret_at = Some(place.clone());
                    Arg::Secret(index, self.secrets[index].name.clone())
                }
                Fill::Generate(..) => {
                    return Err(self.definition(
                        "an expectation compares with a literal, an input, a variable, a capture or a secret, not a value generated anew".into(),
                        &place,
                    ));
                }
            };
            args.push((name.cloned(), arg));
        }
        if let Some(place) = secret_at {
            if !secrets {
                return Err(self.definition(
                    "`when:` cannot compare with a secret (the step's running or not would tell its value)".into(),
                    &place,
                ));
            }
            let equality = args.len() == 1
                && matches!(
                    args[0].0.as_deref(),
                    None | Some("==" | "equals" | "!=" | "not-equals")
                );
            if !equality {
                return Err(Error::Definition(
                    Diagnostic::new("a secret is compared only for equality, alone (any other test would tell something of its value)")
                        .at(self.source.value(&place))
                        .hint("`{type: secret, name: …}` to equal it, or `{\"!=\": {type: secret, name: …}}`"),
                ));
            }
        }
        let fixed: serde_json::Map<String, Value> = args
            .iter()
            .filter_map(|(name, arg)| match (name, arg) {
                (Some(name), Arg::Fixed(value)) => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect();
        if args.iter().all(|(_, arg)| matches!(arg, Arg::Fixed(_))) {
            // Everything is known now: the plain matcher.
            let written = match args.pop() {
                Some((None, Arg::Fixed(value))) => value,
                _ => Value::Object(fixed),
            };
            return matcher(&written).map_err(|m| self.definition(m, path));
        }
        // The arguments known now are checked now.
        predicate::parse(&fixed).map_err(|m| self.definition(m, path))?;
        Ok(Matcher::Deferred(Deferred { args }))
    }
}

/// The value source types an expectation may compare with.
const SOURCES: [&str; 6] = [
    "literal", "input", "variable", "capture", "secret", "generate",
];

/// Whether `raw` is a value source (`{type: capture, …}`), not a value or
/// predicates (`{type: uuid}` names a type to check).
fn is_source(raw: &Value) -> bool {
    raw.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| SOURCES.contains(&t))
}
/// Comparisons on the response time: `{lt: 500ms}`, `{"<": 500}` (a number
/// is milliseconds), every key a comparison.
fn duration_matcher(raw: &Value) -> Result<Matcher, String> {
    const COMPARISONS: [&str; 8] = ["lt", "<", "le", "<=", "gt", ">", "ge", ">="];
    let hint = "`duration` takes comparisons, e.g. `{lt: 500ms}` or `{\">=\": 10, \"<\": 2s}`";
    let map = raw.as_object().filter(|m| !m.is_empty()).ok_or(hint)?;
    let mut millis = serde_json::Map::new();
    for (name, arg) in map {
        if !COMPARISONS.contains(&name.as_str()) {
            return Err(format!("`{name}`: {hint}"));
        }
        let ms = match arg {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => humantime::parse_duration(s.trim())
                .ok()
                .map(|d| d.as_secs_f64() * 1000.0),
            _ => None,
        }
        .ok_or_else(|| {
            let written = arg.as_str().map_or_else(|| arg.to_string(), str::to_string);
            format!("`{name}`: `{written}` is not a duration (`500ms`, `2s`) or milliseconds")
        })?;
        millis.insert(name.clone(), Value::from(ms));
    }
    predicate::parse(&millis).map(Matcher::All)
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
