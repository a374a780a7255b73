//! The wire: one POST through wasi:http, which the host filters by
//! `grants.hosts` and bounds in size and time. Only built into the component.

use wstd::http::BodyExt;
use wstd::http::error::ErrorCode;
use wstd::http::{Client, Request as HttpRequest};
use wstd::runtime::block_on;

use crate::wire::{Answer, Failure, MAX_BODY_BYTES, Request, Transport};

/// [`Transport`] over the host's wasi:http outgoing handler.
pub struct WasiHttp;

impl Transport for WasiHttp {
    fn send(&mut self, request: Request) -> Result<Answer, Failure> {
        block_on(send(request))
    }
}

async fn send(request: Request) -> Result<Answer, Failure> {
    let mut builder = HttpRequest::post(&request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let http_request = builder
        .body(request.body)
        // The URL comes from a validated endpoint and every header value was
        // checked (or made by the signer) to be header-safe, so this is a
        // bug, not the user's.
        .map_err(|_| Failure::Broken("reqflo built an invalid request".into()))?;
    let response = Client::new()
        .send(http_request)
        .await
        .map_err(|e| classify(&e))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        // A value that is not ASCII is kept as "" so that it reads as
        // unreadable rather than absent.
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_string())
    };
    let error_type = header("x-amzn-errortype");
    let location = header("location");
    // Error bodies are read too: they carry the error's type (`__type`).
    // They are parsed for that alone and never shown.
    let body = response.into_body();
    if body
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(Failure::TooLarge);
    }
    let mut stream = body.into_boxed_body();
    let mut bytes = Vec::new();
    while let Some(frame) = stream.frame().await {
        let frame = frame.map_err(|e| classify(&e))?;
        if let Ok(data) = frame.into_data() {
            // Checked as it arrives: a missing or lying Content-Length must not
            // let a server fill the sandbox's memory.
            if bytes.len() + data.len() > MAX_BODY_BYTES {
                return Err(Failure::TooLarge);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Answer {
        status,
        error_type,
        location,
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
