//! `fake-onepassword-connect`: a FAKE 1Password Connect server for tests and demos.
//!
//! Serves the `ConnectData` of a JSON file, or the built-in sample, until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use reqflo_fakes::onepassword::{ConnectData, FakeConnect};

const HELP: &str = "\
fake-onepassword-connect: a FAKE 1Password Connect server, for tests only

It follows 1Password's documented Connect REST API for the read-only routes
(/v1/vaults, /v1/vaults/{id}, /v1/vaults/{id}/items, /v1/vaults/{id}/items/{id},
/v1/vaults/{id}/items/{id}/files/{id}/content, /heartbeat, /health). It is not
1Password's software and holds no real secrets.

Usage: fake-onepassword-connect [--listen ADDR] [--data FILE.json]

Options:
  --listen ADDR     address to listen on [default: 127.0.0.1:8080; port 0 picks one]
  --data FILE.json  vaults and tokens to serve, as {\"vaults\": [{\"id\", \"name\",
                    \"items\": [full item JSON; \"state\": \"ARCHIVED\" archives one;
                    files as {\"id\", \"name\", \"content\": base64}]}],
                    \"tokens\": [{\"token\", \"vaults\": [vault ids] or null}]} [default: a built-in sample whose tokens
                    are full-token and payments-only-token]
  -h, --help        print this help

Prints `fake 1Password Connect listening on http://ADDR` once serving.
Exit codes: 0 stopped by Ctrl-C, 1 bad arguments, 2 bad data file, 3 cannot listen.
";

struct Args {
    listen: SocketAddr,
    data: Option<String>,
}

/// Why the fake could not start, with its exit code.
enum Failure {
    Usage(String),
    Data(String),
    Listen(String),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message} (see --help)");
            ExitCode::from(1)
        }
        Err(Failure::Data(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Listen(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(3)
        }
    }
}

async fn run() -> Result<(), Failure> {
    let Some(args) = parse_args(std::env::args().skip(1))? else {
        // A closed stdout (`| head`) is no failure.
        let _ = std::io::stdout().write_all(HELP.as_bytes());
        return Ok(());
    };
    let data = match &args.data {
        Some(path) => load(path)?,
        None => ConnectData::sample("sk_test_fake_credential_0001", "whsec_fake_signing_0001"),
    };
    let fake = FakeConnect::spawn_at(data, args.listen)
        .await
        .map_err(|e| Failure::Listen(format!("cannot listen on {}: {e}", args.listen)))?;
    // Whoever started us may read this line and then close the pipe.
    let _ = writeln!(
        std::io::stdout(),
        "fake 1Password Connect listening on {}",
        fake.url()
    );
    if tokio::signal::ctrl_c().await.is_err() {
        // No Ctrl-C handler on this platform: serve until killed.
        std::future::pending::<()>().await;
    }
    Ok(())
}

/// The arguments, or None when help was asked for.
fn parse_args(mut raw: impl Iterator<Item = String>) -> Result<Option<Args>, Failure> {
    let mut listen = None;
    let mut data = None;
    while let Some(arg) = raw.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" | "--data" => {
                let value = inline
                    .or_else(|| raw.next())
                    .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))?;
                if flag == "--listen" {
                    listen = Some(value.parse::<SocketAddr>().map_err(|_| {
                        Failure::Usage(format!(
                            "--listen takes IP:PORT such as 127.0.0.1:8080, not {value:?}"
                        ))
                    })?);
                } else {
                    data = Some(value);
                }
            }
            _ => return Err(Failure::Usage(format!("unexpected argument {flag:?}"))),
        }
    }
    Ok(Some(Args {
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data,
    }))
}

fn load(path: &str) -> Result<ConnectData, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Data(format!("cannot read data file {path}: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::Data(format!(
            "data file {path} is not valid ConnectData JSON: {e}"
        ))
    })
}
