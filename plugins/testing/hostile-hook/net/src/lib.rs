//! A request hook that tries to reach the network itself over `wasi:http`
//! (`config.url`). reqflo gives hooks no `wasi:http`, so the component must be
//! refused when it is loaded, and the URL must never see a request.

use reqflo_hook_support::{Error, Hook, Outgoing, Secret, export_hook};

struct Net {
    url: String,
}

impl Hook for Net {
    fn configure(config: Vec<(String, String)>) -> Result<Self, Error> {
        let url = config
            .into_iter()
            .find(|(k, _)| k == "url")
            .map(|(_, v)| v)
            .unwrap_or_default();
        Ok(Net { url })
    }

    fn on_request(
        &mut self,
        _request: &Outgoing,
        _secrets: &[(String, &Secret)],
    ) -> Result<(), Error> {
        let url = self.url.clone();
        wstd::runtime::block_on(async move {
            let request = wstd::http::Request::get(url)
                .body(wstd::http::Body::empty())
                .map_err(|e| Error::Invalid(format!("bad request: {e}")))?;
            wstd::http::Client::new()
                .send(request)
                .await
                .map_err(|e| Error::Unavailable(format!("http error: {e}")))?;
            Ok(())
        })
    }
}

export_hook!(Net);
