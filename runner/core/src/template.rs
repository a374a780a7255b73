//! Templates compiled once per run: strings split into text and `{{placeholders}}`,
//! rendered per step straight into zeroizing buffers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use indexmap::IndexMap;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Diagnostic, Spot};
use crate::project::Loaded;
use crate::project::model::TemplateFile;
use crate::secret::SecretId;
use crate::source::Source;

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Copied as written.
    Text(String),
    /// Filled from the step's values or the environment's variables.
    Placeholder(String),
}

/// A string with placeholders, parsed once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text {
    segments: Vec<Segment>,
}

/// Where a placeholder string went wrong: a byte offset and why.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem in the string.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl Text {
    /// Split `{{name}}` placeholders out of `input`.
    pub fn parse(input: &str) -> Result<Text, SyntaxError> {
        let mut segments = Vec::new();
        let mut rest = input;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(SyntaxError {
                    offset: offset + open,
                    message: "`{{` is never closed with `}}`".into(),
                });
            };
            let name = after[..close].trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(SyntaxError {
                    offset: offset + open,
                    message: format!(
                        "`{{{{{}}}}}` is not a placeholder name (letters, digits, `_`, `-`, `.`)",
                        &after[..close]
                    ),
                });
            }
            segments.push(Segment::Placeholder(name.to_string()));
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Text { segments })
    }

    /// The placeholder name when the string is exactly one placeholder.
    pub fn whole_placeholder(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [Segment::Placeholder(name)] => Some(name),
            _ => None,
        }
    }

    /// Every placeholder name, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Placeholder(name) => Some(name.as_str()),
            Segment::Text(_) => None,
        })
    }

    /// Render into `out`, recording which secrets went in.
    pub fn render_into(
        &self,
        fills: &dyn Fills,
        out: &mut String,
        used: &mut Vec<SecretId>,
    ) -> Result<(), RenderError> {
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Placeholder(name) => match fills.fill(name) {
                    Some(Filled::Value(value)) => push_value_text(value, out),
                    Some(Filled::Secret { id, text }) => {
                        used.push(id);
                        out.push_str(text);
                    }
                    None => return Err(RenderError::Unfilled(name.clone())),
                },
            }
        }
        Ok(())
    }

    /// Render to a fresh zeroizing string.
    pub fn render(
        &self,
        fills: &dyn Fills,
        used: &mut Vec<SecretId>,
    ) -> Result<Zeroizing<String>, RenderError> {
        let mut out = Zeroizing::new(String::new());
        self.render_into(fills, &mut out, used)?;
        Ok(out)
    }
}

/// A value standing in for a placeholder.
pub enum Filled<'a> {
    /// A plain value: literal, input, variable, capture or generated.
    Value(&'a Value),
    /// A secret's text, known only while the request is built.
    Secret {
        /// Which secret, for the destination check and the report.
        id: SecretId,
        /// Its value.
        text: &'a str,
    },
}

/// Where placeholder values come from while rendering one step.
pub trait Fills {
    /// The fill for `name`, if there is one.
    fn fill(&self, name: &str) -> Option<Filled<'_>>;
}

/// Rendering failed; the plan makes this unreachable for valid journeys.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Nothing fills a placeholder.
    #[error("placeholder `{{{{{0}}}}}` has no value")]
    Unfilled(String),
}

/// A JSON body or query value with placeholders inside its strings.
#[derive(Debug, Clone)]
pub enum JsonTemplate {
    /// No placeholders anywhere below: emitted as is.
    Fixed(Value),
    /// `"{{name}}"`: replaced by the value with its own JSON type.
    Whole(String),
    /// A string with text around placeholders.
    Str(Text),
    /// An array with placeholders somewhere inside.
    Array(Vec<JsonTemplate>),
    /// An object with placeholders somewhere inside.
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    fn visit<'a>(&'a self, names: &mut Vec<&'a str>) {
        match self {
            JsonTemplate::Fixed(_) => {}
            JsonTemplate::Whole(name) => names.push(name),
            JsonTemplate::Str(text) => names.extend(text.placeholders()),
            JsonTemplate::Array(items) => items.iter().for_each(|i| i.visit(names)),
            JsonTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.visit(names)),
        }
    }

    /// Write as JSON into `out`, never holding a secret outside `out`.
    pub fn write_json(
        &self,
        fills: &dyn Fills,
        out: &mut Vec<u8>,
        used: &mut Vec<SecretId>,
    ) -> Result<(), RenderError> {
        match self {
            JsonTemplate::Fixed(value) => write_json_value(value, out),
            JsonTemplate::Whole(name) => match fills.fill(name) {
                Some(Filled::Value(value)) => write_json_value(value, out),
                Some(Filled::Secret { id, text }) => {
                    used.push(id);
                    write_json_str(text, out);
                }
                None => return Err(RenderError::Unfilled(name.clone())),
            },
            JsonTemplate::Str(text) => {
                let rendered = text.render(fills, used)?;
                write_json_str(&rendered, out);
            }
            JsonTemplate::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_json(fills, out, used)?;
                }
                out.push(b']');
            }
            JsonTemplate::Object(fields) => {
                out.push(b'{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_str(key, out);
                    out.push(b':');
                    value.write_json(fills, out, used)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }

    /// Render as text (for query and form fields): strings as they are, other
    /// values as JSON.
    pub fn render_text(
        &self,
        fills: &dyn Fills,
        used: &mut Vec<SecretId>,
    ) -> Result<Zeroizing<String>, RenderError> {
        match self {
            JsonTemplate::Str(text) => text.render(fills, used),
            JsonTemplate::Whole(name) => {
                let mut out = Zeroizing::new(String::new());
                match fills.fill(name) {
                    Some(Filled::Value(value)) => push_value_text(value, &mut out),
                    Some(Filled::Secret { id, text }) => {
                        used.push(id);
                        out.push_str(text);
                    }
                    None => return Err(RenderError::Unfilled(name.clone())),
                }
                Ok(out)
            }
            JsonTemplate::Fixed(value) => {
                let mut out = Zeroizing::new(String::new());
                push_value_text(value, &mut out);
                Ok(out)
            }
            JsonTemplate::Array(_) | JsonTemplate::Object(_) => {
                let mut bytes = Zeroizing::new(Vec::new());
                self.write_json(fills, &mut bytes, used)?;
                Ok(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
            }
        }
    }
}

/// Text form of a value: strings unquoted, null empty, the rest as JSON.
pub fn push_value_text(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_json_value(value: &Value, out: &mut Vec<u8>) {
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn write_json_str(text: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    None,
    /// `json:`
    Json(JsonTemplate),
    /// `form:` (urlencoded)
    Form(Vec<(String, JsonTemplate)>),
    /// `body:` (raw text)
    Raw(Text),
    /// `multipart:` (form data: text parts and files)
    Multipart(Vec<crate::multipart::Part<Text>>),
}

/// A template compiled once per run.
#[derive(Debug)]
pub struct Template {
    /// Its name (file stem).
    pub name: String,
    /// HTTP method.
    pub method: Text,
    /// URL before query parameters.
    pub url: Text,
    /// Request headers in written order.
    pub headers: Vec<(String, Text)>,
    /// Query parameters in written order.
    pub query: Vec<(String, JsonTemplate)>,
    /// The body.
    pub body: Body,
    /// Basic credentials, encoded by reqflo.
    pub basic_auth: Option<(Text, Text)>,
    /// Every placeholder and where it first appears.
    pub placeholders: BTreeMap<String, Option<Spot>>,
}

impl Template {
    /// Compile a loaded template file; errors point at the offending string.
    pub fn compile(loaded: &Loaded<TemplateFile>) -> Result<Template, Diagnostic> {
        let file = &loaded.file;
        let source = &loaded.source;
        let mut placeholders = BTreeMap::new();
        let mut text = |path: &[&str], raw: &str| -> Result<Text, Diagnostic> {
            let text = parse_at(source, path, raw)?;
            for name in text.placeholders() {
                placeholders
                    .entry(name.to_string())
                    .or_insert_with(|| point_at(source.value(path), name));
            }
            Ok(text)
        };
        let method = text(&["method"], &file.method)?;
        let url = text(&["url"], &file.url)?;
        let mut headers = Vec::new();
        for (name, value) in &file.headers {
            if reqwest_header_name_ok(name) {
                headers.push((name.clone(), text(&["headers", name], value)?));
            } else {
                return Err(
                    Diagnostic::new(format!("`{name}` is not a valid header name"))
                        .at(source.key(&["headers", name])),
                );
            }
        }
        let basic_auth = match &file.basic_auth {
            Some(auth) => Some((
                text(&["basic_auth", "username"], &auth.username)?,
                text(&["basic_auth", "password"], &auth.password)?,
            )),
            None => None,
        };
        let json_fields = |root: &str, map: &IndexMap<String, Value>| {
            map.iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        compile_json(source, &mut vec![root.to_string(), k.clone()], v)?,
                    ))
                })
                .collect::<Result<Vec<_>, Diagnostic>>()
        };
        let query = json_fields("query", &file.query)?;
        let bodies = [
            file.json.is_some(),
            file.form.is_some(),
            file.body.is_some(),
            file.multipart.is_some(),
        ];
        if bodies.iter().filter(|b| **b).count() > 1 {
            return Err(Diagnostic::new(
                "a template has at most one of `json`, `form`, `body` and `multipart`",
            )
            .at(source.value(&[]))
            .hint("keep one body and remove the others"));
        }
        let body = if let Some(json) = &file.json {
            Body::Json(compile_json(source, &mut vec!["json".into()], json)?)
        } else if let Some(form) = &file.form {
            Body::Form(json_fields("form", form)?)
        } else if let Some(raw) = &file.body {
            Body::Raw(text(&["body"], raw)?)
        } else if let Some(parts) = &file.multipart {
            if let Some(name) = file
                .headers
                .keys()
                .find(|n| n.eq_ignore_ascii_case("content-type"))
            {
                return Err(Diagnostic::new(
                    "a `multipart:` body sets its own Content-Type (with its boundary)",
                )
                .at(source.key(&["headers", name])));
            }
            Body::Multipart(crate::multipart::compile(source, parts, &mut text)?)
        } else {
            Body::None
        };
        let mut template = Template {
            name: loaded.name.clone(),
            method,
            url,
            headers,
            query,
            body,
            basic_auth,
            placeholders,
        };
        // JSON, form and query placeholders were compiled outside `text`.
        let mut names = Vec::new();
        for (_, value) in &template.query {
            value.visit(&mut names);
        }
        match &template.body {
            Body::Json(json) => json.visit(&mut names),
            Body::Form(fields) => fields.iter().for_each(|(_, v)| v.visit(&mut names)),
            Body::None | Body::Raw(_) | Body::Multipart(_) => {}
        }
        let extra: Vec<String> = names.into_iter().map(str::to_string).collect();
        for name in extra {
            template
                .placeholders
                .entry(name.clone())
                .or_insert_with(|| find_placeholder(source, &name));
        }
        Ok(template)
    }
}

fn reqwest_header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The byte offset of `{{name}}` (spaces allowed inside) in `line` at or after `from`.
fn placeholder_at(line: &str, from: usize, name: &str) -> Option<usize> {
    let rest = line.get(from..)?;
    rest.match_indices("{{")
        .find(|(at, _)| {
            rest[at + 2..]
                .trim_start()
                .strip_prefix(name)
                .is_some_and(|after| after.trim_start().starts_with("}}"))
        })
        .map(|(at, _)| from + at)
}

/// Move a spot from the start of a string to the placeholder `name` inside it,
/// when the string is on that line as written.
fn point_at(spot: Option<Spot>, name: &str) -> Option<Spot> {
    let mut spot = spot?;
    let start = spot
        .line_text
        .char_indices()
        .nth(spot.column.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    if let Some(at) = placeholder_at(&spot.line_text, start, name) {
        spot.column = spot.line_text[..at].chars().count() + 1;
    }
    Some(spot)
}

/// The first `{{name}}` in the source, for positions inside JSON bodies.
fn find_placeholder(source: &Source, name: &str) -> Option<Spot> {
    // Lines as YAML counts them (a lone `\r` breaks one), like every position.
    (1..=source.line_count()).find_map(|number| {
        let line = source.line(number);
        let at = placeholder_at(line, 0, name)?;
        Some(source.spot(crate::source::Pos {
            line: number,
            column: line[..at].chars().count() + 1,
        }))
    })
}

fn parse_at(source: &Source, path: &[&str], raw: &str) -> Result<Text, Diagnostic> {
    Text::parse(raw).map_err(|e| {
        let mut spot = source.value(path);
        // Point at the `{{` itself when the string sits on one line as written.
        if let Some(spot) = spot.as_mut()
            && let Some(col) = spot.line_text.find(raw)
        {
            spot.column = spot.line_text[..col + e.offset].chars().count() + 1;
        }
        Diagnostic::new(e.message).at(spot)
    })
}

fn compile_json(
    source: &Source,
    path: &mut Vec<String>,
    value: &Value,
) -> Result<JsonTemplate, Diagnostic> {
    Ok(match value {
        Value::String(raw) => {
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            let text = parse_at(source, &refs, raw)?;
            if let Some(name) = text.whole_placeholder() {
                JsonTemplate::Whole(name.to_string())
            } else if text.placeholders().next().is_some() {
                JsonTemplate::Str(text)
            } else {
                JsonTemplate::Fixed(value.clone())
            }
        }
        Value::Array(items) => {
            let mut compiled = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                compiled.push(compile_json(source, path, item)?);
                path.pop();
            }
            if compiled.iter().all(|c| matches!(c, JsonTemplate::Fixed(_))) {
                JsonTemplate::Fixed(value.clone())
            } else {
                JsonTemplate::Array(compiled)
            }
        }
        Value::Object(fields) => {
            let mut compiled = Vec::with_capacity(fields.len());
            for (key, item) in fields {
                path.push(key.clone());
                compiled.push((key.clone(), compile_json(source, path, item)?));
                path.pop();
            }
            if compiled
                .iter()
                .all(|(_, c)| matches!(c, JsonTemplate::Fixed(_)))
            {
                JsonTemplate::Fixed(value.clone())
            } else {
                JsonTemplate::Object(compiled)
            }
        }
        other => JsonTemplate::Fixed(other.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Map(Vec<(&'static str, Value)>);
    impl Fills for Map {
        fn fill(&self, name: &str) -> Option<Filled<'_>> {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| Filled::Value(v))
        }
    }

    #[test]
    fn parses_text_and_placeholders() {
        let t = Text::parse("Bearer {{ token }}!").expect("valid");
        assert_eq!(t.placeholders().collect::<Vec<_>>(), ["token"]);
        let rendered = t
            .render(&Map(vec![("token", Value::from("abc"))]), &mut Vec::new())
            .expect("filled");
        assert_eq!(rendered.as_str(), "Bearer abc!");
    }

    #[test]
    fn rejects_unclosed_and_bad_names() {
        assert_eq!(Text::parse("a {{b").map_err(|e| e.offset), Err(2));
        assert!(Text::parse("{{a b}}").is_err());
        assert!(Text::parse("{{}}").is_err());
    }

    #[test]
    fn whole_placeholder_keeps_json_type() {
        let t = JsonTemplate::Object(vec![
            ("amount".into(), JsonTemplate::Whole("amount".into())),
            (
                "note".into(),
                JsonTemplate::Str(Text::parse("n={{amount}}").expect("valid")),
            ),
        ]);
        let mut out = Vec::new();
        t.write_json(
            &Map(vec![("amount", Value::from(1000))]),
            &mut out,
            &mut Vec::new(),
        )
        .expect("filled");
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"amount":1000,"note":"n=1000"}"#
        );
    }

    #[test]
    fn unfilled_placeholder_is_an_error() {
        let t = Text::parse("{{missing}}").expect("valid");
        assert!(matches!(
            t.render(&Map(vec![]), &mut Vec::new()),
            Err(RenderError::Unfilled(name)) if name == "missing"
        ));
    }
}
