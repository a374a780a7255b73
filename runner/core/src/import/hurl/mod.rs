//! `reqflo import hurl FILE.hurl`: each entry of a Hurl file becomes a
//! template and a step of one journey. Captures and asserts become reqflo
//! captures and expectations; `{{name}}` stays a placeholder, filled by an
//! earlier step's capture, else an input (a credential's name makes it a
//! secret by name). Credentials written as literals become secrets by name.
//! What has no reqflo form is reported with its line, not dropped.

use serde_json::Value;

use super::ImportedFiles;

mod translate;

/// HTTP methods a Hurl entry starts with.
const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

/// One entry being read.
#[derive(Default)]
pub(super) struct Entry {
    pub(super) line: usize,
    pub(super) method: String,
    pub(super) url: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) query: Vec<(String, String)>,
    pub(super) form: Vec<(String, String)>,
    pub(super) cookies: Vec<(String, String)>,
    pub(super) basic: Option<(String, String)>,
    pub(super) body: Vec<String>,
    pub(super) status: Option<u16>,
    pub(super) response_headers: Vec<(String, String)>,
    pub(super) captures: Vec<(usize, String)>,
    pub(super) asserts: Vec<(usize, String)>,
}

/// Where the reader is in an entry.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Headers,
    Section(&'static str),
    Body,
    Fenced,
    ResponseHeaders,
    Captures,
    Asserts,
    Skipped,
}

/// Import `text` (the file's contents) as journey `name`.
pub fn import(text: &str, name: &str) -> Result<ImportedFiles, String> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut unsupported = Vec::new();
    let mut part = Part::Headers;
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.trim_end();
        let trimmed = line.trim();
        if part == Part::Fenced {
            if trimmed == "```" {
                part = Part::Headers;
            } else if let Some(entry) = entries.last_mut() {
                entry.body.push(line.to_string());
            }
            continue;
        }
        if trimmed.starts_with('#') || (trimmed.is_empty() && part != Part::Body) {
            continue;
        }
        if let Some((method, url)) = trimmed.split_once(' ')
            && METHODS.contains(&method)
        {
            entries.push(Entry {
                line: line_no,
                method: method.to_string(),
                url: url.trim().to_string(),
                ..Entry::default()
            });
            part = Part::Headers;
            continue;
        }
        let Some(entry) = entries.last_mut() else {
            return Err(format!(
                "line {line_no}: a Hurl file starts with a request (`GET https://…`)"
            ));
        };
        if trimmed.is_empty() {
            // A blank line ends a JSON body.
            part = Part::Headers;
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("HTTP") {
            let code = rest.trim_start_matches(|c: char| c != ' ').trim();
            entry.status =
                match code {
                    "*" => None,
                    _ => Some(code.parse().map_err(|_| {
                        format!("line {line_no}: `{trimmed}` is not `HTTP <status>`")
                    })?),
                };
            part = Part::ResponseHeaders;
            continue;
        }
        if part == Part::Body {
            entry.body.push(line.to_string());
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            let section = &trimmed[1..trimmed.len() - 1];
            part = match section {
                "QueryStringParams" | "Query" => Part::Section("query"),
                "FormParams" | "Form" => Part::Section("form"),
                "Cookies" => Part::Section("cookies"),
                "BasicAuth" => Part::Section("basic"),
                "Captures" | "Capture" => Part::Captures,
                "Asserts" | "Assert" => Part::Asserts,
                other => {
                    unsupported.push(format!("line {line_no}: `[{other}]`, left out"));
                    Part::Skipped
                }
            };
            continue;
        }
        if trimmed == "```" || trimmed.starts_with("```") && !trimmed[3..].contains("```") {
            part = Part::Fenced;
            continue;
        }
        match part {
            Part::Skipped => {}
            Part::Captures => entry.captures.push((line_no, trimmed.to_string())),
            Part::Asserts => entry.asserts.push((line_no, trimmed.to_string())),
            Part::Body => entry.body.push(line.to_string()),
            Part::Headers | Part::Section(_) | Part::ResponseHeaders
                if trimmed.starts_with('{')
                    || trimmed.starts_with('[')
                    || trimmed.starts_with('`') =>
            {
                if part == Part::ResponseHeaders {
                    unsupported.push(format!(
                        "line {line_no}: a response body to compare, left out (use `[Asserts]`)"
                    ));
                    part = Part::Skipped;
                } else if let Some(inline) =
                    trimmed.strip_prefix('`').and_then(|t| t.strip_suffix('`'))
                {
                    entry.body.push(inline.to_string());
                } else {
                    entry.body.push(line.to_string());
                    part = Part::Body;
                }
            }
            Part::Headers | Part::Section(_) | Part::ResponseHeaders => {
                let Some((key, value)) = trimmed.split_once(':') else {
                    unsupported.push(format!(
                        "line {line_no}: `{}`, not understood",
                        first_word(trimmed)
                    ));
                    continue;
                };
                let pair = (key.trim().to_string(), unquote(value.trim()));
                match part {
                    Part::Section("query") => entry.query.push(pair),
                    Part::Section("form") => entry.form.push(pair),
                    Part::Section("cookies") => entry.cookies.push(pair),
                    Part::Section(_) => entry.basic = Some(pair),
                    Part::ResponseHeaders => entry.response_headers.push(pair),
                    _ => entry.headers.push(pair),
                }
            }
            Part::Fenced => {}
        }
    }
    if entries.is_empty() {
        return Err("the file holds no request (`GET https://…`)".into());
    }
    translate::build(entries, name, unsupported)
}

/// The first word of a line, for a message that must not quote a value.
pub(super) fn first_word(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

/// `"text"` → `text` (JSON escapes read); anything else as it is.
fn unquote(text: &str) -> String {
    if text.starts_with('"') && text.ends_with('"') && text.len() >= 2 {
        serde_json::from_str::<String>(text).unwrap_or_else(|_| text[1..text.len() - 1].to_string())
    } else {
        text.to_string()
    }
}

/// A value written in an assert: a quoted string, a number, a boolean, null.
pub(super) fn literal(text: &str) -> Option<Value> {
    let text = text.trim();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text).ok().map(Value::String);
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| !v.is_object() && !v.is_array())
}

/// Split `jsonpath "$.a" == 1` into the query (with its argument) and the
/// rest.
pub(super) fn query_and_rest(text: &str) -> Option<(String, Option<String>, String)> {
    let (kind, rest) = match text.split_once(' ') {
        Some((k, r)) => (k, r.trim_start()),
        None => (text, ""),
    };
    if rest.starts_with('"') {
        // The argument is a JSON-style string; find its closing quote.
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    let argument = serde_json::from_str::<String>(&rest[..=i]).ok()?;
                    return Some((
                        kind.to_string(),
                        Some(argument),
                        rest[i + 1..].trim().to_string(),
                    ));
                }
                _ => escaped = false,
            }
        }
        return None;
    }
    Some((kind.to_string(), None, rest.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
# Create a payment, then read it back.
POST {{base_url}}/v1/payments
Authorization: Bearer {{api_key}}
Content-Type: application/json
{"amount": 1200, "currency": "usd"}

HTTP 201
[Captures]
payment_id: jsonpath "$.id"
tail: jsonpath "$.token" split "_" nth 1
[Asserts]
jsonpath "$.status" == "succeeded"
jsonpath "$.id" startsWith "pay_"
jsonpath "$.id" matches "^pay_[0-9]+$"
header "Content-Type" contains "json"
duration < 5000
xpath "//x" exists

GET {{base_url}}/v1/payments/{{payment_id}}
Authorization: Bearer {{api_key}}
X-Api-Key: sk_live_4eC39HqLyjWDarjtT1zdp7dc

HTTP 200
[Asserts]
jsonpath "$.id" == "{{payment_id}}"
jsonpath "$.amount" exists
"#;

    #[test]
    fn entries_become_steps_with_captures_expectations_and_secrets() {
        let imported = import(FILE, "payments").expect("imported");
        assert_eq!(imported.templates.len(), 2);
        let journey = &imported.journey;
        assert!(
            journey.contains("type: capture\n      step: post-1"),
            "{journey}"
        );
        assert!(journey.contains("base_url: {}"), "{journey}");
        assert!(journey.contains("name: API_KEY"), "{journey}");
        assert!(journey.contains("starts-with: pay_"), "{journey}");
        assert!(journey.contains("- nth: 1"), "{journey}");
        assert!(journey.contains("<: 5000"), "{journey}");
        for (_, template) in &imported.templates {
            assert!(!template.contains("sk_live_"), "{template}");
        }
        let names: Vec<&str> = imported.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["API_KEY", "X_API_KEY"]);
        assert_eq!(imported.unsupported.len(), 2, "{:?}", imported.unsupported);
        assert!(imported.unsupported[0].contains("`xpath` has no reqflo form"));
        assert!(imported.unsupported[1].contains("variable"));
    }

    #[test]
    fn a_file_that_is_not_hurl_is_refused() {
        assert!(import("Content-Type: x\n", "x").is_err());
        assert!(import("# only a comment\n", "x").is_err());
        assert!(import("GET https://h.test\nHTTP abc\n", "x").is_err_and(|e| e.contains("line 2")));
        // Found by the fuzzer: a status that is not a code is said, not written.
        let odd = import(
            "GET https://h.test\nHTTP 200\n[Asserts]\nstatus == \"x\"\n",
            "x",
        )
        .expect("ok");
        assert!(
            odd.unsupported[0].contains("`status` has no reqflo form"),
            "{:?}",
            odd.unsupported
        );
        assert!(odd.journey.contains("status: 200"), "{}", odd.journey);
    }
}
