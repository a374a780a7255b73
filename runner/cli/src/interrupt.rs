//! Ctrl-C and SIGTERM during a run.
//!
//! The first signal asks the run to stop where it is: the request in flight
//! is dropped (its connection closed), the steps not reached are recorded as
//! skipped, reports are written for what ran, and secrets are zeroed as the
//! run's state is dropped; the exit code is 130. A second signal quits at once,
//! without reports, from the thread that watches for signals, so it works
//! even when the run's own thread is stuck (writing to a pipe nobody reads,
//! say).

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::console;
use crate::exit;
use reqflo_core::error::{Error, Result};
use reqflo_engine::Stop;

/// Watch for SIGINT and SIGTERM from now on: the first one sets the
/// returned stop, a second one exits the process with 130 at once.
pub fn on_signals() -> Result<Stop> {
    let stop = Stop::new();
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::Runtime(format!("cannot watch for Ctrl-C: {e}")))?;
    let asked = stop.clone();
    std::thread::Builder::new()
        .name("reqflo-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                if asked.asked().is_some() {
                    console::err(&format!(
                        "interrupted again ({name}): quitting at once, without reports"
                    ));
                    std::process::exit(exit::INTERRUPTED);
                }
                console::err(&format!(
                    "interrupted ({name}): stopping; reports are written for what ran \
                         (Ctrl-C again to quit at once)"
                ));
                asked.ask(name);
            }
        })
        .map_err(|e| Error::Runtime(format!("cannot watch for Ctrl-C: {e}")))?;
    Ok(stop)
}
