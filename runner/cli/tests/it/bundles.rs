//! `reqflo export` and `reqflo run --bundle`: a journey travels as one file,
//! secrets by name only, and runs anywhere its secrets resolve.

use crate::common;

use common::{CANARY, assert_absent, project, reqflo};

const JOURNEY: &str = r#"
description: create and read back
steps:
  - id: create
    template: post-payment
    values:
      key: {type: secret, name: PAY_KEY}
      amount: 42            # a literal, kept as written
    capture: {id: $.id}
    expect: {status: 201}
  - id: read
    template: get-payment
    values:
      key: {type: secret, name: PAY_KEY}
      id: {type: capture, step: create, name: id}
    expect: {status: 200, json: {"$.amount": 42}}
"#;

fn config() -> &'static str {
    "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  PAY_KEY:\n    description: the payments key\n    reference: REAL_PAY_KEY\n    journeys: [flow]\n  UNUSED: {description: not in this journey}\n"
}

#[test]
fn export_writes_names_never_values_and_the_bundle_runs_elsewhere() {
    let p = project(&[("reqflo.yaml", config()), ("journeys/flow.yaml", JOURNEY)]);
    let exported = p.run(&["export", "flow"], &[("REAL_PAY_KEY", CANARY)]);
    exported.expect_code(0);
    let bundle = &exported.stdout;
    assert_absent(&exported.all(), CANARY, "export");
    for needle in [
        "reqflo_bundle: 1",
        "journey: flow",
        "PAY_KEY",
        "reference: REAL_PAY_KEY",
        "amount: 42",
        "templates/post-payment.yaml",
        "templates/get-payment.yaml",
    ] {
        assert!(
            bundle.contains(needle),
            "bundle lacks {needle:?}:\n{bundle}"
        );
    }
    assert!(
        !bundle.contains("UNUSED"),
        "only the registry entries the journey names"
    );
    assert!(
        !bundle.contains("templates/echo.yaml"),
        "only the templates the journey uses"
    );

    // Run it from a folder with no project at all.
    let elsewhere = tempfile::tempdir().expect("tmp");
    std::fs::write(elsewhere.path().join("flow.bundle.yaml"), bundle).expect("write");
    let run = reqflo(
        elsewhere.path(),
        &["run", "--bundle", "flow.bundle.yaml", "-v"],
        &[("REAL_PAY_KEY", CANARY)],
    );
    run.expect_code(0).expect_output("2 of 2 steps ok");
    assert_absent(&run.all(), CANARY, "bundle run");
    assert_eq!(p.api.requests(), 2);
}

#[test]
fn export_to_a_file_is_scanned_and_the_policy_travels() {
    let p = project(&[("reqflo.yaml", config()), ("journeys/flow.yaml", JOURNEY)]);
    p.run(
        &["export", "flow", "-o", "flow.bundle.yaml"],
        &[("REAL_PAY_KEY", CANARY)],
    )
    .expect_code(0);
    let bundle = std::fs::read_to_string(p.path("flow.bundle.yaml")).expect("written");
    assert_absent(&bundle, CANARY, "export file");
    // Renaming the journey inside the bundle does not escape the registry's policy.
    let renamed = bundle
        .replace("journey: flow", "journey: other")
        .replace("journeys/flow.yaml", "journeys/other.yaml");
    std::fs::write(p.path("other.bundle.yaml"), renamed).expect("write");
    p.run(
        &["run", "--bundle", "other.bundle.yaml"],
        &[("REAL_PAY_KEY", CANARY)],
    )
    .expect_code(3)
    .expect_output("journey `other` may not use secret `PAY_KEY`");
}

#[test]
fn bad_bundles_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let write =
        |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    write(
        "escape.yaml",
        "reqflo_bundle: 1\njourney: x\nfiles:\n  ../../etc/evil.yaml: \"steps: []\"\n",
    );
    reqflo(dir.path(), &["run", "--bundle", "escape.yaml"], &[])
        .expect_code(1)
        .expect_output("is not journeys/NAME.yaml or templates/NAME.yaml");
    write("future.yaml", "reqflo_bundle: 9\njourney: x\nfiles: {}\n");
    reqflo(dir.path(), &["run", "--bundle", "future.yaml"], &[])
        .expect_code(1)
        .expect_output("version 9 bundle");
    write("broken.yaml", "reqflo_bundle: [\n");
    reqflo(dir.path(), &["run", "--bundle", "broken.yaml"], &[])
        .expect_code(1)
        .expect_output("broken.yaml:");
    reqflo(dir.path(), &["run", "--bundle", "missing.yaml"], &[]).expect_code(1);
    let p = project(&[("journeys/j.yaml", "steps:\n  - id: a\n    template: nope\n")]);
    p.run(&["export", "j"], &[])
        .expect_code(2)
        .expect_output("unknown template `nope`");
}

#[test]
fn export_refuses_a_bundle_holding_a_secret_value_in_any_form() {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    // The key pasted where a name belongs: as a variable, a journey literal
    // and, base64-encoded, in a template header.
    let pasted_variable = config().replace(
        "variables: {base_url: \"@BASE@\"}",
        &format!("variables: {{base_url: \"@BASE@\", token: \"{CANARY}\"}}"),
    );
    let pasted_literal = JOURNEY.replace("amount: 42 ", &format!("amount: \"{CANARY}\" "));
    let encoded_template = format!(
        "method: GET\nurl: \"{{{{base_url}}}}/v1/payments/{{{{id}}}}\"\nheaders:\n  Authorization: \"Basic {base64}\"\n  X-Key: \"{{{{key}}}}\"\n"
    );
    for (what, files, place) in [
        (
            "a variable",
            vec![
                ("reqflo.yaml", pasted_variable.as_str()),
                ("journeys/flow.yaml", JOURNEY),
            ],
            "`environments:` from reqflo.yaml",
        ),
        (
            "a journey literal",
            vec![
                ("reqflo.yaml", config()),
                ("journeys/flow.yaml", pasted_literal.as_str()),
            ],
            "journeys/flow.yaml",
        ),
        (
            "a template, base64-encoded",
            vec![
                ("reqflo.yaml", config()),
                ("journeys/flow.yaml", JOURNEY),
                ("templates/get-payment.yaml", encoded_template.as_str()),
            ],
            "templates/get-payment.yaml",
        ),
    ] {
        let p = project(&files);
        assert!(
            std::fs::read_to_string(p.path(place.trim_start_matches("`environments:` from ")))
                .expect("the pasted file")
                .contains(if what.contains("base64") {
                    &base64
                } else {
                    CANARY
                }),
            "{what}: the value really is in the project"
        );
        for args in [
            &["export", "flow"][..],
            &["export", "flow", "-o", "out.yaml"][..],
        ] {
            let run = p.run(args, &[("REAL_PAY_KEY", CANARY)]);
            run.expect_code(3)
                .expect_output(&format!("{place} holds the value of secret `PAY_KEY`"))
                .expect_output("nothing was written");
            assert!(
                !run.stdout.contains("reqflo_bundle"),
                "{what}: no bundle printed"
            );
            assert!(!p.path("out.yaml").exists(), "{what}: no bundle file");
            assert_absent(&run.all(), CANARY, what);
        }
    }
}

#[test]
fn export_says_which_secrets_it_could_not_check() {
    let p = project(&[("reqflo.yaml", config()), ("journeys/flow.yaml", JOURNEY)]);
    // REAL_PAY_KEY is not set here: the bundle is made, and the gap is named.
    let run = p.run(&["export", "flow"], &[]);
    run.expect_code(0)
        .expect_output("reqflo_bundle: 1")
        .expect_output("note: secret PAY_KEY (env test) does not resolve here, so the bundle is not checked for its value");
    // --no-resolve asks for no check at all, and gets no note.
    let run = p.run(&["export", "flow", "--no-resolve"], &[]);
    run.expect_code(0).expect_output("reqflo_bundle: 1");
    assert!(!run.all().contains("note:"), "{}", run.all());
}
