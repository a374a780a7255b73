//! Stopping a run: a token that whoever runs the engine sets (the CLI on
//! Ctrl-C or SIGTERM, a server on a cancel request).
//!
//! Once asked, the request in flight is dropped (its connection closed), the
//! steps not reached are recorded as skipped, the report comes back for what
//! ran, and secrets are zeroed as the run's state is dropped.

use std::sync::Arc;

use reqflo_core::error::Error;
use tokio::sync::watch;

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
        // The borrow of the channel ends here, before any other await: held
        // across one, it would make every run's future `!Send`.
        let asked = seen
            .wait_for(Option::is_some)
            .await
            .map(|why| why.unwrap_or("a signal"));
        match asked {
            Ok(why) => why,
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
