//! Ctrl-C and SIGTERM during a run.
//!
//! The first signal asks the run to stop where it is: the request in flight
//! is dropped (its connection closed), the steps not reached are recorded as
//! skipped, reports are written for what ran, and secrets are zeroed as the
//! run's state is dropped; the exit code is 130. A second signal quits at once,
//! without reports, from the thread that watches for signals, so it works
//! even when the run's own thread is stuck (writing to a pipe nobody reads,
//! say).

use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tokio::sync::watch;

use crate::console;
use crate::error::{Error, Result, exit};

/// Tells a run that the user asked it to stop, and by which signal.
#[derive(Clone)]
pub struct Stop {
    // The sender is kept here, so the channel never closes and waiting on a
    // stop that is never asked for simply never ends.
    asked: Arc<watch::Sender<Option<&'static str>>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            asked: Arc::new(watch::Sender::new(None)),
        }
    }
}

impl Stop {
    /// A stop that only [`Stop::ask`] sets (no signal handling).
    pub fn new() -> Stop {
        Stop::default()
    }

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

    /// Ask the run to stop, naming why (`SIGINT`, `SIGTERM`).
    pub fn ask(&self, why: &'static str) {
        self.asked.send_replace(Some(why));
    }

    /// Whether a stop was asked for, and by what.
    pub fn asked(&self) -> Option<&'static str> {
        *self.asked.borrow()
    }

    /// Wait until a stop is asked for; returns what asked.
    pub async fn wait(&self) -> &'static str {
        let mut seen = self.asked.subscribe();
        match seen.wait_for(Option::is_some).await {
            Ok(why) => why.unwrap_or("a signal"),
            // Unreachable while `self` holds the sender; waiting forever is
            // what a stop that cannot be asked for means.
            Err(_) => std::future::pending().await,
        }
    }
}

/// The error of a run stopped by a signal while `doing` something.
pub fn stopped(why: &str, doing: &str) -> Error {
    Error::Interrupted(format!("interrupted by {why} while {doing}"))
}
