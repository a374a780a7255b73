//! The request a hook edits, as the host shows it: a hook may read the
//! method, the URL and headers (secrets shown as `[secret NAME]`), never a
//! body that carries a secret, and may set headers, a secret header (from a
//! handle, bound where the secret may go) and the URL (not the destination
//! of a request that carries a secret).

use std::sync::Arc;

use base64::Engine as _;
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use wasmtime::component::Resource;
use zeroize::Zeroizing;

use super::host::HookState;
use super::host::bindings::reqflo::plugin::request::{Encoding, Error as HookError, HostOutgoing};
use super::state::{HookSecret, Outgoing};
use reqflo_core::message::{BuiltRequest, Destination, Header, may_send_to};
use reqflo_core::redact::Redactor;

/// Headers a hook may not set: the destination and the framing are the host's.
fn reserved(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host" | "content-length" | "transfer-encoding" | "connection" | "te" | "upgrade"
    )
}

/// A redacted view of text that carries a secret, with `[secret NAME]`
/// markers; when the redactor recognises nothing, the whole text is hidden.
fn view(redactor: &Redactor, text: &str, labels: &[String]) -> String {
    let redacted = redactor.redact(text);
    if redacted == text {
        return format!("[secret {}]", labels.join(", "));
    }
    redacted.replace("[redacted:", "[secret ")
}

fn header_name(name: &str) -> Result<HeaderName, HookError> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| HookError::Invalid(format!("`{name}` is not a valid header name")))?;
    if reserved(&parsed) {
        return Err(HookError::Invalid(format!(
            "hooks may not set the `{parsed}` header; reqflo sets it"
        )));
    }
    Ok(parsed)
}

fn remove(request: &mut BuiltRequest, name: &HeaderName) {
    request.headers.retain(|header| header.name != *name);
}

fn encode(value: &[u8], encoding: Encoding) -> Option<Zeroizing<String>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut out = Zeroizing::new(String::new());
    match encoding {
        Encoding::Raw => out.push_str(std::str::from_utf8(value).ok()?),
        Encoding::Hex => out.push_str(&Zeroizing::new(hex::encode(value))),
        Encoding::Base64 => STANDARD.encode_string(value, &mut out),
        Encoding::Base64url => URL_SAFE_NO_PAD.encode_string(value, &mut out),
    }
    Some(out)
}

impl HostOutgoing for HookState {
    async fn method(&mut self, this: Resource<Outgoing>) -> wasmtime::Result<String> {
        Ok(self.outgoing(&this)?.method.to_string())
    }

    async fn url(&mut self, this: Resource<Outgoing>) -> wasmtime::Result<String> {
        let redactor = Arc::clone(&self.context.redactor);
        let request = self.outgoing(&this)?;
        let text = request.url.as_str();
        if request.url_secrets.is_empty() && !redactor.finds(text.as_bytes()) {
            return Ok(text.to_string());
        }
        let labels = if request.url_secrets.is_empty() {
            vec!["unknown".to_string()]
        } else {
            request.url_secrets.clone()
        };
        Ok(view(&redactor, text, &labels))
    }

    async fn headers(
        &mut self,
        this: Resource<Outgoing>,
    ) -> wasmtime::Result<Vec<(String, String)>> {
        let redactor = Arc::clone(&self.context.redactor);
        let request = self.outgoing(&this)?;
        let mut out = Vec::with_capacity(request.headers.len());
        for header in &request.headers {
            let shown = if !header.secrets.is_empty() {
                format!("[secret {}]", header.secrets.join(", "))
            } else if redactor.finds(header.value.as_bytes()) {
                view(&redactor, &header.value, &["unknown".to_string()])
            } else {
                header.value.to_string()
            };
            out.push((header.name.to_string(), shown));
        }
        Ok(out)
    }

    async fn body(
        &mut self,
        this: Resource<Outgoing>,
    ) -> wasmtime::Result<Result<Vec<u8>, HookError>> {
        let redactor = Arc::clone(&self.context.redactor);
        let request = self.outgoing(&this)?;
        let body = request.body.as_deref().map(Vec::as_slice).unwrap_or(&[]);
        if request.body_secret || redactor.finds(body) {
            return Ok(Err(HookError::Denied(
                "the body carries a secret; hooks cannot read it".into(),
            )));
        }
        Ok(Ok(body.to_vec()))
    }

    async fn set_header(
        &mut self,
        this: Resource<Outgoing>,
        name: String,
        value: String,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let name = match header_name(&name) {
            Ok(name) => name,
            Err(e) => return Ok(Err(e)),
        };
        if HeaderValue::from_str(&value).is_err() {
            return Ok(Err(HookError::Invalid(format!(
                "the value for header `{name}` is not valid in HTTP"
            ))));
        }
        let request = self.outgoing(&this)?;
        remove(request, &name);
        request.headers.push(Header::plain(name, value));
        Ok(Ok(()))
    }

    async fn remove_header(
        &mut self,
        this: Resource<Outgoing>,
        name: String,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let name = match header_name(&name) {
            Ok(name) => name,
            Err(e) => return Ok(Err(e)),
        };
        remove(self.outgoing(&this)?, &name);
        Ok(Ok(()))
    }

    async fn set_secret_header(
        &mut self,
        this: Resource<Outgoing>,
        name: String,
        template: String,
        value: Resource<HookSecret>,
        encoding: Encoding,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let secret = self.secret(&value)?;
        let name = match header_name(&name) {
            Ok(name) => name,
            Err(e) => return Ok(Err(e)),
        };
        if template.matches("{secret}").count() != 1 {
            return Ok(Err(HookError::Invalid(format!(
                "the template for header `{name}` must contain `{{secret}}` exactly once"
            ))));
        }
        let url = self.outgoing(&this)?.url.clone();
        if let Some(allowed) = &secret.binding.hosts
            && !may_send_to(allowed, &url)
        {
            let why = format!(
                "secret `{}` may only be sent to {}, not to {}",
                secret.label,
                allowed.join(", "),
                Destination::of(&url)
            );
            return Ok(Err(self.deny(why)));
        }
        let Some(encoded) = encode(&secret.value, encoding) else {
            return Ok(Err(HookError::Invalid(format!(
                "secret `{}` is not text; write it as hex or base64",
                secret.label
            ))));
        };
        let (before, after) = template.split_once("{secret}").unwrap_or((&template, ""));
        let mut text = Zeroizing::new(String::with_capacity(template.len() + encoded.len()));
        text.push_str(before);
        text.push_str(&encoded);
        text.push_str(after);
        if HeaderValue::from_str(&text).is_err() {
            return Ok(Err(HookError::Invalid(format!(
                "header `{name}` would not be valid in HTTP with secret `{}` written {}",
                secret.label,
                match encoding {
                    Encoding::Raw => "raw",
                    Encoding::Hex => "as hex",
                    Encoding::Base64 => "as base64",
                    Encoding::Base64url => "as base64url",
                }
            ))));
        }
        // Whatever goes on the wire is known to the redactor first. Guest-made
        // values are taught here: the host learns of them only now.
        if secret.value.len() >= crate::secrets::MIN_SECRET_BYTES {
            self.context
                .redactor
                .add_derived(&secret.label, &secret.value)
                .map_err(wasmtime::Error::msg)?;
        }
        let request = self.outgoing(&this)?;
        remove(request, &name);
        request.headers.push(Header {
            name,
            value: text,
            secrets: vec![secret.label.clone()],
        });
        request.attached.push((secret.label, secret.binding));
        Ok(Ok(()))
    }

    async fn set_url(
        &mut self,
        this: Resource<Outgoing>,
        url: String,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let parsed = match Url::parse(url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            Ok(_) => {
                return Ok(Err(HookError::Invalid(
                    "only http and https URLs are allowed".into(),
                )));
            }
            Err(e) => return Ok(Err(HookError::Invalid(format!("not a URL: {e}")))),
        };
        let request = self.outgoing(&this)?;
        let (before, after) = (request.destination(), Destination::of(&parsed));
        if request.carries_secrets() && before != after {
            let why = format!(
                "the request carries a secret, so its destination ({before}) cannot change (to {after})"
            );
            return Ok(Err(self.deny(why)));
        }
        request.url = parsed;
        // The new URL is text the hook wrote: it carries no secret.
        request.url_secrets.clear();
        Ok(Ok(()))
    }

    async fn drop(&mut self, this: Resource<Outgoing>) -> wasmtime::Result<()> {
        // The host owns the request; a guest only ever borrows it.
        let _ = this;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_as_documented() {
        let bytes = [0x01u8, 0xff, 0x10];
        let text = |e| encode(&bytes, e).map(|s| s.to_string());
        assert_eq!(text(Encoding::Hex).as_deref(), Some("01ff10"));
        assert_eq!(text(Encoding::Base64).as_deref(), Some("Af8Q"));
        assert_eq!(
            encode(&[0xfb, 0xff], Encoding::Base64url)
                .as_deref()
                .map(|s| s.as_str()),
            Some("-_8")
        );
        assert_eq!(
            encode(&[0xfb, 0xff], Encoding::Base64)
                .as_deref()
                .map(|s| s.as_str()),
            Some("+/8=")
        );
        // Raw bytes that are not text cannot go in a header.
        assert!(encode(&bytes[1..], Encoding::Raw).is_none());
    }

    #[test]
    fn text_the_redactor_does_not_recognise_is_hidden_whole() {
        assert_eq!(
            view(
                &Redactor::default(),
                "nothing known here",
                &["KEY".to_string()]
            ),
            "[secret KEY]"
        );
    }

    #[test]
    fn hooks_cannot_set_framing_or_host_headers() {
        for name in ["Host", "content-length", "Transfer-Encoding", "connection"] {
            assert!(header_name(name).is_err(), "{name} accepted");
        }
        assert!(header_name("X-Signature").is_ok());
        assert!(header_name("bad name").is_err());
    }
}
