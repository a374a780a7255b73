//! The JSON a Connect server returns, and picking a reference's field out of an
//! item.
//!
//! None of these types derives `Debug`: an item holds secret values, and a
//! stray `{:?}` must not be able to print one.

use serde::{Deserialize, Deserializer};

use crate::Error;
use crate::reference::{Attribute, Reference};

/// The most a secret may hold: the host refuses a larger one, so a larger
/// file is refused here first, with a message that names it.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

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
    /// `ARCHIVED` (or `DELETED`) for an item out of use; absent otherwise.
    #[serde(default)]
    pub state: Option<String>,
}

impl ItemSummary {
    /// Whether the item is in use: `op` finds no archived item by name.
    pub fn active(&self) -> bool {
        self.state
            .as_deref()
            .is_none_or(|s| s.is_empty() || s == "ACTIVE")
    }
}

/// A full item, as `/v1/vaults/{id}/items/{id}` returns it.
#[derive(Deserialize)]
pub struct Item {
    /// The item's ID (to ask for its files).
    #[serde(default)]
    pub id: String,
    /// The item's sections.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sections: Vec<Section>,
    /// The item's fields, values included.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub fields: Vec<Field>,
    /// The files attached to the item, without their content.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub files: Vec<File>,
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
    /// The secret itself (an `otpauth://` URI for a one-time password).
    #[serde(default)]
    pub value: Option<String>,
    /// A one-time password's current code, as Connect 1.4.0 and later send it.
    #[serde(default)]
    pub totp: Option<String>,
    /// The section the field sits in, if any.
    #[serde(default)]
    pub section: Option<SectionRef>,
}

/// A file attached to an item; its content is a request of its own. Every
/// key may be missing (an ID that is, asks for a file that Connect answers
/// 404 to, which says "not found").
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct File {
    /// The file's ID.
    pub id: String,
    /// The file's name (`key.pem`).
    pub name: Option<String>,
    /// The content's length in bytes, as Connect reports it.
    pub size: Option<u64>,
    /// The section the file sits in, if any.
    pub section: Option<SectionRef>,
}

/// A field's or file's pointer to its section.
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

/// What a reference's last segment can name: fields and files alike have an
/// ID, a name and maybe a section.
trait Entry {
    /// What messages call it (`field`).
    const NOUN: &'static str;
    /// Its ID.
    fn id(&self) -> &str;
    /// Its label or file name.
    fn name(&self) -> Option<&str>;
    /// Its section, if any.
    fn section(&self) -> Option<&SectionRef>;
}

/// Fields and files are named alike; only the name's key differs.
macro_rules! entry {
    ($type:ty, $noun:literal, $name:ident) => {
        impl Entry for $type {
            const NOUN: &'static str = $noun;
            fn id(&self) -> &str {
                &self.id
            }
            fn name(&self) -> Option<&str> {
                self.$name.as_deref()
            }
            fn section(&self) -> Option<&SectionRef> {
                self.section.as_ref()
            }
        }
    };
}

entry!(Field, "field", label);
entry!(File, "file", name);

/// Whether `segment` is this entry's ID or name.
fn names(entry: &impl Entry, segment: &str) -> bool {
    same_name(entry.id(), segment) || entry.name().is_some_and(|l| same_name(l, segment))
}

fn unsectioned(entry: &impl Entry) -> bool {
    entry.section().is_none_or(|s| s.id.is_empty())
}

/// What a reference points to within an item: a field, or, when no field
/// has that name, an attached file (as `op` resolves it).
pub enum Target<'a> {
    /// A field, whose attribute is the secret.
    Field(&'a Field),
    /// A file, whose content is fetched apart.
    File(&'a File),
}

/// The field or file `reference` points to within `item`.
pub fn select<'a>(item: &'a Item, reference: &Reference) -> Result<Target<'a>, Error> {
    let sections = section_ids(item, reference)?;
    let fields = matching(&item.fields, sections.as_deref(), reference);
    if fields.is_empty() {
        let files = matching(&item.files, sections.as_deref(), reference);
        if !files.is_empty() {
            return only(item, reference, files).map(Target::File);
        }
    }
    only(item, reference, fields).map(Target::Field)
}

/// The IDs of the sections the reference's section segment names, or `None`
/// for a reference without one.
fn section_ids<'a>(item: &'a Item, reference: &Reference) -> Result<Option<Vec<&'a str>>, Error> {
    let Some(section) = &reference.section else {
        return Ok(None);
    };
    let ids: Vec<&str> = item
        .sections
        .iter()
        .filter(|s| {
            same_name(&s.id, section) || s.label.as_deref().is_some_and(|l| same_name(l, section))
        })
        .map(|s| s.id.as_str())
        .collect();
    if ids.is_empty() {
        let Reference { vault, item, .. } = reference;
        return Err(Error::NotFound(format!(
            "no section {section:?} in item {item:?} of vault {vault:?}"
        )));
    }
    Ok(Some(ids))
}

/// The entries the last segment names (in the given sections, if any), ties
/// narrowed the way a user would read them: a top-level entry over one tucked
/// in a section, then an exact ID over a mere name.
fn matching<'a, T: Entry>(
    entries: &'a [T],
    sections: Option<&[&str]>,
    reference: &Reference,
) -> Vec<&'a T> {
    let wanted = &reference.field;
    let mut matches: Vec<&T> = entries
        .iter()
        .filter(|e| match sections {
            Some(ids) => e.section().is_some_and(|s| ids.contains(&s.id.as_str())),
            None => true,
        })
        .filter(|e| names(*e, wanted))
        .collect();
    if matches.len() > 1 && sections.is_none() && matches.iter().any(|e| unsectioned(*e)) {
        matches.retain(|e| unsectioned(*e));
    }
    if matches.len() > 1 && matches.iter().any(|e| same_name(e.id(), wanted)) {
        matches.retain(|e| same_name(e.id(), wanted));
    }
    matches
}

/// The one entry of `matches`, or why there is not exactly one.
fn only<'a, T: Entry>(
    item: &Item,
    reference: &Reference,
    matches: Vec<&'a T>,
) -> Result<&'a T, Error> {
    let Reference {
        vault,
        item: title,
        field: wanted,
        ..
    } = reference;
    let noun = T::NOUN;
    match (matches.as_slice(), &reference.section) {
        ([entry], _) => Ok(entry),
        ([], Some(section)) => Err(Error::NotFound(format!(
            "no field {wanted:?} in section {section:?} of item {title:?} in vault {vault:?}"
        ))),
        ([], None) => Err(Error::NotFound(format!(
            "no field {wanted:?} in item {title:?} of vault {vault:?}"
        ))),
        (_, Some(section)) => Err(Error::InvalidReference(format!(
            "several {noun}s named {wanted:?} in section {section:?} of item {title:?}; \
             use the {noun}'s ID"
        ))),
        (several, None) if several.iter().all(|e| unsectioned(*e)) => Err(Error::InvalidReference(
            format!("several {noun}s named {wanted:?} in item {title:?}; use the {noun}'s ID"),
        )),
        (several, None) => Err(Error::InvalidReference(format!(
            "several {noun}s named {wanted:?} in item {title:?}; add the section: \
             op://{vault}/{title}/SECTION/{wanted} (sections: {})",
            section_labels(item, several)
        ))),
    }
}

/// The sections the candidates sit in, by label where they have one.
fn section_labels<T: Entry>(item: &Item, entries: &[&T]) -> String {
    let mut labels: Vec<String> = Vec::new();
    for entry in entries {
        let Some(section) = entry.section() else {
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
        // A code is computed for its moment, by `otp::code`, never read here.
        Attribute::Otp => None,
    };
    match found {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(Error::NotFound(format!(
            "field {:?} of item {:?} has no {}",
            reference.field, reference.item, reference.attribute
        ))),
    }
}

/// What a reference asks of a file.
pub enum FileAttribute<'a> {
    /// Its content, fetched apart (the default, `?attribute=value`).
    Content,
    /// Its ID (`?attribute=id`).
    Id(&'a str),
}

/// What `reference` asks of `file`: a field's other attributes do not apply.
pub fn file_attribute<'a>(
    file: &'a File,
    reference: &Reference,
) -> Result<FileAttribute<'a>, Error> {
    match reference.attribute {
        Attribute::Value => Ok(FileAttribute::Content),
        Attribute::Id => Ok(FileAttribute::Id(&file.id)),
        other => Err(Error::InvalidReference(format!(
            "{:?} in item {:?} is a file, which has no {other}; a file gives its content \
             (the default) or its ID (?attribute=id)",
            reference.field, reference.item
        ))),
    }
}

/// Refuse a file larger than a secret may be, by what Connect says its size
/// is or by what it sent: the message names the file and its size, never
/// any of its content.
pub fn check_size(reference: &Reference, size: u64) -> Result<(), Error> {
    if size <= MAX_SECRET_BYTES as u64 {
        return Ok(());
    }
    Err(Error::InvalidReference(format!(
        "file {:?} of item {:?} is {size} bytes; a secret may hold at most {} KiB",
        reference.field,
        reference.item,
        MAX_SECRET_BYTES / 1024
    )))
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
        ],
        "files": [
            {"id": "file1", "name": "key.pem", "size": 10, "content_path": "/v1/x"},
            {"id": "file2", "name": "cert.pem", "size": 3, "section": {"id": "live"}},
            {"id": "file3", "name": "cert.pem", "size": 3, "section": {"id": "test"}},
            {"id": "file4", "name": "username", "size": 1},
            {"id": "file5", "name": "twin.txt", "size": 1},
            {"id": "file6", "name": "twin.txt", "size": 1}
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
        match select(&item, &reference)? {
            Target::Field(field) => attribute(field, &reference).map(str::to_string),
            Target::File(file) => match file_attribute(file, &reference)? {
                FileAttribute::Content => Ok(format!("content of {}", file.id)),
                FileAttribute::Id(id) => Ok(id.to_string()),
            },
        }
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
    fn files_are_found_by_name_when_no_field_has_it() {
        found(&[
            ("op://Prod/Stripe/key.pem", "content of file1"),
            ("op://Prod/Stripe/KEY.PEM", "content of file1"),
            ("op://Prod/Stripe/file1", "content of file1"),
            ("op://Prod/Stripe/Live keys/cert.pem", "content of file2"),
            ("op://Prod/Stripe/test/cert.pem", "content of file3"),
            ("op://Prod/Stripe/key.pem?attribute=id", "file1"),
            // A field of the same name wins, as with `op`.
            ("op://Prod/Stripe/username", "acme"),
        ]);
        not_found(&[(
            "op://Prod/Stripe/Live keys/key.pem",
            "no field \"key.pem\" in section \"Live keys\" of item \"Stripe\" in vault \"Prod\"",
        )]);
    }

    #[test]
    fn ambiguous_files_ask_for_a_section_or_an_id() {
        assert_eq!(
            refused(get("op://Prod/Stripe/cert.pem"), "invalid-reference"),
            "several files named \"cert.pem\" in item \"Stripe\"; add the section: \
             op://Prod/Stripe/SECTION/cert.pem (sections: \"Live keys\", \"Test keys\")"
        );
        assert_eq!(
            refused(get("op://Prod/Stripe/twin.txt"), "invalid-reference"),
            "several files named \"twin.txt\" in item \"Stripe\"; use the file's ID"
        );
    }

    #[test]
    fn a_file_has_no_field_attributes() {
        for attribute in ["type", "purpose", "label", "title"] {
            let reference = format!("op://Prod/Stripe/key.pem?attribute={attribute}");
            let message = refused(get(&reference), "invalid-reference");
            assert!(
                message.starts_with("\"key.pem\" in item \"Stripe\" is a file, which has no "),
                "{message}"
            );
            assert!(message.ends_with("(?attribute=id)"), "{message}");
        }
    }

    #[test]
    fn sizes_over_a_secret_are_refused_by_name_and_size() {
        let reference = accepted_parse("op://Prod/Stripe/big.bin");
        assert!(check_size(&reference, 64 * 1024).is_ok());
        assert_eq!(
            refused(check_size(&reference, 64 * 1024 + 1), "invalid-reference"),
            "file \"big.bin\" of item \"Stripe\" is 65537 bytes; a secret may hold at most 64 KiB"
        );
    }

    fn accepted_parse(reference: &str) -> Reference {
        match parse(reference) {
            Ok(reference) => reference,
            Err(e) => panic!("{reference}: {}", e.message()),
        }
    }

    #[test]
    fn archived_summaries_are_not_active() {
        let listed: Result<Vec<ItemSummary>, _> = serde_json::from_str(
            r#"[{"id": "a", "title": "A"}, {"id": "b", "title": "B", "state": "ARCHIVED"}]"#,
        );
        let active: Vec<bool> = listed.iter().flatten().map(ItemSummary::active).collect();
        assert_eq!(active, [true, false]);
    }

    #[test]
    fn null_lists_are_empty() {
        let item: Result<Item, _> = serde_json::from_str(r#"{"sections": null}"#);
        assert!(item.is_ok_and(|i| i.fields.is_empty() && i.sections.is_empty()));
    }
}
