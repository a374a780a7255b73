//! HTTP for providers, through the host's wasi:http.
//!
//! A provider has no sockets. Its one way out is wasi:http, and the host
//! sends a request only when the destination is in the provider's
//! `grants.hosts`; it follows no redirects and bounds every request in time
//! and size. [`send`] (feature `http`, in the component only) makes one
//! request and reduces every failure to a [`Failure`] a message can name.
//!
//! The types are plain data on every target, so a provider can put its HTTP
//! behind a trait of its own and unit-test the logic natively.

#[cfg(all(feature = "http", target_arch = "wasm32"))]
mod wasi;
#[cfg(all(feature = "http", target_arch = "wasm32"))]
pub use wasi::send;

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
    /// A GET of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST of `body` to `url`.
    pub fn post(url: impl Into<String>, body: Vec<u8>) -> Request {
        Request {
            method: Method::Post,
            url: url.into(),
            headers: Vec::new(),
            body,
        }
    }

    /// The request with one more header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What a server answered, uninterpreted. No `Debug`: the body may be a
/// secret.
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
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
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

impl Failure {
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
}
