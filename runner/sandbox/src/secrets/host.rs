//! The wasmtime engine and linker shared by every plugin of a run.

use std::sync::{Arc, OnceLock};

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::cache;
use super::plugin::{CompiledPlugin, PluginState};
use crate::guest::{EPOCH_TICK, first_line};
use reqflo_core::error::{Error, Result};

/// Compiles plugins and instantiates them in sandboxes. One per process
/// ([`PluginHost::shared`]): every run, and every journey of a server, shares
/// its engine, its epoch clock and its compiled code.
#[derive(Clone)]
pub struct PluginHost {
    engine: Engine,
    linker: Arc<Linker<PluginState>>,
}

impl PluginHost {
    /// The process's plugin host, started on first use. Cloning it is cheap
    /// (the engine and linker are shared), and its epoch clock is one thread
    /// for the life of the process however many runs there are.
    pub fn shared() -> Result<PluginHost> {
        static SHARED: OnceLock<std::result::Result<PluginHost, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| PluginHost::start().map_err(|e| e.to_string()))
            .clone()
            .map_err(Error::plugin)
    }

    /// An engine with epoch interruption, its clock, and a linker with only
    /// WASI and the `reqflo:plugin` host interfaces.
    fn start() -> Result<PluginHost> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Deep recursion in a plugin should trap, not take the host's stack.
        config.max_wasm_stack(1 << 20);
        let engine = Engine::new(&config)
            .map_err(|e| Error::plugin(format!("cannot start the plugin engine: {e}")))?;
        let linker = super::plugin::linker(&engine)
            .map_err(|e| Error::plugin(format!("cannot link plugin interfaces: {e}")))?;

        // The ticker holds only a weak reference, so it would end with the
        // engine; the shared host keeps the engine for the life of the process.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("reqflo-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| Error::plugin(format!("cannot start the plugin clock: {e}")))?;

        Ok(PluginHost {
            engine,
            linker: Arc::new(linker),
        })
    }

    /// The engine, shared with request hooks (one epoch clock, one code cache).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile (or load from the on-disk cache) and pre-link one plugin.
    pub fn compile(&self, label: &str, bytes: &[u8], digest: &str) -> Result<CompiledPlugin> {
        let component = cache::load_or_compile(&self.engine, digest, bytes).map_err(|e| {
            let why = if bytes.get(..8) == Some(b"\0asm\x01\0\0\0") {
                "it is a core WebAssembly module; build it for wasm32-wasip2 \
                 (or wrap it with `wasm-tools component new`)"
                    .to_string()
            } else {
                first_line(&e)
            };
            Error::plugin(format!(
                "plugin {label} is not a valid WebAssembly component: {why}"
            ))
        })?;
        CompiledPlugin::new(&self.engine, &self.linker, &component).map_err(|e| {
            let why = other_version(&self.engine, &component, "0.1")
                .unwrap_or_else(|| first_line(&e));
            Error::plugin(format!(
                "plugin {label} does not fit reqflo's plugin interface (reqflo:plugin@0.1.0, world secret-provider): {why}"
            ))
        })
    }
}

/// The `reqflo:plugin` versions this host links, for refusals.
const SUPPORTED: &str =
    "reqflo:plugin@0.1.0 for secret providers and reqflo:plugin@0.2.0 for request hooks";

/// Why a component that does not link was built for something else: the
/// `reqflo:plugin` version and world it targets, when that is not `linked`
/// (`0.1` for providers, `0.2` for hooks). Its exports say which world it
/// implements, its imports which package it expects.
pub(crate) fn other_version(
    engine: &Engine,
    component: &wasmtime::component::Component,
    linked: &str,
) -> Option<String> {
    let ty = component.component_type();
    let names: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .chain(ty.imports(engine).map(|(name, _)| name.to_string()))
        .collect();
    names.iter().find_map(|name| {
        let (interface, version) = name.strip_prefix("reqflo:plugin/")?.split_once('@')?;
        // wasmtime matches patch versions: 0.1.x links as 0.1.0.
        let world = match interface {
            "provider" | "secrets" => "secret-provider",
            "hook" | "request" => "request-hook",
            other => other,
        };
        let same_version = version == linked || version.starts_with(&format!("{linked}."));
        let expected = if linked == "0.1" { "secret-provider" } else { "request-hook" };
        if same_version && (world == expected || interface == "secrets") {
            return None;
        }
        Some(format!(
            "it targets reqflo:plugin@{version} (world {world}), but this reqflo supports {SUPPORTED}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_shares_one_engine_and_one_clock() {
        let first = PluginHost::shared().expect("plugin engine");
        let second = PluginHost::shared().expect("plugin engine");
        assert!(Engine::same(first.engine(), second.engine()));
        let clocks = std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|name| name.trim() == "reqflo-epoch")
            })
            .count();
        // Other tests of this binary share the host too: one clock, never more.
        if cfg!(target_os = "linux") {
            assert_eq!(clocks, 1, "one epoch clock per process");
        }
    }
}
