//! Opt-in `follow_redirects: true` on a step: a 301, 302, 303, 307 or 308
//! with a `Location` is followed (up to [`MAX_HOPS`]), as curl `-L` would,
//! except that a secret never crosses to another origin: there, every
//! header holding a secret (and `Authorization`, `Cookie`) is dropped, and a
//! hop that would carry a secret in its body or URL is not taken.

use reqflo_core::error::Error;
use reqflo_core::message::{BuiltRequest, Header, Received};
use reqflo_core::redact::Redactor;
use zeroize::Zeroizing;

/// Redirects followed at most, in one step.
pub(crate) const MAX_HOPS: usize = 10;

/// Headers a browser drops when a redirect changes origin.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// The request a redirect `response` to `request` asks for, with notes on
/// what was dropped; `None` when the response is not a redirect.
pub(crate) fn next_hop(
    step: &str,
    request: &BuiltRequest,
    response: &Received,
    redactor: &Redactor,
) -> Result<Option<(BuiltRequest, Vec<String>)>, Error> {
    let status = response.status.as_u16();
    if ![301, 302, 303, 307, 308].contains(&status) {
        return Ok(None);
    }
    let Some(location) = response
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let url = request.url.join(location).map_err(|_| {
        Error::Runtime(format!(
            "step `{step}`: the {status} redirect's Location is not a URL"
        ))
    })?;
    let same_origin = url.origin() == request.url.origin();
    let keeps_method =
        matches!(status, 307 | 308) || (status != 303 && request.method != reqwest::Method::POST);
    let method = if keeps_method || request.method == reqwest::Method::HEAD {
        request.method.clone()
    } else {
        reqwest::Method::GET
    };
    let keeps_body = keeps_method && request.body.is_some();
    let mut notes = Vec::new();
    if !same_origin {
        let shown = url.origin().ascii_serialization();
        if redactor.finds(url.as_str().as_bytes()) {
            return Err(Error::Runtime(format!(
                "step `{step}`: the {status} redirect to {shown} would carry a secret in its URL; not followed"
            )));
        }
        if keeps_body && request.body_secret {
            return Err(Error::Runtime(format!(
                "step `{step}`: the {status} redirect to {shown} would re-send a body holding a secret to another origin; not followed"
            )));
        }
    }
    let mut headers = Vec::new();
    for header in &request.headers {
        let name = header.name.as_str();
        let credential = !header.secrets.is_empty() || CREDENTIAL_HEADERS.contains(&name);
        if !same_origin && credential {
            notes.push(format!(
                "redirect to another origin: `{}` was not sent on",
                header.name
            ));
            continue;
        }
        if !keeps_body && matches!(name, "content-type" | "content-length") {
            continue;
        }
        headers.push(Header {
            name: header.name.clone(),
            value: Zeroizing::new(header.value.to_string()),
            secrets: header.secrets.clone(),
        });
    }
    let next = BuiltRequest {
        method,
        url,
        headers,
        body: keeps_body
            .then(|| request.body.as_ref().map(|b| Zeroizing::new(b.to_vec())))
            .flatten(),
        // Across origins nothing secret goes on (dropped above, or refused).
        secrets: if same_origin {
            request.secrets.clone()
        } else {
            Vec::new()
        },
        url_secrets: Vec::new(),
        body_secret: keeps_body && request.body_secret,
        attached: if same_origin {
            request.attached.clone()
        } else {
            Vec::new()
        },
    };
    Ok(Some((next, notes)))
}
