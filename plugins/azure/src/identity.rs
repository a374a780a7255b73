//! Managed identity: the token of the identity Azure gives the workload, as
//! `DefaultAzureCredential` gets it, with no secret anywhere.
//!
//! - App Service and Functions set `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`:
//!   `GET {IDENTITY_ENDPOINT}?resource=…&api-version=2019-08-01` with
//!   `X-IDENTITY-HEADER`.
//! - Elsewhere (a VM, a scale set, AKS with pod identity) the Instance
//!   Metadata Service: `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…`
//!   with `Metadata: true`; `AZURE_POD_IDENTITY_AUTHORITY_HOST` points at
//!   another (as Azure's SDKs read it).
//!
//! The resource is the vault's cloud's Key Vault (public, US Gov, China).

use std::time::Instant;

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::http::{Request, Transport};

use crate::Error;
use crate::aad::{self, AccessToken};
use crate::settings::Settings;
use crate::wire::{self, Origin, Server, failure_error, parse_origin, percent_encode};

/// Where the Instance Metadata Service is.
const IMDS: &str = "http://169.254.169.254";

/// The managed identity's token for the vault.
pub fn token(
    settings: &Settings,
    client_id: Option<&str>,
    transport: &mut impl Transport,
    env: &impl env::Read,
    now: Instant,
) -> Result<AccessToken, Error> {
    let scope = settings.scope();
    let resource = scope.trim_end_matches("/.default");
    let client = client_id
        .map(|id| format!("&client_id={}", percent_encode(id)))
        .unwrap_or_default();
    let visible = |name: &str| env(name).ok().filter(|v| !v.trim().is_empty());
    let (origin, url, header, what) =
        match (visible("IDENTITY_ENDPOINT"), visible("IDENTITY_HEADER")) {
            (Some(endpoint), Some(secret)) => {
                let origin = origin_of("IDENTITY_ENDPOINT", &endpoint)?;
                let url = format!(
                    "{}?resource={}&api-version=2019-08-01{client}",
                    endpoint.trim(),
                    percent_encode(resource)
                );
                (
                    origin,
                    url,
                    ("x-identity-header", secret),
                    "App Service's identity endpoint",
                )
            }
            _ => {
                let host =
                    visible("AZURE_POD_IDENTITY_AUTHORITY_HOST").unwrap_or_else(|| IMDS.into());
                let origin = origin_of("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host)?;
                let url = origin.url(&format!(
                    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}{client}",
                    percent_encode(resource)
                ));
                (
                    origin,
                    url,
                    ("metadata", "true".to_string()),
                    "the Instance Metadata Service",
                )
            }
        };
    let server = Server {
        role: "Managed identity",
        origin: &origin,
    };
    let doing = format!(
        "asking {what} for the managed identity's token (off Azure, use a token or client \
         credentials)"
    );
    let request = Request::get(url).header(header.0, header.1);
    let answer = wire::send(transport, request)
        .map_err(|failure| failure_error(server, &doing, &failure))?;
    match answer.status {
        200..=299 => aad::token(server, &answer.body, now),
        400 | 404 => Err(Error::Denied(format!(
            "{what} at {origin} has no identity to give ({}): assign a managed identity to \
             the workload, or name a user-assigned one with config.client_id",
            answer.status
        ))),
        401 | 403 => Err(Error::Denied(format!(
            "{what} at {origin} refused the request ({})",
            answer.status
        ))),
        status => Err(Error::Unavailable(format!(
            "{what} at {origin} answered {status} for a token"
        ))),
    }
}

/// The origin of an endpoint a variable names, for messages.
fn origin_of(name: &str, url: &str) -> Result<Origin, Error> {
    let base = url.trim();
    let base = match base
        .find("://")
        .and_then(|at| base[at + 3..].find('/').map(|p| at + 3 + p))
    {
        Some(path) => &base[..path],
        None => base,
    };
    parse_origin(base)
        .map_err(|why| Error::Unavailable(format!("{name} is not a usable URL: it {why}")))
}
