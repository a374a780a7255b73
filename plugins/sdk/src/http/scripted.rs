//! A [`Transport`] for unit tests: canned answers by URL, and a record of
//! every request, so a provider's lookup runs natively without a server.

use std::collections::{HashMap, VecDeque};

use super::{Failure, Limits, Method, Request, Response, Transport};

/// Answers each request from a script, by its full URL, and keeps every
/// request it was sent.
///
/// A URL given one answer gives it every time; given several (by calling
/// [`Scripted::route`] again), it gives them in order and then repeats the
/// last, which is how a test renews an expired token. A URL with no answer
/// gets the fallback: [`Scripted::otherwise`], or [`Failure::Denied`], as
/// the host answers a destination outside `grants.hosts`.
///
/// ```
/// use reqflo_plugin_sdk::http::{Request, Response, Scripted, Transport, Limits};
///
/// let mut server = Scripted::new().route("http://h/a", Response::new(200, "ok"));
/// let answer = server.send(Request::get("http://h/a"), Limits::read_all(10));
/// assert_eq!(answer.map(|r| r.body), Ok(b"ok".to_vec()));
/// assert_eq!(server.urls(), ["http://h/a"]);
/// ```
#[derive(Default)]
pub struct Scripted {
    routes: HashMap<String, VecDeque<Result<Response, Failure>>>,
    otherwise: Option<Result<Response, Failure>>,
    sent: Vec<(Request, Limits)>,
}

impl Scripted {
    /// A script with no answers yet.
    pub fn new() -> Scripted {
        Scripted::default()
    }

    /// Answer `url` with `response` (after any answers already given for it).
    pub fn route(mut self, url: impl Into<String>, response: Response) -> Scripted {
        self.add(url, Ok(response));
        self
    }

    /// Answer `url` with `status` and `body` and no headers.
    pub fn answer(self, url: impl Into<String>, status: u16, body: impl Into<Vec<u8>>) -> Scripted {
        self.route(url, Response::new(status, body))
    }

    /// Fail requests to `url` with `failure`.
    pub fn fail(mut self, url: impl Into<String>, failure: Failure) -> Scripted {
        self.add(url, Err(failure));
        self
    }

    /// What a URL with no answer of its own gets.
    pub fn otherwise(mut self, answer: Result<Response, Failure>) -> Scripted {
        self.otherwise = Some(answer);
        self
    }

    /// Add an answer for `url` to a script already in use.
    pub fn add(&mut self, url: impl Into<String>, answer: Result<Response, Failure>) {
        self.routes.entry(url.into()).or_default().push_back(answer);
    }

    /// Every request sent, in order.
    pub fn sent(&self) -> impl Iterator<Item = &Request> {
        self.sent.iter().map(|(request, _)| request)
    }

    /// The limits each request was sent with, in order.
    pub fn limits(&self) -> Vec<Limits> {
        self.sent.iter().map(|(_, limits)| *limits).collect()
    }

    /// The URL of every request sent, in order.
    pub fn urls(&self) -> Vec<&str> {
        self.sent().map(|request| request.url.as_str()).collect()
    }

    /// The method and URL of every request sent, in order.
    pub fn asked(&self) -> Vec<(Method, &str)> {
        self.sent()
            .map(|request| (request.method, request.url.as_str()))
            .collect()
    }

    /// The value of header `name` on every request sent, in order.
    pub fn header_values(&self, name: &str) -> Vec<Option<&str>> {
        self.sent()
            .map(|request| request.header_value(name))
            .collect()
    }

    /// Forget the requests sent so far (the script stays).
    pub fn clear(&mut self) {
        self.sent.clear();
    }
}

impl Transport for Scripted {
    fn send(&mut self, request: Request, limits: Limits) -> Result<Response, Failure> {
        let answer = match self.routes.get_mut(&request.url) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        };
        self.sent.push((request, limits));
        answer
            .or_else(|| self.otherwise.clone())
            .unwrap_or(Err(Failure::Denied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(answer: Result<Response, Failure>) -> Result<u16, Failure> {
        answer.map(|response| response.status)
    }

    #[test]
    fn answers_in_order_then_repeat_the_last() {
        let limits = Limits::read_all(100);
        let mut server = Scripted::new()
            .answer("http://h/token", 200, "one")
            .answer("http://h/token", 201, "two")
            .fail("http://h/down", Failure::Timeout);
        let mut ask = |url: &str| status(server.send(Request::get(url), limits));
        assert_eq!(ask("http://h/token"), Ok(200));
        assert_eq!(ask("http://h/token"), Ok(201));
        assert_eq!(ask("http://h/token"), Ok(201));
        assert_eq!(ask("http://h/down"), Err(Failure::Timeout));
        assert_eq!(ask("http://elsewhere/"), Err(Failure::Denied));
        assert_eq!(server.urls().len(), 5);
        let mut fallback = Scripted::new().otherwise(Ok(Response::new(404, "{}")));
        assert_eq!(
            status(fallback.send(Request::get("http://x/"), limits)),
            Ok(404)
        );
    }

    #[test]
    fn requests_are_kept() {
        let mut server = Scripted::new();
        let request = Request::post("http://h/login", b"{}".to_vec()).header("X-Token", "t");
        let _ = server.send(request, Limits::read_all(5));
        assert_eq!(server.asked(), [(Method::Post, "http://h/login")]);
        assert_eq!(server.header_values("x-token"), [Some("t")]);
        assert_eq!(server.limits(), [Limits::read_all(5)]);
        server.clear();
        assert!(server.urls().is_empty());
    }
}
