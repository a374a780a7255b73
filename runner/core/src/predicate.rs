//! Predicates an expectation may put on a header or a JSON value:
//! comparisons, text and list tests, emptiness, size and type, written as a
//! map whose every key is a predicate (`{">=": 1, "<": 10}`), all of which
//! must hold.

use serde_json::Value;

/// One test on a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// Equals this (numbers by value: `1` equals `1.0`).
    Equals(Value),
    /// Does not equal this.
    NotEquals(Value),
    /// A number below this.
    Less(f64),
    /// A number at most this.
    AtMost(f64),
    /// A number above this.
    Greater(f64),
    /// A number at least this.
    AtLeast(f64),
    /// A string holding this text, or a list holding this element.
    Contains(Value),
    /// A string starting with this.
    StartsWith(String),
    /// A string ending with this.
    EndsWith(String),
    /// A string this regular expression matches somewhere in (anchor it
    /// with `^` and `$` to match the whole).
    Matches(Pattern),
    /// Empty (`""`, `[]`, `{}`) or not.
    Empty(bool),
    /// A list or object of this many entries, or a string of this many
    /// characters.
    Count(u64),
    /// Of this type.
    Type(Type),
}

/// A compiled regular expression and how it was written.
#[derive(Debug, Clone)]
pub struct Pattern {
    written: String,
    regex: regex_automata::meta::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.written == other.written
    }
}

/// What `type:` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A JSON string.
    String,
    /// Any number.
    Number,
    /// A number without a fraction.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
    /// A list.
    Array,
    /// An object.
    Object,
    /// A string holding a UUID (8-4-4-4-12 hex digits).
    Uuid,
    /// A string holding an ISO 8601 date (`2026-12-07`) or date and time
    /// (RFC 3339).
    Date,
}

const TYPES: [(&str, Type); 9] = [
    ("string", Type::String),
    ("number", Type::Number),
    ("integer", Type::Integer),
    ("boolean", Type::Boolean),
    ("null", Type::Null),
    ("array", Type::Array),
    ("object", Type::Object),
    ("uuid", Type::Uuid),
    ("date", Type::Date),
];

/// Every name a predicate is written with (`exists` is read by the caller).
pub const NAMES: [&str; 20] = [
    "equals",
    "==",
    "not-equals",
    "!=",
    "lt",
    "<",
    "le",
    "<=",
    "gt",
    ">",
    "ge",
    ">=",
    "contains",
    "starts-with",
    "ends-with",
    "empty",
    "count",
    "type",
    "exists",
    "matches",
];

/// Whether every key of `map` names a predicate: then the map is a list of
/// predicates, not an object to compare with.
pub fn is_predicates(map: &serde_json::Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| NAMES.contains(&k.as_str()))
}

/// The predicates of a map [`is_predicates`] accepted (but `exists`), or
/// what is wrong with one of them.
pub fn parse(map: &serde_json::Map<String, Value>) -> Result<Vec<Predicate>, String> {
    let mut out = Vec::new();
    for (name, arg) in map {
        let number = || {
            arg.as_f64()
                .ok_or_else(|| format!("`{name}` compares numbers: give it a number, not {arg}"))
        };
        let text = || {
            arg.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{name}` takes text, not {arg}"))
        };
        out.push(match name.as_str() {
            "equals" | "==" => Predicate::Equals(arg.clone()),
            "not-equals" | "!=" => Predicate::NotEquals(arg.clone()),
            "lt" | "<" => Predicate::Less(number()?),
            "le" | "<=" => Predicate::AtMost(number()?),
            "gt" | ">" => Predicate::Greater(number()?),
            "ge" | ">=" => Predicate::AtLeast(number()?),
            "contains" => Predicate::Contains(arg.clone()),
            "starts-with" => Predicate::StartsWith(text()?),
            "ends-with" => Predicate::EndsWith(text()?),
            "empty" => Predicate::Empty(
                arg.as_bool()
                    .ok_or_else(|| "`empty` takes true or false".to_string())?,
            ),
            "count" => Predicate::Count(
                arg.as_u64()
                    .ok_or_else(|| format!("`count` takes a whole number of entries, not {arg}"))?,
            ),
            "type" => {
                let named = arg.as_str().unwrap_or_default();
                let found = TYPES.iter().find(|(n, _)| *n == named);
                Predicate::Type(found.map(|(_, t)| *t).ok_or_else(|| {
                    let known: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
                    format!("`type` is one of {}, not {arg}", known.join(", "))
                })?)
            }
            "matches" => {
                let written = text()?;
                let regex = regex_automata::meta::Regex::new(&written).map_err(|e| {
                    format!("`matches`: `{written}` is not a regular expression: {e}")
                })?;
                Predicate::Matches(Pattern { written, regex })
            }
            // `exists` is the caller's; it makes sense only alone.
            _ => {
                return Err(format!("`{name}` cannot be combined with other predicates"));
            }
        });
    }
    Ok(out)
}

impl Predicate {
    /// Whether `found` (`None`: nothing there) passes.
    pub fn holds(&self, found: Option<&Value>) -> bool {
        let Some(found) = found else {
            // Only "not equal to X" holds of nothing.
            return matches!(self, Predicate::NotEquals(_));
        };
        let number = || match found {
            Value::Number(n) => n.as_f64(),
            // A header is text: `Content-Length: 12` compares as 12.
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match self {
            Predicate::Equals(want) => same(want, found),
            Predicate::NotEquals(want) => !same(want, found),
            Predicate::Less(n) => number().is_some_and(|v| v < *n),
            Predicate::AtMost(n) => number().is_some_and(|v| v <= *n),
            Predicate::Greater(n) => number().is_some_and(|v| v > *n),
            Predicate::AtLeast(n) => number().is_some_and(|v| v >= *n),
            Predicate::Contains(want) => match (found, want) {
                (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
                (Value::Array(items), want) => items.iter().any(|i| same(want, i)),
                _ => false,
            },
            Predicate::StartsWith(w) => found.as_str().is_some_and(|s| s.starts_with(w.as_str())),
            Predicate::EndsWith(w) => found.as_str().is_some_and(|s| s.ends_with(w.as_str())),
            Predicate::Matches(p) => found.as_str().is_some_and(|s| p.regex.is_match(s)),
            Predicate::Empty(want) => size(found).is_some_and(|n| (n == 0) == *want),
            Predicate::Count(want) => size(found) == Some(*want),
            Predicate::Type(t) => is_type(*t, found),
        }
    }

    /// The predicate as a failure message says it (`> 3`, `contains "x"`).
    pub fn describe(&self) -> String {
        let num = |n: &f64| {
            if n.fract() == 0.0 && n.abs() < 1e15 {
                format!("{}", *n as i64)
            } else {
                n.to_string()
            }
        };
        match self {
            Predicate::Equals(v) => format!("== {v}"),
            Predicate::NotEquals(v) => format!("!= {v}"),
            Predicate::Less(n) => format!("< {}", num(n)),
            Predicate::AtMost(n) => format!("<= {}", num(n)),
            Predicate::Greater(n) => format!("> {}", num(n)),
            Predicate::AtLeast(n) => format!(">= {}", num(n)),
            Predicate::Contains(v) => format!("contains {v}"),
            Predicate::StartsWith(s) => format!("starts with {}", Value::from(s.as_str())),
            Predicate::EndsWith(s) => format!("ends with {}", Value::from(s.as_str())),
            Predicate::Matches(p) => format!("matches /{}/", p.written),
            Predicate::Empty(true) => "empty".into(),
            Predicate::Empty(false) => "not empty".into(),
            Predicate::Count(n) => format!("{n} entries"),
            Predicate::Type(t) => {
                let name = TYPES.iter().find(|(_, k)| k == t).map_or("?", |(n, _)| n);
                format!("a {name}")
            }
        }
    }
}

/// Equal as JSON values, numbers by value.
pub fn same(want: &Value, found: &Value) -> bool {
    match (want, found) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => a.as_f64() == b.as_f64(),
        },
        _ => want == found,
    }
}

fn size(value: &Value) -> Option<u64> {
    let n = match value {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => return None,
    };
    u64::try_from(n).ok()
}

fn is_type(t: Type, value: &Value) -> bool {
    match t {
        Type::String => value.is_string(),
        Type::Number => value.is_number(),
        Type::Integer => value.is_i64() || value.is_u64(),
        Type::Boolean => value.is_boolean(),
        Type::Null => value.is_null(),
        Type::Array => value.is_array(),
        Type::Object => value.is_object(),
        Type::Uuid => value.as_str().is_some_and(is_uuid),
        Type::Date => value.as_str().is_some_and(is_date),
    }
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_date(text: &str) -> bool {
    let day = |d: &str| {
        let parts: Vec<&str> = d.split('-').collect();
        parts.len() == 3
            && parts
                .iter()
                .zip([4, 2, 2])
                .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()))
            && parts[1].parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
            && parts[2].parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
    };
    day(text) || humantime::parse_rfc3339_weak(text).is_ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn predicates(written: Value) -> Vec<Predicate> {
        let map = written.as_object().expect("a map").clone();
        assert!(is_predicates(&map), "{written}");
        parse(&map).expect("parses")
    }

    fn all_hold(written: Value, found: Value) -> bool {
        predicates(written).iter().all(|p| p.holds(Some(&found)))
    }

    #[test]
    fn each_predicate_passes_and_fails() {
        let cases = [
            (json!({"==": 3}), json!(3.0), json!(4)),
            (json!({"!=": "a"}), json!("b"), json!("a")),
            (json!({">": 2, "<=": 5}), json!(5), json!(2)),
            (json!({"ge": 2, "lt": 5}), json!(2), json!(5)),
            (json!({">=": 10}), json!("12"), json!("9")),
            (
                json!({"contains": "lo w"}),
                json!("hello world"),
                json!("hello"),
            ),
            (json!({"contains": 2}), json!([1, 2]), json!([1, 3])),
            (
                json!({"starts-with": "sk_"}),
                json!("sk_live"),
                json!("pk_live"),
            ),
            (
                json!({"ends-with": ".json"}),
                json!("a.json"),
                json!("a.yaml"),
            ),
            (json!({"empty": true}), json!([]), json!([0])),
            (json!({"empty": false}), json!({"a": 1}), json!("")),
            (json!({"count": 2}), json!(["a", "b"]), json!(["a"])),
            (json!({"type": "integer"}), json!(7), json!(7.5)),
            (
                json!({"type": "uuid"}),
                json!("123e4567-e89b-12d3-a456-426614174000"),
                json!("123e4567-e89b-12d3-a456"),
            ),
            (
                json!({"type": "date"}),
                json!("2026-12-07"),
                json!("2026-13-07"),
            ),
            (
                json!({"type": "date"}),
                json!("2026-12-07T10:20:00Z"),
                json!("yesterday"),
            ),
            (json!({"type": "null"}), json!(null), json!(0)),
            (
                json!({"matches": "^ord_[0-9]{4}$"}),
                json!("ord_2026"),
                json!("ord_20261"),
            ),
            (
                json!({"matches": "(?i)succeeded"}),
                json!("SUCCEEDED"),
                json!(7),
            ),
        ];
        for (written, passes, fails) in cases {
            assert!(
                all_hold(written.clone(), passes.clone()),
                "{written} of {passes}"
            );
            assert!(
                !all_hold(written.clone(), fails.clone()),
                "{written} of {fails}"
            );
        }
    }

    #[test]
    fn nothing_there_fails_all_but_not_equals() {
        assert!(!predicates(json!({"empty": true}))[0].holds(None));
        assert!(predicates(json!({"!=": 1}))[0].holds(None));
    }

    #[test]
    fn a_map_with_other_keys_is_a_value_and_bad_arguments_say_why() {
        let map = json!({"count": 1, "name": "x"});
        assert!(!is_predicates(map.as_object().expect("map")));
        for (written, says) in [
            (json!({">": "ten"}), "compares numbers"),
            (json!({"count": -1}), "whole number"),
            (json!({"type": "text"}), "one of string, number"),
            (json!({"empty": 1}), "true or false"),
            (
                json!({"matches": "(unclosed"}),
                "is not a regular expression",
            ),
            (json!({"matches": 7}), "takes text"),
            (json!({"exists": true, ">": 1}), "cannot be combined"),
        ] {
            let e = parse(written.as_object().expect("map")).expect_err("bad");
            assert!(e.contains(says), "{written}: {e}");
        }
    }

    #[test]
    fn descriptions_read_as_written() {
        let described: Vec<String> = predicates(json!({">": 2, "contains": "x", "type": "uuid"}))
            .iter()
            .map(Predicate::describe)
            .collect();
        assert_eq!(described, ["> 2", "contains \"x\"", "a uuid"]);
    }
}
