//! Runs waiting and running: a bounded in-process queue read by `--workers`
//! tasks, and each live run's stop token and event stream.
//!
//! The queue's truth is the `runs` table: a run is `queued` there before it
//! is sent here, and on start every `queued` run is sent again while every
//! `running` one (the server died under it) becomes `interrupted`: never
//! lost, never silently re-sent.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, broadcast};

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
    /// A run not stopped, with no events yet.
    pub fn new() -> Arc<LiveRun> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(LiveRun {
            stop: Stop::new(),
            events,
            history: Mutex::new(Vec::new()),
        })
    }

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

/// Whether an event is the run's last.
pub fn is_last(event: &str) -> bool {
    event.starts_with("{\"event\":\"run_finished\"")
}

/// Why a cancelled run stopped (the engine records it as interrupted).
pub const CANCELLED: &str = "a cancel request";

/// The queue: runs waiting in the order they came, taken by workers in
/// that order but for a run whose project already has its share running
/// (`project_concurrency`), which waits for one of them to end while the
/// runs behind it go ahead.
pub struct Queue {
    waiting: Mutex<Waiting>,
    wake: Notify,
    freed: Notify,
    limit: usize,
    per_project: usize,
    live: Mutex<HashMap<String, Arc<LiveRun>>>,
    closing: AtomicBool,
}

/// What waits, and how many runs of each project are running.
#[derive(Default)]
struct Waiting {
    runs: VecDeque<(String, String)>,
    running: HashMap<String, usize>,
}

/// A run a worker took: its id and project. Hand it back to
/// [`Queue::done`] when the run ends.
pub struct Taken {
    /// The run.
    pub id: String,
    /// Its project.
    pub project: String,
}

impl Queue {
    /// A queue holding at most `limit` waiting runs, running at most
    /// `per_project` runs of one project at once (`None`: no such limit).
    pub fn new(limit: usize, per_project: Option<usize>) -> Queue {
        Queue {
            waiting: Mutex::new(Waiting::default()),
            wake: Notify::new(),
            freed: Notify::new(),
            limit: limit.max(1),
            per_project: per_project.unwrap_or(usize::MAX).max(1),
            live: Mutex::new(HashMap::new()),
            closing: AtomicBool::new(false),
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // Nothing is left half-done under this lock worth refusing.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue run `id` of `project`; it is live (cancellable, streamable)
    /// from now on.
    pub fn push(&self, id: &str, project: &str) -> Result<Arc<LiveRun>, Full> {
        if self.closing.load(Ordering::SeqCst) {
            return Err(Full::Closing);
        }
        // Live before a worker can take it: a worker that takes it finds it.
        let live = self.track(id);
        {
            let mut waiting = self.waiting();
            if waiting.runs.len() >= self.limit {
                drop(waiting);
                self.forget(id);
                return Err(Full::Busy);
            }
            waiting
                .runs
                .push_back((id.to_string(), project.to_string()));
        }
        self.wake.notify_waiters();
        Ok(live)
    }

    /// The next run to execute: the first waiting one whose project is
    /// under its limit. `None` once the queue is closed.
    pub async fn next(&self) -> Option<Taken> {
        loop {
            // Interest first, then the look: a push in between still wakes us.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.is_closing() {
                return None;
            }
            {
                let mut waiting = self.waiting();
                let Waiting { runs, running } = &mut *waiting;
                let free = runs.iter().position(|(_, project)| {
                    running.get(project).copied().unwrap_or(0) < self.per_project
                });
                if let Some((id, project)) = free.and_then(|at| runs.remove(at)) {
                    *running.entry(project.clone()).or_default() += 1;
                    return Some(Taken { id, project });
                }
            }
            woken.await;
        }
    }

    /// A taken run ended: its project's share is free again.
    pub fn done(&self, taken: &Taken) {
        {
            let mut waiting = self.waiting();
            if let Some(count) = waiting.running.get_mut(&taken.project) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    waiting.running.remove(&taken.project);
                }
            }
        }
        self.wake.notify_waiters();
        self.freed.notify_waiters();
    }

    /// Wait until a taken run ends (a worker is free again).
    pub async fn freed(&self) {
        self.freed.notified().await;
    }

    /// How many runs wait.
    pub fn depth(&self) -> usize {
        self.waiting().runs.len()
    }

    fn track(&self, id: &str) -> Arc<LiveRun> {
        let live = LiveRun::new();
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
        self.wake.notify_waiters();
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
