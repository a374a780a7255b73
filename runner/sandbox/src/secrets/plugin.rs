//! One plugin's sandbox: its store, limits, grants and calls.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use zeroize::Zeroizing;

use super::net::{NetHooks, NetPolicy};
use crate::guest::{Guest, Limited, Limiter, first_line};
use crate::wasi::add_wasi_without_sockets;
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

/// Everything a plugin's store holds: its WASI context, resources and limits.
pub struct PluginState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    net: NetHooks,
    table: ResourceTable,
    limits: Limiter,
    handles: usize,
    handle_bytes: usize,
    /// The folders its granted files are mirrored in, removed with it.
    _mirrors: Vec<tempfile::TempDir>,
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

impl Limited for PluginState {
    fn limiter(&mut self) -> &mut Limiter {
        &mut self.limits
    }

    fn limits(&self) -> &Limiter {
        &self.limits
    }
}

impl PluginState {
    /// A handle left the table: it no longer counts against the limits.
    fn forget(&mut self, secret: &GuestSecret) {
        self.handles = self.handles.saturating_sub(1);
        self.handle_bytes = self.handle_bytes.saturating_sub(secret.0.len());
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
    /// Files it may read (`grants.files`): each one's path and bytes. The
    /// guest sees each at its own path, read-only, and nothing beside it.
    pub files: Vec<(std::path::PathBuf, Vec<u8>)>,
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
            files: Vec::new(),
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
    guest: Guest<PluginState>,
    bindings: bindings::SecretProvider,
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
        let mirrors = mirror_files(&mut wasi, &sandbox.files)?;
        let stderr = Guest::<PluginState>::stderr_pipe();
        wasi.stderr(stderr.clone());
        let state = PluginState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            net: NetHooks::new(sandbox.net),
            table: ResourceTable::new(),
            limits: Limiter::new(sandbox.memory_bytes),
            handles: 0,
            handle_bytes: 0,
            _mirrors: mirrors,
        };
        let mut guest = Guest::new(
            &plugin.engine,
            state,
            stderr,
            sandbox.timeout,
            sandbox.redactor,
        );
        let bindings = plugin
            .pre
            .instantiate_async(&mut guest.store)
            .await
            .map_err(|e| first_line(&e))?;
        Ok(PluginInstance { guest, bindings })
    }

    /// Call `configure`.
    pub async fn configure(&mut self, config: &[(String, String)]) -> Result<(), CallError> {
        let timeout = self.guest.begin();
        let provider = self.bindings.reqflo_plugin_provider();
        let call = provider.call_configure(&mut self.guest.store, config);
        let outcome = tokio::time::timeout(timeout, call).await;
        self.refused_network()?;
        match self.guest.settle(outcome).map_err(CallError::Fault)? {
            Ok(()) => Ok(()),
            Err(e) => Err(CallError::Provider(e.into())),
        }
    }

    /// Call `resolve` and take the returned handle's value out of the sandbox.
    pub async fn resolve(&mut self, reference: &str) -> Result<SecretValue, CallError> {
        let timeout = self.guest.begin();
        let provider = self.bindings.reqflo_plugin_provider();
        let call = provider.call_resolve(&mut self.guest.store, reference);
        let outcome = tokio::time::timeout(timeout, call).await;
        self.refused_network()?;
        let handle = match self.guest.settle(outcome).map_err(CallError::Fault)? {
            Ok(handle) => handle,
            Err(e) => return Err(CallError::Provider(e.into())),
        };
        let state = self.guest.store.data_mut();
        let secret = state.table.delete(handle).map_err(|_| {
            CallError::Fault("plugin returned a secret handle that is not its own".into())
        })?;
        state.forget(&secret);
        SecretValue::from_bytes(secret.0).map_err(CallError::Fault)
    }

    /// A refused destination fails the call, whatever the plugin made of the
    /// refusal: the user learns which host it tried.
    fn refused_network(&mut self) -> Result<(), CallError> {
        match self.guest.store.data_mut().net.take_refusal() {
            Some(why) => Err(CallError::Provider(ProviderFailure::Denied(why))),
            None => Ok(()),
        }
    }
}

/// Preopen each granted file's folder, as the guest sees it, read-only: a
/// fresh folder holding copies of just the granted files in it, so that a
/// file beside a granted one (`~/.ssh` beside `~/.aws`) stays out of reach.
fn mirror_files(
    wasi: &mut WasiCtxBuilder,
    files: &[(std::path::PathBuf, Vec<u8>)],
) -> Result<Vec<tempfile::TempDir>, String> {
    let mut folders: Vec<(String, tempfile::TempDir)> = Vec::new();
    for (path, bytes) in files {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let guest = parent.to_string_lossy().into_owned();
        let index = match folders.iter().position(|(g, _)| *g == guest) {
            Some(index) => index,
            None => {
                let dir = tempfile::tempdir()
                    .map_err(|e| format!("cannot make a folder for its granted files: {e}"))?;
                folders.push((guest, dir));
                folders.len() - 1
            }
        };
        std::fs::write(folders[index].1.path().join(name), bytes)
            .map_err(|e| format!("cannot copy a granted file: {e}"))?;
    }
    for (guest, dir) in &folders {
        wasi.preopened_dir(dir.path(), guest, wasmtime_wasi::FsPerms::ReadOnly)
            .map_err(|e| format!("cannot grant the files in {guest}: {e}"))?;
    }
    Ok(folders.into_iter().map(|(_, dir)| dir).collect())
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
