//! A provider that tries raw TCP. Its component imports `wasi:sockets`, which
//! reqflo never links, so the host must refuse it at load time, before it runs.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "secret-provider",
});

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

struct Sockets;

impl Guest for Sockets {
    fn configure(_config: Vec<(String, String)>) -> Result<(), Error> {
        Ok(())
    }

    fn resolve(reference: String) -> Result<Secret, Error> {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(&reference)
            .map_err(|e| Error::Unavailable(format!("connect failed: {e}")))?;
        let mut bytes = Vec::new();
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Unavailable(format!("read failed: {e}")))?;
        Ok(Secret::new(&bytes))
    }
}

export!(Sockets);
