//! A deliberately hostile request hook for reqflo's tests.
//!
//! `config.action` picks the attack, so one component covers every case:
//!
//! - `probe`: signs a known message with its first secret, places the HMAC,
//!   then tries every way to read a value back (header and URL views, the
//!   body, templates without `{secret}` or with it twice, the `Host` header)
//!   and reports what it saw in the `X-Report`, `X-Seen-*` headers.
//! - `set-url`: attaches a secret, then moves the request to `config.peer`.
//! - `steal-url`: moves a request that carries a template secret to `config.peer`.
//! - `forge`: passes a handle index it made up (`Secret::from_handle`).
//! - `flood`: creates secrets until the host stops it.
//! - `attach`: places its first secret in `X-Key` (refused when the secret is
//!   bound to other hosts).
//! - `loop` spins forever; `panic` traps.
//! - `mark`: appends `config.mark` to the `X-Order` header (hook order).
//! - `oauth`: runs a client-credentials grant (`config.token_url`,
//!   `config.client_id`, `config.auth` basic|body) and sends the token as a
//!   bearer token.

use reqflo_hook_support::{
    ClientAuth, ClientCredentials, Encoding, Error, Hook, Outgoing, Secret, export_hook,
    hmac_sha256, oauth2_client_credentials,
};

/// A short name for an outcome, for the report.
fn outcome(result: &Result<(), Error>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(Error::Denied(_)) => "denied",
        Err(Error::Invalid(_)) => "invalid",
        Err(Error::Unavailable(_)) => "unavailable",
    }
}

struct Hostile {
    config: Vec<(String, String)>,
}

impl Hostile {
    fn setting(&self, name: &str) -> String {
        self.config
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

impl Hook for Hostile {
    fn configure(config: Vec<(String, String)>) -> Result<Self, Error> {
        Ok(Hostile { config })
    }

    fn on_request(
        &mut self,
        request: &Outgoing,
        secrets: &[(String, &Secret)],
    ) -> Result<(), Error> {
        let first = secrets.first().map(|(_, s)| *s);
        let need = || first.ok_or_else(|| Error::Invalid("no secret granted".into()));
        match self.setting("action").as_str() {
            "probe" => probe(request, need()?),
            "set-url" => {
                request.set_secret_header("X-Key", "{secret}", need()?, Encoding::Raw)?;
                // The refusal is ignored on purpose: the host must fail the step anyway.
                let _ = request.set_url(&self.setting("peer"));
                Ok(())
            }
            "steal-url" => {
                let _ = request.set_url(&self.setting("peer"));
                Ok(())
            }
            "forge" => {
                // SAFETY: deliberately unsound; the host must contain it.
                let forged = unsafe { Secret::from_handle(0x7fff) };
                let _ = hmac_sha256(&forged, b"forged");
                std::mem::forget(forged);
                Ok(())
            }
            "flood" => {
                let mut hoard = Vec::new();
                for _ in 0..100_000 {
                    hoard.push(Secret::new(b"flood-value"));
                }
                Ok(())
            }
            "attach" => {
                let _ = request.set_secret_header("X-Key", "{secret}", need()?, Encoding::Raw);
                Ok(())
            }
            "oauth" => {
                let grant = ClientCredentials {
                    token_url: self.setting("token_url"),
                    client_id: self.setting("client_id"),
                    scope: Some(self.setting("scope")).filter(|s| !s.is_empty()),
                    extra: Vec::new(),
                    auth: if self.setting("auth") == "body" {
                        ClientAuth::Body
                    } else {
                        ClientAuth::Basic
                    },
                };
                let token = oauth2_client_credentials(&grant, need()?)?;
                request.set_secret_header("Authorization", "Bearer {secret}", &token, Encoding::Raw)
            }
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "panic" => panic!("hostile hook panics on purpose"),
            "mark" => {
                let before = request
                    .headers()
                    .into_iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("x-order"))
                    .map(|(_, v)| format!("{v},"))
                    .unwrap_or_default();
                request.set_header("X-Order", &format!("{before}{}", self.setting("mark")))
            }
            other => Err(Error::Invalid(format!("unknown action `{other}`"))),
        }
    }
}

fn probe(request: &Outgoing, key: &Secret) -> Result<(), Error> {
    let mut report = Vec::new();
    let signature = hmac_sha256(key, b"known message")?;
    let placed = request.set_secret_header("X-Sig", "sha256={secret}", &signature, Encoding::Hex);
    report.push(format!("sig:{}", outcome(&placed)));
    let raw = request.set_secret_header("X-Raw-Sig", "{secret}", &signature, Encoding::Raw);
    report.push(format!("rawsig:{}", outcome(&raw)));
    let none = request.set_secret_header("X-Nope", "no placeholder", key, Encoding::Raw);
    report.push(format!("noplaceholder:{}", outcome(&none)));
    let twice = request.set_secret_header("X-Twice", "{secret}{secret}", key, Encoding::Raw);
    report.push(format!("twice:{}", outcome(&twice)));
    let host = request.set_secret_header("Host", "{secret}", key, Encoding::Raw);
    report.push(format!("host:{}", outcome(&host)));
    let own = Secret::new(b"guest-made-value");
    let mine = request.set_secret_header("X-Own", "{secret}", &own, Encoding::Base64);
    report.push(format!("own:{}", outcome(&mine)));
    let body = match request.body() {
        Ok(bytes) => String::from_utf8_lossy(&bytes).replace(['\r', '\n'], " "),
        Err(Error::Denied(_)) => "denied".to_string(),
        Err(_) => "error".to_string(),
    };
    let headers: Vec<String> = request
        .headers()
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    let _ = request.set_header("X-Seen-Headers", &headers.join(" | "));
    let _ = request.set_header("X-Seen-Url", &request.url());
    let _ = request.set_header("X-Seen-Body", &body);
    let _ = request.set_header("X-Report", &report.join(","));
    Ok(())
}

export_hook!(Hostile);
