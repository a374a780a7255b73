//! The web UI: server-rendered pages (askama, auto-escaped) with htmx
//! vendored into the binary (pinned, loaded with subresource integrity),
//! under a strict Content-Security-Policy: scripts and styles from this
//! server only, no inline script, no eval. No page ever holds a secret
//! value: there is no code path that could put one there.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use sha2::{Digest, Sha384};

use crate::auth::{Caller, Role};
use crate::state::AppState;

mod admin;
mod build;
mod draft;
mod edit;
pub mod page;
mod runs;
mod save;
pub mod session;
mod templates;

/// htmx, as vendored (see `assets/README.md`).
const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.11.min.js");
/// htmx's server-sent events extension, as vendored.
const HTMX_SSE: &[u8] = include_bytes!("../../assets/htmx-ext-sse-2.2.4.min.js");
/// Our stylesheet.
const CSS: &[u8] = include_bytes!("../../assets/app.css");
/// Our icon.
const ICON: &[u8] = include_bytes!("../../assets/favicon.svg");

/// The `integrity` attribute of htmx's script tag.
pub static HTMX_INTEGRITY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(HTMX))
    )
});

/// The `integrity` attribute of the SSE extension's script tag.
pub static HTMX_SSE_INTEGRITY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(HTMX_SSE))
    )
});

/// The policy every page is served under.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every UI route, with the least role it needs (`None`: no session), for
/// the page test that walks them all.
pub const PAGES: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/login", None),
    ("GET", "/", Some(Role::Viewer)),
    ("GET", "/runs", Some(Role::Viewer)),
    ("GET", "/runs/{id}", Some(Role::Viewer)),
    ("GET", "/runs/{id}/steps", Some(Role::Viewer)),
    ("GET", "/runs/{id}/live", Some(Role::Viewer)),
    ("GET", "/runs/{id}/report/{format}", Some(Role::Viewer)),
    ("POST", "/runs", Some(Role::Runner)),
    ("POST", "/runs/{id}/cancel", Some(Role::Runner)),
    ("GET", "/projects", Some(Role::Viewer)),
    ("GET", "/projects/{name}", Some(Role::Viewer)),
    ("GET", "/admin/secrets", Some(Role::Admin)),
    ("POST", "/admin/secrets", Some(Role::Admin)),
    ("GET", "/admin/secrets/{name}", Some(Role::Admin)),
    ("POST", "/admin/secrets/{name}/{action}", Some(Role::Admin)),
    ("GET", "/admin/audit", Some(Role::Admin)),
    ("GET", "/build/{project}", Some(Role::Builder)),
    ("POST", "/build/{project}", Some(Role::Builder)),
    ("POST", "/build/{project}/save", Some(Role::Builder)),
    (
        "GET",
        "/build/{project}/edit/{journey}",
        Some(Role::Builder),
    ),
    (
        "POST",
        "/build/{project}/edit/{journey}",
        Some(Role::Builder),
    ),
    ("GET", "/build/{project}/templates/new", Some(Role::Builder)),
    (
        "POST",
        "/build/{project}/templates/new",
        Some(Role::Builder),
    ),
    (
        "GET",
        "/build/{project}/templates/{name}",
        Some(Role::Builder),
    ),
    (
        "POST",
        "/build/{project}/templates/{name}",
        Some(Role::Builder),
    ),
];

/// The UI's routes (merged into the server's router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/runs", get(runs::list).post(runs::start))
        .route("/runs/{id}", get(runs::show))
        .route("/runs/{id}/steps", get(runs::steps))
        .route("/runs/{id}/live", get(runs::live))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/projects", get(runs::projects))
        .route("/projects/{name}", get(runs::project))
        .route(
            "/admin/secrets",
            get(admin::secrets).post(admin::register_form),
        )
        .route("/admin/secrets/{name}", get(admin::secret))
        .route("/admin/secrets/{name}/{action}", post(admin::act))
        .route("/admin/audit", get(admin::audit))
        .route(
            "/build/{project}",
            get(build::new_journey).post(build::values),
        )
        .route("/build/{project}/save", post(build::save))
        .route(
            "/build/{project}/edit/{journey}",
            get(edit::page).post(edit::save),
        )
        .route(
            "/build/{project}/templates/new",
            get(templates::new_form).post(templates::create),
        )
        .route(
            "/build/{project}/templates/{name}",
            get(templates::edit).post(templates::save),
        )
        .layer(middleware::from_fn(headers))
        .route("/runs/{id}/report/{format}", get(runs::report))
        .route(
            "/assets/htmx-2.0.11.min.js",
            get(|| async { asset("text/javascript", HTMX) }),
        )
        .route(
            "/assets/htmx-ext-sse-2.2.4.min.js",
            get(|| async { asset("text/javascript", HTMX_SSE) }),
        )
        .route("/assets/app.css", get(|| async { asset("text/css", CSS) }))
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
}

fn asset(kind: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Every page: the policy, no caching (pages show secret metadata), no
/// framing, no referrer beyond this site.
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `/`: admins land on Secrets management, everyone else on Runs.
async fn home(signed: session::Signed<crate::auth::Viewer>) -> Redirect {
    if signed.caller.role == Role::Admin {
        Redirect::to("/admin/secrets")
    } else {
        Redirect::to("/runs")
    }
}

/// What the frame of every page needs.
pub struct Chrome {
    /// Whether someone is signed in.
    pub signed_in: bool,
    /// Their token's name.
    pub user: String,
    /// Their role.
    pub role: &'static str,
    /// The session's CSRF token, for forms.
    pub csrf: String,
    /// Whether they may see admin pages.
    pub admin: bool,
    /// Whether they may start runs.
    pub runner: bool,
    /// Whether they may build journeys.
    pub builder: bool,
    /// htmx's integrity attribute.
    pub htmx_integrity: &'static str,
    /// The SSE extension's integrity attribute.
    pub sse_integrity: &'static str,
}

impl Chrome {
    /// For the login page.
    pub fn signed_out() -> Chrome {
        Chrome {
            signed_in: false,
            user: String::new(),
            role: "",
            csrf: String::new(),
            admin: false,
            runner: false,
            builder: false,
            htmx_integrity: HTMX_INTEGRITY.as_str(),
            sse_integrity: HTMX_SSE_INTEGRITY.as_str(),
        }
    }

    /// For `caller`'s pages.
    pub fn signed_in(caller: &Caller, csrf: &str) -> Chrome {
        Chrome {
            signed_in: true,
            user: caller.name.clone(),
            role: caller.role.name(),
            csrf: csrf.to_string(),
            admin: caller.role >= Role::Admin,
            runner: caller.role >= Role::Runner,
            builder: caller.role >= Role::Builder,
            htmx_integrity: HTMX_INTEGRITY.as_str(),
            sse_integrity: HTMX_SSE_INTEGRITY.as_str(),
        }
    }
}

/// Render a page; a template that fails to render is a 500, never a partial page.
pub fn render(template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A submitted form, as name → value. Parsed by hand rather than into a
/// typed struct, so no parse error can ever quote a field's value.
#[derive(Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// A field's value ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A field's value, if the form has the field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response()
            })?;
        Ok(FormData(
            form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// A comma-separated field as a list; empty means "no limit".
pub fn list_field(text: &str) -> Option<Vec<String>> {
    let items: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (!items.is_empty()).then_some(items)
}

/// A list as a form field's text.
pub fn list_text(list: &Option<Vec<String>>) -> String {
    list.as_ref().map(|l| l.join(", ")).unwrap_or_default()
}
