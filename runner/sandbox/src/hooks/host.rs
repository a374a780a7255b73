//! One hook's sandbox and the host side of `reqflo:plugin/request@0.2.0`:
//! the outgoing request as a resource, and what the host does with a handle.
//!
//! A hook holds handles, never values: every function here that takes a
//! secret returns a new handle, a view with `[secret NAME]` in place of the
//! value, or an error that names no value.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use sha2::Sha256;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use zeroize::Zeroizing;

use super::oauth::{self, TokenCache};
use crate::secrets::Binding;
use crate::secrets::host::first_line;
use crate::secrets::plugin::{CpuBudget, Limiter, add_wasi_without_sockets};
use reqflo_core::duration::human;
use reqflo_core::message::{BuiltRequest, may_send_to};
use reqflo_core::plugins::HookSpec;
use reqflo_core::redact::Redactor;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "request-hook",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "reqflo:plugin/secrets.secret": super::HookSecret,
            "reqflo:plugin/request.outgoing": super::Outgoing,
        },
    });
}

use bindings::RequestHookPre;
use bindings::reqflo::plugin::request::{
    ClientAuth, ClientCredentials, Encoding, Error as HookError, HostOutgoing,
};

/// A hook may hold this many live secret handles at once; more is a fault.
const MAX_HANDLES: usize = 256;
/// ... and derive at most this many secrets (HMACs, tokens) in one call: each
/// one is taught to the redactor for the rest of the run.
const MAX_DERIVED_PER_CALL: usize = 64;
/// Guest-created secrets may hold at most this many bytes in all.
const MAX_HANDLE_BYTES: usize = 1 << 20;
/// Hook stderr kept for error messages (panics print there).
const STDERR_BYTES: usize = 16 * 1024;

/// A secret as a hook holds it: bytes in host memory, a name for views and
/// messages, and the destinations it may be sent to.
pub struct HookSecret {
    value: Zeroizing<Vec<u8>>,
    label: String,
    binding: Binding,
    /// Created by the guest itself: counts against its handle budget.
    guest_made: bool,
}

impl HookSecret {
    /// A secret the host hands to a hook (granted or derived).
    pub fn granted(value: &[u8], label: &str, binding: Binding) -> HookSecret {
        HookSecret {
            value: Zeroizing::new(value.to_vec()),
            label: label.to_string(),
            binding,
            guest_made: false,
        }
    }
}

impl std::fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HookSecret({}, [redacted])", self.label)
    }
}

/// The request a hook is editing; it goes back to the step afterwards.
pub struct Outgoing {
    /// The request, as built from the step's template.
    pub request: BuiltRequest,
}

/// What a hook's host functions need beyond its store.
pub struct HookContext {
    /// The hook's configuration (its name, grants, budget).
    pub spec: HookSpec,
    /// The client for token endpoints: no redirects, no cookies, no proxy.
    pub client: reqwest::Client,
    /// Access tokens of the run, shared by every hook.
    pub tokens: Arc<TokenCache>,
    /// The run's redactor: learns every derived secret, hides what hooks print.
    pub redactor: Arc<Redactor>,
}

/// Everything a hook's store holds.
pub struct HookState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limiter,
    handles: usize,
    handle_bytes: usize,
    derived: usize,
    context: Arc<HookContext>,
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
        self.context.redactor.add(&secret.label, &secret.value);
        Ok(self.table.push(secret)?)
    }

    /// A copy of the secret behind a guest's borrowed handle. A handle of the
    /// wrong kind is a fault (the guest forged it).
    fn secret(&self, handle: &Resource<HookSecret>) -> wasmtime::Result<HookSecret> {
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

    fn outgoing(&mut self, handle: &Resource<Outgoing>) -> wasmtime::Result<&mut BuiltRequest> {
        Ok(&mut self
            .table
            .get_mut(handle)
            .map_err(|_| wasmtime::Error::msg("used a request handle that is not its own"))?
            .request)
    }

    /// Deny, and remember it so the step fails even if the hook carries on.
    fn deny(&mut self, why: String) -> HookError {
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

/// Headers a hook may not set: the destination and the framing are the host's.
fn reserved(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host" | "content-length" | "transfer-encoding" | "connection" | "te" | "upgrade"
    )
}

/// A redacted view of text that carries a secret, with `[secret NAME]`
/// markers; when the redactor recognises nothing, the whole text is hidden.
fn view(redactor: &Redactor, text: &str, labels: &[String]) -> String {
    let redacted = redactor.redact(text);
    if redacted == text {
        return format!("[secret {}]", labels.join(", "));
    }
    redacted.replace("[redacted:", "[secret ")
}

fn header_name(name: &str) -> Result<HeaderName, HookError> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| HookError::Invalid(format!("`{name}` is not a valid header name")))?;
    if reserved(&parsed) {
        return Err(HookError::Invalid(format!(
            "hooks may not set the `{parsed}` header; reqflo sets it"
        )));
    }
    Ok(parsed)
}

fn remove(request: &mut BuiltRequest, name: &HeaderName) {
    let mut i = 0;
    while i < request.headers.len() {
        if request.headers[i].0 == *name {
            request.headers.remove(i);
            if i < request.header_secrets.len() {
                request.header_secrets.remove(i);
            }
        } else {
            i += 1;
        }
    }
}

fn encode(value: &[u8], encoding: Encoding) -> Option<Zeroizing<String>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut out = Zeroizing::new(String::new());
    match encoding {
        Encoding::Raw => out.push_str(std::str::from_utf8(value).ok()?),
        Encoding::Hex => out.push_str(&Zeroizing::new(hex::encode(value))),
        Encoding::Base64 => STANDARD.encode_string(value, &mut out),
        Encoding::Base64url => URL_SAFE_NO_PAD.encode_string(value, &mut out),
    }
    Some(out)
}

/// `scheme`, host and port: what a hook may not change once a secret is in.
fn destination(url: &Url) -> (String, String, Option<u16>) {
    (
        url.scheme().to_string(),
        url.host_str().unwrap_or("").to_ascii_lowercase(),
        url.port_or_known_default(),
    )
}

impl HostOutgoing for HookState {
    async fn method(&mut self, this: Resource<Outgoing>) -> wasmtime::Result<String> {
        Ok(self.outgoing(&this)?.method.to_string())
    }

    async fn url(&mut self, this: Resource<Outgoing>) -> wasmtime::Result<String> {
        let redactor = Arc::clone(&self.context.redactor);
        let request = self.outgoing(&this)?;
        let text = request.url.as_str();
        if request.url_secrets.is_empty() && !redactor.finds(text.as_bytes()) {
            return Ok(text.to_string());
        }
        let labels = if request.url_secrets.is_empty() {
            vec!["unknown".to_string()]
        } else {
            request.url_secrets.clone()
        };
        Ok(view(&redactor, text, &labels))
    }

    async fn headers(
        &mut self,
        this: Resource<Outgoing>,
    ) -> wasmtime::Result<Vec<(String, String)>> {
        let redactor = Arc::clone(&self.context.redactor);
        let request = self.outgoing(&this)?;
        let mut out = Vec::with_capacity(request.headers.len());
        for (i, (name, value)) in request.headers.iter().enumerate() {
            let labels = request.header_secrets.get(i).cloned().unwrap_or_default();
            let shown = if !labels.is_empty() {
                format!("[secret {}]", labels.join(", "))
            } else if redactor.finds(value.as_bytes()) {
                view(&redactor, value, &["unknown".to_string()])
            } else {
                value.to_string()
            };
            out.push((name.to_string(), shown));
        }
        Ok(out)
    }

    async fn body(
        &mut self,
        this: Resource<Outgoing>,
    ) -> wasmtime::Result<Result<Vec<u8>, HookError>> {
        let redactor = Arc::clone(&self.context.redactor);
        let request = self.outgoing(&this)?;
        let body = request.body.as_deref().map(Vec::as_slice).unwrap_or(&[]);
        if request.body_secret || redactor.finds(body) {
            return Ok(Err(HookError::Denied(
                "the body carries a secret; hooks cannot read it".into(),
            )));
        }
        Ok(Ok(body.to_vec()))
    }

    async fn set_header(
        &mut self,
        this: Resource<Outgoing>,
        name: String,
        value: String,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let name = match header_name(&name) {
            Ok(name) => name,
            Err(e) => return Ok(Err(e)),
        };
        if HeaderValue::from_str(&value).is_err() {
            return Ok(Err(HookError::Invalid(format!(
                "the value for header `{name}` is not valid in HTTP"
            ))));
        }
        let request = self.outgoing(&this)?;
        remove(request, &name);
        request.headers.push((name, Zeroizing::new(value)));
        request.header_secrets.push(Vec::new());
        Ok(Ok(()))
    }

    async fn remove_header(
        &mut self,
        this: Resource<Outgoing>,
        name: String,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let name = match header_name(&name) {
            Ok(name) => name,
            Err(e) => return Ok(Err(e)),
        };
        remove(self.outgoing(&this)?, &name);
        Ok(Ok(()))
    }

    async fn set_secret_header(
        &mut self,
        this: Resource<Outgoing>,
        name: String,
        template: String,
        value: Resource<HookSecret>,
        encoding: Encoding,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let secret = self.secret(&value)?;
        let name = match header_name(&name) {
            Ok(name) => name,
            Err(e) => return Ok(Err(e)),
        };
        if template.matches("{secret}").count() != 1 {
            return Ok(Err(HookError::Invalid(format!(
                "the template for header `{name}` must contain `{{secret}}` exactly once"
            ))));
        }
        let url = self.outgoing(&this)?.url.clone();
        if let Some(allowed) = &secret.binding.hosts
            && !may_send_to(allowed, &url)
        {
            let why = format!(
                "secret `{}` may only be sent to {}, not to {}",
                secret.label,
                allowed.join(", "),
                reqflo_core::message::destination(&url)
            );
            return Ok(Err(self.deny(why)));
        }
        let Some(encoded) = encode(&secret.value, encoding) else {
            return Ok(Err(HookError::Invalid(format!(
                "secret `{}` is not text; write it as hex or base64",
                secret.label
            ))));
        };
        let (before, after) = template.split_once("{secret}").unwrap_or((&template, ""));
        let mut text = Zeroizing::new(String::with_capacity(template.len() + encoded.len()));
        text.push_str(before);
        text.push_str(&encoded);
        text.push_str(after);
        if HeaderValue::from_str(&text).is_err() {
            return Ok(Err(HookError::Invalid(format!(
                "header `{name}` would not be valid in HTTP with secret `{}` written {}",
                secret.label,
                match encoding {
                    Encoding::Raw => "raw",
                    Encoding::Hex => "as hex",
                    Encoding::Base64 => "as base64",
                    Encoding::Base64url => "as base64url",
                }
            ))));
        }
        // Whatever goes on the wire is known to the redactor first. Guest-made
        // values are taught here: the host learns of them only now.
        if secret.value.len() >= crate::secrets::MIN_SECRET_BYTES {
            self.context.redactor.add(&secret.label, &secret.value);
        }
        let request = self.outgoing(&this)?;
        remove(request, &name);
        request.headers.push((name, text));
        request.header_secrets.push(vec![secret.label.clone()]);
        request.attached.push((secret.label, secret.binding));
        Ok(Ok(()))
    }

    async fn set_url(
        &mut self,
        this: Resource<Outgoing>,
        url: String,
    ) -> wasmtime::Result<Result<(), HookError>> {
        let parsed = match Url::parse(url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            Ok(_) => {
                return Ok(Err(HookError::Invalid(
                    "only http and https URLs are allowed".into(),
                )));
            }
            Err(e) => return Ok(Err(HookError::Invalid(format!("not a URL: {e}")))),
        };
        let request = self.outgoing(&this)?;
        if request.carries_secrets() && destination(&parsed) != destination(&request.url) {
            let why = format!(
                "the request carries a secret, so its destination ({}) cannot change (to {})",
                reqflo_core::message::destination(&request.url),
                reqflo_core::message::destination(&parsed)
            );
            return Ok(Err(self.deny(why)));
        }
        request.url = parsed;
        // The new URL is text the hook wrote: it carries no secret.
        request.url_secrets.clear();
        Ok(Ok(()))
    }

    async fn drop(&mut self, this: Resource<Outgoing>) -> wasmtime::Result<()> {
        // The host owns the request; a guest only ever borrows it.
        let _ = this;
        Ok(())
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

/// The WIT `client-credentials` record, as the exchange reads it.
pub struct ClientCredentialsArg {
    /// The token endpoint.
    pub token_url: String,
    /// The client ID (not a secret).
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// Extra form fields.
    pub extra: Vec<(String, String)>,
    /// HTTP Basic (true) or the form body (false).
    pub basic: bool,
}

/// Fields of a secret the OAuth exchange needs.
impl HookSecret {
    /// The bytes: only for building a request at the last moment.
    pub(super) fn reveal(&self) -> &[u8] {
        &self.value
    }

    /// The name it is shown as.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// Where it may be sent, if bound.
    pub(super) fn hosts(&self) -> Option<&[String]> {
        self.binding.hosts.as_deref()
    }

    /// Where it may be sent.
    pub(super) fn binding(&self) -> &Binding {
        &self.binding
    }

    /// A new secret derived from this one (bound where it is bound).
    pub(super) fn derived(&self, value: Zeroizing<Vec<u8>>, label: String) -> HookSecret {
        HookSecret {
            value,
            label,
            binding: self.binding.clone(),
            guest_made: false,
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
    store: Store<HookState>,
    bindings: bindings::RequestHook,
    stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
    timeout: Duration,
    budget: CpuBudget,
}

impl HookInstance {
    /// Instantiate a hook in a fresh sandbox with no ambient authority.
    pub async fn start(hook: &CompiledHook, context: Arc<HookContext>) -> Result<Self, String> {
        let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(STDERR_BYTES);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone());
        let timeout = context.spec.timeout;
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
        let mut store = Store::new(&hook.engine, state);
        store.limiter(|s| &mut s.limits);
        let budget = CpuBudget::install(&mut store);
        budget.refill(&mut store, timeout);
        let bindings = hook
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| first_line(&e))?;
        Ok(HookInstance {
            store,
            bindings,
            stderr,
            timeout,
            budget,
        })
    }

    /// Call `configure`.
    pub async fn configure(&mut self, config: &[(String, String)]) -> Result<(), CallFailure> {
        self.budget.refill(&mut self.store, self.timeout);
        let hook = self.bindings.reqflo_plugin_hook();
        let call = hook.call_configure(&mut self.store, config);
        let outcome = tokio::time::timeout(self.timeout, call).await;
        match outcome {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(CallFailure::Hook(describe(&e))),
            Ok(Err(trap)) => Err(CallFailure::Fault(self.explain(&trap))),
            Err(_) => Err(CallFailure::Fault(self.timed_out())),
        }
    }

    /// Call `on-request` with `request` and the granted secrets; the request
    /// comes back (edited) unless the call failed.
    pub async fn on_request(
        &mut self,
        request: BuiltRequest,
        granted: Vec<(String, HookSecret)>,
    ) -> (Option<BuiltRequest>, Result<(), CallFailure>) {
        self.budget.refill(&mut self.store, self.timeout);
        let state = self.store.data_mut();
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
        let call = hook.call_on_request(&mut self.store, borrowed, &handles);
        let outcome = tokio::time::timeout(self.timeout, call).await;
        let state = self.store.data_mut();
        // The granted secrets leave the table (zeroed) whatever happened.
        for handle in pushed {
            let _ = state.table.delete(handle);
        }
        let request = state.table.delete(outgoing).ok().map(|o| o.request);
        let refusal = state.refusal.take();
        let result = match outcome {
            _ if refusal.is_some() => Err(CallFailure::Denied(refusal.unwrap_or_default())),
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(CallFailure::Hook(describe(&e))),
            Ok(Err(trap)) => Err(CallFailure::Fault(self.explain(&trap))),
            Err(_) => Err(CallFailure::Fault(self.timed_out())),
        };
        (request, result)
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
        let limits = &self.store.data().limits;
        let cause = if limits.refused_memory() {
            format!(
                "exceeded its memory limit of {} MiB",
                limits.memory_bytes() >> 20
            )
        } else {
            match error.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => {
                    format!("exceeded its CPU budget of {}", human(self.timeout))
                }
                Some(Trap::StackOverflow) => "overflowed its stack".to_string(),
                Some(Trap::UnreachableCodeReached) => "crashed (panic or abort)".to_string(),
                Some(trap) => format!("crashed ({trap})"),
                // A host function stopped it (a forged handle, too many
                // secrets): the root cause says which.
                None => format!("was stopped: {}", error.root_cause()),
            }
        };
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let text = self.store.data().context.redactor.redact(&text);
        let last = text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("note:"));
        match last {
            Some(line) => format!("{cause}; it printed: {line}"),
            None => cause,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_as_documented() {
        let bytes = [0x01u8, 0xff, 0x10];
        let text = |e| encode(&bytes, e).map(|s| s.to_string());
        assert_eq!(text(Encoding::Hex).as_deref(), Some("01ff10"));
        assert_eq!(text(Encoding::Base64).as_deref(), Some("Af8Q"));
        assert_eq!(
            encode(&[0xfb, 0xff], Encoding::Base64url)
                .as_deref()
                .map(|s| s.as_str()),
            Some("-_8")
        );
        assert_eq!(
            encode(&[0xfb, 0xff], Encoding::Base64)
                .as_deref()
                .map(|s| s.as_str()),
            Some("+/8=")
        );
        // Raw bytes that are not text cannot go in a header.
        assert!(encode(&bytes[1..], Encoding::Raw).is_none());
    }

    #[test]
    fn text_the_redactor_does_not_recognise_is_hidden_whole() {
        assert_eq!(
            view(
                &Redactor::default(),
                "nothing known here",
                &["KEY".to_string()]
            ),
            "[secret KEY]"
        );
    }

    #[test]
    fn hooks_cannot_set_framing_or_host_headers() {
        for name in ["Host", "content-length", "Transfer-Encoding", "connection"] {
            assert!(header_name(name).is_err(), "{name} accepted");
        }
        assert!(header_name("X-Signature").is_ok());
        assert!(header_name("bad name").is_err());
    }
}
