//! An environment's `tls:`: a private CA the journeys' requests trust, and a
//! client certificate whose private key is a secret by name, resolved with
//! the journey's other secrets and never written down.

use super::PlannedTls;
use super::build::Planner;
use crate::error::{Diagnostic, Error, Result};
use crate::project::model::TlsDef;

/// A CA or certificate file is at most this large.
const MAX_PEM_BYTES: u64 = 1 << 20;

impl Planner<'_> {
    /// `tls:` of `environment`, its files read and its key registered as
    /// one of the journey's secrets (the registry's policy applies).
    pub(super) fn tls(&mut self, environment: &str, def: &TlsDef) -> Result<PlannedTls> {
        let project = self.project;
        let at = |field: &str| {
            project
                .config_source
                .value(&["environments", environment, "tls", field])
        };
        let read = |field: &str, written: &str, marker: &str| -> Result<Vec<u8>> {
            let path = project.resolve_path(written);
            let fail = |why: String| Error::Config(Diagnostic::new(why).at(at(field)));
            let size = std::fs::metadata(&path)
                .map_err(|e| {
                    fail(format!(
                        "cannot read {written}: {}",
                        crate::source::io_reason(&e)
                    ))
                })?
                .len();
            if size > MAX_PEM_BYTES {
                return Err(fail(format!("{written} is {size} bytes: not a PEM file")));
            }
            let bytes = std::fs::read(&path).map_err(|e| {
                fail(format!(
                    "cannot read {written}: {}",
                    crate::source::io_reason(&e)
                ))
            })?;
            if memchr::memmem::find(&bytes, marker.as_bytes()).is_none() {
                return Err(fail(format!("{written} holds no `{marker}` (PEM)")));
            }
            Ok(bytes)
        };
        let ca_pem = match &def.ca_file {
            Some(file) => Some(read("ca_file", file, "-----BEGIN CERTIFICATE-----")?),
            None => None,
        };
        let client = match (&def.client_certificate, &def.client_key) {
            (None, None) => None,
            (Some(file), Some(key)) => {
                let cert = read("client_certificate", file, "-----BEGIN CERTIFICATE-----")?;
                let spot = || at("client_key");
                let index = self.secret_at(&spot, key, None, " (the client key)")?;
                Some((cert, index))
            }
            (Some(_), None) | (None, Some(_)) => {
                let field = match def.client_key {
                    None => "client_certificate",
                    Some(_) => "client_key",
                };
                return Err(Error::Config(
                    Diagnostic::new(
                        "a client certificate takes both `client_certificate` (a PEM file) and `client_key` (the name of the secret holding its key)",
                    )
                    .at(at(field)),
                ));
            }
        };
        Ok(PlannedTls { ca_pem, client })
    }
}
