//! The JSON a Connect server returns, and picking a reference's field out of an
//! item.
//!
//! None of these types derives `Debug`: an item holds secret values, and a
//! stray `{:?}` must not be able to print one.

use serde::{Deserialize, Deserializer};

use crate::Error;
use crate::reference::{Attribute, Reference};

/// A vault as `/v1/vaults` lists it.
#[derive(Deserialize)]
pub struct Vault {
    /// The vault's ID.
    pub id: String,
    /// The vault's name.
    #[serde(default)]
    pub name: String,
}

/// An item as `/v1/vaults/{id}/items` lists it (without fields).
#[derive(Deserialize)]
pub struct ItemSummary {
    /// The item's ID.
    pub id: String,
    /// The item's title.
    #[serde(default)]
    pub title: String,
}

/// A full item, as `/v1/vaults/{id}/items/{id}` returns it.
#[derive(Deserialize)]
pub struct Item {
    /// The item's sections.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sections: Vec<Section>,
    /// The item's fields, values included.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub fields: Vec<Field>,
}

/// A section of an item.
#[derive(Deserialize)]
pub struct Section {
    /// The section's ID.
    pub id: String,
    /// The section's label, when it has one.
    #[serde(default)]
    pub label: Option<String>,
}

/// A field of an item.
#[derive(Deserialize)]
pub struct Field {
    /// The field's ID (`username`, `password`, or a generated one).
    pub id: String,
    /// `STRING`, `CONCEALED`, `EMAIL`…
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `USERNAME`, `PASSWORD` or `NOTES` for the built-in fields.
    #[serde(default)]
    pub purpose: Option<String>,
    /// The label shown in 1Password.
    #[serde(default)]
    pub label: Option<String>,
    /// The secret itself.
    #[serde(default)]
    pub value: Option<String>,
    /// The section the field sits in, if any.
    #[serde(default)]
    pub section: Option<SectionRef>,
}

/// A field's pointer to its section.
#[derive(Deserialize)]
pub struct SectionRef {
    /// The section's ID.
    pub id: String,
}

/// Connect may send `null` for an empty list; both mean "none".
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Case-insensitive equality, as 1Password compares names.
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// Whether `segment` is this field's ID or label.
fn names(field: &Field, segment: &str) -> bool {
    same_name(&field.id, segment)
        || field
            .label
            .as_deref()
            .is_some_and(|l| same_name(l, segment))
}

fn unsectioned(field: &Field) -> bool {
    field.section.as_ref().is_none_or(|s| s.id.is_empty())
}

/// The field `reference` points to within `item`.
pub fn select<'a>(item: &'a Item, reference: &Reference) -> Result<&'a Field, Error> {
    let Reference {
        vault,
        item: title,
        field: wanted,
        ..
    } = reference;
    let mut matches: Vec<&Field> = match &reference.section {
        Some(section) => {
            let ids: Vec<&str> = item
                .sections
                .iter()
                .filter(|s| {
                    same_name(&s.id, section)
                        || s.label.as_deref().is_some_and(|l| same_name(l, section))
                })
                .map(|s| s.id.as_str())
                .collect();
            if ids.is_empty() {
                return Err(Error::NotFound(format!(
                    "no section {section:?} in item {title:?} of vault {vault:?}"
                )));
            }
            item.fields
                .iter()
                .filter(|f| {
                    f.section
                        .as_ref()
                        .is_some_and(|s| ids.contains(&s.id.as_str()))
                })
                .filter(|f| names(f, wanted))
                .collect()
        }
        None => item.fields.iter().filter(|f| names(f, wanted)).collect(),
    };
    // Narrow ties the way a user would read them: a top-level field over one
    // tucked in a section, then an exact ID over a mere label.
    if matches.len() > 1 && reference.section.is_none() && matches.iter().any(|f| unsectioned(f)) {
        matches.retain(|f| unsectioned(f));
    }
    if matches.len() > 1 && matches.iter().any(|f| same_name(&f.id, wanted)) {
        matches.retain(|f| same_name(&f.id, wanted));
    }
    match (matches.as_slice(), &reference.section) {
        ([field], _) => Ok(field),
        ([], Some(section)) => Err(Error::NotFound(format!(
            "no field {wanted:?} in section {section:?} of item {title:?} in vault {vault:?}"
        ))),
        ([], None) => Err(Error::NotFound(format!(
            "no field {wanted:?} in item {title:?} of vault {vault:?}"
        ))),
        (_, Some(section)) => Err(Error::InvalidReference(format!(
            "several fields named {wanted:?} in section {section:?} of item {title:?}; \
             use the field's ID"
        ))),
        (several, None) if several.iter().all(|f| unsectioned(f)) => Err(Error::InvalidReference(
            format!("several fields named {wanted:?} in item {title:?}; use the field's ID"),
        )),
        (several, None) => Err(Error::InvalidReference(format!(
            "several fields named {wanted:?} in item {title:?}; add the section: \
             op://{vault}/{title}/SECTION/{wanted} (sections: {})",
            section_labels(item, several)
        ))),
    }
}

/// The sections the candidates sit in, by label where they have one.
fn section_labels(item: &Item, fields: &[&Field]) -> String {
    let mut labels: Vec<String> = Vec::new();
    for field in fields {
        let Some(section) = &field.section else {
            continue;
        };
        let known = item.sections.iter().find(|s| s.id == section.id);
        let label = known
            .and_then(|s| s.label.as_deref())
            .filter(|l| !l.is_empty())
            .unwrap_or(&section.id);
        let label = format!("{label:?}");
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels.join(", ")
}

/// The requested attribute of `field`; empty counts as missing, since an empty
/// secret is never what a request needs.
pub fn attribute<'a>(field: &'a Field, reference: &Reference) -> Result<&'a str, Error> {
    let found = match reference.attribute {
        Attribute::Value => field.value.as_deref(),
        Attribute::Id => Some(field.id.as_str()),
        Attribute::Type => field.kind.as_deref(),
        Attribute::Purpose => field.purpose.as_deref(),
        Attribute::Label => field.label.as_deref(),
    };
    match found {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(Error::NotFound(format!(
            "field {:?} of item {:?} has no {}",
            reference.field, reference.item, reference.attribute
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse;
    use reqflo_plugin_sdk::testing::refused;

    const ITEM: &str = r#"{
        "id": "itemitemitemitemitemitemit",
        "title": "Stripe",
        "sections": [
            {"id": "live", "label": "Live keys"},
            {"id": "test", "label": "Test keys"},
            {"id": "aaaaaaaaaaaaaaaaaaaaaaaaaa"}
        ],
        "fields": [
            {"id": "username", "type": "STRING", "purpose": "USERNAME", "label": "username", "value": "acme"},
            {"id": "password", "type": "CONCEALED", "purpose": "PASSWORD", "label": "password", "value": "top"},
            {"id": "notesPlain", "type": "STRING", "purpose": "NOTES", "label": "notesPlain"},
            {"id": "f1", "type": "CONCEALED", "label": "secret key", "value": "sk_live", "section": {"id": "live"}},
            {"id": "f2", "type": "CONCEALED", "label": "secret key", "value": "sk_test", "section": {"id": "test"}},
            {"id": "f3", "type": "STRING", "label": "Password", "value": "in-section", "section": {"id": "live"}},
            {"id": "f4", "type": "STRING", "label": "twin", "value": "a"},
            {"id": "f5", "type": "STRING", "label": "twin", "value": "b"},
            {"id": "f6", "type": "STRING", "label": "empty", "value": ""}
        ]
    }"#;

    fn item() -> Item {
        match serde_json::from_str(ITEM) {
            Ok(item) => item,
            Err(e) => panic!("fixture: {e}"),
        }
    }

    fn get(reference: &str) -> Result<String, Error> {
        let item = item();
        let reference = parse(reference)?;
        let field = select(&item, &reference)?;
        attribute(field, &reference).map(str::to_string)
    }

    /// Each reference gives the value paired with it.
    fn found(cases: &[(&str, &str)]) {
        for (reference, value) in cases {
            assert_eq!(get(reference).as_deref(), Ok(*value), "{reference}");
        }
    }

    /// Each reference is not found, with the message paired with it.
    fn not_found(cases: &[(&str, &str)]) {
        for (reference, message) in cases {
            assert_eq!(
                refused(get(reference), "not-found"),
                *message,
                "{reference}"
            );
        }
    }

    #[test]
    fn by_label_by_id_and_case_insensitively() {
        found(&[
            ("op://Prod/Stripe/username", "acme"),
            ("op://Prod/Stripe/USERNAME", "acme"),
            ("op://Prod/Stripe/f4", "a"),
        ]);
    }

    #[test]
    fn a_top_level_field_wins_over_one_in_a_section() {
        found(&[("op://Prod/Stripe/password", "top")]);
    }

    #[test]
    fn in_a_section_by_label_or_id() {
        found(&[
            ("op://Prod/Stripe/Live keys/secret key", "sk_live"),
            ("op://Prod/Stripe/test/Secret Key", "sk_test"),
            ("op://Prod/Stripe/live/password", "in-section"),
        ]);
    }

    #[test]
    fn ambiguous_fields_ask_for_a_section_or_an_id() {
        assert_eq!(
            refused(get("op://Prod/Stripe/secret key"), "invalid-reference"),
            "several fields named \"secret key\" in item \"Stripe\"; add the section: \
             op://Prod/Stripe/SECTION/secret key (sections: \"Live keys\", \"Test keys\")"
        );
        let twin = refused(get("op://Prod/Stripe/twin"), "invalid-reference");
        assert!(twin.ends_with("use the field's ID"), "{twin}");
    }

    #[test]
    fn missing_fields_and_sections() {
        not_found(&[
            (
                "op://Prod/Stripe/pin",
                "no field \"pin\" in item \"Stripe\" of vault \"Prod\"",
            ),
            (
                "op://Prod/Stripe/Live keys/pin",
                "no field \"pin\" in section \"Live keys\" of item \"Stripe\" in vault \"Prod\"",
            ),
            (
                "op://Prod/Stripe/Old keys/secret key",
                "no section \"Old keys\" in item \"Stripe\" of vault \"Prod\"",
            ),
        ]);
    }

    #[test]
    fn empty_or_absent_values_are_not_found() {
        not_found(&[
            (
                "op://Prod/Stripe/empty",
                "field \"empty\" of item \"Stripe\" has no value",
            ),
            (
                "op://Prod/Stripe/notesPlain",
                "field \"notesPlain\" of item \"Stripe\" has no value",
            ),
        ]);
        assert!(get("op://Prod/Stripe/f4?attribute=purpose").is_err());
    }

    #[test]
    fn other_attributes() {
        found(&[
            ("op://Prod/Stripe/password?attribute=type", "CONCEALED"),
            ("op://Prod/Stripe/password?attribute=purpose", "PASSWORD"),
            ("op://Prod/Stripe/Live keys/secret key?attribute=id", "f1"),
            ("op://Prod/Stripe/f1?attribute=label", "secret key"),
        ]);
    }

    #[test]
    fn null_lists_are_empty() {
        let item: Result<Item, _> = serde_json::from_str(r#"{"sections": null}"#);
        assert!(item.is_ok_and(|i| i.fields.is_empty() && i.sections.is_empty()));
    }
}
