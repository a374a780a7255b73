//! The template renderer: `{{placeholder}}` strings and JSON bodies.

use arbitrary::Arbitrary;
use reqflo_core::secret::{SecretId, SecretStore};
use reqflo_core::template::{Filled, Fills, JsonTemplate, Text};
use secrecy::SecretString;
use serde_json::Value;

/// What a placeholder is filled with.
#[derive(Arbitrary, Debug)]
pub enum Fill {
    /// A string value.
    Str(String),
    /// A number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// `null`.
    Null,
    /// A list of strings.
    List(Vec<String>),
    /// A secret's text.
    Secret(String),
}

/// A JSON body template, built directly (the loader builds it from YAML).
#[derive(Arbitrary, Debug)]
pub enum Node {
    /// A fixed string.
    Fixed(String),
    /// `"{{name}}"` for the n-th fill.
    Whole(u8),
    /// A string with placeholders in it, as written.
    Str(String),
    /// An array.
    Array(Vec<Node>),
    /// An object.
    Object(Vec<(String, Node)>),
}

/// One input of the `template_render` target.
#[derive(Arbitrary, Debug)]
pub struct Case {
    /// A template string as a user writes it.
    pub text: String,
    /// Placeholder names and their fills.
    pub fills: Vec<(String, Fill)>,
    /// A JSON body.
    pub json: Node,
}

struct Table {
    values: Vec<(String, Value)>,
    secrets: Vec<(String, SecretId, String)>,
}

impl Fills for Table {
    fn fill(&self, name: &str) -> Option<Filled<'_>> {
        if let Some((_, id, text)) = self.secrets.iter().find(|(n, ..)| n == name) {
            return Some(Filled::Secret { id: *id, text });
        }
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| Filled::Value(v))
    }
}

/// Every placeholder filled with its own spelling, `{{name}}`.
struct Echo(Vec<(String, Value)>);

impl Echo {
    fn of(text: &Text) -> Echo {
        Echo(
            text.placeholders()
                .map(|name| (name.to_string(), Value::String(format!("{{{{{name}}}}}"))))
                .collect(),
        )
    }
}

impl Fills for Echo {
    fn fill(&self, name: &str) -> Option<Filled<'_>> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| Filled::Value(v))
    }
}

fn name_of(fills: &[(String, Fill)], n: u8) -> String {
    fills
        .get(usize::from(n) % fills.len().max(1))
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| "missing".into())
}

/// Build the renderer's template and the JSON it must produce (`None` when
/// a placeholder has no fill, or a string is not a valid template).
fn build(
    node: &Node,
    fills: &[(String, Fill)],
    table: &Table,
    depth: usize,
) -> Option<(JsonTemplate, Value)> {
    // serde_json reads back at most 128 levels; YAML bodies stop earlier.
    if depth > 64 {
        return None;
    }
    Some(match node {
        Node::Fixed(s) => (
            JsonTemplate::Fixed(Value::String(s.clone())),
            Value::String(s.clone()),
        ),
        Node::Whole(n) => {
            let name = name_of(fills, *n);
            let expected = match table.fill(&name)? {
                Filled::Value(v) => v.clone(),
                Filled::Secret { text, .. } => Value::String(text.to_string()),
            };
            (JsonTemplate::Whole(name), expected)
        }
        Node::Str(raw) => {
            let text = Text::parse(raw).ok()?;
            let rendered = text.render(table, &mut Vec::new()).ok()?;
            (
                JsonTemplate::Str(text),
                Value::String(rendered.as_str().to_string()),
            )
        }
        Node::Array(items) => {
            let (templates, values) = items
                .iter()
                .map(|i| build(i, fills, table, depth + 1))
                .collect::<Option<(Vec<_>, Vec<_>)>>()?;
            (JsonTemplate::Array(templates), Value::Array(values))
        }
        Node::Object(fields) => {
            let mut templates = Vec::new();
            let mut object = serde_json::Map::new();
            for (key, item) in fields {
                let (template, value) = build(item, fills, table, depth + 1)?;
                // A repeated key: the last one wins when read back.
                object.shift_remove(key);
                object.insert(key.clone(), value);
                templates.push((key.clone(), template));
            }
            (JsonTemplate::Object(templates), Value::Object(object))
        }
    })
}

/// Fuzz target `template_render`.
///
/// Properties: a parsed string renders back to one that parses the same; every
/// secret placeholder is recorded once per use, in order; a JSON body is
/// always valid JSON holding exactly the values filled in, whatever the
/// strings (quotes, control characters, lone surrogates cannot occur in Rust
/// strings, so every `String` must be representable).
pub fn template_render(case: Case) {
    let mut store = SecretStore::default();
    let mut table = Table {
        values: Vec::new(),
        secrets: Vec::new(),
    };
    for (name, fill) in &case.fills {
        let value = match fill {
            Fill::Str(s) => Value::String(s.clone()),
            Fill::Int(n) => Value::from(*n),
            Fill::Bool(b) => Value::Bool(*b),
            Fill::Null => Value::Null,
            Fill::List(items) => Value::from(items.clone()),
            Fill::Secret(text) => {
                let id = store.insert(name, SecretString::from(text.clone()), Default::default());
                table.secrets.push((name.clone(), id, text.clone()));
                continue;
            }
        };
        table.values.push((name.clone(), value));
    }

    if let Ok(text) = Text::parse(&case.text) {
        // Round trip: with each placeholder written back as `{{name}}`, the
        // result parses to the same placeholders.
        let echoed = text
            .render(&Echo::of(&text), &mut Vec::new())
            .expect("echo fills everything");
        let again = Text::parse(&echoed).expect("an echoed template parses");
        assert_eq!(
            again.placeholders().collect::<Vec<_>>(),
            text.placeholders().collect::<Vec<_>>()
        );
        assert_eq!(again, text, "echo of {:?} is {:?}", case.text, echoed);

        let mut used = Vec::new();
        if text.render(&table, &mut used).is_ok() {
            let expected: Vec<SecretId> = text
                .placeholders()
                .filter_map(|name| match table.fill(name) {
                    Some(Filled::Secret { id, .. }) => Some(id),
                    _ => None,
                })
                .collect();
            assert_eq!(used, expected, "secrets recorded");
        }
    }

    if let Some((template, expected)) = build(&case.json, &case.fills, &table, 0) {
        let mut out = Vec::new();
        template
            .write_json(&table, &mut out, &mut Vec::new())
            .expect("every placeholder was fillable");
        let back: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "write_json made invalid JSON ({e}): {:?}",
                String::from_utf8_lossy(&out)
            )
        });
        assert_eq!(back, expected);
        // As a query or form value: the same text for strings, JSON otherwise.
        let text = template
            .render_text(&table, &mut Vec::new())
            .expect("every placeholder was fillable");
        if let Value::String(s) = &expected {
            assert_eq!(text.as_str(), s);
        }
    }
}
