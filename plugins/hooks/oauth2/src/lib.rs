//! The built-in `oauth2` request hook: an OAuth2 client-credentials grant
//! (RFC 6749 §4.4) whose access token goes into a header, `Authorization:
//! Bearer TOKEN` by default.
//!
//! The client secret is a granted secret the hook holds only as a handle. The
//! host runs the grant, caches the token for its lifetime, and hands back the
//! token as a new handle that the host writes into the header: the hook sees
//! neither the client secret nor the token.

pub mod settings;

use reqflo_hook_support::config::chosen;
use reqflo_hook_support::{
    Encoding, Error, Hook, Outgoing, Secret, export_hook, oauth2_client_credentials,
};
use settings::Settings;

/// The hook: its settings, read once by `configure`.
struct OAuth2 {
    settings: Settings,
}

impl Hook for OAuth2 {
    fn configure(config: Vec<(String, String)>) -> Result<Self, Error> {
        let settings = Settings::from_config(&config).map_err(Error::Invalid)?;
        Ok(OAuth2 { settings })
    }

    fn on_request(
        &mut self,
        request: &Outgoing,
        secrets: &[(String, &Secret)],
    ) -> Result<(), Error> {
        let Settings {
            grant,
            secret,
            header,
            format,
        } = &self.settings;
        let (_, client_secret) = chosen(secrets, secret.as_deref(), &settings::CLIENT_SECRET)?;
        // The host's message already names the token endpoint.
        let token = oauth2_client_credentials(grant, client_secret)?;
        request.set_secret_header(header, format, &token, Encoding::Raw)
    }
}

export_hook!(OAuth2);
