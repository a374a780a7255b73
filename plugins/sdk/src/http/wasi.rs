//! The wire: one request through wasi:http. Only built into the component.

use wstd::http::error::ErrorCode;
use wstd::http::{BodyExt, Client, Request as HttpRequest};
use wstd::runtime::block_on;

use super::{ErrorBody, Failure, Limits, Method, Request, Response};

/// Send `request` through the host's wasi:http outgoing handler and read the
/// answer within `limits`. Blocks until the answer is read or fails.
pub fn send(request: Request, limits: Limits) -> Result<Response, Failure> {
    block_on(send_async(request, limits))
}

async fn send_async(request: Request, limits: Limits) -> Result<Response, Failure> {
    let mut builder = match request.method {
        Method::Get => HttpRequest::get(&request.url),
        Method::Post => HttpRequest::post(&request.url),
        Method::Put => HttpRequest::put(&request.url),
    };
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let http_request = builder
        .body(request.body)
        // Providers build URLs from checked origins and check header values,
        // so this is a bug in the provider, not the user's.
        .map_err(|_| Failure::Broken("the provider built an invalid request".into()))?;
    let response = Client::new()
        .send(http_request)
        .await
        .map_err(|e| classify(&e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let success = (200..300).contains(&status);
    let (cap, fail_when_larger) = match (success, limits.error_body) {
        (true, _) | (false, ErrorBody::Read) => (limits.max_body_bytes, true),
        (false, ErrorBody::UpTo(cap)) => (cap, false),
        (false, ErrorBody::Skip) => {
            return Ok(Response {
                status,
                headers,
                body: Vec::new(),
            });
        }
    };
    // An error body too big to be the server's error JSON is still that
    // error, told by its status alone.
    let too_large = |headers| {
        if fail_when_larger {
            Err(Failure::TooLarge)
        } else {
            Ok(Response {
                status,
                headers,
                body: Vec::new(),
            })
        }
    };
    let body = response.into_body();
    if body
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return too_large(headers);
    }
    let mut stream = body.into_boxed_body();
    let mut bytes = Vec::new();
    while let Some(frame) = stream.frame().await {
        let frame = frame.map_err(|e| classify(&e))?;
        if let Ok(data) = frame.into_data() {
            // Checked as it arrives: a missing or lying Content-Length must not
            // let a server fill the sandbox's memory.
            if bytes.len() + data.len() > cap {
                return too_large(headers);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}

/// Reduce a wstd error to what the user can act on.
fn classify(error: &wstd::http::Error) -> Failure {
    if let Some(code) = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<ErrorCode>())
    {
        return of_code(code);
    }
    // wstd reports a failed body stream as text only (the host's debug string
    // of the error code), so the code's name is all there is to go on.
    let text = format!("{error:#}");
    if text.to_ascii_lowercase().contains("timeout") {
        Failure::Timeout
    } else if text.contains("BodySize") {
        Failure::TooLarge
    } else {
        Failure::Broken("the answer broke off".into())
    }
}

fn of_code(code: &ErrorCode) -> Failure {
    let kind = match code {
        ErrorCode::HttpRequestDenied => return Failure::Denied,
        ErrorCode::ConnectionRefused => return Failure::Refused,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => return Failure::Timeout,
        ErrorCode::HttpResponseBodySize(_) => return Failure::TooLarge,
        ErrorCode::DnsTimeout | ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            "DNS lookup failed"
        }
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => {
            "destination unreachable"
        }
        ErrorCode::DestinationIpProhibited => "destination address prohibited",
        ErrorCode::ConnectionTerminated => "connection closed early",
        ErrorCode::TlsCertificateError => "TLS certificate not accepted",
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => "TLS error",
        ErrorCode::HttpResponseIncomplete => "incomplete answer",
        ErrorCode::HttpProtocolError => "HTTP protocol error",
        ErrorCode::HttpResponseHeaderSectionSize(_) | ErrorCode::HttpResponseHeaderSize(_) => {
            "answer headers too large"
        }
        ErrorCode::HttpRequestBodySize(_) => "request too large",
        other => return Failure::Broken(variant_name(other)),
    };
    Failure::Broken(kind.to_string())
}

/// `ErrorCode::InternalError(Some("…"))` → `InternalError`: the name says
/// what happened; the payload may carry text from anywhere.
fn variant_name(code: &ErrorCode) -> String {
    let debug = format!("{code:?}");
    let name = debug.strip_prefix("ErrorCode::").unwrap_or(&debug);
    name.split(['(', ' ', '{'])
        .next()
        .unwrap_or("HTTP error")
        .to_string()
}
