//! A provider's `config:` map from `reqflo.yaml`.

mod de;

use serde::Deserialize;

use crate::Error;

/// The `config:` map of a provider, as the host passes it: keys and values
/// rendered as strings, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// A map of these pairs, in order (for tests and for callers that build
    /// one).
    pub fn of(pairs: &[(&str, &str)]) -> Config {
        Config {
            pairs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The map as the provider's own type, which derives `Deserialize`.
    ///
    /// Every value is text, parsed as the field asks: a number, `true` or
    /// `false`, an enum's variant name (`#[serde(rename_all = "snake_case")]`
    /// spells them as users write them), or a string. With
    /// `#[serde(deny_unknown_fields)]` an unknown key is refused by name,
    /// with the keys accepted. Every error is
    /// [`Error::InvalidReference`] naming the key.
    ///
    /// ```
    /// use reqflo_plugin_sdk::Config;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct Settings {
    ///     address: String,
    ///     #[serde(default)]
    ///     retries: u8,
    /// }
    ///
    /// let config = Config::of(&[("address", "http://vault:8200"), ("retries", "2")]);
    /// let settings: Settings = config.parse().map_err(|e| e.message().to_string())?;
    /// assert_eq!((settings.address.as_str(), settings.retries), ("http://vault:8200", 2));
    ///
    /// let typo = Config::of(&[("adress", "x")]).parse::<Settings>().err();
    /// assert_eq!(
    ///     typo.as_ref().map(|e| e.message()),
    ///     Some("unknown config key `adress` (expected address, retries)")
    /// );
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        // A key given twice counts once, as its last value (as `get` reads).
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(self.pairs.len());
        for (key, value) in &self.pairs {
            pairs.retain(|(k, _)| k != key);
            pairs.push((key, value));
        }
        T::deserialize(de::Pairs { pairs }).map_err(|e| Error::InvalidReference(e.0))
    }

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

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Auth {
        Token,
        AppRole,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Typed {
        address: String,
        port: Option<u16>,
        #[serde(default)]
        verbose: bool,
        auth: Option<Auth>,
    }

    fn typed(list: &[(&str, &str)]) -> Result<Typed, String> {
        Config::of(list)
            .parse::<Typed>()
            .map_err(|e| format!("{}: {}", e.kind(), e.message()))
    }

    #[test]
    fn config_parses_into_a_type() {
        assert_eq!(
            typed(&[("address", "a"), ("port", " 8200 "), ("verbose", "true")]),
            Ok(Typed {
                address: "a".into(),
                port: Some(8200),
                verbose: true,
                auth: None,
            })
        );
        // The last of a key given twice wins, as with `get`.
        let twice = typed(&[("address", "a"), ("auth", "token"), ("auth", "app_role")]);
        assert_eq!(twice.map(|t| t.auth), Ok(Some(Auth::AppRole)));
    }

    #[test]
    fn config_errors_name_the_key() {
        let cases = [
            (
                vec![("address", "a"), ("prot", "1")],
                "invalid-reference: unknown config key `prot` (expected address, port, verbose, auth)",
            ),
            (vec![], "invalid-reference: config.address is required"),
            (
                vec![("address", "a"), ("port", "eighty")],
                "invalid-reference: config.port is \"eighty\"; it must be a whole number from 0 to 65535",
            ),
            (
                vec![("address", "a"), ("verbose", "yes")],
                "invalid-reference: config.verbose is \"yes\"; it must be true or false",
            ),
            (
                vec![("address", "a"), ("auth", "ldap")],
                "invalid-reference: config.auth is \"ldap\"; it must be one of `token`, `app_role`",
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(typed(&pairs).err().as_deref(), Some(expected), "{pairs:?}");
        }
    }
}
