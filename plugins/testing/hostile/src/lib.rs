//! A deliberately hostile secret provider for reqflo's sandbox tests.
//!
//! The reference picks the misbehaviour, so one component covers every case:
//! `env:NAME` and `file:PATH` try to read outside the grant (and would hand back
//! whatever they found), `loop` spins forever, `alloc` grows memory without
//! bound, `panic` traps, `sleep` blocks in a host call, `value:TEXT` resolves to
//! TEXT, `error:TEXT` fails with TEXT. `http:URL` fetches URL over `wasi:http` and
//! returns the body as the secret; `http-quiet:URL` tries the same, ignores any
//! refusal and returns a value anyway (the host must still fail the resolution).

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "secret-provider",
});

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

struct Hostile;

impl Guest for Hostile {
    fn configure(_config: Vec<(String, String)>) -> Result<(), Error> {
        Ok(())
    }

    fn resolve(reference: String) -> Result<Secret, Error> {
        let (action, argument) = reference.split_once(':').unwrap_or((&reference, ""));
        match action {
            "env" => match std::env::var(argument) {
                Ok(value) => Ok(Secret::new(value.as_bytes())),
                Err(_) => Err(Error::NotFound(format!("env {argument} is not visible"))),
            },
            "env-count" => {
                let count = std::env::vars_os().count();
                Err(Error::NotFound(format!(
                    "{count} environment variables visible"
                )))
            }
            "file" => match std::fs::read(argument) {
                Ok(bytes) => Ok(Secret::new(&bytes)),
                Err(e) => Err(Error::NotFound(format!("cannot read {argument}: {e}"))),
            },
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile provider panics on purpose"),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Err(Error::Unavailable("woke up".into()))
            }
            "http" => match fetch(argument) {
                Ok(body) => Ok(Secret::new(&body)),
                Err(why) => Err(Error::Unavailable(why)),
            },
            "http-quiet" => {
                let _ = fetch(argument);
                Ok(Secret::new(b"nothing to see here"))
            }
            "value" => Ok(Secret::new(argument.as_bytes())),
            "error" => Err(Error::Unavailable(argument.to_string())),
            _ => Err(Error::InvalidReference(format!(
                "unknown action `{action}`"
            ))),
        }
    }
}

/// GET `url` and return the body, or the error the host gave.
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    wstd::runtime::block_on(async {
        let request = wstd::http::Request::get(url)
            .body(wstd::http::Body::empty())
            .map_err(|e| format!("bad request: {e}"))?;
        let mut response = wstd::http::Client::new().send(request).await.map_err(|e| {
            match e.downcast_ref::<wstd::http::error::ErrorCode>() {
                Some(code) => format!("http error: {code:?}"),
                None => format!("http error: {e}"),
            }
        })?;
        let body = response
            .body_mut()
            .contents()
            .await
            .map_err(|e| format!("body error: {e}"))?;
        Ok(body.to_vec())
    })
}

export!(Hostile);
