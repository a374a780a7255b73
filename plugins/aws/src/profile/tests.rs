//! The shared files and their profiles, tested with files the tests hold.

use reqflo_plugin_sdk::Config;
use reqflo_plugin_sdk::env::fake;
use reqflo_plugin_sdk::testing::{accepted, refused};

use super::*;
use crate::settings::{Connection, Settings};

const CONFIG: &str = "/home/me/.aws/config";
const CREDENTIALS: &str = "/home/me/.aws/credentials";

/// A reader of the files in `files` (path, text); any other is unseen.
fn files<'a>(files: &'a [(&str, &str)]) -> impl Fn(&str) -> std::io::Result<String> + 'a {
    move |path| {
        files
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, text)| text.to_string())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

fn connect(
    config: &[(&str, &str)],
    vars: &[(&str, &str)],
    shared: &[(&str, &str)],
) -> Result<Connection, Error> {
    accepted(Settings::from_config(&Config::of(config))).connection_with(fake(vars), files(shared))
}

/// Why the connection is refused (every such error is unavailable).
fn why(vars: &[(&str, &str)], shared: &[(&str, &str)]) -> String {
    refused(connect(&[], vars, shared).map(|_| ()), "unavailable")
}

const HOME: (&str, &str) = ("HOME", "/home/me");
const BOTH: [(&str, &str); 2] = [
    (
        CONFIG,
        "[default]\nregion = eu-west-1\n[profile ci]\nregion = us-east-1\n\
         aws_access_key_id = AKIDCONFIG\naws_secret_access_key = from-config\n",
    ),
    (
        CREDENTIALS,
        "[ci]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = s3cret/Key+1\n\
         aws_session_token = tok\n",
    ),
];

#[test]
fn the_named_profile_gives_keys_the_credentials_file_winning() {
    let c = accepted(connect(&[], &[HOME, ("AWS_PROFILE", "ci")], &BOTH));
    assert_eq!(c.source, Source::Profile("ci".into()));
    assert_eq!(c.region, "us-east-1");
    assert_eq!(c.credentials.access_key_id, "AKIDCREDS");
    assert_eq!(c.credentials.secret_access_key, "s3cret/Key+1");
    assert_eq!(c.credentials.session_token.as_deref(), Some("tok"));
    // The variables name the files; `~` is HOME.
    let moved = [
        ("/etc/aws-config", BOTH[0].1),
        ("/home/me/creds", BOTH[1].1),
    ];
    let vars = [
        HOME,
        ("AWS_PROFILE", "ci"),
        ("AWS_CONFIG_FILE", "/etc/aws-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/creds"),
    ];
    let c = accepted(connect(&[], &vars, &moved));
    assert_eq!(c.credentials.access_key_id, "AKIDCREDS");
    // `default` without AWS_PROFILE: a region and no keys, so the chain
    // goes on and ends where the environment's keys are asked for.
    assert!(why(&[HOME], &BOTH).starts_with("AWS_ACCESS_KEY_ID is not visible"));
}

#[test]
fn the_chain_and_region_precedence_are_the_sdks() {
    let vars = [
        HOME,
        ("AWS_PROFILE", "ci"),
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-key"),
    ];
    // Keys in the environment beat the profile's.
    let c = accepted(connect(&[], &vars, &BOTH));
    assert_eq!(
        (
            c.source,
            c.credentials.access_key_id.as_str(),
            c.region.as_str()
        ),
        (Source::Environment, "AKIDENV", "us-east-1")
    );
    // The profile beats a web identity in the environment.
    let web = [
        HOME,
        ("AWS_PROFILE", "ci"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/token"),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app"),
    ];
    assert_eq!(
        accepted(connect(&[], &web, &BOTH)).source,
        Source::Profile("ci".into())
    );
    // A profile without keys leaves the web identity its turn.
    let c = accepted(connect(
        &[],
        &web,
        &[(CONFIG, "[profile ci]\nregion = ap-south-1\n")],
    ));
    assert!(matches!(c.source, Source::WebIdentity(_)));
    assert_eq!(c.region, "ap-south-1");
    // config.region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile's.
    let mut with_region = vars.to_vec();
    with_region.push(("AWS_DEFAULT_REGION", "ca-central-1"));
    assert_eq!(
        accepted(connect(&[], &with_region, &BOTH)).region,
        "ca-central-1"
    );
    with_region.push(("AWS_REGION", "sa-east-1"));
    assert_eq!(
        accepted(connect(&[], &with_region, &BOTH)).region,
        "sa-east-1"
    );
    let configured = [("region", "eu-north-1")];
    assert_eq!(
        accepted(connect(&configured, &with_region, &BOTH)).region,
        "eu-north-1"
    );
    let bad = [(CONFIG, "[profile ci]\nregion = Mars 1\n"), BOTH[1]];
    assert_eq!(
        why(&[HOME, ("AWS_PROFILE", "ci")], &bad),
        "the region \"Mars 1\" of AWS profile `ci` is not an AWS region name (like eu-west-2)"
    );
}

#[test]
fn files_and_profiles_not_visible_say_what_to_grant() {
    let vars = [
        ("AWS_SHARED_CREDENTIALS_FILE", "/run/creds"),
        ("AWS_REGION", "eu-west-2"),
    ];
    assert_eq!(
        why(&vars, &[]),
        "AWS_SHARED_CREDENTIALS_FILE names /run/creds, but it is not there, or not granted: \
         list `$AWS_SHARED_CREDENTIALS_FILE` under the provider's grants.files"
    );
    let named = [("AWS_PROFILE", "ci"), ("AWS_REGION", "eu-west-2")];
    assert!(why(&named, &BOTH).starts_with(
        "AWS_PROFILE names profile `ci`, but no shared credentials or config file is \
             visible: set AWS_SHARED_CREDENTIALS_FILE"
    ));
    let other = [HOME, ("AWS_PROFILE", "ops"), ("AWS_REGION", "eu-west-2")];
    assert_eq!(
        why(&other, &BOTH),
        format!("AWS_PROFILE names profile `ops`, which is in none of {CONFIG} and {CREDENTIALS}")
    );
    let unprefixed = [(CONFIG, "[ops]\nregion = eu-west-2\n")];
    assert!(
        why(&other, &unprefixed)
            .ends_with("(in the config file it is written `[profile ops]`, not `[ops]`)")
    );
    // A malformed file: its path and line, nothing of the line.
    let broken = [(CREDENTIALS, "[ci]\naws_secret_access_key\n")];
    assert_eq!(
        why(&[HOME, ("AWS_PROFILE", "ci")], &broken),
        format!(
            "the AWS shared file {CREDENTIALS} is malformed at line 2: expected `key = value`, \
             a `[section]` or a comment"
        )
    );
}

#[test]
fn what_cannot_run_in_a_sandbox_is_refused_by_name() {
    let cases = [
        ("credential_process = /bin/creds", "sets credential_process"),
        ("sso_session = corp", "sets sso_session"),
        (
            "sso_start_url = https://x.awsapps.com/start",
            "sets sso_start_url",
        ),
        (
            "role_arn = arn:r\ncredential_source = Ec2InstanceMetadata",
            "sets credential_source",
        ),
        (
            "role_arn = arn:r\nsource_profile = ci\nmfa_serial = arn:m",
            "sets mfa_serial",
        ),
        (
            "role_arn = arn:r",
            "sets role_arn but neither source_profile",
        ),
        (
            "role_arn = arn:r\nsource_profile = hop",
            "`hop` assumes a role itself",
        ),
        (
            "role_arn = arn:r\nsource_profile = none",
            "`none` is in none of",
        ),
        (
            "aws_access_key_id = AKID",
            "has only one of aws_access_key_id",
        ),
        (
            "aws_access_key_id = AK ID\naws_secret_access_key = k",
            "aws_access_key_id has characters",
        ),
    ];
    for (properties, expected) in cases {
        let text = format!(
            "[x]\n{properties}\n[hop]\nrole_arn = arn:h\nsource_profile = ci\n[ci]\n\
             aws_access_key_id = AKIDCI\naws_secret_access_key = sk\n"
        );
        let message = why(
            &[HOME, ("AWS_PROFILE", "x"), ("AWS_REGION", "eu-west-2")],
            &[(CREDENTIALS, &text)],
        );
        assert!(
            message.starts_with("AWS profile `x`") && message.contains(expected),
            "{expected}: {message}"
        );
    }
}

#[test]
fn a_profiles_role_is_a_web_identity_or_assumed_with_its_source_keys() {
    let text = "[profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\n\
        web_identity_token_file = /var/run/token\n\
        [profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n\
        role_session_name = ci-run\nexternal_id = ext-1\n\
        [profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base/Key\n";
    let vars = |profile| {
        [
            HOME,
            ("AWS_PROFILE", profile),
            ("AWS_REGION", "eu-west-2"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000/"),
        ]
    };
    let c = accepted(connect(&[], &vars("web"), &[(CONFIG, text)]));
    let Source::WebIdentity(web) = c.source else {
        panic!("not a web identity")
    };
    assert_eq!(
        (web.token_file.as_str(), web.sts.as_str()),
        ("/var/run/token", "http://127.0.0.1:5000")
    );
    let missing = refused(web.request().map(drop), "unavailable");
    assert_eq!(
        missing,
        "AWS profile `web`'s web_identity_token_file names /var/run/token, but it is not \
         there, or not granted: list `/var/run/token` under the provider's grants.files"
    );

    let c = accepted(connect(&[], &vars("app"), &[(CONFIG, text)]));
    let Source::AssumeRole(role) = c.source else {
        panic!("not a role")
    };
    assert_eq!(role.source.access_key_id, "AKIDBASE");
    assert_eq!(role.session_name, "ci-run");
    assert_eq!(role.external_id.as_deref(), Some("ext-1"));
    assert_eq!(role.sts, "http://127.0.0.1:5000");
}

#[test]
fn with_keys_in_the_environment_the_files_give_only_the_region() {
    let keys = [
        HOME,
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
    ];
    // The region still comes from the profile.
    let c = accepted(connect(&[], &keys, &BOTH));
    assert_eq!(c.source, Source::Environment);
    assert_eq!(
        (c.region.as_str(), c.credentials.access_key_id.as_str()),
        ("eu-west-1", "AKIDENV")
    );
    // A named file not granted, or a malformed one, fails no run that has
    // keys and a region elsewhere: the file is not needed.
    let ungranted = [
        keys[0],
        keys[1],
        keys[2],
        ("AWS_CONFIG_FILE", "/run/ungranted"),
    ];
    let malformed = [(CONFIG, "[default\nregion = eu-west-1\n"), BOTH[1]];
    for (vars, shared) in [(&ungranted[..], &BOTH[..]), (&keys[..], &malformed[..])] {
        let region = [("AWS_REGION", "us-east-2")];
        let c = accepted(connect(&[], &[vars, &region].concat(), shared));
        assert_eq!(c.region, "us-east-2");
        // Without a region anywhere, the region is what is missing.
        let m = why(vars, shared);
        assert!(m.starts_with("no AWS region"), "{m}");
    }
    // A malformed credentials file leaves the config file's region.
    let broken = [BOTH[0], (CREDENTIALS, "[ci\naws_access_key_id = x\n")];
    assert_eq!(accepted(connect(&[], &keys, &broken)).region, "eu-west-1");
}
