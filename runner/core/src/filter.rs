//! Filters on a captured value (`filters:` of a capture), applied in order:
//! split text, take an element, a regular expression's group, a JSONPath
//! into JSON held in text, base64 and percent decoding, text to integer.
//!
//! A filter's error describes the value's kind, never the value: the value
//! may be a secret.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use serde_json_path::JsonPath;

/// One filter, checked.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Text split at a separator: a list of text.
    Split(String),
    /// The element at an index of a list (negative: from the end).
    Nth(i64),
    /// The first match of a regular expression in text: its first group
    /// when it has one, else the whole match.
    Regex(Regex),
    /// Text parsed as JSON, and the first value a JSONPath finds there.
    JsonPath(String, Arc<JsonPath>),
    /// Base64 (standard or URL-safe, padded or not) decoded to UTF-8 text.
    Base64Decode,
    /// Percent-decoding (`+` is a space) to UTF-8 text.
    UrlDecode,
    /// Text (or a number) as an integer.
    ToInt,
}

/// A compiled regular expression and how it was written.
#[derive(Debug, Clone)]
pub struct Regex {
    written: String,
    regex: regex_automata::meta::Regex,
}

impl Regex {
    /// Compile `written`, or say why it is not a regular expression.
    pub fn new(written: &str) -> Result<Regex, String> {
        regex_automata::meta::Regex::new(written)
            .map(|regex| Regex {
                written: written.to_string(),
                regex,
            })
            .map_err(|e| format!("`{written}` is not a regular expression: {e}"))
    }

    /// How it was written.
    pub fn written(&self) -> &str {
        &self.written
    }

    /// The first match in `text`: group 1 when the expression has groups,
    /// else the whole match.
    pub fn first(&self, text: &str) -> Option<String> {
        let mut captures = self.regex.create_captures();
        self.regex.captures(text, &mut captures);
        let span = captures.get_group(1).or_else(|| captures.get_group(0))?;
        Some(text[span.range()].to_string())
    }
}

/// The names a filter is written with.
const NAMES: &str = "split, nth, regex, jsonpath, base64-decode, url-decode, to-int";

impl Filter {
    /// Parse one entry of `filters:`: a name (`base64-decode`) or a map of
    /// one name to its argument (`split: ","`).
    pub fn parse(raw: &Value) -> Result<Filter, String> {
        let (name, arg) = match raw {
            Value::String(name) => (name.as_str(), None),
            Value::Object(map) if map.len() == 1 => {
                let (name, arg) = map
                    .iter()
                    .next()
                    .map(|(k, v)| (k.as_str(), v))
                    .unwrap_or_default();
                (name, Some(arg))
            }
            _ => {
                return Err(format!(
                    "a filter is a name or a map of one name to its argument (filters: {NAMES})"
                ));
            }
        };
        let text = |what: &str| {
            arg.and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("`{name}` takes {what}"))
        };
        let none = |filter: Filter| match arg {
            None | Some(Value::Null) => Ok(filter),
            Some(_) => Err(format!("`{name}` takes no argument")),
        };
        match name {
            "split" => Ok(Filter::Split(text("the separator, as text")?)),
            "nth" => arg
                .and_then(Value::as_i64)
                .map(Filter::Nth)
                .ok_or_else(|| "`nth` takes an index (0 is the first, -1 the last)".to_string()),
            "regex" => Regex::new(&text("a regular expression")?).map(Filter::Regex),
            "jsonpath" => {
                let written = text("a JSONPath, e.g. `$.id`")?;
                JsonPath::parse(&written)
                    .map(|p| Filter::JsonPath(written.clone(), Arc::new(p)))
                    .map_err(|e| format!("`{written}` is not a JSONPath: {e}"))
            }
            "base64-decode" => none(Filter::Base64Decode),
            "url-decode" => none(Filter::UrlDecode),
            "to-int" => none(Filter::ToInt),
            other => Err(format!("no filter `{other}` (filters: {NAMES})")),
        }
    }

    /// How it is written, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Filter::Split(_) => "split",
            Filter::Nth(_) => "nth",
            Filter::Regex(_) => "regex",
            Filter::JsonPath(..) => "jsonpath",
            Filter::Base64Decode => "base64-decode",
            Filter::UrlDecode => "url-decode",
            Filter::ToInt => "to-int",
        }
    }

    /// Apply to `value`; an error names the kind of value it got, never
    /// the value.
    pub fn apply(&self, value: &Value) -> Result<Value, String> {
        let name = self.name();
        let text = || {
            value
                .as_str()
                .ok_or_else(|| format!("`{name}` takes text, got {}", kind(value)))
        };
        match self {
            Filter::Split(separator) => Ok(Value::Array(
                text()?
                    .split(separator.as_str())
                    .map(|part| Value::String(part.to_string()))
                    .collect(),
            )),
            Filter::Nth(index) => {
                let items = value
                    .as_array()
                    .ok_or_else(|| format!("`nth` takes a list, got {}", kind(value)))?;
                let at = if *index < 0 {
                    items.len().checked_sub(index.unsigned_abs() as usize)
                } else {
                    Some(*index as usize)
                };
                at.and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| format!("`nth: {index}`: the list has {} elements", items.len()))
            }
            Filter::Regex(regex) => regex
                .first(text()?)
                .map(Value::String)
                .ok_or_else(|| format!("`regex: {}` matched nothing", regex.written())),
            Filter::JsonPath(written, path) => {
                let json: Value = serde_json::from_str(text()?).map_err(|_| {
                    "`jsonpath` takes text holding JSON; it is not JSON".to_string()
                })?;
                path.query(&json)
                    .first()
                    .cloned()
                    .ok_or_else(|| format!("`jsonpath: {written}` matched nothing"))
            }
            Filter::Base64Decode => {
                let written = text()?.trim();
                let engines = [
                    base64::engine::general_purpose::STANDARD,
                    base64::engine::general_purpose::STANDARD_NO_PAD,
                    base64::engine::general_purpose::URL_SAFE,
                    base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ];
                let bytes = engines
                    .iter()
                    .find_map(|engine| engine.decode(written).ok())
                    .ok_or_else(|| "`base64-decode`: the text is not base64".to_string())?;
                String::from_utf8(bytes).map(Value::String).map_err(|_| {
                    "`base64-decode`: the decoded bytes are not UTF-8 text".to_string()
                })
            }
            Filter::UrlDecode => {
                let decoded: String = form_urlencoded::parse(format!("x={}", text()?).as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .next()
                    .unwrap_or_default();
                Ok(Value::String(decoded))
            }
            Filter::ToInt => match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value.clone()),
                Value::String(s) => s
                    .trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| "`to-int`: the text is not an integer".to_string()),
                other => Err(format!(
                    "`to-int` takes text or a number, got {}",
                    kind(other)
                )),
            },
        }
    }
}

/// A value's kind, for a message that must not show the value.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(filters: Value, value: Value) -> Result<Value, String> {
        let mut value = value;
        for raw in filters.as_array().expect("a list") {
            value = Filter::parse(raw)?.apply(&value)?;
        }
        Ok(value)
    }

    #[test]
    fn each_filter_passes_and_fails() {
        assert_eq!(
            run(json!([{"split": ","}, {"nth": 1}]), json!("a,b,c")),
            Ok(json!("b"))
        );
        assert_eq!(
            run(json!([{"split": ","}, {"nth": -1}]), json!("a,b,c")),
            Ok(json!("c"))
        );
        assert!(run(json!([{"nth": 3}]), json!(["a"])).is_err_and(|e| e.contains("1 elements")));
        assert_eq!(
            run(json!([{"regex": "id=(\\d+)"}]), json!("x id=42 y")),
            Ok(json!("42"))
        );
        assert_eq!(
            run(json!([{"regex": "\\d+"}]), json!("x 42")),
            Ok(json!("42"))
        );
        assert!(run(json!([{"regex": "z+"}]), json!("abc")).is_err());
        assert_eq!(
            run(json!([{"jsonpath": "$.a.b"}]), json!("{\"a\":{\"b\":7}}")),
            Ok(json!(7))
        );
        assert!(run(json!([{"jsonpath": "$.a"}]), json!("not json")).is_err());
        assert_eq!(
            run(json!(["base64-decode"]), json!("aGVsbG8")),
            Ok(json!("hello"))
        );
        assert_eq!(
            run(json!(["base64-decode"]), json!("aGk_Pz8-")),
            Ok(json!("hi???>"))
        );
        assert!(run(json!(["base64-decode"]), json!("%%%")).is_err());
        assert_eq!(
            run(json!(["url-decode"]), json!("a%2Fb+c")),
            Ok(json!("a/b c"))
        );
        assert_eq!(run(json!(["to-int"]), json!(" 12 ")), Ok(json!(12)));
        assert!(run(json!(["to-int"]), json!("1.5")).is_err());
        assert!(run(json!(["to-int"]), json!([1])).is_err());
    }

    #[test]
    fn a_bad_filter_is_named() {
        assert!(
            Filter::parse(&json!("lowercase")).is_err_and(|e| e.contains("no filter `lowercase`"))
        );
        assert!(Filter::parse(&json!({"split": 1})).is_err_and(|e| e.contains("separator")));
        assert!(Filter::parse(&json!({"regex": "("})).is_err_and(|e| e.contains("not a regular")));
        assert!(Filter::parse(&json!({"jsonpath": "a.b"})).is_err_and(|e| e.contains("JSONPath")));
        assert!(Filter::parse(&json!({"to-int": 3})).is_err_and(|e| e.contains("no argument")));
        assert!(Filter::parse(&json!({"a": 1, "b": 2})).is_err());
    }

    #[test]
    fn an_error_never_shows_the_value() {
        let secret = "sk_live_abcdef123456";
        for filters in [
            json!([{"nth": 0}]),
            json!([{"regex": "zzz"}]),
            json!([{"jsonpath": "$.a"}]),
            json!(["base64-decode"]),
            json!(["to-int"]),
        ] {
            let e = run(filters, json!(secret)).expect_err("fails");
            assert!(!e.contains(secret), "{e}");
        }
    }
}
