//! Sending a built request and reading its response within limits.

use std::time::{Duration, Instant};

use reqflo_core::error::Error;
use reqflo_core::message::{BuiltRequest, Received};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Url};

/// How sending a request failed.
pub enum SendError {
    /// Nothing usable came back (refused, reset, timeout, TLS, DNS): may be retried.
    Network(Error),
    /// The request itself is unusable; retrying cannot help.
    Request(Error),
}

impl SendError {
    /// The error, whatever its kind.
    pub fn into_error(self) -> Error {
        match self {
            SendError::Network(e) | SendError::Request(e) => e,
        }
    }
}

/// Send `request` and read its response body chunk by chunk, keeping at most
/// `max_body` bytes: a longer body is cut there and the connection dropped,
/// so memory stays bounded whatever the server sends.
pub async fn send(
    step: &str,
    client: &Client,
    request: &BuiltRequest,
    timeout: Duration,
    max_body: usize,
) -> std::result::Result<Received, SendError> {
    let mut headers = HeaderMap::new();
    for header in &request.headers {
        let value = HeaderValue::from_str(&header.value).map_err(|_| {
            SendError::Request(Error::Runtime(format!(
                "step `{step}`: header `{}` has a value that is not valid in HTTP",
                header.name
            )))
        })?;
        headers.append(header.name.clone(), value);
    }
    let mut builder = client
        .request(request.method.clone(), request.url.clone())
        .headers(headers)
        .timeout(timeout);
    if let Some(body) = &request.body {
        builder = builder.body(body.to_vec());
    }
    let started = Instant::now();
    let mut response = builder
        .send()
        .await
        .map_err(|e| SendError::Network(network_error(step, &request.url, &e, timeout)))?;
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let url = response.url().clone();
    // Reserved once from Content-Length (never beyond the limit) so growing
    // the buffer does not briefly hold two copies of it.
    let expected = response
        .content_length()
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut body = Vec::with_capacity(expected.min(max_body));
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SendError::Network(network_error(step, &request.url, &e, timeout)))?
    {
        let room = max_body.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    // Dropping the response mid-body closes the connection: the rest is never read.
    drop(response);
    Ok(Received {
        version,
        status,
        headers,
        body: body.into(),
        truncated,
        elapsed: started.elapsed(),
        url,
    })
}

/// One line that says what went wrong on the wire.
fn network_error(step: &str, url: &Url, e: &reqwest::Error, timeout: Duration) -> Error {
    let target = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    // The innermost cause says what happened (an io or TLS error); it holds
    // no URL, so no query string with a secret in it.
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut deepest = String::new();
    while let Some(s) = source {
        deepest = s.to_string();
        source = s.source();
    }
    let why = if e.is_timeout() {
        format!(
            "no response within {}",
            reqflo_core::duration::human(timeout)
        )
    } else if e.is_connect() && deepest.contains("certificate") {
        format!("TLS certificate not accepted: {deepest}")
    } else if e.is_connect() {
        format!("cannot connect: {deepest}")
    } else if e.is_body() || e.is_decode() {
        format!("the response body was cut off: {deepest}")
    } else {
        let mut text = e.to_string();
        if let Some(at) = text.find(" for url (") {
            text.truncate(at);
        }
        text
    };
    Error::Runtime(format!("step `{step}`: request to {target} failed: {why}"))
}
