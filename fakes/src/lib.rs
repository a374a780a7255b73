//! Fakes of the services reqflo's plugins talk to that have no real server one
//! can run locally, for tests and demos only.
//!
//! Each fake lives in a module of its own, follows the service's documented
//! REST API (routes, JSON shapes, status codes) and nothing more, and serves
//! on a loopback port. None of them is the real service: they hold no real
//! secrets and check nothing but what their docs say they check.
//!
//! - [`jwt`]: RS256 JWTs, as the token fakes verify them and their tests sign
//!   them.
//! - [`kubernetes`]: a fake Kubernetes API server's TokenReview.
//! - [`onepassword`]: a fake 1Password Connect server.
//! - [`verifier`]: a fake OAuth2 token endpoint and signed API, checking what
//!   reqflo's built-in request hooks send.

#![warn(missing_docs)]

pub mod aws_credentials;
pub mod azure;
pub mod gce_metadata;
pub mod gcp;
pub mod google_token;
pub mod jwt;
pub mod kubernetes;
pub mod onepassword;
mod serve;
pub mod verifier;
