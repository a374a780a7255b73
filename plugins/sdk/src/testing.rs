//! For a provider's unit tests: unwrap a result the way a test means it,
//! with the provider's message when it is not what the test expected.
//! (These panic; they are for tests only.)

use std::fmt::Debug;

use crate::Error;

/// The value; panics with the error's kind and message otherwise.
pub fn accepted<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("refused ({}): {}", e.kind(), e.message()),
    }
}

/// The message of an error of `kind` (as the WIT spells it, e.g.
/// `invalid-reference`); panics when it succeeded or is of another kind.
pub fn refused<T: Debug>(result: Result<T, Error>, kind: &str) -> String {
    match result {
        Err(e) if e.kind() == kind => e.message().to_string(),
        Err(e) => panic!("expected {kind}, got {}: {}", e.kind(), e.message()),
        Ok(value) => panic!("expected {kind}, but it was accepted: {value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_unwrapped_as_tests_mean() {
        assert_eq!(accepted::<u8>(Ok(1)), 1);
        let refusal: Result<u8, Error> = Err(Error::NotFound("no db".into()));
        assert_eq!(refused(refusal, "not-found"), "no db");
        let wrong =
            std::panic::catch_unwind(|| refused::<u8>(Err(Error::Denied("x".into())), "not-found"));
        assert!(wrong.is_err());
        assert!(std::panic::catch_unwind(|| refused::<u8>(Ok(2), "denied")).is_err());
        assert!(
            std::panic::catch_unwind(|| accepted::<u8>(Err(Error::Denied("x".into())))).is_err()
        );
    }
}
