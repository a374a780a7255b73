//! The shared credentials and config files: a profile's keys in the
//! chain's order, `~/.aws/credentials` under a granted HOME, and a
//! profile's role assumed at moto's STS with its source profile's keys.

use super::{REGION, aws, aws_project, pairs, pays, provider, secrets};
use crate::common::servers;
use crate::common::{CANARY, assert_absent};

use serde_json::Value;

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
