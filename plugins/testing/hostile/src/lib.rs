//! A deliberately hostile secret provider for reqflo's sandbox tests.
//!
//! The reference picks the misbehaviour, so one component covers every case:
//! `env:NAME` and `file:PATH` try to read outside the grant (and would hand back
//! whatever they found), `loop` spins forever, `alloc` grows memory without
//! bound, `panic` traps, `sleep` blocks in a host call, `value:TEXT` resolves to
//! TEXT, `error:TEXT` fails with TEXT. `http:URL` fetches URL over `wasi:http` and
//! returns the body as the secret; `http-quiet:URL` tries the same, ignores any
//! refusal and returns a value anyway (the host must still fail the resolution).
//!
//! More attacks on the host's side of the interface:
//! - `recurse` recurses without end (a stack overflow);
//! - `big:SIZE` returns a secret of SIZE (`16` MiB, `64k` KiB), `error-big:SIZE`
//!   an error string that long;
//! - `not-found:TEXT` fails with "not found" and TEXT (a chain moves on);
//! - `panic:TEXT` panics with TEXT, which goes to stderr;
//! - `leak:NAME:FORM` fails with the value of the environment variable NAME
//!   (granted to it) in FORM (`raw`, `base64`, `hex`, `percent`);
//!   `leak-panic:NAME:FORM` panics with it instead; `leak-file:PATH:N:FORM`
//!   fails with what follows the `=` on line N of the file PATH (granted to
//!   it), or the whole line;
//! - `many:N` creates N secrets and keeps them all; `churn:N` creates and drops
//!   N secrets one after another, then returns a fresh one; `many-big:N:KIB`
//!   keeps N secrets of KIB kibibytes each;
//! - `dropped` returns a handle it has already dropped, `forged` one it made up;
//! - `exit:CODE` calls `exit`; `bytes` returns a value that is not UTF-8;
//! - `stdout:NAME` writes [`STDOUT_MARK`] and the value of the environment
//!   variable NAME (granted to it), raw and in base64, to stdout, then
//!   resolves to that value; `stdout-panic:NAME` writes the same, then panics
//!   (the host discards stdout, and shows only stderr of a crash).

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "secret-provider",
});

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

struct Hostile;

/// What `stdout:NAME` writes before the value: no secret, so only the host
/// throwing stdout away (not its redactor) keeps it out of reqflo's output.
const STDOUT_MARK: &str = "hostile-plugin-stdout-line";

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
            "panic" if argument.is_empty() => panic!("hostile provider panics on purpose"),
            "panic" => panic!("{argument}"),
            "recurse" => {
                let depth = descend(0);
                Err(Error::Unavailable(format!("came back from depth {depth}")))
            }
            "big" => {
                let value = vec![b'v'; size(argument)];
                Ok(Secret::new(&value))
            }
            "error-big" => Err(Error::Unavailable(format!(
                "huge error:{}",
                "E".repeat(size(argument))
            ))),
            "not-found" => Err(Error::NotFound(argument.to_string())),
            "leak" | "leak-panic" => {
                let (name, form) = argument.split_once(':').unwrap_or((argument, "raw"));
                let value = std::env::var(name).unwrap_or_default();
                let shown = encode(value.as_bytes(), form);
                if action == "leak-panic" {
                    panic!("leaking {form}: {shown}");
                }
                Err(Error::Unavailable(format!("leaking {form}: {shown}")))
            }
            "leak-file" => {
                let mut parts = argument.rsplitn(3, ':');
                let (form, line, path) = (parts.next(), parts.next(), parts.next());
                let line: usize = line.and_then(|n| n.parse().ok()).unwrap_or(1);
                let text = std::fs::read_to_string(path.unwrap_or_default()).unwrap_or_default();
                let line = text.lines().nth(line.saturating_sub(1)).unwrap_or_default();
                let value = line.split_once('=').map_or(line, |(_, value)| value).trim();
                let form = form.unwrap_or("raw");
                Err(Error::Unavailable(format!(
                    "leaking {form}: {}",
                    encode(value.as_bytes(), form)
                )))
            }
            "many" => {
                let count: usize = argument.parse().unwrap_or(0);
                let mut kept = Vec::new();
                for i in 0..count {
                    kept.push(Secret::new(format!("secret number {i}").as_bytes()));
                }
                kept.pop()
                    .ok_or_else(|| Error::InvalidReference("many:N needs N > 0".into()))
            }
            "many-big" => {
                let (count, kib) = argument.split_once(':').unwrap_or((argument, "1"));
                let (count, kib) = (count.parse().unwrap_or(0), kib.parse().unwrap_or(1));
                let kept: Vec<Secret> = (0..count)
                    .map(|_| Secret::new(&vec![b'k'; kib << 10]))
                    .collect();
                std::hint::black_box(&kept);
                Err(Error::Unavailable(format!("kept {} secrets", kept.len())))
            }
            "churn" => {
                let count: usize = argument.parse().unwrap_or(0);
                for i in 0..count {
                    drop(Secret::new(format!("secret number {i}").as_bytes()));
                }
                Ok(Secret::new(b"survived the churn"))
            }
            "dropped" => {
                let secret = Secret::new(b"dropped before it is returned");
                let index = secret.handle();
                drop(secret);
                // SAFETY: none; handing back a dead handle is the attack.
                Ok(unsafe { Secret::from_handle(index) })
            }
            // SAFETY: none; a made-up handle is the attack.
            "forged" => Ok(unsafe { Secret::from_handle(0x7fff) }),
            "exit" => std::process::exit(argument.parse().unwrap_or(1)),
            "bytes" => Ok(Secret::new(&[0xff, 0xfe, 0x00, 0xc3, 0x28])),
            "stdout" | "stdout-panic" => {
                use std::io::Write;
                let value = std::env::var(argument)
                    .map_err(|_| Error::NotFound(format!("env {argument} is not visible")))?;
                let shown = encode(value.as_bytes(), "base64");
                let text = format!("{STDOUT_MARK} raw: {value}\n{STDOUT_MARK} base64: {shown}\n");
                // A write the host refused fails the resolution: resolving
                // proves the lines were written, and the host took them.
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::Unavailable(format!("cannot write to stdout: {e}")))?;
                drop(out);
                if action == "stdout-panic" {
                    panic!("hostile provider panics after writing to stdout");
                }
                Ok(Secret::new(value.as_bytes()))
            }
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

/// Recurse until the stack runs out; the work after the call keeps the
/// compiler from turning it into a loop.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    if depth == u64::MAX {
        return depth;
    }
    descend(depth + 1).rotate_left(7) ^ depth
}

/// A size in mebibytes (`16`), or in kibibytes (`64k`), as bytes; 1 MiB when
/// it does not parse.
fn size(text: &str) -> usize {
    match text.strip_suffix('k') {
        Some(kib) => kib.parse::<usize>().map_or(1 << 20, |n| n << 10),
        None => text.parse::<usize>().map_or(1 << 20, |n| n << 20),
    }
}

/// `bytes` as a leaking plugin might disguise them.
fn encode(bytes: &[u8], form: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    match form {
        "hex" => bytes
            .iter()
            .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
            .map(char::from)
            .collect(),
        "percent" => bytes
            .iter()
            .map(|&b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
        "base64" => {
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
                for i in 0..4 {
                    if i <= chunk.len() {
                        out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
                    } else {
                        out.push('=');
                    }
                }
            }
            out
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
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
