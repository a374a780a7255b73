//! The one place secret values live during a run.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

/// Values shorter than this cannot be redacted without masking ordinary text,
/// so they are refused at resolution.
pub const MIN_SECRET_BYTES: usize = 4;

/// An opaque handle to a value in the [`SecretStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId(u32);

/// Where a secret may be sent, from its registry entry (or, for what is
/// derived from it, its source's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// `hosts:`: the only destinations (`host` or `host:port`); `None` is anywhere.
    pub hosts: Option<Vec<String>>,
    /// `allow_http: true`: plain HTTP to a host other than loopback is meant.
    pub allow_http: bool,
}

/// What an id that is not in the store is bound to: nowhere special, and
/// never over plain HTTP beyond loopback.
static UNBOUND: Binding = Binding {
    hosts: None,
    allow_http: false,
};

/// Values a host holds itself and hands to one run, by reference: the Cloud
/// Runner's managed secrets, decrypted in the worker for that run. They
/// resolve through [`crate::plugins::HELD_PROVIDER`] like any provider's
/// values (the run's redactor learns each one) and are zeroed on drop.
#[derive(Default)]
pub struct HeldValues {
    values: std::collections::HashMap<String, SecretString>,
}

impl std::fmt::Debug for HeldValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl HeldValues {
    /// Hold `value` under `reference`.
    pub fn insert(&mut self, reference: &str, value: SecretString) {
        self.values.insert(reference.to_string(), value);
    }

    /// The value held under `reference`, as a fresh copy for the run's store.
    pub fn get(&self, reference: &str) -> Option<SecretString> {
        self.values
            .get(reference)
            .map(|v| SecretString::from(v.expose_secret().to_string()))
    }

    /// Whether a value is held under `reference`.
    pub fn contains(&self, reference: &str) -> bool {
        self.values.contains_key(reference)
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

struct Entry {
    label: String,
    value: SecretString,
    binding: Binding,
}

/// Resolved and captured secrets of one run; zeroed on drop (secrecy).
///
/// A journey's store is [layered](SecretStore::layered) over the run's: the
/// resolved secrets stay in one place, shared read-only by journeys running
/// side by side, and each journey's captures go into its own layer (ids past
/// the base's), so journeys never see each other's captures.
#[derive(Default)]
pub struct SecretStore {
    base: Option<Arc<SecretStore>>,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        if let Some(base) = &self.base {
            list.entries(base.entries.iter().map(|e| &e.label));
        }
        list.entries(self.entries.iter().map(|e| &e.label)).finish()
    }
}

impl SecretStore {
    /// An empty layer over `base`: reads fall through to it, inserts stay here.
    pub fn layered(base: &Arc<SecretStore>) -> SecretStore {
        SecretStore {
            base: Some(Arc::clone(base)),
            entries: Vec::new(),
        }
    }

    fn base_len(&self) -> usize {
        self.base.as_ref().map_or(0, |b| b.len())
    }

    fn entry(&self, id: SecretId) -> Option<&Entry> {
        let index = id.0 as usize;
        match &self.base {
            Some(base) if index < base.len() => base.entry(id),
            _ => self.entries.get(index - self.base_len()),
        }
    }

    /// Keep `value` under `label` (a secret or capture name, used in redaction
    /// markers); `binding` limits where it may be sent.
    pub fn insert(&mut self, label: &str, value: SecretString, binding: Binding) -> SecretId {
        let id = SecretId((self.base_len() + self.entries.len()) as u32);
        self.entries.push(Entry {
            label: label.to_string(),
            value,
            binding,
        });
        id
    }

    /// The name a secret is shown as.
    pub fn label(&self, id: SecretId) -> &str {
        self.entry(id).map(|e| e.label.as_str()).unwrap_or("?")
    }

    /// The destinations a secret is bound to, if any.
    pub fn hosts(&self, id: SecretId) -> Option<&[String]> {
        self.binding(id).hosts.as_deref()
    }

    /// Where a secret may be sent.
    pub fn binding(&self, id: SecretId) -> &Binding {
        self.entry(id).map_or(&UNBOUND, |e| &e.binding)
    }

    /// The value itself: only for building a request at the last moment.
    pub fn reveal(&self, id: SecretId) -> &str {
        self.entry(id)
            .map(|e| e.value.expose_secret())
            .unwrap_or("")
    }

    /// How many values are held, the base's included.
    pub fn len(&self) -> usize {
        self.base_len() + self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long each value of this layer is, in bytes (a server's "test
    /// resolve" shows a length class); never a value.
    pub fn lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().map(|e| e.value.expose_secret().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_labels_never_values() {
        let mut store = SecretStore::default();
        store.insert(
            "API_KEY",
            SecretString::from("canary-value-123"),
            Binding::default(),
        );
        let shown = format!("{store:?}");
        assert!(shown.contains("API_KEY"));
        assert!(!shown.contains("canary"));
    }

    #[test]
    fn layers_read_through_and_keep_their_own_inserts() {
        let mut run = SecretStore::default();
        let key = run.insert("KEY", SecretString::from("key-value"), Binding::default());
        let run = Arc::new(run);
        let mut a = SecretStore::layered(&run);
        let mut b = SecretStore::layered(&run);
        let ta = a.insert("TOKEN", SecretString::from("token-a"), Binding::default());
        let tb = b.insert("TOKEN", SecretString::from("token-b"), Binding::default());
        assert_eq!((a.reveal(key), b.reveal(key)), ("key-value", "key-value"));
        assert_eq!((a.reveal(ta), b.reveal(tb)), ("token-a", "token-b"));
        assert_eq!((a.len(), run.len()), (2, 1));
        // An id past what a layer holds reveals nothing.
        assert_eq!(run.reveal(ta), "");
        assert_eq!(a.label(SecretId(7)), "?");
        assert!(!format!("{a:?}").contains("value"));
    }
}
