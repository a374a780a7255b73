//! Connect over the network (a slow server, a redirect, a host outside the
//! grants, HTTPS with a private CA), and the host's network grants that
//! every networked plugin goes through, driven by the hostile test plugin.

use super::{Connect, env, op_project};
use crate::common::{TestProject, project};

use std::time::{Duration, Instant};

#[test]
fn a_slow_server_times_out_with_a_clear_error() {
    let c = Connect::start();
    c.fake.set_delay(Duration::from_secs(30));
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";
    let p = op_project(
        &c.grant(),
        "    limits: {timeout_ms: 1000}\n",
        secrets,
        &["S"],
    );
    let started = Instant::now();
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("did not answer in time");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_redirect_to_another_host_is_not_followed() {
    let c = Connect::start();
    let elsewhere = Connect::start();
    c.fake.set_redirect(Some(elsewhere.fake.url()));
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";
    // Even with both hosts granted, a redirect is never followed for the plugin.
    let hosts = format!("\"{}\", \"{}\"", c.grant(), elsewhere.grant());
    let p = op_project(&hosts, "", secrets, &["S"]);
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("redirect")
        .expect_output(&elsewhere.grant());
    assert_eq!(c.fake.requests().len(), 1);
    assert!(elsewhere.fake.requests().is_empty());
}

#[test]
fn a_host_outside_the_grants_is_refused_and_named() {
    let c = Connect::start();
    let url = c.fake.url();
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";
    let p = op_project("\"127.0.0.1:9\"", "", secrets, &["S"]);
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("provider `op` (builtin:onepassword)")
        .expect_output(&format!(
            "tried to reach http://{}, which is not in its grants.hosts (its grants.hosts are 127.0.0.1:9)",
            c.grant()
        ));
    assert!(c.fake.requests().is_empty(), "{:#?}", c.fake.requests());
}

/// A project resolving `S` through the hostile test plugin with `reference`.
fn hostile(reference: &str, grants: &str) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [hostile]\nproviders:\n  hostile:\n    plugin: \"@HOSTILE@\"\n    limits: {{timeout_ms: 2000}}\n{grants}secrets:\n  S: {{reference: \"{reference}\"}}\n"
    );
    project(&[
        ("reqflo.yaml", &config),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: S}}\n",
        ),
    ])
}

#[test]
fn a_plugin_without_host_grants_has_no_network() {
    let c = Connect::start();
    let url = format!("{}/heartbeat", c.fake.url());
    for action in ["http", "http-quiet"] {
        let p = hostile(&format!("{action}:{url}"), "");
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output("provider `hostile`")
            .expect_output(&format!(
                "tried to reach http://{}, but it has no grants.hosts (no network)",
                c.grant()
            ));
        assert_eq!(p.api.requests(), 0);
    }
    assert!(c.fake.requests().is_empty());
}

#[test]
fn a_plugin_reaches_exactly_its_granted_hosts() {
    let c = Connect::start();
    let heartbeat = format!("{}/heartbeat", c.fake.url());
    // Granted: the fetch goes through the host and its body becomes the value.
    let p = hostile(
        &format!("http:{heartbeat}"),
        &format!("    grants: {{hosts: [\"{}\"]}}\n", c.grant()),
    );
    // "." is shorter than any secret may be: resolution fails after the fetch.
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("is shorter than 4 bytes");
    assert_eq!(c.count("GET /heartbeat"), 1);

    // The same host on another port, or named differently, is not the grant.
    let other_port = format!("127.0.0.1:{}", c.fake.addr().port() ^ 1);
    for grant in [other_port.as_str(), "localhost", "https://127.0.0.1"] {
        let p = hostile(
            &format!("http-quiet:{heartbeat}"),
            &format!("    grants: {{hosts: [\"{grant}\"]}}\n"),
        );
        p.run(&["run", "j"], &[])
            .expect_code(3)
            .expect_output("which is not in its grants.hosts");
    }
    assert_eq!(c.count("GET /heartbeat"), 1);
}

#[test]
fn a_response_over_the_cap_never_reaches_the_plugin() {
    // The demo API is the granted host; it answers 20 MB, over the 16 MiB cap.
    let p = hostile(
        "http:@BASE@/bytes/20000000",
        "    grants: {hosts: [\"@HOST@\"]}\n",
    );
    let config = std::fs::read_to_string(p.path("reqflo.yaml")).expect("config");
    let host = p.api.base_url().trim_start_matches("http://").to_string();
    std::fs::write(p.path("reqflo.yaml"), config.replace("@HOST@", &host)).expect("write");
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("provider `hostile`")
        .expect_output("HttpResponseBodySize");
    // The one request the API saw is the plugin's fetch; the journey sent nothing.
    assert_eq!(p.api.requests(), 1);
}

#[test]
fn bad_host_grants_are_config_errors_with_a_position() {
    let p = hostile(
        "value:whatever",
        "    grants: {hosts: [\"127.0.0.1:8200\", \"https://vault.example.com/v1/secret\"]}\n",
    );
    p.run(&["check", "j"], &[])
        .expect_code(1)
        .expect_output("in grants.hosts: `https://vault.example.com/v1/secret` is not a host grant")
        .expect_output("reqflo.yaml:9:");
}

/// A private CA and a TLS front for the fake Connect server, signed by it for
/// 127.0.0.1. Returns the HTTPS address and the CA's PEM.
fn tls_front(c: &Connect) -> (std::net::SocketAddr, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use tokio_rustls::rustls;

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .expect("server config");
    let addr = crate::common::tls::front(&c._runtime, config, c.fake.addr());
    (addr, ca.pem())
}

#[test]
fn https_to_a_private_server_needs_its_ca_file() {
    let c = Connect::start();
    let (addr, ca_pem) = tls_front(&c);
    let url = format!("https://{addr}");
    let secrets = "  S: {reference: \"op://Payments/Stripe Sandbox/credential\"}\n";

    // webpki roots alone do not trust a private CA.
    let p = op_project(&format!("\"{addr}\""), "", secrets, &["S"]);
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(3)
        .expect_output("TLS certificate not accepted");
    assert!(c.fake.requests().is_empty());

    // With the CA file, the same server is trusted.
    let p = op_project(
        &format!("\"https://{addr}\""),
        "    ca_file: ca.pem\n",
        secrets,
        &["S"],
    );
    std::fs::write(p.path("ca.pem"), &ca_pem).expect("write CA");
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(0);
    assert_eq!(c.fake.requests().len(), 3, "{:#?}", c.fake.requests());
    p.run(&["plugins", "list"], &[])
        .expect_code(0)
        .expect_output("extra CA:");

    // A CA file that is not there is a configuration error with a position.
    let p = op_project(
        &format!("\"{addr}\""),
        "    ca_file: missing.pem\n",
        secrets,
        &["S"],
    );
    p.run(&["run", "j"], &env(&url, "full-token"))
        .expect_code(1)
        .expect_output("ca_file")
        .expect_output("missing.pem does not exist")
        .expect_output("reqflo.yaml:");
}
