//! The fakes' tests, one binary (as ripgrep does): each fake answers as the
//! REST reference of the service it stands in for says.

mod aws_credentials;
mod azure;
mod gcp;
mod google_token;
mod kubernetes;
mod onepassword;
