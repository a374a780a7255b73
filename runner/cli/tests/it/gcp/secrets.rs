//! Reading Secret Manager secrets from the fake: latest, pinned and aliased
//! versions, full names and JSON keys, regional secrets, one access call
//! per secret, the provider contract, and no value or token in any output.

use super::{
    LOCATION, NUMBER, OLD_KEY, PROJECT, TOKEN, WEBHOOK, assert_clean, config, fake, gcp_project,
    line, simple, token,
};
use crate::common::{self, CANARY, assert_hidden, every_channel, show_last};

use reqflo_fakes::gcp::FakeSecretManager;

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
