//! The plugins compiled into the binary, and loading any plugin's bytes
//! checked against its `sha256` pin.

use std::borrow::Cow;
use std::path::Path;

use reqflo_core::error::{Error, PluginError, Result};
use reqflo_core::plugins::{Builtin, PluginSource, PluginSpec};
use sha2::{Digest, Sha256};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_components.rs"));
}

/// Where build.rs put the compiled plugin components (test plugins among
/// them), for integration tests and tools.
pub const PLUGIN_DIR: &str = env!("REQFLO_TEST_PLUGIN_DIR");

/// A built-in plugin's component, embedded in the binary.
pub trait Embedded {
    /// The component's bytes; empty when this binary was built without it.
    fn bytes(self) -> &'static [u8];
}

impl Embedded for Builtin {
    fn bytes(self) -> &'static [u8] {
        embedded::BUILTIN_COMPONENTS
            .iter()
            .find(|(name, _)| *name == self.name())
            .map(|(_, bytes)| *bytes)
            .unwrap_or(&[])
    }
}

/// A plugin whose component can be loaded.
pub trait Load {
    /// The component's bytes and SHA-256 (hex), checked against the pin.
    fn load(&self) -> Result<(Cow<'static, [u8]>, String)>;
}

impl Load for PluginSpec {
    fn load(&self) -> Result<(Cow<'static, [u8]>, String)> {
        let path = match &self.source {
            PluginSource::Builtin(b) if b.bytes().is_empty() => {
                return Err(Error::Plugin(PluginError::NotBuilt {
                    owner: self.label(),
                    builtin: b.name().to_string(),
                }));
            }
            PluginSource::Builtin(b) => Err(b.bytes()),
            PluginSource::Path(path) => Ok(path.as_path()),
            PluginSource::Held => {
                return Err(Error::plugin(format!(
                    "{} has no component: its values are held by the server",
                    self.label()
                )));
            }
        };
        load_pinned(path, &self.plugin, &self.label(), self.sha256.as_deref())
    }
}

/// A plugin's bytes (embedded, or read from `path`) and their SHA-256 (hex),
/// checked against `pin`. `owner` names who uses it (`provider `x``, `hook
/// `y` (…)`) in messages.
fn load_pinned(
    path: std::result::Result<&Path, &'static [u8]>,
    plugin: &str,
    owner: &str,
    pin: Option<&str>,
) -> Result<(Cow<'static, [u8]>, String)> {
    let bytes: Cow<'static, [u8]> = match path {
        Err(embedded) => embedded.into(),
        Ok(path) => std::fs::read(path)
            .map_err(|e| {
                Error::Plugin(PluginError::Unreadable {
                    path: path.display().to_string(),
                    owner: owner.to_string(),
                    reason: reqflo_core::source::io_reason(&e),
                })
            })?
            .into(),
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    if let Some(pin) = pin {
        let pin = pin
            .trim()
            .trim_start_matches("sha256:")
            .to_ascii_lowercase();
        if pin != digest {
            return Err(Error::Plugin(PluginError::PinMismatch {
                plugin: plugin.to_string(),
                owner: owner.to_string(),
                pinned: pin,
                actual: digest,
            }));
        }
    }
    Ok((bytes, digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqflo_core::plugins::BUILTINS;

    #[test]
    fn every_builtin_is_embedded() {
        for builtin in BUILTINS {
            assert!(
                builtin.bytes().starts_with(b"\0asm"),
                "builtin:{} is not embedded",
                builtin.name()
            );
        }
    }
}
