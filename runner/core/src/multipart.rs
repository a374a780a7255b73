//! `multipart/form-data` bodies (RFC 7578): text parts, whose placeholders
//! may be secrets, and files of the project, encoded with a boundary that
//! occurs in no part.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::Diagnostic;
use crate::source::Source;

/// A file part is at most this large (it is read whole, before the run).
pub const MAX_FILE_BYTES: usize = 64 << 20;

/// One part of a multipart body; `T` is its text as compiled (a template's
/// text with placeholders).
#[derive(Debug, Clone)]
pub struct Part<T> {
    /// Its `name` in `Content-Disposition`.
    pub name: String,
    /// What it holds.
    pub kind: PartKind<T>,
}

/// What a part holds.
#[derive(Debug, Clone)]
pub enum PartKind<T> {
    /// Text, placeholders filled when the step runs.
    Text(T),
    /// A file of the project, read when the journey is planned.
    File(FilePart),
}

/// A file part.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The path written, relative to the project root.
    pub path: String,
    /// The `filename` sent (the file's own name unless given).
    pub filename: String,
    /// Its `Content-Type` (`application/octet-stream` unless given).
    pub content_type: String,
    /// Its bytes, once read ([`crate::project::Project::data_bytes`]).
    pub bytes: Arc<[u8]>,
}

/// The parts of `multipart:` in a template: a text (or a number or a
/// boolean, as text), or `{file: PATH, content_type: …, filename: …}`.
/// `text` compiles a text at a path of the template.
pub(crate) fn compile<T>(
    source: &Source,
    written: &IndexMap<String, Value>,
    text: &mut impl FnMut(&[&str], &str) -> Result<T, Diagnostic>,
) -> Result<Vec<Part<T>>, Diagnostic> {
    let mut parts = Vec::with_capacity(written.len());
    for (name, value) in written {
        let at = |field: &[&str]| source.value(&[&["multipart", name.as_str()], field].concat());
        if !quotable(name) {
            return Err(Diagnostic::new(format!(
                "part name `{name}`: no `\"`, line breaks or control characters"
            ))
            .at(source.key(&["multipart", name])));
        }
        let kind = match value {
            Value::String(raw) => PartKind::Text(text(&["multipart", name], raw)?),
            Value::Number(_) | Value::Bool(_) => {
                PartKind::Text(text(&["multipart", name], &value.to_string())?)
            }
            Value::Object(map) if map.contains_key("file") => {
                if let Some(other) = map
                    .keys()
                    .find(|k| !matches!(k.as_str(), "file" | "content_type" | "filename"))
                {
                    return Err(Diagnostic::new(format!(
                        "part `{name}`: `{other}` is not a field of a file part (file, content_type, filename)"
                    ))
                    .at(at(&[other])));
                }
                let field = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
                let path = field("file").ok_or_else(|| {
                    Diagnostic::new(format!("part `{name}`: `file` takes a path")).at(at(&["file"]))
                })?;
                let filename = field("filename").unwrap_or_else(|| {
                    path.rsplit(['/', '\\'])
                        .next()
                        .unwrap_or_default()
                        .to_string()
                });
                if !quotable(&filename) {
                    return Err(Diagnostic::new(format!(
                        "part `{name}`: the file name: no `\"`, line breaks or control characters"
                    ))
                    .at(at(&["filename"])));
                }
                let content_type =
                    field("content_type").unwrap_or_else(|| "application/octet-stream".into());
                if content_type.chars().any(char::is_control) {
                    return Err(Diagnostic::new(format!(
                        "part `{name}`: `content_type` holds a control character"
                    ))
                    .at(at(&["content_type"])));
                }
                PartKind::File(FilePart {
                    path,
                    filename,
                    content_type,
                    bytes: Arc::from(Vec::new()),
                })
            }
            _ => {
                return Err(Diagnostic::new(format!(
                    "part `{name}` is text, or a file: `{{file: PATH, content_type: …, filename: …}}`"
                ))
                .at(at(&[])));
            }
        };
        parts.push(Part {
            name: name.clone(),
            kind,
        });
    }
    Ok(parts)
}

/// Whether `text` can stand between quotes in `Content-Disposition`.
fn quotable(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c == '"' || c.is_control())
}

/// The body of `parts`, each text part already rendered (in order, one for
/// each text part), and its `Content-Type` with the boundary.
pub fn encode<T>(parts: &[Part<T>], texts: &[Zeroizing<String>]) -> (Zeroizing<Vec<u8>>, String) {
    let mut texts = texts.iter();
    let contents: Vec<&[u8]> = parts
        .iter()
        .map(|part| match &part.kind {
            PartKind::Text(_) => texts.next().map_or(&[][..], |t| t.as_bytes()),
            PartKind::File(file) => &file.bytes[..],
        })
        .collect();
    let boundary = boundary(&contents);
    let mut body = Zeroizing::new(Vec::new());
    for (part, content) in parts.iter().zip(&contents) {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let head = match &part.kind {
            PartKind::Text(_) => {
                format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    part.name
                )
            }
            PartKind::File(file) => format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                part.name, file.filename, file.content_type
            ),
        };
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// A random boundary that occurs in none of `contents` (a part holding it
/// would end the part early).
fn boundary(contents: &[&[u8]]) -> String {
    loop {
        // Random keys for SipHash, drawn from the OS: 128 random bits, not
        // derived from the contents (which may hold a secret).
        let random = |n: u64| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(n);
            hasher.finish()
        };
        let boundary = format!("reqflo-{:016x}{:016x}", random(1), random(2));
        let finder = memchr::memmem::Finder::new(boundary.as_bytes());
        if contents.iter().all(|c| finder.find(c).is_none()) {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_framed_by_a_boundary_none_of_them_holds() {
        let parts = vec![
            Part {
                name: "note".into(),
                kind: PartKind::Text(()),
            },
            Part {
                name: "avatar".into(),
                kind: PartKind::File(FilePart {
                    path: "files/a.png".into(),
                    filename: "a.png".into(),
                    content_type: "image/png".into(),
                    bytes: Arc::from(&b"\x89PNG\r\n--"[..]),
                }),
            },
        ];
        let (body, content_type) = encode(&parts, &[Zeroizing::new("hello".into())]);
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .expect("boundary");
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches(boundary).count(), 3, "{text}");
        assert!(text.contains("name=\"note\"\r\n\r\nhello\r\n"), "{text}");
        assert!(text.contains("filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\u{fffd}PNG"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        // Two boundaries are never the same.
        let (_, again) = encode(&parts, &[Zeroizing::new("hello".into())]);
        assert_ne!(again, content_type);
    }
}
