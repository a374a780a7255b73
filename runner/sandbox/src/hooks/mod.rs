//! Request hooks: sandboxed components (world `request-hook` of
//! `reqflo:plugin@0.2.0`) that edit a step's request just before it is sent,
//! holding secret handles and never secret values.
//!
//! Each hook gets its own store with the providers' limits (memory cap, CPU
//! budget by epoch, wall-clock budget per call), no environment, no files,
//! no sockets and no `wasi:http`. Its only way out is the host function
//! `oauth2-client-credentials`, checked against its `grants.hosts`.

mod host;
mod oauth;
mod outgoing;
mod state;

use std::collections::HashMap;
use std::sync::Arc;

pub use reqflo_core::plugins::HookSpecs;
use reqflo_core::plugins::PluginSpec;

use host::{CallFailure, CompiledHook, HookInstance};
use state::{HookContext, HookSecret, TokenCache};

use crate::Load as _;

use crate::secrets::{PluginHost, SecretId, SecretStore};
use reqflo_core::error::{Diagnostic, Error, Result};
use reqflo_core::message::BuiltRequest;
use reqflo_core::plan::{Plan, PlannedHook};
use reqflo_core::redact::{Redactor, sanitize_plugin_text};

/// Compile (or load from the cache) and pre-link a hook component: the one
/// check both `run` and `plugin inspect` make.
fn compile(
    engine: &wasmtime::Engine,
    linker: &wasmtime::component::Linker<host::HookState>,
    label: &str,
    digest: &str,
    bytes: &[u8],
) -> Result<CompiledHook> {
    let component = crate::secrets::cache::load_or_compile(engine, digest, bytes).map_err(|e| {
        Error::plugin(format!(
            "{label} is not a valid WebAssembly component: {}",
            crate::guest::first_line(&e)
        ))
    })?;
    CompiledHook::new(engine, linker, &component).map_err(|e| {
        let why = crate::secrets::host::other_version(engine, &component, "0.2")
            .unwrap_or_else(|| crate::guest::first_line(&e));
        Error::plugin(format!(
            "{label} does not fit reqflo's hook interface (reqflo:plugin@0.2.0, world request-hook; \
             hooks get no sockets, no wasi:http, no files and no environment): {why}"
        ))
    })
}

/// Whether reqflo would load `bytes` (SHA-256 `digest`) as a request hook;
/// the error says why not. For `reqflo plugin inspect`.
pub fn check_loads(label: &str, digest: &str, bytes: &[u8]) -> Result<()> {
    let plugin_host = PluginHost::shared()?;
    let engine = plugin_host.engine();
    let linker = host::linker(engine)
        .map_err(|e| Error::plugin(format!("cannot link the hook interfaces: {e}")))?;
    compile(engine, &linker, label, digest, bytes).map(|_| ())
}

/// Runs the hooks of one run: compiles each once, starts and configures
/// each before the first request, restarts one that faulted.
pub struct HookRuntime {
    specs: HookSpecs,
    host: Option<PluginHost>,
    linker: Option<wasmtime::component::Linker<host::HookState>>,
    compiled: HashMap<String, CompiledHook>,
    instances: HashMap<String, HookInstance>,
    client: Option<reqwest::Client>,
    tokens: Arc<TokenCache>,
    redactor: Arc<Redactor>,
}

impl HookRuntime {
    /// A runtime for `specs`; nothing starts until [`HookRuntime::prepare`].
    /// Hooks run on the process's plugin host ([`PluginHost::shared`]) and
    /// teach `redactor`, the run's, every secret they derive.
    pub fn new(specs: HookSpecs, redactor: Arc<Redactor>) -> HookRuntime {
        HookRuntime {
            specs,
            host: None,
            linker: None,
            compiled: HashMap::new(),
            instances: HashMap::new(),
            client: None,
            tokens: Arc::new(TokenCache::default()),
            redactor,
        }
    }

    /// Compile, start and configure every hook `plans` use, before anything
    /// is sent: a hook that cannot load fails the run here.
    pub async fn prepare(&mut self, plans: &[Plan]) -> Result<()> {
        let mut names: Vec<&str> = Vec::new();
        for hook in plans.iter().flat_map(|p| &p.steps).flat_map(|s| &s.hooks) {
            if !names.contains(&hook.name.as_str()) {
                names.push(&hook.name);
            }
        }
        for name in names {
            self.start(name).await?;
        }
        Ok(())
    }

    fn spec(&self, name: &str) -> Result<&PluginSpec> {
        self.specs
            .get(name)
            .ok_or_else(|| Error::plugin(format!("no hook `{name}`")))
    }

    /// Make sure `name` has a configured instance.
    async fn start(&mut self, name: &str) -> Result<()> {
        if self.instances.contains_key(name) {
            return Ok(());
        }
        let spec = self.spec(name)?.clone();
        if !self.compiled.contains_key(name) {
            let (bytes, digest) = spec.load()?;
            if self.host.is_none() {
                self.host = Some(PluginHost::shared()?);
            }
            let Some(plugin_host) = &self.host else {
                return Err(Error::plugin("no plugin host"));
            };
            if self.linker.is_none() {
                let linker = host::linker(plugin_host.engine())
                    .map_err(|e| Error::plugin(format!("cannot link the hook interfaces: {e}")))?;
                self.linker = Some(linker);
            }
            let Some(linker) = &self.linker else {
                return Err(Error::plugin("no hook linker"));
            };
            let compiled = compile(plugin_host.engine(), linker, &spec.label(), &digest, &bytes)?;
            self.compiled.insert(name.to_string(), compiled);
        }
        let Some(compiled) = self.compiled.get(name) else {
            return Err(Error::plugin(format!("{} was not compiled", spec.label())));
        };
        let client = match &self.client {
            Some(client) => client.clone(),
            None => {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .user_agent(concat!("reqflo/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| Error::plugin(format!("cannot start the HTTP client: {e}")))?;
                self.client = Some(client.clone());
                client
            }
        };
        let context = Arc::new(HookContext {
            spec: spec.clone(),
            client,
            tokens: Arc::clone(&self.tokens),
            redactor: Arc::clone(&self.redactor),
        });
        let fail = |why: String| {
            Error::plugin(format!(
                "{} failed to start: {}",
                spec.label(),
                sanitize_plugin_text(&self.redactor, &why)
            ))
        };
        let mut instance = HookInstance::start(compiled, context).await.map_err(fail)?;
        match instance.configure(&spec.config).await {
            Ok(()) => {}
            // The hook read `config:` and said no: that is the project's
            // configuration at fault (exit 1), shown where the hook is declared.
            Err(CallFailure::Hook(m)) | Err(CallFailure::Denied(m)) => {
                return Err(Error::Config(
                    Diagnostic::new(format!(
                        "{} refused its configuration: {}",
                        spec.label(),
                        sanitize_plugin_text(&self.redactor, &m)
                    ))
                    .at(spec.declared_at.clone()),
                ));
            }
            Err(CallFailure::Fault(m)) => return Err(fail(format!("configure {m}"))),
        }
        self.instances.insert(name.to_string(), instance);
        Ok(())
    }

    /// Run `hooks` in order on `request`. A secret in the request fixes its
    /// destination: a hook that changes it fails the step.
    pub async fn apply(
        &mut self,
        step: &str,
        hooks: &[PlannedHook],
        mut request: BuiltRequest,
        store: &SecretStore,
        secret_ids: &[SecretId],
    ) -> Result<BuiltRequest> {
        for hook in hooks {
            let label = self.spec(&hook.name)?.label();
            let redactor = Arc::clone(&self.redactor);
            let fail = |why: String| {
                Error::plugin(format!(
                    "step `{step}`: {label} failed: {}; nothing was sent",
                    sanitize_plugin_text(&redactor, &why)
                ))
            };
            self.start(&hook.name).await?;
            let mut granted = Vec::with_capacity(hook.secrets.len());
            for (name, index) in &hook.secrets {
                let id = secret_ids
                    .get(*index)
                    .ok_or_else(|| fail(format!("secret `{name}` was not resolved")))?;
                let binding = store.binding(*id).clone();
                granted.push((
                    name.clone(),
                    HookSecret::granted(store.reveal(*id).as_bytes(), name, binding),
                ));
            }
            let before = request.destination();
            let Some(instance) = self.instances.get_mut(&hook.name) else {
                return Err(fail("did not start".into()));
            };
            let (back, outcome) = instance.on_request(request, granted).await;
            match outcome {
                Ok(()) => {}
                Err(CallFailure::Hook(m)) => return Err(fail(m)),
                Err(CallFailure::Denied(m)) => return Err(fail(format!("denied: {m}"))),
                Err(CallFailure::Fault(m)) => {
                    // A faulted instance is thrown away; the next use starts afresh.
                    self.instances.remove(&hook.name);
                    return Err(fail(m));
                }
            }
            request = back.ok_or_else(|| fail("lost the request".into()))?;
            if request.carries_secrets() && request.destination() != before {
                return Err(fail(
                    "changed the destination of a request that carries a secret".into(),
                ));
            }
        }
        Ok(request)
    }
}
