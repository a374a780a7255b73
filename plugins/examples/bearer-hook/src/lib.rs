//! The README's "Writing your own hook": put the one secret granted to the
//! hook into a header, `Authorization: Bearer {secret}` unless configured.
//! The hook never sees the value: the host places it.

use reqflo_hook_support::{Encoding, Error, Hook, Outgoing, Secret, export_hook};

/// Where the secret goes and how it is framed.
struct Bearer {
    header: String,
    template: String,
}

impl Hook for Bearer {
    fn configure(config: Vec<(String, String)>) -> Result<Self, Error> {
        let mut hook = Bearer {
            header: "Authorization".into(),
            template: "Bearer {secret}".into(),
        };
        for (key, value) in config {
            match key.as_str() {
                "header" => hook.header = value,
                "template" => hook.template = value,
                other => return Err(Error::Invalid(format!("unknown config `{other}`"))),
            }
        }
        Ok(hook)
    }

    fn on_request(
        &mut self,
        request: &Outgoing,
        secrets: &[(String, &Secret)],
    ) -> Result<(), Error> {
        let [(_, key)] = secrets else {
            return Err(Error::Invalid("grant this hook exactly one secret".into()));
        };
        request.set_secret_header(&self.header, &self.template, key, Encoding::Raw)
    }
}

export_hook!(Bearer);
