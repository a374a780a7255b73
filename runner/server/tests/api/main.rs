//! The API in process: the whole endpoint × role matrix, secrets
//! management, uploads and what they refuse, runs and what policy refuses,
//! and a canary that no answer and no byte of the database holds. One test
//! binary (wasmtime is linked once).

mod agents;
mod browser;
mod edits;
mod harness;
mod limits;
mod live;
mod pg;
mod postgres;
mod projects;
mod roles;
mod runs;
mod secrets;
mod templates;
mod web;
