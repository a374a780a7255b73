//! The OAuth2 client-credentials exchange (RFC 6749 §4.4) the host runs for
//! a hook: the client secret stays a handle, the access token becomes one.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Url;
use zeroize::Zeroizing;

use super::state::{Cached, ClientCredentialsArg, HookContext, HookSecret};
use crate::secrets::MIN_SECRET_BYTES;
use reqflo_core::grant::grants_allow;
use reqflo_core::message::may_send_to;

/// A token is reused until this long before it expires (or a tenth of its
/// lifetime, if that is shorter), so it never expires in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Lifetime assumed when the server does not say (`expires_in` is optional).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Token responses larger than this are refused.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why an exchange failed. No variant carries a value or a server's body.
pub enum Failure {
    /// Refused by reqflo's policy (grants, destination binding): the step fails.
    Denied(String),
    /// The token endpoint refused the client.
    Refused(String),
    /// The grant is malformed.
    Invalid(String),
    /// The endpoint could not be reached or answered nonsense.
    Unavailable(String),
}

/// Run the grant, or reuse a token that has not expired.
pub async fn client_credentials(
    context: &HookContext,
    grant: &ClientCredentialsArg,
    secret: &HookSecret,
) -> Result<HookSecret, Failure> {
    let url = Url::parse(grant.token_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| Failure::Invalid("the token URL is not an http or https URL".into()))?;
    let shown = format!(
        "{}://{}{}",
        url.scheme(),
        reqflo_core::message::Destination::of(&url),
        url.path()
    );
    let uri: http::Uri = url
        .as_str()
        .parse()
        .map_err(|_| Failure::Invalid("the token URL is not a valid URI".into()))?;
    if !grants_allow(&context.spec.hosts, &uri) {
        let granted: Vec<String> = context.spec.hosts.iter().map(|g| g.to_string()).collect();
        return Err(Failure::Denied(format!(
            "token URL {shown} is not in the hook's grants.hosts ({})",
            if granted.is_empty() {
                "none".to_string()
            } else {
                granted.join(", ")
            }
        )));
    }
    if reqflo_core::cleartext::refused(
        url.scheme(),
        url.host_str().unwrap_or(""),
        context.spec.allow_http,
    ) {
        return Err(Failure::Denied(format!(
            "token URL {shown} is plain HTTP to a host other than loopback, and client secret `{}` goes there over TLS only ({})",
            secret.label(),
            reqflo_core::cleartext::HINT
        )));
    }
    if let Some(allowed) = secret.hosts()
        && !may_send_to(allowed, &url)
    {
        return Err(Failure::Denied(format!(
            "secret `{}` may only be sent to {}, not to the token URL {shown}",
            secret.label(),
            allowed.join(", ")
        )));
    }
    for (name, _) in &grant.extra {
        if matches!(
            name.as_str(),
            "grant_type" | "client_id" | "client_secret" | "scope"
        ) {
            return Err(Failure::Invalid(format!(
                "extra field `{name}` is set by the host"
            )));
        }
    }
    let scope = grant.scope.clone().unwrap_or_default();
    let key = (
        url.as_str().to_string(),
        grant.client_id.clone(),
        scope.clone(),
        secret.label().to_string(),
    );
    if let Ok(tokens) = context.tokens.tokens.lock()
        && let Some(cached) = tokens.get(&key)
        && cached.until > Instant::now()
    {
        return Ok(HookSecret::granted(
            &cached.token,
            &cached.label,
            cached.binding.clone(),
        ));
    }

    let client_secret = Zeroizing::new(
        std::str::from_utf8(secret.reveal())
            .map_err(|_| Failure::Invalid("the client secret is not text".into()))?
            .to_string(),
    );
    let mut header = None;
    let mut buffer = Zeroizing::new(String::new());
    {
        // The serializer is not Send: it lives only in this block.
        let mut form = form_urlencoded::Serializer::new(&mut *buffer);
        form.append_pair("grant_type", "client_credentials");
        if !scope.is_empty() {
            form.append_pair("scope", &scope);
        }
        for (name, value) in &grant.extra {
            form.append_pair(name, value);
        }
        if grant.basic {
            // RFC 6749 §2.3.1: each part form-encoded, then Basic.
            let mut pair = Zeroizing::new(String::new());
            pair.extend(form_urlencoded::byte_serialize(grant.client_id.as_bytes()));
            pair.push(':');
            pair.extend(form_urlencoded::byte_serialize(client_secret.as_bytes()));
            let mut value = Zeroizing::new(String::from("Basic "));
            base64::engine::general_purpose::STANDARD.encode_string(pair.as_bytes(), &mut value);
            header = Some(value);
        } else {
            form.append_pair("client_id", &grant.client_id);
            form.append_pair("client_secret", &client_secret);
        }
        form.finish();
    }
    let mut request = context
        .client
        .post(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .timeout(context.spec.timeout.mul_f64(0.75));
    if let Some(value) = &header {
        request = request.header(reqwest::header::AUTHORIZATION, value.as_str());
    }
    let response = request
        .body(buffer.as_bytes().to_vec())
        .send()
        .await
        .map_err(|e| {
            let why = if e.is_timeout() {
                "no response in time"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "the request failed"
            };
            Failure::Unavailable(format!("token endpoint {shown}: {why}"))
        })?;
    let status = response.status();
    if status == reqwest::StatusCode::BAD_REQUEST
        || status == reqwest::StatusCode::UNAUTHORIZED
        || status == reqwest::StatusCode::FORBIDDEN
    {
        return Err(Failure::Refused(format!(
            "token endpoint {shown} refused the client credentials ({})",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(Failure::Unavailable(format!(
            "token endpoint {shown} answered {}",
            status.as_u16()
        )));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    let mut response = response;
    while let Some(chunk) = response.chunk().await.map_err(|_| {
        Failure::Unavailable(format!("token endpoint {shown}: the body was cut off"))
    })? {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(Failure::Unavailable(format!(
                "token endpoint {shown}: the response is too large"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        Failure::Unavailable(format!("token endpoint {shown} did not answer with JSON"))
    })?;
    let token = parsed
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| t.len() >= MIN_SECRET_BYTES)
        .ok_or_else(|| {
            Failure::Unavailable(format!(
                "token endpoint {shown} returned no usable access_token"
            ))
        })?;
    let token = Zeroizing::new(token.as_bytes().to_vec());
    if let Some(kind) = parsed.get("token_type").and_then(|t| t.as_str())
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(Failure::Unavailable(format!(
            "token endpoint {shown} returned a `{}` token; only bearer tokens are supported",
            reqflo_core::redact::sanitize_plugin_text(&context.redactor, kind)
        )));
    }
    let lifetime = parsed
        .get("expires_in")
        .and_then(|e| {
            e.as_u64()
                .or_else(|| e.as_str().and_then(|s| s.parse().ok()))
        })
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME);
    let margin = EXPIRY_MARGIN.min(lifetime / 10);
    let label = format!("oauth2 token({})", secret.label());
    let derived = secret.derived(token.clone(), label.clone());
    if let Ok(mut tokens) = context.tokens.tokens.lock() {
        tokens.insert(
            key,
            Cached {
                token,
                label,
                binding: secret.binding().clone(),
                until: Instant::now() + lifetime.saturating_sub(margin),
            },
        );
    }
    Ok(derived)
}
