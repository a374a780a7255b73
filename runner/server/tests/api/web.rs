//! The web UI over `oneshot`: login and sessions, the policy headers, every
//! page for every role, CSRF and cross-origin refusals, Secrets management
//! and runs through forms, and a canary that no page or fragment holds.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt as _;

use crate::harness::*;
use reqflo_server::auth::Role;
use reqflo_server::web::{CSP, HTMX_INTEGRITY, PAGES};

/// What a browser gets: status, headers, body.
struct Got {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

/// A browser of one person: their session cookie.
struct Browser<'a> {
    h: &'a Harness,
    cookie: Option<String>,
    csrf: String,
}

impl<'a> Browser<'a> {
    fn new(h: &'a Harness) -> Browser<'a> {
        Browser {
            h,
            cookie: None,
            csrf: String::new(),
        }
    }

    async fn send(
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

    async fn get(&self, path: &str) -> Got {
        self.send("GET", path, &[], None).await
    }

    /// A form post from this site, with the session's CSRF token.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Got {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.send("POST", path, &fields, Some("http://reqflo.test"))
            .await
    }

    async fn login(&mut self, token: &str) {
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

#[test]
fn the_vendored_htmx_is_the_pinned_file() {
    assert_eq!(
        HTMX_INTEGRITY.as_str(),
        "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"
    );
}

#[tokio::test]
async fn login_sessions_and_every_page_for_every_role() {
    let h = Harness::new().await;
    let anonymous = Browser::new(&h);
    let login = anonymous.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(
        login
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some(CSP)
    );
    assert_eq!(
        login
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(login.body.contains(HTMX_INTEGRITY.as_str()));
    assert!(!login.body.contains("<script>"), "no inline script");
    // A wrong token: refused, and never echoed.
    let wrong = anonymous
        .send(
            "POST",
            "/login",
            &[("token", "rqf_guess_0123456789")],
            Some("http://reqflo.test"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!wrong.body.contains("rqf_guess_0123456789"));
    // A login posted from another site is refused.
    let forged = anonymous
        .send(
            "POST",
            "/login",
            &[("token", &h.tokens[&Role::Admin])],
            Some("http://evil.test"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let mut browsers = Vec::new();
    for role in [Role::Viewer, Role::Runner, Role::Builder, Role::Admin] {
        let mut browser = Browser::new(&h);
        browser.login(&h.tokens[&role]).await;
        browsers.push((role, browser));
    }
    for (method, path, needs) in PAGES {
        let path = path
            .replace("{id}", "x")
            .replace("{name}", "x")
            .replace("{format}", "json")
            .replace("{action}", "disable");
        if *method == "GET" {
            let got = anonymous.get(&path).await;
            match needs {
                None => assert_eq!(got.status, StatusCode::OK, "{path}"),
                Some(_) => assert_eq!(
                    got.status,
                    StatusCode::SEE_OTHER,
                    "{path} without a session goes to /login"
                ),
            }
        }
        let Some(needs) = needs else { continue };
        for (role, browser) in &browsers {
            let got = if *method == "GET" {
                browser.get(&path).await
            } else {
                browser.post(&path, &[]).await
            };
            if role < needs {
                assert_eq!(
                    got.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {}",
                    role.name()
                );
                assert!(got.body.contains(needs.name()), "{}", got.body);
            } else {
                assert_ne!(
                    got.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {}: {}",
                    role.name(),
                    got.body
                );
            }
        }
    }
    // Unsafe requests need the session's CSRF token and our own origin.
    let (_, admin) = &browsers[3];
    let no_token = admin
        .send(
            "POST",
            "/admin/secrets",
            &[("name", "X"), ("value", "v4lue-long")],
            Some("http://reqflo.test"),
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let mut fields = vec![("csrf", admin.csrf.as_str())];
    fields.extend([("name", "X"), ("value", "v4lue-long")]);
    let cross = admin
        .send("POST", "/admin/secrets", &fields, Some("http://evil.test"))
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let (_, secrets) = h.call("GET", "/api/secrets", Some(Role::Admin), None).await;
    assert_eq!(secrets["secrets"], json!([]), "nothing was registered");
    // Logging out ends the session.
    let out = admin.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get("/admin/secrets").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn secrets_and_runs_through_forms_and_no_page_holds_the_value() {
    let h = Harness::new().await;
    let canary = "sk_ui_Cn4ry/+=8c1d22";
    let api = demo_api::spawn(canary).expect("demo api");
    let template = "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  X-Key: \"{{key}}\"\n";
    let journey = "steps:\n  - id: echo\n    template: echo\n    values:\n      key: {type: secret, name: UI_KEY}\n    expect: {status: 200}\n";
    let (status, _) = h
        .upload(
            "ui",
            &[
                ("reqflo.yaml", &demo_config(&api)),
                ("templates/echo.yaml", template),
                ("journeys/echo.yaml", journey),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let _workers = reqflo_server::spawn_workers(&h.state, 2);
    let mut admin = Browser::new(&h);
    admin.login(&h.tokens[&Role::Admin]).await;

    // A refused registration comes back with what was typed, never the value.
    let refused = admin
        .post(
            "/admin/secrets",
            &[
                ("name", "bad name"),
                ("description", "kept"),
                ("value", canary),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("kept"));
    let registered = admin
        .post(
            "/admin/secrets",
            &[
                ("name", "UI_KEY"),
                ("description", "the demo key"),
                ("value", canary),
                ("journeys", "echo"),
            ],
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    let page = admin.get("/admin/secrets/UI_KEY?done=registered").await;
    assert!(page.body.contains("16-31 bytes"), "{}", page.body);
    assert!(page.body.contains("autocomplete=\"new-password\""));
    let rotated = admin
        .post(
            "/admin/secrets/UI_KEY/policy",
            &[
                ("description", "the demo key"),
                ("journeys", "echo, other"),
                ("environments", ""),
                ("hosts", "127.0.0.1"),
            ],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::SEE_OTHER);
    let (_, shown) = h
        .call("GET", "/api/secrets/UI_KEY", Some(Role::Admin), None)
        .await;
    assert_eq!(shown["journeys"], json!(["echo", "other"]));
    assert_eq!(shown["hosts"], json!(["127.0.0.1"]));

    // A runner starts a run from the project's page and follows it.
    let mut runner = Browser::new(&h);
    runner.login(&h.tokens[&Role::Runner]).await;
    let started = runner
        .post(
            "/runs",
            &[
                ("project", "ui"),
                ("journey", "echo"),
                ("environment", "demo"),
                ("inputs", ""),
                ("variables", ""),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let location = started
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("to the run")
        .to_string();
    let id = location.trim_start_matches("/runs/").to_string();
    h.ended(&id).await;
    let run = runner.get(&location).await;
    assert!(run.body.contains("passed"), "{}", run.body);
    assert!(
        run.body.contains("[redacted:UI_KEY]"),
        "the dump shows where the key went: {}",
        run.body
    );
    let fragment = runner.get(&format!("{location}/steps")).await;
    assert!(
        !fragment.body.contains("hx-trigger"),
        "an ended run stops polling"
    );
    for format in ["html", "json", "junit"] {
        assert_eq!(
            runner
                .get(&format!("{location}/report/{format}"))
                .await
                .status,
            StatusCode::OK
        );
    }
    for path in [
        "/runs",
        "/projects",
        "/projects/ui",
        "/runs?status=passed&journey=echo",
    ] {
        assert_eq!(runner.get(path).await.status, StatusCode::OK, "{path}");
    }
    for path in [
        "/admin/secrets",
        "/admin/secrets/UI_KEY",
        "/admin/audit",
        "/admin/audit?action=secret.used",
    ] {
        assert_eq!(admin.get(path).await.status, StatusCode::OK, "{path}");
    }
    // A bad run form: the reason on the project's page.
    let bad = runner
        .post(
            "/runs",
            &[
                ("project", "ui"),
                ("journey", "echo"),
                ("environment", "nowhere"),
                ("inputs", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("no environment"), "{}", bad.body);

    // Disable and delete through the forms.
    assert_eq!(
        admin
            .post("/admin/secrets/UI_KEY/disable", &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let unconfirmed = admin.post("/admin/secrets/UI_KEY/delete", &[]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        admin
            .post("/admin/secrets/UI_KEY/delete", &[("confirm", "yes")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    for body in h.seen.lock().expect("seen").iter() {
        assert_absent("a page", body.as_bytes(), canary);
    }
}
