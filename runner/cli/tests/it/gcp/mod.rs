//! The built-in Google Cloud provider against a local FAKE Secret Manager
//! (`reqflo-fakes`: Google ships no local server), driving the real binary.

/// The links of the credential chain that fetch and renew a token.
mod credentials;
/// Not found, disabled, denied, corrupt, unavailable and misconfigured.
mod failures;
/// Reading secrets: versions, names, regions, keys, caching, redaction.
mod secrets;

pub(super) use crate::common::chain::line;
use crate::common::{CANARY, TestProject, assert_absent, project};

use reqflo_fakes::gcp::{FakeSecretManager, SecretManagerData, VersionState};

/// The access token, shaped so that every encoded form differs from it.
pub(super) const TOKEN: &str = "ya29.cAn4ry/Tok+en=Gcp7";
/// A token IAM lets read the secret `retired` only.
pub(super) const SCOPED_TOKEN: &str = "ya29.scoped-to-retired";
/// A second secret value, kept in the JSON secret beside [`CANARY`].
pub(super) const WEBHOOK: &str = "whsec/Gcp+Canary=Hook7";
pub(super) const PROJECT: &str = "acme-payments";
pub(super) const NUMBER: u64 = 270_012_345_678;
/// Payloads of versions that may never be read.
const DESTROYED: &str = "sk_destroyed_value_0001";
const DISABLED: &str = "sk_disabled_value_0002";
/// The version before [`CANARY`] in `stripe-key`; the demo API refuses it.
pub(super) const OLD_KEY: &str = "sk_old_rotated_0001";

/// The location of the fake's regional secrets.
pub(super) const LOCATION: &str = "europe-west1";

/// `stripe-key` (v1 [`OLD_KEY`], v2 [`CANARY`]), `stripe-config` (JSON holding
/// both secrets), `retired` (v1 destroyed, v2 disabled, v3 [`CANARY`]),
/// `plain-text`, and `empty` with no version; in [`LOCATION`], the regional
/// `stripe-key` (v1 [`CANARY`], where the global v1 is [`OLD_KEY`]) and
/// `eu-config` (JSON holding [`CANARY`] under `api_key`).
pub(super) fn fake() -> FakeSecretManager {
    use VersionState::*;
    let config = serde_json::json!({"api_key": CANARY, "webhook": WEBHOOK, "account": "acct_1234"})
        .to_string();
    let data = SecretManagerData::new(PROJECT, NUMBER)
        .token(TOKEN)
        .scoped_token(SCOPED_TOKEN, &["retired"])
        .secret("stripe-key", &[(OLD_KEY, Enabled), (CANARY, Enabled)])
        .secret("stripe-config", &[(&config, Enabled)])
        .secret(
            "retired",
            &[
                (DESTROYED, Destroyed),
                (DISABLED, Disabled),
                (CANARY, Enabled),
            ],
        )
        .secret("plain-text", &[("not json at all", Enabled)])
        .secret("empty", &[])
        .alias("stripe-key", "prod", 2)
        .alias("stripe-key", "old", 1)
        .regional_secret(LOCATION, "stripe-key", &[(CANARY, Enabled)])
        .regional_secret(LOCATION, "eu-config", &[(&config, Enabled)]);
    FakeSecretManager::spawn(data).expect("fake Secret Manager starts")
}

/// A project whose environment resolves through `chain`, with provider `gcp`
/// (granted the fake and the token) configured by `config` plus `extra` lines,
/// `secrets` as registry lines and one echo step per name in `used`.
pub(super) fn gcp_project(
    fake: &FakeSecretManager,
    chain: &str,
    config: &str,
    extra: &str,
    secrets: &str,
    used: &[&str],
) -> TestProject {
    let reqflo = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [{chain}]\n\
         providers:\n  gcp:\n    plugin: builtin:gcp\n    config: {{{config}}}\n\
         \x20   grants:\n      env: [GOOGLE_OAUTH_ACCESS_TOKEN]\n      hosts: [\"{}\"]\n{extra}\
         secrets:\n{secrets}",
        fake.addr()
    );
    let mut journey = String::from("steps:\n");
    for (i, name) in used.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    project(&[("reqflo.yaml", &reqflo), ("journeys/j.yaml", &journey)])
}

/// The usual configuration: the sample project, the fake as endpoint.
pub(super) fn config(fake: &FakeSecretManager) -> String {
    format!("project: {PROJECT}, endpoint: \"{}\"", fake.url())
}

/// A project of [`gcp_project`] with the usual chain and configuration.
pub(super) fn simple(fake: &FakeSecretManager, secrets: &str, used: &[&str]) -> TestProject {
    gcp_project(fake, "gcp", &config(fake), "", secrets, used)
}

pub(super) fn token(value: &str) -> [(&str, &str); 1] {
    [("GOOGLE_OAUTH_ACCESS_TOKEN", value)]
}

/// Neither value nor token, nor the unreadable versions, in `text`.
pub(super) fn assert_clean(text: &str, context: &str) {
    assert_absent(text, CANARY, context);
    assert_absent(text, WEBHOOK, context);
    assert_absent(text, TOKEN, context);
    for never in [DESTROYED, DISABLED] {
        assert!(!text.contains(never), "{context}: {never} in:\n{text}");
    }
}
