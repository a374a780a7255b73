//! `reqflo plugin new NAME`: a provider crate that builds into a component.
//!
//! The crate depends on the SDK (`reqflo-plugin-sdk`), so an SDK fix reaches
//! a provider already written at its next build. The SDK is not published
//! yet: inside a checkout of reqflo (or with `--sdk`) the dependency is a
//! path to its `plugins/sdk`, with the version cargo will take from a
//! registry once it is there; elsewhere, the repository reqflo was built
//! from, if it is still on this machine; else the version alone.

use std::path::{Component, Path, PathBuf};

use crate::cli::NewArgs;
use crate::console;
use crate::exit;
use reqflo_core::error::{Error, Result};

/// The SDK's version, as its Cargo.toml says (checked by a unit test).
pub const SDK_VERSION: &str = "0.1.0";

/// Where the SDK lives inside a checkout of reqflo.
const SDK_IN_REPO: &str = "plugins/sdk";

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
    /// The SDK's folder, when one was found; else the dependency is by
    /// version alone.
    pub sdk: Option<PathBuf>,
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
        let dependency = self.dependency();
        let fill = |text: &str| {
            text.replace("@NAME@", &self.name)
                .replace("@ARTIFACT@", &self.artifact())
                .replace("@TYPE@", &self.type_name())
                .replace("@SDK@", &dependency)
        };
        FILES
            .iter()
            .map(|(path, text)| (PathBuf::from(path), fill(text)))
            .collect()
    }

    /// The SDK dependency's TOML value: a path (relative to the crate when
    /// they share a folder above) with the version, or the version alone.
    fn dependency(&self) -> String {
        let Some(sdk) = &self.sdk else {
            return format!("\"{SDK_VERSION}\"");
        };
        let path = relative(&self.dir, sdk).unwrap_or_else(|| sdk.clone());
        // TOML basic strings escape `\` and `"`; Windows paths need `/` too.
        let text = path
            .to_string_lossy()
            .replace('\\', "/")
            .replace('"', "\\\"");
        format!("{{ version = \"{SDK_VERSION}\", path = \"{text}\" }}")
    }
}

/// `to` relative to `from` when both are absolute and share an ancestor.
fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let shared = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    // Only the root in common: an absolute path reads better.
    if shared <= 1 {
        return None;
    }
    let mut path = PathBuf::new();
    for _ in shared..from.len() {
        path.push("..");
    }
    for part in &to[shared..] {
        path.push(part);
    }
    Some(path)
}

/// Whether `dir` holds the SDK's manifest.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.contains("name = \"reqflo-plugin-sdk\""))
}

/// The SDK to depend on: `--sdk`; else the checkout of reqflo that `dir`
/// is inside; else the one this binary was built from, if still present.
fn find_sdk(dir: &Path, given: Option<&Path>, cwd: &Path) -> Result<Option<PathBuf>> {
    if let Some(given) = given {
        let given = cwd.join(given);
        let sdk = if is_sdk(&given) {
            given.clone()
        } else {
            given.join(SDK_IN_REPO)
        };
        if !is_sdk(&sdk) {
            return Err(Error::Usage(format!(
                "--sdk {}: neither it nor its {SDK_IN_REPO} holds the reqflo-plugin-sdk crate",
                given.display()
            )));
        }
        return Ok(Some(sdk));
    }
    let inside = dir
        .ancestors()
        .map(|folder| folder.join(SDK_IN_REPO))
        .find(|sdk| is_sdk(sdk));
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(SDK_IN_REPO);
    Ok(inside.or_else(|| {
        is_sdk(&built_from)
            .then(|| built_from.canonicalize().ok())
            .flatten()
    }))
}

/// Check `name` and `dir` (default `cwd/NAME`), refusing a folder that
/// exists and is not empty.
pub fn scaffold(
    name: &str,
    dir: Option<&Path>,
    sdk: Option<&Path>,
    cwd: &Path,
) -> Result<Scaffold> {
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
    let sdk = find_sdk(&dir, sdk, cwd)?;
    Ok(Scaffold {
        name: name.to_string(),
        dir,
        sdk,
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
    let scaffold = scaffold(&args.name, args.dir.as_deref(), args.sdk.as_deref(), cwd)?;
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
         check it keeps the providers' contract:\n  reqflo plugin test target/wasm32-wasip2/release/{}.wasm --reference NAME\n\
         inspect it and get its digest to pin:\n  reqflo plugin inspect target/wasm32-wasip2/release/{}.wasm\n\
         the SDK: {}",
        scaffold.name,
        shown.display(),
        shown.display(),
        scaffold.artifact(),
        scaffold.artifact(),
        scaffold.artifact(),
        match &scaffold.sdk {
            Some(sdk) => format!("reqflo-plugin-sdk {SDK_VERSION} from {}", sdk.display()),
            None => format!(
                "reqflo-plugin-sdk {SDK_VERSION} by version: it is not on crates.io yet, so give \
                 --sdk PATH (a checkout of reqflo) or edit the path into Cargo.toml"
            ),
        },
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

    #[test]
    fn the_sdk_is_found_at_its_version_and_targets_the_released_wit() {
        let manifest = std::fs::read_to_string(sdk_dir().join("Cargo.toml")).expect("SDK manifest");
        assert!(
            manifest.contains(&format!("version = \"{SDK_VERSION}\"")),
            "SDK_VERSION must be the SDK's version"
        );
        let wit = std::fs::read_to_string(sdk_dir().join("wit/reqflo-plugin.wit")).expect("WIT");
        let released = include_str!("../../../../wit/0.1.0/reqflo-plugin.wit");
        assert_eq!(wit, released, "the SDK's WIT must equal wit/0.1.0");
        // Inside the checkout: the checkout's SDK. Told: that one.
        let inside = sdk_dir().join("../somewhere/acme");
        let found = find_sdk(&inside, None, Path::new("/")).expect("no error");
        assert!(found.as_deref().is_some_and(is_sdk), "{found:?}");
        let repo = sdk_dir().join("../..");
        let given = find_sdk(Path::new("/tmp/x"), Some(&repo), Path::new("/")).expect("found");
        assert!(given.as_deref().is_some_and(is_sdk));
        let wrong = find_sdk(
            Path::new("/tmp/x"),
            Some(Path::new("/nonexistent")),
            Path::new("/"),
        );
        assert!(matches!(wrong, Err(Error::Usage(m)) if m.contains("reqflo-plugin-sdk")));
    }

    #[test]
    fn relative_paths() {
        let rel = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
        assert_eq!(
            rel("/r/x/acme", "/r/plugins/sdk"),
            Some(PathBuf::from("../../plugins/sdk"))
        );
        assert_eq!(
            rel("/r/acme", "/r/plugins/sdk"),
            Some(PathBuf::from("../plugins/sdk"))
        );
        assert_eq!(rel("/home/a", "/opt/sdk"), None);
    }

    #[test]
    fn names() {
        let cwd = Path::new("/nonexistent-reqflo-test");
        for good in ["acme", "acme-vault", "a1_b2"] {
            assert!(scaffold(good, None, None, cwd).is_ok(), "{good}");
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
            let Err(Error::Usage(message)) = scaffold(bad, None, None, cwd) else {
                panic!("accepted {bad:?}")
            };
            assert!(
                message.contains("cannot name a provider crate"),
                "{message}"
            );
        }
        let long = "a".repeat(65);
        assert!(scaffold(&long, None, None, cwd).is_err());
    }

    #[test]
    fn files_are_filled_in() {
        let s = Scaffold {
            name: "acme-vault".into(),
            dir: PathBuf::from("/r/x/acme-vault"),
            sdk: Some(PathBuf::from("/r/plugins/sdk")),
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
        assert!(
            text("Cargo.toml").contains(
                "reqflo-plugin-sdk = { version = \"0.1.0\", path = \"../../plugins/sdk\" }"
            )
        );
        let unpublished = Scaffold {
            sdk: None,
            ..s.clone()
        };
        assert!(
            unpublished
                .files()
                .iter()
                .any(|(p, t)| p == Path::new("Cargo.toml")
                    && t.contains("reqflo-plugin-sdk = \"0.1.0\""))
        );
        for (path, body) in &files {
            for placeholder in ["@NAME@", "@ARTIFACT@", "@TYPE@", "@SDK@"] {
                assert!(!body.contains(placeholder), "{}", path.display());
            }
        }
    }
}
