//! Editing YAML in place: one scalar replaced by its byte range, so the
//! file keeps its comments, key order and formatting everywhere else (a
//! reviewer sees a one-line diff). The position comes from the core's index
//! of the file (`Source::value`); the edit is checked by parsing the result
//! again: the document must equal the old one with that one value changed,
//! or nothing is written.

use reqflo_core::source::Source;

/// Replace the scalar at `path` (keys, and indices for sequences) with
/// `new`. A scalar may become a flow mapping (a literal turned into
/// `{type: secret, name: X}`). Errors say why, never quoting values.
pub fn replace_scalar(
    text: &str,
    path: &[&str],
    new: &serde_yaml::Value,
) -> Result<String, String> {
    let old: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("the file does not parse: {e}"))?;
    let current =
        lookup(&old, path).ok_or_else(|| format!("`{}` is not in the file", path.join(".")))?;
    if !is_scalar(current) {
        return Err(format!("`{}` is not a single value", path.join(".")));
    }
    if current == new {
        return Ok(text.to_string());
    }
    let source = Source::from_text("edit.yaml".into(), "edit.yaml".into(), text.to_string());
    let spot = source
        .value(path)
        .ok_or_else(|| format!("`{}` has no position", path.join(".")))?;
    let start = byte_offset(text, spot.line, spot.column).ok_or("a position outside the file")?;
    let end = scalar_end(text, start);
    let written = write_scalar(new)?;
    let edited = format!("{}{}{}", &text[..start], written, &text[end..]);
    // The proof: the new document is the old one with exactly this change.
    let mut expected = old.clone();
    if let Some(slot) = lookup_mut(&mut expected, path) {
        *slot = new.clone();
    }
    let got: serde_yaml::Value = serde_yaml::from_str(&edited)
        .map_err(|_| "the edit would not parse; nothing was changed".to_string())?;
    if got != expected {
        return Err(format!(
            "the edit of `{}` would change more than that value; nothing was changed",
            path.join(".")
        ));
    }
    Ok(edited)
}

fn is_scalar(value: &serde_yaml::Value) -> bool {
    !matches!(
        value,
        serde_yaml::Value::Mapping(_)
            | serde_yaml::Value::Sequence(_)
            | serde_yaml::Value::Tagged(_)
    )
}

/// Every scalar of a document with its path (keys, and indices for
/// sequences), in document order. Tagged values are passed over.
pub fn leaves(doc: &serde_yaml::Value) -> Vec<(Vec<String>, serde_yaml::Value)> {
    fn walk(
        value: &serde_yaml::Value,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, serde_yaml::Value)>,
    ) {
        match value {
            serde_yaml::Value::Mapping(map) => {
                for (k, v) in map {
                    if let Some(k) = k.as_str() {
                        path.push(k.to_string());
                        walk(v, path, out);
                        path.pop();
                    }
                }
            }
            serde_yaml::Value::Sequence(list) => {
                for (i, v) in list.iter().enumerate() {
                    path.push(i.to_string());
                    walk(v, path, out);
                    path.pop();
                }
            }
            serde_yaml::Value::Tagged(_) => {}
            leaf => out.push((path.clone(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

/// The path of the scalar a diagnostic at 1-based `line` and `column`
/// points at (on that line, the last one starting at or before the
/// column, else the first): where a check's error belongs in a form.
pub fn path_at(text: &str, line: usize, column: usize) -> Option<Vec<String>> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let source = Source::from_text("edit.yaml".into(), "edit.yaml".into(), text.to_string());
    let mut on_line: Vec<(usize, Vec<String>)> = leaves(&doc)
        .into_iter()
        .filter_map(|(path, _)| {
            let keys: Vec<&str> = path.iter().map(String::as_str).collect();
            let spot = source.value(&keys)?;
            (spot.line == line).then_some((spot.column, path))
        })
        .collect();
    on_line.sort_by_key(|(c, _)| *c);
    let before = on_line.iter().rposition(|(c, _)| *c <= column);
    let at = before.unwrap_or(0);
    (!on_line.is_empty()).then(|| on_line.swap_remove(at).1)
}

/// The value at `path`.
pub fn lookup<'a>(value: &'a serde_yaml::Value, path: &[&str]) -> Option<&'a serde_yaml::Value> {
    path.iter().try_fold(value, |node, key| match node {
        serde_yaml::Value::Mapping(map) => map.get(*key),
        serde_yaml::Value::Sequence(list) => key.parse::<usize>().ok().and_then(|i| list.get(i)),
        _ => None,
    })
}

fn lookup_mut<'a>(
    value: &'a mut serde_yaml::Value,
    path: &[&str],
) -> Option<&'a mut serde_yaml::Value> {
    path.iter().try_fold(value, |node, key| match node {
        serde_yaml::Value::Mapping(map) => map.get_mut(*key),
        serde_yaml::Value::Sequence(list) => {
            key.parse::<usize>().ok().and_then(|i| list.get_mut(i))
        }
        _ => None,
    })
}

/// The byte offset of 1-based `line` and `column` (columns count characters).
fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut offset = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        if n + 1 == line {
            let within: usize = l
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return Some(offset + within);
        }
        offset += l.len();
    }
    None
}

/// Where the scalar starting at `start` ends: a quoted one at its closing
/// quote, a plain one before a comment, a flow indicator or the line's end.
fn scalar_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let bytes = rest.as_bytes();
    match bytes.first() {
        Some(b'"') => {
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return start + i + 1,
                    _ => i += 1,
                }
            }
            text.len()
        }
        Some(b'\'') => {
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return start + i + 1;
                }
                i += 1;
            }
            text.len()
        }
        _ => {
            let line_end = rest.find(['\n', '\r']).unwrap_or(rest.len());
            let line = &rest[..line_end];
            let mut end = line.len();
            if let Some(at) = line.find(" #") {
                end = end.min(at);
            }
            // Inside a flow collection a plain scalar ends at `,`, `}` or `]`.
            if let Some(at) = line.find([',', '}', ']']) {
                end = end.min(at);
            }
            start + line[..end].trim_end().len()
        }
    }
}

/// A value as YAML writes it on one line: plain when that reads back the
/// same, double-quoted (JSON escapes are valid YAML) otherwise; a flow
/// mapping for a mapping of scalars.
fn write_scalar(value: &serde_yaml::Value) -> Result<String, String> {
    match value {
        serde_yaml::Value::String(s) => {
            let plain_ok = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _-./@$".contains(c))
                && !s.starts_with([' ', '-', '@'])
                && !s.ends_with(' ')
                && serde_yaml::from_str::<serde_yaml::Value>(s).ok().as_ref() == Some(value);
            if plain_ok {
                Ok(s.clone())
            } else {
                serde_json::to_string(s).map_err(|e| e.to_string())
            }
        }
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        serde_yaml::Value::Null => Ok("null".into()),
        serde_yaml::Value::Mapping(map) => {
            let mut parts = Vec::new();
            for (k, v) in map {
                let k = k.as_str().ok_or("a mapping key that is not text")?;
                if !is_scalar(v) {
                    return Err("a nested value".into());
                }
                parts.push(format!("{k}: {}", write_scalar(v)?));
            }
            Ok(format!("{{{}}}", parts.join(", ")))
        }
        _ => Err("a value that is not one line".into()),
    }
}

/// The lines that differ, as a small unified view: `-old` / `+new`.
pub fn diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let mut out = String::new();
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("-{}: {x}\n", i + 1));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+{}: {y}\n", i + 1));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOURNEY: &str = "# A journey with comments\ndescription: Create and read\nsteps:\n  - id: create   # the first step\n    template: post-payment\n    values:\n      amount: 1000          # cents\n      currency: \"usd\"\n      key: {type: secret, name: PAY_KEY}\n    expect:\n      status: 201\n  - id: read\n    template: get-payment\n    values:\n      id: {type: capture, step: create, name: payment_id}\n";

    fn changed_lines(a: &str, b: &str) -> usize {
        a.lines().zip(b.lines()).filter(|(x, y)| x != y).count()
            + a.lines().count().abs_diff(b.lines().count())
    }

    #[test]
    fn a_position_names_the_value_there() {
        let at = |line, column| path_at(JOURNEY, line, column).map(|p| p.join("."));
        assert_eq!(at(7, 15).as_deref(), Some("steps.0.values.amount"));
        // A flow mapping: the value at or before the column.
        assert_eq!(at(9, 33).as_deref(), Some("steps.0.values.key.name"));
        assert_eq!(at(9, 7).as_deref(), Some("steps.0.values.key.type"));
        assert_eq!(at(1, 1), None);
    }

    #[test]
    fn one_value_changes_and_nothing_else() {
        let cases: Vec<(Vec<&str>, serde_yaml::Value)> = vec![
            (vec!["steps", "0", "values", "amount"], 2500.into()),
            (vec!["steps", "0", "values", "currency"], "eur".into()),
            (
                vec!["steps", "0", "values", "key", "name"],
                "OTHER_KEY".into(),
            ),
            (vec!["steps", "1", "values", "id", "step"], "create".into()),
            (vec!["steps", "0", "expect", "status"], 200.into()),
            (vec!["steps", "0", "id"], "make".into()),
            (vec!["description"], "with a: colon and # hash".into()),
        ];
        for (path, value) in cases {
            let edited =
                replace_scalar(JOURNEY, &path, &value).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert!(changed_lines(JOURNEY, &edited) <= 1, "{path:?}:\n{edited}");
            assert!(
                edited.contains("# the first step") && edited.contains("# cents"),
                "comments kept"
            );
            let got: serde_yaml::Value = serde_yaml::from_str(&edited).expect("parses");
            assert_eq!(lookup(&got, &path), Some(&value), "{path:?}");
        }
    }

    #[test]
    fn a_literal_can_become_a_secret_reference_in_place() {
        let mut reference = serde_yaml::Mapping::new();
        reference.insert("type".into(), "secret".into());
        reference.insert("name".into(), "PAY_KEY".into());
        let new = serde_yaml::Value::Mapping(reference);
        let path = ["steps", "0", "values", "amount"];
        // Not a scalar: refused (a mapping replaces a scalar only through the UI's own check).
        let edited = replace_scalar(JOURNEY, &path, &new).expect("replaced");
        assert!(
            edited.contains("amount: {type: secret, name: PAY_KEY}          # cents"),
            "{edited}"
        );
        assert_eq!(changed_lines(JOURNEY, &edited), 1);
    }

    #[test]
    fn what_cannot_be_edited_in_place_is_refused() {
        assert!(replace_scalar(JOURNEY, &["steps", "0", "values"], &"x".into()).is_err());
        assert!(replace_scalar(JOURNEY, &["steps", "9", "id"], &"x".into()).is_err());
        assert!(replace_scalar("a: [1, 2", &["a"], &"x".into()).is_err());
        // Unchanged: the text comes back as it was.
        let same = replace_scalar(JOURNEY, &["steps", "0", "values", "amount"], &1000.into())
            .expect("same");
        assert_eq!(same, JOURNEY);
    }

    /// Every scalar of every YAML file the repository ships (the example
    /// project, and the journeys, templates and configs from the README that
    /// the fuzz corpus keeps): each edited alone, in place.
    #[test]
    fn every_value_of_every_example_edits_alone() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for folder in [
            "examples/payments",
            "examples/payments/journeys",
            "examples/payments/templates",
            "fuzz/corpus/journey_file",
            "fuzz/corpus/project_file",
            "fuzz/corpus/template_file",
        ] {
            for entry in std::fs::read_dir(root.join(folder))
                .expect("folder")
                .flatten()
            {
                if entry.path().extension().is_some_and(|e| e == "yaml") {
                    files.push(entry.path());
                }
            }
        }
        let (mut edited, mut refused) = (0, 0);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
                continue;
            };
            for (path, value) in leaves(&doc) {
                let new: serde_yaml::Value = match &value {
                    serde_yaml::Value::String(s) => format!("{s}-edited").into(),
                    serde_yaml::Value::Number(n) => (n.as_i64().unwrap_or(0) + 1).into(),
                    serde_yaml::Value::Bool(b) => (!b).into(),
                    _ => continue,
                };
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                match replace_scalar(&text, &path, &new) {
                    Ok(after) => {
                        edited += 1;
                        assert!(
                            changed_lines(&text, &after) <= 1,
                            "{}: {path:?}",
                            file.display()
                        );
                        let got: serde_yaml::Value = serde_yaml::from_str(&after).expect("parses");
                        assert_eq!(
                            lookup(&got, &path),
                            Some(&new),
                            "{}: {path:?}",
                            file.display()
                        );
                    }
                    Err(_) => refused += 1,
                }
            }
        }
        assert!(edited > 100, "{edited} values edited");
        // What is refused (a block scalar over several lines) is a small part.
        assert!(
            refused * 10 < edited,
            "{refused} refused of {}",
            edited + refused
        );
    }
}
