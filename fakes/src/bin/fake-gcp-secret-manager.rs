//! `fake-gcp-secret-manager`: a FAKE Google Cloud Secret Manager for tests and demos.
//!
//! Serves the `SecretManagerData` of a JSON file, or the built-in sample, until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use reqflo_fakes::gcp::{FakeSecretManager, SecretManagerData};

const HELP: &str = "\
fake-gcp-secret-manager: a FAKE Google Cloud Secret Manager, for tests only

It follows Google's documented REST API v1 for the read-only routes
(GET /v1/projects/{p}/secrets/{s}, .../versions/{v} and .../versions/{v}:access)
in one project. It is not Google's software and holds no real secrets.

Usage: fake-gcp-secret-manager [--listen ADDR] [--data FILE.json]

Options:
  --listen ADDR     address to listen on [default: 127.0.0.1:8085; port 0 picks one]
  --data FILE.json  what to serve, as {\"project_id\", \"project_number\", \"secrets\":
                    [{\"id\", \"versions\": [{\"payload\", \"state\": ENABLED|DISABLED|
                    DESTROYED}]}], \"tokens\": [{\"token\", \"secrets\": [ids] or null}]}
                    [default: project acme-payments, secrets stripe-key and
                    stripe-config, tokens ya29.fake-full-token and
                    ya29.fake-stripe-only-token]
  -h, --help        print this help

Prints `fake Secret Manager listening on http://ADDR` once serving.
Exit codes: 1 bad arguments, 2 bad data file, 3 cannot listen; else runs until killed.
";

fn main() -> ExitCode {
    let (code, message) = match run() {
        Ok(()) => return ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => (1, format!("{m} (see --help)")),
        Err(Failure::Data(m)) => (2, m),
        Err(Failure::Listen(m)) => (3, m),
    };
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// Why the fake could not start.
enum Failure {
    Usage(String),
    Data(String),
    Listen(String),
}

fn run() -> Result<(), Failure> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 8085));
    let mut data = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => {
                // A closed stdout (`| head`) is no failure.
                let _ = std::io::stdout().write_all(HELP.as_bytes());
                return Ok(());
            }
            "--listen" | "--data" => {
                let value = inline
                    .or_else(|| args.next())
                    .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))?;
                if flag == "--listen" {
                    listen = value.parse().map_err(|_| {
                        Failure::Usage(format!(
                            "--listen takes IP:PORT such as 127.0.0.1:8085, not {value:?}"
                        ))
                    })?;
                } else {
                    data = Some(value);
                }
            }
            _ => return Err(Failure::Usage(format!("unexpected argument {flag:?}"))),
        }
    }
    let data = match data {
        None => SecretManagerData::sample("sk_test_fake_stripe_key_0001"),
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Failure::Data(format!("cannot read data file {path}: {e}")))?;
            serde_json::from_str(&text).map_err(|e| {
                Failure::Data(format!(
                    "data file {path} is not valid SecretManagerData JSON: {e}"
                ))
            })?
        }
    };
    let fake = FakeSecretManager::spawn_at(data, listen)
        .map_err(|e| Failure::Listen(format!("cannot listen on {listen}: {e}")))?;
    // Whoever started us may read this line and then close the pipe.
    let _ = writeln!(
        std::io::stdout(),
        "fake Secret Manager listening on {}",
        fake.url()
    );
    // The server runs on its own thread; this one only keeps the process up.
    loop {
        std::thread::park();
    }
}
