//! Encryption at rest: a random data key per secret version, sealed with
//! AES-256-GCM under the secret's identity as associated data, and wrapped by
//! a key-encryption key (KEK) from the master key file.
//!
//! ring provides AES-256-GCM and the system RNG: it is already in the
//! dependency tree (rustls), audited and constant-time, so no second crypto
//! stack is added. Nonces are random 96-bit values; each data key seals one
//! value once, so nonce reuse under a key cannot happen.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::transit::{Transit, TransitConfig, TransitError};

/// The master key file in the data folder.
pub const MASTER_KEY_FILE: &str = "master.key";
/// A new master key while a rotation re-wraps data keys under it.
pub const NEXT_KEY_FILE: &str = "master.key.next";

/// What went wrong with keys or ciphertexts. Never holds key or value bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("master key file {path}: {why}")]
    File {
        /// Which file.
        path: PathBuf,
        /// Why, in words.
        why: String,
    },
    /// A ciphertext did not open: wrong key, wrong row, or tampering.
    #[error("a stored secret did not decrypt ({0}): the master key or the row does not match")]
    Open(String),
    /// No key with this id is present.
    #[error("no master key with id {0} is present in the data folder")]
    UnknownKek(String),
    /// The system RNG failed.
    #[error("the system random number generator failed")]
    Random,
    /// OpenBao/Vault Transit could not wrap or unwrap.
    #[error(transparent)]
    Transit(#[from] TransitError),
}

/// One 256-bit key-encryption key, with an id derived from it (not secret:
/// a hash that names which key wrapped a row).
pub struct Kek {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek").field("id", &self.id).finish()
    }
}

impl Kek {
    fn from_bytes(key: Zeroizing<[u8; 32]>) -> Kek {
        let digest = Sha256::digest(
            b"reqflo-kek-id\0"
                .iter()
                .chain(key.iter())
                .copied()
                .collect::<Vec<u8>>(),
        );
        Kek {
            id: format!("file:{}", hex::encode(&digest[..8])),
            key,
        }
    }

    /// A fresh random key.
    pub fn generate() -> Result<Kek, KeyError> {
        let mut key = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(key.as_mut())
            .map_err(|_| KeyError::Random)?;
        Ok(Kek::from_bytes(key))
    }

    /// Its id, stored beside every data key it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Read a key file (base64 of 32 bytes, one line).
    pub fn read(path: &Path) -> Result<Kek, KeyError> {
        let bad = |why: String| KeyError::File {
            path: path.to_path_buf(),
            why,
        };
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| bad("is not base64".into()))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad(format!("holds {} bytes, not 32", bytes.len())))?;
        Ok(Kek::from_bytes(Zeroizing::new(key)))
    }

    /// Write it to `path`, readable by its owner only (mode 0600), failing
    /// if the file exists: a key is never overwritten.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let bad = |why: String| KeyError::File {
            path: path.to_path_buf(),
            why,
        };
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| bad(e.to_string()))?;
        let text = Zeroizing::new(format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode(self.key.as_ref())
        ));
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| bad(e.to_string()))
    }

    fn wrap(&self, data_key: &[u8; 32], aad: &str) -> Result<Vec<u8>, KeyError> {
        seal(&self.key, data_key, aad)
    }

    fn unwrap_key(&self, wrapped: &[u8], aad: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let plain = open(&self.key, wrapped, aad)?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Open("a data key of the wrong size".into()))?;
        Ok(Zeroizing::new(key))
    }
}

/// The keys of a data folder: the master key file (always there: created on
/// first start), a new one during a rotation, and the Transit key when
/// server.yaml names one (then new rows are wrapped by Transit). Rows name
/// the key that wrapped them, so each opens what it wrapped.
#[derive(Debug)]
pub struct Keyring {
    file: Kek,
    next: Option<Kek>,
    transit: Option<Transit>,
    folder: PathBuf,
}

/// A secret version as stored: the wrapped data key and the sealed value.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// Which KEK wrapped the data key.
    pub kek_id: String,
    /// The data key, sealed by the KEK.
    pub wrapped_key: Vec<u8>,
    /// The value, sealed by the data key (nonce first).
    pub ciphertext: Vec<u8>,
}

/// What a sealed value is bound to: moving a row to another name or version
/// makes it fail to open.
pub fn identity(name: &str, version: i64) -> String {
    format!("reqflo-secret\0{name}\0{version}")
}

impl Keyring {
    /// The keys in `folder`, creating the master key on first start, and the
    /// Transit key if one is configured. Returns whether the file was created.
    pub fn open_or_create(
        folder: &Path,
        transit: Option<TransitConfig>,
    ) -> Result<(Keyring, bool), KeyError> {
        let path = folder.join(MASTER_KEY_FILE);
        let created = !path.exists();
        if created {
            Kek::generate()?.write_new(&path)?;
        }
        let file = Kek::read(&path)?;
        let next_path = folder.join(NEXT_KEY_FILE);
        let next = if next_path.exists() {
            Some(Kek::read(&next_path)?)
        } else {
            None
        };
        let transit = transit.map(Transit::new).transpose()?;
        Ok((
            Keyring {
                file,
                next,
                transit,
                folder: folder.to_path_buf(),
            },
            created,
        ))
    }

    /// The id of the key new rows are wrapped with.
    pub fn current_id(&self) -> String {
        match &self.transit {
            Some(transit) => transit.id(),
            None => self.file.id().to_string(),
        }
    }

    fn file_by_id(&self, id: &str) -> Result<&Kek, KeyError> {
        std::iter::once(&self.file)
            .chain(self.next.as_ref())
            .find(|k| k.id() == id)
            .ok_or_else(|| KeyError::UnknownKek(id.to_string()))
    }

    async fn wrap(&self, data_key: &[u8; 32], aad: &str) -> Result<(String, Vec<u8>), KeyError> {
        match &self.transit {
            Some(transit) => Ok((transit.id(), transit.wrap(data_key).await?)),
            None => Ok((
                self.file.id().to_string(),
                self.file.wrap(data_key, &wrap_aad(aad, self.file.id()))?,
            )),
        }
    }

    async fn unwrap_key(
        &self,
        aad: &str,
        sealed: &Sealed,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        match &self.transit {
            Some(transit) if transit.id() == sealed.kek_id => {
                Ok(transit.unwrap_key(&sealed.wrapped_key).await?)
            }
            _ if sealed.kek_id.starts_with("transit:") => {
                Err(KeyError::UnknownKek(sealed.kek_id.clone()))
            }
            _ => {
                let kek = self.file_by_id(&sealed.kek_id)?;
                kek.unwrap_key(&sealed.wrapped_key, &wrap_aad(aad, kek.id()))
            }
        }
    }

    /// Seal `value` as version `version` of `name`, under a fresh data key.
    pub async fn seal(&self, name: &str, version: i64, value: &[u8]) -> Result<Sealed, KeyError> {
        let mut data_key = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(data_key.as_mut())
            .map_err(|_| KeyError::Random)?;
        let aad = identity(name, version);
        let ciphertext = seal(&data_key, value, &aad)?;
        let (kek_id, wrapped_key) = self.wrap(&data_key, &aad).await?;
        Ok(Sealed {
            kek_id,
            wrapped_key,
            ciphertext,
        })
    }

    /// Open what [`Keyring::seal`] sealed for `name` and `version`.
    pub async fn open(
        &self,
        name: &str,
        version: i64,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let aad = identity(name, version);
        let data_key = self.unwrap_key(&aad, sealed).await?;
        open(&data_key, &sealed.ciphertext, &aad)
    }

    /// Start a rotation: a new Transit key version, or a new key file beside
    /// the current one (or one left by a rotation cut short). Returns the id
    /// rows will carry.
    pub async fn begin_rotation(&mut self) -> Result<String, KeyError> {
        if let Some(transit) = &self.transit {
            transit.rotate().await?;
            return Ok(transit.id());
        }
        if self.next.is_none() {
            let next = Kek::generate()?;
            next.write_new(&self.folder.join(NEXT_KEY_FILE))?;
            self.next = Some(next);
        }
        self.next
            .as_ref()
            .map(|k| k.id().to_string())
            .ok_or(KeyError::Random)
    }

    /// Re-wrap one data key under the rotation's key; the value itself is
    /// not touched (and is never decrypted). With Transit, a row Transit
    /// wrapped is re-wrapped inside OpenBao, and a row the key file wrapped
    /// moves to Transit.
    pub async fn rewrap(
        &self,
        name: &str,
        version: i64,
        sealed: &Sealed,
    ) -> Result<Sealed, KeyError> {
        let aad = identity(name, version);
        let (kek_id, wrapped_key) = match (&self.transit, &self.next) {
            (Some(transit), _) if transit.id() == sealed.kek_id => {
                (transit.id(), transit.rewrap(&sealed.wrapped_key).await?)
            }
            (Some(transit), _) => {
                let data_key = self.unwrap_key(&aad, sealed).await?;
                (transit.id(), transit.wrap(&data_key).await?)
            }
            (None, Some(next)) => {
                let data_key = self.unwrap_key(&aad, sealed).await?;
                (
                    next.id().to_string(),
                    next.wrap(&data_key, &wrap_aad(&aad, next.id()))?,
                )
            }
            (None, None) => return Ok(sealed.clone()),
        };
        Ok(Sealed {
            kek_id,
            wrapped_key,
            ciphertext: sealed.ciphertext.clone(),
        })
    }

    /// Finish a rotation once every row is re-wrapped: a new key file
    /// becomes the master key file (the old one is removed).
    pub fn finish_rotation(&mut self) -> Result<(), KeyError> {
        let Some(next) = self.next.take() else {
            return Ok(());
        };
        let from = self.folder.join(NEXT_KEY_FILE);
        let to = self.folder.join(MASTER_KEY_FILE);
        fs::rename(&from, &to).map_err(|e| KeyError::File {
            path: to.clone(),
            why: e.to_string(),
        })?;
        self.file = next;
        Ok(())
    }
}

fn wrap_aad(identity: &str, kek_id: &str) -> String {
    format!("reqflo-data-key\0{identity}\0{kek_id}")
}

/// AES-256-GCM with a random nonce, written before the ciphertext.
fn seal(key: &[u8; 32], plain: &[u8], aad: &str) -> Result<Vec<u8>, KeyError> {
    let key = aead_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| KeyError::Random)?;
    let mut sealed = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad.as_bytes()),
        &mut sealed,
    )
    .map_err(|_| KeyError::Random)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    // The plaintext copy made above is sealed in place; nothing is left.
    Ok(out)
}

fn open(key: &[u8; 32], sealed: &[u8], aad: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let key = aead_key(key)?;
    if sealed.len() < NONCE_LEN {
        return Err(KeyError::Open("too short".into()));
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Open("bad nonce".into()))?;
    let mut buffer = Zeroizing::new(body.to_vec());
    let plain = key
        .open_in_place(nonce, Aad::from(aad.as_bytes()), buffer.as_mut_slice())
        .map_err(|_| KeyError::Open("authentication failed".into()))?;
    Ok(Zeroizing::new(plain.to_vec()))
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, KeyError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| KeyError::Open("bad key".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sealed_value_opens_only_as_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ring, created) = Keyring::open_or_create(dir.path(), None).expect("keys");
        assert!(created);
        let sealed = ring
            .seal("API_KEY", 1, b"sk_live_canary")
            .await
            .expect("seal");
        assert!(
            !sealed.ciphertext.windows(8).any(|w| w == b"sk_live_"),
            "the value is not in the ciphertext"
        );
        let opened = ring.open("API_KEY", 1, &sealed).await.expect("open");
        assert_eq!(opened.as_slice(), b"sk_live_canary");
        // Another row's identity does not open it.
        assert!(ring.open("OTHER", 1, &sealed).await.is_err());
        assert!(ring.open("API_KEY", 2, &sealed).await.is_err());
        // Tampering is detected.
        let mut bad = sealed.clone();
        if let Some(last) = bad.ciphertext.last_mut() {
            *last ^= 1;
        }
        assert!(ring.open("API_KEY", 1, &bad).await.is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, _) = Keyring::open_or_create(dir.path(), None).expect("keys");
        let mode = fs::metadata(dir.path().join(MASTER_KEY_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = Keyring::open_or_create(dir.path(), None).expect("keys");
        assert!(!created);
        assert_eq!(first.current_id(), again.current_id());
    }

    #[tokio::test]
    async fn rotation_rewraps_without_the_value_and_old_rows_still_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut ring, _) = Keyring::open_or_create(dir.path(), None).expect("keys");
        let sealed = ring.seal("K", 3, b"value-1234").await.expect("seal");
        let old_id = ring.current_id();
        let new_id = ring.begin_rotation().await.expect("begin");
        assert_ne!(old_id, new_id);
        let rewrapped = ring.rewrap("K", 3, &sealed).await.expect("rewrap");
        assert_eq!(rewrapped.kek_id, new_id);
        assert_eq!(rewrapped.ciphertext, sealed.ciphertext);
        ring.finish_rotation().expect("finish");
        assert_eq!(ring.current_id(), new_id);
        assert_eq!(
            ring.open("K", 3, &rewrapped)
                .await
                .expect("open")
                .as_slice(),
            b"value-1234"
        );
        // After the old key is gone, a row wrapped by it names a missing key.
        assert!(matches!(
            ring.open("K", 3, &sealed).await,
            Err(KeyError::UnknownKek(_))
        ));
        // A restart reads the new key.
        let (reopened, _) = Keyring::open_or_create(dir.path(), None).expect("keys");
        assert_eq!(reopened.current_id(), new_id);
    }
}
