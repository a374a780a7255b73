//! One plugin's sandbox: its store, limits, grants and calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use wasmtime::component::HasData;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{
    Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use zeroize::Zeroizing;

use super::host::{EPOCH_TICK, first_line};
use super::net::{NetHooks, NetPolicy};
use reqflo_core::duration::human;
use reqflo_core::redact::Redactor;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/0.1.0",
        world: "secret-provider",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "reqflo:plugin/secrets.secret": super::GuestSecret },
    });
}

use bindings::SecretProviderPre;
use bindings::exports::reqflo::plugin::provider::Error as ProviderError;

/// A secret a guest handed over, held in the plugin's resource table until the
/// host takes it. Guests can create and drop these, never read them.
pub struct GuestSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for GuestSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestSecret([redacted])")
    }
}

/// One secret may hold this many bytes; more is a fault. Keys, tokens and
/// certificates fit, and the redactor learns every encoded form of each value,
/// so a plugin must not make the host hold (and search for) megabytes of one.
const MAX_SECRET_BYTES: usize = 64 << 10;
/// A plugin may hold this many live secret handles; more is a fault.
const MAX_HANDLES: usize = 1024;
/// ... holding at most this many bytes in all: handles live in host memory,
/// outside the plugin's own memory cap.
const MAX_HANDLE_BYTES: usize = 16 << 20;
/// Plugin stderr kept for error messages (panics print there).
const STDERR_BYTES: usize = 16 * 1024;

/// Everything a plugin's store holds: its WASI context, resources and limits.
pub struct PluginState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    net: NetHooks,
    table: ResourceTable,
    limits: Limiter,
    handles: usize,
    handle_bytes: usize,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.net,
        }
    }
}

impl bindings::reqflo::plugin::secrets::HostSecret for PluginState {
    async fn new(&mut self, value: Vec<u8>) -> wasmtime::Result<Resource<GuestSecret>> {
        let value = Zeroizing::new(value);
        if value.len() > MAX_SECRET_BYTES {
            return Err(wasmtime::Error::msg(format!(
                "it made a secret of {} bytes; a secret may hold at most {} KiB",
                value.len(),
                MAX_SECRET_BYTES >> 10
            )));
        }
        if self.handles >= MAX_HANDLES {
            return Err(wasmtime::Error::msg(format!(
                "it held more than {MAX_HANDLES} secrets at once"
            )));
        }
        if self.handle_bytes + value.len() > MAX_HANDLE_BYTES {
            return Err(wasmtime::Error::msg(format!(
                "its secrets exceed {} MiB in all",
                MAX_HANDLE_BYTES >> 20
            )));
        }
        self.handles += 1;
        self.handle_bytes += value.len();
        Ok(self.table.push(GuestSecret(value))?)
    }

    async fn drop(&mut self, secret: Resource<GuestSecret>) -> wasmtime::Result<()> {
        let secret = self.table.delete(secret)?;
        self.forget(&secret);
        Ok(())
    }
}

impl bindings::reqflo::plugin::secrets::Host for PluginState {}

impl PluginState {
    /// A handle left the table: it no longer counts against the limits.
    fn forget(&mut self, secret: &GuestSecret) {
        self.handles = self.handles.saturating_sub(1);
        self.handle_bytes = self.handle_bytes.saturating_sub(secret.0.len());
    }
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

    /// Whether a memory growth was refused: a trap then means "out of memory".
    pub(crate) fn refused_memory(&self) -> bool {
        self.refused_memory
    }

    /// The memory cap, in bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.memory_bytes
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

/// Link WASI without sockets (with an empty context by default), `wasi:http`
/// (every request checked by [`NetHooks`]) and the host's secret resource.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    add_wasi_without_sockets(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::reqflo::plugin::secrets::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// `wasi:io` works on the resource table alone.
pub(crate) struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// Every WASI p2 interface a plugin may import, except `wasi:sockets`: network
/// access goes only through `wasi:http`, where the host checks each request.
/// A component importing sockets is refused when it is loaded.
pub(crate) fn add_wasi_without_sockets<T: WasiView + 'static>(
    l: &mut Linker<T>,
) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi_io::bindings::wasi::io;

    io::error::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    Ok(())
}

/// A component compiled and pre-linked once; instantiating it is cheap.
#[derive(Clone)]
pub struct CompiledPlugin {
    pre: SecretProviderPre<PluginState>,
    engine: Engine,
}

impl CompiledPlugin {
    /// Pre-link `component`; fails when its imports are not ones reqflo provides.
    pub fn new(
        engine: &Engine,
        linker: &Linker<PluginState>,
        component: &wasmtime::component::Component,
    ) -> wasmtime::Result<CompiledPlugin> {
        let pre = SecretProviderPre::new(linker.instantiate_pre(component)?)?;
        Ok(CompiledPlugin {
            pre,
            engine: engine.clone(),
        })
    }
}

/// What a sandbox may see: the only authority a plugin gets.
pub struct Sandbox {
    /// Environment variables visible through `wasi:cli/environment`.
    pub env: Vec<(String, String)>,
    /// A file readable as stdin (the file provider's secret file).
    pub stdin: Option<std::fs::File>,
    /// Linear memory cap in bytes.
    pub memory_bytes: usize,
    /// Budget of one call, CPU and wall clock.
    pub timeout: Duration,
    /// Hosts it may reach over `wasi:http`; `None` is no network.
    pub net: Option<std::sync::Arc<NetPolicy>>,
    /// The run's redactor: what the plugin prints is shown through it.
    pub redactor: Arc<Redactor>,
}

impl Sandbox {
    /// No authority at all (no variables, no stdin, no network) and no
    /// budget yet: the caller grants what the plugin's entry says.
    pub fn new(redactor: Arc<Redactor>) -> Sandbox {
        Sandbox {
            env: Vec::new(),
            stdin: None,
            memory_bytes: 0,
            timeout: Duration::ZERO,
            net: None,
            redactor,
        }
    }
}

/// Why a call into a plugin failed.
#[derive(Debug)]
pub enum CallError {
    /// The plugin answered with one of the WIT errors.
    Provider(ProviderFailure),
    /// The plugin misbehaved (trap, timeout, memory); the instance is gone.
    Fault(String),
}

/// The WIT `error` variant, as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderFailure {
    /// Nothing under this reference.
    NotFound(String),
    /// Exists, but not readable by this provider.
    Denied(String),
    /// Malformed reference.
    InvalidReference(String),
    /// The backing store is unreachable.
    Unavailable(String),
}

impl From<ProviderError> for ProviderFailure {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::NotFound(m) => ProviderFailure::NotFound(m),
            ProviderError::Denied(m) => ProviderFailure::Denied(m),
            ProviderError::InvalidReference(m) => ProviderFailure::InvalidReference(m),
            ProviderError::Unavailable(m) => ProviderFailure::Unavailable(m),
        }
    }
}

/// A running plugin: its own store and instance.
pub struct PluginInstance {
    store: Store<PluginState>,
    bindings: bindings::SecretProvider,
    stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
    timeout: Duration,
    budget: CpuBudget,
    redactor: Arc<Redactor>,
}

impl PluginInstance {
    /// Instantiate `plugin` in a fresh sandbox with exactly `sandbox`'s authority.
    pub async fn start(plugin: &CompiledPlugin, sandbox: Sandbox) -> Result<Self, String> {
        let mut wasi = WasiCtxBuilder::new();
        for (key, value) in &sandbox.env {
            wasi.env(key, value);
        }
        if let Some(file) = sandbox.stdin {
            wasi.stdin(wasmtime_wasi::cli::InputFile::new(file));
        }
        let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(STDERR_BYTES);
        wasi.stderr(stderr.clone());
        let state = PluginState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            net: NetHooks::new(sandbox.net),
            table: ResourceTable::new(),
            limits: Limiter::new(sandbox.memory_bytes),
            handles: 0,
            handle_bytes: 0,
        };
        let mut store = Store::new(&plugin.engine, state);
        store.limiter(|s| &mut s.limits);
        let budget = CpuBudget::install(&mut store);
        budget.refill(&mut store, sandbox.timeout);
        let bindings = plugin
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| first_line(&e))?;
        Ok(PluginInstance {
            store,
            bindings,
            stderr,
            timeout: sandbox.timeout,
            budget,
            redactor: sandbox.redactor,
        })
    }

    /// Call `configure`.
    pub async fn configure(&mut self, config: &[(String, String)]) -> Result<(), CallError> {
        self.budget.refill(&mut self.store, self.timeout);
        let provider = self.bindings.reqflo_plugin_provider();
        let call = provider.call_configure(&mut self.store, config);
        let outcome = tokio::time::timeout(self.timeout, call).await;
        self.refused_network()?;
        match outcome {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(CallError::Provider(e.into())),
            Ok(Err(trap)) => Err(CallError::Fault(self.explain(&trap))),
            Err(_) => Err(CallError::Fault(self.timed_out())),
        }
    }

    /// Call `resolve` and take the returned handle's value out of the sandbox.
    pub async fn resolve(&mut self, reference: &str) -> Result<SecretValue, CallError> {
        self.budget.refill(&mut self.store, self.timeout);
        let provider = self.bindings.reqflo_plugin_provider();
        let call = provider.call_resolve(&mut self.store, reference);
        let outcome = tokio::time::timeout(self.timeout, call).await;
        self.refused_network()?;
        let handle = match outcome {
            Ok(Ok(Ok(handle))) => handle,
            Ok(Ok(Err(e))) => return Err(CallError::Provider(e.into())),
            Ok(Err(trap)) => return Err(CallError::Fault(self.explain(&trap))),
            Err(_) => return Err(CallError::Fault(self.timed_out())),
        };
        let state = self.store.data_mut();
        let secret = state.table.delete(handle).map_err(|_| {
            CallError::Fault("plugin returned a secret handle that is not its own".into())
        })?;
        state.forget(&secret);
        SecretValue::from_bytes(secret.0).map_err(CallError::Fault)
    }

    /// A refused destination fails the call, whatever the plugin made of the
    /// refusal: the user learns which host it tried.
    fn refused_network(&mut self) -> Result<(), CallError> {
        match self.store.data_mut().net.take_refusal() {
            Some(why) => Err(CallError::Provider(ProviderFailure::Denied(why))),
            None => Ok(()),
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
        let cause = if self.store.data().limits.refused_memory {
            let limit = self.store.data().limits.memory_bytes >> 20;
            format!("exceeded its memory limit of {limit} MiB")
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

/// A resolved value fresh out of a sandbox, checked to be usable text.
pub struct SecretValue(pub SecretString);

impl SecretValue {
    fn from_bytes(mut bytes: Zeroizing<Vec<u8>>) -> Result<SecretValue, String> {
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(SecretValue(SecretString::from(text))),
            Err(e) => {
                let mut raw = e.into_bytes();
                zeroize::Zeroize::zeroize(&mut raw);
                Err("returned a value that is not UTF-8 text".into())
            }
        }
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
pub(crate) struct CpuBudget(Arc<AtomicU64>);

impl CpuBudget {
    /// Install the budget's callback on `store`; it starts empty.
    pub(crate) fn install<T: 'static>(store: &mut Store<T>) -> CpuBudget {
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
    pub(crate) fn mostly_spent(&self, timeout: Duration) -> bool {
        self.0.load(Ordering::Relaxed) * 2 <= ticks(timeout)
    }

    /// Give the next call (or instantiation) `timeout` worth of ticks.
    pub(crate) fn refill<T>(&self, store: &mut Store<T>, timeout: Duration) {
        self.0.store(ticks(timeout), Ordering::Relaxed);
        store.set_epoch_deadline(1);
    }
}
