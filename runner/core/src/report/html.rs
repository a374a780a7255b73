//! The HTML report: one self-contained page (no network fetches) with a
//! timeline of steps, pass/fail at a glance, and expandable request and
//! response detail. Failed steps start expanded.

use std::fmt::Write as _;
use std::io::Write;

use super::model::{JourneyReport, MessageReport, Outcome, RunReport, StepReport};

const STYLE: &str = r#"
:root { --ok: #1a7f37; --bad: #cf222e; --err: #9a6700; --skip: #6e7781; --stop: #8250df; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { padding: 18px 28px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 20px; }
main { padding: 18px 28px; max-width: 1200px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; text-transform: uppercase; }
.badge.passed, .bar.passed { background: var(--ok); } .badge.failed, .bar.failed { background: var(--bad); }
.badge.error, .bar.error { background: var(--err); } .badge.skipped, .bar.skipped { background: var(--skip); }
.badge.interrupted, .bar.interrupted { background: var(--stop); }
details.step.failed > summary, details.step.error > summary, details.step.interrupted > summary { border-left: 4px solid var(--bad); }
section.journey { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin-bottom: 18px; }
section.journey > h2 { margin: 0; padding: 12px 16px; font-size: 16px; border-bottom: 1px solid var(--line); }
.meta { color: #59636e; font-weight: normal; font-size: 13px; }
details.step { border-bottom: 1px solid var(--line); }
details.step:last-child { border-bottom: 0; }
details.step > summary { display: grid; grid-template-columns: 88px 220px 1fr 280px; gap: 10px; align-items: center; padding: 8px 16px; cursor: pointer; list-style: none; }
details.step > summary::-webkit-details-marker { display: none; }
details.step[open] > summary { background: #f6f8fa; }
.what { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.timeline { position: relative; height: 12px; background: #eaeef2; border-radius: 6px; }
.bar { position: absolute; top: 0; height: 12px; min-width: 3px; border-radius: 6px; }
.detail { padding: 4px 16px 14px 114px; }
.detail h3 { font-size: 13px; margin: 12px 0 4px; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px; margin: 0; white-space: pre-wrap; word-break: break-all; font-size: 12px; max-height: 360px; overflow: auto; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; font-family: ui-monospace, monospace; }
.problem { color: var(--bad); font-weight: 600; margin: 6px 0; }
.toolbar button { margin-right: 6px; }
"#;

const SCRIPT: &str = r#"
function setAll(open) { document.querySelectorAll('details.step').forEach(d => { d.open = open; }); }
"#;

/// Write `report` as one HTML page.
pub fn write(report: &RunReport, out: &mut dyn Write) -> std::io::Result<()> {
    let mut page = String::new();
    let steps: Vec<&StepReport> = report.journeys.iter().flat_map(|j| &j.steps).collect();
    let count = |o: Outcome| steps.iter().filter(|s| s.outcome == o).count();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>reqflo report: {}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\n",
        outcome_word(report.outcome)
    );
    let _ = write!(
        page,
        "<header><h1>reqflo run <span class=\"badge {o}\">{o}</span></h1>\
         <div class=\"meta\">started {} · {} · {} passed, {} failed, {} errors{}, {} skipped · reqflo {}</div>\
         <div class=\"toolbar\" style=\"margin-top:8px\"><button onclick=\"setAll(true)\">Expand all</button>\
         <button onclick=\"setAll(false)\">Collapse all</button></div></header>\n<main>\n",
        escape(&report.started_at),
        ms(report.duration_ms),
        count(Outcome::Passed),
        count(Outcome::Failed),
        count(Outcome::Error),
        match count(Outcome::Interrupted) {
            0 => String::new(),
            n => format!(", {n} interrupted"),
        },
        count(Outcome::Skipped),
        report.reqflo_version,
        o = outcome_word(report.outcome),
    );
    if let Some(error) = &report.error {
        let _ = writeln!(page, "<p class=\"problem\">{}</p>", escape(error));
    }
    for journey in &report.journeys {
        journey_html(&mut page, journey);
    }
    page.push_str("</main></body></html>\n");
    out.write_all(page.as_bytes())
}

fn journey_html(page: &mut String, journey: &JourneyReport) {
    let _ = writeln!(
        page,
        "<section class=\"journey\" id=\"journey-{}\"><h2>{} <span class=\"meta\">env {} · {}</span> \
         <span class=\"badge {o}\">{o}</span></h2>",
        escape(&journey.name),
        escape(&journey.name),
        escape(&journey.environment),
        ms(journey.duration_ms),
        o = outcome_word(journey.outcome),
    );
    let total = journey.duration_ms.max(0.001);
    for step in &journey.steps {
        let left = (step.start_ms / total * 100.0).clamp(0.0, 100.0);
        let width = (step.duration_ms / total * 100.0).clamp(0.0, 100.0 - left);
        let what = match &step.request {
            Some(r) => format!(
                "{} {}{}",
                r.method.as_deref().unwrap_or(""),
                r.url.as_deref().unwrap_or(""),
                step.response
                    .as_ref()
                    .and_then(|r| r.status)
                    .map(|s| format!(" → {s}"))
                    .unwrap_or_default()
            ),
            None => format!("template {}", step.template),
        };
        let open = if matches!(
            step.outcome,
            Outcome::Failed | Outcome::Error | Outcome::Interrupted
        ) {
            " open"
        } else {
            ""
        };
        let o = outcome_word(step.outcome);
        let _ = writeln!(
            page,
            "<details class=\"step {o}\" id=\"step-{id}\" data-outcome=\"{o}\"{open}><summary>\
             <span class=\"badge {o}\">{o}</span><b>{id}</b><span class=\"what\">{what}</span>\
             <span class=\"timeline\" title=\"{dur}\"><span class=\"bar {o}\" style=\"left:{left:.2}%;width:{width:.2}%\"></span></span>\
             </summary><div class=\"detail\">",
            id = escape(&step.id),
            what = escape(&what),
            dur = ms(step.duration_ms),
        );
        for problem in step.problems() {
            let _ = writeln!(page, "<p class=\"problem\">{}</p>", escape(problem));
        }
        let _ = write!(page, "<p class=\"meta\">took {}</p>", ms(step.duration_ms));
        if !step.expectations.is_empty() {
            page.push_str("<h3>Expectations</h3><table><tr><th></th><th>check</th><th>expected</th><th>actual</th></tr>");
            for c in &step.expectations {
                let _ = write!(
                    page,
                    "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
                    if c.passed { "✓" } else { "✗" },
                    c.kind,
                    escape(&c.subject),
                    escape(&c.expected),
                    escape(c.actual.as_deref().unwrap_or("(absent)")),
                );
            }
            page.push_str("</table>\n");
        }
        if !step.captures.is_empty() {
            page.push_str("<h3>Captures</h3><table>");
            for c in &step.captures {
                let _ = write!(
                    page,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(&c.name),
                    escape(&c.value.to_string())
                );
            }
            page.push_str("</table>\n");
        }
        if let Some(request) = &step.request {
            message_html(page, "Request", request);
        }
        if let Some(response) = &step.response {
            message_html(page, "Response", response);
        }
        page.push_str("</div></details>\n");
    }
    page.push_str("</section>\n");
}

fn message_html(page: &mut String, title: &str, message: &MessageReport) {
    let _ = write!(page, "<h3>{title}</h3><pre>");
    if let (Some(method), Some(url)) = (&message.method, &message.url) {
        let _ = writeln!(page, "{} {}", escape(method), escape(url));
    }
    if let Some(status) = message.status {
        let _ = writeln!(page, "{status}");
    }
    for [name, value] in &message.headers {
        let _ = writeln!(page, "{}: {}", escape(name), escape(value));
    }
    if let Some(body) = &message.body {
        let _ = write!(page, "\n{}", escape(body));
        if message.body_truncated {
            let _ = write!(page, "\n… (cut; {} bytes in all)", message.body_bytes);
        }
    } else if message.body_bytes > 0 {
        let _ = write!(page, "\n({} bytes)", message.body_bytes);
    }
    page.push_str("</pre>\n");
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Error => "error",
        Outcome::Skipped => "skipped",
        Outcome::Interrupted => "interrupted",
    }
}

fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1000.0)
    } else {
        format!("{value:.1} ms")
    }
}

/// Escape text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
