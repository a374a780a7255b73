//! The bytes of a resolved secret, on their way to the host.

use std::fmt;

/// A resolved secret's bytes. It never prints them (`Debug` shows
/// `SecretValue([redacted])`) and zeroes them when dropped, after the host
/// has taken its copy.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// The bytes, for the hand-over to the host and for tests.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        for byte in self.0.iter_mut() {
            // Volatile, so the compiler cannot drop the store as dead.
            // SAFETY: `byte` is a valid, exclusive reference into the vector.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(bytes: Vec<u8>) -> SecretValue {
        SecretValue(bytes)
    }
}

impl From<String> for SecretValue {
    fn from(text: String) -> SecretValue {
        SecretValue(text.into_bytes())
    }
}

impl From<&str> for SecretValue {
    fn from(text: &str) -> SecretValue {
        SecretValue(text.as_bytes().to_vec())
    }
}

impl From<&[u8]> for SecretValue {
    fn from(bytes: &[u8]) -> SecretValue {
        SecretValue(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let value = SecretValue::from("hunter2-canary");
        assert_eq!(format!("{value:?}"), "SecretValue([redacted])");
        assert_eq!(value.expose_bytes(), b"hunter2-canary");
        assert_eq!(SecretValue::from(String::from("ab")).expose_bytes(), b"ab");
        assert_eq!(
            SecretValue::from(&b"\x00\xff"[..]).expose_bytes(),
            b"\x00\xff"
        );
    }
}
