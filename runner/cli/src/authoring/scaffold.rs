//! `reqflo plugin new NAME`: a provider crate that builds into a component.
//!
//! The SDK is not on crates.io, so the crate gets a copy of it. The copy is
//! embedded in this binary from `plugins/sdk`, so it always matches the SDK
//! the built-in plugins are written with.

use std::path::{Path, PathBuf};

use crate::cli::NewArgs;
use crate::console;
use crate::exit;
use reqflo_core::error::{Error, Result};

/// The SDK's files, as (path inside the SDK, text). A unit test checks that
/// this lists every file of `plugins/sdk`.
pub const SDK_FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../../plugins/sdk/Cargo.toml"),
    ),
    (
        "wit/reqflo-plugin.wit",
        include_str!("../../../../plugins/sdk/wit/reqflo-plugin.wit"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../../plugins/sdk/src/lib.rs"),
    ),
    (
        "src/provider.rs",
        include_str!("../../../../plugins/sdk/src/provider.rs"),
    ),
    (
        "src/config.rs",
        include_str!("../../../../plugins/sdk/src/config.rs"),
    ),
    (
        "src/value.rs",
        include_str!("../../../../plugins/sdk/src/value.rs"),
    ),
    (
        "src/origin.rs",
        include_str!("../../../../plugins/sdk/src/origin.rs"),
    ),
    (
        "src/http.rs",
        include_str!("../../../../plugins/sdk/src/http.rs"),
    ),
    (
        "src/http/wasi.rs",
        include_str!("../../../../plugins/sdk/src/http/wasi.rs"),
    ),
];

/// The SDK's folder inside a scaffold.
const SDK_DIR: &str = "reqflo-plugin-sdk";

/// The scaffold's own files: (path, template). `@NAME@`, `@ARTIFACT@` and
/// `@TYPE@` are filled in.
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.in")),
    (
        "rust-toolchain.toml",
        include_str!("scaffold/rust-toolchain.toml.in"),
    ),
    (".gitignore", include_str!("scaffold/gitignore.in")),
    ("README.md", include_str!("scaffold/README.md.in")),
    ("src/lib.rs", include_str!("scaffold/lib.rs.in")),
    // Versions the SDK is known to build with, so a first build needs no
    // resolution; cargo drops what this crate does not use.
    ("Cargo.lock", include_str!("../../../../plugins/Cargo.lock")),
];

/// Names cargo or Rust would refuse or confuse.
const RESERVED: &[&str] = &[
    "test",
    "core",
    "std",
    "alloc",
    "proc_macro",
    "proc-macro",
    "self",
    "super",
    "crate",
    "reqflo-plugin-sdk",
    "reqflo_plugin_sdk",
];

/// A provider crate to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaffold {
    /// The crate's name, as given.
    pub name: String,
    /// The folder it goes in.
    pub dir: PathBuf,
}

impl Scaffold {
    /// The built component's file name: cargo writes a cdylib with `_`.
    pub fn artifact(&self) -> String {
        self.name.replace('-', "_")
    }

    /// The provider type's name in `src/lib.rs`: `acme-vault` → `AcmeVaultProvider`.
    fn type_name(&self) -> String {
        let mut out = String::new();
        for part in self.name.split(['-', '_']).filter(|p| !p.is_empty()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
        out.push_str("Provider");
        out
    }

    /// Every file to write, relative to [`Scaffold::dir`], with its text.
    pub fn files(&self) -> Vec<(PathBuf, String)> {
        let fill = |text: &str| {
            text.replace("@NAME@", &self.name)
                .replace("@ARTIFACT@", &self.artifact())
                .replace("@TYPE@", &self.type_name())
        };
        let own = FILES
            .iter()
            .map(|(path, text)| (PathBuf::from(path), fill(text)));
        let sdk = SDK_FILES
            .iter()
            .map(|(path, text)| (Path::new(SDK_DIR).join(path), text.to_string()));
        own.chain(sdk).collect()
    }
}

/// Check `name` and `dir` (default `cwd/NAME`), refusing a folder that
/// exists and is not empty.
pub fn scaffold(name: &str, dir: Option<&Path>, cwd: &Path) -> Result<Scaffold> {
    check_name(name)?;
    let dir = cwd.join(dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf));
    match std::fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::Usage(format!(
                    "{} exists and is not empty; choose another folder with --dir",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Error::Usage(format!(
                "{} exists and is a file; choose another folder with --dir",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot use {}: {}",
                dir.display(),
                reqflo_core::source::io_reason(&e)
            )));
        }
    }
    Ok(Scaffold {
        name: name.to_string(),
        dir,
    })
}

/// A crate name that cargo accepts and that makes a valid Rust type name.
fn check_name(name: &str) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::Usage(format!(
            "`{}` cannot name a provider crate: {why}",
            console::printable(name)
        )))
    };
    if name.is_empty() {
        return refuse("the name is empty");
    }
    if name.len() > 64 {
        return refuse("use at most 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return refuse("start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return refuse("use lowercase letters, digits, `-` and `_`");
    }
    if name.ends_with(['-', '_']) {
        return refuse("end with a letter or digit");
    }
    if RESERVED.contains(&name) {
        return refuse("the name is reserved");
    }
    Ok(())
}

/// `reqflo plugin new`: write the crate and say how to build it.
pub fn new_command(args: &NewArgs, cwd: &Path) -> Result<i32> {
    let scaffold = scaffold(&args.name, args.dir.as_deref(), cwd)?;
    for (path, text) in scaffold.files() {
        let path = scaffold.dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_error(parent, &e))?;
        }
        std::fs::write(&path, text).map_err(|e| write_error(&path, &e))?;
    }
    let shown = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&scaffold.name));
    console::out(&format!(
        "created provider crate `{}` in {}\n\
         \n\
         build it:\n  cd {}\n  cargo build --release --target wasm32-wasip2\n\
         the component: target/wasm32-wasip2/release/{}.wasm\n\
         test it:  cargo test\n\
         inspect it and get its digest to pin:\n  reqflo plugin inspect target/wasm32-wasip2/release/{}.wasm",
        scaffold.name,
        shown.display(),
        shown.display(),
        scaffold.artifact(),
        scaffold.artifact(),
    ));
    Ok(exit::OK)
}

fn write_error(path: &Path, e: &std::io::Error) -> Error {
    Error::Usage(format!(
        "cannot write {}: {}",
        path.display(),
        reqflo_core::source::io_reason(e)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk")
    }

    /// Every file under `dir`, relative to it, but `target/`.
    fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            panic!("cannot read {}", dir.display())
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name() == "target" {
                continue;
            }
            if path.is_dir() {
                files_under(&path, base, out);
            } else if let Ok(relative) = path.strip_prefix(base) {
                out.push(relative.display().to_string());
            }
        }
    }

    #[test]
    fn every_sdk_file_is_embedded_and_its_wit_is_the_released_one() {
        let mut on_disk = Vec::new();
        files_under(&sdk_dir(), &sdk_dir(), &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = SDK_FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "add new SDK files to SDK_FILES");
        let released = include_str!("../../../../wit/0.1.0/reqflo-plugin.wit");
        let in_sdk = SDK_FILES
            .iter()
            .find(|(p, _)| *p == "wit/reqflo-plugin.wit")
            .map(|(_, text)| *text);
        assert_eq!(in_sdk, Some(released), "the SDK's WIT must equal wit/0.1.0");
    }

    #[test]
    fn names() {
        let cwd = Path::new("/nonexistent-reqflo-test");
        for good in ["acme", "acme-vault", "a1_b2"] {
            assert!(scaffold(good, None, cwd).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Acme",
            "1acme",
            "acme vault",
            "acme/../x",
            "acme-",
            "test",
            "std",
            "é",
        ] {
            let Err(Error::Usage(message)) = scaffold(bad, None, cwd) else {
                panic!("accepted {bad:?}")
            };
            assert!(
                message.contains("cannot name a provider crate"),
                "{message}"
            );
        }
        let long = "a".repeat(65);
        assert!(scaffold(&long, None, cwd).is_err());
    }

    #[test]
    fn files_are_filled_in() {
        let s = Scaffold {
            name: "acme-vault".into(),
            dir: PathBuf::from("x"),
        };
        assert_eq!(s.artifact(), "acme_vault");
        assert_eq!(s.type_name(), "AcmeVaultProvider");
        let files = s.files();
        let text = |name: &str| {
            files
                .iter()
                .find(|(p, _)| p == Path::new(name))
                .map(|(_, t)| t.clone())
                .unwrap_or_default()
        };
        assert!(text("Cargo.toml").contains("name = \"acme-vault\""));
        assert!(text("src/lib.rs").contains("export_provider!(AcmeVaultProvider);"));
        assert!(text("README.md").contains("release/acme_vault.wasm"));
        assert!(text("reqflo-plugin-sdk/wit/reqflo-plugin.wit").contains("world secret-provider"));
        for (path, body) in &files {
            for placeholder in ["@NAME@", "@ARTIFACT@", "@TYPE@"] {
                assert!(!body.contains(placeholder), "{}", path.display());
            }
        }
    }
}
