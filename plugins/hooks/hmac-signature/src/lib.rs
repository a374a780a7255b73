//! The built-in `hmac-signature` request hook: a webhook-style signature
//! header, HMAC-SHA256 over a message built from the timestamp and the body
//! (by default `TIMESTAMP.BODY`, written `t=TIMESTAMP,v1=HEX`, as Stripe does).
//!
//! The key is a granted secret the hook holds only as a handle: the host
//! computes the HMAC into a new handle and writes it into the header, so the
//! hook never sees the key or the signature.

pub mod settings;

use settings::{Field, RequestParts, Settings, SignatureEncoding};

use reqflo_hook_support::config::chosen;
use reqflo_hook_support::{Encoding, Error, Hook, Outgoing, Secret, export_hook, hmac_sha256};

/// The hook: its settings, read once by `configure`.
struct HmacSignature {
    settings: Settings,
}

impl Hook for HmacSignature {
    fn configure(config: Vec<(String, String)>) -> Result<Self, Error> {
        let settings = Settings::from_config(&config).map_err(|e| Error::Invalid(e.0))?;
        Ok(HmacSignature { settings })
    }

    fn on_request(
        &mut self,
        request: &Outgoing,
        secrets: &[(String, &Secret)],
    ) -> Result<(), Error> {
        let settings = &self.settings;
        let (key_name, key) = chosen(secrets, settings.secret.as_deref(), &settings::KEY)?;

        let timestamp = now()?;
        let method = request.method();
        let url = request.url();
        let path = settings::path_and_query(&url);
        if settings.message.uses(Field::Path) && path.contains("[secret ") {
            return Err(Error::Denied(
                "the URL's path or query carries a secret, so `{path}` cannot be signed".into(),
            ));
        }
        let body = if settings.message.uses(Field::Body) {
            request.body().map_err(|e| match e {
                Error::Denied(_) => Error::Denied(
                    "the request body carries a secret, so it cannot be signed; \
                     sign a body without secrets, or leave `{body}` out of config `message`"
                        .into(),
                ),
                other => other,
            })?
        } else {
            Vec::new()
        };
        let message = settings::message_bytes(
            &settings.message,
            &RequestParts {
                timestamp,
                method: &method,
                path: &path,
                body: &body,
            },
        );

        let signature = hmac_sha256(key, &message).map_err(|e| context(e, key_name))?;
        if let Some(name) = &settings.timestamp_header {
            request.set_header(name, &timestamp.to_string())?;
        }
        let encoding = match settings.encoding {
            SignatureEncoding::Hex => Encoding::Hex,
            SignatureEncoding::Base64 => Encoding::Base64,
            SignatureEncoding::Base64Url => Encoding::Base64url,
        };
        request.set_secret_header(
            &settings.header,
            &settings::header_template(&settings.format, timestamp),
            &signature,
            encoding,
        )
    }
}

/// Say which secret the host refused to sign with.
fn context(error: Error, key: &str) -> Error {
    match error {
        Error::Denied(m) => Error::Denied(format!("signing with `{key}`: {m}")),
        Error::Invalid(m) => Error::Invalid(format!("signing with `{key}`: {m}")),
        Error::Unavailable(m) => Error::Unavailable(format!("signing with `{key}`: {m}")),
    }
}

/// Unix time in seconds, from wasi:clocks' wall clock.
fn now() -> Result<u64, Error> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::Unavailable("the clock is before 1970".into()))
}

export_hook!(HmacSignature);
