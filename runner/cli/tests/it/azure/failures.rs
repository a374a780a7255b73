//! What goes wrong, named: a bad or limited static token and the gate that
//! refused it, throttling and server errors, a slow vault, Azure AD outside
//! the grants, and configuration mistakes.

use super::{Azure, CLIENT_ENV, DB_PASSWORD, STATIC_ENV, kv_project};
use crate::common::{CANARY, assert_absent};

use std::time::{Duration, Instant};

use reqflo_fakes::azure::{
    AzureData, CLIENT_ID, DB_CREDENTIALS_NAME, LIMITED_TOKEN, PAYMENTS_KEY_NAME, TENANT_ID,
};

#[test]
fn a_bad_or_limited_static_token_is_denied() {
    let az = Azure::start();
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &az.static_token(), &secrets, &["S"], &[]);
    let bad = "bad/Tok+en=Azure1";
    let run = p.run(&["run", "j", "-v"], &[("AZURE_ACCESS_TOKEN", bad)]);
    run.expect_code(3)
        .expect_output(
            "provider `kv` (builtin:azure) failed to resolve `payments-api-key`: access denied",
        )
        .expect_output("rejected the access token (401)")
        .expect_output("check AZURE_ACCESS_TOKEN");
    assert_absent(&run.all(), bad, "bad token");
    assert_eq!(p.api.requests(), 0);

    // A token without the permission: 403, with Key Vault's codes.
    let secrets = format!("  DB: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n");
    let p = kv_project(CANARY, &az.static_token(), &secrets, &["DB"], &[]);
    let run = p.run(&["run", "j"], &[("AZURE_ACCESS_TOKEN", LIMITED_TOKEN)]);
    run.expect_code(3)
        .expect_output(
            "access denied: the identity may not read secret `db-credentials` (latest version)",
        )
        .expect_output("(403, Forbidden, AccessDenied)");
    assert_absent(&run.all(), LIMITED_TOKEN, "limited token");
    assert_absent(&run.all(), DB_PASSWORD, "limited token");
    // Which gate said no, and what opens it: a vault on Azure RBAC, and a
    // vault whose firewall refuses the caller.
    let secrets = format!("  DB: {{reference: \"{DB_CREDENTIALS_NAME}#password\"}}\n");
    for (rbac, firewall_closed, says) in [
        (
            true,
            false,
            "(403, Forbidden, ForbiddenByRbac): the vault uses Azure RBAC: grant the identity the `Key Vault Secrets User` role",
        ),
        (
            false,
            true,
            "(403, Forbidden, ForbiddenByFirewall): the vault's firewall refused this caller's address",
        ),
    ] {
        let data = AzureData {
            rbac,
            firewall_closed,
            ..AzureData::sample(CANARY, DB_PASSWORD)
        };
        let gated = Azure::serving(data);
        let p = kv_project(CANARY, &gated.static_token(), &secrets, &["DB"], &[]);
        let run = p.run(&["run", "j"], &[("AZURE_ACCESS_TOKEN", LIMITED_TOKEN)]);
        run.expect_code(3).expect_output(says);
        assert_absent(&run.all(), DB_PASSWORD, "a 403");
    }
    // Key Vault authorizes before it looks: a name the token may not read
    // is denied whether or not it exists (the fake did "not found" first).
    let secrets = "  NOPE: {reference: no-such-secret}\n";
    let p = kv_project(CANARY, &az.static_token(), secrets, &["NOPE"], &[]);
    p.run(&["run", "j"], &[("AZURE_ACCESS_TOKEN", LIMITED_TOKEN)])
        .expect_code(3)
        .expect_output("(403, Forbidden, AccessDenied)");

    // No token at all: say which variable to set, and ask nothing.
    let before = az.vault_requests();
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("AZURE_ACCESS_TOKEN is not visible to the Azure Key Vault provider");
    assert_eq!(az.vault_requests(), before);
}

#[test]
fn throttling_and_server_errors_are_unavailable_and_name_the_server() {
    let az = Azure::start();
    let url = az.fake.url();
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &az.client_credentials(), &secrets, &["S"], &[]);

    az.fake.set_vault_status(Some(429));
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "unavailable: Key Vault at {url} is throttling requests (429) while reading \
             secret `payments-api-key` (latest version)"
        ));
    az.fake.set_vault_status(Some(503));
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "Key Vault at {url} answered 503 (ServiceUnavailable)"
        ));
    az.fake.set_vault_status(None);

    az.fake.set_token_status(Some(503));
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "unavailable: Azure AD at {url} answered 503 while getting a token for client \
             {CLIENT_ID} in tenant {TENANT_ID}"
        ));
    az.fake.set_token_status(None);
    p.run(&["run", "j"], &CLIENT_ENV).expect_code(0);
    assert_eq!(p.api.requests(), 1);
}

#[test]
fn a_slow_vault_times_out_with_a_clear_error() {
    let az = Azure::start();
    az.fake.set_delay(Duration::from_secs(30));
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let provider = format!("{}    limits: {{timeout_ms: 1000}}\n", az.static_token());
    let p = kv_project(CANARY, &provider, &secrets, &["S"], &[]);
    let started = Instant::now();
    p.run(&["run", "j"], &STATIC_ENV)
        .expect_code(3)
        .expect_output(&format!(
            "Key Vault at {} did not answer in time while reading secret `payments-api-key`",
            az.fake.url()
        ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn azure_ad_outside_the_grants_is_refused_and_named() {
    let az = Azure::start();
    // The vault is granted; the authority (another port) is not.
    let provider = az.client_credentials().replace(
        &format!("authority: \"{}\"", az.fake.url()),
        "authority: \"http://127.0.0.1:9\"",
    );
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let p = kv_project(CANARY, &provider, &secrets, &["S"], &[]);
    p.run(&["run", "j"], &CLIENT_ENV)
        .expect_code(3)
        .expect_output("provider `kv` (builtin:azure)")
        .expect_output(&format!(
            "tried to reach http://127.0.0.1:9, which is not in its grants.hosts (its grants.hosts are {})",
            az.grant()
        ));
    assert!(az.fake.requests().is_empty(), "{:#?}", az.fake.requests());
}

#[test]
fn configuration_errors_are_named() {
    let az = Azure::start();
    let secrets = format!("  S: {{reference: {PAYMENTS_KEY_NAME}}}\n");
    let grants = format!("    grants: {{hosts: [\"{}\"]}}\n", az.grant());
    for (config, expected) in [
        ("    config: {}\n", "config.vault_url is required"),
        (
            "    config: {vault_url: \"http://127.0.0.1:1\", vault: x}\n",
            "unknown config key `vault` for the Azure Key Vault provider",
        ),
        (
            "    config: {vault_url: \"http://127.0.0.1:1\", tenant_id: t}\n",
            "client credentials need both config.tenant_id and config.client_id",
        ),
        (
            "    config: {vault_url: \"https://v.vault.azure.net/secrets\"}\n",
            "config.vault_url is not a usable Key Vault URL",
        ),
    ] {
        let p = kv_project(CANARY, &format!("{config}{grants}"), &secrets, &["S"], &[]);
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output("provider `kv` (builtin:azure) failed to resolve `payments-api-key`: configuration refused")
            .expect_output(expected);
    }
    assert!(az.fake.requests().is_empty());
}
