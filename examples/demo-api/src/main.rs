//! The demo payments API as a program, for the example project.
//!
//! Usage: demo-api [--port PORT] [--key KEY]   (or DEMO_API_KEY; PORT 0 picks one)

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut port: u16 = 8080;
    let mut key = std::env::var("DEMO_API_KEY").unwrap_or_default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            "--key" => key = args.next().unwrap_or_default(),
            _ => {
                eprintln!("usage: demo-api [--port PORT] [--key KEY]");
                std::process::exit(1);
            }
        }
    }
    if key.is_empty() {
        eprintln!("demo-api: set the expected bearer key with --key or DEMO_API_KEY");
        std::process::exit(1);
    }
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-api: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("demo-api listening on http://{address}");
    if let Err(e) = demo_api::serve(listener, key, Arc::new(AtomicU64::new(0))).await {
        eprintln!("demo-api: {e}");
        std::process::exit(1);
    }
}
