//! The hook's configuration and its two templates, as plain Rust so the unit
//! tests run natively.

use std::fmt;

use reqflo_hook_support::config::{Role, each_once, header_name, secret_name, unknown};

/// A placeholder a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `{timestamp}`: Unix time in seconds.
    Timestamp,
    /// `{body}`: the request body's bytes.
    Body,
    /// `{method}`: `GET`, `POST`…
    Method,
    /// `{path}`: the URL's path and query.
    Path,
    /// `{signature}`: where the header value carries the signature.
    Signature,
}

impl Field {
    fn named(name: &str) -> Option<Field> {
        Some(match name {
            "timestamp" => Field::Timestamp,
            "body" => Field::Body,
            "method" => Field::Method,
            "path" => Field::Path,
            "signature" => Field::Signature,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Field::Timestamp => "timestamp",
            Field::Body => "body",
            Field::Method => "method",
            Field::Path => "path",
            Field::Signature => "signature",
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as it is.
    Literal(String),
    /// A placeholder.
    Field(Field),
}

/// A parsed template: text with `{field}` placeholders; `{{` and `}}` are
/// literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parse `text`, allowing only the fields in `allowed`.
    pub fn parse(text: &str, allowed: &[Field]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("{{") || rest.starts_with("}}") {
                literal.push(c);
                rest = &rest[2..];
            } else if c == '{' {
                let Some(end) = rest.find('}') else {
                    return Err("has a `{` that is never closed (write `{{` for a brace)".into());
                };
                let name = &rest[1..end];
                let field = Field::named(name)
                    .filter(|f| allowed.contains(f))
                    .ok_or_else(|| {
                        format!(
                            "has an unknown placeholder `{{{name}}}` (it may use {})",
                            allowed
                                .iter()
                                .map(|f| format!("{{{}}}", f.name()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })?;
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Field(field));
                rest = &rest[end + 1..];
            } else if c == '}' {
                return Err("has a `}` without its `{` (write `}}` for a brace)".into());
            } else {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Its pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether it uses `field`.
    pub fn uses(&self, field: Field) -> bool {
        self.parts.contains(&Part::Field(field))
    }

    /// How many times it uses `field`.
    fn count(&self, field: Field) -> usize {
        self.parts
            .iter()
            .filter(|p| **p == Part::Field(field))
            .count()
    }
}

/// How the signature is written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Lowercase hexadecimal.
    Hex,
    /// Standard base64, padded.
    Base64,
    /// URL-safe base64, unpadded.
    Base64Url,
}

/// The hook's settings, from its `config:` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The granted secret that is the key; `None`: the only granted one.
    pub secret: Option<String>,
    /// The signature header's name.
    pub header: String,
    /// What is signed.
    pub message: Template,
    /// The signature header's value.
    pub format: Template,
    /// How the signature is written.
    pub encoding: SignatureEncoding,
    /// A header that also carries the timestamp, if any.
    pub timestamp_header: Option<String>,
}

/// A configuration the hook refuses; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every key `config:` may have.
const KEYS: [&str; 6] = [
    "secret",
    "header",
    "message",
    "format",
    "encoding",
    "timestamp_header",
];

impl Settings {
    /// Read the `config:` map.
    pub fn from_config(config: &[(String, String)]) -> Result<Settings, ConfigError> {
        let mut settings = Settings {
            secret: None,
            header: "X-Signature".into(),
            message: Template::parse("{timestamp}.{body}", MESSAGE_FIELDS).map_err(ConfigError)?,
            format: Template::parse("t={timestamp},v1={signature}", FORMAT_FIELDS)
                .map_err(ConfigError)?,
            encoding: SignatureEncoding::Hex,
            timestamp_header: None,
        };
        for entry in each_once(config) {
            let (key, value) = entry.map_err(ConfigError)?;
            let bad = |why: String| ConfigError(format!("config `{key}` {why}"));
            match key {
                "secret" => settings.secret = Some(secret_name(value).map_err(bad)?),
                "header" => settings.header = header_name(value).map_err(bad)?,
                "timestamp_header" => {
                    settings.timestamp_header = Some(header_name(value).map_err(bad)?)
                }
                "message" => {
                    settings.message = Template::parse(value, MESSAGE_FIELDS).map_err(bad)?
                }
                "format" => {
                    let format = Template::parse(value, FORMAT_FIELDS).map_err(bad)?;
                    if format.count(Field::Signature) != 1 {
                        return Err(bad("must use `{signature}` exactly once".into()));
                    }
                    // The host's header template gives braces a meaning of its own.
                    let braces = format
                        .parts()
                        .iter()
                        .any(|p| matches!(p, Part::Literal(l) if l.contains(['{', '}'])));
                    if braces {
                        return Err(bad("may not contain literal braces".into()));
                    }
                    settings.format = format;
                }
                "encoding" => {
                    settings.encoding = match value {
                        "hex" => SignatureEncoding::Hex,
                        "base64" => SignatureEncoding::Base64,
                        "base64url" => SignatureEncoding::Base64Url,
                        other => {
                            return Err(bad(format!("is `{other}`; use hex, base64 or base64url")));
                        }
                    }
                }
                other => return Err(ConfigError(unknown(other, &KEYS))),
            }
        }
        Ok(settings)
    }
}

/// How the messages speak of the granted secret the hook signs with.
pub const KEY: Role = Role {
    noun: "the signing key",
    which: "signs",
};

/// The fields `message` may use.
const MESSAGE_FIELDS: &[Field] = &[Field::Timestamp, Field::Body, Field::Method, Field::Path];
/// The fields `format` may use.
const FORMAT_FIELDS: &[Field] = &[Field::Timestamp, Field::Signature];

/// What a message may include from the request.
pub struct RequestParts<'a> {
    /// Unix time in seconds.
    pub timestamp: u64,
    /// `GET`, `POST`…
    pub method: &'a str,
    /// The URL's path and query.
    pub path: &'a str,
    /// The body's bytes.
    pub body: &'a [u8],
}

/// The bytes to sign: `message` with its fields filled in.
pub fn message_bytes(message: &Template, parts: &RequestParts<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for part in message.parts() {
        match part {
            Part::Literal(text) => out.extend_from_slice(text.as_bytes()),
            Part::Field(Field::Timestamp) => {
                out.extend_from_slice(parts.timestamp.to_string().as_bytes())
            }
            Part::Field(Field::Body) => out.extend_from_slice(parts.body),
            Part::Field(Field::Method) => out.extend_from_slice(parts.method.as_bytes()),
            Part::Field(Field::Path) => out.extend_from_slice(parts.path.as_bytes()),
            // `message` cannot use it (parse refuses it).
            Part::Field(Field::Signature) => {}
        }
    }
    out
}

/// The host's header template: `format` with the timestamp filled in and
/// `{secret}` where the signature goes.
pub fn header_template(format: &Template, timestamp: u64) -> String {
    let mut out = String::new();
    for part in format.parts() {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Field(Field::Timestamp) => out.push_str(&timestamp.to_string()),
            Part::Field(Field::Signature) => out.push_str("{secret}"),
            // `format` cannot use them (parse refuses them).
            Part::Field(_) => {}
        }
    }
    out
}

/// The path and query of an absolute URL as the request line carries them
/// (`/` when it has no path).
pub fn path_and_query(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| &url[i + 3..]).unwrap_or(url);
    let without_fragment = after_scheme.split('#').next().unwrap_or("");
    match without_fragment.find(['/', '?']) {
        Some(i) if without_fragment[i..].starts_with('?') => {
            format!("/{}", &without_fragment[i..])
        }
        Some(i) => without_fragment[i..].to_string(),
        None => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqflo_hook_support::config::choose;
    use reqflo_hook_support::testing::{accepted, config, refused};

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        accepted(Settings::from_config(&config(pairs)))
    }

    /// What a request gives a message.
    fn request<'a>(
        timestamp: u64,
        method: &'a str,
        path: &'a str,
        body: &'a [u8],
    ) -> RequestParts<'a> {
        RequestParts {
            timestamp,
            method,
            path,
            body,
        }
    }

    #[test]
    fn defaults_are_stripe_style() {
        let s = settings(&[]);
        assert_eq!(s.header, "X-Signature");
        assert_eq!(s.encoding, SignatureEncoding::Hex);
        assert_eq!(s.secret, None);
        assert_eq!(s.timestamp_header, None);
        let parts = request(1700000000, "POST", "/hooks", br#"{"id":1}"#);
        assert_eq!(message_bytes(&s.message, &parts), br#"1700000000.{"id":1}"#);
        assert_eq!(
            header_template(&s.format, 1700000000),
            "t=1700000000,v1={secret}"
        );
    }

    #[test]
    fn every_key_is_read() {
        let s = settings(&[
            ("secret", "signing_key"),
            ("header", "Stripe-Signature"),
            ("message", "{method}\n{path}\n{timestamp}\n{body}"),
            ("format", "{signature}"),
            ("encoding", "base64url"),
            ("timestamp_header", "X-Timestamp"),
        ]);
        assert_eq!(s.secret.as_deref(), Some("signing_key"));
        assert_eq!(s.header, "Stripe-Signature");
        assert_eq!(s.encoding, SignatureEncoding::Base64Url);
        assert_eq!(s.timestamp_header.as_deref(), Some("X-Timestamp"));
        assert!(s.message.uses(Field::Path) && s.message.uses(Field::Body));
        let parts = request(5, "PUT", "/a?b=c", b"xyz");
        assert_eq!(message_bytes(&s.message, &parts), b"PUT\n/a?b=c\n5\nxyz");
        assert_eq!(header_template(&s.format, 5), "{secret}");
        assert_eq!(
            settings(&[("encoding", "base64")]).encoding,
            SignatureEncoding::Base64
        );
    }

    #[test]
    fn escaped_braces_are_literal() {
        let s = settings(&[("message", "{{\"t\":{timestamp}}}")]);
        let parts = request(7, "GET", "/", b"");
        assert_eq!(message_bytes(&s.message, &parts), b"{\"t\":7}");
        assert!(!s.message.uses(Field::Body));
    }

    #[test]
    fn bad_config_names_the_key() {
        let cases: [(&[(&str, &str)], &str); 13] = [
            (
                &[("sekret", "x")],
                "unknown config `sekret` (known: secret, header, message, format, encoding, timestamp_header)",
            ),
            (
                &[("encoding", "hexadecimal")],
                "config `encoding` is `hexadecimal`; use hex, base64 or base64url",
            ),
            (
                &[("format", "t={timestamp}")],
                "config `format` must use `{signature}` exactly once",
            ),
            (
                &[("format", "{signature},{signature}")],
                "config `format` must use `{signature}` exactly once",
            ),
            (
                &[("format", "{{{signature}}}")],
                "config `format` may not contain literal braces",
            ),
            (
                &[("format", "v1={secret}")],
                "config `format` has an unknown placeholder `{secret}` (it may use {timestamp}, {signature})",
            ),
            (
                &[("message", "{timestamp}.{signature}")],
                "config `message` has an unknown placeholder `{signature}` (it may use {timestamp}, {body}, {method}, {path})",
            ),
            (
                &[("message", "{timestamp")],
                "config `message` has a `{` that is never closed (write `{{` for a brace)",
            ),
            (
                &[("message", "a}b")],
                "config `message` has a `}` without its `{` (write `}}` for a brace)",
            ),
            (
                &[("header", "X Signature")],
                "config `header` `X Signature` is not a valid header name",
            ),
            (
                &[("timestamp_header", "")],
                "config `timestamp_header` `` is not a valid header name",
            ),
            (
                &[("secret", "")],
                "config `secret` is empty; name one of the hook's secrets",
            ),
            (
                &[("header", "A"), ("header", "B")],
                "config `header` is given twice",
            ),
        ];
        for (pairs, message) in cases {
            assert_eq!(refused(Settings::from_config(&config(pairs))).0, message);
        }
    }

    #[test]
    fn the_key_is_the_named_or_only_secret() {
        let only = settings(&[]).secret;
        assert_eq!(choose(&["k"], only.as_deref(), &KEY), Ok(0));
        assert_eq!(
            choose(&[], only.as_deref(), &KEY),
            Err("no secret is granted to this hook; list the signing key under `secrets:`".into())
        );
        assert_eq!(
            choose(&["a", "b"], only.as_deref(), &KEY),
            Err(
                "several secrets are granted (`a`, `b`); say which one signs with config `secret`"
                    .into()
            )
        );
        let named = settings(&[("secret", "b")]).secret;
        assert_eq!(choose(&["a", "b"], named.as_deref(), &KEY), Ok(1));
        assert_eq!(
            choose(&["a"], named.as_deref(), &KEY),
            Err(
                "config `secret` names `b`, which is not granted to this hook (granted: `a`)"
                    .into()
            )
        );
    }

    #[test]
    fn paths_keep_their_query_and_drop_the_fragment() {
        assert_eq!(
            path_and_query("https://api.example.com/v1/x?y=1#z"),
            "/v1/x?y=1"
        );
        assert_eq!(path_and_query("http://127.0.0.1:8080"), "/");
        assert_eq!(path_and_query("http://h:1?q=2"), "/?q=2");
        assert_eq!(path_and_query("https://h/"), "/");
    }
}
