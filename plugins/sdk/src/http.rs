//! HTTP for providers, through the host's wasi:http.
//!
//! A provider has no sockets. Its one way out is wasi:http, and the host
//! sends a request only when the destination is in the provider's
//! `grants.hosts`; it follows no redirects and bounds every request in time
//! and size. [`send`] (feature `http`, in the component only) makes one
//! request and reduces every failure to a [`Failure`] a message can name.
//!
//! A provider's lookup talks to a [`Transport`]: [`WasiHttp`] in the
//! component, a [`Scripted`] one in native unit tests, so that every request
//! it builds and every message it writes is tested without a server.

mod scripted;
#[cfg(all(feature = "http", target_arch = "wasm32"))]
mod wasi;
pub use scripted::Scripted;
#[cfg(all(feature = "http", target_arch = "wasm32"))]
pub use wasi::send;

/// Sends one request within limits: what a provider's lookup is written
/// against.
pub trait Transport {
    /// Send `request`, read the answer within `limits`.
    fn send(&mut self, request: Request, limits: Limits) -> Result<Response, Failure>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn send(&mut self, request: Request, limits: Limits) -> Result<Response, Failure> {
        (**self).send(request, limits)
    }
}

/// [`Transport`] over the host's wasi:http (feature `http`). Built natively
/// too, for unit tests that construct a provider, where every request fails
/// as [`Failure::Broken`]: there is no wasi:http outside a component.
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiHttp;

#[cfg(feature = "http")]
impl Transport for WasiHttp {
    #[cfg(target_arch = "wasm32")]
    fn send(&mut self, request: Request, limits: Limits) -> Result<Response, Failure> {
        send(request, limits)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn send(&mut self, _request: Request, _limits: Limits) -> Result<Response, Failure> {
        Err(Failure::Broken("no wasi:http outside a component".into()))
    }
}

/// An HTTP method providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT (EC2's instance metadata service hands out its session token
    /// to a PUT only).
    Put,
}

/// One request. No `Debug`: headers and body carry credentials.
pub struct Request {
    /// GET, POST or PUT.
    pub method: Method,
    /// The full URL; build it from a checked [`crate::origin::Origin`].
    pub url: String,
    /// Header names and values, in order. Values must be header-safe.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

impl Request {
    /// A `method` request of `url` with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A GET of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::Get, url)
    }

    /// A POST of `body` to `url`.
    pub fn post(url: impl Into<String>, body: Vec<u8>) -> Request {
        Request::new(Method::Post, url).body(body)
    }

    /// The request with `body` as its body.
    pub fn body(mut self, body: Vec<u8>) -> Request {
        self.body = body;
        self
    }

    /// The first value of header `name` (any case).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The request with one more header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What a server answered, uninterpreted. No `Debug`: the body may be a
/// secret.
#[derive(Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lowercase) and values. A value that is not ASCII is
    /// kept as `""`, so that it reads as unreadable rather than absent.
    pub headers: Vec<(String, String)>,
    /// The body, within [`Limits`].
    pub body: Vec<u8>,
}

impl Response {
    /// An answer with `status` and `body` and no headers (for scripts).
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// The answer with one more header (its name lowercased, as received).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// `text` with every byte but RFC 3986's unreserved characters
/// percent-encoded (upper-case hex), so that a `/`, `?`, `#` or `%` in a
/// name stays part of that name in a URL path or query.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `text` with its `%XX` escapes decoded, as a URI's query or a form writes
/// a value; `None` when the bytes they make are not UTF-8 text.
pub fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// Whether `text` can travel as a credential in an HTTP header (a token, a
/// key, a signature): not empty, visible ASCII only.
pub fn is_header_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `text` can be an HTTP header's value as written: not empty,
/// visible ASCII and spaces (no line break, nothing a header cannot carry).
pub fn is_header_value(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// How much of an answer [`send`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest 2xx body; a larger one is [`Failure::TooLarge`], checked
    /// as it arrives so a lying `Content-Length` cannot fill memory.
    pub max_body_bytes: usize,
    /// What to do with the body of any other status.
    pub error_body: ErrorBody,
}

/// What [`send`] does with the body of a non-2xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorBody {
    /// Read it like a 2xx body (for an error code the server puts there).
    Read,
    /// Read at most this many bytes; a larger one comes back empty, so the
    /// status alone tells the error.
    UpTo(usize),
    /// Do not read it; it comes back empty.
    Skip,
}

impl Limits {
    /// Read every body up to `max_body_bytes`.
    pub fn read_all(max_body_bytes: usize) -> Limits {
        Limits {
            max_body_bytes,
            error_body: ErrorBody::Read,
        }
    }
}

/// Why no answer came back, reduced to what a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The host refused the destination: it is not in `grants.hosts`.
    Denied,
    /// Nothing listens at the server's address.
    Refused,
    /// The server (or the host's time bound) ran out of time.
    Timeout,
    /// The answer was larger than the provider or the host accepts.
    TooLarge,
    /// Anything else, with a short name of the failure (`DNS lookup failed`…).
    Broken(String),
}

/// A server as messages name it: `1Password Connect at http://op:8080`.
#[derive(Clone, Copy)]
pub struct Server<'a> {
    /// What users call the service (`Vault`, `Secrets Manager`).
    pub service: &'a str,
    /// Its address as printed (an [`crate::origin::Origin`], say).
    pub address: &'a dyn std::fmt::Display,
    /// `host:port`, as `grants.hosts` would list it.
    pub authority: &'a str,
}

impl Failure {
    /// The user-facing error for a request to `server` that got no answer:
    /// [`Error::Denied`](crate::Error) when the host refused the destination,
    /// else [`Error::Unavailable`](crate::Error), which stops a chain. `doing`
    /// (`reading secret "db"`) completes "… while …"; `max_body_bytes` is
    /// the limit a too-large answer broke.
    pub fn error(
        &self,
        server: Server<'_>,
        doing: Option<&str>,
        max_body_bytes: usize,
    ) -> crate::Error {
        let Server {
            service, address, ..
        } = server;
        let doing = doing.map(|d| format!(" while {d}")).unwrap_or_default();
        let message = match self {
            Failure::Denied => {
                return crate::Error::Denied(format!(
                    "network access to {} was refused by the host: it is not in this provider's \
                     grants.hosts",
                    server.authority
                ));
            }
            Failure::Refused => {
                format!("cannot connect to {service} at {address} (connection refused){doing}")
            }
            Failure::Timeout => format!("{service} at {address} did not answer in time{doing}"),
            Failure::TooLarge => format!(
                "{service} at {address} answered with more data than reqflo accepts ({} MiB){doing}",
                max_body_bytes >> 20
            ),
            Failure::Broken(kind) => {
                format!("cannot talk to {service} at {address} ({kind}){doing}")
            }
        };
        crate::Error::Unavailable(message)
    }

    /// Why, as a message completes "… could not be asked (…)".
    pub fn reason(&self) -> String {
        match self {
            Failure::Denied => "the host refused it: it is not in grants.hosts".to_string(),
            Failure::Refused => "nothing listens there".to_string(),
            Failure::Timeout => "it did not answer in time".to_string(),
            Failure::TooLarge => "its answer was too large".to_string(),
            Failure::Broken(kind) => kind.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_header_text_is_checked() {
        assert_eq!(
            percent_decode("ACME%20Co%3A%2Fx"),
            Some("ACME Co:/x".into())
        );
        assert_eq!(percent_decode("a+b%3D"), Some("a+b=".into()));
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(
            percent_decode(&percent_encode("é ?&=#")),
            Some("é ?&=#".into())
        );
        assert!(is_header_token("ya29.a-b_c"));
        for bad in ["", "a b", "a\nb", "é"] {
            assert!(!is_header_token(bad), "{bad:?}");
        }
        assert!(is_header_value("Bearer x"));
        for bad in ["", "a\r\nb: c", "é", "a\tb"] {
            assert!(!is_header_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn requests_and_responses() {
        let get = Request::get("http://h/x").header("accept", "application/json");
        assert_eq!(get.method, Method::Get);
        assert!(get.body.is_empty());
        assert_eq!(
            get.headers,
            [("accept".to_string(), "application/json".to_string())]
        );
        let post = Request::post("http://h/", b"a=b".to_vec());
        assert_eq!(
            (post.method, post.body.as_slice()),
            (Method::Post, &b"a=b"[..])
        );
        let response = Response {
            status: 302,
            headers: vec![("location".into(), "/x".into())],
            body: Vec::new(),
        };
        assert_eq!(response.header("Location"), Some("/x"));
        assert_eq!(response.header("x-other"), None);
        assert_eq!(Limits::read_all(9).error_body, ErrorBody::Read);
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn failures_become_errors_that_name_the_server() {
        let server = Server {
            service: "Vault",
            address: &"http://vault:8200",
            authority: "vault:8200",
        };
        let said = |failure: Failure, doing| {
            let e = failure.error(server, doing, 8 << 20);
            format!("{}: {}", e.kind(), e.message())
        };
        assert_eq!(
            said(Failure::Denied, Some("x")),
            "denied: network access to vault:8200 was refused by the host: it is not in this \
             provider's grants.hosts"
        );
        assert_eq!(
            said(Failure::Refused, None),
            "unavailable: cannot connect to Vault at http://vault:8200 (connection refused)"
        );
        assert_eq!(
            said(Failure::Timeout, Some("reading secret \"db\"")),
            "unavailable: Vault at http://vault:8200 did not answer in time while reading secret \"db\""
        );
        assert_eq!(
            said(Failure::TooLarge, None),
            "unavailable: Vault at http://vault:8200 answered with more data than reqflo accepts (8 MiB)"
        );
        assert_eq!(
            said(Failure::Broken("TLS error".into()), None),
            "unavailable: cannot talk to Vault at http://vault:8200 (TLS error)"
        );
    }
}
