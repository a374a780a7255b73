//! Parsed-file cache: a long journey (or template) is parsed from YAML once
//! per content, not once per run.
//!
//! serde_yaml (libyaml) reads about 30 MB/s and allocates for every scalar: a
//! 1000-step journey took 5 to 7 ms to parse, more than everything else
//! reqflo does before its first request. The parsed form is kept as JSON,
//! which reads back about six times faster. Entries are keyed by the SHA-256
//! of the file's text, the Rust type it was parsed into and this reqflo
//! binary (its version, size and modification time), so an edited file, a new
//! build or another shape never loads a stale entry. Only files that parsed
//! without error are kept, so every error still comes from the YAML itself,
//! with its position. Small files are parsed directly: below
//! [`CACHE_FROM_BYTES`], hashing and reading an entry costs what parsing does.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Files at least this long go through the cache.
pub const CACHE_FROM_BYTES: usize = 32 * 1024;

/// The cache folder: `$REQFLO_CACHE_DIR/parsed`, else the user's cache folder.
fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("REQFLO_CACHE_DIR") {
        Some(dir) => Some(PathBuf::from(dir).join("parsed")),
        None => dirs::cache_dir().map(|d| d.join("reqflo").join("parsed")),
    }
}

/// What identifies this build: its version, and its binary's size and
/// modification time (a rebuild may change a type's shape, not its version).
fn build_identity() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{}-{}-{}",
        env!("CARGO_PKG_VERSION"),
        meta.len(),
        modified.as_nanos()
    ))
}

/// Where in `dir` the parsed form of `text` as a `T` is kept.
fn entry<T>(dir: &std::path::Path, text: &str) -> Option<PathBuf> {
    let mut hash = Sha256::new();
    for part in [
        "reqflo-parsed-1",
        &build_identity()?,
        std::any::type_name::<T>(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(text.as_bytes());
    Some(dir.join(format!("{}.json", hex::encode(hash.finalize()))))
}

/// `text` parsed as a `T`: from the cache when it holds it, else by `parse`,
/// whose result is then kept (errors never are).
pub fn parse_through<T, E>(text: &str, parse: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
{
    parse_through_in(cache_dir(), text, parse)
}

/// [`parse_through`] with the cache in `dir` (`None`: no cache).
fn parse_through_in<T, E>(
    dir: Option<PathBuf>,
    text: &str,
    parse: impl FnOnce() -> Result<T, E>,
) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
{
    let path = match text.len() >= CACHE_FROM_BYTES {
        true => dir.and_then(|dir| entry::<T>(&dir, text)),
        false => None,
    };
    let Some(path) = path else {
        return parse();
    };
    // Any miss (no entry, unreadable, not a `T`) parses the YAML again.
    let cached = std::fs::read(&path).ok();
    if let Some(parsed) = cached.and_then(|bytes| serde_json::from_slice(&bytes).ok()) {
        return Ok(parsed);
    }
    let parsed = parse()?;
    store(&path, &parsed);
    Ok(parsed)
}

/// Keep a parsed file. A cache that cannot be written only costs speed.
fn store<T: Serialize>(path: &std::path::Path, parsed: &T) {
    let (Ok(json), Some(dir)) = (serde_json::to_vec(parsed), path.parent()) else {
        return;
    };
    let _ = std::fs::create_dir_all(dir);
    // Written whole, then renamed into place: a reader never sees half.
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&temporary, json).is_ok() {
        let _ = std::fs::rename(&temporary, path);
    }
    let _ = std::fs::remove_file(&temporary);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::model::{JourneyFile, TemplateFile};
    use crate::source::Source;

    /// A journey long enough to be cached, using every field there is.
    fn long_journey() -> String {
        let mut text = String::from(
            "description: every field\ninputs:\n  amount: {default: 12.50, description: how much}\n  none: {}\nsteps:\n",
        );
        for i in 0..300 {
            text.push_str(&format!(
                "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: K}}, n: {i}, f: 1.5e300, t: true, z: null, l: [1, \"two\"]}}\n    capture: {{m: $.method, h: {{header: x-id, secret: true}}}}\n    expect: {{status: [200, 201], headers: {{x-a: {{exists: true}}}}, json: {{\"$.method\": GET, \"$.n\": {{equals: {i}}}}}}}\n    hooks: [sign]\n    retries: {{count: 2, backoff: 10ms, on: [503], non_idempotent: true}}\n"
            ));
        }
        assert!(text.len() >= CACHE_FROM_BYTES);
        text
    }

    fn parse(text: &str) -> Result<JourneyFile, String> {
        Source::from_text("j.yaml".into(), "journeys/j.yaml".into(), text.to_string())
            .parse()
            .map_err(|d| d.to_string())
    }

    #[test]
    fn a_journey_reads_back_from_its_entry_exactly_as_parsed() {
        let dir = tempfile::tempdir().expect("tmp");
        let text = long_journey();
        let direct = parse(&text).expect("parses");
        let first = parse_through_in(Some(dir.path().into()), &text, || parse(&text));
        let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(entries.len(), 1, "one entry written");
        // The second time the YAML is not parsed at all.
        let second = parse_through_in(Some(dir.path().into()), &text, || {
            Err::<JourneyFile, _>("parsed again".to_string())
        });
        let shown = |j: &JourneyFile| format!("{j:?}");
        assert_eq!(shown(&first.expect("first")), shown(&direct));
        assert_eq!(shown(&second.expect("from the cache")), shown(&direct));
    }

    #[test]
    fn every_example_journey_survives_the_round_trip() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut seen = 0;
        for folder in ["examples/payments/journeys", "fuzz/corpus/journey_file"] {
            for file in std::fs::read_dir(root.join(folder))
                .expect("folder")
                .flatten()
            {
                let Ok(text) = std::fs::read_to_string(file.path()) else {
                    continue;
                };
                let Ok(direct) = parse(&text) else {
                    continue;
                };
                let json = serde_json::to_vec(&direct).expect("serializes");
                let back: JourneyFile = serde_json::from_slice(&json).expect("reads back");
                assert_eq!(
                    format!("{back:?}"),
                    format!("{direct:?}"),
                    "{:?}",
                    file.path()
                );
                seen += 1;
            }
        }
        assert!(seen >= 3, "only {seen} journeys checked");
        // Templates take the same path (a long one is cached too).
        let folder = root.join("examples/payments/templates");
        for file in std::fs::read_dir(folder).expect("folder").flatten() {
            let text = std::fs::read_to_string(file.path()).expect("read");
            let source = Source::from_text(file.path(), "t".into(), text);
            let direct: TemplateFile = source.parse().expect("example parses");
            let json = serde_json::to_vec(&direct).expect("serializes");
            let back: TemplateFile = serde_json::from_slice(&json).expect("reads back");
            assert_eq!(format!("{back:?}"), format!("{direct:?}"));
        }
    }

    #[test]
    fn an_edited_file_a_bad_entry_or_a_short_file_is_parsed_afresh() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = || Some(dir.path().to_path_buf());
        let text = long_journey();
        parse_through_in(cache(), &text, || parse(&text)).expect("first");
        // Every entry spoiled: read as a miss, parsed again, rewritten.
        for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            std::fs::write(entry.path(), b"{ not json").expect("spoil");
        }
        let again = parse_through_in(cache(), &text, || parse(&text));
        assert!(again.is_ok());
        // An edit is another key: its error comes from the YAML, with a position.
        let edited = text.replace("  - id: s299\n", "  - id: s299\n    bogus: 1\n");
        let error = parse_through_in(cache(), &edited, || parse(&edited)).expect_err("edited");
        assert!(error.contains("bogus"), "{error}");
        assert!(error.contains("journeys/j.yaml:"), "{error}");
        // Short files never touch the cache.
        let short = "steps: []\n";
        let parsed = parse_through_in(cache(), short, || parse(short));
        assert!(parsed.is_ok());
        let count = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(count, 1, "only the long journey has an entry");
    }
}
