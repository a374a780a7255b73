//! The wire: a GET or a form POST through wasi:http, which the host filters by
//! `grants.hosts` and bounds in size and time. Only built into the component.

use wstd::http::error::ErrorCode;
use wstd::http::{Body, BodyExt, Client, Request, Response};
use wstd::runtime::block_on;

use crate::wire::{Answer, Failure, MAX_BODY_BYTES, Transport};

/// [`Transport`] over the host's wasi:http outgoing handler.
pub struct WasiHttp;

impl Transport for WasiHttp {
    fn get(&mut self, url: &str, token: &str) -> Result<Answer, Failure> {
        let request = Request::get(url)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json")
            .body(())
            .map_err(|_| invalid_request())?;
        block_on(send(request))
    }

    fn post_form(&mut self, url: &str, form: &str) -> Result<Answer, Failure> {
        let request = Request::post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form.as_bytes().to_vec())
            .map_err(|_| invalid_request())?;
        block_on(send(request))
    }
}

/// URLs are built from validated origins and checked segments, and tokens
/// were checked to be header-safe, so this is a bug, not the user's.
fn invalid_request() -> Failure {
    Failure::Broken("reqflo built an invalid request".into())
}

async fn send<B: Into<Body>>(request: Request<B>) -> Result<Answer, Failure> {
    let response = Client::new()
        .send(request)
        .await
        .map_err(|e| classify(&e))?;
    read(response).await
}

async fn read(response: Response<Body>) -> Result<Answer, Failure> {
    let status = response.status().as_u16();
    // A Location that is not ASCII is kept as "" so that it reads as
    // unreadable rather than absent.
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    // Error bodies are read too: Azure says why (a code) only there.
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
        ErrorCode::HttpRequestBodySize(_) => "request too large",
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
