//! What goes wrong, named: missing secrets, versions and keys, disabled and
//! destroyed versions (and which of them stop a chain), a bad token or a
//! secret out of its reach, a payload failing its checksum, busy, broken
//! and slow servers, and configuration mistakes.

use super::{
    PROJECT, SCOPED_TOKEN, TOKEN, assert_clean, config, fake, gcp_project, line, simple, token,
};
use crate::common::{CANARY, assert_absent, read_report};

use std::time::{Duration, Instant};

use reqflo_fakes::gcp::Checksum;

#[test]
fn missing_secrets_versions_and_keys_are_named() {
    let f = fake();
    let secrets = "  NO_SECRET: {reference: nope}\n\
                   \x20 NO_VERSION: {reference: stripe-key/versions/9}\n\
                   \x20 NO_VERSIONS: {reference: empty}\n\
                   \x20 NO_KEY: {reference: \"stripe-config#nope\"}\n\
                   \x20 NOT_JSON: {reference: \"plain-text#api_key\"}\n\
                   \x20 BAD_NAME: {reference: stripe.key}\n\
                   \x20 BAD_VERSION: {reference: stripe-key/versions/2.0}\n\
                   \x20 BAD_SHAPE: {reference: secrets/stripe-key}\n";
    let names = [
        "NO_SECRET",
        "NO_VERSION",
        "NO_VERSIONS",
        "NO_KEY",
        "NOT_JSON",
        "BAD_NAME",
        "BAD_VERSION",
        "BAD_SHAPE",
    ];
    let p = simple(&f, secrets, &names);
    let run = p.run(&["check", "j", "--resolve"], &token(TOKEN));
    run.expect_code(3);
    let out = run.all();
    let expect = |name: &str, parts: &[&str]| {
        let l = line(&out, name);
        for part in parts {
            assert!(l.contains(part), "{name}: {part:?} not in {l}");
        }
    };
    expect(
        "NO_SECRET",
        &[
            "not found",
            "secret \"nope\" not found in project \"acme-payments\"",
            "404 NOT_FOUND",
        ],
    );
    expect(
        "NO_VERSION",
        &[
            "not found",
            "version 9 of secret \"stripe-key\" in project \"acme-payments\" not found",
        ],
    );
    expect(
        "NO_VERSIONS",
        &["secret \"empty\"", "or it has no versions"],
    );
    expect(
        "NO_KEY",
        &[
            "not found",
            "no key \"nope\" in the JSON of the latest version of secret \"stripe-config\"",
        ],
    );
    expect(
        "NOT_JSON",
        &["invalid reference", "does not hold a JSON object"],
    );
    expect(
        "BAD_NAME",
        &["invalid reference", "the secret ID \"stripe.key\"", "'.'"],
    );
    expect(
        "BAD_VERSION",
        &[
            "invalid reference",
            "\"2.0\" is neither `latest`, a version number (1, 2, …) nor a version alias",
        ],
    );
    expect(
        "BAD_SHAPE",
        &["invalid reference", "projects/PROJECT/secrets/SECRET"],
    );
    assert_clean(&out, "not-found messages");
    assert!(!out.contains("not json at all"), "{out}");
    // Bad references never reach the server: 5 good ones, 5 calls.
    assert_eq!(f.access_calls(), 5, "{:#?}", f.requests());
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn disabled_and_destroyed_versions_name_their_state() {
    let f = fake();
    let secrets = "  GONE: {reference: retired/versions/1}\n\
                   \x20 OFF: {reference: retired/versions/2}\n";
    let p = simple(&f, secrets, &["GONE", "OFF"]);
    let run = p.run(&["check", "j", "--resolve"], &token(TOKEN));
    run.expect_code(3);
    let out = run.all();
    let gone = line(&out, "GONE");
    assert!(gone.contains("not found"), "{gone}");
    assert!(
        gone.contains(
            "version 1 of secret \"retired\" in project \"acme-payments\" is destroyed \
             (400 FAILED_PRECONDITION)"
        ),
        "{gone}"
    );
    let off = line(&out, "OFF");
    assert!(off.contains("unavailable"), "{off}");
    assert!(
        off.contains("version 2 of secret \"retired\" in project \"acme-payments\" is disabled"),
        "{off}"
    );
    assert!(off.contains("enable it or pin another version"), "{off}");
    assert_clean(&out, "version states");
}

#[test]
fn a_missing_secret_falls_through_the_chain_but_a_disabled_one_stops_it() {
    let f = fake();
    // LOCAL_ONLY is no secret in Secret Manager: env answers it instead.
    let secrets = "  LOCAL_ONLY: {}\n  OFF: {reference: retired/versions/2}\n";
    let p = gcp_project(&f, "gcp, env", &config(&f), "", secrets, &["LOCAL_ONLY"]);
    let vars = [("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN), ("LOCAL_ONLY", CANARY)];
    let run = p.run(&["check", "j", "--resolve"], &vars);
    run.expect_code(0);
    assert_clean(&run.all(), "chain");
    assert_eq!(
        f.requests(),
        [format!(
            "GET /v1/projects/{PROJECT}/secrets/LOCAL_ONLY/versions/latest:access"
        )]
    );
    // A disabled version is there but unusable: no silent fallback.
    std::fs::write(
        p.path("journeys/off.yaml"),
        "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: OFF}}\n",
    )
    .expect("write journey");
    let vars = [("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN), ("OFF", CANARY)];
    p.run(&["run", "off"], &vars)
        .expect_code(3)
        .expect_output("is disabled");
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn a_bad_token_and_a_secret_out_of_reach_are_denied() {
    let f = fake();
    let p = simple(&f, "  S: {reference: stripe-key}\n", &["S"]);
    let wrong = "ya29.wr0ng/Tok+en=Expired";
    let run = p.run(&["run", "j", "-v"], &token(wrong));
    run.expect_code(3)
        .expect_output("provider `gcp` (builtin:gcp)")
        .expect_output("access denied")
        .expect_output(
            "rejected the access token in GOOGLE_OAUTH_ACCESS_TOKEN (401 UNAUTHENTICATED)",
        )
        .expect_output("gcloud auth print-access-token");
    assert_absent(&run.all(), wrong, "a rejected token");
    assert_clean(&run.all(), "a rejected token");
    assert_eq!(p.api.requests(), 0);

    let run = p.run(&["run", "j"], &token(SCOPED_TOKEN));
    run.expect_code(3)
        .expect_output("access denied")
        .expect_output("may not read the latest version of secret \"stripe-key\"")
        .expect_output("403 PERMISSION_DENIED");
    assert_clean(&run.all(), "a token out of reach");

    // No token at all: named, with how to grant it.
    p.run(&["run", "j"], &[])
        .expect_code(3)
        .expect_output("GOOGLE_OAUTH_ACCESS_TOKEN is not visible to the Google Cloud provider");
}

#[test]
fn a_payload_that_fails_its_checksum_is_refused() {
    let f = fake();
    f.set_checksum(Checksum::Corrupt);
    let p = simple(&f, "  S: {reference: stripe-key}\n", &["S"]);
    let run = p.run(
        &["run", "j", "-v", "--report-json", "r.json"],
        &token(TOKEN),
    );
    run.expect_code(3)
        .expect_output("unavailable")
        .expect_output(
            "payload checksum mismatch for the latest version of secret \"stripe-key\" in \
             project \"acme-payments\"",
        );
    // The fake did send the payload (with a checksum that does not match).
    assert_eq!(f.access_calls(), 1, "{:#?}", f.requests());
    assert_clean(&run.all(), "checksum mismatch");
    // A failed run writes its report too: a missing one was deleted for a leak.
    let report = read_report(&run, &p.path("r.json"));
    assert_clean(&report, "checksum mismatch report");
    assert_eq!(p.api.requests(), 0, "nothing is sent with a corrupt value");

    // Without a checksum there is nothing to check: the value is used.
    f.set_checksum(Checksum::Omitted);
    p.run(&["run", "j"], &token(TOKEN)).expect_code(0);
    assert_eq!(p.api.requests(), 1);
}

#[test]
fn busy_broken_and_slow_servers_are_unavailable_naming_the_endpoint() {
    let f = fake();
    let p = gcp_project(
        &f,
        "gcp",
        &config(&f),
        "    limits: {timeout_ms: 1000}\n",
        "  S: {reference: stripe-key}\n",
        &["S"],
    );
    let endpoint = f.url();
    f.set_failure(Some((503, "UNAVAILABLE")));
    p.run(&["run", "j"], &token(TOKEN))
        .expect_code(3)
        .expect_output("unavailable")
        .expect_output(&format!(
            "Secret Manager at {endpoint} answered 503 UNAVAILABLE"
        ));
    f.set_failure(Some((429, "RESOURCE_EXHAUSTED")));
    p.run(&["run", "j"], &token(TOKEN))
        .expect_code(3)
        .expect_output("rate-limiting this token (429 RESOURCE_EXHAUSTED)");
    f.set_failure(None);
    f.set_delay(Duration::from_secs(30));
    let started = Instant::now();
    p.run(&["run", "j"], &token(TOKEN))
        .expect_code(3)
        .expect_output(&format!(
            "Secret Manager at {endpoint} did not answer in time"
        ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn configuration_mistakes_are_named() {
    let f = fake();
    let secrets = "  S: {reference: stripe-key}\n";
    let run = |config: &str, grants_host: Option<&str>| {
        let p = gcp_project(&f, "gcp", config, "", secrets, &["S"]);
        if let Some(host) = grants_host {
            let text = std::fs::read_to_string(p.path("reqflo.yaml")).expect("config");
            let granted = format!("hosts: [\"{}\"]", f.addr());
            let text = text.replace(&granted, &format!("hosts: [\"{host}\"]"));
            std::fs::write(p.path("reqflo.yaml"), text).expect("write config");
        }
        let out = p.run(&["run", "j"], &token(TOKEN));
        assert_eq!(p.api.requests(), 0);
        out
    };
    let endpoint = format!("endpoint: \"{}\"", f.url());
    run(&format!("{endpoint}, region: eu"), None)
        .expect_code(3)
        .expect_output("unknown config key `region` for the Google Cloud Secret Manager provider");
    run(&endpoint, None)
        .expect_code(3)
        .expect_output("names no project: set config.project");
    run(
        "project: acme-payments, endpoint: \"http://10.1.2.3:8085\"",
        None,
    )
    .expect_code(3)
    .expect_output("must use https://");
    run("project: Acme", None)
        .expect_code(3)
        .expect_output("config.project \"Acme\"");
    run(
        &format!("project: acme-payments, location: EU, {endpoint}"),
        None,
    )
    .expect_code(3)
    .expect_output("config.location \"EU\" has a character a location cannot have");
    // The default endpoint is Google's; without a grant for it nothing leaves.
    run("project: acme-payments", None)
        .expect_code(3)
        .expect_output("tried to reach https://secretmanager.googleapis.com");
    // With config.location, Google's regional endpoint for it.
    run("project: acme-payments, location: europe-west1", None)
        .expect_code(3)
        .expect_output("tried to reach https://secretmanager.europe-west1.rep.googleapis.com");
    // The fake's endpoint with a grant for another address is refused too.
    run(
        &format!("project: acme-payments, {endpoint}"),
        Some("127.0.0.1:9"),
    )
    .expect_code(3)
    .expect_output("which is not in its grants.hosts");
    assert!(f.requests().is_empty(), "{:#?}", f.requests());
}
