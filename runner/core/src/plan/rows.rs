//! The rows of a journey's `for_each:`: written in the journey, or read
//! from a CSV or JSON file of the project. Each row's fields are inputs the
//! journey declares; each row is a run of the journey of its own.

use indexmap::IndexMap;
use serde_json::Value;

use super::inputs::typed;
use crate::error::{Diagnostic, Error, Result};
use crate::project::model::{ForEachDef, JourneyFile};
use crate::project::{Loaded, Project};

/// One row: input name → value.
pub type Row = IndexMap<String, Value>;

/// More rows than this is a mistake (a wrong file), not a test.
pub const MAX_ROWS: usize = 10_000;

/// The rows of `journey`'s `for_each:`, each checked against its inputs.
pub(super) fn load(
    project: &Project,
    journey: &Loaded<JourneyFile>,
    def: &ForEachDef,
) -> Result<Vec<Row>> {
    let source = &journey.source;
    let at = |path: &[&str], message: String| {
        Error::Definition(Diagnostic::new(message).at(source.value(path)))
    };
    let rows = match def {
        ForEachDef::Rows(rows) => {
            for (i, row) in rows.iter().enumerate() {
                let n = i.to_string();
                if let Some(field) = unknown_field(&journey.file, row) {
                    return Err(at(
                        &["for_each", &n, field],
                        format!(
                            "row {}: `{field}` is no input of the journey (declare it under `inputs:`)",
                            i + 1
                        ),
                    ));
                }
            }
            rows.clone()
        }
        ForEachDef::File(file) => {
            let text = project
                .data_file(&file.file)
                .map_err(|why| at(&["for_each", "file"], why))?;
            let rows = if file.file.ends_with(".json") {
                json_rows(&file.file, &text)
            } else if file.file.ends_with(".csv") {
                csv_rows(&file.file, &text, &journey.file)
            } else {
                Err(format!(
                    "`{}`: rows come from a .csv or a .json file",
                    file.file
                ))
            }
            .map_err(|why| at(&["for_each", "file"], why))?;
            for (i, row) in rows.iter().enumerate() {
                if let Some(field) = unknown_field(&journey.file, row) {
                    return Err(at(
                        &["for_each", "file"],
                        format!(
                            "{}: row {}: `{field}` is no input of the journey (declare it under `inputs:`)",
                            file.file,
                            i + 1
                        ),
                    ));
                }
            }
            rows
        }
    };
    if rows.is_empty() {
        return Err(at(&["for_each"], "`for_each:` has no rows".into()));
    }
    if rows.len() > MAX_ROWS {
        return Err(at(
            &["for_each"],
            format!("`for_each:` has {} rows; at most {MAX_ROWS}", rows.len()),
        ));
    }
    Ok(rows)
}

/// A field of `row` the journey does not declare as an input.
fn unknown_field<'r>(journey: &JourneyFile, row: &'r Row) -> Option<&'r str> {
    row.keys()
        .map(String::as_str)
        .find(|field| !journey.inputs.contains_key(*field))
}

/// A JSON file: a list of objects.
fn json_rows(path: &str, text: &str) -> std::result::Result<Vec<Row>, String> {
    serde_json::from_str::<Vec<Row>>(text).map_err(|e| {
        format!(
            "{path}:{}:{}: expected a list of objects, one a row: {e}",
            e.line(),
            e.column()
        )
    })
}

/// A CSV file: a header line naming the inputs, then a row a line; each
/// field takes the type of its input's default, as `--input` does.
fn csv_rows(
    path: &str,
    text: &str,
    journey: &JourneyFile,
) -> std::result::Result<Vec<Row>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("{path}: {e}"))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.position() {
            Some(at) => format!("{path}:{}: {e}", at.line()),
            None => format!("{path}: {e}"),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let mut row = Row::new();
        for (name, raw) in headers.iter().zip(record.iter()) {
            let default = journey.inputs.get(name).and_then(|d| d.default.as_ref());
            let value = typed(name, raw, default).map_err(|e| format!("{path}:{line}: {e}"))?;
            row.insert(name.to_string(), value);
        }
        rows.push(row);
    }
    Ok(rows)
}
