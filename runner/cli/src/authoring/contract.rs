//! `reqflo plugin test FILE --reference REF`: the contract every provider
//! keeps, checked against the component itself in the sandbox `run` uses.
//!
//! A chain of providers works only if each one says the right thing: a
//! typo in `config:` is refused, a secret that does not exist is
//! `not-found` (the chain moves on) while a server it cannot reach is not
//! (the chain stops, rather than silently taking another provider's
//! value), odd references are errors and not traps, and no message carries
//! a value. Every message printed here goes through the redactor, so even a
//! provider that breaks the last rule shows no value.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::cli::ContractArgs;
use crate::console;
use crate::exit;
use reqflo_core::error::{Error, Result};
use reqflo_core::grant::HostGrant;
use reqflo_core::redact::{Redactor, sanitize_plugin_text};
use reqflo_sandbox::secrets::{
    CallError, CompiledPlugin, NetPolicy, PluginHost, PluginInstance, ProviderFailure, Sandbox,
    is_bare_address,
};

/// A config key no provider has: configure must refuse it.
const UNKNOWN_KEY: &str = "reqflo-contract-unknown-key";

/// References no provider should resolve, nor trap on.
fn odd_references() -> Vec<(&'static str, String)> {
    vec![
        ("an empty reference", String::new()),
        ("control characters", "a\u{0}b\u{7}\u{1b}[2J".to_string()),
        ("a path out of bounds", "../../../../etc/passwd".to_string()),
        ("a 64 KiB reference", "x".repeat(64 * 1024)),
    ]
}

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

/// What the provider was given, and what it said.
struct Contract {
    compiled: CompiledPlugin,
    redactor: Arc<Redactor>,
    config: Vec<(String, String)>,
    env: Vec<(String, String)>,
    net: Option<Arc<NetPolicy>>,
    /// Handed to each instance as its stdin.
    secret_file: Option<std::path::PathBuf>,
    /// `--grant-file`s: each one's path and bytes.
    files: Vec<(std::path::PathBuf, Vec<u8>)>,
    memory_bytes: usize,
    timeout: Duration,
    /// Every message the provider returned, raw, with the check it came from.
    said: Vec<(&'static str, String)>,
    /// The slowest call.
    slowest: Duration,
}

impl Contract {
    /// A fresh instance with the granted authority (or none of the network).
    async fn start(&self, network: bool) -> std::result::Result<PluginInstance, String> {
        let stdin = match &self.secret_file {
            Some(path) => Some(std::fs::File::open(path).map_err(|e| {
                format!(
                    "cannot open {}: {}",
                    path.display(),
                    reqflo_core::source::io_reason(&e)
                )
            })?),
            None => None,
        };
        let sandbox = Sandbox {
            env: self.env.clone(),
            stdin,
            files: self.files.clone(),
            memory_bytes: self.memory_bytes,
            timeout: self.timeout,
            net: if network { self.net.clone() } else { None },
            ..Sandbox::new(Arc::clone(&self.redactor))
        };
        PluginInstance::start(&self.compiled, sandbox).await
    }

    /// Time a call, and keep what the provider said for the last check.
    async fn timed<T>(
        &mut self,
        check: &'static str,
        call: impl std::future::Future<Output = std::result::Result<T, CallError>>,
    ) -> std::result::Result<T, CallError> {
        let started = Instant::now();
        let outcome = call.await;
        self.slowest = self.slowest.max(started.elapsed());
        if let Err(e) = &outcome {
            self.said.push((check, raw_message(e).to_string()));
        }
        outcome
    }

    /// A message fit to print: redacted, one line, bounded.
    fn shown(&self, error: &CallError) -> String {
        let kind = match error {
            CallError::Provider(f) => kind(f),
            CallError::Fault(_) => "fault",
        };
        format!(
            "{kind}: {}",
            sanitize_plugin_text(&self.redactor, raw_message(error))
        )
    }

    /// An instance configured with the given config, or why not.
    async fn configured(
        &mut self,
        check: &'static str,
        network: bool,
    ) -> std::result::Result<PluginInstance, String> {
        let mut instance = self.start(network).await?;
        let config = self.config.clone();
        match self.timed(check, instance.configure(&config)).await {
            Ok(()) => Ok(instance),
            Err(e) => Err(self.shown(&e)),
        }
    }
}

fn raw_message(error: &CallError) -> &str {
    match error {
        CallError::Provider(
            ProviderFailure::NotFound(m)
            | ProviderFailure::Denied(m)
            | ProviderFailure::InvalidReference(m)
            | ProviderFailure::Unavailable(m),
        ) => m,
        CallError::Fault(m) => m,
    }
}

/// The WIT name of an error kind.
fn kind(failure: &ProviderFailure) -> &'static str {
    match failure {
        ProviderFailure::NotFound(_) => "not-found",
        ProviderFailure::Denied(_) => "denied",
        ProviderFailure::InvalidReference(_) => "invalid-reference",
        ProviderFailure::Unavailable(_) => "unavailable",
    }
}

/// `reqflo plugin test`: run every check, print each, exit 4 if one failed.
pub async fn contract_command(args: &ContractArgs, cwd: &Path) -> Result<i32> {
    let bytes = super::inspect::component_bytes(&args.file, cwd)?;
    let config = args
        .config
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_string(), value.to_string()))
            }
            _ => Err(Error::Usage(format!(
                "--config {}: write KEY=VALUE",
                console::printable(entry)
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    let hosts = args
        .grant_host
        .iter()
        .map(|host| {
            HostGrant::parse(host).map_err(|why| Error::Usage(format!("--grant-host {why}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let memory_bytes = usize::try_from(args.memory_mib.saturating_mul(1 << 20))
        .map_err(|_| Error::Usage("--memory-mib is too large".into()))?;
    let timeout = Duration::from_millis(args.timeout_ms.max(1));

    let redactor = Redactor::for_run();
    let mut env = Vec::new();
    for name in &args.grant_env {
        if let Ok(value) = std::env::var(name) {
            // A granted variable is most often the provider's credential: it
            // must not show in a message either (a bare address may).
            if !is_bare_address(&value) {
                redactor.add(&format!("${name}"), value.as_bytes());
            }
            env.push((name.clone(), value));
        }
    }
    let mut files = Vec::new();
    for written in &args.grant_file {
        let path = cwd.join(written);
        let content = std::fs::read(&path).map_err(|e| {
            Error::Usage(format!(
                "--grant-file {}: {}",
                written.display(),
                reqflo_core::source::io_reason(&e)
            ))
        })?;
        // A granted file is a credential, or holds some, as in a run.
        redactor.add_file(&format!("file {}", path.display()), &content);
        files.push((path, content));
    }
    let digest = hex::encode(Sha256::digest(&bytes));
    let host = PluginHost::shared()?;
    let compiled = host.compile(&args.file, &bytes, &digest)?;
    let net = (!hosts.is_empty()).then(|| {
        // As in a run: a request ends before the call does.
        Arc::new(NetPolicy::new(
            hosts,
            args.allow_http,
            None,
            timeout.mul_f64(0.75),
        ))
    });
    let contract = Contract {
        compiled,
        redactor,
        config,
        env,
        net,
        secret_file: args.secret_file.as_ref().map(|path| cwd.join(path)),
        files,
        memory_bytes,
        timeout,
        said: Vec::new(),
        slowest: Duration::ZERO,
    };
    let checks = run_checks(contract, args).await;

    let mut text = format!(
        "plugin test {} (sha256 {})\n",
        console::printable(&args.file),
        &digest[..16]
    );
    let (mut failed, mut skipped) = (0, 0);
    for (name, outcome) in &checks {
        let (mark, detail) = match outcome {
            Outcome::Pass(detail) => ("ok  ", detail),
            Outcome::Fail(detail) => {
                failed += 1;
                ("FAIL", detail)
            }
            Outcome::Skip(detail) => {
                skipped += 1;
                ("skip", detail)
            }
        };
        text.push_str(&format!("  {mark}  {name}: {detail}\n"));
    }
    text.push_str(&format!(
        "{} passed, {failed} failed, {skipped} skipped",
        checks.len() - failed - skipped
    ));
    console::out(&text);
    Ok(if failed == 0 {
        exit::OK
    } else {
        exit::EXPECTATION
    })
}

/// Every check, in order; a provider that cannot be configured is checked
/// no further.
async fn run_checks(mut c: Contract, args: &ContractArgs) -> Vec<(String, Outcome)> {
    let mut checks = Vec::new();
    let reference = console::printable(&args.reference).into_owned();

    // 1. The config given is accepted.
    let configure = "configure accepts its config";
    let mut instance = match c.configured(configure, true).await {
        Ok(instance) => instance,
        Err(why) => {
            checks.push((configure.to_string(), Outcome::Fail(why)));
            return checks;
        }
    };
    checks.push((
        configure.to_string(),
        Outcome::Pass(format!("{} key(s)", c.config.len())),
    ));

    // 2. A key it does not know is refused, naming it.
    let unknown = "configure refuses an unknown key";
    checks.push((
        unknown.to_string(),
        refuses_unknown_key(&mut c, unknown).await,
    ));

    // 3. The reference resolves, and again to the same value.
    let resolves = "resolves the reference";
    let started = Instant::now();
    let first = c.timed(resolves, instance.resolve(&args.reference)).await;
    let value = match first {
        Ok(value) => {
            c.redactor
                .add("the resolved value", value.0.expose_secret().as_bytes());
            checks.push((
                format!("resolves `{reference}`"),
                Outcome::Pass(format!(
                    "{} bytes in {} ms",
                    value.0.expose_secret().len(),
                    started.elapsed().as_millis()
                )),
            ));
            Some(value)
        }
        Err(e) => {
            checks.push((
                format!("resolves `{reference}`"),
                Outcome::Fail(c.shown(&e)),
            ));
            None
        }
    };
    let again = "resolves it again, to the same value";
    checks.push((
        again.to_string(),
        match &value {
            None => Outcome::Skip("the first resolve failed".into()),
            Some(first) => match c.timed(again, instance.resolve(&args.reference)).await {
                Ok(second) if second.0.expose_secret() == first.0.expose_secret() => {
                    Outcome::Pass("the same value".into())
                }
                Ok(_) => Outcome::Fail("a different value within one run".into()),
                Err(e) => Outcome::Fail(c.shown(&e)),
            },
        },
    ));

    // 4. A secret that does not exist is not-found, so a chain moves on.
    let missing = "a missing secret is not-found";
    checks.push((
        match &args.missing {
            Some(m) => format!("`{}` is not-found", console::printable(m)),
            None => missing.to_string(),
        },
        match &args.missing {
            None => Outcome::Skip("give --missing REF, a reference that does not exist".into()),
            Some(m) => match c.timed(missing, instance.resolve(m)).await {
                Err(CallError::Provider(ProviderFailure::NotFound(_))) => {
                    Outcome::Pass("a chain tries the next provider".into())
                }
                Ok(_) => Outcome::Fail("it returned a value".into()),
                Err(e) => Outcome::Fail(format!(
                    "{} (a chain would stop here instead of trying the next provider)",
                    c.shown(&e)
                )),
            },
        },
    ));

    // 5. A server it cannot reach is not not-found: else a chain would take
    // the next provider's value while this one's store is down.
    let unreachable = "an unreachable server is not not-found";
    checks.push((
        unreachable.to_string(),
        unreachable_server(&mut c, args, unreachable).await,
    ));

    // 6. Odd references are errors, not traps and not values.
    let odd = "odd references are refused, not trapped";
    let mut refused = Vec::new();
    let mut broken = Vec::new();
    for (what, text) in odd_references() {
        match c.timed(odd, instance.resolve(&text)).await {
            Err(CallError::Provider(f)) => refused.push(format!("{what}: {}", kind(&f))),
            Err(CallError::Fault(why)) => {
                broken.push(format!(
                    "{what}: fault: {}",
                    sanitize_plugin_text(&c.redactor, &why)
                ));
                // A faulted instance is gone; the next reference gets a new one.
                match c.configured(odd, true).await {
                    Ok(fresh) => instance = fresh,
                    Err(why) => {
                        broken.push(format!("then could not start again: {why}"));
                        break;
                    }
                }
            }
            Ok(_) => broken.push(format!("{what}: returned a value")),
        }
    }
    checks.push((
        odd.to_string(),
        if broken.is_empty() {
            Outcome::Pass(refused.join(", "))
        } else {
            Outcome::Fail(broken.join("; "))
        },
    ));

    // 7. No message carries the value or a granted credential.
    let leaks: Vec<&str> = c
        .said
        .iter()
        .filter(|(_, message)| c.redactor.finds(message.as_bytes()))
        .map(|(check, _)| *check)
        .collect();
    checks.push((
        "no message holds the value or a granted credential".to_string(),
        if leaks.is_empty() {
            Outcome::Pass(format!("{} messages read", c.said.len()))
        } else {
            let mut at: Vec<&str> = leaks.clone();
            at.dedup();
            Outcome::Fail(format!(
                "{} message(s) did, in: {} (shown here redacted)",
                leaks.len(),
                at.join(", ")
            ))
        },
    ));

    // 8. Within the limits a run gives it, with room to spare: a call that
    // already takes half its budget times out on a slower day. (A call over
    // the budget, or over the memory cap, faulted above.)
    checks.push(("within its limits".to_string(), limits(&c)));
    checks
}

fn limits(c: &Contract) -> Outcome {
    let said = format!(
        "slowest call {} ms of a {} ms budget; memory capped at {} MiB",
        c.slowest.as_millis(),
        c.timeout.as_millis(),
        c.memory_bytes >> 20
    );
    if c.slowest > c.timeout / 2 {
        Outcome::Fail(format!(
            "{said}: over half its budget, so a slower server makes it time out"
        ))
    } else {
        Outcome::Pass(said)
    }
}

async fn refuses_unknown_key(c: &mut Contract, check: &'static str) -> Outcome {
    let mut instance = match c.start(true).await {
        Ok(instance) => instance,
        Err(why) => return Outcome::Fail(format!("could not start: {why}")),
    };
    let mut config = c.config.clone();
    config.push((UNKNOWN_KEY.to_string(), "1".to_string()));
    match c.timed(check, instance.configure(&config)).await {
        Ok(()) => Outcome::Fail(format!(
            "it accepted `{UNKNOWN_KEY}`: a typo in reqflo.yaml would go unnoticed"
        )),
        Err(e @ CallError::Provider(_)) => Outcome::Pass(c.shown(&e)),
        Err(e) => Outcome::Fail(c.shown(&e)),
    }
}

async fn unreachable_server(c: &mut Contract, args: &ContractArgs, check: &'static str) -> Outcome {
    if c.net.is_none() {
        return Outcome::Skip("no --grant-host: it uses no network".into());
    }
    // The same provider with its network grants taken away: every request
    // it makes is refused, as a server that cannot be reached.
    let mut instance = match c.start(false).await {
        Ok(instance) => instance,
        Err(why) => return Outcome::Fail(format!("could not start: {why}")),
    };
    let config = c.config.clone();
    if let Err(e) = c.timed(check, instance.configure(&config)).await {
        // Refusing to start without its server stops the run: also right.
        return Outcome::Pass(format!("configure stops the run: {}", c.shown(&e)));
    }
    match c.timed(check, instance.resolve(&args.reference)).await {
        Err(CallError::Provider(ProviderFailure::NotFound(_))) => Outcome::Fail(
            "not-found: a chain would take the next provider's value while this one's server \
             is down"
                .into(),
        ),
        Err(e @ CallError::Provider(_)) => Outcome::Pass(c.shown(&e)),
        Err(e) => Outcome::Fail(c.shown(&e)),
        Ok(_) => Outcome::Fail("it returned a value without its server".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_references_are_what_they_say() {
        let odd = odd_references();
        assert_eq!(odd.len(), 4);
        assert!(odd.iter().any(|(_, r)| r.is_empty()));
        assert!(odd.iter().any(|(_, r)| r.len() == 64 * 1024));
        assert_eq!(
            kind(&ProviderFailure::Unavailable(String::new())),
            "unavailable"
        );
        let fault = CallError::Fault("trap".into());
        assert_eq!(raw_message(&fault), "trap");
    }
}
