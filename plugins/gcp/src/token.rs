//! Keeping the connection's access token fresh: a token from a credentials
//! file or the metadata server is fetched at first use and renewed five
//! minutes before it expires (`renew::MARGIN`), so a long run never sends a
//! stale one; a ready token from a variable is used as it is.

use std::time::Instant;

use reqflo_plugin_sdk::http::Transport;
use reqflo_plugin_sdk::renew;

use crate::Error;
use crate::credentials::Credentials;
use crate::settings::{Connection, Source};
use crate::{external, metadata, oauth};

/// Make sure `connection` holds a token that is good for a while.
pub fn fresh_token(
    connection: &mut Connection,
    transport: &mut impl Transport,
    now: Instant,
) -> Result<(), Error> {
    let fresh =
        !connection.token.is_empty() && connection.renew_at.is_some_and(|renew_at| now < renew_at);
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
    connection.renew_at = Some(renew::at(now, issued.lifetime));
    Ok(())
}
