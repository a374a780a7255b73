//! Network access for plugins: every `wasi:http` request a plugin makes is
//! checked against its `grants.hosts` and sent by the host, never by the guest.
//!
//! The host sends through reqwest (rustls, webpki roots plus an optional CA
//! file per provider), follows no redirects, bounds the time of each request
//! and the size of each response, and records every refused destination so
//! the resolution fails with a message naming it, whatever the plugin says.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use reqflo_core::grant::{HostGrant, Target, cleartext_refusal};

/// Largest request body a plugin may send.
const MAX_REQUEST_BYTES: usize = 1 << 20;
/// Largest response body handed to a plugin; more is an error, not a truncation.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// A provider's network authority, shared by every instance of it in a run.
#[derive(Debug)]
pub struct NetPolicy {
    grants: Vec<HostGrant>,
    /// `allow_http: true` on the provider: plain HTTP beyond loopback is meant.
    allow_http: bool,
    ca_file: Option<PathBuf>,
    /// Upper bound on one request, whatever the plugin asks for.
    timeout: Duration,
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl NetPolicy {
    /// The authority `grants` give, each request bounded by `timeout`;
    /// plain HTTP beyond loopback only with `allow_http`.
    pub fn new(
        grants: Vec<HostGrant>,
        allow_http: bool,
        ca_file: Option<PathBuf>,
        timeout: Duration,
    ) -> NetPolicy {
        NetPolicy {
            grants,
            allow_http,
            ca_file,
            timeout,
            client: OnceLock::new(),
        }
    }

    /// The client is built on first use: most providers never touch the network.
    fn client(&self) -> Result<reqwest::Client, String> {
        self.client
            .get_or_init(|| build_client(self.ca_file.as_deref()))
            .clone()
    }

    fn granted(&self) -> String {
        if self.grants.is_empty() {
            "it has no grants.hosts".to_string()
        } else {
            let list: Vec<String> = self.grants.iter().map(ToString::to_string).collect();
            format!("its grants.hosts are {}", list.join(", "))
        }
    }
}

fn build_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        // Each hop is the plugin's own request, checked against its grants.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would widen what the plugin reaches.
        .no_proxy()
        .use_rustls_tls();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read its ca_file {}: {}",
                path.display(),
                reqflo_core::source::io_reason(&e)
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| format!("its ca_file {} is not PEM certificates", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "its ca_file {} holds no certificate",
                path.display()
            ));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up its HTTP client: {e}"))
}

/// The `wasi:http` hooks of one plugin instance.
pub struct NetHooks {
    policy: Option<Arc<NetPolicy>>,
    refusals: Vec<String>,
}

impl NetHooks {
    /// Hooks enforcing `policy`; `None` means no network at all.
    pub fn new(policy: Option<Arc<NetPolicy>>) -> NetHooks {
        NetHooks {
            policy,
            refusals: Vec::new(),
        }
    }

    /// What was refused since the last call, in the user's words.
    pub fn take_refusal(&mut self) -> Option<String> {
        let first = self.refusals.first().cloned();
        self.refusals.clear();
        first
    }

    fn refuse(&mut self, why: String) -> SendFuture {
        self.refusals.push(why);
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

impl WasiHttpHooks for NetHooks {
    // reqwest sets Host from the checked URL; a guest-chosen Host header could
    // otherwise address a different virtual host than the one granted.
    fn set_host_header(&mut self) -> bool {
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let Some(target) = Target::of(request.uri()) else {
            return Box::new(async { Err(HttpError::HttpRequestUriInvalid) });
        };
        let Some(policy) = self.policy.clone() else {
            return self.refuse(format!(
                "tried to reach {target}, but it has no grants.hosts (no network)"
            ));
        };
        if !policy.grants.iter().any(|g| g.allows(&target)) {
            let granted = policy.granted();
            return self.refuse(format!(
                "tried to reach {target}, which is not in its grants.hosts ({granted})"
            ));
        }
        // Every request a provider makes carries its credential (a token, a
        // signature) or asks for a secret: neither crosses a network in clear.
        if let Some(why) = cleartext_refusal(request.uri(), policy.allow_http) {
            return self.refuse(why);
        }
        let client = match policy.client() {
            Ok(client) => client,
            Err(why) => return self.refuse(why),
        };
        let timeout = options
            .iter()
            .flat_map(|o| [o.connect_timeout, o.first_byte_timeout])
            .flatten()
            .fold(policy.timeout, Duration::min);
        Box::new(send(client, request, timeout))
    }
}

async fn send(
    client: reqwest::Client,
    request: http::Request<WasiBody>,
    timeout: Duration,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|_| HttpError::HttpRequestBodySize(None))?
        .to_bytes();
    let url = reqwest::Url::parse(&parts.uri.to_string())
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let mut headers = parts.headers;
    headers.remove(http::header::HOST);
    let exchange = async {
        let mut response = client
            .request(parts.method, url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| error_code(&e))?;
        let mut received = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| error_code(&e))? {
            if received.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(HttpError::HttpResponseBodySize(Some(
                    (received.len() + chunk.len()) as u64,
                )));
            }
            received.extend_from_slice(&chunk);
        }
        let mut answer = http::Response::builder().status(response.status());
        if let Some(h) = answer.headers_mut() {
            *h = std::mem::take(response.headers_mut());
        }
        let body = Full::new(Bytes::from(received))
            .map_err(|never| match never {})
            .boxed_unsync();
        answer.body(body).map_err(|_| HttpError::HttpProtocolError)
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)??;
    Ok((response, Box::new(async { Ok(()) })))
}

/// reqwest's error, as the nearest `wasi:http` error code.
fn error_code(e: &reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::ConnectionReadTimeout;
    }
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(cause) = source {
        chain.push_str(&cause.to_string().to_ascii_lowercase());
        chain.push(' ');
        source = cause.source();
    }
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        HttpError::DnsError {
            rcode: Some("address not found".into()),
            info_code: None,
        }
    } else if chain.contains("certificate") {
        HttpError::TlsCertificateError
    } else if chain.contains("tls") || chain.contains("handshake") {
        HttpError::TlsProtocolError
    } else if chain.contains("connection refused") {
        HttpError::ConnectionRefused
    } else if chain.contains("reset") || chain.contains("closed") {
        HttpError::ConnectionTerminated
    } else if e.is_connect() {
        HttpError::DestinationUnavailable
    } else if e.is_body() || e.is_decode() {
        HttpError::HttpResponseIncomplete
    } else {
        HttpError::HttpProtocolError
    }
}
