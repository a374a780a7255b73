//! The wasmtime engine and linker shared by every plugin of a run.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::cache;
use super::plugin::{CompiledPlugin, PluginState};
use crate::error::{Error, Result};

/// How often the epoch advances; plugin CPU budgets are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Compiles plugins and instantiates them in sandboxes. One per process.
pub struct PluginHost {
    engine: Engine,
    linker: Arc<Linker<PluginState>>,
}

impl PluginHost {
    /// An engine with epoch interruption and a linker with only WASI and the
    /// `reqflo:plugin` host interfaces.
    pub fn new() -> Result<PluginHost> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Deep recursion in a plugin should trap, not take the host's stack.
        config.max_wasm_stack(1 << 20);
        let engine = Engine::new(&config)
            .map_err(|e| Error::Plugin(format!("cannot start the plugin engine: {e}")))?;
        let linker = super::plugin::linker(&engine)
            .map_err(|e| Error::Plugin(format!("cannot link plugin interfaces: {e}")))?;

        // The ticker holds only a weak reference, so it ends with the engine.
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
            .map_err(|e| Error::Plugin(format!("cannot start the plugin clock: {e}")))?;

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
            Error::Plugin(format!(
                "plugin {label} is not a valid WebAssembly component: {}",
                first_line(&e)
            ))
        })?;
        CompiledPlugin::new(&self.engine, &self.linker, &component).map_err(|e| {
            Error::Plugin(format!(
                "plugin {label} does not fit reqflo's plugin interface (reqflo:plugin@0.1.0, world secret-provider): {}",
                first_line(&e)
            ))
        })
    }
}

/// wasmtime errors carry long chains; the first line says what matters.
pub fn first_line(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    text.lines().next().unwrap_or("").to_string()
}
