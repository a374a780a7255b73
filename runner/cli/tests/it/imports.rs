//! `reqflo import curl`: a curl command from API docs becomes a template and
//! a journey in a new project folder, its key a secret by name (never
//! written); the journey passes `check` and runs against the demo API with
//! the key given by name.

use crate::common::{CANARY, assert_absent, reqflo};

#[test]
fn a_curl_command_becomes_a_journey_that_runs_with_its_key_by_name() {
    let api = demo_api::spawn(CANARY).expect("demo api");
    let dir = tempfile::tempdir().expect("tempdir");
    let command = format!(
        "curl -X POST '{}/v1/payments' \\\n  -H 'Authorization: Bearer {CANARY}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"amount\": 1200, \"currency\": \"usd\"}}' -L",
        api.base_url()
    );
    let imported = reqflo(dir.path(), &["import", "curl", &command], &[]);
    imported
        .expect_code(0)
        .expect_output("wrote templates/post-payments.yaml and journeys/post-payments.yaml")
        .expect_output("API_TOKEN")
        .expect_output("from the `Authorization` header")
        .expect_output("`-L`: write `follow_redirects: true` on the step");
    assert_absent(&imported.all(), CANARY, "the import's output");
    let mut written = String::new();
    for file in [
        "reqflo.yaml",
        "templates/post-payments.yaml",
        "journeys/post-payments.yaml",
    ] {
        written.push_str(&std::fs::read_to_string(dir.path().join(file)).expect(file));
    }
    assert_absent(&written, CANARY, "the files written");
    assert!(written.contains("Bearer {{API_TOKEN}}"), "{written}");

    reqflo(dir.path(), &["check", "post-payments"], &[]).expect_code(0);
    let run = reqflo(
        dir.path(),
        &["run", "post-payments", "-v"],
        &[("API_TOKEN", CANARY)],
    );
    run.expect_code(0)
        .expect_output("ok     post-payments POST");
    assert_absent(&run.all(), CANARY, "the run");
    assert!(api.requests() >= 1);

    // Not over what exists, unless asked; bad input is said, nothing written.
    reqflo(dir.path(), &["import", "curl", &command], &[])
        .expect_code(1)
        .expect_output("exists already");
    reqflo(dir.path(), &["import", "curl", &command, "--force"], &[]).expect_code(0);
    reqflo(
        dir.path(),
        &["import", "curl", "curl 'https://h.test", "--name", "bad"],
        &[],
    )
    .expect_code(1)
    .expect_output("an unclosed quote");
    reqflo(
        dir.path(),
        &["import", "curl", "curl -X POST", "--name", "bad"],
        &[],
    )
    .expect_code(1)
    .expect_output("no URL");
    assert!(!dir.path().join("journeys/bad.yaml").exists());
}

const HURL: &str = r#"# Create a payment, then read it back.
POST {{base_url}}/v1/payments
Authorization: Bearer {{api_key}}
Content-Type: application/json
{"amount": 1200, "currency": "usd"}

HTTP 201
[Captures]
payment_id: jsonpath "$.id"
[Asserts]
jsonpath "$.status" == "succeeded"
jsonpath "$.id" startsWith "pay_"
header "Content-Type" contains "json"
duration < 10000
xpath "//title" exists

GET {{base_url}}/v1/payments/{{payment_id}}
Authorization: Bearer {{api_key}}

HTTP 200
[Asserts]
jsonpath "$.status" == "succeeded"
jsonpath "$.amount" exists
"#;

#[test]
fn a_hurl_file_with_captures_and_asserts_runs_green_and_its_asserts_hold() {
    let api = demo_api::spawn(CANARY).expect("demo api");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("payments.hurl"), HURL).expect("write");
    let imported = reqflo(dir.path(), &["import", "hurl", "payments.hurl"], &[]);
    imported
        .expect_code(0)
        .expect_output(
            "templates/payments-1.yaml, templates/payments-2.yaml and journeys/payments.yaml",
        )
        .expect_output("API_KEY")
        .expect_output("line 15: assert: `xpath` has no reqflo form");
    reqflo(dir.path(), &["check", "payments"], &[]).expect_code(0);
    let base = format!("base_url={}", api.base_url());
    let run = reqflo(
        dir.path(),
        &["run", "payments", "--input", &base, "-v"],
        &[("API_KEY", CANARY)],
    );
    run.expect_code(0)
        .expect_output("payments passed: 2 of 2 steps ok");
    assert_absent(&run.all(), CANARY, "the run");

    // The asserts are enforced: one that cannot hold fails the run.
    let wrong = HURL.replacen("== \"succeeded\"", "== \"refunded\"", 1);
    std::fs::write(dir.path().join("wrong.hurl"), wrong).expect("write");
    reqflo(dir.path(), &["import", "hurl", "wrong.hurl"], &[]).expect_code(0);
    reqflo(
        dir.path(),
        &["run", "wrong", "--input", &base],
        &[("API_KEY", CANARY)],
    )
    .expect_code(4)
    .expect_output("$.status: expected == \"refunded\", got \"succeeded\"");
    reqflo(dir.path(), &["import", "hurl", "missing.hurl"], &[])
        .expect_code(1)
        .expect_output("cannot read");
}

#[test]
fn a_postman_collection_runs_with_its_inherited_key_by_name() {
    let api = demo_api::spawn(CANARY).expect("demo api");
    let dir = tempfile::tempdir().expect("tempdir");
    let collection = serde_json::json!({
        "info": {"name": "Payments", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": CANARY}]},
        "variable": [{"key": "base_url", "value": api.base_url()}],
        "item": [{"name": "Payments", "item": [
            {"name": "Create a payment", "request": {
                "method": "POST",
                "header": [{"key": "Content-Type", "value": "application/json"}],
                "url": {"raw": "{{base_url}}/v1/payments"},
                "body": {"mode": "raw", "raw": "{\"amount\": 1200, \"currency\": \"usd\"}",
                         "options": {"raw": {"language": "json"}}}
            }, "event": [{"listen": "test", "script": {"exec": ["pm.test('created')"]}}]},
            {"name": "Status", "request": {"method": "GET", "url": "{{base_url}}/status/204", "auth": {"type": "noauth"}}}
        ]}]
    });
    let file = dir.path().join("payments.postman_collection.json");
    std::fs::write(&file, collection.to_string()).expect("write");
    let imported = reqflo(
        dir.path(),
        &["import", "postman", "payments.postman_collection.json"],
        &[],
    );
    imported
        .expect_code(0)
        .expect_output(
            "templates/payments-1.yaml, templates/payments-2.yaml and journeys/payments.yaml",
        )
        .expect_output("API_TOKEN")
        .expect_output("`Payments / Create a payment`: its scripts");
    let mut written = String::new();
    for entry in [
        "templates/payments-1.yaml",
        "templates/payments-2.yaml",
        "journeys/payments.yaml",
    ] {
        written.push_str(&std::fs::read_to_string(dir.path().join(entry)).expect(entry));
    }
    assert_absent(&written, CANARY, "the files written");
    reqflo(dir.path(), &["check", "payments"], &[]).expect_code(0);
    let run = reqflo(
        dir.path(),
        &["run", "payments", "-v"],
        &[("API_TOKEN", CANARY)],
    );
    run.expect_code(0)
        .expect_output("payments passed: 2 of 2 steps ok");
    assert_absent(&run.all(), CANARY, "the run");
    reqflo(
        dir.path(),
        &[
            "import",
            "postman",
            "payments.postman_collection.json",
            "--name",
            "again",
        ],
        &[],
    )
    .expect_code(0);
    std::fs::write(dir.path().join("bad.json"), "{\"item\": 3}").expect("write");
    reqflo(dir.path(), &["import", "postman", "bad.json"], &[])
        .expect_code(1)
        .expect_output("no `item` list");
}

#[test]
fn an_openapi_description_becomes_a_journey_of_its_operations() {
    let api = demo_api::spawn(CANARY).expect("demo api");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = format!(
        r#"openapi: 3.0.3
info: {{title: Payments}}
servers: [{{url: "{}"}}]
security: [{{bearer: []}}]
components:
  securitySchemes:
    bearer: {{type: http, scheme: bearer}}
paths:
  /v1/payments:
    post:
      operationId: createPayment
      requestBody:
        content:
          application/json:
            example: {{amount: 1200, currency: usd}}
  /v1/payments/{{id}}:
    get:
      operationId: getPayment
      parameters:
        - {{name: id, in: path, required: true, schema: {{type: string, example: pay_0001}}}}
"#,
        api.base_url()
    );
    std::fs::write(dir.path().join("payments.yaml"), spec).expect("write");
    reqflo(dir.path(), &["import", "openapi", "payments.yaml"], &[])
        .expect_code(0)
        .expect_output("templates/payments-createpayment.yaml, templates/payments-getpayment.yaml and journeys/payments.yaml")
        .expect_output("BEARER_TOKEN");
    reqflo(dir.path(), &["check", "payments"], &[]).expect_code(0);
    // The server's URL and the id's example are the inputs' defaults: the
    // payment the first step creates is the one the second reads.
    let run = reqflo(
        dir.path(),
        &["run", "payments", "-v"],
        &[("BEARER_TOKEN", CANARY)],
    );
    run.expect_code(0)
        .expect_output("payments passed: 2 of 2 steps ok");
    assert_absent(&run.all(), CANARY, "the run");
    std::fs::write(dir.path().join("old.yaml"), "swagger: '2.0'\n").expect("write");
    reqflo(dir.path(), &["import", "openapi", "old.yaml"], &[])
        .expect_code(1)
        .expect_output("Swagger 2");
}
