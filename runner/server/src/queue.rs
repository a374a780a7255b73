//! Runs waiting and running: a bounded in-process queue read by `--workers`
//! tasks, and each live run's stop token and event stream.
//!
//! The queue's truth is the `runs` table: a run is `queued` there before it
//! is sent here, and on start every `queued` run is sent again while every
//! `running` one (the server died under it) becomes `interrupted`: never
//! lost, never silently re-sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};

use reqflo_engine::Stop;

/// One run that is queued or running: how to stop it, and its events so far
/// (for a stream that joins late) and to come.
pub struct LiveRun {
    /// Asked when the run is cancelled or the server shuts down.
    pub stop: Stop,
    /// Events as they happen (JSON, redacted).
    pub events: broadcast::Sender<Arc<str>>,
    /// Every event so far.
    pub history: Mutex<Vec<Arc<str>>>,
}

impl LiveRun {
    /// Record and broadcast one event. Both happen under the history's
    /// lock, so a follower sees each event exactly once ([`LiveRun::follow`]).
    pub fn publish(&self, event: String) {
        let event: Arc<str> = event.into();
        if let Ok(mut history) = self.history.lock() {
            history.push(Arc::clone(&event));
            // No subscriber is fine: the history keeps it.
            let _ = self.events.send(event);
        }
    }

    /// Every event so far, and a receiver of each one after them.
    pub fn follow(&self) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        match self.history.lock() {
            Ok(history) => (history.clone(), self.events.subscribe()),
            Err(_) => (Vec::new(), self.events.subscribe()),
        }
    }
}

/// Why a run could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// The queue holds `queue_limit` runs.
    Busy,
    /// The server is shutting down.
    Closing,
}

/// The queue.
pub struct Queue {
    sender: mpsc::Sender<String>,
    receiver: tokio::sync::Mutex<mpsc::Receiver<String>>,
    live: Mutex<HashMap<String, Arc<LiveRun>>>,
    closing: AtomicBool,
}

impl Queue {
    /// A queue holding at most `limit` waiting runs.
    pub fn new(limit: usize) -> Queue {
        let (sender, receiver) = mpsc::channel(limit.max(1));
        Queue {
            sender,
            receiver: tokio::sync::Mutex::new(receiver),
            live: Mutex::new(HashMap::new()),
            closing: AtomicBool::new(false),
        }
    }

    /// Queue run `id`; it is live (cancellable, streamable) from now on.
    pub fn push(&self, id: &str) -> Result<Arc<LiveRun>, Full> {
        if self.closing.load(Ordering::SeqCst) {
            return Err(Full::Closing);
        }
        let live = self.track(id);
        match self.sender.try_send(id.to_string()) {
            Ok(()) => Ok(live),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.forget(id);
                Err(Full::Busy)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.forget(id);
                Err(Full::Closing)
            }
        }
    }

    /// The next run to execute; `None` once the queue is closed.
    pub async fn next(&self) -> Option<String> {
        self.receiver.lock().await.recv().await
    }

    /// How many runs wait.
    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    fn track(&self, id: &str) -> Arc<LiveRun> {
        let (events, _) = broadcast::channel(1024);
        let live = Arc::new(LiveRun {
            stop: Stop::new(),
            events,
            history: Mutex::new(Vec::new()),
        });
        if let Ok(mut map) = self.live.lock() {
            map.insert(id.to_string(), Arc::clone(&live));
        }
        live
    }

    /// A live run, if it is queued or running.
    pub fn live(&self, id: &str) -> Option<Arc<LiveRun>> {
        self.live.lock().ok().and_then(|m| m.get(id).cloned())
    }

    /// The run ended: nothing can stop it or follow it live any more.
    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.live.lock() {
            map.remove(id);
        }
    }

    /// Stop taking runs and stop every live one (each is recorded as
    /// interrupted by its worker). Runs still queued stay `queued` in the
    /// store and run after the next start.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        if let Ok(map) = self.live.lock() {
            for live in map.values() {
                live.stop.ask("the server shutting down");
            }
        }
    }

    /// Whether [`Queue::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}
