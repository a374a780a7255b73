//! A provider's `config:` map from `reqflo.yaml`.

use crate::Error;

/// The `config:` map of a provider, as the host passes it: keys and values
/// rendered as strings, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// The value of `key`, if it was given (the last one, if given twice).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether no key was given.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Every pair, in the order written.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Refuse any key not in `allowed`, as an invalid-reference error that
    /// names the key and what is accepted.
    pub fn expect_keys(&self, allowed: &[&str]) -> Result<(), Error> {
        let Some((key, _)) = self
            .pairs
            .iter()
            .find(|(key, _)| !allowed.contains(&key.as_str()))
        else {
            return Ok(());
        };
        Err(Error::InvalidReference(if allowed.is_empty() {
            format!("this provider takes no configuration, got `{key}`")
        } else {
            format!(
                "unknown config key `{key}` (expected {})",
                allowed.join(", ")
            )
        }))
    }
}

impl From<Vec<(String, String)>> for Config {
    fn from(pairs: Vec<(String, String)>) -> Config {
        Config { pairs }
    }
}

impl From<Config> for Vec<(String, String)> {
    fn from(config: Config) -> Vec<(String, String)> {
        config.pairs
    }
}

impl IntoIterator for Config {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(list: &[(&str, &str)]) -> Config {
        Config::from(
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn keys_are_looked_up_and_checked() {
        let c = config(&[("path", "a"), ("format", "json"), ("path", "b")]);
        assert_eq!(c.get("path"), Some("b"));
        assert_eq!(c.get("nope"), None);
        assert!(c.expect_keys(&["path", "format"]).is_ok());
        let refused = c.expect_keys(&["path"]).err();
        assert_eq!(
            refused.as_ref().map(Error::message),
            Some("unknown config key `format` (expected path)")
        );
        assert!(config(&[]).expect_keys(&[]).is_ok());
        assert!(config(&[]).is_empty());
        let none = config(&[("x", "1")]).expect_keys(&[]).err();
        assert_eq!(
            none.as_ref().map(|e| (e.kind(), e.message())),
            Some((
                "invalid-reference",
                "this provider takes no configuration, got `x`"
            ))
        );
        assert_eq!(c.clone().into_iter().count(), 3);
        assert_eq!(Vec::from(c).len(), 3);
    }
}
