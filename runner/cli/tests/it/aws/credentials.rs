//! The credential chain's links other than the shared files: keys from the
//! environment (a wrong one refused by moto, temporary ones with their
//! session token), a web identity token exchanged at STS, and the
//! container and instance credential endpoints (fakes of both).

use super::{REGION, aws, aws_project, moto_provider, pairs, pays, provider, secrets};
use crate::common::{CANARY, assert_absent, read_report};

use serde_json::Value;

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
