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

/// A file in the temp directory, removed when dropped: a JWT for a test.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    /// A file holding `text`, named after `name` and this process so that
    /// tests running at once do not share one.
    pub fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("reqflo-vault-{}-{name}", std::process::id()));
        if let Err(e) = std::fs::write(&path, text) {
            panic!("{}: {e}", path.display());
        }
        TempFile(path)
    }

    /// The path, as a config value takes it.
    pub fn path(&self) -> &str {
        match self.0.to_str() {
            Some(path) => path,
            None => panic!("{} is not UTF-8", self.0.display()),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: a file left in the temp directory harms no one.
        let _ = std::fs::remove_file(&self.0);
    }
}
