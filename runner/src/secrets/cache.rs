//! Compiled-code cache: each component is compiled once per machine, not per run.
//!
//! Entries are keyed by the component's SHA-256 and wasmtime's compatibility hash
//! (its version and the engine's settings), so a new wasmtime or a changed
//! config never loads stale code.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache folder: `$REQFLO_CACHE_DIR`, else the user's cache folder.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("REQFLO_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("reqflo").join("components"))
}

/// Compile `bytes`, or load the compiled form from the cache. `digest` is the
/// component's SHA-256 in hex.
pub fn load_or_compile(engine: &Engine, digest: &str, bytes: &[u8]) -> wasmtime::Result<Component> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let file_name = format!("{digest}-{:016x}.cwasm", hasher.finish());
    let path = cache_dir().map(|dir| dir.join(file_name));

    if let Some(path) = &path
        && path.is_file()
    {
        // SAFETY: the file is one this cache wrote with `serialize` for an
        // engine with the same compatibility hash. Anyone who can write to the
        // user's cache folder can already run code as the user.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, path) } {
            return Ok(component);
        }
    }

    let component = Component::new(engine, bytes)?;
    if let Some(path) = &path {
        // A cache that cannot be written only costs speed; never fail the run.
        if let (Ok(serialized), Some(dir)) = (component.serialize(), path.parent()) {
            let _ = std::fs::create_dir_all(dir);
            let temporary = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&temporary, serialized).is_ok() {
                let _ = std::fs::rename(&temporary, path);
            }
            let _ = std::fs::remove_file(&temporary);
        }
    }
    Ok(component)
}
