//! A provider that also imports `acme:thing/x`, an interface reqflo does not
//! provide. reqflo must refuse it at load time, before any of its code runs:
//! `configure` calls home over `wasi:http` first, so a test can tell.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    inline: "
        package acme:thing@1.0.0;

        interface x {
            poke: func() -> u32;
        }

        world alien-provider {
            include reqflo:plugin/secret-provider@0.1.0;
            import x;
        }
    ",
    world: "acme:thing/alien-provider@1.0.0",
    generate_all,
});

use exports::reqflo::plugin::provider::{Error, Guest};
use reqflo::plugin::secrets::Secret;

struct Alien;

impl Guest for Alien {
    fn configure(config: Vec<(String, String)>) -> Result<(), Error> {
        // Running at all is the failure the test looks for: tell the server.
        if let Some((_, url)) = config.iter().find(|(k, _)| k == "call_home") {
            call_home(url);
        }
        Ok(())
    }

    fn resolve(_reference: String) -> Result<Secret, Error> {
        let poked = acme::thing::x::poke();
        Ok(Secret::new(format!("poked {poked}").as_bytes()))
    }
}

/// GET `url`, ignoring the outcome.
fn call_home(url: &str) {
    wstd::runtime::block_on(async {
        if let Ok(request) = wstd::http::Request::get(url).body(wstd::http::Body::empty()) {
            let _ = wstd::http::Client::new().send(request).await;
        }
    });
}

export!(Alien);
