//! An environment's `tls:`: a private CA the journeys' requests trust, and
//! a client certificate whose private key is a secret by name; and HTTP/2
//! where a server offers it over TLS. Tested against a TLS front (rustls,
//! client certificates required, or `h2` offered) before the demo API.

use std::sync::Arc;

use tokio_rustls::rustls;

use crate::common::{CANARY, TestProject, assert_absent, project};

/// A private CA, a server certificate for 127.0.0.1 and a client
/// certificate, both signed by it.
struct Pki {
    ca_pem: String,
    server: (rcgen::Certificate, rcgen::KeyPair),
    ca_der: rustls::pki_types::CertificateDer<'static>,
    client_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let server_key = KeyPair::generate().expect("key");
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&server_key, &ca)
        .expect("server cert");
    let client_key = KeyPair::generate().expect("key");
    let client = CertificateParams::new(vec!["reqflo-client".to_string()])
        .expect("params")
        .signed_by(&client_key, &ca)
        .expect("client cert");
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
        server: (server, server_key),
    }
}

/// How the TLS front answers.
#[derive(Clone, Copy)]
enum Front {
    /// It requires a client certificate the CA signed; HTTP/1.1.
    Mutual,
    /// It offers HTTP/2 (ALPN `h2`), and no client certificate is asked.
    Http2,
}

/// A TLS front on 127.0.0.1 that passes the bytes on to `backend` (the
/// demo API, which speaks HTTP/1.1 and HTTP/2). Returns its port.
fn front(
    runtime: &tokio::runtime::Runtime,
    pki: &Pki,
    backend: std::net::SocketAddr,
    kind: Front,
) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("CA root");
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match kind {
        Front::Mutual => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier"),
        ),
        Front::Http2 => builder.with_no_client_auth(),
    };
    let (cert, key) = &pki.server;
    let mut config = builder
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    if let Front::Http2 = kind {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    }
    crate::common::tls::front(runtime, config, backend).port()
}

/// A project whose environment reaches, over HTTPS with `tls` (lines of
/// the environment), a TLS front before the project's own demo API.
fn tls_project(
    runtime: &tokio::runtime::Runtime,
    pki: &Pki,
    tls: &str,
    kind: Front,
) -> TestProject {
    let journey = "steps:\n  - id: pay\n    template: post-payment\n    values: {key: {type: secret, name: K}, amount: 5}\n    expect: {status: 201}\n";
    let p = project(&[("journeys/j.yaml", journey)]);
    let backend = p
        .api
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .expect("demo API address");
    let port = front(runtime, pki, backend, kind);
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"https://127.0.0.1:{port}\"}}\n{tls}"
    );
    std::fs::write(p.path("reqflo.yaml"), config).expect("write config");
    std::fs::write(p.path("ca.pem"), &pki.ca_pem).expect("write CA");
    std::fs::write(p.path("client.pem"), &pki.client_pem).expect("write cert");
    p
}

/// The lines of a PEM between its markers: what must never show.
fn pem_body(pem: &str) -> Vec<&str> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .collect()
}

const MUTUAL: &str = "    tls:\n      ca_file: ca.pem\n      client_certificate: client.pem\n      client_key: CLIENT_KEY\n";

#[test]
fn a_client_certificate_with_its_key_as_a_secret_opens_a_mutual_tls_api() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pki = pki();
    let p = tls_project(&runtime, &pki, MUTUAL, Front::Mutual);
    p.run(&["check", "j"], &[])
        .expect_code(0)
        .expect_output("secrets: K, CLIENT_KEY");
    let report = p.path("r.json").display().to_string();
    let key = pki.client_key_pem.as_str();
    let run = p.run(
        &["run", "j", "-v", "--report-json", &report],
        &[("K", CANARY), ("CLIENT_KEY", key)],
    );
    run.expect_code(0).expect_output("1 of 1 step ok");
    assert_eq!(p.api.requests(), 1);
    let text = std::fs::read_to_string(p.path("r.json")).expect("report");
    for channel in [run.all(), text] {
        assert_absent(&channel, CANARY, "the run");
        for line in pem_body(key) {
            assert!(
                !channel.contains(line),
                "a line of the key shows:\n{channel}"
            );
        }
    }

    // Without the client certificate the server ends the handshake.
    let p = tls_project(
        &runtime,
        &pki,
        "    tls:\n      ca_file: ca.pem\n",
        Front::Mutual,
    );
    p.run(&["run", "j"], &[("K", CANARY)]).expect_code(3);
    assert_eq!(p.api.requests(), 0);

    // Without the CA, the server's certificate is not trusted.
    let p = tls_project(&runtime, &pki, "", Front::Mutual);
    p.run(&["run", "j"], &[("K", CANARY)])
        .expect_code(3)
        .expect_output("TLS certificate not accepted");
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn a_bad_tls_setting_is_named_and_a_bad_key_never_shown() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pki = pki();
    for (tls, message) in [
        (
            "    tls:\n      ca_file: missing.pem\n",
            "cannot read missing.pem",
        ),
        (
            "    tls:\n      ca_file: reqflo.yaml\n",
            "reqflo.yaml holds no `-----BEGIN CERTIFICATE-----`",
        ),
        (
            "    tls:\n      client_certificate: client.pem\n",
            "takes both `client_certificate`",
        ),
    ] {
        let p = tls_project(&runtime, &pki, tls, Front::Mutual);
        let run = p.run(&["check", "j"], &[]);
        run.expect_output(message).expect_output("reqflo.yaml:");
        assert_ne!(run.code, 0);
    }
    // A key that is not a key: refused, and its text not quoted.
    let p = tls_project(&runtime, &pki, MUTUAL, Front::Mutual);
    let not_a_key = "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LWJ1dC1hLWNhbmFyeS0xMjM0NQ==\n-----END PRIVATE KEY-----\n";
    let run = p.run(&["run", "j"], &[("K", CANARY), ("CLIENT_KEY", not_a_key)]);
    run.expect_code(3)
        .expect_output("the secret CLIENT_KEY do not make a TLS identity");
    assert!(!run.all().contains("bm90LWEta2V5"), "{}", run.all());
}

#[test]
fn a_server_that_offers_http2_over_tls_is_spoken_to_in_http2() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pki = pki();
    let p = tls_project(
        &runtime,
        &pki,
        "    tls:\n      ca_file: ca.pem\n",
        Front::Http2,
    );
    let report = p.path("r.json").display().to_string();
    let run = p.run(
        &["run", "j", "-v", "--report-json", &report],
        &[("K", CANARY)],
    );
    run.expect_code(0).expect_output("< HTTP/2.0 201 Created");
    let text = std::fs::read_to_string(p.path("r.json")).expect("report");
    assert!(text.contains("\"http_version\": \"HTTP/2.0\""), "{text}");
    assert_absent(&run.all(), CANARY, "an HTTP/2 run");
    assert_absent(&text, CANARY, "an HTTP/2 run's report");
}
