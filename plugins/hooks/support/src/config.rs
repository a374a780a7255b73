//! What the built-in hooks share in reading their `config:` map and in
//! choosing among the secrets granted to them, as plain Rust so that it is
//! tested natively.

use crate::{Error, Secret};

/// The `config:` pairs in order, refusing a key given twice (the host's map
/// cannot hold one twice, but a hook must not guess which one was meant).
pub fn each_once(
    config: &[(String, String)],
) -> impl Iterator<Item = Result<(&str, &str), String>> {
    config.iter().enumerate().map(|(i, (key, value))| {
        if config[..i].iter().any(|(k, _)| k == key) {
            Err(format!("config `{key}` is given twice"))
        } else {
            Ok((key.as_str(), value.as_str()))
        }
    })
}

/// The refusal of a key that is not one of `known`.
pub fn unknown(key: &str, known: &[&str]) -> String {
    format!("unknown config `{key}` (known: {})", known.join(", "))
}

/// Config `secret`: which granted secret is meant, by name.
pub fn secret_name(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("is empty; name one of the hook's secrets".into());
    }
    Ok(value.to_string())
}

/// Check a header name is an HTTP token (RFC 9110 §5.1).
pub fn header_name(name: &str) -> Result<String, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("`{name}` is not a valid header name"));
    }
    Ok(name.to_string())
}

/// How a hook's messages speak of the one secret it needs.
pub struct Role {
    /// What to list under `secrets:` when none is granted: "the signing key".
    pub noun: &'static str,
    /// What config `secret` picks among several: the one that "signs".
    pub which: &'static str,
}

/// Which of the `granted` secrets' names the hook needs: the one config
/// `secret` names, else the only one.
pub fn choose(granted: &[&str], named: Option<&str>, role: &Role) -> Result<usize, String> {
    match named {
        Some(name) => granted.iter().position(|g| *g == name).ok_or_else(|| {
            format!(
                "config `secret` names `{name}`, which is not granted to this hook (granted: {})",
                list(granted)
            )
        }),
        None if granted.len() == 1 => Ok(0),
        None if granted.is_empty() => Err(format!(
            "no secret is granted to this hook; list {} under `secrets:`",
            role.noun
        )),
        None => Err(format!(
            "several secrets are granted ({}); say which one {} with config `secret`",
            list(granted),
            role.which
        )),
    }
}

/// The granted secret [`choose`] picks, with its name.
pub fn chosen<'a, 's>(
    secrets: &'a [(String, &'s Secret)],
    named: Option<&str>,
    role: &Role,
) -> Result<(&'a str, &'s Secret), Error> {
    let names: Vec<&str> = secrets.iter().map(|(n, _)| n.as_str()).collect();
    let index = choose(&names, named, role).map_err(Error::Invalid)?;
    let (name, secret) = &secrets[index];
    Ok((name, secret))
}

/// Names for a message: `` `a`, `b` ``, or `none`.
fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::config;

    const KEY: Role = Role {
        noun: "the key",
        which: "is the key",
    };

    #[test]
    fn each_key_is_read_once() {
        let pairs = config(&[("a", "1"), ("b", "2"), ("a", "3")]);
        let read: Vec<_> = each_once(&pairs).collect();
        assert_eq!(
            read,
            [
                Ok(("a", "1")),
                Ok(("b", "2")),
                Err("config `a` is given twice".into())
            ]
        );
        assert_eq!(
            unknown("c", &["a", "b"]),
            "unknown config `c` (known: a, b)"
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(secret_name("k"), Ok("k".into()));
        assert_eq!(
            secret_name(""),
            Err("is empty; name one of the hook's secrets".into())
        );
        assert_eq!(header_name("X-Key"), Ok("X-Key".into()));
        assert_eq!(
            header_name("X Key"),
            Err("`X Key` is not a valid header name".into())
        );
    }

    #[test]
    fn the_secret_is_the_named_or_only_one() {
        assert_eq!(choose(&["k"], None, &KEY), Ok(0));
        assert_eq!(choose(&["a", "b"], Some("b"), &KEY), Ok(1));
        let refusals = [
            (
                &[][..],
                None,
                "no secret is granted to this hook; list the key under `secrets:`",
            ),
            (
                &["a", "b"],
                None,
                "several secrets are granted (`a`, `b`); say which one is the key with config `secret`",
            ),
            (
                &["a"],
                Some("b"),
                "config `secret` names `b`, which is not granted to this hook (granted: `a`)",
            ),
            (
                &[],
                Some("b"),
                "config `secret` names `b`, which is not granted to this hook (granted: none)",
            ),
        ];
        for (granted, named, message) in refusals {
            assert_eq!(
                choose(granted, named, &KEY),
                Err(message.into()),
                "{granted:?} {named:?}"
            );
        }
    }
}
