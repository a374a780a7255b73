//! The built-in AWS provider against a REAL moto server (`moto_server` from
//! the test virtualenv) that enforces SigV4 and IAM: after the setup's
//! actions (`fixtures/moto_setup.py`) every request must be signed by a
//! known access key whose policy allows it, so a wrong key, a missing
//! session token or a user without a policy is refused by moto itself.
//!
//! The tests share one server and run in parallel. Each reads its own
//! secrets, so moto's request log can be counted per secret.

use crate::common;

use std::sync::OnceLock;

use base64::Engine as _;
use common::servers::{self, MOTO_SETUP_IAM_ACTIONS, Moto};
use common::{
    CANARY, TestProject, assert_absent, assert_redacted, every_channel, project_with_key,
    read_report, show_last,
};
use serde_json::{Value, json};

/// The region the secrets live in (moto keeps one store per region).
const REGION: &str = "eu-west-2";
/// A second value, so tests can tell which one was picked.
const OTHER: &str = "0ther/Val+ue=Kq7";
/// The text held by a SecretBinary.
const BINARY_TEXT: &str = "b1nary/Text+Val=9";
/// Bytes that are not UTF-8, held by another SecretBinary.
const RAW_BYTES: [u8; 9] = [0xff, 0xfe, 0x00, 0x80, b'r', b'q', 0xc3, 0x28, 0x07];
/// The versions of the rotated secret, oldest first; the last is AWSCURRENT.
const ROTATED: [&str; 3] = ["r0tated/One+V=1", "r0tated/Two+V=2", CANARY];

/// The moto server of this binary, its setup's credentials, ARNs and
/// version IDs.
struct Aws {
    moto: Moto,
    setup: Value,
}

impl Aws {
    /// A credential from the setup: `who` is reader, nobody or role.
    fn credential(&self, who: &str, field: &str) -> String {
        self.setup[who][field]
            .as_str()
            .unwrap_or_else(|| panic!("no {who}.{field} in the setup"))
            .to_string()
    }

    /// The reader's keys, as the environment the provider is granted.
    fn reader_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ACCESS_KEY_ID",
                self.credential("reader", "access_key_id"),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.credential("reader", "secret_access_key"),
            ),
        ]
    }

    /// The moto role's temporary keys, as a credential endpoint hands them out.
    fn role_keys(&self) -> reqflo_fakes::aws_credentials::IssuedKeys {
        reqflo_fakes::aws_credentials::IssuedKeys {
            access_key_id: self.credential("role", "access_key_id"),
            secret_access_key: self.credential("role", "secret_access_key"),
            session_token: Some(self.credential("role", "session_token")),
        }
    }

    fn arn(&self, name: &str) -> String {
        self.setup["secrets"][name]["arn"]
            .as_str()
            .unwrap_or_else(|| panic!("no ARN for {name}"))
            .to_string()
    }

    fn version_id(&self, name: &str, index: usize) -> String {
        self.setup["secrets"][name]["versions"][index]
            .as_str()
            .unwrap_or_else(|| panic!("no version {index} of {name}"))
            .to_string()
    }

    /// The headers of each GetSecretValue call reqflo made for `secret_id`,
    /// as moto recorded them.
    fn reads_of(&self, secret_id: &str) -> Vec<Value> {
        servers::moto_requests(&self.moto, "secretsmanager.GetSecretValue")
            .into_iter()
            // moto_setup.py's own probes (boto3's) are not the plugin's.
            .filter(|(headers, _)| {
                !headers["User-Agent"]
                    .as_str()
                    .is_some_and(|agent| agent.starts_with("Boto3"))
            })
            .filter(|(_, body)| {
                serde_json::from_str::<Value>(body).is_ok_and(|b| b["SecretId"] == secret_id)
            })
            .map(|(headers, _)| headers)
            .collect()
    }
}

/// The secrets of this binary: (name, versions as moto_setup.py takes them,
/// deleted afterwards).
fn spec() -> Value {
    let base64 = base64::engine::general_purpose::STANDARD;
    let string = |value: &str| json!({ "string": value });
    let payments = json!({
        "api_key": CANARY,
        "username": "svc-payments-user",
        "port": 8443,
        "webhook": OTHER,
    });
    let cache = json!({ "a": CANARY, "b": "second/Key+Value=1", "c": "third/Key+Value=2" });
    json!({ "secrets": [
        { "name": "reqflo/string", "versions": [string(CANARY)] },
        { "name": "reqflo/binary-text", "versions": [{ "binary_b64": base64.encode(BINARY_TEXT) }] },
        { "name": "reqflo/binary-raw", "versions": [{ "binary_b64": base64.encode(RAW_BYTES) }] },
        { "name": "reqflo/json", "versions": [string(&payments.to_string())] },
        { "name": "reqflo/rotated", "versions": ROTATED.map(string) },
        { "name": "reqflo/deleted", "versions": [string(OTHER)], "delete": true },
        { "name": "reqflo/cache", "versions": [string(&cache.to_string())] },
        { "name": "reqflo/session", "versions": [string(CANARY)] },
        { "name": "reqflo/redaction", "versions": [string(&payments.to_string())] },
        { "name": "reqflo/plain", "versions": [string(CANARY)] },
        { "name": "reqflo/chain-1", "versions": [string(CANARY)] },
        { "name": "reqflo/chain-2", "versions": [string(CANARY)] },
        { "name": "reqflo/contract", "versions": [string(CANARY)] },
        { "name": "reqflo/web-identity", "versions": [string(CANARY)] },
        { "name": "reqflo/profile", "versions": [string(CANARY)] },
    ]})
}

/// The moto server, started and set up once per test binary.
fn aws() -> &'static Aws {
    static AWS: OnceLock<Aws> = OnceLock::new();
    AWS.get_or_init(|| {
        let spec = spec();
        let calls: usize = spec["secrets"]
            .as_array()
            .expect("secrets")
            .iter()
            .map(|s| {
                s["versions"].as_array().expect("versions").len() + usize::from(s["delete"] == true)
            })
            .sum();
        let actions = MOTO_SETUP_IAM_ACTIONS + calls;
        let moto = servers::moto(actions);
        let setup = servers::moto_setup(&moto, REGION, actions, &spec);
        Aws { moto, setup }
    })
}

/// The provider block for `aws`: builtin:aws with `config` (a YAML flow
/// map's inside), granted `env` and `hosts`.
fn provider(config: &str, env: &str, hosts: &str) -> String {
    format!(
        "  aws:\n    plugin: builtin:aws\n    config: {{{config}}}\n    grants:\n      env: [{env}]\n      hosts: [{hosts}]\n"
    )
}

/// The usual provider: moto as the endpoint, the region in config, the
/// credentials (and a session token, when there is one) from the environment.
fn moto_provider() -> String {
    let server = &aws().moto.server;
    provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN",
        &format!("\"{}\"", server.authority),
    )
}

/// A project whose demo API accepts `api_key`, resolving through `chain`,
/// with `providers`, registry lines `secrets` and the journey `j`.
fn aws_project(
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

/// `env` as the `(&str, &str)` pairs `TestProject::run` takes.
fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The `check --resolve` line for secret `name`.
fn line(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.contains(&format!("secret {name}:")))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{out}"))
        .to_string()
}

#[test]
fn reads_a_string_secret_by_name_and_by_arn() {
    let aws = aws();
    let arn = aws.arn("reqflo/string");
    let entries = secrets(&[("BY_NAME", "reqflo/string"), ("BY_ARN", &arn)]);
    let p = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &pays(&["BY_NAME", "BY_ARN"]),
    );
    let env = aws.reader_env();
    let run = p.run(&["run", "j", "-v"], &pairs(&env));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 2);
    assert_absent(&run.all(), CANARY, "run -v of a string secret");
    assert_absent(&run.all(), &env[1].1, "run -v: the secret access key");

    // What moto received: signed JSON 1.1 calls in the configured region.
    let reads = aws.reads_of("reqflo/string");
    assert_eq!(reads.len(), 1, "{reads:?}");
    let headers = &reads[0];
    assert_eq!(headers["Content-Type"], "application/x-amz-json-1.1");
    let authorization = headers["Authorization"].as_str().unwrap_or_default();
    assert!(
        authorization.starts_with(&format!("AWS4-HMAC-SHA256 Credential={}/", env[0].1))
            && authorization.contains(&format!("/{REGION}/secretsmanager/aws4_request")),
        "{authorization}"
    );
    assert!(!authorization.contains(&env[1].1));
    assert_eq!(aws.reads_of(&arn).len(), 1);
}

#[test]
fn the_provider_keeps_the_contract_against_moto() {
    let aws = aws();
    let server = &aws.moto.server;
    let (region, endpoint) = (
        format!("region={REGION}"),
        format!("endpoint={}", server.url),
    );
    let env = aws.reader_env();
    let all = common::passes_contract(
        "aws",
        &[
            "--config",
            &region,
            "--config",
            &endpoint,
            "--grant-env",
            "AWS_ACCESS_KEY_ID",
            "--grant-env",
            "AWS_SECRET_ACCESS_KEY",
            "--grant-env",
            "AWS_SESSION_TOKEN",
            "--grant-host",
            &server.authority,
            "--reference",
            "reqflo/contract",
            "--missing",
            "reqflo/no-such-secret",
        ],
        &pairs(&env),
    );
    assert_absent(&all, CANARY, "plugin test of builtin:aws");
}

#[test]
fn a_web_identity_token_is_exchanged_at_sts_for_the_roles_keys() {
    use reqflo_fakes::aws_credentials::{FakeAwsCredentials, WEB_IDENTITY_TOKEN, WEB_ROLE_ARN};
    let aws = aws();
    // A fake STS (moto's answers 500 to the unsigned call once its IAM
    // checks are on) hands out the moto role's keys, which moto then checks.
    let keys = aws.role_keys();
    let sts =
        FakeAwsCredentials::spawn(keys, std::time::Duration::from_secs(3600)).expect("fake STS");
    let server = &aws.moto.server;
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{WEB_IDENTITY_TOKEN}\n")).expect("token file");
    let granted = |files: &str| {
        provider(
            &format!("region: {REGION}, endpoint: \"{}\"", server.url),
            "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ENDPOINT_URL_STS",
            &format!("\"{}\", \"{}\"", server.authority, sts.authority()),
        ) + files
    };
    let entries = secrets(&[("WEB", "reqflo/web-identity")]);
    let token_path = token_file.display().to_string();
    let sts_url = sts.url();
    let env = |role: &'static str| {
        [
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path.clone()),
            ("AWS_ROLE_ARN", role.to_string()),
            ("AWS_ENDPOINT_URL_STS", sts_url.clone()),
        ]
    };
    let with_file = granted("      files: [$AWS_WEB_IDENTITY_TOKEN_FILE]\n");
    let p = aws_project(CANARY, "aws", &with_file, &entries, &pays(&["WEB"]));
    let run = p.run(&["run", "j", "-v"], &pairs(&env(WEB_ROLE_ARN)));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1, "the payment went through with the key");
    assert_eq!(sts.credentials_given(), 1);
    assert_absent(&run.all(), CANARY, "a web identity run");
    assert_absent(&run.all(), WEB_IDENTITY_TOKEN, "a web identity run");
    // moto checked the read, signed with the role's keys and session token.
    let reads = aws.reads_of("reqflo/web-identity");
    assert_eq!(reads.len(), 1);
    assert!(
        reads[0]["X-Amz-Security-Token"].is_string(),
        "{:?}",
        reads[0]
    );

    // A role the token may not assume: STS's code, never the token.
    let other = "arn:aws:iam::123456789012:role/someone-else";
    let run = p.run(&["run", "j"], &pairs(&env(other)));
    run.expect_code(3)
        .expect_output("refused the token (403, AccessDenied)");
    assert_absent(&run.all(), WEB_IDENTITY_TOKEN, "a refused web identity");

    // The file not granted: which variable, and what to grant. (The path
    // shows as `[redacted:$AWS_WEB_IDENTITY_TOKEN_FILE]` here: a granted
    // variable is taken for a credential unless grants.files reads it.)
    let p = aws_project(CANARY, "aws", &granted(""), &entries, &pays(&["WEB"]));
    p.run(&["run", "j"], &pairs(&env(WEB_ROLE_ARN)))
        .expect_code(3)
        .expect_output("AWS_WEB_IDENTITY_TOKEN_FILE names")
        .expect_output("list `$AWS_WEB_IDENTITY_TOKEN_FILE` under the provider's grants.files");
}

#[test]
fn a_granted_credentials_file_and_aws_profile_give_the_keys_in_the_chains_order() {
    use reqflo_fakes::aws_credentials::{FakeAwsCredentials, WEB_IDENTITY_TOKEN, WEB_ROLE_ARN};
    let aws = aws();
    let server = &aws.moto.server;
    let (reader_id, reader_key) = (
        aws.credential("reader", "access_key_id"),
        aws.credential("reader", "secret_access_key"),
    );
    // `default` holds the keys of a user without a policy, `reqflo-ci` the
    // reader's: which one moto accepts says which profile signed.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        format!(
            "# the shared credentials file\n[default]\naws_access_key_id = {}\n\
             aws_secret_access_key = {}\n\n[reqflo-ci] ; the CI's\n\
             aws_access_key_id = {reader_id}\naws_secret_access_key = {reader_key}\n",
            aws.credential("nobody", "access_key_id"),
            aws.credential("nobody", "secret_access_key"),
        ),
    )
    .expect("credentials file");
    let sts = FakeAwsCredentials::spawn(aws.role_keys(), std::time::Duration::from_secs(3600))
        .expect("fake STS");
    let granted = |files: &str| {
        provider(
            &format!("region: {REGION}, endpoint: \"{}\"", server.url),
            "AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
             AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ENDPOINT_URL_STS",
            &format!("\"{}\", \"{}\"", server.authority, sts.authority()),
        ) + files
    };
    let entries = secrets(&[("PROFILED", "reqflo/profile")]);
    let with_file = granted("      files: [$AWS_SHARED_CREDENTIALS_FILE]\n");
    let p = aws_project(CANARY, "aws", &with_file, &entries, &pays(&["PROFILED"]));
    let path = file.display().to_string();
    let profile = |name: &'static str| {
        vec![
            ("AWS_PROFILE", name.to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", path.clone()),
        ]
    };

    // The only credentials: the file, with a profile that is not `default`.
    let run = p.run(&["run", "j", "-v"], &pairs(&profile("reqflo-ci")));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1);
    for value in [CANARY, reader_key.as_str()] {
        assert_absent(&run.all(), value, "a run on a profile's keys");
    }
    let reads = aws.reads_of("reqflo/profile");
    assert_eq!(reads.len(), 1);
    let authorization = reads[0]["Authorization"].as_str().unwrap_or_default();
    assert!(
        authorization.contains(&format!("Credential={reader_id}/")),
        "{authorization}"
    );
    // `default` is the user without a policy: moto refuses it.
    p.run(&["run", "j"], &pairs(&profile("default")))
        .expect_code(3)
        .expect_output("AWS rejected the credentials (AccessDenied)");

    // Keys in the environment come before the profile...
    let mut env_first = profile("default");
    env_first.extend(aws.reader_env());
    p.run(&["run", "j"], &pairs(&env_first)).expect_code(0);
    // ...and the profile before a web identity, whose STS is never asked.
    let token_dir = tempfile::tempdir().expect("temp dir");
    let token = token_dir.path().join("token");
    std::fs::write(&token, WEB_IDENTITY_TOKEN).expect("token file");
    let mut profile_first = profile("reqflo-ci");
    profile_first.extend([
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ROLE_ARN", WEB_ROLE_ARN.to_string()),
        ("AWS_ENDPOINT_URL_STS", sts.url()),
    ]);
    p.run(&["run", "j"], &pairs(&profile_first)).expect_code(0);
    assert_eq!(sts.credentials_given(), 0);
    assert_eq!(aws.reads_of("reqflo/profile").len(), 4);

    // The default file, `~/.aws/credentials` under a granted HOME (the
    // harness's HOME is the project's `.home`).
    let home = provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        "AWS_PROFILE, HOME",
        &format!("\"{}\"", server.authority),
    ) + "      files: [~/.aws/credentials]\n";
    let p = aws_project(CANARY, "aws", &home, &entries, &pays(&["PROFILED"]));
    std::fs::create_dir_all(p.path(".home/.aws")).expect("~/.aws");
    std::fs::copy(&file, p.path(".home/.aws/credentials")).expect("~/.aws/credentials");
    p.run(&["run", "j"], &[("AWS_PROFILE", "reqflo-ci")])
        .expect_code(0);
    assert_eq!(aws.reads_of("reqflo/profile").len(), 5);

    // The file not granted: what to grant, and no key.
    let p = aws_project(CANARY, "aws", &granted(""), &entries, &pays(&["PROFILED"]));
    let run = p.run(&["run", "j"], &pairs(&profile("reqflo-ci")));
    run.expect_code(3)
        .expect_output("list `$AWS_SHARED_CREDENTIALS_FILE` under the provider's grants.files");
    assert_absent(&run.all(), &reader_key, "a profile not granted");
}

/// Set up a moto of its own for `AssumeRole`: user `source` may
/// sts:AssumeRole (and the role trusts it), user `stranger` may not, role
/// `assumed` may read secrets, and secret `reqflo/assumed` holds the
/// canary. Then every call is checked (moto's `reset-auth` to 0). Prints
/// the users' keys as JSON.
const ASSUME_ROLE_SETUP: &str = r#"
import json, sys, boto3
endpoint, region, canary = sys.argv[1], sys.argv[2], sys.argv[3]
session = boto3.session.Session(aws_access_key_id="AKIASETUPSETUPSETUP0",
    aws_secret_access_key="setup", region_name=region)
iam = session.client("iam", endpoint_url=endpoint)
allow = lambda action: json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
keys = {}
for user, policy in [("source", "sts:AssumeRole"), ("stranger", None)]:
    iam.create_user(UserName=user)
    if policy:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=allow(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    keys[user] = [key["AccessKeyId"], key["SecretAccessKey"]]
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:user/source"}, "Action": "sts:AssumeRole"}]})
iam.create_role(RoleName="assumed", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="assumed", PolicyName="p", PolicyDocument=allow("secretsmanager:*"))
session.client("secretsmanager", endpoint_url=endpoint).create_secret(
    Name="reqflo/assumed", SecretString=canary)
import urllib.request
urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset-auth",
    data=b"0", method="POST", headers={"Content-Type": "text/plain"})).read()
json.dump(keys, sys.stdout)
"#;

#[test]
fn a_profiles_role_is_assumed_at_sts_with_its_source_profiles_keys() {
    // Many actions go unchecked until the setup switches the checks on.
    let moto = servers::moto(1000);
    let output = std::process::Command::new(servers::tool("bin/python"))
        .args(["-c", ASSUME_ROLE_SETUP, &moto.server.url, REGION, CANARY])
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("the setup runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let keys: Value = serde_json::from_slice(&output.stdout).expect("the setup's JSON");
    let key = |user: &str, i: usize| keys[user][i].as_str().expect("a key").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/assumed\n\
             source_profile = base\nrole_session_name = reqflo-test\n\
             [profile base]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
             [profile denied]\nrole_arn = arn:aws:iam::123456789012:role/assumed\n\
             source_profile = stranger\n\
             [profile stranger]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key("source", 0),
            key("source", 1),
            key("stranger", 0),
            key("stranger", 1),
        ),
    )
    .expect("config file");
    let providers = provider(
        &format!("region: {REGION}, endpoint: \"{}\"", moto.server.url),
        "AWS_PROFILE, AWS_CONFIG_FILE, AWS_ENDPOINT_URL_STS",
        &format!("\"{}\"", moto.server.authority),
    ) + "      files: [$AWS_CONFIG_FILE]\n";
    let entries = secrets(&[("ASSUMED", "reqflo/assumed")]);
    let p = aws_project(CANARY, "aws", &providers, &entries, &pays(&["ASSUMED"]));
    let path = config.display().to_string();
    let env = |profile: &'static str| {
        [
            ("AWS_PROFILE", profile),
            ("AWS_CONFIG_FILE", path.as_str()),
            ("AWS_ENDPOINT_URL_STS", moto.server.url.as_str()),
        ]
    };
    let run = p.run(&["run", "j", "-v"], &env("app"));
    run.expect_code(0);
    assert_eq!(p.api.requests(), 1);
    for value in [CANARY, key("source", 1).as_str()] {
        assert_absent(&run.all(), value, "a run on an assumed role");
    }
    // moto checked the read: signed with the role's temporary keys.
    let reads = servers::moto_requests(&moto, "secretsmanager.GetSecretValue");
    let signed = reads
        .iter()
        .filter_map(|(headers, _)| headers["Authorization"].as_str())
        .filter(|a| a.contains("Credential=ASIA"))
        .count();
    assert_eq!(signed, 1, "{reads:?}");

    // A source profile that may not assume the role: STS's code, no key.
    let run = p.run(&["run", "j"], &env("denied"));
    run.expect_code(3)
        .expect_output("(AssumeRole of arn:aws:iam::123456789012:role/assumed for AWS profile")
        .expect_output("refused the request (403, AccessDenied)");
    assert_absent(&run.all(), &key("stranger", 1), "a refused AssumeRole");
}

#[test]
fn binary_secrets_as_text_and_as_base64() {
    let aws = aws();
    let env = aws.reader_env();
    let text = secrets(&[("TEXT", "reqflo/binary-text")]);
    let p = aws_project(
        BINARY_TEXT,
        "aws",
        &moto_provider(),
        &text,
        &pays(&["TEXT"]),
    );
    p.run(&["run", "j"], &pairs(&env)).expect_code(0);

    // Bytes that are not UTF-8 are refused, with the way out named...
    let raw = secrets(&[("RAW", "reqflo/binary-raw")]);
    let p = aws_project(CANARY, "aws", &moto_provider(), &raw, &pays(&["RAW"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output(
            "provider `aws` (builtin:aws) failed to resolve `reqflo/binary-raw`: invalid \
             reference: secret \"reqflo/binary-raw\" holds binary data that is not UTF-8 text; \
             add `?encoding=base64`",
        );
    assert_eq!(p.api.requests(), 0);

    // ...and taken: the demo API accepts exactly their base64 text.
    let encoded = base64::engine::general_purpose::STANDARD.encode(RAW_BYTES);
    let raw = secrets(&[("RAW", "reqflo/binary-raw?encoding=base64")]);
    let p = aws_project(&encoded, "aws", &moto_provider(), &raw, &pays(&["RAW"]));
    let run = p.run(&["run", "j", "-v"], &pairs(&env));
    run.expect_code(0);
    assert_absent(&run.all(), &encoded, "run -v of a base64 binary");
}

#[test]
fn picks_keys_of_a_json_secret() {
    let aws = aws();
    let env = aws.reader_env();
    let entries = secrets(&[("API_KEY", "reqflo/json#api_key")]);
    let p = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &pays(&["API_KEY"]),
    );
    p.run(&["run", "j"], &pairs(&env)).expect_code(0);

    // A number is handed on as its JSON text.
    let port = secrets(&[("PORT", "reqflo/json#port")]);
    let p = aws_project("8443", "aws", &moto_provider(), &port, &pays(&["PORT"]));
    p.run(&["run", "j"], &pairs(&env)).expect_code(0);

    // A missing key lists the key names, never a value.
    let entries = secrets(&[
        ("NO_KEY", "reqflo/json#nope"),
        ("WHOLE", "reqflo/json"),
        ("NOT_JSON", "reqflo/plain#api_key"),
    ]);
    let p = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &echoes(&["NO_KEY", "WHOLE", "NOT_JSON"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &pairs(&env));
    run.expect_code(3);
    let out = run.all();
    assert!(
        line(&out, "NO_KEY").contains(
            "tried aws: no key \"nope\" in secret \"reqflo/json\" (its keys: \"api_key\", \
             \"port\", \"username\", \"webhook\")"
        ),
        "{out}"
    );
    assert!(line(&out, "WHOLE").contains("resolves via aws"), "{out}");
    assert!(
        line(&out, "NOT_JSON").contains(
            "invalid reference: secret \"reqflo/plain\" does not hold a JSON object, so \
             `#api_key` has nothing to pick from"
        ),
        "{out}"
    );
    assert!(!out.contains("svc-payments-user"), "{out}");
    for value in [CANARY, OTHER] {
        assert_absent(&out, value, "key errors");
    }
}

#[test]
fn stages_and_version_ids_pick_a_rotated_version() {
    let aws = aws();
    let env = aws.reader_env();
    let cases = [
        ("reqflo/rotated".to_string(), ROTATED[2]),
        ("reqflo/rotated?stage=AWSCURRENT".to_string(), ROTATED[2]),
        ("reqflo/rotated?stage=AWSPREVIOUS".to_string(), ROTATED[1]),
        (
            format!(
                "reqflo/rotated?version={}",
                aws.version_id("reqflo/rotated", 0)
            ),
            ROTATED[0],
        ),
        (
            format!(
                "reqflo/rotated?version={}",
                aws.version_id("reqflo/rotated", 1)
            ),
            ROTATED[1],
        ),
    ];
    for (reference, value) in &cases {
        let entries = secrets(&[("S", reference)]);
        let p = aws_project(value, "aws", &moto_provider(), &entries, &pays(&["S"]));
        let run = p.run(&["run", "j", "-v"], &pairs(&env));
        run.expect_code(0);
        for value in ROTATED {
            assert_absent(&run.all(), value, reference);
        }
    }

    // A stage or version the secret does not have is not found, named.
    let unknown_version = "01234567-89ab-cdef-0123-456789abcdef";
    let entries = secrets(&[
        ("NO_STAGE", "reqflo/rotated?stage=BLUE"),
        (
            "NO_VERSION",
            &format!("reqflo/rotated?version={unknown_version}"),
        ),
        ("BOTH", "reqflo/rotated?stage=AWSPREVIOUS&version=x"),
    ]);
    let p = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &echoes(&["NO_STAGE", "NO_VERSION", "BOTH"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &pairs(&env));
    run.expect_code(3);
    let out = run.all();
    assert!(
        line(&out, "NO_STAGE").contains(
            "tried aws: secret \"reqflo/rotated\" (stage \"BLUE\") not found \
             (ResourceNotFoundException): the secret does not exist, or no version of it is \
             labelled \"BLUE\""
        ),
        "{out}"
    );
    assert!(
        line(&out, "NO_VERSION").contains(&format!(
            "tried aws: secret \"reqflo/rotated\" (version \"{unknown_version}\") not found"
        )),
        "{out}"
    );
    assert!(
        line(&out, "BOTH").contains("invalid reference: \"reqflo/rotated?stage=AWSPREVIOUS&version=x\" names a version twice"),
        "{out}"
    );
    for value in ROTATED {
        assert_absent(&out, value, "rotation errors");
    }
}

#[test]
fn missing_and_deleted_secrets_are_not_found_and_fall_through() {
    let aws = aws();
    let env = aws.reader_env();
    let entries = secrets(&[
        ("MISSING", "reqflo/nope"),
        ("DELETED", "reqflo/deleted"),
        ("BAD_NAME", "reqflo/team a"),
    ]);
    let p = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &echoes(&["MISSING", "DELETED", "BAD_NAME"]),
    );
    let run = p.run(&["check", "j", "--resolve"], &pairs(&env));
    run.expect_code(3);
    let out = run.all();
    assert!(
        line(&out, "MISSING").contains(
            "tried aws: secret \"reqflo/nope\" not found (ResourceNotFoundException): check the \
             name (or ARN), the region and the account"
        ),
        "{out}"
    );
    assert!(
        line(&out, "DELETED").contains(
            "tried aws: secret \"reqflo/deleted\" is scheduled for deletion \
             (InvalidRequestException); restore it to read it"
        ),
        "{out}"
    );
    assert!(
        line(&out, "BAD_NAME").contains(
            "invalid reference: the secret name or ARN in \"reqflo/team a\" has the character ' '"
        ),
        "{out}"
    );
    assert_absent(&out, OTHER, "not-found messages");
    // A name nobody asks AWS for: it was refused before any request.
    assert!(aws.reads_of("reqflo/team a").is_empty());

    // In a chain, "not found" moves on. Without `reference:` the name is
    // the reference: a secret name for aws, a variable for env.
    let entries = "  FALLTHROUGH_KEY: {description: in env only}\n";
    let mut chained = aws.reader_env();
    chained.push(("FALLTHROUGH_KEY", CANARY.to_string()));
    let p = aws_project(
        CANARY,
        "aws, env",
        &moto_provider(),
        entries,
        &pays(&["FALLTHROUGH_KEY"]),
    );
    p.run(&["check", "j", "--resolve"], &pairs(&chained))
        .expect_code(0)
        .expect_output("secret FALLTHROUGH_KEY: resolves via env");
    p.run(&["run", "j"], &pairs(&chained)).expect_code(0);
    assert_eq!(aws.reads_of("FALLTHROUGH_KEY").len(), 2);
}

#[test]
fn a_wrong_secret_key_is_refused_by_moto_and_never_shown() {
    let aws = aws();
    let right = aws.reader_env();
    let wrong_key = "Wr0ng/Secret+Key=Zq9xYw8vUt7sRq6pOn5mLk4j";
    let entries = secrets(&[("S", "reqflo/plain")]);
    let p = aws_project(CANARY, "aws", &moto_provider(), &entries, &pays(&["S"]));
    let wrong = [
        ("AWS_ACCESS_KEY_ID", right[0].1.as_str()),
        ("AWS_SECRET_ACCESS_KEY", wrong_key),
    ];
    let run = p.run(&["run", "j", "-v", "--report-json", "r.json"], &wrong);
    run.expect_code(3).expect_output(
        "provider `aws` (builtin:aws) failed to resolve `reqflo/plain`: access denied: AWS \
         rejected the credentials (SignatureDoesNotMatch) while reading secret \
         \"reqflo/plain\": the signature does not match; check AWS_SECRET_ACCESS_KEY",
    );
    assert_eq!(p.api.requests(), 0);
    // A failed run writes its report too: a missing one was deleted for a leak.
    let report = read_report(&run, &p.path("r.json"));
    for (text, context) in [
        (run.all(), "refused run -v"),
        (report, "refused run's report"),
    ] {
        assert_absent(&text, wrong_key, context);
        assert_absent(&text, &right[1].1, context);
        assert_absent(&text, CANARY, context);
    }

    // An access key moto does not know, and a user whose policy allows nothing.
    let unknown = [
        ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000"),
        ("AWS_SECRET_ACCESS_KEY", wrong_key),
    ];
    p.run(&["run", "j"], &unknown)
        .expect_code(3)
        .expect_output("access denied: AWS rejected the credentials (InvalidClientTokenId)");
    let nobody_key = aws.credential("nobody", "secret_access_key");
    let nobody = [
        (
            "AWS_ACCESS_KEY_ID",
            aws.credential("nobody", "access_key_id"),
        ),
        ("AWS_SECRET_ACCESS_KEY", nobody_key.clone()),
    ];
    let run = p.run(&["run", "j"], &pairs(&nobody));
    run.expect_code(3).expect_output(
        "access denied: AWS rejected the credentials (AccessDenied) for secret \
         \"reqflo/plain\": no IAM or resource policy lets them call \
         secretsmanager:GetSecretValue on it",
    );
    assert_absent(&run.all(), &nobody_key, "access denied");
}

#[test]
fn temporary_credentials_send_their_session_token() {
    let aws = aws();
    let token = aws.credential("role", "session_token");
    let role_key = aws.credential("role", "secret_access_key");
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", aws.credential("role", "access_key_id")),
        ("AWS_SECRET_ACCESS_KEY", role_key.clone()),
    ];
    let entries = secrets(&[("S", "reqflo/session")]);
    let p = aws_project(CANARY, "aws", &moto_provider(), &entries, &pays(&["S"]));

    // moto knows ASIA… keys only with their token: without it, refused.
    let run = p.run(&["run", "j"], &pairs(&env));
    run.expect_code(3)
        .expect_output("access denied: AWS rejected the credentials (InvalidClientTokenId)");

    env.push(("AWS_SESSION_TOKEN", token.clone()));
    let run = p.run(&["run", "j", "-v", "--report-json", "r.json"], &pairs(&env));
    run.expect_code(0);
    let report = read_report(&run, &p.path("r.json"));
    for (text, context) in [(run.all(), "run -v"), (report, "report")] {
        assert_absent(&text, CANARY, context);
        assert_absent(&text, &token, context);
        assert_absent(&text, &role_key, context);
    }
    let reads = aws.reads_of("reqflo/session");
    let sent: Vec<&Value> = reads
        .iter()
        .map(|headers| &headers["X-Amz-Security-Token"])
        .collect();
    assert_eq!(sent, [&Value::Null, &Value::from(token.as_str())]);
    let signed = reads[1]["Authorization"].as_str().unwrap_or_default();
    assert!(
        signed.contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        ),
        "{signed}"
    );
}

#[test]
fn several_keys_of_one_secret_cost_one_call() {
    let aws = aws();
    let env = aws.reader_env();
    let entries = secrets(&[
        ("A", "reqflo/cache#a"),
        ("B", "reqflo/cache#b"),
        ("C", "reqflo/cache#c"),
        ("A_AGAIN", "reqflo/cache?stage=AWSCURRENT#a"),
    ]);
    let p = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &echoes(&["A", "B", "C", "A_AGAIN"]),
    );
    p.run(&["run", "j"], &pairs(&env)).expect_code(0);
    assert_eq!(p.api.requests(), 4);
    assert_eq!(aws.reads_of("reqflo/cache").len(), 1);

    // The controls: each run reads for itself, and another version (even
    // one that turns out to hold the same data) is another call.
    p.run(&["run", "j"], &pairs(&env)).expect_code(0);
    assert_eq!(aws.reads_of("reqflo/cache").len(), 2);
    let by_id = format!(
        "reqflo/cache?version={}#b",
        aws.version_id("reqflo/cache", 0)
    );
    let entries = secrets(&[("A", "reqflo/cache#a"), ("B_BY_ID", &by_id)]);
    let p = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &echoes(&["A", "B_BY_ID"]),
    );
    p.run(&["run", "j"], &pairs(&env)).expect_code(0);
    assert_eq!(aws.reads_of("reqflo/cache").len(), 4);
}

#[test]
fn region_and_endpoint_mistakes_are_named() {
    let aws = aws();
    let server = &aws.moto.server;
    let env = aws.reader_env();
    let entries = secrets(&[("S", "reqflo/plain")]);
    let hosts = format!("\"{}\"", server.authority);
    let keys = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY";

    // The region from AWS_REGION, when granted.
    let from_env = provider(
        &format!("endpoint: \"{}\"", server.url),
        &format!("{keys}, AWS_REGION"),
        &hosts,
    );
    let p = aws_project(CANARY, "aws", &from_env, &entries, &pays(&["S"]));
    let mut with_region = env.clone();
    with_region.push(("AWS_REGION", REGION.to_string()));
    p.run(&["run", "j"], &pairs(&with_region)).expect_code(0);
    // Set but not granted: the sandbox does not see it.
    let ungranted = provider(&format!("endpoint: \"{}\"", server.url), keys, &hosts);
    let p = aws_project(CANARY, "aws", &ungranted, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&with_region))
        .expect_code(3)
        .expect_output("unavailable: no AWS region: set config.region, or set AWS_REGION");
    // Another region holds other secrets: not found there.
    let elsewhere = provider(
        &format!("region: us-east-1, endpoint: \"{}\"", server.url),
        keys,
        &hosts,
    );
    let p = aws_project(CANARY, "aws", &elsewhere, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output("tried aws: secret \"reqflo/plain\" not found");

    let cases = [
        (
            format!("region: {REGION}, endpiont: \"{}\"", server.url),
            "unknown config key `endpiont` for the AWS provider (known: region, endpoint, instance_metadata)",
        ),
        (
            format!("region: EU-West-2, endpoint: \"{}\"", server.url),
            "config.region \"EU-West-2\" is not an AWS region name (like eu-west-2)",
        ),
        (
            format!("region: {REGION}, endpoint: \"{}/v1\"", server.url),
            "config.endpoint is not a usable Secrets Manager URL: it has a path",
        ),
    ];
    for (config, message) in cases {
        let p = aws_project(
            CANARY,
            "aws",
            &provider(&config, keys, &hosts),
            &entries,
            &pays(&["S"]),
        );
        p.run(&["run", "j"], &pairs(&env))
            .expect_code(3)
            .expect_output(message);
    }

    // Credentials not granted.
    let no_keys = provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        "AWS_ACCESS_KEY_ID",
        &hosts,
    );
    let p = aws_project(CANARY, "aws", &no_keys, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output("AWS_SECRET_ACCESS_KEY is not visible to the AWS provider");
}

#[test]
fn an_endpoint_outside_the_grants_or_down_is_named() {
    let aws = aws();
    let env = aws.reader_env();
    let entries = secrets(&[("S", "reqflo/plain")]);
    let keys = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY";
    let server = &aws.moto.server;
    let outside = provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        keys,
        "\"127.0.0.1:9\"",
    );
    let p = aws_project(CANARY, "aws", &outside, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output(&format!(
            "tried to reach {}, which is not in its grants.hosts",
            server.url
        ));

    // Without config.endpoint the plugin goes to AWS itself, which is not
    // granted either: refused by the host, nothing leaves the machine.
    let public = provider(
        &format!("region: {REGION}"),
        keys,
        &format!("\"{}\"", server.authority),
    );
    let p = aws_project(CANARY, "aws", &public, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output(&format!(
            "tried to reach https://secretsmanager.{REGION}.amazonaws.com"
        ));

    // A port held by a socket that never listens: nothing can take it while
    // the test runs, and every connection to it is refused.
    let refused = common::refused_port();
    let authority = format!("127.0.0.1:{}", refused.port);
    let down = provider(
        &format!("region: {REGION}, endpoint: \"http://{authority}\""),
        keys,
        &format!("\"{authority}\""),
    );
    let p = aws_project(CANARY, "aws", &down, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output(&format!(
            "failed to resolve `reqflo/plain`: unavailable: cannot connect to Secrets Manager \
             at http://{authority} (connection refused) while reading secret \
             \"reqflo/plain\""
        ));
}

#[test]
fn values_and_keys_never_leave_unredacted() {
    let aws = aws();
    let env = aws.reader_env();
    let secret_key = env[1].1.clone();
    let entries = secrets(&[
        ("KEY", "reqflo/redaction#api_key"),
        ("WEBHOOK", "reqflo/redaction#webhook"),
        ("NO_KEY", "reqflo/redaction#nope"),
    ]);
    let mut journey = pays(&["KEY"]);
    journey.push_str(
        "  - id: hook\n    template: echo\n    values: {key: {type: secret, name: WEBHOOK}}\n",
    );
    let p = aws_project(CANARY, "aws", &moto_provider(), &entries, &journey);
    // Last, a step that fails showing both values: each reaches every
    // channel, to be redacted there.
    show_last(&p, &["KEY", "WEBHOOK"]);
    let mut outputs = every_channel(&p, &pairs(&env));
    for (context, text) in &outputs {
        assert_redacted(text, "KEY", context);
        assert_redacted(text, "WEBHOOK", context);
    }
    // Error output: a missing key next to resolved ones. No value is shown
    // here by design, but the plugin did hold them all: moto answered the
    // read of the whole secret (once per run: check, then run).
    let reads_before = aws.reads_of("reqflo/redaction").len();
    let failing = aws_project(
        CANARY,
        "aws",
        &moto_provider(),
        &entries,
        &echoes(&["KEY", "WEBHOOK", "NO_KEY"]),
    );
    let run = failing.run(&["check", "j", "--resolve"], &pairs(&env));
    run.expect_code(3).expect_output("no key \"nope\"");
    outputs.push(("check --resolve".to_string(), run.all()));
    let run = failing.run(&["run", "j", "-v", "--report-json", "r.json"], &pairs(&env));
    run.expect_code(3);
    outputs.push(("failed run -v".to_string(), run.all()));
    // A failed run writes its report too: a missing one was deleted for a leak.
    let report = read_report(&run, &failing.path("r.json"));
    outputs.push(("failed run's r.json".to_string(), report));
    assert_eq!(aws.reads_of("reqflo/redaction").len(), reads_before + 2);
    for (context, text) in &outputs {
        for value in [CANARY, OTHER, secret_key.as_str()] {
            assert_absent(text, value, context);
        }
    }
}

/// A stand-in for a misbehaving Secrets Manager front end, in-process (moto
/// cannot be made to throttle, fail or stall): each secret ID in the request
/// body picks a canned answer. Returns its `host:port`.
fn canned_endpoint() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let authority = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body);
                let answer = |status: &str, headers: &str, body: &str| {
                    format!(
                        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let response = if body.contains("\"throttled\"") {
                    answer(
                        "400 Bad Request",
                        "x-amzn-errortype: ThrottlingException\r\n",
                        &format!(r#"{{"__type":"ThrottlingException","message":"{CANARY}"}}"#),
                    )
                } else if body.contains("\"broken\"") {
                    answer(
                        "500 Internal Server Error",
                        "",
                        &format!("<html>{CANARY}</html>"),
                    )
                } else if body.contains("\"moved\"") {
                    answer(
                        "307 Temporary Redirect",
                        "location: https://elsewhere.example/steal?token=abc\r\n",
                        "",
                    )
                } else if body.contains("\"garbled\"") {
                    answer("200 OK", "", &format!(r#"{{"SecretString": "{CANARY}""#))
                } else if body.contains("\"slow\"") {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    answer("200 OK", "", r#"{"SecretString": "too-late"}"#)
                } else {
                    // The type in the header alone, as some front ends send it.
                    answer(
                        "400 Bad Request",
                        "x-amzn-errortype: ResourceNotFoundException:http://internal.amazon.com/\r\n",
                        "",
                    )
                };
                let _ = reader.get_mut().write_all(response.as_bytes());
            });
        }
    });
    authority
}

#[test]
fn throttling_failures_redirects_and_slow_answers_are_named() {
    let authority = canned_endpoint();
    let config = format!("region: {REGION}, endpoint: \"http://{authority}\"");
    let providers = format!(
        "{}    limits: {{timeout_ms: 1000}}\n",
        provider(
            &config,
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
            &format!("\"{authority}\"")
        )
    );
    let entries = secrets(&[
        ("THROTTLED", "throttled"),
        ("BROKEN", "broken"),
        ("MOVED", "moved"),
        ("GARBLED", "garbled"),
        ("SLOW", "slow"),
        ("MISSING", "missing"),
    ]);
    let p = aws_project(
        CANARY,
        "aws",
        &providers,
        &entries,
        &echoes(&["THROTTLED", "BROKEN", "MOVED", "GARBLED", "SLOW", "MISSING"]),
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", OTHER),
    ];
    let started = std::time::Instant::now();
    let run = p.run(&["check", "j", "--resolve"], &env);
    run.expect_code(3);
    let out = run.all();
    let endpoint = format!("http://{authority}");
    let expect = |name: &str, text: &str| {
        assert!(
            line(&out, name).contains(text),
            "{name}: {text:?} in\n{out}"
        );
    };
    expect(
        "THROTTLED",
        &format!(
            "unavailable: Secrets Manager at {endpoint} throttled the request for secret \
             \"throttled\" (ThrottlingException); run again later"
        ),
    );
    expect(
        "BROKEN",
        &format!(
            "unavailable: Secrets Manager at {endpoint} answered 500 while reading secret \
             \"broken\""
        ),
    );
    expect(
        "MOVED",
        &format!(
            "unavailable: Secrets Manager at {endpoint} answered with a redirect (307) to \
             https://elsewhere.example; redirects are not followed"
        ),
    );
    expect(
        "GARBLED",
        &format!(
            "unavailable: Secrets Manager at {endpoint} answered with JSON reqflo could not \
             read while reading secret \"garbled\""
        ),
    );
    expect(
        "SLOW",
        &format!(
            "unavailable: Secrets Manager at {endpoint} did not answer in time while reading \
             secret \"slow\""
        ),
    );
    expect(
        "MISSING",
        "tried aws: secret \"missing\" not found (ResourceNotFoundException)",
    );
    assert!(!out.contains("token=abc"), "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    for value in [CANARY, OTHER] {
        assert_absent(&out, value, "answers from a misbehaving endpoint");
    }
}

#[test]
fn on_aws_the_container_or_instance_endpoint_gives_the_credentials() {
    use reqflo_fakes::aws_credentials::{CONTAINER_PATH, CONTAINER_TOKEN, FakeAwsCredentials};
    let aws = aws();
    // The role's temporary keys, as an instance profile or a task role
    // would hand them out; said to live a minute, inside the provider's
    // five-minute margin, so each new secret renews them.
    let keys = aws.role_keys();
    let fake = FakeAwsCredentials::spawn(keys.clone(), std::time::Duration::from_secs(60))
        .expect("fake credential endpoints");
    let server = &aws.moto.server;
    let granted = "AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN, AWS_EC2_METADATA_SERVICE_ENDPOINT";
    let providers = provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        granted,
        &format!("\"{}\", \"{}\"", server.authority, fake.authority()),
    );
    let entries = secrets(&[("A", "reqflo/chain-1"), ("B", "reqflo/chain-2")]);
    let p = aws_project(CANARY, "aws", &providers, &entries, &pays(&["A", "B"]));

    // ECS / EKS: the container credentials endpoint, with its token.
    let full_uri = format!("{}{CONTAINER_PATH}", fake.url());
    let run = p.run(
        &["run", "j", "-v"],
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.as_str()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_TOKEN),
        ],
    );
    run.expect_code(0);
    assert_eq!(
        fake.credentials_given(),
        2,
        "renewed before the second secret"
    );
    for value in [CANARY, keys.secret_access_key.as_str(), CONTAINER_TOKEN] {
        assert_absent(&run.all(), value, "a run on container credentials");
    }
    if let Some(token) = &keys.session_token {
        assert_absent(&run.all(), token, "a run on container credentials");
    }

    // EC2: IMDSv2 (a session token first), here at the fake.
    p.run(
        &["run", "j"],
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake.url().as_str())],
    )
    .expect_code(0);
    assert_eq!(fake.credentials_given(), 4);

    // A wrong container token: refused by the endpoint, and said.
    p.run(
        &["run", "j"],
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.as_str()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong"),
        ],
    )
    .expect_code(3)
    .expect_output("the container credentials endpoint at http://")
    .expect_output("refused the request (403)");
}
