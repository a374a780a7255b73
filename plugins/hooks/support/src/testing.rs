//! For a hook's unit tests: build a `config:` map and unwrap results the way
//! a test means it. (These panic; they are for tests only.)

use std::fmt::{Debug, Display};

/// A `config:` map from literal pairs, as the host passes it.
pub fn config(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value; panics with the error otherwise.
pub fn accepted<T, E: Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("refused: {e}"))
}

/// The error; panics with the value when it was accepted.
pub fn refused<T: Debug, E>(result: Result<T, E>) -> E {
    match result {
        Ok(value) => panic!("accepted {value:?}"),
        Err(e) => e,
    }
}
