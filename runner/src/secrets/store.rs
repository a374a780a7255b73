//! The one place secret values live during a run.

use secrecy::{ExposeSecret, SecretString};

/// Values shorter than this cannot be redacted without masking ordinary text,
/// so they are refused at resolution.
pub const MIN_SECRET_BYTES: usize = 4;

/// An opaque handle to a value in the [`SecretStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId(u32);

struct Entry {
    label: String,
    value: SecretString,
    hosts: Option<Vec<String>>,
}

/// Resolved and captured secrets of one run; zeroed on drop (secrecy).
#[derive(Default)]
pub struct SecretStore {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.label))
            .finish()
    }
}

impl SecretStore {
    /// Keep `value` under `label` (a secret or capture name, used in redaction
    /// markers); `hosts` limits where it may be sent.
    pub fn insert(
        &mut self,
        label: &str,
        value: SecretString,
        hosts: Option<Vec<String>>,
    ) -> SecretId {
        let id = SecretId(self.entries.len() as u32);
        self.entries.push(Entry {
            label: label.to_string(),
            value,
            hosts,
        });
        id
    }

    /// The name a secret is shown as.
    pub fn label(&self, id: SecretId) -> &str {
        self.entries
            .get(id.0 as usize)
            .map(|e| e.label.as_str())
            .unwrap_or("?")
    }

    /// The destinations a secret is bound to, if any.
    pub fn hosts(&self, id: SecretId) -> Option<&[String]> {
        self.entries
            .get(id.0 as usize)
            .and_then(|e| e.hosts.as_deref())
    }

    /// The value itself: only for building a request at the last moment.
    pub fn reveal(&self, id: SecretId) -> &str {
        self.entries
            .get(id.0 as usize)
            .map(|e| e.value.expose_secret())
            .unwrap_or("")
    }

    /// Every (label, value) pair, for building the redactor.
    pub fn labelled_values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.label.as_str(), e.value.expose_secret()))
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_labels_never_values() {
        let mut store = SecretStore::default();
        store.insert("API_KEY", SecretString::from("canary-value-123"), None);
        let shown = format!("{store:?}");
        assert!(shown.contains("API_KEY"));
        assert!(!shown.contains("canary"));
    }
}
