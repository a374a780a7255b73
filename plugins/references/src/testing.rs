//! What the parsers' tests share: most of them are tables of references
//! and the part of the message each must be refused with, so a new case is
//! one line and a failure names the reference.

use std::fmt::Debug;

use crate::Error;

/// The parsed value; fails the test with the refusal otherwise.
pub use reqflo_plugin_sdk::testing::accepted;

/// The message of an `InvalidReference` refusal; fails the test when the
/// result is a success or another kind of error.
pub fn refused<T: Debug>(result: Result<T, Error>) -> String {
    reqflo_plugin_sdk::testing::refused(result, "invalid-reference")
}

/// Fails the test unless `parse` refuses each reference with a message that
/// contains the fragment paired with it.
pub fn refusals<T: Debug>(parse: impl Fn(&str) -> Result<T, Error>, cases: &[(&str, &str)]) {
    for (reference, fragment) in cases {
        let message = refused(parse(reference));
        assert!(
            message.contains(fragment),
            "{reference:?} was refused without {fragment:?}: {message}"
        );
    }
}
