//! The metadata server's access token, the last link of Application Default
//! Credentials on Google Cloud: a VM's, a GKE node's or a Cloud Run
//! service's account, with no key anywhere. Renewed five minutes before it
//! expires, so a long run never sends a stale one.

use std::time::{Duration, Instant};

use reqflo_plugin_sdk::http::{Request, Transport};
use serde::Deserialize;

use crate::Error;
use crate::access::{self, MAX_ERROR_BYTES};
use crate::settings::Connection;

/// The route that gives the default service account's access token.
pub const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// A token this close to its expiry is renewed before it is used.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// `{"access_token", "expires_in", "token_type"}`.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

/// Make sure `connection` holds a token that is good for a while: a
/// metadata server's is fetched when there is none or it is about to
/// expire; a token from a variable is left as it is.
pub fn fresh_token(
    connection: &mut Connection,
    transport: &mut impl Transport,
    now: Instant,
) -> Result<(), Error> {
    let Some(origin) = &connection.metadata else {
        return Ok(());
    };
    let fresh = !connection.token.is_empty()
        && connection
            .expires
            .is_some_and(|expires| now + RENEW_BEFORE < expires);
    if fresh {
        return Ok(());
    }
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
        200 => {}
        404 => {
            return Err(Error::Denied(format!(
                "{server} has no default service account for this workload (404); attach one, \
                 or set GOOGLE_OAUTH_ACCESS_TOKEN"
            )));
        }
        status => {
            return Err(Error::Unavailable(format!(
                "{server} answered {status} for an access token; {hint}"
            )));
        }
    }
    let token: TokenAnswer = serde_json::from_slice(&answer.body).map_err(|_| {
        Error::Unavailable(format!(
            "{server} answered something that is not its token JSON"
        ))
    })?;
    // It travels in a header: only visible ASCII.
    if token.access_token.is_empty() || !token.access_token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Unavailable(format!(
            "{server} gave an access token an HTTP header cannot carry"
        )));
    }
    connection.token = token.access_token;
    connection.expires = Some(now + Duration::from_secs(token.expires_in));
    Ok(())
}
