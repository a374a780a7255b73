//! Writing report files through the redactor, then proving them clean.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::model::RunReport;
use super::{html, json, junit};
use crate::error::{Error, Result};
use crate::redact::{RedactingWriter, Redactor};

/// Where reports go (`--report-json`, `--report-junit`, `--report-html`).
#[derive(Debug, Default, Clone)]
pub struct ReportTargets {
    /// A JSON file.
    pub json: Option<PathBuf>,
    /// A JUnit XML file.
    pub junit: Option<PathBuf>,
    /// A folder for the HTML report (`index.html`).
    pub html: Option<PathBuf>,
}

impl ReportTargets {
    /// Whether any report was asked for.
    pub fn any(&self) -> bool {
        self.json.is_some() || self.junit.is_some() || self.html.is_some()
    }
}

/// Write every requested report, then scan each file for known secret forms.
/// A file with a hit is deleted and the run fails (exit 3): this is the last
/// line of defence and should never fire.
pub fn write_reports(
    report: &RunReport,
    targets: &ReportTargets,
    redactor: &Redactor,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if let Some(path) = &targets.json {
        write_one(path, redactor, |w| json::write(report, w))?;
        written.push(path.clone());
    }
    if let Some(path) = &targets.junit {
        write_one(path, redactor, |w| junit::write(report, w))?;
        written.push(path.clone());
    }
    if let Some(dir) = &targets.html {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Runtime(format!(
                "cannot create report folder {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join("index.html");
        write_one(&path, redactor, |w| html::write(report, w))?;
        written.push(path);
    }
    for path in &written {
        scan_file(path, redactor)?;
    }
    Ok(written)
}

fn write_one(
    path: &Path,
    redactor: &Redactor,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let fail =
        |e: std::io::Error| Error::Runtime(format!("cannot write report {}: {e}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let file = File::create(path).map_err(fail)?;
    let mut writer = RedactingWriter::with(BufWriter::new(file), redactor);
    render(&mut writer).map_err(fail)?;
    let mut inner = writer.finish().map_err(fail)?;
    inner.flush().map_err(fail)
}

/// A report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The JSON report.
    Json,
    /// JUnit XML.
    Junit,
    /// The HTML page.
    Html,
}

/// Render a report in memory (a server keeps it in its history), through
/// the redactor and checked like a written file: a hit is an error, and
/// nothing is returned.
pub fn render(report: &RunReport, format: Format, redactor: &Redactor) -> Result<String> {
    let fail = |e: std::io::Error| Error::Runtime(format!("cannot render the report: {e}"));
    let mut writer = RedactingWriter::with(Vec::new(), redactor);
    match format {
        Format::Json => json::write(report, &mut writer),
        Format::Junit => junit::write(report, &mut writer),
        Format::Html => html::write(report, &mut writer),
    }
    .map_err(fail)?;
    let bytes = writer.finish().map_err(fail)?;
    if redactor.finds(&bytes) {
        return Err(Error::Runtime(
            "a report contained a secret after redaction; it was not kept (this is a bug in reqflo; please report it)".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|_| Error::Runtime("a report is not UTF-8".into()))
}

/// Read a written file back; if any known value or encoded form is in it,
/// delete it and fail.
pub fn scan_file(path: &Path, redactor: &Redactor) -> Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Runtime(format!("cannot re-read report {}: {e}", path.display())))?;
    if redactor.finds(&bytes) {
        let _ = std::fs::remove_file(path);
        return Err(Error::Runtime(format!(
            "report {} contained a secret after redaction; it was deleted (this is a bug in reqflo; please report it)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_deletes_a_file_holding_a_secret_and_fails() {
        let redactor: &'static Redactor = Box::leak(Box::default());
        redactor.add("KEY", b"scan-canary-value");
        let dir = tempfile::tempdir().expect("tmp");
        let clean = dir.path().join("clean.json");
        std::fs::write(&clean, "{\"key\": \"[redacted:KEY]\"}").expect("write");
        assert!(scan_file(&clean, redactor).is_ok());
        assert!(clean.exists());
        // Force what must never happen: a report with the value in it (here hex-encoded).
        let leaked = dir.path().join("leaked.json");
        std::fs::write(
            &leaked,
            format!("{{\"key\": \"{}\"}}", hex::encode("scan-canary-value")),
        )
        .expect("write");
        let err = scan_file(&leaked, redactor).expect_err("must fail");
        assert!(matches!(err, Error::Runtime(_)), "{err}");
        assert!(!leaked.exists(), "the leaking file is deleted");
    }
}
