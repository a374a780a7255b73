//! For a provider's unit tests: unwrap a result the way a test means it,
//! with the provider's message when it is not what the test expected; a
//! file to grant; what a request sent. (These panic; they are for tests
//! only.)

use std::fmt::Debug;
use std::path::PathBuf;

use crate::Error;
use crate::http::percent_decode;

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

/// A file holding a test's text, removed when dropped; its name carries the
/// process ID, so tests running at once do not share it.
pub struct TempFile(PathBuf);

impl TempFile {
    /// `name` (unique within the process) holding `text`.
    pub fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("reqflo-{}-{name}", std::process::id()));
        if let Err(e) = std::fs::write(&path, text) {
            panic!("cannot write {}: {e}", path.display());
        }
        TempFile(path)
    }

    /// Its path, as a provider's config or variable gives it.
    pub fn path(&self) -> &str {
        match self.0.to_str() {
            Some(path) => path,
            None => panic!("{} is not UTF-8", self.0.display()),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

/// The fields of a form body (`a=1&b=%2F`), decoded, in order.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| {
            let decoded = percent_decode(value);
            (
                key.to_string(),
                decoded.unwrap_or_else(|| value.to_string()),
            )
        })
        .collect()
}

/// The value of the form field `name`, or "" when there is none.
pub fn form_field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

/// The header and claims of a compact JWT (feature `testing`); `Null` for a
/// part that is not base64url JSON.
#[cfg(feature = "testing")]
pub fn jwt_parts(jwt: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    assert_eq!(jwt.split('.').count(), 3, "not a compact JWT: {jwt}");
    let mut parts = jwt.split('.').map(|part| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(serde_json::Value::Null)
    });
    let header = parts.next().unwrap_or_default();
    (header, parts.next().unwrap_or_default())
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

    #[test]
    fn forms_are_decoded() {
        let form = form_fields(b"grant_type=client_credentials&scope=https%3A%2F%2Fv%2F.default&x");
        assert_eq!(form_field(&form, "scope"), "https://v/.default");
        assert_eq!(form_field(&form, "grant_type"), "client_credentials");
        assert_eq!(form_field(&form, "x"), "");
        assert_eq!(form.len(), 2);
    }

    #[test]
    fn a_temp_file_is_removed_when_dropped() {
        let file = TempFile::new("testing-temp", "t");
        let path = file.path().to_string();
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("t"));
        drop(file);
        assert!(std::fs::metadata(&path).is_err());
    }
}
