//! reqflo's core: everything about a journey that needs no network, no
//! sandbox and no runtime.
//!
//! Data flows one way: [`project`] (files, or a project in memory) → [`plan`]
//! (validated, nothing sent) → [`message`] (a request built with secrets
//! injected at the last moment) → [`expect`] (judging the response) →
//! [`report`], with [`redact`] on every byte that leaves. Secrets are handles
//! ([`secret::SecretId`]) into a [`secret::SecretStore`]; only building a
//! request reveals one.

#![warn(missing_docs)]

pub mod bundle;
pub mod cleartext;
pub mod credentials;
pub mod duration;
pub mod error;
pub mod exit;
pub mod expect;
pub mod filter;
pub mod grant;
pub mod import;
pub mod message;
pub mod multipart;
pub mod plan;
pub mod plugins;
pub mod predicate;
pub mod project;
pub mod redact;
pub mod report;
pub mod secret;
pub mod source;
pub mod template;
