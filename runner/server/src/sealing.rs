//! Managed values on their way to a private agent: sealed, per run, to the
//! agent's own X25519 public key (libsodium's sealed box), so that only
//! that agent can open them. The server never stores a sealed value; the
//! agent never stores an opened one.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_box::aead::OsRng;
use crypto_box::{PublicKey, SecretKey};
use zeroize::Zeroizing;

/// The agent's key file in its data folder (mode 0600).
pub const AGENT_KEY_FILE: &str = "agent.key";

/// An agent's key pair.
pub struct AgentKey {
    secret: SecretKey,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey")
            .field("public", &self.public_text())
            .finish_non_exhaustive()
    }
}

impl AgentKey {
    /// The key in `folder`, made (0600) on first use.
    pub fn load_or_create(folder: &Path) -> Result<AgentKey, String> {
        let path = folder.join(AGENT_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let secret = SecretKey::from_slice(&bytes).map_err(|_| {
                    format!(
                        "{}: not an agent key (32 bytes); delete it to make a new one",
                        path.display()
                    )
                })?;
                Ok(AgentKey { secret })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = SecretKey::generate(&mut OsRng);
                write_private(&path, &secret.to_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(AgentKey { secret })
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// The public key, as the server keeps it (base64).
    pub fn public_text(&self) -> String {
        STANDARD.encode(self.secret.public_key().as_bytes())
    }

    /// Open a value sealed to this key.
    pub fn open(&self, sealed: &str) -> Result<Zeroizing<Vec<u8>>, String> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| "a sealed value is not base64".to_string())?;
        self.secret
            .unseal(&bytes)
            .map(Zeroizing::new)
            .map_err(|_| "a sealed value does not open with this agent's key".to_string())
    }
}

/// A public key sent by an agent, checked.
pub fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| "`public_key` is not base64".to_string())?;
    PublicKey::from_slice(&bytes)
        .map_err(|_| "`public_key` is not an X25519 public key (32 bytes)".to_string())
}

/// `value` sealed to `key`, as base64.
pub fn seal(key: &PublicKey, value: &[u8]) -> Result<String, String> {
    key.seal(&mut OsRng, value)
        .map(|sealed| STANDARD.encode(sealed))
        .map_err(|_| "a value could not be sealed".to_string())
}

/// Write `bytes` to a new file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_sealed_to_an_agent_opens_only_with_its_key() {
        let folder = tempfile::tempdir().expect("temp dir");
        let key = AgentKey::load_or_create(folder.path()).expect("key");
        let again = AgentKey::load_or_create(folder.path()).expect("key again");
        assert_eq!(key.public_text(), again.public_text());
        let public = parse_public_key(&key.public_text()).expect("public key");
        let sealed = seal(&public, b"sk_live_canary").expect("sealed");
        assert!(!sealed.contains("sk_live"));
        assert_eq!(
            key.open(&sealed).expect("opens").as_slice(),
            b"sk_live_canary"
        );
        let other = tempfile::tempdir().expect("temp dir");
        let stranger = AgentKey::load_or_create(other.path()).expect("key");
        assert!(stranger.open(&sealed).is_err());
        assert!(!format!("{key:?}").contains(&STANDARD.encode(key.secret.to_bytes())));
        assert!(parse_public_key("not base64!").is_err());
        assert!(parse_public_key(&STANDARD.encode([1u8; 31])).is_err());
    }
}
