//! The plugins' secret reference parsers: op://, vault and aws.
//!
//! Properties: any string is either a reference or an `InvalidReference`
//! error (never a panic, never another kind); a parsed reference, written back
//! in its canonical form, parses to the same reference.

use crate::Error;
use crate::aws_reference as aws;
use crate::onepassword_reference as op;
use crate::vault_reference as vault;

fn invalid_only(error: &Error, input: &str) {
    assert!(
        matches!(error, Error::InvalidReference(_)),
        "{input:?}: refused with another kind than InvalidReference"
    );
}

/// Fuzz target `reference_onepassword`.
pub fn onepassword(input: &str) {
    let reference = match op::parse(input) {
        Ok(reference) => reference,
        Err(e) => return invalid_only(&e, input),
    };
    let mut canonical = format!("op://{}/{}/", reference.vault, reference.item);
    if let Some(section) = &reference.section {
        canonical.push_str(section);
        canonical.push('/');
    }
    canonical.push_str(&reference.field);
    canonical.push_str(&format!("?attribute={}", reference.attribute));
    let again = op::parse(&canonical)
        .unwrap_or_else(|_| panic!("{input:?} parsed, its canonical {canonical:?} did not"));
    assert_eq!(again, reference, "{input:?} vs {canonical:?}");
}

/// Fuzz target `reference_vault`.
pub fn vault(input: &str) {
    let reference = match vault::parse(input) {
        Ok(reference) => reference,
        Err(e) => return invalid_only(&e, input),
    };
    // Query first, key last: the key then runs to the end, whatever it holds.
    let mut canonical = reference.path.to_string();
    if reference.version.is_some() || reference.key.is_some() {
        canonical.push('?');
    }
    if let Some(version) = reference.version {
        canonical.push_str(&format!("version={version}"));
    }
    if let Some(key) = &reference.key {
        canonical.push('#');
        canonical.push_str(key);
    }
    let again = vault::parse(&canonical)
        .unwrap_or_else(|_| panic!("{input:?} parsed, its canonical {canonical:?} did not"));
    assert_eq!(again, reference, "{input:?} vs {canonical:?}");
    for segment in reference.path.segments() {
        assert!(!segment.is_empty() && segment != "." && segment != "..");
        assert!(!segment.contains('/'));
    }
}

/// Fuzz target `reference_aws`.
pub fn aws(input: &str) {
    let reference = match aws::parse(input) {
        Ok(reference) => reference,
        Err(e) => return invalid_only(&e, input),
    };
    let mut query = String::new();
    match &reference.selector {
        aws::Selector::Current => {}
        aws::Selector::Stage(stage) => query.push_str(&format!("stage={stage}&")),
        aws::Selector::Version(version) => query.push_str(&format!("version={version}&")),
    }
    if reference.encoding == aws::Encoding::Base64 {
        query.push_str("encoding=base64");
    }
    // Key first, unless the key holds a `?` (then the query must come first;
    // and a query that came first holds no `#`).
    let canonical = match &reference.key {
        Some(key) if key.contains('?') => format!("{}?{query}#{key}", reference.secret_id),
        Some(key) => format!("{}#{key}?{query}", reference.secret_id),
        None => format!("{}?{query}", reference.secret_id),
    };
    let again = aws::parse(&canonical)
        .unwrap_or_else(|_| panic!("{input:?} parsed, its canonical {canonical:?} did not"));
    assert_eq!(again, reference, "{input:?} vs {canonical:?}");
    // Nothing outside AWS's alphabet reaches the signed JSON body.
    assert!(
        reference
            .secret_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c))
    );
    let _ = reference.to_string();
}
