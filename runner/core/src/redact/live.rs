//! The process-wide view: what the process prints on its own account (a
//! panic message, the CLI's last error, a server's own log lines) is redacted
//! of every value that any live run knows.
//!
//! Runs own their redactors ([`Redactor::for_run`]); this view holds only weak
//! references to them. A run that ends drops its redactor, which zeroes its
//! values, and the view forgets it: memory follows the runs alive now, never
//! the number of runs the process has seen.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, Weak};

use super::Redactor;

/// Every run redactor still alive (and some dead ones, pruned as we go).
static LIVE: Mutex<Vec<Weak<Redactor>>> = Mutex::new(Vec::new());

/// Show `redactor` to the view until it is dropped.
pub(super) fn register(redactor: &Arc<Redactor>) {
    let mut live = LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    live.retain(|run| run.strong_count() > 0);
    live.push(Arc::downgrade(redactor));
}

/// The redactors of the runs alive now.
fn runs() -> Vec<Arc<Redactor>> {
    let mut live = LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    live.retain(|run| run.strong_count() > 0);
    live.iter().filter_map(Weak::upgrade).collect()
}

/// How many runs the view covers now.
pub fn runs_alive() -> usize {
    runs().len()
}

/// Redact `text` of every value that any live run knows.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut text = Cow::Borrowed(text);
    for run in runs() {
        if let Cow::Owned(redacted) = run.redact(&text) {
            text = Cow::Owned(redacted);
        }
    }
    text
}

/// [`redact`] for bytes.
pub fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut bytes = Cow::Borrowed(bytes);
    for run in runs() {
        if let Cow::Owned(redacted) = run.redact_bytes(&bytes) {
            bytes = Cow::Owned(redacted);
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test, since the view is process-wide and tests run in parallel:
    // other tests' runs may come and go, so it counts only its own values.
    #[test]
    fn the_view_covers_live_runs_and_forgets_ended_ones() {
        let first = Redactor::for_run();
        first.add("FIRST", b"first-run-value");
        let second = Redactor::for_run();
        second.add("SECOND", b"second-run-value");
        let text = "a first-run-value and a second-run-value";
        assert_eq!(redact(text), "a [redacted:FIRST] and a [redacted:SECOND]");

        let held = Arc::clone(&first);
        drop(first);
        assert!(
            redact(text).contains("[redacted:FIRST]"),
            "a clone keeps the run alive"
        );
        drop(held);
        assert_eq!(redact(text), "a first-run-value and a [redacted:SECOND]");

        // A thousand runs that come and go leave nothing behind.
        for n in 0..1000 {
            let run = Redactor::for_run();
            run.add("RUN", format!("value-of-run-{n}").as_bytes());
        }
        let after = LIVE.lock().map(|live| live.len()).unwrap_or(usize::MAX);
        assert!(after < 50, "{after} entries kept for dead runs");
        drop(second);
        assert_eq!(redact(text), text);
    }
}
