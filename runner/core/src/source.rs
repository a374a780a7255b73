//! Files a user wrote, with a position for every YAML node in them.
//!
//! serde_yaml gives good errors for shape problems but no positions for values
//! that parse fine and are wrong later (an unknown template, an unfilled
//! placeholder). So each file is also walked once with yaml-rust2's event parser
//! to index where every key and value starts, by path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::error::{Diagnostic, Spot};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One YAML file a user wrote, with its text and node positions.
#[derive(Debug)]
pub struct Source {
    /// The path as shown in messages (relative to the project root when inside it).
    pub display: String,
    /// Where it was read from.
    pub path: PathBuf,
    text: String,
    /// Byte offset where each line starts, so a spot costs no scan of the file.
    line_starts: Vec<usize>,
    /// Built on first use: only errors need positions, and a valid file should
    /// not pay for a second parse.
    index: std::sync::OnceLock<Indexer>,
}

/// Join path segments into an index key; `\u{1f}` cannot appear in YAML keys we use.
fn join(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

impl Source {
    /// Read and index a file; `display` is how messages name it.
    pub fn read(path: &Path, display: String) -> Result<Source, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {display}: {}", io_reason(&e)))?;
        Ok(Source::from_text(path.to_path_buf(), display, text))
    }

    /// Keep text that is already in memory.
    pub fn from_text(path: PathBuf, display: String, text: String) -> Source {
        // YAML breaks lines at `\n`, `\r\n` and a lone `\r`, and the parsers
        // count positions that way: so must the snippets.
        let bytes = text.as_bytes();
        let line_starts = std::iter::once(0)
            .chain(bytes.iter().enumerate().filter_map(|(at, &b)| {
                let lone_cr = b == b'\r' && bytes.get(at + 1) != Some(&b'\n');
                (b == b'\n' || lone_cr).then_some(at + 1)
            }))
            .collect();
        Source {
            display,
            path,
            text,
            line_starts,
            index: std::sync::OnceLock::new(),
        }
    }

    fn index(&self) -> &Indexer {
        self.index.get_or_init(|| {
            let mut index = Indexer::default();
            // A syntax error stops indexing early; serde_yaml reports it with a position.
            let _ = Parser::new_from_str(&self.text).load(&mut index, false);
            index
        })
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Deserialize the whole file, turning serde_yaml's error into a diagnostic.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Diagnostic> {
        // An empty file is an empty map, not an error about a missing document.
        let text = if self.text.trim().is_empty() {
            "{}"
        } else {
            &self.text
        };
        serde_yaml::from_str(text).map_err(|e| {
            let pos = e.location().map(|l| self.libyaml_pos(l.line(), l.column()));
            Diagnostic::new(format!(
                "invalid {}: {}",
                self.display,
                clean_serde_message(&e.to_string())
            ))
            .at(pos.map(|p| self.spot(p)))
        })
    }

    /// serde_yaml's parser (libyaml, YAML 1.1) also breaks lines at NEL,
    /// U+2028 and U+2029; the file's lines (YAML 1.2, like yaml-rust2's) do
    /// not. Move its 1-based line and column onto the file's own lines.
    /// Found by fuzzing (fuzz/corpus/project_file/line-separator).
    fn libyaml_pos(&self, line: usize, column: usize) -> Pos {
        if !self.text.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
            return Pos { line, column };
        }
        // The byte offset where libyaml's line `line` starts.
        let mut current = 1;
        let mut start = 0;
        let mut chars = self.text.char_indices().peekable();
        while current < line {
            let Some((at, c)) = chars.next() else {
                break;
            };
            let lone_cr = c == '\r' && chars.peek().map(|(_, n)| *n) != Some('\n');
            if matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}') || lone_cr {
                current += 1;
                start = at + c.len_utf8();
            }
        }
        let at = self.text[start..]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(self.text.len(), |(i, _)| start + i);
        let line = self.line_starts.partition_point(|&s| s <= at).max(1);
        let line_start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        Pos {
            line,
            column: self.text[line_start..at].chars().count() + 1,
        }
    }

    /// Where the key at `path` starts (the last segment is the key).
    pub fn key(&self, path: &[&str]) -> Option<Spot> {
        self.index().keys.get(&join(path)).map(|p| self.spot(*p))
    }

    /// Where the value at `path` starts, falling back to its key, then its parents.
    pub fn value(&self, path: &[&str]) -> Option<Spot> {
        let index = self.index();
        let mut path = path;
        loop {
            let key = join(path);
            if let Some(pos) = index.values.get(&key).or_else(|| index.keys.get(&key)) {
                return Some(self.spot(*pos));
            }
            if path.is_empty() {
                return None;
            }
            path = &path[..path.len() - 1];
        }
    }

    /// A spot in this file for a diagnostic.
    pub fn spot(&self, pos: Pos) -> Spot {
        Spot {
            file: self.display.clone(),
            line: pos.line,
            column: pos.column,
            line_text: self.line(pos.line).to_string(),
        }
    }
}

impl Source {
    /// How many lines the file has, as YAML counts them.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The text of 1-based line `number`, without its line break.
    pub fn line(&self, number: usize) -> &str {
        let Some(&start) = self.line_starts.get(number.saturating_sub(1)) else {
            return "";
        };
        let rest = &self.text[start..];
        rest.split(['\n', '\r']).next().unwrap_or("")
    }
}

/// serde_yaml appends " at line L column C" which our snippet already shows.
fn clean_serde_message(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The OS reason without the "(os error 2)" noise.
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_lowercase(),
        None => text.to_lowercase(),
    }
}

#[derive(Debug)]
enum Frame {
    Map {
        path: Vec<String>,
        key: Option<String>,
    },
    Seq {
        path: Vec<String>,
        next: usize,
    },
}

#[derive(Debug, Default)]
struct Indexer {
    stack: Vec<Frame>,
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

impl Indexer {
    /// Decide whether a node is a key or a value, and record it. Returns the
    /// node's own path when it is a value (so collections can push a frame).
    fn node(&mut self, scalar: Option<&str>, pos: Pos) -> Option<Vec<String>> {
        match self.stack.last_mut() {
            None => Some(Vec::new()),
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    let name = scalar.unwrap_or("").to_string();
                    let mut full = path.clone();
                    full.push(name.clone());
                    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                    self.keys.insert(join(&refs), pos);
                    *key = Some(name);
                    None
                }
                Some(name) => {
                    let mut full = path.clone();
                    full.push(name);
                    Some(full)
                }
            },
            Some(Frame::Seq { path, next }) => {
                let mut full = path.clone();
                full.push(next.to_string());
                *next += 1;
                Some(full)
            }
        }
    }

    fn record(&mut self, path: &[String], pos: Pos) {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        self.values.insert(join(&refs), pos);
    }
}

impl MarkedEventReceiver for Indexer {
    fn on_event(&mut self, event: Event, mark: Marker) {
        // yaml-rust2 lines are 1-based, columns 0-based.
        let pos = Pos {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match event {
            Event::Scalar(value, ..) => {
                if let Some(path) = self.node(Some(&value), pos) {
                    self.record(&path, pos);
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.node(None, pos) {
                    self.record(&path, pos);
                }
            }
            Event::MappingStart(..) => {
                let path = self.node(None, pos).unwrap_or_default();
                self.record(&path, pos);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.node(None, pos).unwrap_or_default();
                self.record(&path, pos);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source::from_text(PathBuf::from("x.yaml"), "x.yaml".into(), text.into())
    }

    #[test]
    fn indexes_keys_and_values_by_path() {
        let s = source("steps:\n  - id: one\n    values:\n      a: {type: secret, name: X}\n");
        let key = s.key(&["steps", "0", "values", "a"]).expect("key indexed");
        assert_eq!((key.line, key.column), (4, 7));
        let name = s
            .value(&["steps", "0", "values", "a", "name"])
            .expect("value indexed");
        assert_eq!(name.line, 4);
        assert_eq!(&name.line_text[name.column - 1..name.column], "X");
    }

    /// Found by fuzzing (fuzz/corpus/project_file/lone-cr): serde_yaml counts a
    /// lone `\r` as a line break, so the snippet must too, or an error points
    /// past the end of the file with an empty line.
    #[test]
    fn lone_carriage_returns_break_lines_like_yaml() {
        let s = source("steps:\r  - id: one\r\n    values: [\r");
        let err = s
            .parse::<std::collections::BTreeMap<String, serde_yaml::Value>>()
            .expect_err("unclosed flow sequence");
        let spot = err.spot.expect("positioned");
        assert_eq!(spot.line, 4);
        assert_eq!(s.line(2), "  - id: one");
        assert_eq!(s.line(3), "    values: [");
        let key = s.key(&["steps"]).expect("indexed");
        assert_eq!((key.line, key.line_text.as_str()), (1, "steps:"));
        let id = s.value(&["steps", "0", "id"]).expect("indexed");
        assert_eq!((id.line, id.line_text.as_str()), (2, "  - id: one"));
    }

    /// Found by fuzzing (fuzz/corpus/project_file/line-separator): libyaml
    /// counts U+2028 as a line break, the file's lines do not.
    #[test]
    fn parse_errors_point_at_real_lines_past_line_separators() {
        let s = source("a: 1\u{2028}b: x\u{2028}c: [1, 2\nd: 4\n");
        let err = s
            .parse::<std::collections::BTreeMap<String, serde_yaml::Value>>()
            .expect_err("unclosed flow sequence");
        let spot = err.spot.expect("positioned");
        assert!(spot.line <= s.line_count(), "{spot:?}");
        assert_eq!(spot.line_text, s.line(spot.line));
        assert!(!spot.line_text.is_empty(), "{spot:?}");
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_parent() {
        let s = source("steps:\n  - id: one\n");
        let spot = s.value(&["steps", "0", "nothing"]).expect("parent found");
        assert_eq!(spot.line, 2);
    }
}
