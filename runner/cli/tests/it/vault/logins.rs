//! Logins that trade a credential for a token: JWT (an ES256 issuer of the
//! test's own), Kubernetes (the cluster's TokenReview a fake) and AppRole,
//! at the default mount and at another one.

use super::{Bao, pays, provider, secrets, vault_project};
use crate::common::servers;
use crate::common::{CANARY, assert_absent};

use serde_json::{Value, json};

/// An ES256 signer standing in for a cluster's OIDC issuer: its public key
/// as PEM (what OpenBao's `jwt_validation_pubkeys` takes) and JWTs it signs.
struct Issuer {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl Issuer {
    fn new() -> Issuer {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("P-256 key pair");
        Issuer { pair, rng }
    }

    /// SubjectPublicKeyInfo of the P-256 point, as PEM.
    fn public_pem(&self) -> String {
        use base64::Engine as _;
        use ring::signature::KeyPair as _;
        // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING point }
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(self.pair.public_key().as_ref());
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
    }

    /// A JWT for `audience`, valid for ten minutes.
    fn jwt(&self, audience: &str) -> String {
        use base64::Engine as _;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let header = url.encode(r#"{"alg":"ES256","typ":"JWT"}"#);
        let claims = url.encode(
            json!({
                "iss": "https://issuer.reqflo.test",
                "sub": "system:serviceaccount:payments:reqflo",
                "aud": audience,
                "iat": now,
                "nbf": now,
                "exp": now + 600,
            })
            .to_string(),
        );
        let input = format!("{header}.{claims}");
        let signature = self.pair.sign(&self.rng, input.as_bytes()).expect("signs");
        format!("{input}.{}", url.encode(signature.as_ref()))
    }
}

#[test]
fn a_jwt_login_reads_with_the_token_it_gets_and_never_shows_the_jwt() {
    let bao = Bao::shared();
    let issuer = Issuer::new();
    bao.call("POST", "sys/auth/jwt-ci", json!({ "type": "jwt" }));
    bao.call(
        "POST",
        "auth/jwt-ci/config",
        json!({
            "jwt_validation_pubkeys": [issuer.public_pem()],
            "bound_issuer": "https://issuer.reqflo.test",
        }),
    );
    bao.policy("jwt-reader", &["secret/data/jwt/*"]);
    bao.call(
        "POST",
        "auth/jwt-ci/role/payments",
        json!({
            "role_type": "jwt",
            "bound_audiences": ["reqflo"],
            "user_claim": "sub",
            "token_policies": ["jwt-reader"],
            "token_ttl": "10m",
        }),
    );
    bao.write("jwt/app", json!({ "api_key": CANARY }));

    let dir = tempfile::tempdir().expect("temp dir");
    let jwt_file = dir.path().join("token");
    let jwt = issuer.jwt("reqflo");
    std::fs::write(&jwt_file, &jwt).expect("JWT file");
    let server = servers::openbao();
    let path = jwt_file.display().to_string();
    let providers = format!(
        "  vault:\n    plugin: builtin:vault\n    config: {{address: \"{}\", auth: jwt, role: payments, \
         auth_mount: jwt-ci, jwt_file: \"{path}\"}}\n    grants:\n      files: [\"{path}\"]\n      \
         hosts: [\"{}\"]\n",
        server.url, server.authority
    );
    let entries = secrets(&[("A", "jwt/app#api_key")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["A"]));
    let run = p.run(&["run", "j", "-v"], &[]);
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1);
    for value in [CANARY, jwt.as_str()] {
        assert_absent(&run.all(), value, "a JWT login run");
    }

    // A JWT for another audience: refused by OpenBao, named, never shown.
    let other = issuer.jwt("someone-else");
    std::fs::write(&jwt_file, &other).expect("JWT file");
    let run = p.run(&["run", "j"], &[]);
    run.expect_code(3)
        .expect_output("the JWT login at auth/jwt-ci for role \"payments\" was refused (400)");
    assert_absent(&run.all(), &other, "a refused JWT login");
}

/// A CA certificate as PEM. OpenBao's Kubernetes method wants one named
/// when it may not read the pod's own (`disable_local_ca_jwt`); over the
/// fake cluster's plain HTTP it is never used.
fn unused_ca_pem() -> String {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
        .expect("CA")
        .pem()
}

#[test]
fn a_kubernetes_login_needs_only_the_service_account_token_file() {
    use reqflo_fakes::kubernetes::{FakeKubernetes, ServiceAccount};
    let bao = Bao::shared();
    // The cluster: OpenBao's own account reviews tokens (system:auth-delegator);
    // reqflo runs as payments/reqflo; payments/batch is bound to no role.
    let cluster = FakeKubernetes::spawn(&[
        ServiceAccount::new("vault", "openbao").reviewer(),
        ServiceAccount::new("payments", "reqflo"),
        ServiceAccount::new("payments", "batch"),
    ])
    .expect("fake cluster starts");
    let token = |name| cluster.token("payments", name).expect("issued");
    let reviewer = cluster.token("vault", "openbao").expect("issued");
    bao.call("POST", "sys/auth/k8s-ci", json!({ "type": "kubernetes" }));
    bao.call(
        "POST",
        "auth/k8s-ci/config",
        json!({
            "kubernetes_host": cluster.url(),
            "kubernetes_ca_cert": unused_ca_pem(),
            "disable_local_ca_jwt": true,
            "token_reviewer_jwt": reviewer,
        }),
    );
    bao.policy("k8s-reader", &["secret/data/k8s/*"]);
    bao.call(
        "POST",
        "auth/k8s-ci/role/payments",
        json!({
            "bound_service_account_names": ["reqflo"],
            "bound_service_account_namespaces": ["payments"],
            "token_policies": ["k8s-reader"],
            "token_ttl": "10m",
        }),
    );
    bao.write("k8s/app", json!({ "api_key": CANARY }));

    // The journey's only credential: the token file, granted read-only.
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    let path = token_file.display().to_string();
    let server = servers::openbao();
    let providers = format!(
        "  vault:\n    plugin: builtin:vault\n    config: {{address: \"{}\", auth: kubernetes, \
         role: payments, auth_mount: k8s-ci, jwt_file: \"{path}\"}}\n    grants:\n      files: \
         [\"{path}\"]\n      hosts: [\"{}\"]\n",
        server.url, server.authority
    );
    let entries = secrets(&[("A", "k8s/app#api_key")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["A"]));
    let refused = "access denied: the Kubernetes login at auth/k8s-ci for role \"payments\" was \
                   refused (403)";
    let secrets_of_the_run = [
        CANARY.to_string(),
        token("reqflo"),
        token("batch"),
        reviewer.clone(),
    ];
    let reviewed = || cluster.reviews().len();

    std::fs::write(&token_file, token("reqflo")).expect("token file");
    let run = p.run(&["run", "j", "-v"], &[]);
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1, "the payment");
    let reviews = cluster.reviews();
    assert_eq!(
        reviews.len(),
        1,
        "OpenBao asked the cluster once: {reviews:?}"
    );
    assert_eq!(
        reviews[0].authenticated.as_deref(),
        Some("system:serviceaccount:payments:reqflo")
    );
    assert_eq!(reviews[0].reviewer, "system:serviceaccount:vault:openbao");

    // An account the role does not bind: OpenBao refuses it from the JWT's
    // claims, before asking the cluster.
    std::fs::write(&token_file, token("batch")).expect("token file");
    let denied = p.run(&["run", "j"], &[]);
    denied.expect_code(3).expect_output(refused);
    assert_eq!(reviewed(), 1);

    // The file is read at each run: the right token again passes.
    std::fs::write(&token_file, token("reqflo")).expect("token file");
    p.run(&["run", "j"], &[]).expect_code(0);
    assert_eq!(reviewed(), 2);

    // A token the cluster no longer accepts (its account deleted): the
    // review says so, OpenBao denies the login.
    cluster.revoke(&token("reqflo"));
    let revoked = p.run(&["run", "j"], &[]);
    revoked
        .expect_code(3)
        .expect_output(refused)
        .expect_output("that the cluster still accepts the service account token");
    let reviews = cluster.reviews();
    assert_eq!(reviews.len(), 3, "{reviews:?}");
    assert_eq!(reviews[2].authenticated, None);
    assert_eq!(p.api.requests(), 2, "no payment without a login");
    for out in [run.all(), denied.all(), revoked.all()] {
        for value in &secrets_of_the_run {
            assert_absent(&out, value, "a Kubernetes login run");
        }
    }
}

#[test]
fn approle_logs_in_once_per_run() {
    let bao = Bao::shared();
    bao.call("POST", "sys/auth/approle", json!({ "type": "approle" }));
    bao.policy("approle-reader", &["secret/data/approle/*"]);
    bao.call(
        "POST",
        "auth/approle/role/payments",
        json!({ "token_policies": ["approle-reader"] }),
    );
    bao.write(
        "approle/app",
        json!({ "api_key": CANARY, "username": "svc-approle" }),
    );
    let role_id =
        bao.call("GET", "auth/approle/role/payments/role-id", Value::Null)["data"]["role_id"]
            .as_str()
            .expect("role_id")
            .to_string();
    // One use: a second login in the same run would be refused.
    let secret_id = bao.call(
        "POST",
        "auth/approle/role/payments/secret-id",
        json!({ "num_uses": 1 }),
    )["data"]["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_string();

    let providers = provider(
        &format!("address: \"{}\", auth: approle", servers::openbao().url),
        "VAULT_ROLE_ID, VAULT_SECRET_ID",
        &format!("\"{}\"", servers::openbao().authority),
    );
    let entries = secrets(&[
        ("API_KEY", "approle/app#api_key"),
        ("USERNAME", "approle/app#username"),
        ("OTHER_SECRET", "approle/missing#k"),
    ]);
    let mut journey = pays(&["API_KEY"]);
    journey.push_str(
        "  - id: who\n    template: echo\n    values: {key: {type: secret, name: USERNAME}}\n",
    );
    let p = vault_project(CANARY, "vault", &providers, &entries, &journey);
    let env = [
        ("VAULT_ROLE_ID", role_id.as_str()),
        ("VAULT_SECRET_ID", secret_id.as_str()),
    ];
    let run = p.run(&["run", "j", "-v"], &env);
    run.expect_code(0);
    assert_eq!(p.api.requests(), 2);
    for value in [CANARY, secret_id.as_str()] {
        assert_absent(&run.all(), value, "AppRole run");
    }

    // The secret ID is used up: the next run's login is refused, by name.
    let run = p.run(&["run", "j"], &env);
    run.expect_code(3)
        .expect_output("failed to resolve `approle/app#api_key`: access denied: the AppRole login at auth/approle was refused (400)")
        .expect_output("VAULT_SECRET_ID");
    assert_absent(&run.all(), &secret_id, "refused login");
}

#[test]
fn approle_at_another_mount_with_other_variables() {
    let bao = Bao::shared();
    bao.call("POST", "sys/auth/approle-ci", json!({ "type": "approle" }));
    bao.policy("approle-ci-reader", &["secret/data/approle-ci/*"]);
    bao.call(
        "POST",
        "auth/approle-ci/role/ci",
        json!({ "token_policies": ["approle-ci-reader"] }),
    );
    bao.write("approle-ci/app", json!({ "api_key": CANARY }));
    bao.write("approle-elsewhere/app", json!({ "api_key": CANARY }));
    let role_id =
        bao.call("GET", "auth/approle-ci/role/ci/role-id", Value::Null)["data"]["role_id"]
            .as_str()
            .expect("role_id")
            .to_string();
    let secret_id =
        bao.call("POST", "auth/approle-ci/role/ci/secret-id", Value::Null)["data"]["secret_id"]
            .as_str()
            .expect("secret_id")
            .to_string();
    let providers = provider(
        &format!(
            "address: \"{}\", auth: approle, approle_mount: approle-ci/, role_id_env: CI_ROLE, \
             secret_id_env: CI_SECRET",
            servers::openbao().url
        ),
        "CI_ROLE, CI_SECRET",
        &format!("\"{}\"", servers::openbao().authority),
    );
    let entries = secrets(&[
        ("S", "approle-ci/app#api_key"),
        ("ELSEWHERE", "approle-elsewhere/app#api_key"),
    ]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["S"]));
    let env = [
        ("CI_ROLE", role_id.as_str()),
        ("CI_SECRET", secret_id.as_str()),
    ];
    p.run(&["run", "j"], &env).expect_code(0);
    // The role's policy is what limits the login's token.
    let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["ELSEWHERE"]));
    p.run(&["run", "j"], &env)
        .expect_code(3)
        .expect_output("access denied: the token may not read \"approle-elsewhere/app\"");
}
