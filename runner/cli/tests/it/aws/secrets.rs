//! Reading Secrets Manager secrets from moto: by name and ARN, binary
//! secrets, keys of a JSON secret, rotated versions, not found and
//! fall-through, one call per secret, and redaction of what was read.

use super::{
    BINARY_TEXT, OTHER, RAW_BYTES, REGION, ROTATED, aws, aws_project, echoes, line, moto_provider,
    pairs, pays, secrets,
};
use crate::common::{
    self, CANARY, assert_absent, assert_redacted, every_channel, read_report, show_last,
};

use base64::Engine as _;

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
