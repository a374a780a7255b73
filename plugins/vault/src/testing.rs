//! Fixtures the unit tests share.

use reqflo_plugin_sdk::origin::Origin;

use crate::reference::VaultPath;

/// The Vault server the tests talk to.
pub fn origin() -> Origin {
    match Origin::parse_base("http://vault:8200") {
        Ok(origin) => origin,
        Err(why) => panic!("{why}"),
    }
}

/// A path the test knows to be valid.
pub fn path(text: &str) -> VaultPath {
    match VaultPath::parse(text) {
        Ok(path) => path,
        Err(why) => panic!("{text}: {why}"),
    }
}
