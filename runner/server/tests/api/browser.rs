//! A person's browser over `oneshot`: a session cookie, the CSRF token,
//! form posts from this site, and every body seen kept for the canary check.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

use crate::harness::*;

/// What a browser gets: status, headers, body.
pub(crate) struct Got {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

/// A browser of one person: their session cookie.
pub(crate) struct Browser<'a> {
    h: &'a Harness,
    cookie: Option<String>,
    pub(crate) csrf: String,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(h: &'a Harness) -> Browser<'a> {
        Browser {
            h,
            cookie: None,
            csrf: String::new(),
        }
    }

    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Got {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "reqflo.test")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("reqflo_session={cookie}"));
        }
        let response = self
            .h
            .app
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("answer");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = String::from_utf8_lossy(&bytes).into_owned();
        self.h.seen.lock().expect("seen").push(body.clone());
        Got {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Got {
        self.send("GET", path, &[], None).await
    }

    /// A form post from this site, with the session's CSRF token.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Got {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.send("POST", path, &fields, Some("http://reqflo.test"))
            .await
    }

    pub(crate) async fn login(&mut self, token: &str) {
        let got = self
            .send(
                "POST",
                "/login",
                &[("token", token)],
                Some("http://reqflo.test"),
            )
            .await;
        assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.body);
        let cookie = got
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a cookie")
            .to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let value = cookie
            .split(';')
            .next()
            .and_then(|p| p.split_once('='))
            .map(|(_, v)| v.to_string())
            .expect("value");
        self.cookie = Some(value);
        let page = self.get("/runs").await;
        let marker = "name=\"csrf\" value=\"";
        let at = page.body.find(marker).expect("a csrf field") + marker.len();
        self.csrf = page.body[at..].split('"').next().unwrap_or("").to_string();
        assert!(!self.csrf.is_empty());
    }
}
