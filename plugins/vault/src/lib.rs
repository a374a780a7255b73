//! SKELETON, being written: replaced before this lands.

wit_bindgen::generate!({
    path: "../../wit",
    world: "secret-provider",
});

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

struct Skeleton;

impl Guest for Skeleton {
    fn configure(_config: Vec<(String, String)>) -> Result<(), Error> {
        Ok(())
    }

    fn resolve(_reference: String) -> Result<Secret, Error> {
        Err(Error::Unavailable("not written yet".into()))
    }
}

export!(Skeleton);
