//! The built-in Vault provider against a REAL OpenBao dev server (KV v2 at
//! `secret/`, root token `root`, from the test virtualenv): versions, keys,
//! policies, AppRole, JWT and Kubernetes logins (the cluster's TokenReview
//! a fake, `reqflo-fakes`), KV v1, namespaces, a sealed server and one that
//! is down.
//!
//! The tests in this binary share one server and run in parallel, so each
//! keeps to its own path prefix, policy, role and mount names.

use crate::common;

use common::servers::{self, OPENBAO_ROOT_TOKEN};
use common::{
    CANARY, TestProject, assert_absent, assert_redacted, every_channel, project_with_key,
    read_report, show_last,
};
use serde_json::{Value, json};

/// A second value, so tests can tell which one was picked.
const OTHER: &str = "0ther/Val+ue=Kq7";

/// OpenBao's HTTP API with the root token, to set up each test's data.
struct Bao {
    url: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Bao {
    /// The server this test binary shares.
    fn shared() -> Bao {
        Bao::at(&servers::openbao().url)
    }

    fn at(url: &str) -> Bao {
        Bao {
            url: url.to_string(),
            client: reqwest::Client::new(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    /// `METHOD /v1/{path}` (in `namespace`), which must succeed; its JSON, or
    /// null for an empty answer.
    fn call_in(&self, namespace: Option<&str>, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let url = format!("{}/v1/{path}", self.url);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header("X-Vault-Token", OPENBAO_ROOT_TOKEN);
        if let Some(namespace) = namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if !body.is_null() {
            request = request.body(serde_json::to_vec(&body).expect("json"));
        }
        // A dev server's KV v2 mount upgrades itself for a moment after
        // start, answering 400 "Upgrading from non-versioned to versioned
        // data" meanwhile: wait that out (up to 10 s), as a client would.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let (status, bytes) = loop {
            let attempt = request.try_clone().expect("a request with a plain body");
            let (status, bytes) = self.runtime.block_on(async {
                let response = attempt.send().await.expect("OpenBao answers");
                let status = response.status();
                (status, response.bytes().await.expect("body"))
            });
            let upgrading = status == reqwest::StatusCode::BAD_REQUEST
                && String::from_utf8_lossy(&bytes).contains("Upgrading from non-versioned");
            if !upgrading || std::time::Instant::now() > deadline {
                break (status, bytes);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        assert!(
            status.is_success(),
            "{method} {url}: {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON answer")
        }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call_in(None, method, path, body)
    }

    /// A new version of the KV v2 secret at `path` in `secret/`.
    fn write(&self, path: &str, data: Value) {
        self.call(
            "POST",
            &format!("secret/data/{path}"),
            json!({ "data": data }),
        );
    }

    /// A policy that may read exactly `paths` (ACL paths, mount included).
    fn policy(&self, name: &str, paths: &[&str]) {
        let rules: String = paths
            .iter()
            .map(|p| format!("path \"{p}\" {{ capabilities = [\"read\"] }}\n"))
            .collect();
        self.call(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            json!({ "policy": rules }),
        );
    }

    /// A token with the ID `id` (chosen, so tests can look for it in output)
    /// and `policies`; `uses` limits how many requests it may make (0: any).
    fn token(&self, id: &str, policies: &[&str], uses: u32) {
        self.call(
            "POST",
            "auth/token/create",
            json!({ "id": id, "policies": policies, "num_uses": uses, "no_default_policy": true }),
        );
    }
}

/// The provider block for `vault`: builtin:vault with `config` (a YAML flow
/// map's inside), granted `env` and `hosts`.
fn provider(config: &str, env: &str, hosts: &str) -> String {
    format!(
        "  vault:\n    plugin: builtin:vault\n    config: {{{config}}}\n    grants:\n      env: [{env}]\n      hosts: [{hosts}]\n"
    )
}

/// The usual provider: the shared server, a token from VAULT_TOKEN, and `extra` config.
fn shared_provider(extra: &str) -> String {
    let bao = servers::openbao();
    let config = if extra.is_empty() {
        format!("address: \"{}\"", bao.url)
    } else {
        format!("address: \"{}\", {extra}", bao.url)
    };
    provider(&config, "VAULT_TOKEN", &format!("\"{}\"", bao.authority))
}

/// A project whose demo API accepts `api_key`, resolving through `chain`, with
/// `providers` and `secrets` (registry lines) and the journey `j`.
fn vault_project(
    api_key: &str,
    chain: &str,
    providers: &str,
    secrets: &str,
    journey: &str,
) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [{chain}]\n\
         providers:\n{providers}secrets:\n{secrets}"
    );
    project_with_key(
        api_key,
        &[("reqflo.yaml", &config), ("journeys/j.yaml", journey)],
    )
}

/// Registry lines: each `(NAME, reference)`.
fn secrets(entries: &[(&str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, reference)| format!("  {name}: {{reference: \"{reference}\"}}\n"))
        .collect()
}

/// A journey paying once with each secret as the API key: it passes only if
/// every one resolved to the key the demo API accepts.
fn pays(names: &[&str]) -> String {
    let mut journey = String::from("steps:\n");
    for (i, name) in names.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: pay{i}\n    template: post-payment\n    values: {{key: {{type: secret, name: {name}}}, amount: 5}}\n    expect: {{status: 201}}\n"
        ));
    }
    journey
}

/// A journey sending each secret in a header.
fn echoes(names: &[&str]) -> String {
    let mut journey = String::from("steps:\n");
    for (i, name) in names.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: echo{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    journey
}

fn token(value: &str) -> [(&str, &str); 1] {
    [("VAULT_TOKEN", value)]
}

/// The `check --resolve` line for secret `name`.
fn line(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.contains(&format!("secret {name}:")))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{out}"))
        .to_string()
}

#[test]
fn reads_the_latest_version_and_a_pinned_older_one() {
    let bao = Bao::shared();
    let old = "0ld/Ver+sion=Key1";
    bao.write("versions/stripe", json!({ "api_key": old }));
    bao.write("versions/stripe", json!({ "api_key": CANARY }));

    let latest = secrets(&[("LATEST", "versions/stripe#api_key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &latest,
        &pays(&["LATEST"]),
    );
    let run = p.run(&["run", "j", "-v"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1);
    for value in [CANARY, old, OPENBAO_ROOT_TOKEN] {
        assert_absent(&run.all(), value, "run -v of the latest version");
    }

    // Both orders of key and version pin version 1.
    let pinned = secrets(&[
        ("PINNED", "versions/stripe#api_key?version=1"),
        ("URL_ORDER", "versions/stripe?version=1#api_key"),
    ]);
    let p = vault_project(
        old,
        "vault",
        &shared_provider(""),
        &pinned,
        &pays(&["PINNED", "URL_ORDER"]),
    );
    let run = p.run(&["run", "j", "-v"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    for value in [CANARY, old] {
        assert_absent(&run.all(), value, "run -v of a pinned version");
    }
}

#[test]
fn picks_a_named_key_or_the_only_key() {
    let bao = Bao::shared();
    bao.write(
        "keys/multi",
        json!({ "username": "svc-payments-user", "api_key": CANARY }),
    );
    bao.write("keys/single", json!({ "token": CANARY }));
    bao.write(
        "keys/typed",
        json!({ "port": 123456789, "nested": { "a": 1 }, "list": [1, 2] }),
    );

    let named = secrets(&[("MULTI", "keys/multi#api_key"), ("SINGLE", "keys/single")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &named,
        &pays(&["MULTI", "SINGLE"]),
    );
    let run = p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 2);

    // A number is handed on as its JSON text.
    let number = secrets(&[("NUMBER", "keys/typed#port")]);
    let p = vault_project(
        "123456789",
        "vault",
        &shared_provider(""),
        &number,
        &pays(&["NUMBER"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(0);
}

#[test]
fn no_key_on_a_multi_key_secret_lists_key_names_and_no_values() {
    let bao = Bao::shared();
    bao.write(
        "nokey/multi",
        json!({ "username": "svc-nokey-user", "api_key": CANARY }),
    );
    bao.write(
        "nokey/typed",
        json!({ "nested": { "a": CANARY }, "list": [CANARY] }),
    );
    let entries = secrets(&[
        ("ALL_KEYS", "nokey/multi"),
        ("OBJECT", "nokey/typed#nested"),
        ("ARRAY", "nokey/typed#list"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["ALL_KEYS", "OBJECT", "ARRAY"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3);
    let out = run.all();
    let all_keys = line(&out, "ALL_KEYS");
    assert!(all_keys.contains("invalid reference"), "{out}");
    assert!(
        all_keys.contains(
            "secret \"nokey/multi\" has 2 keys (\"api_key\", \"username\"); name one with `#key`"
        ),
        "{out}"
    );
    assert!(
        line(&out, "OBJECT").contains("holds a JSON object, not a single value"),
        "{out}"
    );
    assert!(line(&out, "ARRAY").contains("holds a JSON array"), "{out}");
    assert!(!out.contains("svc-nokey-user"), "{out}");
    assert_absent(&out, CANARY, "key-listing errors");

    // The same error stops a run before anything is sent.
    let run = p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3)
        .expect_output("provider `vault` (builtin:vault) failed to resolve `nokey/multi`");
    assert_eq!(p.api.requests(), 0);
    assert_absent(&run.all(), CANARY, "run error");
}

#[test]
fn missing_paths_keys_and_versions_are_not_found() {
    let bao = Bao::shared();
    for value in [CANARY, OTHER, "third/Ver+sion=3"] {
        bao.write("missing/app", json!({ "k": value }));
    }
    bao.call(
        "POST",
        "secret/delete/missing/app",
        json!({ "versions": [1] }),
    );
    bao.call(
        "PUT",
        "secret/destroy/missing/app",
        json!({ "versions": [2] }),
    );
    let entries = secrets(&[
        ("NO_PATH", "missing/nope#k"),
        ("NO_KEY", "missing/app#nope"),
        ("DELETED", "missing/app#k?version=1"),
        ("DESTROYED", "missing/app#k?version=2"),
        ("NO_VERSION", "missing/app#k?version=9"),
        ("MOUNT_IN_PATH", "secret/data/missing/app#k"),
        ("LATEST", "missing/app#k"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&[
            "NO_PATH",
            "NO_KEY",
            "DELETED",
            "DESTROYED",
            "NO_VERSION",
            "MOUNT_IN_PATH",
            "LATEST",
        ]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3);
    let out = run.all();
    let expect = |name: &str, text: &str| {
        let l = line(&out, name);
        assert!(l.contains("not found"), "{name}: {l}");
        assert!(l.contains(text), "{name}: expected {text:?} in {l}");
    };
    expect(
        "NO_PATH",
        "no secret at \"missing/nope\" in mount \"secret\"",
    );
    expect(
        "NO_KEY",
        "no key \"nope\" in secret \"missing/app\" (its keys: \"k\")",
    );
    expect(
        "DELETED",
        "version 1 of secret \"missing/app\" in mount \"secret\" was deleted",
    );
    expect(
        "DESTROYED",
        "version 2 of secret \"missing/app\" in mount \"secret\" was destroyed",
    );
    expect(
        "NO_VERSION",
        "no secret at \"missing/app\" (version 9) in mount \"secret\"",
    );
    expect(
        "MOUNT_IN_PATH",
        "no secret at \"secret/data/missing/app\" in mount \"secret\"; references are \
         relative to the mount, so this may be \"missing/app\"",
    );
    assert!(line(&out, "LATEST").contains("resolves via vault"), "{out}");
    for value in [CANARY, OTHER] {
        assert_absent(&out, value, "not-found messages");
    }
}

#[test]
fn a_missing_secret_falls_through_to_the_next_provider() {
    // No `reference:`, so the name is the reference: a path for vault, a
    // variable for env.
    let entries = "  FALLTHROUGH_KEY: {description: in env only}\n";
    let p = vault_project(
        CANARY,
        "vault, env",
        &shared_provider(""),
        entries,
        &pays(&["FALLTHROUGH_KEY"]),
    );
    let env = [
        ("VAULT_TOKEN", OPENBAO_ROOT_TOKEN),
        ("FALLTHROUGH_KEY", CANARY),
    ];
    p.run(&["check", "j", "--resolve"], &env)
        .expect_code(0)
        .expect_output("secret FALLTHROUGH_KEY: resolves via env");
    p.run(&["run", "j"], &env).expect_code(0);
}

#[test]
fn a_token_without_access_is_denied() {
    let bao = Bao::shared();
    bao.write("denied/allowed", json!({ "k": CANARY }));
    bao.write("denied/forbidden", json!({ "k": OTHER }));
    bao.policy("denied-reader", &["secret/data/denied/allowed"]);
    let limited = "lim/Ited+Tok=en4Denied";
    bao.token(limited, &["denied-reader"], 0);

    let entries = secrets(&[
        ("ALLOWED", "denied/allowed#k"),
        ("FORBIDDEN", "denied/forbidden#k"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["ALLOWED", "FORBIDDEN"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(limited));
    run.expect_code(3);
    let out = run.all();
    assert!(
        line(&out, "ALLOWED").contains("resolves via vault"),
        "{out}"
    );
    assert!(
        line(&out, "FORBIDDEN").contains(
            "access denied: the token may not read \"denied/forbidden\" in mount \"secret\" (403)"
        ),
        "{out}"
    );
    let run = p.run(&["run", "j", "-v"], &token(limited));
    run.expect_code(3).expect_output(
        "provider `vault` (builtin:vault) failed to resolve `denied/forbidden#k`: access denied",
    );
    assert_eq!(p.api.requests(), 0);
    for (text, context) in [(out.as_str(), "check"), (&run.all(), "run -v")] {
        for value in [CANARY, OTHER, limited] {
            assert_absent(text, value, context);
        }
    }
}

#[test]
fn the_provider_keeps_the_contract_against_openbao() {
    let bao = Bao::shared();
    bao.write("contract/app", json!({ "key": CANARY }));
    let server = servers::openbao();
    let address = format!("address={}", server.url);
    let all = common::passes_contract(
        "vault",
        &[
            "--config",
            &address,
            "--grant-env",
            "VAULT_TOKEN",
            "--grant-host",
            &server.authority,
            "--reference",
            "contract/app#key",
            "--missing",
            "contract/none#key",
        ],
        &token(OPENBAO_ROOT_TOKEN),
    );
    assert_absent(&all, CANARY, "plugin test of builtin:vault");
}

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
fn a_server_that_is_down_is_unavailable_and_named() {
    // A port held by a socket that never listens: nothing can take it while
    // the test runs, and every connection to it is refused.
    let down = common::refused_port();
    let authority = format!("127.0.0.1:{}", down.port);
    let address = format!("http://{authority}");
    let providers = provider(
        &format!("address: \"{address}\""),
        "VAULT_TOKEN",
        &format!("\"{authority}\""),
    );
    let entries = secrets(&[("S", "down/app#k")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &echoes(&["S"]));
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output(&format!(
            "failed to resolve `down/app#k`: unavailable: cannot connect to Vault at {address} \
             (connection refused)"
        ));
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn a_server_outside_the_grants_is_never_reached() {
    let bao = servers::openbao();
    let providers = provider(
        &format!("address: \"{}\"", bao.url),
        "VAULT_TOKEN",
        "\"127.0.0.1:9\"",
    );
    let entries = secrets(&[("S", "grants/app#k")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &echoes(&["S"]));
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output(&format!(
            "tried to reach {}, which is not in its grants.hosts",
            bao.url
        ));
}

#[test]
fn a_sealed_server_is_unavailable() {
    // Sealing the shared server would break the other tests: this one gets
    // its own.
    let sealed = servers::openbao_dev("openbao-sealed");
    let bao = Bao::at(&sealed.url);
    bao.write("sealed/app", json!({ "k": CANARY }));
    bao.call("PUT", "sys/seal", Value::Null);

    let providers = provider(
        &format!("address: \"{}\"", sealed.url),
        "VAULT_TOKEN",
        &format!("\"{}\"", sealed.authority),
    );
    let entries = secrets(&[("S", "sealed/app#k")]);
    let p = vault_project(CANARY, "vault", &providers, &entries, &echoes(&["S"]));
    let run = p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3).expect_output(&format!(
        "unavailable: Vault at {} is sealed; unseal it and run again",
        sealed.url
    ));
    assert_absent(&run.all(), CANARY, "sealed");
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

#[test]
fn reads_a_kv_v1_mount() {
    let bao = Bao::shared();
    bao.call(
        "POST",
        "sys/mounts/kv1-test",
        json!({ "type": "kv", "options": { "version": "1" } }),
    );
    bao.call(
        "POST",
        "kv1-test/app/db",
        json!({ "api_key": CANARY, "user": "u" }),
    );
    let entries = secrets(&[("V1", "app/db#api_key")]);
    let providers = shared_provider("mount: kv1-test, kv_version: 1");
    let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["V1"]));
    let run = p.run(&["run", "j", "-v"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(0);
    assert_absent(&run.all(), CANARY, "KV v1 run");

    // KV v1 keeps no versions: pinning one is a mistake, said before any request.
    let pinned = secrets(&[("PINNED", "app/db#api_key?version=1")]);
    let p = vault_project(CANARY, "vault", &providers, &pinned, &pays(&["PINNED"]));
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output("invalid reference: `?version=` needs a KV version 2 engine, and mount \"kv1-test\" is configured with kv_version: 1");

    // A KV v2 mount read as v1 is a configuration error, not "not found".
    bao.write("kv1/app", json!({ "api_key": CANARY }));
    let entries = secrets(&[("V2_AS_V1", "kv1/app#api_key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider("kv_version: 1"),
        &entries,
        &pays(&["V2_AS_V1"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output("mount \"secret\" is a KV version 2 engine")
        .expect_output("set config.kv_version to 2");
}

#[test]
fn several_keys_of_one_secret_cost_one_read() {
    let bao = Bao::shared();
    bao.write(
        "cache/app",
        json!({ "a": CANARY, "b": "second/Key+Value=1", "c": "third/Key+Value=2" }),
    );
    bao.write("cache/other", json!({ "a": OTHER }));
    bao.policy("cache-reader", &["secret/data/cache/*"]);
    // A token that may make exactly one request: three keys of one secret
    // must cost that one read.
    let one_use = "one/Use+Tok=en5Cache";
    bao.token(one_use, &["cache-reader"], 1);
    let entries = secrets(&[
        ("A", "cache/app#a"),
        ("B", "cache/app#b"),
        ("C", "cache/app#c"),
        ("O", "cache/other#a"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["A", "B", "C"]),
    );
    p.run(&["run", "j"], &token(one_use)).expect_code(0);
    assert_eq!(p.api.requests(), 3);

    // The control: two secrets need two reads, and a one-use token allows one.
    let another = "two/Use+Tok=en6Cache";
    bao.token(another, &["cache-reader"], 1);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["A", "O"]),
    );
    p.run(&["run", "j"], &token(another))
        .expect_code(3)
        .expect_output("failed to resolve `cache/other#a`: access denied")
        .expect_output("(403)");
}

#[test]
fn a_namespace_is_sent_with_every_request() {
    let bao = Bao::shared();
    bao.call("POST", "sys/namespaces/ns-test", Value::Null);
    bao.call_in(
        Some("ns-test"),
        "POST",
        "sys/mounts/secret",
        json!({ "type": "kv", "options": { "version": "2" } }),
    );
    bao.call_in(
        Some("ns-test"),
        "POST",
        "secret/data/ns/app",
        json!({ "data": { "api_key": CANARY } }),
    );
    let entries = secrets(&[("S", "ns/app#api_key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider("namespace: ns-test/"),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(0);
    // Outside the namespace the same path holds nothing.
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(3)
        .expect_output("no secret at \"ns/app\" in mount \"secret\"");
}

#[test]
fn odd_characters_in_paths_are_percent_encoded() {
    let bao = Bao::shared();
    // "odd/team a/é%1" and "odd/x..y", as the API takes them.
    bao.call(
        "POST",
        "secret/data/odd/team%20a/%C3%A9%251",
        json!({ "data": { "api key": CANARY } }),
    );
    bao.call(
        "POST",
        "secret/data/odd/x..y",
        json!({ "data": { "k": OTHER } }),
    );
    let entries = secrets(&[("S", "odd/team a/é%1#api key")]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &token(OPENBAO_ROOT_TOKEN))
        .expect_code(0);

    let entries = secrets(&[
        ("DOTS", "odd/x..y#k"),
        ("TRAVERSAL", "odd/../../sys/seal-status"),
    ]);
    let p = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["DOTS", "TRAVERSAL"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &token(OPENBAO_ROOT_TOKEN));
    run.expect_code(3);
    let out = run.all();
    assert!(line(&out, "DOTS").contains("resolves via vault"), "{out}");
    assert!(
        line(&out, "TRAVERSAL").contains(
            "invalid reference: the path of \"odd/../../sys/seal-status\" has a `..` segment"
        ),
        "{out}"
    );
}

#[test]
fn the_address_may_come_from_vault_addr_and_config_mistakes_are_named() {
    let bao = Bao::shared();
    bao.write("addr/app", json!({ "api_key": CANARY }));
    let server = servers::openbao();
    let entries = secrets(&[("S", "addr/app#api_key")]);
    let from_env = provider(
        "",
        "VAULT_ADDR, VAULT_TOKEN",
        &format!("\"{}\"", server.authority),
    );
    let p = vault_project(CANARY, "vault", &from_env, &entries, &pays(&["S"]));
    let env = [
        ("VAULT_ADDR", server.url.as_str()),
        ("VAULT_TOKEN", OPENBAO_ROOT_TOKEN),
    ];
    p.run(&["run", "j"], &env).expect_code(0);
    // VAULT_ADDR is set but not granted: the sandbox does not see it.
    let ungranted = provider("", "VAULT_TOKEN", &format!("\"{}\"", server.authority));
    let p = vault_project(CANARY, "vault", &ungranted, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &env)
        .expect_code(3)
        .expect_output("no Vault address: set config.address, or set VAULT_ADDR and list it under the provider's grants.env");

    let cases = [
        (
            "adress: \"http://x\"",
            "unknown config key `adress` for the Vault provider",
        ),
        (
            "kv_version: 3",
            "config.kv_version is \"3\"; it must be 1 or 2",
        ),
        (
            "auth: ldap",
            "config.auth is \"ldap\"; it must be `token`, `approle`, `jwt` or `kubernetes`",
        ),
    ];
    for (config, message) in cases {
        let providers = provider(config, "VAULT_TOKEN", &format!("\"{}\"", server.authority));
        let p = vault_project(CANARY, "vault", &providers, &entries, &pays(&["S"]));
        p.run(&["run", "j"], &env)
            .expect_code(3)
            .expect_output(message);
    }
    // A token VAULT_TOKEN does not hold: not granted.
    let p = vault_project(
        CANARY,
        "vault",
        &provider(
            &format!("address: \"{}\"", server.url),
            "",
            &format!("\"{}\"", server.authority),
        ),
        &entries,
        &pays(&["S"]),
    );
    p.run(&["run", "j"], &env)
        .expect_code(3)
        .expect_output("VAULT_TOKEN is not visible to the Vault provider");
}

#[test]
fn values_and_tokens_never_leave_unredacted() {
    let bao = Bao::shared();
    bao.write(
        "redaction/app",
        json!({ "api_key": CANARY, "signing": OTHER }),
    );
    bao.policy("redaction-reader", &["secret/data/redaction/*"]);
    let reader = "red/Act+ion=Tok9";
    bao.token(reader, &["redaction-reader"], 0);
    let entries = secrets(&[
        ("KEY", "redaction/app#api_key"),
        ("SIGNING", "redaction/app#signing"),
        ("NO_KEY", "redaction/app#nope"),
        ("ALL", "redaction/app"),
    ]);
    let mut journey = pays(&["KEY"]);
    journey.push_str(
        "  - id: sign\n    template: echo\n    values: {key: {type: secret, name: SIGNING}}\n",
    );
    let p = vault_project(CANARY, "vault", &shared_provider(""), &entries, &journey);
    // Last, a step that fails showing both values: each reaches every
    // channel, to be redacted there.
    show_last(&p, &["KEY", "SIGNING"]);

    let mut outputs = Vec::new();
    for vault_token in [reader, OPENBAO_ROOT_TOKEN] {
        let shown = every_channel(&p, &token(vault_token));
        for (context, text) in &shown {
            assert_redacted(text, "KEY", context);
            assert_redacted(text, "SIGNING", context);
        }
        outputs.extend(shown);
    }
    // Error output: a missing key and a key listing.
    let failing = vault_project(
        CANARY,
        "vault",
        &shared_provider(""),
        &entries,
        &echoes(&["KEY", "NO_KEY", "ALL"]),
    );
    for vault_token in [reader, OPENBAO_ROOT_TOKEN] {
        let run = failing.run(&["check", "j", "--resolve"], &token(vault_token));
        run.expect_code(3).expect_output("no key \"nope\"");
        outputs.push(("check --resolve".to_string(), run.all()));
        let run = failing.run(
            &["run", "j", "-v", "--report-json", "r.json"],
            &token(vault_token),
        );
        run.expect_code(3);
        outputs.push(("failed run -v".to_string(), run.all()));
        // A failed run writes its report too: a missing one was deleted for a leak.
        let report = read_report(&run, &failing.path("r.json"));
        outputs.push(("failed run's r.json".to_string(), report));
    }
    for (context, text) in &outputs {
        for value in [CANARY, OTHER, reader] {
            assert_absent(text, value, context);
        }
        // The root token is the word "root", which the HTML report's
        // stylesheet has (`:root`); the canary-shaped `reader` token covers
        // that report, and the root token everything else.
        if context != "html/index.html" {
            assert_absent(text, OPENBAO_ROOT_TOKEN, context);
        }
    }
}
