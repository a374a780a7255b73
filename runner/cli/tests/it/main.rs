//! reqflo's integration tests, one binary (wasmtime is linked once, not
//! once per file): each module drives the real `reqflo` binary against real
//! or documented-fake servers.

mod common;

mod authoring;
mod aws;
mod azure;
mod bundles;
mod captures;
mod client_tls;
mod definitions;
mod echoed;
mod faults;
mod flow;
mod for_each;
mod gcp;
mod hooks;
mod imports;
mod include;
mod integrations;
mod interrupt;
mod jobs;
mod journeys;
mod multipart;
mod onepassword;
mod placeholders;
mod provider_contract;
mod redaction;
mod reports;
mod sandbox;
mod server;
mod tls;
mod vault;
