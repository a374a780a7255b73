//! Error answers: a status and a message, never a value, never a quote of
//! what a request held.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer: a status and a message, as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the caller; never a value.
    pub message: String,
    /// The exit code a CLI run would have had (`reqflo run --remote`).
    pub exit_code: Option<i32>,
    /// Seconds to wait before trying again (429), as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            exit_code: None,
            retry_after: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// 500: the detail goes to the server's log, not to the caller.
    pub fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        // sqlx's messages name tables and constraints, never bound values.
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<crate::keys::KeyError> for ApiError {
    fn from(e: crate::keys::KeyError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(code) = self.exit_code {
            body["exit_code"] = code.into();
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// Describe a JSON error without the text it quotes: serde's messages
/// embed the offending value (`invalid type: string "…"`), which may be a
/// secret sent in the wrong field. A missing field's name and the
/// expected names are the server's own and are kept; nothing the caller
/// wrote is.
pub fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    let text = e.to_string();
    let what = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => "malformed JSON".to_string(),
        Category::Data => {
            if text.starts_with("unknown field") {
                // The unknown name is the caller's text; the expected ones are ours.
                let expected = text
                    .split_once(", expected ")
                    .map(|(_, e)| e.split(" at line ").next().unwrap_or(e))
                    .unwrap_or("no other field");
                format!("an unknown field (expected {expected})")
            } else if let Some(field) = quoted_after(&text, "missing field `") {
                format!("missing field `{field}`")
            } else if let Some((kind, _)) = text.split_once(':') {
                // "invalid type", "invalid value", "invalid length", …
                let expected = text
                    .split_once(", expected ")
                    .map(|(_, e)| e.split(" at line ").next().unwrap_or(e))
                    .filter(|e| !e.contains(['"', '`']))
                    .map(|e| format!(", expected {e}"))
                    .unwrap_or_default();
                format!("{kind}{expected}")
            } else {
                "the body does not have the expected shape".to_string()
            }
        }
    };
    format!("invalid request body: {what} at {at}")
}

fn quoted_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = text.split_once(prefix)?.1;
    let field = rest.split('`').next()?;
    // A field name is short and plain; anything else is not echoed.
    (field.len() <= 64
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then_some(field)
}

/// Map a status into the error every unknown id gets.
pub fn missing(what: &str, id: &str) -> ApiError {
    let id: String = id.chars().take(80).filter(|c| !c.is_control()).collect();
    ApiError::not_found(format!("no {what} `{id}`"))
}

/// A JSON answer with a status.
pub fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
        allow_http: Option<bool>,
        count: Option<u32>,
    }

    #[test]
    fn json_errors_never_echo_a_value() {
        let canary = "sk_canary_0123456789";
        for body in [
            format!(r#"{{"name": "x", "allow_http": "{canary}"}}"#),
            format!(r#"{{"name": "x", "count": "{canary}"}}"#),
            format!(r#"{{"name": "x", "{canary}": 1}}"#),
            format!(r#"{{"name": ["{canary}"]}}"#),
            format!(r#"{{"name": "{canary}"#),
            r#"{"name": "x", "count": 123456789012345}"#.to_string(),
        ] {
            let e = serde_json::from_str::<Shape>(&body).expect_err("bad");
            let text = json_error(&e);
            assert!(!text.contains(canary), "{text}");
            assert!(!text.contains("123456789012345"), "{text}");
            assert!(text.contains("line 1, column"), "{text}");
        }
        let e = serde_json::from_str::<Shape>(r#"{"nme": "x"}"#).expect_err("bad");
        assert!(
            json_error(&e).contains("an unknown field (expected one of `name`"),
            "{}",
            json_error(&e)
        );
    }
}
