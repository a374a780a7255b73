//! The reference shape most providers share: `ID[#KEY][?NAME=VALUE&…]`
//! (`prod/db#password?version=2`), split without judging the parts, which
//! each provider checks by its own rules.

/// A reference split at its first `#` and `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    /// What names the secret: up to the first `#` or `?`.
    pub id: &'a str,
    /// After `#`: a key inside the secret (a JSON field, say).
    pub key: Option<&'a str>,
    /// After `?`: options, `name=value` joined by `&`.
    pub query: Option<&'a str>,
}

/// Split `reference`: the ID ends at the first `#` or `?`; the key runs from
/// `#` to the next `?`, or to the end when the query came first.
///
/// ```
/// use reqflo_plugin_sdk::reference::{split, Parts};
/// assert_eq!(
///     split("prod/db#password?version=2"),
///     Parts { id: "prod/db", key: Some("password"), query: Some("version=2") }
/// );
/// ```
pub fn split(reference: &str) -> Parts<'_> {
    let Some(end) = reference.find(['#', '?']) else {
        return Parts {
            id: reference,
            key: None,
            query: None,
        };
    };
    let (id, rest) = reference.split_at(end);
    let (key, query) = if let Some(rest) = rest.strip_prefix('#') {
        match rest.split_once('?') {
            Some((key, query)) => (Some(key), Some(query)),
            None => (Some(rest), None),
        }
    } else {
        let rest = &rest[1..];
        match rest.split_once('#') {
            Some((query, key)) => (Some(key), Some(query)),
            None => (None, Some(rest)),
        }
    };
    Parts { id, key, query }
}

/// The options of a query, `name=value` pairs split at `&` (empty ones
/// skipped; a name without `=` has the value `""`), in order and as written.
pub fn options(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|option| !option.is_empty())
        .map(|option| option.split_once('=').unwrap_or((option, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(id: &'a str, key: Option<&'a str>, query: Option<&'a str>) -> Parts<'a> {
        Parts { id, key, query }
    }

    #[test]
    fn references_split_at_hash_and_question_mark() {
        assert_eq!(split("a/b"), parts("a/b", None, None));
        assert_eq!(split("a#k"), parts("a", Some("k"), None));
        assert_eq!(split("a#k?v=1"), parts("a", Some("k"), Some("v=1")));
        assert_eq!(split("a?v=1#k"), parts("a", Some("k"), Some("v=1")));
        assert_eq!(split("a?v=1"), parts("a", None, Some("v=1")));
        assert_eq!(split("#k"), parts("", Some("k"), None));
        assert_eq!(split("a#"), parts("a", Some(""), None));
    }

    #[test]
    fn options_are_pairs() {
        let all: Vec<_> = options("a=1&&b&c=x=y").collect();
        assert_eq!(all, [("a", "1"), ("b", ""), ("c", "x=y")]);
        assert_eq!(options("").count(), 0);
    }
}
