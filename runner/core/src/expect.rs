//! Checking a response against a step's expectations, and taking its captures.

use std::borrow::Cow;

use http::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::message::Received;
use crate::plan::{Arg, CaptureFrom, CaptureRule, Deferred, Expectations, Matcher, SecretArg};
use crate::predicate::same;
use crate::template::push_value_text;

/// What makes a [`Matcher::Deferred`] concrete when its step runs
/// ([`settle`] with the run's captures and secrets).
pub type Settle<'a> = &'a dyn Fn(&Deferred) -> Result<Matcher, String>;

/// What an argument of a deferred matcher is when its step runs.
pub enum ArgValue {
    /// A value that may be shown.
    Value(Value),
    /// A secret (or a secret capture): its name, and its value for the
    /// comparison only.
    Secret(String, SecretString),
}

/// A deferred matcher made concrete, each argument from `value_of`; a
/// planned matcher compares a secret only for equality, alone.
pub fn settle(
    deferred: &Deferred,
    value_of: &dyn Fn(&Arg) -> Result<ArgValue, String>,
) -> Result<Matcher, String> {
    let mut predicates = serde_json::Map::new();
    for (name, arg) in &deferred.args {
        match (value_of(arg)?, name.as_deref()) {
            (ArgValue::Secret(secret, value), name) => {
                return Ok(Matcher::Secret(Box::new(SecretArg {
                    name: secret,
                    equal: !matches!(name, Some("!=" | "not-equals")),
                    value,
                })));
            }
            (ArgValue::Value(value), None) => return Ok(Matcher::Equals(value)),
            (ArgValue::Value(value), Some(name)) => {
                predicates.insert(name.to_string(), value);
            }
        }
    }
    crate::predicate::parse(&predicates).map(Matcher::All)
}

/// A settle for matchers that have nothing deferred (tests, `until:` of a
/// step that compares with no capture).
pub fn nothing_deferred(_: &Deferred) -> Result<Matcher, String> {
    Err("this expectation compares with a value the run does not have".into())
}

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

/// One expectation, checked: what was expected, what was found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checked {
    /// `status`, `header` or `json`.
    pub kind: &'static str,
    /// The header name or JSONPath (empty for status).
    pub subject: String,
    /// What the journey expects, as text.
    pub expected: String,
    /// What the response had, as text; `None` when absent.
    pub actual: Option<String>,
    /// Whether it held.
    pub passed: bool,
    /// A one-line explanation when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Checked {
    fn new(kind: &'static str, subject: &str, expected: String, actual: Option<String>) -> Self {
        Checked {
            kind,
            subject: subject.to_string(),
            expected,
            actual,
            passed: true,
            message: None,
        }
    }

    fn fail(mut self, message: String) -> Self {
        self.passed = false;
        self.message = Some(message);
        self
    }
}

/// Check every expectation; the failed ones carry a message. A deferred
/// matcher is made concrete by `settle` first.
pub fn check(
    expect: &Expectations,
    response: &Received,
    body: &mut Body<'_>,
    settle: Settle<'_>,
) -> Vec<Checked> {
    let mut results = Vec::new();
    let settled = |kind, subject: &str, matcher| concrete(kind, subject, matcher, settle);
    let status = response.status.as_u16();
    if !expect.status.is_empty() {
        let wanted: Vec<String> = expect.status.iter().map(u16::to_string).collect();
        let wanted = wanted.join(" or ");
        let result = Checked::new("status", "", wanted.clone(), Some(status.to_string()));
        results.push(if expect.status.contains(&status) {
            result
        } else {
            result.fail(format!("status: expected {wanted}, got {status}"))
        });
    }
    for (name, matcher) in &expect.headers {
        let actual = header_text(&response.headers, name);
        results.push(match settled("header", name, matcher) {
            Ok(matcher) => check_text("header", name, &matcher, actual),
            Err(failed) => failed,
        });
    }
    for (name, matcher) in &expect.cookies {
        results.push(match settled("cookie", name, matcher) {
            Ok(matcher) => check_text("cookie", name, &matcher, response.cookie(name)),
            Err(failed) => failed,
        });
    }
    if let Some(matcher) = &expect.duration {
        let ms = response.elapsed.as_secs_f64() * 1000.0;
        let found = Value::from((ms * 10.0).round() / 10.0);
        let result = Checked::new(
            "duration",
            "",
            describe(matcher, false),
            Some(format!("{found} ms")),
        );
        let failed = match &**matcher {
            Matcher::All(predicates) => predicates.iter().find(|p| !p.holds(Some(&found))),
            _ => None,
        };
        results.push(match failed {
            None => result,
            Some(p) => result.fail(format!(
                "duration: expected {} ms, took {found} ms",
                p.describe()
            )),
        });
    }
    if let Some(matcher) = &expect.body {
        results.push(match settled("body", "", matcher) {
            Ok(matcher) => check_body(&matcher, body.raw),
            Err(failed) => failed,
        });
    }
    if let Some(want) = &expect.sha256 {
        use sha2::Digest as _;
        let got = hex::encode(sha2::Sha256::digest(body.raw));
        let result = Checked::new("sha256", "", want.clone(), Some(got.clone()));
        results.push(if *want == got {
            result
        } else {
            result.fail(format!("body's SHA-256: expected {want}, got {got}"))
        });
    }
    if !expect.json.is_empty() {
        let Some(json) = body.json() else {
            let mut result = Checked::new("json", "$", "a JSON body".into(), None);
            result = result.fail("body: expected JSON, got something else".into());
            results.push(result);
            return results;
        };
        for (written, path, matcher) in &expect.json {
            let matcher = match settled("json", written, matcher) {
                Ok(matcher) => matcher,
                Err(failed) => {
                    results.push(failed);
                    continue;
                }
            };
            let found = path.query(json).first().cloned();
            let result = Checked::new(
                "json",
                written,
                describe(&matcher, false),
                found.as_ref().map(Value::to_string),
            );
            results.push(match (&*matcher, found) {
                (Matcher::Exists(true), None) => {
                    result.fail(format!("{written}: expected it to exist, it does not"))
                }
                (Matcher::Exists(false), Some(v)) => {
                    result.fail(format!("{written}: expected it to be absent, got {v}"))
                }
                (Matcher::Exists(_), _) => result,
                (Matcher::All(predicates), found) => {
                    match predicates.iter().find(|p| !p.holds(found.as_ref())) {
                        None => result,
                        Some(failed) => {
                            let got = found
                                .map(|f| f.to_string())
                                .unwrap_or_else(|| "nothing".into());
                            result.fail(format!(
                                "{written}: expected {}, got {got}",
                                failed.describe()
                            ))
                        }
                    }
                }
                (Matcher::Equals(want), found) => {
                    if found.as_ref().is_some_and(|f| same(want, f)) {
                        result
                    } else {
                        let got = found
                            .map(|f| f.to_string())
                            .unwrap_or_else(|| "nothing".into());
                        result.fail(format!("{written}: expected {want}, got {got}"))
                    }
                }
                (Matcher::Secret(secret), found) => {
                    let text = found.as_ref().map(|f| {
                        let mut text = String::new();
                        push_value_text(f, &mut text);
                        text
                    });
                    if secret_holds(secret, text.as_deref()) {
                        result
                    } else {
                        let got = found
                            .map(|f| f.to_string())
                            .unwrap_or_else(|| "nothing".into());
                        result.fail(format!(
                            "{written}: expected {}, got {got}",
                            describe_secret(secret)
                        ))
                    }
                }
                (Matcher::Deferred(_), _) => result.fail(format!("{written}: not settled")),
            });
        }
    }
    results
}

/// A matcher as it stands when the step runs; or, failed, why it cannot be.
fn concrete<'m>(
    kind: &'static str,
    subject: &str,
    matcher: &'m Matcher,
    settle: Settle<'_>,
) -> Result<Cow<'m, Matcher>, Checked> {
    match matcher {
        Matcher::Deferred(deferred) => settle(deferred).map(Cow::Owned).map_err(|why| {
            let at = if subject.is_empty() {
                kind.to_string()
            } else {
                format!("{kind} {subject}")
            };
            Checked::new(kind, subject, "a value from the run".into(), None)
                .fail(format!("{at}: {why}"))
        }),
        other => Ok(Cow::Borrowed(other)),
    }
}

/// Whether `found` (`None`: nothing there) passes `matcher` (a deferred
/// one made concrete by `settle`; one that cannot be does not hold).
pub fn holds(matcher: &Matcher, found: Option<&Value>, settle: Settle<'_>) -> bool {
    match matcher {
        Matcher::Exists(want) => found.is_some() == *want,
        Matcher::Equals(want) => found.is_some_and(|f| same(want, f)),
        Matcher::All(predicates) => predicates.iter().all(|p| p.holds(found)),
        Matcher::Secret(secret) => {
            let text = found.map(|f| {
                let mut text = String::new();
                push_value_text(f, &mut text);
                text
            });
            secret_holds(secret, text.as_deref())
        }
        Matcher::Deferred(deferred) => {
            settle(deferred).is_ok_and(|concrete| holds(&concrete, found, settle))
        }
    }
}

/// Whether the text found (`None`: nothing there) equals the secret, or
/// not, as `secret` asks.
fn secret_holds(secret: &SecretArg, found: Option<&str>) -> bool {
    match found {
        None => !secret.equal,
        Some(found) => (found == secret.value.expose_secret()) == secret.equal,
    }
}

/// A secret comparison as a message says it: by name, never by value.
fn describe_secret(secret: &SecretArg) -> String {
    match secret.equal {
        true => format!("the secret {}", secret.name),
        false => format!("anything but the secret {}", secret.name),
    }
}

/// A text the response has (a header, a cookie) against `matcher`.
fn check_text(
    kind: &'static str,
    name: &str,
    matcher: &Matcher,
    actual: Option<String>,
) -> Checked {
    let result = Checked::new(kind, name, describe(matcher, true), actual.clone());
    let got = || {
        actual
            .as_ref()
            .map(|a| format!("`{a}`"))
            .unwrap_or_else(|| "nothing".into())
    };
    match (matcher, &actual) {
        (Matcher::Exists(true), None) => {
            result.fail(format!("{kind} {name}: expected it to exist, it does not"))
        }
        (Matcher::Exists(false), Some(_)) => result.fail(format!(
            "{kind} {name}: expected it to be absent, got {}",
            got()
        )),
        (Matcher::Exists(_), _) => result,
        (Matcher::All(predicates), actual) => {
            let found = actual.clone().map(Value::String);
            match predicates.iter().find(|p| !p.holds(found.as_ref())) {
                None => result,
                Some(failed) => result.fail(format!(
                    "{kind} {name}: expected {}, got {}",
                    failed.describe(),
                    got()
                )),
            }
        }
        (Matcher::Equals(want), actual) => {
            let mut wanted = String::new();
            push_value_text(want, &mut wanted);
            if actual.as_deref() == Some(wanted.as_str()) {
                result
            } else {
                result.fail(format!("{kind} {name}: expected `{wanted}`, got {}", got()))
            }
        }
        (Matcher::Secret(secret), actual) => {
            if secret_holds(secret, actual.as_deref()) {
                result
            } else {
                result.fail(format!(
                    "{kind} {name}: expected {}, got {}",
                    describe_secret(secret),
                    got()
                ))
            }
        }
        (Matcher::Deferred(_), _) => result.fail(format!("{kind} {name}: not settled")),
    }
}

/// The body as text against `matcher`; a failure quotes its start.
fn check_body(matcher: &Matcher, raw: &[u8]) -> Checked {
    let text = String::from_utf8_lossy(raw);
    let shown: String = text.chars().take(120).collect();
    let shown = if shown.len() < text.len() {
        format!("`{shown}…` ({} bytes)", raw.len())
    } else {
        format!("`{shown}`")
    };
    let result = Checked::new("body", "", describe(matcher, true), Some(shown.clone()));
    let found = Value::String(text.into_owned());
    let passed = match matcher {
        Matcher::Exists(want) => raw.is_empty() != *want,
        Matcher::Equals(want) => {
            let mut wanted = String::new();
            push_value_text(want, &mut wanted);
            found.as_str() == Some(wanted.as_str())
        }
        Matcher::All(predicates) => predicates.iter().all(|p| p.holds(Some(&found))),
        Matcher::Secret(secret) => secret_holds(secret, found.as_str()),
        Matcher::Deferred(_) => false,
    };
    if passed {
        return result;
    }
    let wanted = match matcher {
        Matcher::All(predicates) => predicates
            .iter()
            .find(|p| !p.holds(Some(&found)))
            .map(crate::predicate::Predicate::describe)
            .unwrap_or_default(),
        other => describe(other, true),
    };
    result.fail(format!("body: expected {wanted}, got {shown}"))
}

/// An expectation as text: `exists`, `absent`, or the value (headers unquoted).
fn describe(matcher: &Matcher, text: bool) -> String {
    match matcher {
        Matcher::Exists(true) => "exists".into(),
        Matcher::Exists(false) => "absent".into(),
        Matcher::All(predicates) => predicates
            .iter()
            .map(crate::predicate::Predicate::describe)
            .collect::<Vec<_>>()
            .join(" and "),
        Matcher::Equals(value) if text => {
            let mut out = String::new();
            push_value_text(value, &mut out);
            out
        }
        Matcher::Equals(value) => value.to_string(),
        Matcher::Secret(secret) => describe_secret(secret),
        Matcher::Deferred(_) => "a value from the run".into(),
    }
}

/// What a capture reads, and what each of its filters makes of it, in
/// order: the last is the captured value. A secret capture's redactor
/// learns them all, so they come back even when a filter fails (with why,
/// which never holds a value).
pub fn capture_steps(
    rule: &CaptureRule,
    response: &Received,
    body: &mut Body<'_>,
) -> (Vec<Value>, Result<(), String>) {
    let text = |body: &Body<'_>| String::from_utf8_lossy(body_raw(body)).into_owned();
    let read = match &rule.from {
        CaptureFrom::Header(name) => header_text(&response.headers, name)
            .map(Value::String)
            .ok_or_else(|| format!("the response has no `{name}` header")),
        CaptureFrom::Json(written, path) => match body.json() {
            None => Err("the response body is not JSON".to_string()),
            Some(json) => path
                .query(json)
                .first()
                .cloned()
                .ok_or_else(|| format!("`{written}` matched nothing in the response")),
        },
        CaptureFrom::Cookie(name) => response
            .cookie(name)
            .map(Value::String)
            .ok_or_else(|| format!("the response sets no cookie `{name}`")),
        CaptureFrom::Regex(regex) => regex
            .first(&text(body))
            .map(Value::String)
            .ok_or_else(|| format!("`{}` matched nothing in the body", regex.written())),
        CaptureFrom::Status => Ok(Value::from(response.status.as_u16())),
        CaptureFrom::Duration => Ok(Value::from(response.elapsed.as_millis() as u64)),
        CaptureFrom::Body => Ok(Value::String(text(body))),
        CaptureFrom::Url => Ok(Value::String(response.url.to_string())),
    };
    let mut steps = match read {
        Ok(value) => vec![value],
        Err(why) => return (Vec::new(), Err(why)),
    };
    for filter in &rule.filters {
        let applied = steps.last().map(|last| filter.apply(last));
        match applied {
            Some(Ok(next)) => steps.push(next),
            Some(Err(why)) => return (steps, Err(why)),
            None => break,
        }
    }
    (steps, Ok(()))
}

/// The captured value ([`capture_steps`]' last).
pub fn capture(
    rule: &CaptureRule,
    response: &Received,
    body: &mut Body<'_>,
) -> Result<Value, String> {
    let (mut steps, outcome) = capture_steps(rule, response, body);
    outcome?;
    Ok(steps.pop().unwrap_or(Value::Null))
}

fn body_raw<'a>(body: &'a Body<'_>) -> &'a [u8] {
    body.raw
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
        _ => Vec::new(),
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
