//! Keeping the connection's access token fresh: a token from a credentials
//! file or the metadata server is fetched at first use and renewed five
//! minutes before it expires, so a long run never sends a stale one; a
//! ready token from a variable is used as it is.

use std::time::{Duration, Instant};

use reqflo_plugin_sdk::http::Transport;

use crate::Error;
use crate::credentials::Credentials;
use crate::settings::{Connection, Source};
use crate::{external, metadata, oauth};

/// A token this close to its expiry is renewed before it is used.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Make sure `connection` holds a token that is good for a while.
pub fn fresh_token(
    connection: &mut Connection,
    transport: &mut impl Transport,
    now: Instant,
) -> Result<(), Error> {
    let fresh = !connection.token.is_empty()
        && connection
            .expires
            .is_some_and(|expires| now + RENEW_BEFORE < expires);
    let issued = match &connection.source {
        Source::Ready => return Ok(()),
        _ if fresh => return Ok(()),
        Source::Metadata(origin) => metadata::token(origin, transport)?,
        Source::File(file) => match &file.credentials {
            Credentials::ServiceAccount(account) => oauth::service_account(account, transport)?,
            Credentials::AuthorizedUser(user) => oauth::authorized_user(user, transport)?,
            Credentials::External(account) => {
                let subject_token = external::subject_token(&account.source, transport)?;
                oauth::external(account, &subject_token, transport)?
            }
        },
    };
    connection.token = issued.token;
    connection.expires = Some(now + issued.lifetime);
    Ok(())
}
