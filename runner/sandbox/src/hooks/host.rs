//! One hook's sandbox and the host side of `reqflo:plugin/request@0.2.0`:
//! the outgoing request as a resource, and what the host does with a handle.
//!
//! A hook holds handles, never values: every function here that takes a
//! secret returns a new handle, a view with `[secret NAME]` in place of the
//! value, or an error that names no value.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use zeroize::Zeroizing;

use super::oauth;
use super::state::{ClientCredentialsArg, HookContext, HookSecret, Outgoing};
use crate::guest::{Guest, Limited, Limiter, first_line};
use crate::secrets::Binding;
use crate::wasi::add_wasi_without_sockets;
use reqflo_core::message::BuiltRequest;

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "request-hook",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "reqflo:plugin/secrets.secret": crate::hooks::state::HookSecret,
            "reqflo:plugin/request.outgoing": crate::hooks::state::Outgoing,
        },
    });
}

use bindings::RequestHookPre;
use bindings::reqflo::plugin::request::{ClientAuth, ClientCredentials, Error as HookError};

/// A hook may hold this many live secret handles at once; more is a fault.
const MAX_HANDLES: usize = 256;
/// ... and derive at most this many secrets (HMACs, tokens) in one call: each
/// one is taught to the redactor for the rest of the run.
const MAX_DERIVED_PER_CALL: usize = 64;
/// Guest-created secrets may hold at most this many bytes in all.
const MAX_HANDLE_BYTES: usize = 1 << 20;

/// Everything a hook's store holds.
pub struct HookState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limiter,
    handles: usize,
    handle_bytes: usize,
    derived: usize,
    pub(super) context: Arc<HookContext>,
    /// A denial the step must fail on, whatever the hook makes of it.
    refusal: Option<String>,
}

impl WasiView for HookState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HookState {
    fn count_handle(&mut self, bytes: usize) -> wasmtime::Result<()> {
        if self.handles >= MAX_HANDLES {
            return Err(wasmtime::Error::msg(format!(
                "held more than {MAX_HANDLES} secret handles at once"
            )));
        }
        if self.handle_bytes + bytes > MAX_HANDLE_BYTES {
            return Err(wasmtime::Error::msg(format!(
                "its secrets exceed {} KiB in all",
                MAX_HANDLE_BYTES >> 10
            )));
        }
        self.handles += 1;
        self.handle_bytes += bytes;
        Ok(())
    }

    /// Hand a derived secret to the guest, teaching the redactor first.
    fn derive(&mut self, secret: HookSecret) -> wasmtime::Result<Resource<HookSecret>> {
        if self.derived >= MAX_DERIVED_PER_CALL {
            return Err(wasmtime::Error::msg(format!(
                "derived more than {MAX_DERIVED_PER_CALL} secrets in one call"
            )));
        }
        self.derived += 1;
        self.count_handle(secret.value.len())?;
        self.context
            .redactor
            .add_derived(&secret.label, &secret.value)
            .map_err(wasmtime::Error::msg)?;
        Ok(self.table.push(secret)?)
    }

    /// A copy of the secret behind a guest's borrowed handle. A handle of the
    /// wrong kind is a fault (the guest forged it).
    pub(super) fn secret(&self, handle: &Resource<HookSecret>) -> wasmtime::Result<HookSecret> {
        let secret = self
            .table
            .get(handle)
            .map_err(|_| wasmtime::Error::msg("used a secret handle that is not its own"))?;
        Ok(HookSecret {
            value: secret.value.clone(),
            label: secret.label.clone(),
            binding: secret.binding.clone(),
            guest_made: secret.guest_made,
        })
    }

    pub(super) fn outgoing(
        &mut self,
        handle: &Resource<Outgoing>,
    ) -> wasmtime::Result<&mut BuiltRequest> {
        Ok(&mut self
            .table
            .get_mut(handle)
            .map_err(|_| wasmtime::Error::msg("used a request handle that is not its own"))?
            .request)
    }

    /// Deny, and remember it so the step fails even if the hook carries on.
    pub(super) fn deny(&mut self, why: String) -> HookError {
        if self.refusal.is_none() {
            self.refusal = Some(why.clone());
        }
        HookError::Denied(why)
    }
}

impl bindings::reqflo::plugin::secrets::HostSecret for HookState {
    async fn new(&mut self, value: Vec<u8>) -> wasmtime::Result<Resource<HookSecret>> {
        let value = Zeroizing::new(value);
        self.count_handle(value.len())?;
        Ok(self.table.push(HookSecret {
            value,
            label: format!("{} secret", self.context.spec.name),
            // Made by the hook itself: bound by the hook's own entry.
            binding: Binding {
                hosts: None,
                allow_http: self.context.spec.allow_http,
            },
            guest_made: true,
        })?)
    }

    async fn drop(&mut self, secret: Resource<HookSecret>) -> wasmtime::Result<()> {
        let secret = self.table.delete(secret)?;
        self.handles = self.handles.saturating_sub(1);
        self.handle_bytes = self.handle_bytes.saturating_sub(secret.value.len());
        Ok(())
    }
}

impl bindings::reqflo::plugin::secrets::Host for HookState {}

impl Limited for HookState {
    fn limiter(&mut self) -> &mut Limiter {
        &mut self.limits
    }

    fn limits(&self) -> &Limiter {
        &self.limits
    }
}

impl bindings::reqflo::plugin::request::Host for HookState {
    async fn hmac_sha256(
        &mut self,
        key: Resource<HookSecret>,
        message: Vec<u8>,
    ) -> wasmtime::Result<Result<Resource<HookSecret>, HookError>> {
        let key = self.secret(&key)?;
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.value) else {
            return Ok(Err(HookError::Invalid("the key cannot be used".into())));
        };
        mac.update(&message);
        let digest = Zeroizing::new(mac.finalize().into_bytes().to_vec());
        let derived = HookSecret {
            value: digest,
            label: format!("hmac({})", key.label),
            // Derived from the key: it may go only where the key may.
            binding: key.binding,
            guest_made: false,
        };
        Ok(Ok(self.derive(derived)?))
    }

    async fn oauth2_client_credentials(
        &mut self,
        grant: ClientCredentials,
        client_secret: Resource<HookSecret>,
    ) -> wasmtime::Result<Result<Resource<HookSecret>, HookError>> {
        let secret = self.secret(&client_secret)?;
        let context = Arc::clone(&self.context);
        let grant = ClientCredentialsArg {
            token_url: grant.token_url,
            client_id: grant.client_id,
            scope: grant.scope,
            extra: grant.extra,
            basic: matches!(grant.auth, ClientAuth::Basic),
        };
        match oauth::client_credentials(&context, &grant, &secret).await {
            Ok(token) => Ok(Ok(self.derive(token)?)),
            Err(oauth::Failure::Denied(why)) => Ok(Err(self.deny(why))),
            Err(oauth::Failure::Refused(why)) => Ok(Err(HookError::Denied(why))),
            Err(oauth::Failure::Invalid(why)) => Ok(Err(HookError::Invalid(why))),
            Err(oauth::Failure::Unavailable(why)) => Ok(Err(HookError::Unavailable(why))),
        }
    }
}

/// The linker for hooks: WASI without sockets, filesystem or environment
/// (the context is empty), no `wasi:http`, and the `reqflo:plugin` imports.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<HookState>> {
    let mut linker = Linker::new(engine);
    add_wasi_without_sockets(&mut linker)?;
    bindings::RequestHook::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// A hook compiled and pre-linked once.
#[derive(Clone)]
pub struct CompiledHook {
    pre: RequestHookPre<HookState>,
    engine: Engine,
}

impl CompiledHook {
    /// Pre-link; fails when the component imports something hooks do not get.
    pub fn new(
        engine: &Engine,
        linker: &Linker<HookState>,
        component: &wasmtime::component::Component,
    ) -> wasmtime::Result<CompiledHook> {
        let pre = RequestHookPre::new(linker.instantiate_pre(component)?)?;
        Ok(CompiledHook {
            pre,
            engine: engine.clone(),
        })
    }
}

/// Why a hook call failed.
pub enum CallFailure {
    /// The hook returned an error.
    Hook(String),
    /// The host refused something the hook asked for.
    Denied(String),
    /// The hook misbehaved; the instance is gone.
    Fault(String),
}

/// A running hook: its own store and instance.
pub struct HookInstance {
    guest: Guest<HookState>,
    bindings: bindings::RequestHook,
}

impl HookInstance {
    /// Instantiate a hook in a fresh sandbox with no ambient authority.
    pub async fn start(hook: &CompiledHook, context: Arc<HookContext>) -> Result<Self, String> {
        let stderr = Guest::<HookState>::stderr_pipe();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone());
        let timeout = context.spec.timeout;
        let redactor = Arc::clone(&context.redactor);
        let state = HookState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: Limiter::new(context.spec.memory_bytes),
            handles: 0,
            handle_bytes: 0,
            derived: 0,
            context,
            refusal: None,
        };
        let mut guest = Guest::new(&hook.engine, state, stderr, timeout, redactor);
        let bindings = hook
            .pre
            .instantiate_async(&mut guest.store)
            .await
            .map_err(|e| first_line(&e))?;
        Ok(HookInstance { guest, bindings })
    }

    /// Call `configure`.
    pub async fn configure(&mut self, config: &[(String, String)]) -> Result<(), CallFailure> {
        let timeout = self.guest.begin();
        let hook = self.bindings.reqflo_plugin_hook();
        let call = hook.call_configure(&mut self.guest.store, config);
        let outcome = tokio::time::timeout(timeout, call).await;
        match self.guest.settle(outcome).map_err(CallFailure::Fault)? {
            Ok(()) => Ok(()),
            Err(e) => Err(CallFailure::Hook(describe(&e))),
        }
    }

    /// Call `on-request` with `request` and the granted secrets; the request
    /// comes back (edited) unless the call failed.
    pub async fn on_request(
        &mut self,
        request: BuiltRequest,
        granted: Vec<(String, HookSecret)>,
    ) -> (Option<BuiltRequest>, Result<(), CallFailure>) {
        let timeout = self.guest.begin();
        let state = self.guest.store.data_mut();
        state.derived = 0;
        state.refusal = None;
        let outgoing = match state.table.push(Outgoing { request }) {
            Ok(r) => r,
            Err(e) => return (None, Err(CallFailure::Fault(e.to_string()))),
        };
        let mut handles = Vec::with_capacity(granted.len());
        let mut pushed = Vec::with_capacity(granted.len());
        for (name, secret) in granted {
            match state.table.push(secret) {
                Ok(handle) => {
                    handles.push((name, Resource::<HookSecret>::new_borrow(handle.rep())));
                    pushed.push(handle);
                }
                Err(e) => return (None, Err(CallFailure::Fault(e.to_string()))),
            }
        }
        let borrowed = Resource::<Outgoing>::new_borrow(outgoing.rep());
        let hook = self.bindings.reqflo_plugin_hook();
        let call = hook.call_on_request(&mut self.guest.store, borrowed, &handles);
        let outcome = tokio::time::timeout(timeout, call).await;
        let state = self.guest.store.data_mut();
        // The granted secrets leave the table (zeroed) whatever happened.
        for handle in pushed {
            let _ = state.table.delete(handle);
        }
        let request = state.table.delete(outgoing).ok().map(|o| o.request);
        let refusal = state.refusal.take();
        let result = match (refusal, self.guest.settle(outcome)) {
            (Some(refusal), _) => Err(CallFailure::Denied(refusal)),
            (None, Ok(Ok(()))) => Ok(()),
            (None, Ok(Err(e))) => Err(CallFailure::Hook(describe(&e))),
            (None, Err(fault)) => Err(CallFailure::Fault(fault)),
        };
        (request, result)
    }
}

/// The WIT error as a user reads it.
fn describe(e: &HookError) -> String {
    match e {
        HookError::Denied(m) => format!("denied: {m}"),
        HookError::Invalid(m) => format!("invalid: {m}"),
        HookError::Unavailable(m) => format!("unavailable: {m}"),
    }
}
