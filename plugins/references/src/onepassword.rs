//! 1Password secret references: `op://vault/item/[section/]field[?attribute=…]`.
//!
//! The syntax follows 1Password's own
//! (<https://developer.1password.com/docs/cli/secret-reference-syntax/>), minus the
//! part a Connect server cannot answer (SSH key formats).

use std::fmt;

use reqflo_plugin_sdk::reference::options;

use crate::Error;

/// A parsed reference. Segments keep the user's spelling, so messages name
/// things the way the user wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Vault name or ID.
    pub vault: String,
    /// Item title or ID.
    pub item: String,
    /// Section label or ID, when the reference has four segments.
    pub section: Option<String>,
    /// Field label or ID.
    pub field: String,
    /// Which property of the field is the secret.
    pub attribute: Attribute,
}

/// The property of a field that a reference asks for (`?attribute=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// The field's value (the default).
    Value,
    /// The field's ID.
    Id,
    /// The field's type, as Connect reports it (`CONCEALED`, `STRING`…).
    Type,
    /// The field's purpose (`USERNAME`, `PASSWORD`, `NOTES`).
    Purpose,
    /// The field's label (`title` and `label` both ask for it).
    Label,
    /// The current code of a one-time password field (`otp`, as `op`
    /// documents it, and `totp`, as 1Password's SDKs write it).
    Otp,
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Attribute::Value => "value",
            Attribute::Id => "ID",
            Attribute::Type => "type",
            Attribute::Purpose => "purpose",
            Attribute::Label => "label",
            Attribute::Otp => "otp",
        })
    }
}

/// What a segment names, for messages that say which part is wrong.
#[derive(Clone, Copy)]
enum Part {
    Vault,
    Item,
    Section,
    Field,
}

impl Part {
    fn noun(self) -> &'static str {
        match self {
            Part::Vault => "vault",
            Part::Item => "item",
            Part::Section => "section",
            Part::Field => "field",
        }
    }
}

/// Parse an `op://` reference; every refusal is `InvalidReference`.
pub fn parse(reference: &str) -> Result<Reference, Error> {
    let rest = strip_scheme(reference).ok_or_else(|| {
        Error::InvalidReference(format!(
            "{reference:?} is not a 1Password secret reference: it must start with op://"
        ))
    })?;
    // Not `reference::split`: `#` is no separator here but a character a
    // name may not hold, and the message for it names the segment.
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let segments: Vec<&str> = path.split('/').collect();
    let (vault, item, section, field) = match segments.as_slice() {
        [vault, item, field] => (*vault, *item, None, *field),
        [vault, item, section, field] => (*vault, *item, Some(*section), *field),
        _ => {
            return Err(Error::InvalidReference(format!(
                "{reference:?} has {} path segments; a 1Password reference has 3 or 4: \
                 op://vault/item/[section/]field",
                segments.len()
            )));
        }
    };
    check_segment(reference, Part::Vault, vault)?;
    check_segment(reference, Part::Item, item)?;
    if let Some(section) = section {
        check_segment(reference, Part::Section, section)?;
    }
    check_segment(reference, Part::Field, field)?;
    Ok(Reference {
        vault: vault.to_string(),
        item: item.to_string(),
        section: section.map(str::to_string),
        field: field.to_string(),
        attribute: parse_query(query.unwrap_or(""))?,
    })
}

/// Whether a segment has the shape of a 1Password ID (26 lowercase base-32
/// characters). A name can have that shape too, so callers fall back to a
/// lookup by name when no object has that ID.
pub fn looks_like_id(segment: &str) -> bool {
    segment.len() == 26
        && segment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn strip_scheme(reference: &str) -> Option<&str> {
    let scheme = reference.get(..5)?;
    scheme
        .eq_ignore_ascii_case("op://")
        .then(|| &reference[5..])
}

/// 1Password's own rule: names with other characters must be referenced by ID.
fn check_segment(reference: &str, part: Part, segment: &str) -> Result<(), Error> {
    let noun = part.noun();
    if segment.is_empty() {
        return Err(Error::InvalidReference(format!(
            "the {noun} part of {reference:?} is empty"
        )));
    }
    match segment.chars().find(|&c| !supported(c)) {
        None => Ok(()),
        Some(c) => Err(Error::InvalidReference(format!(
            "the {noun} name {segment:?} has an unsupported character {:?}; \
             use the ID of that {noun} instead",
            c
        ))),
    }
}

fn supported(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.') || (c.is_whitespace() && !c.is_control())
}

fn parse_query(query: &str) -> Result<Attribute, Error> {
    let mut attribute = None;
    for (key, value) in options(query) {
        match key.to_ascii_lowercase().as_str() {
            "attribute" => {
                if attribute.is_some() {
                    return Err(Error::InvalidReference(
                        "`attribute=` is given twice".to_string(),
                    ));
                }
                attribute = Some(parse_attribute(value)?);
            }
            "ssh-format" => {
                return Err(Error::InvalidReference(
                    "`ssh-format=` is not supported by reqflo's 1Password provider".to_string(),
                ));
            }
            _ => {
                return Err(Error::InvalidReference(format!(
                    "unknown query parameter {key:?} in a 1Password reference \
                     (only `attribute=` is supported)"
                )));
            }
        }
    }
    Ok(attribute.unwrap_or(Attribute::Value))
}

fn parse_attribute(value: &str) -> Result<Attribute, Error> {
    match value.to_ascii_lowercase().as_str() {
        "value" => Ok(Attribute::Value),
        "id" => Ok(Attribute::Id),
        "type" => Ok(Attribute::Type),
        "purpose" => Ok(Attribute::Purpose),
        "title" | "label" => Ok(Attribute::Label),
        "otp" | "totp" => Ok(Attribute::Otp),
        _ => Err(Error::InvalidReference(format!(
            "`attribute={value}` is not one of value, id, type, purpose, title, label, otp, totp"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{accepted, refusals, refused};

    #[test]
    fn three_segments() {
        let r = accepted(parse("op://Prod/Stripe/api key"));
        assert_eq!(r.vault, "Prod");
        assert_eq!(r.item, "Stripe");
        assert_eq!(r.section, None);
        assert_eq!(r.field, "api key");
        assert_eq!(r.attribute, Attribute::Value);
    }

    #[test]
    fn four_segments() {
        let r = accepted(parse("op://Prod/Stripe/Live keys/secret_key"));
        assert_eq!(r.section.as_deref(), Some("Live keys"));
        assert_eq!(r.field, "secret_key");
    }

    #[test]
    fn scheme_is_case_insensitive_and_names_keep_their_case() {
        let r = accepted(parse("OP://Prod/Stripe/Key"));
        assert_eq!((r.vault.as_str(), r.field.as_str()), ("Prod", "Key"));
        accepted(parse("Op://a/b/c"));
    }

    #[test]
    fn unicode_dots_dashes_and_spaces_are_names() {
        let r = accepted(parse("op://Équipe-1/db.prod_main/mot de passe"));
        assert_eq!(r.vault, "Équipe-1");
        assert_eq!(r.item, "db.prod_main");
    }

    #[test]
    fn ids_are_recognised_but_names_of_that_shape_still_parse() {
        let r = accepted(parse(
            "op://abcdefghijklmnopqrstuvwxyz/0123456789abcdefghijklmnop/password",
        ));
        assert!(looks_like_id(&r.vault));
        assert!(looks_like_id(&r.item));
        assert!(!looks_like_id(&r.field));
        assert!(!looks_like_id("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
        assert!(!looks_like_id("abcdefghijklmnopqrstuvwxy"));
    }

    #[test]
    fn the_op_prefix_is_required() {
        refusals(
            parse,
            &[
                ("Prod/Stripe/key", "must start with op://"),
                ("op:/Prod/Stripe/key", "must start with op://"),
                ("", "must start with op://"),
            ],
        );
    }

    #[test]
    fn three_or_four_segments_only() {
        refusals(
            parse,
            &[
                ("op://Prod/Stripe", "has 2 path segments"),
                ("op://a/b/c/d/e", "has 5 path segments"),
            ],
        );
    }

    #[test]
    fn empty_segments_are_named() {
        refusals(
            parse,
            &[
                ("op://Prod//key", "the item part"),
                ("op://Prod/Stripe/", "the field part"),
                ("op:///Stripe/key", "the vault part"),
                ("op://Prod/Stripe//key", "the section part"),
            ],
        );
    }

    #[test]
    fn unsupported_characters_point_to_ids() {
        let message = refused(parse("op://Prod/Stripe \"live\"/key"));
        assert!(message.contains("item name"), "{message}");
        assert!(message.contains("'\"'"), "{message}");
        assert!(message.contains("use the ID of that item"), "{message}");
        refusals(
            parse,
            &[
                ("op://Prod/a#b/key", "unsupported character"),
                ("op://Prod/a%20b/key", "unsupported character"),
                ("op://Prod/a\\b/key", "unsupported character"),
                ("op://Prod/Stripe/Sec@/key", "use the ID of that section"),
                ("op://Prod/Stripe/ke\ty", "'\\t'"),
                ("op://Pr:od/Stripe/key", "ID of that vault"),
            ],
        );
    }

    #[test]
    fn attributes() {
        let cases = [
            ("?attribute=value", Attribute::Value),
            ("?attribute=id", Attribute::Id),
            ("?attribute=TYPE", Attribute::Type),
            ("?attribute=purpose", Attribute::Purpose),
            ("?attribute=title", Attribute::Label),
            ("?attribute=label", Attribute::Label),
            ("?attribute=otp", Attribute::Otp),
            ("?attribute=TOTP", Attribute::Otp),
            ("?", Attribute::Value),
        ];
        for (query, attribute) in cases {
            assert_eq!(
                accepted(parse(&format!("op://a/b/c{query}"))).attribute,
                attribute,
                "{query}"
            );
        }
    }

    #[test]
    fn unsupported_queries_are_refused_by_name() {
        refusals(
            parse,
            &[
                (
                    "op://a/b/c?ssh-format=openssh",
                    "`ssh-format=` is not supported",
                ),
                ("op://a/b/c?attribute=colour", "not one of"),
                ("op://a/b/c?foo=bar", "\"foo\""),
                ("op://a/b/c?attribute=id&attribute=type", "twice"),
            ],
        );
    }
}
