//! Requests built at the last moment (secrets go in here and nowhere
//! earlier), the responses that come back, and where a secret may go.

use std::time::Duration;

use base64::Engine as _;
use http::Method;
use http::header::{HeaderMap, HeaderName};
use url::Url;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::{Binding, SecretId, SecretStore};
use crate::template::{Body, Fills, RenderError, Template};

/// The default `--max-body`: bodies beyond it are cut, never held whole.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A request ready to send, holding secret text in zeroizing buffers.
pub struct BuiltRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL including the query.
    pub url: Url,
    /// Headers as rendered (before reqwest adds its defaults), each with the
    /// secrets in its value.
    pub headers: Vec<Header>,
    /// The body, if any.
    pub body: Option<Zeroizing<Vec<u8>>>,
    /// Secrets that went into it, for the destination check.
    pub secrets: Vec<SecretId>,
    /// Names of the secrets in the URL (and its query), for hooks' views.
    pub url_secrets: Vec<String>,
    /// Whether the body carries a secret: hooks may not read it.
    pub body_secret: bool,
    /// Secrets that hooks placed (they are not in the store): each one's
    /// label and the destinations it is bound to.
    pub attached: Vec<(String, Binding)>,
}

impl BuiltRequest {
    /// Whether any secret is in the request: its destination is then fixed.
    pub fn carries_secrets(&self) -> bool {
        !self.secrets.is_empty() || !self.attached.is_empty()
    }

    /// Where it goes.
    pub fn destination(&self) -> Destination {
        Destination::of(&self.url)
    }
}

/// One request header: its value in a zeroizing buffer, and the names of the
/// secrets in that value (a template's or a hook's), so that a view of the
/// request can hide exactly those.
pub struct Header {
    /// The header's name.
    pub name: HeaderName,
    /// Its value as sent.
    pub value: Zeroizing<String>,
    /// The names of the secrets in `value`; empty when it holds none.
    pub secrets: Vec<String>,
}

impl Header {
    /// A header holding no secret.
    pub fn plain(name: HeaderName, value: impl Into<String>) -> Header {
        Header {
            name,
            value: Zeroizing::new(value.into()),
            secrets: Vec::new(),
        }
    }
}

/// Where a request goes: scheme, host and port. A secret in a request fixes
/// its destination; messages show it as `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lowercase.
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: Option<u16>,
}

impl Destination {
    /// The destination of `url`.
    pub fn of(url: &Url) -> Destination {
        Destination {
            scheme: url.scheme().to_string(),
            host: url.host_str().unwrap_or("").to_ascii_lowercase(),
            port: url.port_or_known_default(),
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// The ids added to `used` since `mark`.
fn since(used: &[SecretId], mark: usize) -> Vec<SecretId> {
    used.get(mark..)
        .map(<[SecretId]>::to_vec)
        .unwrap_or_default()
}

/// A received response.
pub struct Received {
    /// Status code.
    pub status: http::StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, or its first `--max-body` bytes when `truncated`.
    pub body: bytes::Bytes,
    /// Whether the body was longer than `--max-body` and was cut (the rest
    /// was not read: the connection was closed).
    pub truncated: bool,
    /// From sending to the last body byte.
    pub elapsed: Duration,
    /// The URL the response came from.
    pub url: Url,
    /// The HTTP version it came over (HTTP/2 when the server offers it
    /// over TLS).
    pub version: http::Version,
}

impl Received {
    /// The value of the cookie `name` the response sets (`Set-Cookie`;
    /// the last one wins, as in a browser).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .rev()
            .filter_map(|v| v.to_str().ok())
            .find_map(|line| {
                let pair = line.split(';').next()?;
                let (key, value) = pair.split_once('=')?;
                (key.trim() == name).then(|| value.trim().trim_matches('"').to_string())
            })
    }
}

fn render_error(step: &str, e: RenderError) -> Error {
    Error::Runtime(format!("step `{step}`: {e}"))
}

/// Render `template` with `fills` into a request.
pub fn build(
    step: &str,
    template: &Template,
    fills: &dyn Fills,
    store: &SecretStore,
) -> Result<BuiltRequest> {
    let mut used = Vec::new();
    let method_text = template
        .method
        .render(fills, &mut used)
        .map_err(|e| render_error(step, e))?;
    let method =
        Method::from_bytes(method_text.trim().to_ascii_uppercase().as_bytes()).map_err(|_| {
            Error::Runtime(format!(
                "step `{step}`: `{}` is not an HTTP method",
                method_text.as_str()
            ))
        })?;

    let url_text = template
        .url
        .render(fills, &mut used)
        .map_err(|e| render_error(step, e))?;
    let mut url = Url::parse(url_text.trim()).map_err(|e| {
        Error::Runtime(format!(
            "step `{step}`: template `{}` renders an invalid URL ({e}): {}",
            template.name,
            url_text.as_str()
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Runtime(format!(
            "step `{step}`: only http and https URLs are supported, got {}",
            url.scheme()
        )));
    }
    if !template.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &template.query {
            let value = value
                .render_text(fills, &mut used)
                .map_err(|e| render_error(step, e))?;
            pairs.append_pair(name, &value);
        }
    }

    let url_secrets: Vec<String> = since(&used, 0)
        .iter()
        .map(|id| store.label(*id).to_string())
        .collect();
    let label = |ids: Vec<SecretId>| -> Vec<String> {
        ids.iter().map(|id| store.label(*id).to_string()).collect()
    };
    let mut headers = Vec::new();
    for (name, value) in &template.headers {
        let mark = used.len();
        let rendered = value
            .render(fills, &mut used)
            .map_err(|e| render_error(step, e))?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Runtime(format!("step `{step}`: bad header name `{name}`")))?;
        headers.push(Header {
            name,
            value: rendered,
            secrets: label(since(&used, mark)),
        });
    }
    if let Some((user, password)) = &template.basic_auth {
        let mark = used.len();
        let mut pair = user
            .render(fills, &mut used)
            .map_err(|e| render_error(step, e))?;
        pair.push(':');
        password
            .render_into(fills, &mut pair, &mut used)
            .map_err(|e| render_error(step, e))?;
        let mut value = Zeroizing::new(String::from("Basic "));
        base64::engine::general_purpose::STANDARD.encode_string(pair.as_bytes(), &mut value);
        headers.push(Header {
            name: http::header::AUTHORIZATION,
            value,
            secrets: label(since(&used, mark)),
        });
    }
    let body_mark = used.len();

    let has = |h: &HeaderName| headers.iter().any(|header| header.name == h);
    let body = match &template.body {
        Body::None => None,
        Body::Raw(text) => {
            let rendered = text
                .render(fills, &mut used)
                .map_err(|e| render_error(step, e))?;
            Some(Zeroizing::new(rendered.as_bytes().to_vec()))
        }
        Body::Json(json) => {
            let mut out = Zeroizing::new(Vec::new());
            json.write_json(fills, &mut out, &mut used)
                .map_err(|e| render_error(step, e))?;
            if !has(&http::header::CONTENT_TYPE) {
                headers.push(Header::plain(
                    http::header::CONTENT_TYPE,
                    "application/json",
                ));
            }
            Some(out)
        }
        Body::Form(fields) => {
            let mut serializer = form_urlencoded::Serializer::new(String::new());
            for (name, value) in fields {
                let value = value
                    .render_text(fills, &mut used)
                    .map_err(|e| render_error(step, e))?;
                serializer.append_pair(name, &value);
            }
            if !has(&http::header::CONTENT_TYPE) {
                headers.push(Header::plain(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                ));
            }
            Some(Zeroizing::new(serializer.finish().into_bytes()))
        }
        Body::Multipart(parts) => {
            let mut texts = Vec::new();
            for part in parts {
                if let crate::multipart::PartKind::Text(text) = &part.kind {
                    texts.push(
                        text.render(fills, &mut used)
                            .map_err(|e| render_error(step, e))?,
                    );
                }
            }
            let (body, content_type) = crate::multipart::encode(parts, &texts);
            headers.push(Header::plain(http::header::CONTENT_TYPE, &content_type));
            Some(body)
        }
    };
    let body_secret = used.len() > body_mark;
    used.sort();
    used.dedup();
    Ok(BuiltRequest {
        method,
        url,
        headers,
        body,
        secrets: used,
        url_secrets,
        body_secret,
        attached: Vec::new(),
    })
}

/// Refuse to send a secret anywhere its registry entry does not allow, whether
/// a template or a hook put it in the request: outside its `hosts:`, or over
/// plain HTTP to a host other than loopback without `allow_http: true`.
pub fn check_destinations(step: &str, request: &BuiltRequest, store: &SecretStore) -> Result<()> {
    let bound = request
        .secrets
        .iter()
        .map(|id| (store.label(*id), store.binding(*id)))
        .chain(
            request
                .attached
                .iter()
                .map(|(label, binding)| (label.as_str(), binding)),
        );
    for (label, binding) in bound {
        if let Some(allowed) = &binding.hosts
            && !may_send_to(allowed, &request.url)
        {
            return Err(Error::Runtime(format!(
                "step `{step}`: secret `{label}` may only be sent to {}, not to {}; nothing was sent",
                allowed.join(", "),
                request.destination()
            )));
        }
        if crate::cleartext::refused(
            request.url.scheme(),
            request.url.host_str().unwrap_or(""),
            binding.allow_http,
        ) {
            return Err(Error::Runtime(format!(
                "step `{step}`: secret `{label}` would go to {} over plain HTTP, and secrets go to hosts other than loopback over TLS only; nothing was sent ({})",
                request.destination(),
                crate::cleartext::HINT
            )));
        }
    }
    Ok(())
}

/// Whether a secret bound to `allowed` (registry `hosts:` entries) may be
/// sent to `url`.
pub fn may_send_to(allowed: &[String], url: &Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let port = url.port_or_known_default();
    allowed
        .iter()
        .any(|entry| destination_matches(entry, host, port))
}

/// Whether `entry` (`host`, `host:port`, `[v6]`, `[v6]:port` or a bare v6
/// address) allows the URL's `host` and `port`.
fn destination_matches(entry: &str, host: &str, port: Option<u16>) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    let host = host.trim_matches(['[', ']']);
    let (entry_host, entry_port) = if let Some(rest) = entry.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h.to_string(), tail.strip_prefix(':').map(str::to_string)),
            None => return false,
        }
    } else if entry.matches(':').count() == 1 {
        let (h, p) = entry.split_once(':').unwrap_or((&entry, ""));
        (h.to_string(), Some(p.to_string()))
    } else {
        (entry.clone(), None)
    };
    if entry_host != host {
        return false;
    }
    match entry_port {
        None => true,
        Some(p) => p.parse::<u16>().ok() == port,
    }
}

#[cfg(test)]
mod tests {
    use super::destination_matches;

    #[test]
    fn destinations_match_hosts_ports_and_ipv6() {
        assert!(destination_matches(
            "api.example.com",
            "api.example.com",
            Some(443)
        ));
        assert!(destination_matches(
            "API.example.com:443",
            "api.example.com",
            Some(443)
        ));
        assert!(!destination_matches(
            "api.example.com:8443",
            "api.example.com",
            Some(443)
        ));
        assert!(!destination_matches(
            "example.com",
            "api.example.com",
            Some(443)
        ));
        assert!(destination_matches("::1", "[::1]", Some(80)));
        assert!(destination_matches("[::1]:8080", "[::1]", Some(8080)));
        assert!(!destination_matches("[::1]:8080", "[::1]", Some(80)));
    }
}
