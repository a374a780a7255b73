//! The JSON report: [`RunReport`] serialized; schema in `docs/report.schema.json`.

use std::io::Write;

use super::model::RunReport;

/// Write `report` as pretty JSON.
pub fn write(report: &RunReport, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
