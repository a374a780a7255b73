//! The `reqflo` binary: parse arguments, run, map errors to exit codes.

use clap::Parser;

use reqflo::cli::Cli;
use reqflo::console;
use reqflo::exit;
use reqflo_core::redact::Redactor;

fn main() {
    install_panic_hook();
    // clap exits 2 on bad arguments; reqflo's documented code for usage is 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let cli = match cli.command {
        reqflo::cli::Command::Server(args) => {
            std::process::exit(reqflo::serve::server_command(args))
        }
        reqflo::cli::Command::Worker(args) => {
            std::process::exit(reqflo::serve::worker_command(args))
        }
        reqflo::cli::Command::Agent(args) => std::process::exit(reqflo::serve::agent_command(args)),
        _ => cli,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            console::err(&format!("error: cannot start the async runtime: {e}"));
            std::process::exit(exit::RUNTIME);
        }
    };
    // The command is one run: its redactor lives until the process exits,
    // so the last error below is printed through it too.
    let redactor = Redactor::for_run();
    let code = match runtime.block_on(reqflo::app::main(cli, &redactor)) {
        Ok(code) => code,
        Err(e) => {
            console::err(&format!("error: {}", exit::message(&e)));
            exit::for_error(&e)
        }
    };
    // Secrets held by the runtime's tasks are dropped (and zeroed) here.
    drop(runtime);
    std::process::exit(code);
}

/// A panic is a bug, but even a bug must not print a secret: the message goes
/// through the redactor like everything else ([`console::panic_text`]).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let text = console::panic_text(info.payload(), info.location());
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            format!("{text}\n").as_bytes(),
        );
    }));
}
