//! Compiled-code cache: each component is compiled once per machine, not per run.
//!
//! Entries are keyed by the component's SHA-256 and wasmtime's compatibility hash
//! (its version and the engine's settings), so a new wasmtime or a changed
//! config never loads stale code.
//!
//! An entry is wasmtime's serialized code followed by a SHA-256 of its name
//! and that code. wasmtime checks an entry's headers but not its machine
//! code, so a damaged entry (cut short by a full disk, a flipped bit, another
//! component's entry under this name) is caught here: it is a miss, compiled
//! afresh and rewritten, and never handed to wasmtime.
//!
//! What an entry holds is a function of the component's bytes and the
//! engine's settings only: nothing of a run (no configuration, no value).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The checksum after the serialized code in an entry (see [`checksum`]).
const CHECKSUM_BYTES: usize = 32;

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
    load_or_compile_in(engine, cache_dir().as_deref(), digest, bytes)
        .map(|(component, _)| component)
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A sound entry of the cache.
    Loaded,
    /// Compiled now: no entry, or one that failed its checks.
    Compiled,
}

/// [`load_or_compile`] with the cache in `dir` (none: always compile).
fn load_or_compile_in(
    engine: &Engine,
    dir: Option<&Path>,
    digest: &str,
    bytes: &[u8],
) -> wasmtime::Result<(Component, Outcome)> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let file_name = format!("{digest}-{:016x}.cwasm", hasher.finish());
    let path = dir.map(|dir| dir.join(&file_name));

    if let Some(component) = path
        .as_deref()
        .and_then(|path| load(engine, path, &file_name))
    {
        return Ok((component, Outcome::Loaded));
    }
    let component = Component::new(engine, bytes)?;
    if let Some(path) = &path {
        store(&component, path, &file_name);
    }
    Ok((component, Outcome::Compiled))
}

/// The entry named `name` at `path`, if there is one and it is whole.
fn load(engine: &Engine, path: &Path, name: &str) -> Option<Component> {
    let entry = std::fs::read(path).ok()?;
    let code = checked(&entry, name)?;
    // SAFETY: `code` is what this cache wrote with `serialize` for an engine
    // with the same compatibility hash, byte for byte (its checksum holds).
    // Anyone who can write to the user's cache folder can already run code
    // as the user.
    unsafe { Component::deserialize(engine, code) }.ok()
}

/// The SHA-256 of an entry's file name and its serialized code.
fn checksum(name: &str, code: &[u8]) -> [u8; CHECKSUM_BYTES] {
    Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(code)
        .finalize()
        .into()
}

/// The serialized code of the entry named `name`, if its checksum holds.
fn checked<'a>(entry: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let split = entry.len().checked_sub(CHECKSUM_BYTES)?;
    let (code, sum) = entry.split_at(split);
    (checksum(name, code) == sum).then_some(code)
}

/// Write `component`'s entry, named `name`, at `path`. A cache that cannot
/// be written only costs speed; never fail the run.
fn store(component: &Component, path: &Path, name: &str) {
    let (Ok(mut entry), Some(dir)) = (component.serialize(), path.parent()) else {
        return;
    };
    let sum = checksum(name, &entry);
    entry.extend_from_slice(&sum);
    let _ = std::fs::create_dir_all(dir);
    // Whole or not at all: written aside, then renamed into place. The name
    // is this call's own, so two threads compiling the same component never
    // write into one file.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let temporary = path.with_extension(format!(
        "tmp{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    if std::fs::write(&temporary, &entry).is_ok() {
        let _ = std::fs::rename(&temporary, path);
    }
    let _ = std::fs::remove_file(&temporary);
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use secrecy::ExposeSecret as _;
    use sha2::{Digest as _, Sha256};

    use super::{CHECKSUM_BYTES, Outcome, checked, load_or_compile_in};
    use crate::Embedded as _;
    use crate::secrets::Builtin;
    use crate::secrets::host::PluginHost;
    use crate::secrets::plugin::{CompiledPlugin, PluginInstance, Sandbox, linker};

    /// A built-in plugin's bytes and their SHA-256 (hex), as a run has them.
    fn builtin(plugin: Builtin) -> (&'static [u8], String) {
        let bytes = plugin.bytes();
        assert!(!bytes.is_empty(), "builtin:{} is embedded", plugin.name());
        (bytes, hex::encode(Sha256::digest(bytes)))
    }

    /// Load through the cache in `dir`: where the component came from.
    fn through(host: &PluginHost, dir: &Path, (bytes, digest): &(&[u8], String)) -> Outcome {
        load_or_compile_in(host.engine(), Some(dir), digest, bytes)
            .expect("a built-in plugin compiles")
            .1
    }

    /// Every file under `dir`, folders included.
    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("cache folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    /// The cache's one entry, sound; no temporary file is left beside it.
    fn only_entry(dir: &Path) -> (PathBuf, Vec<u8>) {
        let files = files(dir);
        assert_eq!(files.len(), 1, "one entry and nothing else: {files:?}");
        let path = files[0].clone();
        assert_eq!(path.extension(), Some("cwasm".as_ref()), "{path:?}");
        let entry = std::fs::read(&path).expect("read the entry");
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(checked(&entry, name).is_some(), "the entry is sound");
        (path, entry)
    }

    #[test]
    fn a_miss_compiles_and_writes_an_entry_the_next_run_loads() {
        let host = PluginHost::shared().expect("plugin engine");
        let env = builtin(Builtin::Env);
        let cache = tempfile::tempdir().expect("temp dir");
        // The folder need not exist yet.
        let dir = cache.path().join("reqflo").join("components");
        assert_eq!(through(&host, &dir, &env), Outcome::Compiled);
        let (path, entry) = only_entry(&dir);
        assert!(
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&env.1)),
            "keyed by the component's digest: {path:?}"
        );
        assert_eq!(through(&host, &dir, &env), Outcome::Loaded);
        assert_eq!(through(&host, &dir, &env), Outcome::Loaded);
        assert_eq!(
            only_entry(&dir).1,
            entry,
            "a hit leaves the entry as it was"
        );

        // Another component is a miss of its own, beside the first.
        let file = builtin(Builtin::File);
        assert_eq!(through(&host, &dir, &file), Outcome::Compiled);
        assert_eq!(files(&dir).len(), 2);
        assert_eq!(through(&host, &dir, &file), Outcome::Loaded);

        // No cache folder at all: compiled every time, nothing written.
        let (bytes, digest) = &env;
        let (_, outcome) =
            load_or_compile_in(host.engine(), None, digest, bytes).expect("compiles");
        assert_eq!(outcome, Outcome::Compiled);
    }

    /// Put `damaged` where the entry was: the next load must compile, and
    /// leave the entry sound and as a fresh compile writes it.
    fn assert_miss(
        host: &PluginHost,
        dir: &Path,
        env: &(&[u8], String),
        damaged: &[u8],
        what: &str,
    ) {
        let (path, good) = only_entry(dir);
        std::fs::write(&path, damaged).expect("damage the entry");
        assert_eq!(
            through(host, dir, env),
            Outcome::Compiled,
            "{what}: must be a miss, not loaded"
        );
        let (_, rewritten) = only_entry(dir);
        assert_eq!(rewritten, good, "{what}: the entry is written afresh");
        assert_eq!(
            through(host, dir, env),
            Outcome::Loaded,
            "{what}: then a hit"
        );
    }

    #[test]
    fn a_corrupted_entry_is_a_miss_and_is_replaced() {
        let host = PluginHost::shared().expect("plugin engine");
        let env = builtin(Builtin::Env);
        let cache = tempfile::tempdir().expect("temp dir");
        let dir = cache.path();
        assert_eq!(through(&host, dir, &env), Outcome::Compiled);
        let (path, good) = only_entry(dir);
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let code = &good[..good.len() - CHECKSUM_BYTES];

        // One flipped bit in the machine code, in the middle of the entry.
        let mut flipped = good.clone();
        flipped[code.len() / 2] ^= 0x10;
        assert_miss(&host, dir, &env, &flipped, "a flipped bit in the code");
        // ... in the ELF header wasmtime reads first.
        let mut header = good.clone();
        header[1] ^= 0x01;
        assert_miss(&host, dir, &env, &header, "a flipped bit in the header");
        // ... in the checksum.
        let mut sum = good.clone();
        *sum.last_mut().expect("not empty") ^= 0x80;
        assert_miss(&host, dir, &env, &sum, "a flipped bit in the checksum");
        // Not compiled code at all.
        assert_miss(&host, dir, &env, b"not compiled code\n", "a text file");
        // Garbage with a checksum that holds: wasmtime itself refuses it, and
        // that refusal is a miss too, not an error and not a panic.
        let mut garbage = b"\x7fELF\x02\x01\x01\0 not really".to_vec();
        garbage.extend_from_slice(&super::checksum(name, &garbage.clone()));
        assert!(checked(&garbage, name).is_some());
        assert_miss(&host, dir, &env, &garbage, "garbage with a sound checksum");
        // Another component's sound entry under this one's name.
        let file = builtin(Builtin::File);
        let other = tempfile::tempdir().expect("temp dir");
        assert_eq!(through(&host, other.path(), &file), Outcome::Compiled);
        let (_, foreign) = only_entry(other.path());
        assert_ne!(foreign, good);
        assert_miss(&host, dir, &env, &foreign, "another component's entry");
        // An entry written before entries had a checksum: the bare code.
        assert_miss(&host, dir, &env, code, "code without a checksum");
    }

    #[test]
    fn a_truncated_entry_is_a_miss_and_is_replaced() {
        let host = PluginHost::shared().expect("plugin engine");
        let env = builtin(Builtin::Env);
        let cache = tempfile::tempdir().expect("temp dir");
        let dir = cache.path();
        assert_eq!(through(&host, dir, &env), Outcome::Compiled);
        let (_, good) = only_entry(dir);
        for keep in [
            0,
            1,
            CHECKSUM_BYTES - 1,
            CHECKSUM_BYTES,
            good.len() / 2,
            good.len() - CHECKSUM_BYTES - 1,
            good.len() - 1,
        ] {
            assert_miss(
                &host,
                dir,
                &env,
                &good[..keep],
                &format!("cut to {keep} of {} bytes", good.len()),
            );
        }
    }

    #[test]
    fn a_cache_that_cannot_be_written_only_costs_a_compile() {
        let host = PluginHost::shared().expect("plugin engine");
        let env = builtin(Builtin::Env);
        let cache = tempfile::tempdir().expect("temp dir");
        // The cache folder's place is taken by a file.
        let dir = cache.path().join("components");
        std::fs::write(&dir, "a file").expect("write");
        assert_eq!(through(&host, &dir, &env), Outcome::Compiled);
        assert_eq!(through(&host, &dir, &env), Outcome::Compiled);
        assert_eq!(std::fs::read(&dir).expect("read"), b"a file");
        // The entry's place is taken by a folder.
        let dir = cache.path().join("other");
        assert_eq!(through(&host, &dir, &env), Outcome::Compiled);
        let (path, _) = only_entry(&dir);
        std::fs::remove_file(&path).expect("remove");
        std::fs::create_dir(&path).expect("a folder in its place");
        assert_eq!(through(&host, &dir, &env), Outcome::Compiled);
        assert!(path.is_dir());
    }

    /// A value resolved through cached code never reaches the cache: resolve
    /// a canary with the component as compiled on a miss and as loaded on a
    /// hit, then look for it, raw and encoded, in every file of the cache.
    #[test]
    fn no_entry_holds_a_value_resolved_through_it() {
        const CANARY: &str = "cache-CANARY-5be1d0c7a3f94e28";
        let host = PluginHost::shared().expect("plugin engine");
        let engine = host.engine();
        let linker = linker(engine).expect("linker");
        let (bytes, digest) = builtin(Builtin::Env);
        let cache = tempfile::tempdir().expect("temp dir");
        let dir = cache.path();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut first_entry = None;
        for expected in [Outcome::Compiled, Outcome::Loaded, Outcome::Loaded] {
            let (component, outcome) =
                load_or_compile_in(engine, Some(dir), &digest, bytes).expect("compiles");
            assert_eq!(outcome, expected);
            let entry = only_entry(dir).1;
            let plugin = CompiledPlugin::new(engine, &linker, &component).expect("links");
            let value = runtime.block_on(async {
                let sandbox = Sandbox {
                    env: vec![("CACHE_TEST_KEY".into(), CANARY.into())],
                    memory_bytes: 64 << 20,
                    timeout: Duration::from_secs(60),
                    ..Sandbox::new(reqflo_core::redact::Redactor::for_run())
                };
                let mut instance = PluginInstance::start(&plugin, sandbox)
                    .await
                    .expect("instantiates");
                instance.configure(&[]).await.expect("configures");
                instance.resolve("CACHE_TEST_KEY").await.expect("resolves")
            });
            // The value went through this code...
            assert_eq!(value.0.expose_secret(), CANARY);
            // ... and the entry is what it was before the value existed.
            assert_eq!(only_entry(dir).1, entry);
            assert_eq!(first_entry.get_or_insert(entry), &only_entry(dir).1);
        }
        let utf16: Vec<u8> = CANARY.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let forms: Vec<Vec<u8>> = vec![
            CANARY.as_bytes().to_vec(),
            // A part of it is enough to call it a leak.
            CANARY.as_bytes()[6..].to_vec(),
            utf16,
            STANDARD.encode(CANARY).into_bytes(),
            URL_SAFE_NO_PAD.encode(CANARY).into_bytes(),
            hex::encode(CANARY).into_bytes(),
            hex::encode_upper(CANARY).into_bytes(),
        ];
        let all = files(dir);
        assert!(!all.is_empty());
        for path in all {
            let held = std::fs::read(&path).expect("read");
            for form in &forms {
                assert!(
                    !held.windows(form.len()).any(|w| w == form.as_slice()),
                    "{} holds the canary as {:?}",
                    path.display(),
                    String::from_utf8_lossy(form)
                );
            }
        }
    }
}
