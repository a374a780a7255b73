//! Judging a response: expectations first, then captures; a secret capture
//! is learned by the run's redactor before anything can show it.

use indexmap::IndexMap;
use secrecy::SecretString;
use serde_json::Value;

use reqflo_core::expect::{self, Body};
use reqflo_core::message::Received;

use reqflo_core::expect::ArgValue;
use reqflo_core::plan::{Arg, Deferred, Matcher, PlannedStep};
use reqflo_core::redact::Redactor;

use crate::context::RunSettings;
use reqflo_core::report::{Outcome, StepReport};
use reqflo_core::template::push_value_text;
use reqflo_sandbox::secrets::{Binding, MIN_SECRET_BYTES, SecretId, SecretStore};

/// A value kept from a response.
pub(crate) enum Captured {
    Value(Value),
    Secret(SecretId),
}

/// What the step's run knows that an expectation may compare with: the
/// captures of the steps before, and the journey's secrets.
#[derive(Clone, Copy)]
pub(crate) struct Known<'a> {
    pub(crate) captures: &'a [IndexMap<String, Captured>],
    pub(crate) secret_ids: &'a [SecretId],
}

impl Known<'_> {
    /// A deferred matcher made concrete with what the run knows now.
    pub(crate) fn settle(
        &self,
        deferred: &Deferred,
        store: &SecretStore,
    ) -> Result<Matcher, String> {
        let secret = |name: &str, id: SecretId| {
            ArgValue::Secret(
                name.to_string(),
                SecretString::from(store.reveal(id).to_owned()),
            )
        };
        expect::settle(deferred, &|arg| match arg {
            Arg::Fixed(value) => Ok(ArgValue::Value(value.clone())),
            Arg::Capture(index, step, name) => {
                match self.captures.get(*index).and_then(|c| c.get(name)) {
                    Some(Captured::Value(value)) => Ok(ArgValue::Value(value.clone())),
                    Some(Captured::Secret(id)) => Ok(secret(name, *id)),
                    None => Err(format!(
                        "step `{step}` took no capture `{name}` (it was skipped)"
                    )),
                }
            }
            Arg::Secret(index, name) => self
                .secret_ids
                .get(*index)
                .map(|id| secret(name, *id))
                .ok_or_else(|| format!("the secret {name} is not resolved")),
        })
    }
}

/// Check expectations, then take captures; sets the record's outcome.
#[allow(clippy::too_many_arguments)]
pub(crate) fn judge(
    settings: &RunSettings,
    step: &PlannedStep,
    response: &Received,
    capture_binding: &Binding,
    known: Known<'_>,
    store: &mut SecretStore,
    kept: &mut IndexMap<String, Captured>,
    record: &mut StepReport,
) {
    let redactor = &*settings.redactor;
    // A cut body is never parsed: JSON of its first bytes would fail with a
    // misleading message, or worse, match. Header and status checks still run.
    let needs_body = !step.expect.json.is_empty()
        || step.expect.body.is_some()
        || step.expect.sha256.is_some()
        || step.captures.iter().any(|c| c.from.needs_body());
    if response.truncated && needs_body {
        record.expectations = expect::check(
            &reqflo_core::plan::Expectations {
                status: step.expect.status.clone(),
                headers: step.expect.headers.clone(),
                ..Default::default()
            },
            response,
            &mut Body::new(&[]),
            &|d| known.settle(d, store),
        );
        record.expectations.push(expect::Checked {
            kind: "json",
            subject: "$".into(),
            expected: "the whole body".into(),
            actual: Some(format!("its first {} bytes", response.body.len())),
            passed: false,
            message: Some(format!(
                "body: larger than {limit}, so body and JSON expectations and captures cannot be checked (raise {limit})",
                limit = settings.max_body_setting
            )),
        });
        record.outcome = Outcome::Failed;
        return;
    }
    let mut body = Body::new(&response.body);
    // Every secret capture the response allows is learned first, so neither an
    // expectation failure quoting it nor the `-v` dump can show it.
    for rule in step.captures.iter().filter(|r| r.secret) {
        // What it reads and what each filter makes of it: a value a filter
        // took apart (a token inside a header, a decoded payload) is as
        // secret as the whole.
        let (steps, _) = expect::capture_steps(rule, response, &mut body);
        for value in &steps {
            learn(redactor, &rule.name, value);
        }
        for single in expect::header_values(rule, response) {
            redactor.add(&rule.name, single.as_bytes());
        }
    }
    record.expectations = expect::check(&step.expect, response, &mut body, &|d| {
        known.settle(d, store)
    });
    redact_checks(redactor, &mut record.expectations);
    if record.expectations.iter().any(|c| !c.passed) {
        record.outcome = Outcome::Failed;
        return;
    }
    for rule in &step.captures {
        let value = match expect::capture(rule, response, &mut body) {
            Ok(value) => value,
            Err(why) => {
                record.error = Some(format!("capture `{}`: {why}", rule.name));
                return;
            }
        };
        if rule.secret {
            let text = learn(redactor, &rule.name, &value);
            if text.len() < MIN_SECRET_BYTES {
                record.error = Some(format!(
                    "capture `{}`: a secret capture must be at least {MIN_SECRET_BYTES} bytes to be redacted safely",
                    rule.name
                ));
                return;
            }
            let id = store.insert(
                &rule.name,
                SecretString::from(text),
                capture_binding.clone(),
            );
            kept.insert(rule.name.clone(), Captured::Secret(id));
        } else {
            kept.insert(rule.name.clone(), Captured::Value(value));
        }
    }
    record.outcome = Outcome::Passed;
}

/// Redact what checks quote of the response (a secret shows as its marker).
pub(crate) fn redact_checks(redactor: &Redactor, checks: &mut [expect::Checked]) {
    for checked in checks {
        checked.expected = redactor.redact(&checked.expected).into_owned();
        checked.actual = checked
            .actual
            .as_deref()
            .map(|a| redactor.redact(a).into_owned());
        checked.message = checked
            .message
            .as_deref()
            .map(|m| redactor.redact(m).into_owned());
    }
}

/// Teach the redactor a captured secret; returns its text form.
fn learn(redactor: &Redactor, name: &str, value: &Value) -> String {
    let mut text = String::new();
    push_value_text(value, &mut text);
    if text.len() >= MIN_SECRET_BYTES {
        redactor.add(name, text.as_bytes());
    }
    text
}
