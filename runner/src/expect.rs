//! Checking a response against a step's expectations, and taking its captures.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::http::Received;
use crate::plan::{CaptureFrom, CaptureRule, Expectations, Matcher};
use crate::template::push_value_text;

/// A response body parsed as JSON once, on first need.
pub struct Body<'r> {
    raw: &'r [u8],
    parsed: Option<Option<Value>>,
}

impl<'r> Body<'r> {
    /// Wrap a response body.
    pub fn new(raw: &'r [u8]) -> Self {
        Body { raw, parsed: None }
    }

    fn json(&mut self) -> Option<&Value> {
        let raw = self.raw;
        self.parsed
            .get_or_insert_with(|| serde_json::from_slice(raw).ok())
            .as_ref()
    }
}

/// Every expectation that failed, as a line each. Empty means passed.
pub fn check(expect: &Expectations, response: &Received, body: &mut Body<'_>) -> Vec<String> {
    let mut failures = Vec::new();
    let status = response.status.as_u16();
    if !expect.status.is_empty() && !expect.status.contains(&status) {
        let wanted: Vec<String> = expect.status.iter().map(u16::to_string).collect();
        failures.push(format!(
            "status: expected {}, got {status}",
            wanted.join(" or ")
        ));
    }
    for (name, matcher) in &expect.headers {
        let actual = header_text(&response.headers, name);
        match (matcher, actual) {
            (Matcher::Exists(true), None) => {
                failures.push(format!("header {name}: expected it to exist, it does not"))
            }
            (Matcher::Exists(false), Some(v)) => failures.push(format!(
                "header {name}: expected it to be absent, got `{v}`"
            )),
            (Matcher::Exists(_), _) => {}
            (Matcher::Equals(want), actual) => {
                let mut wanted = String::new();
                push_value_text(want, &mut wanted);
                if actual.as_deref() != Some(wanted.as_str()) {
                    failures.push(format!(
                        "header {name}: expected `{wanted}`, got {}",
                        actual
                            .map(|a| format!("`{a}`"))
                            .unwrap_or_else(|| "nothing".into())
                    ));
                }
            }
        }
    }
    if !expect.json.is_empty() {
        match body.json() {
            None => failures.push("body: expected JSON, got something else".into()),
            Some(json) => {
                for (written, path, matcher) in &expect.json {
                    let found = path.query(json).first().cloned();
                    match (matcher, found) {
                        (Matcher::Exists(true), None) => {
                            failures.push(format!("{written}: expected it to exist, it does not"))
                        }
                        (Matcher::Exists(false), Some(v)) => {
                            failures.push(format!("{written}: expected it to be absent, got {v}"))
                        }
                        (Matcher::Exists(_), _) => {}
                        (Matcher::Equals(want), found) => {
                            if !found.as_ref().is_some_and(|f| same(want, f)) {
                                failures.push(format!(
                                    "{written}: expected {want}, got {}",
                                    found
                                        .map(|f| f.to_string())
                                        .unwrap_or_else(|| "nothing".into())
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    failures
}

/// The value a capture rule takes from a response, or why it cannot.
pub fn capture(
    rule: &CaptureRule,
    response: &Received,
    body: &mut Body<'_>,
) -> Result<Value, String> {
    match &rule.from {
        CaptureFrom::Header(name) => header_text(&response.headers, name)
            .map(Value::String)
            .ok_or_else(|| format!("the response has no `{name}` header")),
        CaptureFrom::Json(written, path) => {
            let json = body
                .json()
                .ok_or_else(|| "the response body is not JSON".to_string())?;
            path.query(json)
                .first()
                .cloned()
                .ok_or_else(|| format!("`{written}` matched nothing in the response"))
        }
    }
}

/// Each value of the header a header capture reads, one by one (a `-v` dump
/// prints them on separate lines).
pub fn header_values(rule: &CaptureRule, response: &Received) -> Vec<String> {
    match &rule.from {
        CaptureFrom::Header(name) => response
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect(),
        CaptureFrom::Json(..) => Vec::new(),
    }
}

/// Values compare as JSON, except that numbers compare by value (`1` = `1.0`).
fn same(want: &Value, found: &Value) -> bool {
    match (want, found) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => a.as_f64() == b.as_f64(),
        },
        _ => want == found,
    }
}

/// All values of a header joined with `, `, as HTTP allows.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}
