//! The TLS of a journey's HTTP client: the environment's private CA, and a
//! client certificate whose key is one of the journey's secrets.

use reqwest::ClientBuilder;
use zeroize::Zeroizing;

use reqflo_core::error::Error;
use reqflo_core::plan::{Plan, PlannedTls};
use reqflo_sandbox::secrets::{SecretId, SecretStore};

/// `builder` with `tls` applied. The key is copied into a buffer zeroed
/// when this returns; reqwest keeps its own parsed copy for the client's
/// life (see Known limits).
pub(crate) fn configure(
    mut builder: ClientBuilder,
    plan: &Plan,
    tls: &PlannedTls,
    store: &SecretStore,
    secret_ids: &[SecretId],
) -> Result<ClientBuilder, Error> {
    let environment = &plan.environment;
    if let Some(pem) = &tls.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| {
            Error::Runtime(format!(
                "environment `{environment}`: tls.ca_file is not PEM certificates"
            ))
        })?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some((cert, key)) = &tls.client {
        let name = plan.secrets.get(*key).map_or("?", |s| s.name.as_str());
        let id = secret_ids
            .get(*key)
            .ok_or_else(|| Error::Runtime(format!("the client key {name} was not resolved")))?;
        let value = store.reveal(*id);
        let mut pem = Zeroizing::new(Vec::with_capacity(cert.len() + value.len() + 1));
        pem.extend_from_slice(cert);
        pem.push(b'\n');
        pem.extend_from_slice(value.as_bytes());
        // reqwest's message could quote what it failed to read: not shown.
        let identity = reqwest::Identity::from_pem(&pem).map_err(|_| identity_error(plan))?;
        builder = builder.identity(identity);
    }
    Ok(builder)
}

/// Why a client could not be built, never quoting reqwest (which may
/// quote the key): a client certificate's key is the usual reason.
pub(crate) fn build_error(plan: &Plan, e: &reqwest::Error) -> Error {
    match plan.tls.as_ref().and_then(|t| t.client.as_ref()) {
        Some(_) => identity_error(plan),
        None => Error::Runtime(format!("cannot start the HTTP client: {e}")),
    }
}

fn identity_error(plan: &Plan) -> Error {
    let key = plan
        .tls
        .as_ref()
        .and_then(|t| t.client.as_ref())
        .and_then(|(_, key)| plan.secrets.get(*key))
        .map_or("?", |s| s.name.as_str());
    Error::Runtime(format!(
        "environment `{}`: tls.client_certificate and the secret {key} do not make a TLS identity (a PEM certificate, and its PKCS#8, RSA or EC private key in PEM)",
        plan.environment
    ))
}
