//! What every sandboxed plugin shares, provider or hook: its store with a
//! memory cap, a CPU budget counted in epoch ticks, a wall-clock limit per
//! call, the stderr it may print to, and the words for how a call failed.
//! Providers ([`crate::secrets`]) and hooks ([`crate::hooks`]) add only
//! their own interface on top.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{
    Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use reqflo_core::duration::human;
use reqflo_core::redact::Redactor;

/// How often the epoch advances; plugin CPU budgets are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Plugin stderr kept for error messages (panics print there).
const STDERR_BYTES: usize = 16 * 1024;

/// A store's state that carries the sandbox's memory limits.
pub(crate) trait Limited: Send + 'static {
    /// The limiter, for the store to consult.
    fn limiter(&mut self) -> &mut Limiter;
    /// The limiter, to say afterwards why a call failed.
    fn limits(&self) -> &Limiter;
}

/// A plugin's running sandbox: its store and how its calls are bounded.
pub(crate) struct Guest<T: 'static> {
    /// The store; a call borrows it for as long as it runs.
    pub(crate) store: Store<T>,
    stderr: MemoryOutputPipe,
    timeout: Duration,
    budget: CpuBudget,
    redactor: Arc<Redactor>,
}

impl<T: Limited> Guest<T> {
    /// The pipe a guest's stderr goes to; pass a clone to its WASI context.
    pub(crate) fn stderr_pipe() -> MemoryOutputPipe {
        MemoryOutputPipe::new(STDERR_BYTES)
    }

    /// A store for `state`, with its memory cap, and a CPU budget of
    /// `timeout` for instantiation and for each call. What the guest prints
    /// to `stderr` is shown only through `redactor`.
    pub(crate) fn new(
        engine: &Engine,
        state: T,
        stderr: MemoryOutputPipe,
        timeout: Duration,
        redactor: Arc<Redactor>,
    ) -> Guest<T> {
        let mut store = Store::new(engine, state);
        store.limiter(|s| s.limiter());
        let budget = CpuBudget::install(&mut store);
        budget.refill(&mut store, timeout);
        Guest {
            store,
            stderr,
            timeout,
            budget,
            redactor,
        }
    }

    /// Ready the next call: a full CPU budget. Returns its wall-clock limit.
    pub(crate) fn begin(&mut self) -> Duration {
        self.budget.refill(&mut self.store, self.timeout);
        self.timeout
    }

    /// A call's outcome (run under `tokio::time::timeout` of [`Guest::begin`]'s
    /// limit): its value, or why it faulted, in the user's words. The
    /// instance is unusable after a fault.
    pub(crate) fn settle<R>(
        &self,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, String> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(trap)) => Err(self.explain(&trap)),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// The call's wall-clock limit passed. A guest that spent it computing
    /// (most of its CPU ticks used) was busy, not waiting: say so, as the
    /// epoch deadline would have a moment later.
    fn timed_out(&self) -> String {
        if self.budget.mostly_spent(self.timeout) {
            format!("exceeded its CPU budget of {}", human(self.timeout))
        } else {
            format!("did not answer within {}", human(self.timeout))
        }
    }

    /// Say what went wrong in the user's words, not wasmtime's.
    fn explain(&self, error: &wasmtime::Error) -> String {
        let limits = self.store.data().limits();
        let cause = if limits.refused_memory {
            format!(
                "exceeded its memory limit of {} MiB",
                limits.memory_bytes >> 20
            )
        } else {
            match error.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => {
                    format!("exceeded its CPU budget of {}", human(self.timeout))
                }
                Some(Trap::StackOverflow) => "overflowed its stack".to_string(),
                Some(Trap::UnreachableCodeReached) => "crashed (panic or abort)".to_string(),
                Some(trap) => format!("crashed ({trap})"),
                None => stopped(error),
            }
        };
        match self.last_stderr_line() {
            Some(line) => format!("{cause}; it printed: {line}"),
            None => cause,
        }
    }

    fn last_stderr_line(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        // Redact the whole text before picking a line: a multi-line value must
        // not be split into pieces the redactor no longer recognises.
        let text = String::from_utf8_lossy(&bytes);
        let text = self.redactor.redact(&text);
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("note:"))
            .map(str::to_string)
    }
}

/// Why a call ended that no trap explains: the plugin called `exit`, or the
/// host stopped it (too many secrets, a handle it does not hold). The root
/// cause says which; the rest of the chain is wasmtime's backtrace.
fn stopped(error: &wasmtime::Error) -> String {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return format!("exited with status {}", exit.0);
    }
    let root = error.root_cause().to_string();
    let root = root.lines().next().unwrap_or("");
    // The component model refuses a handle index the guest does not hold
    // (dropped, or made up) while lifting its result; say it in our words.
    if root.contains("handle index") {
        return format!("was stopped: it used a secret handle it does not hold ({root})");
    }
    format!("was stopped: {root}")
}

/// wasmtime errors carry long chains; the first line says what matters.
pub fn first_line(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    text.lines().next().unwrap_or("").to_string()
}

/// `StoreLimits` that remembers whether it refused memory, so the error can
/// say "memory limit" instead of a generic trap.
pub(crate) struct Limiter {
    inner: StoreLimits,
    refused_memory: bool,
    memory_bytes: usize,
}

impl Limiter {
    /// The limits every plugin store gets, with `memory_bytes` of linear memory.
    pub(crate) fn new(memory_bytes: usize) -> Limiter {
        Limiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(64)
                .tables(64)
                .memories(16)
                .table_elements(100_000)
                .build(),
            refused_memory: false,
            memory_bytes,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.refused_memory = true;
        }
        allowed
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }
    fn tables(&self) -> usize {
        self.inner.tables()
    }
    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Epoch ticks for a CPU budget of `timeout`.
fn ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
}

/// A store's CPU budget per call, counted in epoch ticks.
///
/// The store stops at every tick and yields to the executor before going on,
/// so a plugin in a busy loop never holds up the one runtime thread: timers
/// fire and Ctrl-C stops the run within a tick. Once the budget is spent the
/// call traps with [`Trap::Interrupt`], as a plain epoch deadline would.
#[derive(Clone, Default)]
struct CpuBudget(Arc<AtomicU64>);

impl CpuBudget {
    /// Install the budget's callback on `store`; it starts empty.
    fn install<T: 'static>(store: &mut Store<T>) -> CpuBudget {
        let budget = CpuBudget::default();
        let left = budget.0.clone();
        store.epoch_deadline_callback(move |_| {
            let spent =
                left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            Ok(match spent {
                Ok(_) => UpdateDeadline::Yield(1),
                Err(_) => UpdateDeadline::Interrupt,
            })
        });
        budget
    }

    /// Whether the call given `timeout` used at least half its ticks: it was
    /// running wasm, since a guest waiting on the host uses none.
    fn mostly_spent(&self, timeout: Duration) -> bool {
        self.0.load(Ordering::Relaxed) * 2 <= ticks(timeout)
    }

    /// Give the next call (or instantiation) `timeout` worth of ticks.
    fn refill<T>(&self, store: &mut Store<T>, timeout: Duration) {
        self.0.store(ticks(timeout), Ordering::Relaxed);
        store.set_epoch_deadline(1);
    }
}
