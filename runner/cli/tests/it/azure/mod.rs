//! The built-in Azure Key Vault provider against a local FAKE Azure
//! (`reqflo-fakes`: neither Key Vault nor Azure AD can run here), through the
//! real `reqflo` binary and the real plugin sandbox.

/// The client certificate link.
mod certificate;
/// Client secret, workload identity and managed identity tokens.
mod chain;
/// Denied, unavailable and misconfigured.
mod failures;
/// Reading secrets: versions, identifiers, keys, caching, redaction.
mod secrets;

use crate::common::{CANARY, TestProject, project_with_key};

use reqflo_fakes::azure::{
    AzureData, CLIENT_ID, CLIENT_SECRET, FakeAzure, STATIC_TOKEN, TENANT_ID,
};

/// The password inside the `db-credentials` JSON: a second canary.
pub(super) const DB_PASSWORD: &str = "db/Pa+ss=Word9";

/// A fake Azure (vault and Azure AD on one address) whose `payments-api-key`
/// is `api_key` and whose `db-credentials` password is `db_password`. The
/// runtime must outlive the test's runs.
pub(super) struct Azure {
    pub(super) fake: FakeAzure,
    _runtime: tokio::runtime::Runtime,
}

impl Azure {
    pub(super) fn start() -> Azure {
        Azure::with(CANARY, DB_PASSWORD)
    }

    pub(super) fn with(api_key: &str, db_password: &str) -> Azure {
        Azure::serving(AzureData::sample(api_key, db_password))
    }

    pub(super) fn serving(data: AzureData) -> Azure {
        let (fake, runtime) = crate::common::on_runtime("fake Azure", FakeAzure::spawn(data));
        Azure {
            fake,
            _runtime: runtime,
        }
    }

    /// `host:port` of the fake, as a grant.
    pub(super) fn grant(&self) -> String {
        self.fake.addr().to_string()
    }

    /// Requests whose `METHOD /path` starts with `prefix`, ignoring case (Key
    /// Vault names are case-insensitive).
    pub(super) fn count(&self, prefix: &str) -> usize {
        let prefix = prefix.to_ascii_lowercase();
        self.fake
            .requests()
            .iter()
            .filter(|r| r.to_ascii_lowercase().starts_with(&prefix))
            .count()
    }

    pub(super) fn token_requests(&self) -> usize {
        self.count(&format!("POST /{TENANT_ID}/oauth2/v2.0/token"))
    }

    pub(super) fn vault_requests(&self) -> usize {
        self.count("GET /secrets/")
    }

    /// The provider's lines for a ready-made token in `AZURE_ACCESS_TOKEN`.
    pub(super) fn static_token(&self) -> String {
        format!(
            "    config: {{vault_url: \"{}\"}}\n    grants:\n      env: [AZURE_ACCESS_TOKEN]\n      hosts: [\"{}\"]\n",
            self.fake.url(),
            self.grant()
        )
    }

    /// The provider's lines for client credentials, Azure AD being the fake.
    pub(super) fn client_credentials(&self) -> String {
        format!(
            "    config:\n      vault_url: \"{url}\"\n      tenant_id: {TENANT_ID}\n      client_id: {CLIENT_ID}\n      authority: \"{url}\"\n    grants:\n      env: [AZURE_CLIENT_SECRET]\n      hosts: [\"{}\"]\n",
            self.grant(),
            url = self.fake.url(),
        )
    }

    /// Every credential of the run that must never be printed: the client
    /// secret and every token the fake issued.
    pub(super) fn credentials(&self) -> Vec<String> {
        let mut all = self.fake.issued_tokens();
        all.push(CLIENT_SECRET.to_string());
        all
    }
}

/// A project whose environment resolves through provider `kv` (the Azure
/// plugin, set up by `provider`), with `secrets` as registry lines, one echo
/// step per name in `echoed`, and one payment (which the demo API accepts
/// only with `key`) per name in `paid`.
pub(super) fn kv_project(
    key: &str,
    provider: &str,
    secrets: &str,
    echoed: &[&str],
    paid: &[&str],
) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [kv]\n\
         providers:\n  kv:\n    plugin: builtin:azure\n{provider}secrets:\n{secrets}"
    );
    let mut journey = String::from("steps:\n");
    for (i, name) in echoed.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: echo{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    for (i, name) in paid.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: pay{i}\n    template: post-payment\n    values: {{key: {{type: secret, name: {name}}}, amount: 5}}\n    expect: {{status: 201}}\n"
        ));
    }
    project_with_key(
        key,
        &[("reqflo.yaml", &config), ("journeys/j.yaml", &journey)],
    )
}

pub(super) const STATIC_ENV: [(&str, &str); 1] = [("AZURE_ACCESS_TOKEN", STATIC_TOKEN)];
pub(super) const CLIENT_ENV: [(&str, &str); 1] = [("AZURE_CLIENT_SECRET", CLIENT_SECRET)];
