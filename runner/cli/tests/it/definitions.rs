//! Bad input of every kind: a clear error naming file:line:column, the right
//! exit code, no panic, and nothing sent.

use crate::common;

use common::{CANARY, Run, project};

fn run_journey(journey: &str) -> (Run, u64) {
    let p = project(&[("journeys/j.yaml", journey)]);
    let run = p.run(&["run", "j"], &[("K", CANARY)]);
    assert!(
        !run.stderr.contains("internal error"),
        "panicked: {}",
        run.stderr
    );
    (run, p.api.requests())
}

#[test]
fn bad_yaml_names_file_line_and_column() {
    let (run, sent) =
        run_journey("steps:\n  - id: one\n    template: status\n    values: {code: 200\n");
    run.expect_code(2).expect_output("--> journeys/j.yaml:5:1");
    assert_eq!(sent, 0);
}

#[test]
fn unknown_keys_are_errors_with_positions() {
    let (run, _) = run_journey("steps:\n  - id: one\n    templat: status\n");
    run.expect_code(2)
        .expect_output("unknown field `templat`")
        .expect_output("--> journeys/j.yaml:3:5");
}

#[test]
fn rerun_is_safe_or_never_and_a_local_run_ignores_it() {
    let (run, sent) = run_journey(
        "rerun: sometimes\nsteps:\n  - id: one\n    template: status\n    values: {code: 200}\n",
    );
    run.expect_code(2)
        .expect_output("unknown variant `sometimes`, expected `safe` or `never`")
        .expect_output("--> journeys/j.yaml:1:8");
    assert_eq!(sent, 0);
    let (run, sent) = run_journey(
        "rerun: safe\nsteps:\n  - id: one\n    template: status\n    values: {code: 200}\n",
    );
    run.expect_code(0);
    assert_eq!(sent, 1);
}

#[test]
fn unknown_template_points_at_the_name_and_lists_templates() {
    let (run, sent) = run_journey("steps:\n  - id: one\n    template: stauts\n");
    run.expect_code(2)
        .expect_output("unknown template `stauts`")
        .expect_output("--> journeys/j.yaml:3:15")
        .expect_output("found: echo, get-payment");
    assert_eq!(sent, 0);
}

#[test]
fn unfilled_placeholder_points_into_the_template() {
    let (run, sent) = run_journey("steps:\n  - id: one\n    template: status\n");
    run.expect_code(2)
        .expect_output("placeholder `{{code}}` of template `status` is not filled in step `one`")
        .expect_output("--> templates/status.yaml:2:");
    assert_eq!(sent, 0);
}

#[test]
fn a_value_that_fills_nothing_is_an_error() {
    let (run, _) = run_journey(
        "steps:\n  - id: one\n    template: status\n    values:\n      code: 200\n      cdoe: 201\n",
    );
    run.expect_code(2)
        .expect_output("value `cdoe` fills no placeholder of template `status`")
        .expect_output("--> journeys/j.yaml:6:7");
}

#[test]
fn bad_value_sources_and_references_are_definition_errors() {
    let cases = [
        ("{type: sekret, name: K}", "unknown variant `sekret`"),
        ("{type: secret}", "missing field `name`"),
        (
            "{type: capture, step: later, name: x}",
            "no earlier step `later`",
        ),
        (
            "{type: variable, name: nope}",
            "the environment has no variable `nope`",
        ),
        (
            "{type: generate, kind: random-hex, bytes: 0}",
            "`bytes` must be between 1 and 1024",
        ),
        ("{type: generate, kind: dice}", "unknown variant `dice`"),
    ];
    for (value, message) in cases {
        let (run, sent) = run_journey(&format!(
            "steps:\n  - id: one\n    template: status\n    values:\n      code: {value}\n"
        ));
        run.expect_code(2)
            .expect_output(message)
            .expect_output("journeys/j.yaml:5:");
        assert_eq!(sent, 0);
    }
}

#[test]
fn capturing_a_name_the_step_does_not_capture_is_an_error() {
    let (run, _) = run_journey(
        "steps:\n  - id: a\n    template: status\n    values: {code: 200}\n    capture: {x: $.status}\n  - id: b\n    template: status\n    values:\n      code: {type: capture, step: a, name: y}\n",
    );
    run.expect_code(2)
        .expect_output("step `a` captures no `y`")
        .expect_output("its captures: x");
}

#[test]
fn bad_jsonpath_and_template_syntax_are_errors() {
    let (run, _) = run_journey(
        "steps:\n  - id: a\n    template: status\n    values: {code: 200}\n    capture: {x: \"$.[\"}\n",
    );
    run.expect_code(2)
        .expect_output("is not a JSONPath")
        .expect_output("journeys/j.yaml:5:");
    let p = project(&[
        (
            "templates/broken.yaml",
            "method: GET\nurl: \"{{base_url}}/{{id\"\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: broken\n",
        ),
    ]);
    p.run(&["run", "j"], &[])
        .expect_code(2)
        .expect_output("`{{` is never closed")
        .expect_output("--> templates/broken.yaml:2:20");
}

#[test]
fn duplicate_step_ids_are_errors() {
    let (run, _) = run_journey(
        "steps:\n  - id: a\n    template: status\n    values: {code: 200}\n  - id: a\n    template: status\n    values: {code: 200}\n",
    );
    run.expect_code(2)
        .expect_output("step id `a` is used twice");
}

#[test]
fn project_configuration_errors_exit_1() {
    let p = project(&[
        (
            "reqflo.yaml",
            "environments:\n  test:\n    variables: {base_url: x}\n    secrets: [env, valt]\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: status\n    values: {code: {type: secret, name: K}}\n",
        ),
    ]);
    p.run(&["run", "j"], &[])
        .expect_code(1)
        .expect_output("names provider `valt`, which is not defined")
        .expect_output("--> reqflo.yaml:4:");
    let p = project(&[("reqflo.yaml", "environmets: {}\n")]);
    p.run(&["run", "j"], &[])
        .expect_code(1)
        .expect_output("unknown field `environmets`");
    let p = project(&[(
        "reqflo.yaml",
        "providers:\n  v: {plugin: \"builtin:vaultt\"}\n",
    )]);
    p.run(&["plugins", "list"], &[])
        .expect_code(1)
        .expect_output("unknown built-in plugin `builtin:vaultt`");
}

#[test]
fn usage_errors_exit_1() {
    let p = project(&[]);
    p.run(&["run"], &[])
        .expect_code(1)
        .expect_output("name a journey");
    p.run(&["run", "j", "--env", "prod"], &[]).expect_code(1);
    p.run(&["run", "j", "--timeout", "soon"], &[])
        .expect_code(1)
        .expect_output("--timeout");
    p.run(&["frobnicate"], &[]).expect_code(1);
    p.run(&["--help"], &[])
        .expect_code(0)
        .expect_output("Exit codes:");
    let elsewhere = tempfile::tempdir().expect("tmp");
    common::reqflo(elsewhere.path(), &["run", "j"], &[])
        .expect_code(1)
        .expect_output("no reqflo.yaml");
}

#[test]
fn a_missing_secret_names_it_and_the_providers_tried() {
    let (run, sent) = run_journey(
        "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: NOT_SET_ANYWHERE}}\n",
    );
    run.expect_code(3)
        .expect_output("secret `NOT_SET_ANYWHERE` not found")
        .expect_output("env: environment variable NOT_SET_ANYWHERE is not set")
        .expect_output("file: no secret file at");
    assert_eq!(sent, 0);
}

#[test]
fn policy_denial_happens_before_any_request() {
    let p = project(&[
        (
            "reqflo.yaml",
            "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  K:\n    journeys: [payment-*]\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: status\n    values: {code: 200}\n  - id: b\n    template: echo\n    values: {key: {type: secret, name: K}}\n",
        ),
    ]);
    p.run(&["run", "j"], &[("K", CANARY)])
        .expect_code(3)
        .expect_output("journey `j` may not use secret `K`")
        .expect_output("--> journeys/j.yaml:7:")
        .expect_output("only for journeys matching: payment-*");
    assert_eq!(
        p.api.requests(),
        0,
        "nothing may be sent after a policy denial"
    );
    // A journey the glob allows runs.
    std::fs::rename(p.path("journeys/j.yaml"), p.path("journeys/payment-x.yaml")).expect("mv");
    p.run(&["run", "payment-x"], &[("K", CANARY)])
        .expect_code(0);
}

#[test]
fn a_secret_bound_to_other_hosts_is_never_sent() {
    let p = project(&[
        (
            "reqflo.yaml",
            "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  K: {hosts: [api.example.com]}\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: K}}\n",
        ),
    ]);
    p.run(&["run", "j"], &[("K", CANARY)])
        .expect_code(3)
        .expect_output("secret `K` may only be sent to api.example.com, not to 127.0.0.1");
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn values_too_short_to_redact_are_refused() {
    let p = project(&[(
        "journeys/j.yaml",
        "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: SHORT}}\n",
    )]);
    p.run(&["run", "j"], &[("SHORT", "abc")])
        .expect_code(3)
        .expect_output("shorter than 4 bytes");
    assert_eq!(p.api.requests(), 0);
}

#[test]
fn check_validates_without_sending_or_resolving() {
    let journey =
        "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: K}}\n";
    let p = project(&[("journeys/j.yaml", journey)]);
    p.run(&["check", "j"], &[])
        .expect_code(0)
        .expect_output("ok j (env test): 1 step, secrets: K");
    let resolved = p.run(&["check", "j", "--resolve"], &[("K", CANARY)]);
    resolved
        .expect_code(0)
        .expect_output("secret K: resolves via env");
    common::assert_absent(&resolved.all(), CANARY, "check --resolve");
    p.run(&["check", "j", "--resolve"], &[])
        .expect_code(3)
        .expect_output("secret `K` not found");
    assert_eq!(p.api.requests(), 0, "check sends nothing");
    std::fs::write(
        p.path("journeys/bad.yaml"),
        "steps:\n  - id: a\n    template: nope\n",
    )
    .expect("write");
    p.run(&["check", "--all"], &[])
        .expect_code(2)
        .expect_output("unknown template `nope`");
}

#[test]
fn two_names_for_one_reference_keep_their_own_host_binding() {
    let p = project(&[
        (
            "reqflo.yaml",
            "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\nsecrets:\n  OPEN: {reference: SHARED}\n  LOCKED: {reference: SHARED, hosts: [api.example.com]}\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: open\n    template: echo\n    values: {key: {type: secret, name: OPEN}}\n  - id: locked\n    template: echo\n    values: {key: {type: secret, name: LOCKED}}\n",
        ),
    ]);
    p.run(&["run", "j"], &[("SHARED", CANARY)])
        .expect_code(3)
        .expect_output("secret `LOCKED` may only be sent to api.example.com");
    assert_eq!(p.api.requests(), 1, "only the unbound use was sent");
}

#[test]
fn a_configured_secret_file_that_does_not_exist_is_an_error() {
    let p = project(&[
        (
            "reqflo.yaml",
            "environments:\n  test:\n    variables: {base_url: \"@BASE@\"}\n    secrets: [file, env]\nproviders:\n  file: {plugin: builtin:file, config: {path: secrest.yaml}}\n",
        ),
        (
            "journeys/j.yaml",
            "steps:\n  - id: a\n    template: echo\n    values: {key: {type: secret, name: K}}\n",
        ),
    ]);
    p.run(&["run", "j"], &[("K", CANARY)])
        .expect_code(3)
        .expect_output("provider `file`: its secret file")
        .expect_output("secrest.yaml does not exist");
}

#[test]
fn predicates_pass_and_fail_saying_what_came_and_never_the_secret() {
    let step = "steps:\n  - id: e\n    template: echo\n    values: {key: {type: secret, name: K}}\n    expect:\n";
    let passing = format!(
        "{step}      headers: {{content-length: {{\">\": 10, \"<\": 100000}}, content-type: {{contains: json}}}}\n      json:\n        \"$.method\": {{starts-with: G, type: string, \"!=\": POST, matches: \"^GE[T]$\"}}\n        \"$.headers\": {{type: object, empty: false}}\n        \"$.query\": {{count: 0}}\n        \"$.headers['x-key']\": {{ends-with: \"Zq9\", count: 18}}\n"
    );
    let (run, sent) = run_journey(&passing);
    run.expect_code(0);
    assert_eq!(sent, 1);
    // A failing predicate names the path, what it wanted and what came; what
    // came here is the secret, redacted like everywhere.
    let failing =
        format!("{step}      json:\n        \"$.headers['x-key']\": {{contains: nope}}\n");
    let (run, _) = run_journey(&failing);
    run.expect_code(4)
        .expect_output("$.headers['x-key']: expected contains \"nope\", got");
    assert!(!run.all().contains(CANARY), "{}", run.all());
    let failing = format!("{step}      json:\n        \"$.method\": {{\">=\": 3}}\n");
    run_journey(&failing)
        .0
        .expect_code(4)
        .expect_output("$.method: expected >= 3, got \"GET\"");
    // The body as text, and its SHA-256.
    let status = "steps:\n  - id: s\n    template: status\n    values: {code: 200}\n    expect:\n";
    let body = "{\"status\":200}";
    let (run, _) = run_journey(&format!(
        "{status}      body: {{contains: '\"status\"', count: {}}}\n      sha256: {}\n",
        body.chars().count(),
        sha256_hex(body)
    ));
    run.expect_code(0);
    let (run, _) = run_journey(&format!("{status}      body: {{starts-with: \"<html\"}}\n"));
    run.expect_code(4)
        .expect_output("body: expected starts with \"<html\", got `{\"status\":200}`");
    let (run, _) = run_journey(&format!("{status}      sha256: {}\n", "0".repeat(64)));
    run.expect_code(4)
        .expect_output("body's SHA-256: expected 000");
    let (run, sent) = run_journey(&format!("{status}      sha256: abc\n"));
    run.expect_code(2).expect_output("64 hex digits");
    assert_eq!(sent, 0);
    // A bad argument is a definition error at its place; nothing is sent.
    let bad = format!("{step}      json:\n        \"$.method\": {{type: text}}\n");
    let (run, sent) = run_journey(&bad);
    run.expect_code(2)
        .expect_output("`type` is one of string, number")
        .expect_output("--> journeys/j.yaml:7:21");
    assert_eq!(sent, 0);
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[test]
fn numbers_compare_by_value() {
    let (run, _) = run_journey(
        "steps:\n  - id: a\n    template: status\n    values: {code: 200}\n    expect:\n      json: {\"$.status\": 200.0}\n",
    );
    run.expect_code(0);
}

#[test]
fn a_long_journey_is_parsed_once_and_an_edit_is_seen_with_its_position() {
    // 400 steps is past the size at which a parsed journey is cached.
    let mut journey = String::from("steps:\n");
    for i in 0..400 {
        journey.push_str(&format!(
            "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: K}}}}\n    capture: {{m: $.method}}\n    expect: {{status: 200, json: {{\"$.method\": GET}}}}\n"
        ));
    }
    let p = project(&[("journeys/j.yaml", &journey)]);
    let cache = p.path(".cache");
    let cache_env = cache.to_str().expect("utf-8 path");
    let env = [("K", CANARY), ("REQFLO_CACHE_DIR", cache_env)];
    for _ in 0..2 {
        p.run(&["run", "j"], &env)
            .expect_code(0)
            .expect_output("400 of 400 steps ok");
    }
    let entries: Vec<_> = std::fs::read_dir(cache.join("parsed"))
        .expect("a parsed-journey cache")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    // What the cache holds is the journey as written: never a secret's value.
    let kept = std::fs::read_to_string(&entries[0]).expect("read entry");
    common::assert_absent(&kept, CANARY, "parsed-journey cache");

    // An edit deep in the file is parsed afresh: its error has its position.
    let edited = journey.replace("  - id: s399\n", "  - id: s399\n    bogus: 1\n");
    std::fs::write(p.path("journeys/j.yaml"), edited).expect("edit");
    p.run(&["check", "j"], &env)
        .expect_code(2)
        .expect_output("unknown field `bogus`")
        .expect_output("--> journeys/j.yaml:1998:5");
    // A spoiled entry is a miss, not an error.
    std::fs::write(p.path("journeys/j.yaml"), &journey).expect("restore");
    std::fs::write(&entries[0], "{ not json").expect("spoil");
    p.run(&["check", "j"], &env)
        .expect_code(0)
        .expect_output("ok j (env test): 400 steps");
    assert_eq!(p.api.requests(), 800);
}
