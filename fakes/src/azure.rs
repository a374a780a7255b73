//! A FAKE Azure, for tests: not Microsoft's software.
//!
//! One server plays two documented Azure endpoints, so one address serves as
//! both `vault_url` and `authority`:
//!
//! - Azure AD's token endpoint for the OAuth 2.0 client credentials grant
//!   (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>):
//!   `POST /{tenant}/oauth2/v2.0/token` with a form of `grant_type`,
//!   `client_id`, `client_secret` and `scope`, or a client assertion
//!   instead of the secret: a federated token (workload identity), or a JWT
//!   signed with a registered certificate's key, verified as
//!   <https://learn.microsoft.com/entra/identity-platform/certificate-credentials>
//!   describes it. It checks each against [`AzureData`] and answers a
//!   random bearer token with `expires_in`, or Azure AD's error JSON
//!   (`invalid_client`, `unauthorized_client`, `invalid_scope`, … with the
//!   AADSTS numbers of
//!   <https://learn.microsoft.com/entra/identity-platform/reference-error-codes>).
//! - Key Vault's Get Secret
//!   (<https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret>):
//!   `GET /secrets/{name}[/{version}]?api-version=…` with a documented
//!   [`API_VERSIONS`] entry and `Authorization: Bearer` with a token it issued
//!   (and that has not expired) or a preset one. It answers the SecretBundle
//!   JSON, or Key Vault's error JSON: 401 `Unauthorized` (with the
//!   `WWW-Authenticate` challenge), 403 `Forbidden` with `AccessDenied` or
//!   `SecretDisabled`, 404 `SecretNotFound`, 400 `BadParameter`.
//!
//! Tests can read the request log (never bodies), the tokens issued, slow
//! every response down, force an error status on either side, and shorten
//! the tokens' lifetime.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use reqflo_fakes::azure::{AzureData, FakeAzure};
//! let fake = FakeAzure::spawn(AzureData::sample("api-key-value", "db-password")).await?;
//! println!("fake Key Vault and Azure AD at {}", fake.url());
//! # Ok(())
//! # }
//! ```

mod aad;
mod assertion;
mod data;
mod identity;
mod keyvault;
mod server;

pub use data::*;
pub use server::{API_VERSIONS, FakeAzure};
