//! What reports keep of a step, its request and its response: redacted,
//! and cut.

use serde_json::Value;

use reqflo_core::message::{BuiltRequest, Received};
use reqflo_core::plan::PlannedStep;
use reqflo_core::redact::Redactor;
use reqflo_core::report::{MessageReport, Outcome, StepReport};

/// Report bodies are cut here (after redaction).
const REPORT_BODY_BYTES: usize = 64 * 1024;

/// A JSON value with every string redacted.
pub(crate) fn redact_value(redactor: &Redactor, value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(redactor.redact(s).into_owned()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| redact_value(redactor, item))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (redactor.redact(k).into_owned(), redact_value(redactor, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A body for a report: redacted whole, then cut.
fn body_report(redactor: &Redactor, body: &[u8], keep: bool) -> (Option<String>, bool) {
    if !keep || body.is_empty() {
        return (None, false);
    }
    let redacted = redactor.redact_bytes(body);
    let cut = redacted.len() > REPORT_BODY_BYTES;
    let shown = &redacted[..redacted.len().min(REPORT_BODY_BYTES)];
    (Some(String::from_utf8_lossy(shown).into_owned()), cut)
}

/// What a step's line and reports show of its request; headers and body only
/// when `whole` (a report will be written).
pub(crate) fn request_report(
    redactor: &Redactor,
    request: &BuiltRequest,
    whole: bool,
) -> MessageReport {
    let body = request.body.as_deref().map(Vec::as_slice).unwrap_or(&[]);
    let (text, truncated) = body_report(redactor, body, whole);
    let headers = match whole {
        true => request
            .headers
            .iter()
            .map(|h| [h.name.to_string(), redactor.redact(&h.value).into_owned()])
            .collect(),
        false => Vec::new(),
    };
    MessageReport {
        method: Some(request.method.to_string()),
        url: Some(redactor.redact(request.url.as_str()).into_owned()),
        status: None,
        http_version: None,
        headers,
        body: text,
        body_bytes: body.len(),
        body_truncated: truncated,
    }
}

/// What a step's line and reports show of its response; headers and body
/// only when `whole` (a report will be written).
pub(crate) fn response_report(
    redactor: &Redactor,
    response: &Received,
    whole: bool,
) -> MessageReport {
    let (text, truncated) = body_report(redactor, &response.body, whole);
    let headers = match whole {
        true => response
            .headers
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes());
                [n.to_string(), redactor.redact(&value).into_owned()]
            })
            .collect(),
        false => Vec::new(),
    };
    MessageReport {
        method: None,
        url: None,
        status: Some(response.status.as_u16()),
        http_version: Some(format!("{:?}", response.version)),
        headers,
        body: text,
        body_bytes: response.body.len(),
        body_truncated: truncated || response.truncated,
    }
}

/// A step's record before anything is known of it but how it ended.
pub(crate) fn step_record(step: &PlannedStep, outcome: Outcome, start_ms: f64) -> StepReport {
    StepReport {
        id: step.id.clone(),
        template: step.template.name.clone(),
        outcome,
        start_ms,
        duration_ms: 0.0,
        request: None,
        response: None,
        captures: Vec::new(),
        expectations: Vec::new(),
        error: None,
        attempts: 0,
        notes: Vec::new(),
    }
}
