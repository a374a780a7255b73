//! The built-in Google Cloud provider against a local FAKE Secret Manager
//! (`reqflo-fakes`: Google ships no local server), driving the real binary.

use crate::common;

/// The links of the credential chain that fetch and renew a token.
mod credentials;

use std::time::{Duration, Instant};

use common::{
    CANARY, TestProject, assert_absent, assert_hidden, every_channel, project, read_report,
    show_last,
};
use reqflo_fakes::gcp::{Checksum, FakeSecretManager, SecretManagerData, VersionState};

/// The access token, shaped so that every encoded form differs from it.
const TOKEN: &str = "ya29.cAn4ry/Tok+en=Gcp7";
/// A token IAM lets read the secret `retired` only.
const SCOPED_TOKEN: &str = "ya29.scoped-to-retired";
/// A second secret value, kept in the JSON secret beside [`CANARY`].
const WEBHOOK: &str = "whsec/Gcp+Canary=Hook7";
const PROJECT: &str = "acme-payments";
const NUMBER: u64 = 270_012_345_678;
/// Payloads of versions that may never be read.
const DESTROYED: &str = "sk_destroyed_value_0001";
const DISABLED: &str = "sk_disabled_value_0002";
/// The version before [`CANARY`] in `stripe-key`; the demo API refuses it.
const OLD_KEY: &str = "sk_old_rotated_0001";

/// The location of the fake's regional secrets.
const LOCATION: &str = "europe-west1";

/// `stripe-key` (v1 [`OLD_KEY`], v2 [`CANARY`]), `stripe-config` (JSON holding
/// both secrets), `retired` (v1 destroyed, v2 disabled, v3 [`CANARY`]),
/// `plain-text`, and `empty` with no version; in [`LOCATION`], the regional
/// `stripe-key` (v1 [`CANARY`], where the global v1 is [`OLD_KEY`]) and
/// `eu-config` (JSON holding [`CANARY`] under `api_key`).
fn fake() -> FakeSecretManager {
    use VersionState::*;
    let config = serde_json::json!({"api_key": CANARY, "webhook": WEBHOOK, "account": "acct_1234"})
        .to_string();
    let data = SecretManagerData::new(PROJECT, NUMBER)
        .token(TOKEN)
        .scoped_token(SCOPED_TOKEN, &["retired"])
        .secret("stripe-key", &[(OLD_KEY, Enabled), (CANARY, Enabled)])
        .secret("stripe-config", &[(&config, Enabled)])
        .secret(
            "retired",
            &[
                (DESTROYED, Destroyed),
                (DISABLED, Disabled),
                (CANARY, Enabled),
            ],
        )
        .secret("plain-text", &[("not json at all", Enabled)])
        .secret("empty", &[])
        .alias("stripe-key", "prod", 2)
        .alias("stripe-key", "old", 1)
        .regional_secret(LOCATION, "stripe-key", &[(CANARY, Enabled)])
        .regional_secret(LOCATION, "eu-config", &[(&config, Enabled)]);
    FakeSecretManager::spawn(data).expect("fake Secret Manager starts")
}

/// A project whose environment resolves through `chain`, with provider `gcp`
/// (granted the fake and the token) configured by `config` plus `extra` lines,
/// `secrets` as registry lines and one echo step per name in `used`.
fn gcp_project(
    fake: &FakeSecretManager,
    chain: &str,
    config: &str,
    extra: &str,
    secrets: &str,
    used: &[&str],
) -> TestProject {
    let reqflo = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [{chain}]\n\
         providers:\n  gcp:\n    plugin: builtin:gcp\n    config: {{{config}}}\n\
         \x20   grants:\n      env: [GOOGLE_OAUTH_ACCESS_TOKEN]\n      hosts: [\"{}\"]\n{extra}\
         secrets:\n{secrets}",
        fake.addr()
    );
    let mut journey = String::from("steps:\n");
    for (i, name) in used.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    project(&[("reqflo.yaml", &reqflo), ("journeys/j.yaml", &journey)])
}

/// The usual configuration: the sample project, the fake as endpoint.
fn config(fake: &FakeSecretManager) -> String {
    format!("project: {PROJECT}, endpoint: \"{}\"", fake.url())
}

/// A journey of one `post-payment` step per (secret, expected status): the
/// demo API answers 201 only to [`CANARY`], so each status proves which
/// value was injected.
fn payments(steps: &[(&str, u16)]) -> String {
    let mut journey = String::from("steps:\n");
    for (name, status) in steps {
        journey.push_str(&format!(
            "  - id: {}\n    template: post-payment\n    values: {{key: {{type: secret, name: {name}}}, amount: 5}}\n    expect: {{status: {status}}}\n",
            name.to_lowercase().replace('_', "-")
        ));
    }
    journey
}

/// The `:access` calls the fake received, sorted.
fn access_calls(fake: &FakeSecretManager) -> Vec<String> {
    let mut calls: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.ends_with(":access"))
        .collect();
    calls.sort();
    calls
}

/// A project of [`gcp_project`] with the usual chain and configuration.
fn simple(fake: &FakeSecretManager, secrets: &str, used: &[&str]) -> TestProject {
    gcp_project(fake, "gcp", &config(fake), "", secrets, used)
}

fn token(value: &str) -> [(&str, &str); 1] {
    [("GOOGLE_OAUTH_ACCESS_TOKEN", value)]
}

/// The line of `check --resolve` output about secret `name`.
fn line(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.contains(&format!("secret {name}:")))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{out}"))
        .to_string()
}

/// Neither value nor token, nor the unreadable versions, in `text`.
fn assert_clean(text: &str, context: &str) {
    assert_absent(text, CANARY, context);
    assert_absent(text, WEBHOOK, context);
    assert_absent(text, TOKEN, context);
    for never in [DESTROYED, DISABLED] {
        assert!(!text.contains(never), "{context}: {never} in:\n{text}");
    }
}

#[test]
fn latest_pinned_full_names_and_json_keys_inject_the_right_values() {
    let f = fake();
    let secrets = format!(
        "  LATEST: {{reference: stripe-key}}\n\
         \x20 PINNED: {{reference: retired/versions/3}}\n\
         \x20 FULL: {{reference: projects/{PROJECT}/secrets/stripe-key/versions/latest}}\n\
         \x20 BY_NUMBER: {{reference: projects/{NUMBER}/secrets/stripe-key/versions/2}}\n\
         \x20 JSON_KEY: {{reference: \"stripe-config#api_key\"}}\n\
         \x20 OLD: {{reference: stripe-key/versions/1}}\n"
    );
    let p = simple(&f, &secrets, &[]);
    // The demo API accepts only CANARY as its key: a 201 proves the right
    // value was injected, and the 401 that version 1 is not the latest.
    let journey = payments(&[
        ("LATEST", 201),
        ("PINNED", 201),
        ("FULL", 201),
        ("BY_NUMBER", 201),
        ("JSON_KEY", 201),
        ("OLD", 401),
    ]);
    std::fs::write(p.path("journeys/pay.yaml"), journey).expect("write journey");
    let run = p.run(&["run", "pay", "-v"], &token(TOKEN));
    run.expect_code(0);
    assert_clean(&run.all(), "Secret Manager run with -v");
    assert!(!run.all().contains(OLD_KEY), "{}", run.all());
    assert_eq!(p.api.requests(), 6);
    // FULL is LATEST by another name: one call for both.
    assert_eq!(
        access_calls(&f),
        [
            format!("GET /v1/projects/{NUMBER}/secrets/stripe-key/versions/2:access"),
            format!("GET /v1/projects/{PROJECT}/secrets/retired/versions/3:access"),
            format!("GET /v1/projects/{PROJECT}/secrets/stripe-config/versions/latest:access"),
            format!("GET /v1/projects/{PROJECT}/secrets/stripe-key/versions/1:access"),
            format!("GET /v1/projects/{PROJECT}/secrets/stripe-key/versions/latest:access"),
        ]
    );
}

#[test]
fn regional_secrets_by_full_name_and_by_config_location_inject_the_right_values() {
    let f = fake();
    // The global stripe-key's version 1 is OLD_KEY (401 from the demo API);
    // the regional one's is CANARY (201): each status says which was read.
    let secrets = format!(
        "  REGIONAL: {{reference: projects/{PROJECT}/locations/{LOCATION}/secrets/stripe-key/versions/1}}\n\
         \x20 REGIONAL_KEY: {{reference: \"projects/{PROJECT}/locations/{LOCATION}/secrets/eu-config#api_key\"}}\n\
         \x20 SHORT: {{reference: stripe-key/versions/1}}\n\
         \x20 GLOBAL: {{reference: projects/{PROJECT}/secrets/stripe-key/versions/1}}\n"
    );
    // Without config.location a short reference is global; with it, regional
    // (a global resource name stays global either way).
    let with_location = format!("{}, location: {LOCATION}", config(&f));
    for (config, short_status) in [(config(&f), 401), (with_location, 201)] {
        let p = gcp_project(&f, "gcp", &config, "", &secrets, &[]);
        let journey = payments(&[
            ("REGIONAL", 201),
            ("REGIONAL_KEY", 201),
            ("SHORT", short_status),
            ("GLOBAL", 401),
        ]);
        std::fs::write(p.path("journeys/pay.yaml"), journey).expect("write journey");
        let run = p.run(&["run", "pay", "-v"], &token(TOKEN));
        run.expect_code(0);
        assert_clean(&run.all(), "a run of regional secrets");
        assert!(!run.all().contains(OLD_KEY), "{}", run.all());
        assert_eq!(p.api.requests(), 4);
    }
    let regional = |secret: &str, version: &str| {
        format!(
            "GET /v1/projects/{PROJECT}/locations/{LOCATION}/secrets/{secret}/versions/{version}:access"
        )
    };
    let global = format!("GET /v1/projects/{PROJECT}/secrets/stripe-key/versions/1:access");
    // One call per secret version and run: SHORT shares GLOBAL's call in the
    // first run and REGIONAL's in the second. A cache keyed without the
    // location would have handed GLOBAL the regional value (and a 201).
    assert_eq!(
        access_calls(&f),
        [
            regional("eu-config", "latest"),
            regional("eu-config", "latest"),
            regional("stripe-key", "1"),
            regional("stripe-key", "1"),
            global.clone(),
            global,
        ]
    );
}

#[test]
fn global_and_regional_secrets_are_not_found_in_each_others_place() {
    let f = fake();
    let secrets = format!(
        "  GLOBAL_ASKED_REGIONALLY: {{reference: projects/{PROJECT}/locations/{LOCATION}/secrets/stripe-config}}\n\
         \x20 REGIONAL_ASKED_GLOBALLY: {{reference: \"eu-config#api_key\"}}\n\
         \x20 OTHER_LOCATION: {{reference: projects/{PROJECT}/locations/us-east1/secrets/stripe-key}}\n\
         \x20 NO_VERSION: {{reference: projects/{PROJECT}/locations/{LOCATION}/secrets/stripe-key/versions/2}}\n\
         \x20 BAD_LOCATION: {{reference: projects/{PROJECT}/locations/Europe-West1/secrets/stripe-key}}\n"
    );
    let names = [
        "GLOBAL_ASKED_REGIONALLY",
        "REGIONAL_ASKED_GLOBALLY",
        "OTHER_LOCATION",
        "NO_VERSION",
        "BAD_LOCATION",
    ];
    let p = simple(&f, &secrets, &names);
    let run = p.run(&["check", "j", "--resolve"], &token(TOKEN));
    run.expect_code(3);
    let out = run.all();
    for (name, parts) in [
        (
            "GLOBAL_ASKED_REGIONALLY",
            &[
                "not found",
                "secret \"stripe-config\" not found in location \"europe-west1\" of project \
                 \"acme-payments\", or it has no versions (404 NOT_FOUND)",
            ][..],
        ),
        (
            "REGIONAL_ASKED_GLOBALLY",
            &[
                "not found",
                "secret \"eu-config\" not found in project \"acme-payments\", or it has no \
                 versions (404 NOT_FOUND)",
            ],
        ),
        (
            "OTHER_LOCATION",
            &[
                "not found",
                "in location \"us-east1\" of project \"acme-payments\"",
            ],
        ),
        (
            "NO_VERSION",
            &[
                "not found",
                "version 2 of secret \"stripe-key\" in location \"europe-west1\" of project \
                 \"acme-payments\" not found (404 NOT_FOUND)",
            ],
        ),
        (
            "BAD_LOCATION",
            &[
                "invalid reference",
                "the location \"Europe-West1\" in \"projects/acme-payments/locations/\
                 Europe-West1/secrets/stripe-key\" has a character a location cannot have ('E')",
            ],
        ),
    ] {
        let l = line(&out, name);
        for part in parts {
            assert!(l.contains(part), "{name}: {part:?} not in {l}");
        }
    }
    assert_clean(&out, "regional not-found messages");
    // The bad location never reaches the server: 4 good references, 4 calls.
    assert_eq!(f.access_calls(), 4, "{:#?}", f.requests());
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn the_provider_keeps_the_contract_against_the_fake() {
    let f = fake();
    let (project, endpoint) = (
        format!("project={PROJECT}"),
        format!("endpoint={}", f.url()),
    );
    let host = f.addr().to_string();
    let all = common::passes_contract(
        "gcp",
        &[
            "--config",
            &project,
            "--config",
            &endpoint,
            "--grant-env",
            "GOOGLE_OAUTH_ACCESS_TOKEN",
            "--grant-host",
            &host,
            "--reference",
            "stripe-key",
            "--missing",
            "no-such-secret",
        ],
        &token(TOKEN),
    );
    assert_clean(&all, "plugin test of builtin:gcp");
}

#[test]
fn several_keys_of_one_secret_cost_one_access_call() {
    let f = fake();
    let secrets = format!(
        "  A: {{reference: \"stripe-config#api_key\"}}\n\
         \x20 B: {{reference: \"stripe-config#webhook\"}}\n\
         \x20 C: {{reference: \"stripe-config/versions/latest#account\"}}\n\
         \x20 D: {{reference: \"projects/{PROJECT}/secrets/stripe-config#webhook\"}}\n\
         \x20 E: {{reference: stripe-config/versions/1}}\n"
    );
    let p = simple(&f, &secrets, &["A", "B", "C", "D", "E"]);
    // Each echo expects the value the server received to be the right key's
    // (the expectations are in the journey, so a wrong value fails the run).
    let mut journey = String::from("steps:\n");
    for (name, value) in [
        ("A", CANARY),
        ("B", WEBHOOK),
        ("C", "acct_1234"),
        ("D", WEBHOOK),
    ] {
        journey.push_str(&format!(
            "  - id: {name}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n    expect:\n      json: {{\"$.headers['x-key']\": \"{value}\"}}\n"
        ));
    }
    // E is the whole secret, the JSON holding all three (shown redacted).
    journey.push_str(
        "  - id: E\n    template: echo\n    values: {key: {type: secret, name: E}}\n    expect:\n      json: {\"$.headers['x-key']\": {exists: true}}\n",
    );
    std::fs::write(p.path("journeys/j.yaml"), journey).expect("write journey");
    let run = p.run(&["run", "j", "-v"], &token(TOKEN));
    run.expect_code(0);
    assert_hidden(&run.stderr, "A", CANARY, "several keys");
    assert_hidden(&run.stderr, "B", WEBHOOK, "several keys");
    assert_clean(&run.all(), "several keys");
    // `latest` answered as version 1, so E is a cache hit too.
    assert_eq!(f.access_calls(), 1, "{:#?}", f.requests());
    assert_eq!(p.api.requests(), 5);
}

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
fn reports_and_verbose_output_never_hold_a_value_or_the_token() {
    let f = fake();
    let secrets = "  S: {reference: stripe-key}\n  W: {reference: \"stripe-config#webhook\"}\n";
    let p = simple(&f, secrets, &["S", "W"]);
    // After the echoes, a step that fails showing both values: each reaches
    // every channel, to be redacted there.
    show_last(&p, &["S", "W"]);
    let channels = every_channel(&p, &token(TOKEN));
    assert_eq!(p.api.requests(), 3);
    for (channel, text) in &channels {
        assert_hidden(text, "S", CANARY, channel);
        assert_hidden(text, "W", WEBHOOK, channel);
        assert_clean(text, channel);
    }
    // The token reached the fake: it answers only requests that carry it.
    assert_eq!(f.access_calls(), 2, "{:#?}", f.requests());
    let listed = p.run(&["secrets", "list"], &token(TOKEN));
    listed.expect_code(0).expect_output("stripe-config#webhook");
    assert_clean(&listed.all(), "secrets list");
    assert_eq!(f.access_calls(), 2, "listing asks Secret Manager nothing");
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

#[test]
fn a_version_alias_reads_the_version_it_names() {
    let f = fake();
    let secrets = "  PROD: {reference: stripe-key/versions/prod}\n  OLD: {reference: stripe-key/versions/old}\n  NONE: {reference: stripe-key/versions/nope}\n";
    // The demo API takes only CANARY (version 2, alias `prod`).
    let journey = "steps:\n  - id: prod\n    template: post-payment\n    values: {key: {type: secret, name: PROD}, amount: 5}\n    expect: {status: 201}\n  - id: old\n    template: post-payment\n    values: {key: {type: secret, name: OLD}, amount: 5}\n    expect: {status: 401}\n";
    let p = simple(&f, secrets, &[]);
    std::fs::write(p.path("journeys/j.yaml"), journey).expect("write journey");
    let run = p.run(&["run", "j", "-v"], &token(TOKEN));
    run.expect_code(0);
    assert_clean(&run.all(), "a run by version alias");
    // An alias the secret does not define: not found, named as an alias.
    let none = "steps:\n  - id: none\n    template: post-payment\n    values: {key: {type: secret, name: NONE}, amount: 5}\n";
    std::fs::write(p.path("journeys/j.yaml"), none).expect("write journey");
    p.run(&["run", "j"], &token(TOKEN))
        .expect_code(3)
        .expect_output("version alias \"nope\" of secret \"stripe-key\"")
        .expect_output("not found");
}
