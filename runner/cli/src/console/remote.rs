//! `reqflo run --remote`: a server's run events, printed as the same lines a
//! local run prints.

use reqflo_core::report::Outcome;

use super::lines::{JourneyLine, StepLine, summary};
use super::{Console, Stream, clean, printable};

impl Console {
    /// A server's run event (`reqflo run --remote`), printed as the same
    /// lines a local run prints. Events come redacted by the server's run;
    /// they are made printable here like every line.
    pub fn remote_event(&self, event: &serde_json::Value) {
        let mut state = self.state();
        let state = &mut *state;
        let journey = event["journey"].as_u64().unwrap_or(0) as usize;
        let text = |key: &str| event[key].as_str().unwrap_or("");
        match text("event") {
            "journey_started" => {
                if state.id_width.len() <= journey {
                    state.id_width.resize(journey + 1, 0);
                }
                state.id_width[journey] = event["width"].as_u64().unwrap_or(0) as usize;
                if !self.quiet {
                    let line = clean(&format!(
                        "journey {} (env {})",
                        text("name"),
                        text("environment")
                    ));
                    self.emit(state, journey, Stream::Out, &line);
                }
            }
            "request" | "response" if self.verbose => {
                let dump = printable(text("dump")).into_owned();
                self.emit(state, journey, Stream::Err, &dump);
            }
            "step_finished" => {
                let step = &event["step"];
                let request = &step["request"];
                let outcome =
                    serde_json::from_value(step["outcome"].clone()).unwrap_or(Outcome::Error);
                let mut problems: Vec<&str> = Vec::new();
                if let Some(checks) = step["expectations"].as_array() {
                    problems.extend(checks.iter().filter_map(|c| c["message"].as_str()));
                }
                problems.extend(step["error"].as_str());
                if let Some(notes) = step["notes"].as_array() {
                    problems.extend(notes.iter().filter_map(|n| n.as_str()));
                }
                let line = StepLine {
                    id: step["id"].as_str().unwrap_or(""),
                    outcome,
                    request: request.is_object().then(|| {
                        (
                            request["method"].as_str().unwrap_or(""),
                            request["url"].as_str().unwrap_or(""),
                        )
                    }),
                    status: step["response"]["status"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok()),
                    duration_ms: step["duration_ms"].as_f64().unwrap_or(0.0),
                    problems,
                };
                let width = state.id_width.get(journey).copied().unwrap_or(0);
                for line in self.step(&line, width) {
                    self.emit(state, journey, Stream::Out, &line);
                }
            }
            "step_skipped" if !self.quiet => {
                let line = clean(&format!("  skip   {}", text("step")));
                self.emit(state, journey, Stream::Out, &line);
            }
            "journey_finished" if event["ran"].as_bool().unwrap_or(true) => {
                let count = |key: &str| event[key].as_u64().unwrap_or(0) as usize;
                let line = JourneyLine {
                    name: text("name"),
                    outcome: serde_json::from_value(event["outcome"].clone())
                        .unwrap_or(Outcome::Error),
                    duration_ms: event["duration_ms"].as_f64().unwrap_or(0.0),
                    total: count("steps"),
                    passed: count("passed"),
                    failed: count("failed"),
                    stopped: count("interrupted"),
                    skipped: count("skipped"),
                };
                let line = clean(&summary(&line));
                self.emit(state, journey, Stream::Out, &line);
            }
            _ => {}
        }
    }
}
