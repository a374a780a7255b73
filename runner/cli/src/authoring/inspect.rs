//! `reqflo plugin inspect FILE`: what a component is, what it could ask the
//! host for, and the digest to pin.
//!
//! The types come from wasmtime itself (`Component::component_type`), and
//! whether reqflo would load it from the same check `run` makes, so the
//! answer cannot drift from what the host does.

use reqflo_sandbox::Embedded as _;
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::cli::InspectArgs;
use crate::console;
use crate::exit;
use reqflo_core::error::{Error, Result};
use reqflo_core::plugins::PluginKind;
use reqflo_sandbox::secrets::{Builtin, PluginHost};

/// What `plugin inspect` found in a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The file or `builtin:NAME`, as given.
    pub label: String,
    /// SHA-256 of the bytes, hex: what a `sha256:` pin holds.
    pub sha256: String,
    /// The reqflo world it implements, inferred from its exports:
    /// (`secret-provider`, `reqflo:plugin@0.1.0`).
    pub world: Option<(String, String)>,
    /// `Ok` when reqflo would load it as a provider; else why not.
    pub loads: std::result::Result<(), String>,
    /// Exported interfaces (or functions) and the functions in each.
    pub exports: Vec<(String, Vec<String>)>,
    /// Imported interfaces: what the component could ask the host for.
    pub imports: Vec<Import>,
}

/// One imported interface and what reqflo gives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// `wasi:http/outgoing-handler@0.2.6`.
    pub name: String,
    /// What it is for, and how reqflo bounds it.
    pub meaning: &'static str,
    /// reqflo refuses a component that imports this.
    pub refused: bool,
}

/// What reqflo gives for each interface a plugin may import (matched by
/// prefix, without the version).
const IMPORTS: &[(&str, &str)] = &[
    (
        "reqflo:plugin/secrets",
        "secret handles: it hands values to reqflo and never reads them back",
    ),
    (
        "reqflo:plugin/request",
        "the outgoing request, for request hooks",
    ),
    (
        "wasi:cli/environment",
        "environment variables: only those in its grants.env",
    ),
    (
        "wasi:http/outgoing-handler",
        "HTTP requests: only to its grants.hosts, sent by reqflo",
    ),
    ("wasi:http/types", "HTTP request and response types"),
    ("wasi:filesystem", "files: a custom plugin is given none"),
    (
        "wasi:cli/stdin",
        "standard input: empty (the file provider gets its one file here)",
    ),
    ("wasi:cli/stdout", "standard output: discarded"),
    (
        "wasi:cli/stderr",
        "standard error: kept for error messages (panics print here)",
    ),
    ("wasi:cli/exit", "exiting: ends the call with an error"),
    ("wasi:cli/terminal", "terminal queries: there is none"),
    ("wasi:clocks", "clocks"),
    ("wasi:random", "random numbers"),
    (
        "wasi:io",
        "streams and polling, used by the other interfaces",
    ),
];

/// The world of request hooks.
const HOOK_WORLD: &str = "request-hook";

/// A hook's sandbox is emptier than a provider's: say what it gets instead.
fn for_hook(mut import: Import) -> Import {
    let unversioned = import.name.split('@').next().unwrap_or(&import.name);
    import.meaning = match unversioned {
        "wasi:cli/environment" => "environment variables: a hook gets none",
        "wasi:cli/stdin" => "standard input: empty",
        "wasi:http/outgoing-handler" | "wasi:http/types" => {
            import.refused = true;
            "REFUSED: hooks get no wasi:http (the host makes token exchanges), \
             so this component will not load"
        }
        _ => import.meaning,
    };
    import
}

/// The interface reqflo never links: network only goes through wasi:http.
const SOCKETS: &str = "wasi:sockets";

/// Inspect a component's bytes.
pub fn inspect(label: &str, bytes: &[u8]) -> Result<Inspection> {
    let refuse = |why: String| Err(Error::Usage(format!("{label} {why}")));
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return refuse("is not a WebAssembly file (it does not start with \\0asm)".into());
    }
    // Bytes 4..8 are the version and layer: 1 0 0 0 is a core module.
    if bytes[4..8] == [1, 0, 0, 0] {
        return refuse(
            "is a core WebAssembly module, not a component; build it for wasm32-wasip2 \
             (or wrap it with `wasm-tools component new`)"
                .into(),
        );
    }
    let engine = Engine::default();
    let component = match Component::new(&engine, bytes) {
        Ok(component) => component,
        Err(e) => {
            return refuse(format!(
                "is not a valid WebAssembly component (truncated or damaged?): {}",
                first_line(&e)
            ));
        }
    };
    let ty = component.component_type();

    let mut exports = Vec::new();
    for (name, item) in ty.exports(&engine) {
        let functions = match &item.ty {
            ComponentItem::ComponentInstance(instance) => instance
                .exports(&engine)
                .filter(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_)))
                .map(|(n, _)| n.to_string())
                .collect(),
            _ => Vec::new(),
        };
        exports.push((name.to_string(), functions));
    }
    let imports: Vec<Import> = ty
        .imports(&engine)
        .map(|(name, _)| describe(name))
        .collect();
    let world = exports.iter().find_map(|(name, _)| world_of(name));
    let sha256 = hex::encode(Sha256::digest(bytes));
    // Checked as what it says it is: a hook against the hook linker, anything
    // else against the providers'.
    let is_hook = world.as_ref().is_some_and(|(w, _)| w == HOOK_WORLD);
    let loads = if is_hook {
        reqflo_sandbox::hooks::check_loads(label, &sha256, bytes)
    } else {
        PluginHost::shared()
            .and_then(|host| host.compile(label, bytes, &sha256))
            .map(|_| ())
    }
    .map_err(|e| e.to_string());
    let imports = if is_hook {
        imports.into_iter().map(for_hook).collect()
    } else {
        imports
    };
    Ok(Inspection {
        label: label.to_string(),
        sha256,
        world,
        loads,
        exports,
        imports,
    })
}

/// `reqflo:plugin/provider@0.1.0` → (`secret-provider`, `reqflo:plugin@0.1.0`).
fn world_of(export: &str) -> Option<(String, String)> {
    let rest = export.strip_prefix("reqflo:plugin/")?;
    let (interface, version) = rest.split_once('@')?;
    let world = match interface {
        "provider" => "secret-provider",
        "hook" => HOOK_WORLD,
        _ => return None,
    };
    Some((world.to_string(), format!("reqflo:plugin@{version}")))
}

fn describe(name: &str) -> Import {
    if name.starts_with(SOCKETS) {
        return Import {
            name: name.to_string(),
            meaning: "REFUSED: reqflo links no wasi:sockets (network goes only through \
                      wasi:http), so this component will not load",
            refused: true,
        };
    }
    let unversioned = name.split('@').next().unwrap_or(name);
    match IMPORTS
        .iter()
        .find(|(prefix, _)| unversioned.starts_with(prefix))
    {
        Some((_, meaning)) => Import {
            name: name.to_string(),
            meaning,
            refused: false,
        },
        None => Import {
            name: name.to_string(),
            meaning: "REFUSED: reqflo does not provide this, so this component will not load",
            refused: true,
        },
    }
}

/// wasmtime errors carry long chains; the first line says what matters.
fn first_line(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    text.lines().next().unwrap_or("").to_string()
}

/// The names of the built-ins of `kind`: `env, file, …`.
fn names(kind: PluginKind) -> String {
    Builtin::of(kind)
        .map(Builtin::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `reqflo plugin inspect FILE`.
pub fn inspect_command(args: &InspectArgs, cwd: &Path) -> Result<i32> {
    let written = args.file.as_str();
    let bytes = component_bytes(written, cwd)?;
    let found = inspect(written, &bytes)?;
    console::out(&render(&found));
    Ok(exit::OK)
}

/// The bytes of a component file (relative to `cwd`) or of `builtin:NAME`.
pub(super) fn component_bytes(
    written: &str,
    cwd: &Path,
) -> Result<std::borrow::Cow<'static, [u8]>> {
    Ok(match written.strip_prefix("builtin:") {
        Some(name) => Builtin::named(name)
            .map(|b| b.bytes().into())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "there is no built-in plugin `{}` (providers: {}; hooks: {})",
                    console::printable(name),
                    names(PluginKind::Provider),
                    names(PluginKind::Hook)
                ))
            })?,
        None => std::fs::read(cwd.join(written))
            .map_err(|e| {
                Error::Usage(format!(
                    "cannot read {written}: {}",
                    reqflo_core::source::io_reason(&e)
                ))
            })?
            .into(),
    })
}

/// The report, as printed.
pub fn render(found: &Inspection) -> String {
    let mut out = String::new();
    out.push_str(&format!("plugin   {}\n", found.label));
    out.push_str(&format!("sha256   {}\n", found.sha256));
    let is_hook = found.world.as_ref().is_some_and(|(w, _)| w == HOOK_WORLD);
    let (entry, role) = if is_hook {
        ("hook", "a request hook")
    } else {
        ("provider", "a secret provider")
    };
    out.push_str(&format!(
        "pin      sha256: \"{}\"   (under the {entry} in reqflo.yaml)\n",
        found.sha256
    ));
    match &found.world {
        Some((world, package)) => {
            out.push_str(&format!("world    {world} of {package}\n"));
        }
        None => out.push_str("world    none reqflo knows: it exports no reqflo:plugin interface\n"),
    }
    match &found.loads {
        Ok(()) => out.push_str(&format!("loads    yes: reqflo can use it as {role}\n")),
        Err(why) => out.push_str(&format!("loads    no: {why}\n")),
    }
    out.push_str("exports\n");
    if found.exports.is_empty() {
        out.push_str("  (none)\n");
    }
    for (name, functions) in &found.exports {
        if functions.is_empty() {
            out.push_str(&format!("  {name}\n"));
        } else {
            out.push_str(&format!("  {name}: {}\n", functions.join(", ")));
        }
    }
    out.push_str("imports (what it could ask reqflo for)\n");
    if found.imports.is_empty() {
        out.push_str("  (none)\n");
    }
    let width = found
        .imports
        .iter()
        .map(|i| i.name.chars().count())
        .max()
        .unwrap_or(0);
    for import in &found.imports {
        out.push_str(&format!("  {:<width$}  {}\n", import.name, import.meaning));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worlds_and_imports() {
        assert_eq!(
            world_of("reqflo:plugin/provider@0.1.0"),
            Some(("secret-provider".into(), "reqflo:plugin@0.1.0".into()))
        );
        assert_eq!(world_of("wasi:cli/run@0.2.0"), None);
        assert!(describe("wasi:sockets/tcp@0.2.6").refused);
        assert!(describe("acme:evil/backdoor@1.0.0").refused);
        let http = describe("wasi:http/outgoing-handler@0.2.6");
        assert!(!http.refused && http.meaning.contains("grants.hosts"));
        assert!(
            describe("wasi:cli/environment@0.2.6")
                .meaning
                .contains("grants.env")
        );
    }

    #[test]
    fn files_that_are_not_components() {
        let message = |bytes: &[u8]| match inspect("x.wasm", bytes) {
            Err(Error::Usage(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(message(b"hello world").contains("not a WebAssembly file"));
        assert!(message(b"\0asm\x01\0\0\0").contains("core WebAssembly module"));
        assert!(message(b"\0asm\x0d\0\x01\0\x01").contains("not a valid WebAssembly component"));
    }
}
