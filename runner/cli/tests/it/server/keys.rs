//! Secrets held by OpenBao, and data keys wrapped by OpenBao Transit: a
//! real OpenBao.

use serde_json::json;

use super::{Server, call, data_text, examples, run_example, wait_for};
use crate::common::{CANARY, assert_absent};

#[test]
fn a_secret_held_by_openbao_resolves_with_a_managed_token_never_the_servers_own() {
    let bao = crate::common::servers::openbao();
    let value = "sk_bao/Se+cret=7f3c";
    // The secret lives in OpenBao (a real server), KV v2 at secret/.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/secret/data/cloud-runner/payments", bao.url))
            .header("X-Vault-Token", crate::common::servers::OPENBAO_ROOT_TOKEN)
            .json(&json!({"data": {"api_key": value}}))
            .send()
            .await
            .expect("OpenBao answers");
        assert!(answer.status().is_success(), "{:?}", answer.text().await);
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        data.join("server.yaml"),
        format!(
            "providers:\n  vault:\n    plugin: builtin:vault\n    config: {{address: \"{}\"}}\n    grants:\n      env: [VAULT_TOKEN]\n      hosts: [\"{}\"]\n",
            bao.url, bao.authority
        ),
    )
    .expect("server.yaml");
    let api = demo_api::spawn(value).expect("demo api");
    let example = examples(dir.path());
    // The server's own VAULT_TOKEN is wrong: the provider must get the
    // managed one, and never read the server's environment.
    let server = Server::start_with(&data, &[("VAULT_TOKEN", "the-servers-own-wrong-token")]);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(
            json!({"name": "VAULT_TOKEN", "description": "the vault provider's token", "value": crate::common::servers::OPENBAO_ROOT_TOKEN, "journeys": []}),
        ),
        &mut seen,
    );
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(
            json!({"name": "PAYMENTS_API_KEY", "provider": "vault", "reference": "cloud-runner/payments#api_key", "journeys": ["payment-flow"]}),
        ),
        &mut seen,
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["provider"], "vault");
    // A provider the server does not have, and a rotation of a value it does not hold.
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(json!({"name": "OTHER", "provider": "nope"})),
        &mut seen,
    );
    assert_eq!(status, 400, "{answer}");
    let (status, _) = call(
        &url,
        "PUT",
        "/api/secrets/PAYMENTS_API_KEY/value",
        &admin,
        Some(json!({"value": "whatever1"})),
        &mut seen,
    );
    assert_eq!(status, 409);

    // Test resolve asks OpenBao, with the managed token.
    let (status, probe) = call(
        &url,
        "POST",
        "/api/secrets/PAYMENTS_API_KEY/test",
        &admin,
        None,
        &mut seen,
    );
    assert_eq!(status, 200, "{probe}");
    assert_eq!(probe["outcome"], "ok", "{probe}");
    assert!(
        probe["message"].as_str().unwrap_or("").contains("vault"),
        "{probe}"
    );
    let (status, _) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(
            json!({"name": "MISSING_KEY", "provider": "vault", "reference": "cloud-runner/nothing-here#x"}),
        ),
        &mut seen,
    );
    assert_eq!(status, 201);
    let (_, probe) = call(
        &url,
        "POST",
        "/api/secrets/MISSING_KEY/test",
        &admin,
        None,
        &mut seen,
    );
    assert_eq!(probe["outcome"], "not found", "{probe}");
    let base = format!("base_url={}", api.base_url());
    let run = run_example(&example, &url, &["--var", &base, "-v"], Some(&admin));
    run.expect_code(0).expect_output("payment-flow passed");
    let (_, audit) = call(
        &url,
        "GET",
        "/api/audit?action=secret.used",
        &admin,
        None,
        &mut seen,
    );
    let entries = audit["entries"].as_array().cloned().unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["target"] == "PAYMENTS_API_KEY" && e["detail"]["provider"] == "vault"),
        "{audit}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["target"] == "VAULT_TOKEN" && e["detail"]["as"] == "provider credential"),
        "{audit}"
    );
    let mut everything = vec![run.all(), server.log()];
    everything.extend(seen.iter().cloned());
    drop(server);
    everything.push(data_text(&data));
    for text in &everything {
        assert_absent(text, value, "openbao-backed server secret");
    }
}

#[test]
fn data_keys_wrapped_by_openbao_transit_open_and_rotate_without_the_values() {
    let bao = crate::common::servers::openbao();
    let root = crate::common::servers::OPENBAO_ROOT_TOKEN;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for (path, body) in [
            ("sys/mounts/transit-rqf", json!({"type": "transit"})),
            ("transit-rqf/keys/reqflo", json!({})),
        ] {
            let answer = client
                .post(format!("{}/v1/{path}", bao.url))
                .header("X-Vault-Token", root)
                .json(&body)
                .send()
                .await
                .expect("OpenBao answers");
            assert!(
                answer.status().is_success(),
                "{path}: {:?}",
                answer.text().await
            );
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        data.join("server.yaml"),
        format!(
            "key_encryption:\n  transit: {{address: \"{}\", key: reqflo, mount: transit-rqf}}\n",
            bao.url
        ),
    )
    .expect("server.yaml");
    let api = demo_api::spawn(CANARY).expect("demo api");
    let example = examples(dir.path());
    let server = Server::start_with(&data, &[("REQFLO_TRANSIT_TOKEN", root)]);
    let admin = server.admin.clone().expect("admin token");
    let url = server.url.clone();
    let mut seen = Vec::new();
    let (status, answer) = call(
        &url,
        "POST",
        "/api/secrets",
        &admin,
        Some(json!({"name": "PAYMENTS_API_KEY", "value": CANARY, "journeys": ["payment-flow"]})),
        &mut seen,
    );
    assert_eq!(status, 201, "{answer}");
    let holds = |needle: &str| data_text(&data).contains(needle);
    assert!(holds("vault:v1:"), "the data key is wrapped by Transit");
    let base = format!("base_url={}", api.base_url());
    let args = [
        "run",
        "payment-flow",
        "--env",
        "sandbox",
        "--remote",
        &url,
        "--var",
        &base,
    ];
    crate::common::reqflo(&example, &args, &[("REQFLO_TOKEN", &admin)]).expect_code(0);
    // Rotation: a new Transit key version; every data key re-wrapped inside OpenBao.
    let (status, rotated) = call(&url, "POST", "/api/keys/rotate", &admin, None, &mut seen);
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["rewrapped"], 1);
    assert_eq!(
        rotated["from"], rotated["to"],
        "the same Transit key, a new version"
    );
    wait_for("the WAL to hold the re-wrapped key", || holds("vault:v2:"));
    let again = crate::common::reqflo(&example, &args, &[("REQFLO_TOKEN", &admin)]);
    again.expect_code(0).expect_output("payment-flow passed");
    let mut everything = vec![again.all(), server.log()];
    everything.extend(seen.iter().cloned());
    drop(server);
    everything.push(data_text(&data));
    for text in &everything {
        assert_absent(text, CANARY, "transit-wrapped server secret");
    }
}
