//! The one SCIM filter form Connect's list routes take: `attribute eq "value"`.
//!
//! Connect documents `name eq "..."` for vaults and `title eq "..."` / `tag eq "..."`
//! for items. Anything else (other operators, `and`/`or`, bad quoting) is refused,
//! so a client that builds a filter wrongly fails here as it would against Connect.

/// A parsed `attribute eq "value"` filter.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    /// The attribute, lowercased (SCIM attribute names are case-insensitive).
    pub(crate) attribute: String,
    /// The value, unescaped.
    pub(crate) value: String,
}

impl Filter {
    /// Parse `text`, or None if it is not exactly `attribute eq "value"`.
    pub(crate) fn parse(text: &str) -> Option<Filter> {
        let text = text.trim();
        let (attribute, rest) = text.split_once(char::is_whitespace)?;
        let rest = rest.trim_start();
        let (operator, rest) = rest.split_once(char::is_whitespace)?;
        if attribute.is_empty()
            || !attribute.chars().all(|c| c.is_ascii_alphanumeric())
            || !operator.eq_ignore_ascii_case("eq")
        {
            return None;
        }
        let value = parse_quoted(rest.trim_start())?;
        Some(Filter {
            attribute: attribute.to_ascii_lowercase(),
            value,
        })
    }

    /// Whether `candidate` equals the value, case and all: SCIM says `eq`
    /// on strings ignores case, but Connect compares names as written (a
    /// known report against Connect; the 1Password operator lists and
    /// compares itself), and a fake more lenient than the server would
    /// pass a client that fails against it.
    pub(crate) fn matches(&self, candidate: &str) -> bool {
        candidate == self.value
    }
}

/// The contents of `"..."` with `\"` and `\\` unescaped; the quotes must close `text`.
fn parse_quoted(text: &str) -> Option<String> {
    let mut chars = text.strip_prefix('"')?.chars();
    let mut value = String::new();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => match chars.next()? {
                escaped @ ('"' | '\\') => value.push(escaped),
                _ => return None,
            },
            c => value.push(c),
        }
    }
    chars.as_str().trim().is_empty().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::Filter;

    fn filter(attribute: &str, value: &str) -> Option<Filter> {
        Some(Filter {
            attribute: attribute.to_string(),
            value: value.to_string(),
        })
    }

    #[test]
    fn parses_the_documented_form_and_escapes() {
        assert_eq!(
            Filter::parse(r#"name eq "Demo Vault""#),
            filter("name", "Demo Vault")
        );
        assert_eq!(
            Filter::parse(r#"  Title  EQ  "say \"hi\" \\ bye"  "#),
            filter("title", r#"say "hi" \ bye"#)
        );
        assert_eq!(Filter::parse(r#"tag eq """#), filter("tag", ""));
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "",
            "name",
            r#"name ne "x""#,
            r#"name eq x"#,
            r#"name eq "x"#,
            r#"name eq "x" and title eq "y""#,
            r#"name eq "a\nb""#,
            r#"na.me eq "x""#,
            r#"name eq "x"""#,
        ] {
            assert_eq!(Filter::parse(text), None, "{text}");
        }
    }

    #[test]
    fn eq_minds_case_as_connect_does() {
        let f = Filter::parse(r#"name eq "Demo Vault""#).unwrap();
        assert!(f.matches("Demo Vault"));
        assert!(!f.matches("demo VAULT"));
        assert!(!f.matches("Demo Vault 2"));
    }
}
