//! A provider built against `reqflo:plugin@0.9.0` (a copy of 0.1.0 under a
//! version reqflo does not know). reqflo must refuse it at load time, saying
//! which version it targets and which versions reqflo supports.

wit_bindgen::generate!({
    path: "wit",
    world: "secret-provider",
});

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

struct FutureWit;

impl Guest for FutureWit {
    fn configure(_config: Vec<(String, String)>) -> Result<(), Error> {
        Ok(())
    }

    fn resolve(reference: String) -> Result<Secret, Error> {
        Ok(Secret::new(reference.as_bytes()))
    }
}

export!(FutureWit);
