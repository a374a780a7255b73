//! The metadata server's access token, the last link of Application Default
//! Credentials on Google Cloud: a VM's, a GKE node's or a Cloud Run
//! service's account, with no key anywhere. Renewed like every token of the
//! chain (see `token.rs`).

use reqflo_plugin_sdk::http::{Request, Transport};

use crate::Error;
use crate::access::{self, MAX_ERROR_BYTES};
use crate::oauth::{Issued, token_answer};
use crate::settings::Origin;

/// The route that gives the default service account's access token.
pub const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// The default service account's token from the metadata server at `origin`.
pub fn token(origin: &Origin, transport: &mut impl Transport) -> Result<Issued, Error> {
    let server = format!("the metadata server at {}", origin.url(""));
    let hint = "on Google Cloud it is metadata.google.internal (grant that host); elsewhere \
                set GOOGLE_OAUTH_ACCESS_TOKEN, or GCE_METADATA_HOST for another server";
    // Google's metadata server refuses a request without this header; it
    // carries no token.
    let request = Request::get(origin.url(TOKEN_PATH)).header("metadata-flavor", "Google");
    // A token's JSON is small.
    let answer = transport
        .send(request, access::limits(MAX_ERROR_BYTES))
        .map_err(|failure| {
            let why = failure.reason();
            Error::Unavailable(format!(
                "no access token: {server} could not be asked ({why}); {hint}"
            ))
        })?;
    match answer.status {
        200 => token_answer(&server, &answer.body),
        404 => Err(Error::Denied(format!(
            "{server} has no default service account for this workload (404); attach one, \
             or set GOOGLE_OAUTH_ACCESS_TOKEN"
        ))),
        status => Err(Error::Unavailable(format!(
            "{server} answered {status} for an access token; {hint}"
        ))),
    }
}
