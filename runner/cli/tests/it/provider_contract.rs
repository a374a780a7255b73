//! One set of provider tests, run against the same provider written in two
//! languages: the `env` provider in Rust (`plugins/env`, both as
//! `builtin:env` and as its component loaded by path) and in Python
//! (`plugins/python-env`, built from source with componentize-py against the
//! same WIT). Every case asserts the same things of each.

use crate::common;

use common::python::{BUILD_ENV_CANARY, python_env_provider};
use common::{CANARY, TestProject, assert_absent, plugin};
use sha2::Digest;

/// One implementation under test.
struct Subject {
    /// For assertion messages.
    label: &'static str,
    /// The `plugin:` value.
    plugin: String,
    /// The pin, for a component loaded by path.
    sha256: Option<String>,
}

impl Subject {
    /// A component by path, pinned to what is on disk.
    fn component(label: &'static str, path: &std::path::Path) -> Subject {
        let bytes = std::fs::read(path).expect("component built");
        Subject {
            label,
            plugin: path.display().to_string(),
            sha256: Some(hex::encode(sha2::Sha256::digest(&bytes))),
        }
    }

    fn is_component(&self) -> bool {
        self.sha256.is_some()
    }
}

fn rust_builtin() -> Subject {
    Subject {
        label: "Rust, builtin:env",
        plugin: "builtin:env".into(),
        sha256: None,
    }
}

fn rust_component() -> Subject {
    Subject::component("Rust component", &plugin("reqflo_plugin_env"))
}

fn python_component() -> Subject {
    let built = python_env_provider();
    Subject {
        label: "Python component",
        plugin: built.path.display().to_string(),
        sha256: Some(built.sha256.clone()),
    }
}

fn subjects() -> Vec<Subject> {
    vec![rust_builtin(), rust_component(), python_component()]
}

/// Variables every provider `p` is granted (a custom plugin sees only these).
const GRANTED: &str = "[KEY, REQFLO_BUILD_CANARY]";

const PAY: &str = "steps:\n  - id: create\n    template: post-payment\n    values:\n      key: {type: secret, name: PAYMENTS_KEY}\n      amount: 1000\n    expect: {status: 201}\n";

/// A project whose secret `PAYMENTS_KEY` (reference `reference`) is resolved
/// through `chain`; `fallback` is a `builtin:file` provider reading
/// `fallback.yaml`, and `p` is the subject with `extra` lines. The demo API
/// accepts [`CANARY`].
fn contract_project(
    subject: &Subject,
    chain: &str,
    reference: &str,
    extra: &str,
    journey: &str,
    fallback_yaml: &str,
) -> TestProject {
    contract_project_with_key(
        CANARY,
        subject,
        chain,
        reference,
        extra,
        journey,
        fallback_yaml,
    )
}

/// [`contract_project`] with a demo API that accepts `key`.
fn contract_project_with_key(
    key: &str,
    subject: &Subject,
    chain: &str,
    reference: &str,
    extra: &str,
    journey: &str,
    fallback_yaml: &str,
) -> TestProject {
    let pin = match &subject.sha256 {
        Some(digest) => format!("    sha256: {digest}\n"),
        None => String::new(),
    };
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: {chain}\nproviders:\n  p:\n    plugin: \"{}\"\n{pin}    grants: {{env: {GRANTED}}}\n{extra}  fallback:\n    plugin: builtin:file\n    config: {{path: fallback.yaml}}\nsecrets:\n  PAYMENTS_KEY: {{reference: \"{reference}\"}}\n",
        subject.plugin
    );
    common::project_with_key(
        key,
        &[
            ("reqflo.yaml", &config),
            ("journeys/pay.yaml", journey),
            ("fallback.yaml", fallback_yaml),
        ],
    )
}

#[test]
fn each_provider_resolves_a_secret_into_a_request_the_server_accepts() {
    for s in subjects() {
        let p = contract_project(&s, "[p]", "KEY", "", PAY, "{}\n");
        let report = p.path("out/report.json");
        let report_arg = report.display().to_string();
        let run = p.run(
            &["run", "pay", "-v", "--report-json", &report_arg],
            &[("KEY", CANARY)],
        );
        run.expect_code(0).expect_output("1 of 1 step ok");
        assert_eq!(p.api.requests(), 1, "{}", s.label);
        // -v shows the Authorization header, redacted.
        run.expect_output("[redacted:PAYMENTS_KEY]");
        assert_absent(&run.all(), CANARY, s.label);
        let written = std::fs::read_to_string(&report).expect("report written");
        assert_absent(&written, CANARY, s.label);

        let check = p.run(&["check", "pay", "--resolve"], &[("KEY", CANARY)]);
        check
            .expect_code(0)
            .expect_output("secret PAYMENTS_KEY: resolves via p");
        assert_absent(&check.all(), CANARY, s.label);
    }
}

#[test]
fn each_provider_passes_reqflo_plugin_test() {
    let work = tempfile::tempdir().expect("temp dir");
    for subject in subjects() {
        let run = common::reqflo(
            work.path(),
            &[
                "plugin",
                "test",
                &subject.plugin,
                "--grant-env",
                "KEY",
                "--reference",
                "KEY",
                "--missing",
                "ABSENT_KEY",
            ],
            &[("KEY", CANARY)],
        );
        assert_eq!(run.code, 0, "{}: {}", subject.label, run.all());
        assert!(
            run.stdout.contains("8 passed, 0 failed, 1 skipped"),
            "{}: {}",
            subject.label,
            run.stdout
        );
        assert_absent(&run.all(), CANARY, subject.label);
    }
}

#[test]
fn not_found_falls_through_the_chain_and_names_the_provider() {
    let fallback = format!("KEY: \"{CANARY}\"\n");
    for s in subjects() {
        // Unset, then set but empty: "not found" both times, so the file answers.
        let p = contract_project(&s, "[p, fallback]", "KEY", "", PAY, &fallback);
        for env in [&[][..], &[("KEY", "")][..]] {
            let run = p.run(&["run", "pay"], env);
            run.expect_code(0).expect_output("1 of 1 step ok");
            assert_absent(&run.all(), CANARY, s.label);
        }
        assert_eq!(p.api.requests(), 2, "{}", s.label);

        // Alone in the chain, it stops the run before anything is sent.
        let p = contract_project(&s, "[p]", "KEY", "", PAY, "{}\n");
        p.run(&["run", "pay"], &[]).expect_code(3).expect_output(
            "secret `PAYMENTS_KEY` not found (tried p: environment variable KEY is not set)",
        );
        p.run(&["run", "pay"], &[("KEY", "")])
            .expect_code(3)
            .expect_output(
                "secret `PAYMENTS_KEY` not found (tried p: environment variable KEY is empty)",
            );
        assert_eq!(p.api.requests(), 0, "{}", s.label);
    }
}

#[test]
fn an_invalid_reference_stops_the_run_instead_of_falling_through() {
    // The file provider would answer `KEY=1`; an invalid reference must not
    // quietly move on to it.
    let fallback = format!("\"KEY=1\": \"{CANARY}\"\n");
    for s in subjects() {
        let p = contract_project(&s, "[p, fallback]", "KEY=1", "", PAY, &fallback);
        let run = p.run(&["run", "pay"], &[("KEY", CANARY)]);
        run.expect_code(3).expect_output(&format!(
            "provider `p` ({}) failed to resolve `KEY=1`: invalid reference: `KEY=1` is not an environment variable name",
            s.plugin
        ));
        assert_absent(&run.all(), CANARY, s.label);
        assert_eq!(p.api.requests(), 0, "{}", s.label);
    }
}

#[test]
fn configuration_it_does_not_take_is_refused_with_a_clear_error() {
    for s in subjects() {
        let p = contract_project(
            &s,
            "[p]",
            "KEY",
            "    config: {region: eu-west-2}\n",
            PAY,
            "{}\n",
        );
        let run = p.run(&["run", "pay"], &[("KEY", CANARY)]);
        run.expect_code(3).expect_output(&format!(
            "provider `p` ({}) failed to resolve `KEY`: configuration refused: the env provider takes no configuration, got `region`",
            s.plugin
        ));
        assert_absent(&run.all(), CANARY, s.label);
        assert_eq!(p.api.requests(), 0, "{}", s.label);
    }
}

#[test]
fn a_failing_journey_prints_and_reports_nothing_of_the_value() {
    let journey = PAY.replace("status: 201", "status: 418");
    for s in subjects() {
        let p = contract_project(&s, "[p]", "KEY", "", &journey, "{}\n");
        let json = p.path("out/report.json").display().to_string();
        let junit = p.path("out/junit.xml").display().to_string();
        let run = p.run(
            &[
                "run",
                "pay",
                "-v",
                "--report-json",
                &json,
                "--report-junit",
                &junit,
            ],
            &[("KEY", CANARY)],
        );
        run.expect_code(4)
            .expect_output("status: expected 418, got 201");
        assert_absent(&run.all(), CANARY, s.label);
        for file in [&json, &junit] {
            let written = std::fs::read_to_string(file).expect("report written");
            assert_absent(&written, CANARY, s.label);
        }
    }
}

#[test]
fn a_value_with_spaces_and_punctuation_arrives_byte_for_byte() {
    // The demo API accepts only this exact key, so a 201 proves the bytes.
    let key = "s3cret with spaces, \"quotes\" & /+=";
    for s in subjects() {
        let p = contract_project_with_key(key, &s, "[p]", "KEY", "", PAY, "{}\n");
        let run = p.run(&["run", "pay", "-v"], &[("KEY", key)]);
        run.expect_code(0).expect_output("1 of 1 step ok");
        assert_absent(&run.all(), key, s.label);
    }
}

#[test]
fn a_component_sees_only_the_variables_it_was_granted() {
    // builtin:env also sees the variables the run's references name (that is
    // its job); a component loaded by path sees grants.env and nothing else,
    // whatever language it is written in.
    for s in subjects().into_iter().filter(Subject::is_component) {
        let p = contract_project(&s, "[p]", "UNGRANTED", "", PAY, "{}\n");
        let run = p.run(&["run", "pay"], &[("UNGRANTED", CANARY), ("KEY", CANARY)]);
        run.expect_code(3).expect_output(
            "secret `PAYMENTS_KEY` not found (tried p: environment variable UNGRANTED is not set)",
        );
        assert_absent(&run.all(), CANARY, s.label);
    }
}

#[test]
fn a_changed_component_is_refused_by_its_pin() {
    for mut s in subjects().into_iter().filter(Subject::is_component) {
        s.sha256 = Some("0".repeat(64));
        let p = contract_project(&s, "[p]", "KEY", "", PAY, "{}\n");
        p.run(&["run", "pay"], &[("KEY", CANARY)])
            .expect_code(3)
            .expect_output("does not match its sha256 pin");
        assert_eq!(p.api.requests(), 0, "{}", s.label);
    }
}

#[test]
fn the_python_build_carries_nothing_of_its_environment_and_imports_no_sockets() {
    // The build ran with BUILD_ENV_CANARY set to CANARY; componentize-py
    // snapshots the interpreter at build time, so check the snapshot.
    let built = python_env_provider();
    let bytes = std::fs::read(&built.path).expect("component built");
    assert!(
        bytes.len() > 1 << 20,
        "a CPython component is megabytes, got {} bytes",
        bytes.len()
    );
    assert_absent(
        &String::from_utf8_lossy(&bytes),
        CANARY,
        &format!("the component built with {BUILD_ENV_CANARY} set"),
    );
    // Sockets are plugged at build time, not linked by the host.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = built.path.display().to_string();
    let inspect = common::reqflo(dir.path(), &["plugin", "inspect", &path], &[]);
    inspect
        .expect_code(0)
        .expect_output(&built.sha256)
        .expect_output("reqflo:plugin/provider@0.1.0: configure, resolve");
    assert!(!inspect.all().contains("wasi:sockets"), "{}", inspect.all());

    let p = contract_project(
        &python_component(),
        "[p]",
        BUILD_ENV_CANARY,
        "",
        PAY,
        "{}\n",
    );
    p.run(&["run", "pay"], &[])
        .expect_code(3)
        .expect_output(&format!(
            "environment variable {BUILD_ENV_CANARY} is not set"
        ));
}
