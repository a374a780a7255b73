//! Editing an existing journey in the web UI: values in place, and steps
//! added, removed and moved, each shown as a diff first, checked, and
//! written with the file's comments and formatting kept.

use axum::http::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::harness::*;
use reqflo_server::auth::Role;

#[tokio::test]
async fn an_existing_journey_is_edited_in_place_with_a_diff_first() {
    let h = Harness::new().await;
    let api = demo_api::spawn("sk_edit_key_value_0042").expect("demo api");
    let template = "method: POST\nurl: \"{{base_url}}/v1/payments\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\njson:\n  amount: \"{{amount}}\"\n  currency: usd\n";
    let journey = "# Pays once.\nsteps:\n  - id: pay   # the only step\n    template: post\n    values:\n      key: {type: secret, name: PAY_KEY}\n      amount: 1000   # cents\n    expect:\n      status: 201\n";
    let (status, answer) = h
        .upload(
            "edits",
            &[
                ("reqflo.yaml", &demo_config(&api)),
                ("templates/post.yaml", template),
                ("journeys/pay-once.yaml", journey),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (name, journeys) in [("PAY_KEY", "pay-*"), ("OTHER_KEY", "nothing-*")] {
        let body = json!({"name": name, "value": "sk_edit_key_value_0042", "journeys": [journeys]});
        assert_eq!(
            h.call("POST", "/api/secrets", Some(Role::Admin), Some(body))
                .await
                .0,
            StatusCode::CREATED
        );
    }
    let mut builder = Browser::new(&h);
    builder.login(&h.tokens[&Role::Builder]).await;
    let page = builder.get("/build/edits/edit/pay-once").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("disabled>OTHER_KEY (not allowed for this journey)"),
        "{}",
        page.body
    );
    let marker = "name=\"base\" value=\"";
    let at = page.body.find(marker).expect("base") + marker.len();
    let base = page.body[at..].split('"').next().unwrap_or("").to_string();
    let fields = |amount: &'static str| {
        vec![
            ("f:steps/0/id", "pay"),
            ("f:steps/0/values/key/type", "secret"),
            ("f:steps/0/values/key/name", "PAY_KEY"),
            ("f:steps/0/values/amount", amount),
            ("f:steps/0/expect/status", "201"),
        ]
    };
    // First the changes are shown, nothing saved.
    let mut form = fields("1500");
    form.push(("base", &base));
    let preview = builder.post("/build/edits/edit/pay-once", &form).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("-7:       amount: 1000   # cents"),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("+7:       amount: 1500   # cents"),
        "{}",
        preview.body
    );
    // A number stays a number; a pasted key is refused.
    let mut bad = fields("lots");
    bad.push(("base", &base));
    assert_eq!(
        builder
            .post("/build/edits/edit/pay-once", &bad)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // A stale page is refused.
    let mut stale = fields("1500");
    stale.extend([("base", "0000"), ("confirm", "yes")]);
    assert_eq!(
        builder
            .post("/build/edits/edit/pay-once", &stale)
            .await
            .status,
        StatusCode::CONFLICT
    );
    let mut confirm = fields("1500");
    confirm.extend([("base", base.as_str()), ("confirm", "yes")]);
    let saved = builder.post("/build/edits/edit/pay-once", &confirm).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(saved.body.contains("Saved."), "{}", saved.body);
    let (_, project) = h
        .call("GET", "/api/projects/edits", Some(Role::Viewer), None)
        .await;
    let after = project["files"]["journeys/pay-once.yaml"]
        .as_str()
        .expect("journey");
    assert_eq!(
        after,
        journey.replace("amount: 1000", "amount: 1500"),
        "only that value changed"
    );
    // The same base again: the file changed underneath.
    assert_eq!(
        builder
            .post("/build/edits/edit/pay-once", &confirm)
            .await
            .status,
        StatusCode::CONFLICT
    );
    // A disabled choice sent anyway fails the check and nothing is stored.
    let page = builder.get("/build/edits/edit/pay-once").await;
    let at = page.body.find(marker).expect("base") + marker.len();
    let base = page.body[at..].split('"').next().unwrap_or("").to_string();
    let mut sneaky = vec![
        ("f:steps/0/values/key/name", "OTHER_KEY"),
        ("f:steps/0/values/amount", "1500"),
        ("f:steps/0/id", "pay"),
        ("f:steps/0/values/key/type", "secret"),
        ("f:steps/0/expect/status", "201"),
    ];
    sneaky.extend([("base", base.as_str()), ("confirm", "yes")]);
    let denied = builder.post("/build/edits/edit/pay-once", &sneaky).await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST, "{}", denied.body);
    assert!(
        denied.body.contains("may not use secret"),
        "{}",
        denied.body
    );
    // The check's error also stands at the field it names.
    let select = denied
        .body
        .split("<select")
        .find(|s| s.contains("name=\"f:steps/0/values/key/name\""))
        .expect("the secret's field");
    assert!(select.contains("aria-invalid=\"true\""), "{select}");
    let id = select
        .split("aria-describedby=\"")
        .nth(1)
        .and_then(|s| s.split('"').next());
    let id = id.expect("described by its error");
    assert!(
        denied
            .body
            .contains(&format!("<p class=\"error\" id=\"{id}\">")),
        "{}",
        denied.body
    );
    let (_, project) = h
        .call("GET", "/api/projects/edits", Some(Role::Viewer), None)
        .await;
    assert!(
        project["files"]["journeys/pay-once.yaml"]
            .as_str()
            .unwrap_or("")
            .contains("name: PAY_KEY")
    );
}

/// The `base` field of an edit page.
fn base_of(body: &str) -> String {
    let marker = "name=\"base\" value=\"";
    let at = body.find(marker).expect("base") + marker.len();
    body[at..].split('"').next().unwrap_or("").to_string()
}

#[tokio::test]
async fn steps_are_added_removed_and_moved_in_place_with_a_diff_first() {
    let h = Harness::new().await;
    let key = "sk_steps_Cn4ry/+=0bb1e";
    let get = "method: GET\nurl: \"{{base_url}}/v1/payments/{{id}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";
    let journey = "# Pays, then reads.\nsteps:\n  # makes the payment\n  - id: pay\n    template: post\n    values:\n      key: {type: secret, name: PAY_KEY}\n      amount: 1000   # cents\n    capture:\n      payment_id: $.id\n    expect:\n      status: 201\n\n  - id: read\n    template: get\n    values:\n      key: {type: secret, name: PAY_KEY}\n      id: {type: capture, step: pay, name: payment_id}\n    expect:\n      status: 200\n";
    let files = [
        ("templates/get.yaml", get),
        ("journeys/pay-read.yaml", journey),
    ];
    let _api = h.payments("steps", key, &files, "pay-*").await;
    let body = json!({"name": "OTHER_KEY", "value": key, "journeys": ["nothing-*"]});
    let (status, _) = h
        .call("POST", "/api/secrets", Some(Role::Admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let stored = || h.stored_file("steps", "journeys/pay-read.yaml");
    let path = "/build/steps/edit/pay-read";
    let mut builder = Browser::new(&h);
    builder.login(&h.tokens[&Role::Builder]).await;
    let page = builder.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for control in [
        "aria-label=\"Move down: step pay\"",
        "aria-label=\"Move up: step read\"",
        "aria-label=\"Remove: step read\"",
        "Add a step…",
    ] {
        assert!(page.body.contains(control), "{control}: {}", page.body);
    }
    let base = base_of(&page.body);

    // Moving `read` before `pay` shows the lines first, then fails the
    // check (a capture of a later step), and nothing is stored.
    let preview = builder
        .post(path, &[("base", &base), ("step", "up:1")])
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains("id=\"diff\""), "{}", preview.body);
    assert!(
        preview.body.contains("name=\"step\" value=\"up:1\""),
        "the change waits for confirmation: {}",
        preview.body
    );
    let refused = builder
        .post(
            path,
            &[("base", &base), ("step", "up:1"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("pay"), "{}", refused.body);
    assert_eq!(stored().await, journey, "nothing stored");

    // Bad changes: unknown, out of range, a stale page.
    for (op, status) in [
        ("sideways:1", StatusCode::BAD_REQUEST),
        ("remove:9", StatusCode::BAD_REQUEST),
        ("up:0", StatusCode::BAD_REQUEST),
    ] {
        let got = builder.post(path, &[("base", &base), ("step", op)]).await;
        assert_eq!(got.status, status, "{op}: {}", got.body);
    }
    let stale = builder
        .post(
            path,
            &[("base", "0000"), ("step", "remove:1"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);

    // Adding a step: its id and template, then its value sources with the
    // pickers (a disallowed secret disabled, the captures of the steps).
    let duplicate = builder
        .post(
            path,
            &[
                ("base", &base),
                ("step", "add"),
                ("add_id", "pay"),
                ("add_template", "post"),
            ],
        )
        .await;
    assert_eq!(
        duplicate.status,
        StatusCode::BAD_REQUEST,
        "{}",
        duplicate.body
    );
    assert!(
        duplicate.body.contains("exists in this journey"),
        "{}",
        duplicate.body
    );
    let adding = builder
        .post(
            path,
            &[
                ("base", &base),
                ("step", "add"),
                ("add_id", "again"),
                ("add_template", "post"),
            ],
        )
        .await;
    assert_eq!(adding.status, StatusCode::OK, "{}", adding.body);
    assert!(
        adding.body.contains("disabled>OTHER_KEY (not allowed:"),
        "{}",
        adding.body
    );
    assert!(
        adding.body.contains("payment_id (from pay)"),
        "{}",
        adding.body
    );
    let add = [
        ("base", base.as_str()),
        ("step", "add"),
        ("adding", "yes"),
        ("add_environment", "demo"),
        ("step_2_id", "again"),
        ("step_2_template", "post"),
        ("v_2_key_source", "secret"),
        ("v_2_key_secret", "PAY_KEY"),
        ("v_2_amount_source", "literal"),
        ("v_2_amount_literal", "700"),
        ("s_2", "201"),
    ];
    // A pasted key as the literal is refused and not shown again.
    let mut pasted = add.to_vec();
    pasted[9] = ("v_2_amount_literal", "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    let refused = builder.post(path, &pasted).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("looks like a credential"),
        "{}",
        refused.body
    );
    let preview = builder.post(path, &add).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("+22:   - id: again"),
        "{}",
        preview.body
    );
    let mut confirm = add.to_vec();
    confirm.push(("confirm", "yes"));
    let saved = builder.post(path, &confirm).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(saved.body.contains("Saved."), "{}", saved.body);
    let added = stored().await;
    assert!(added.starts_with(journey), "the old lines stay: {added}");
    assert!(
        added.ends_with("\n  - id: again\n    template: post\n    values:\n      key:\n        type: secret\n        name: PAY_KEY\n      amount: 700\n    expect:\n      status: 201\n"),
        "{added}"
    );

    // Moving it up and removing it give the file back line for line.
    let page = builder.get(path).await;
    let base = base_of(&page.body);
    let moved = builder
        .post(
            path,
            &[("base", &base), ("step", "up:2"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let after = stored().await;
    assert!(
        after.contains("      status: 201\n\n  - id: again\n")
            && after.contains("      status: 201\n\n  - id: read\n"),
        "the blank line between steps stays: {after}"
    );
    let base = base_of(&builder.get(path).await.body);
    let removed = builder
        .post(
            path,
            &[("base", &base), ("step", "remove:1"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(stored().await, journey);
    for body in h.seen.lock().expect("seen").iter() {
        assert!(!body.contains(key), "a page holds the key");
        assert!(
            !body.contains("sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            "a page shows the pasted key"
        );
    }
}

#[tokio::test]
async fn captures_and_expectations_are_added_to_a_step_in_place() {
    let h = Harness::new().await;
    let key = "sk_entry_Cn4ry/+=9aa0f";
    let journey = "steps:\n  - id: pay   # the only step\n    template: post\n    values:\n      key: {type: secret, name: PAY_KEY}\n      amount: 1000\n    expect:\n      status: 201\n# the end\n";
    let _api = h
        .payments("entries", key, &[("journeys/pay.yaml", journey)], "pay")
        .await;
    let stored = || h.stored_file("entries", "journeys/pay.yaml");
    let path = "/build/entries/edit/pay";
    let mut builder = Browser::new(&h);
    builder.login(&h.tokens[&Role::Builder]).await;
    let add = |kind: &'static str, name: &'static str, value: &'static str| {
        vec![
            ("step", "entry"),
            ("entry_step", "0"),
            ("entry_kind", kind),
            ("entry_name", name),
            ("entry_value", value),
        ]
    };
    // Refused, each saying why; nothing stored.
    let pasted = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    for (form, says) in [
        (add("status", "", "201"), "there already"),
        (add("status", "", "700"), "from 100 to 599"),
        (add("capture", "two words", "$.id"), "letters, digits"),
        (add("capture", "payment_id", "id"), "starts with `$`"),
        (add("json", "$.note", pasted), "looks like a credential"),
        (add("sideways", "a", "b"), "choose what to add"),
    ] {
        let base = base_of(&builder.get(path).await.body);
        let mut form = form;
        form.push(("base", &base));
        let refused = builder.post(path, &form).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{says}: {}",
            refused.body
        );
        assert!(refused.body.contains(says), "{says}: {}", refused.body);
        assert!(
            !refused.body.contains(pasted),
            "the pasted key is shown again"
        );
    }
    assert_eq!(stored().await, journey);
    // The refused key comes with the offer to register it: a link for an
    // admin, who to ask for anyone else.
    let mut offers = Vec::new();
    for role in [Role::Builder, Role::Admin] {
        let mut person = Browser::new(&h);
        person.login(&h.tokens[&role]).await;
        let base = base_of(&person.get(path).await.body);
        let mut form = add("json", "$.note", pasted);
        form.push(("base", &base));
        offers.push(person.post(path, &form).await.body);
    }
    assert!(
        offers[0].contains("Ask an admin to register it"),
        "{}",
        offers[0]
    );
    assert!(
        offers[1].contains("<a href=\"/admin/secrets#register\">Register it as a secret</a>"),
        "{}",
        offers[1]
    );
    // A capture: the lines first, then saved after the step's last entry.
    for (kind, name, value) in [
        ("capture", "payment_id", "$.id"),
        ("json", "$.currency", "usd"),
        ("header", "content-type", "application/json"),
    ] {
        let base = base_of(&builder.get(path).await.body);
        let mut form = add(kind, name, value);
        form.push(("base", &base));
        let preview = builder.post(path, &form).await;
        assert_eq!(preview.status, StatusCode::OK, "{kind}: {}", preview.body);
        assert!(
            preview.body.contains("name=\"step\" value=\"entry\""),
            "{}",
            preview.body
        );
        form.push(("confirm", "yes"));
        let saved = builder.post(path, &form).await;
        assert_eq!(saved.status, StatusCode::OK, "{kind}: {}", saved.body);
        assert!(saved.body.contains("Saved."), "{kind}: {}", saved.body);
    }
    assert_eq!(
        stored().await,
        "steps:\n  - id: pay   # the only step\n    template: post\n    values:\n      key: {type: secret, name: PAY_KEY}\n      amount: 1000\n    expect:\n      status: 201\n      json:\n        $.currency: usd\n      headers:\n        content-type: application/json\n    capture:\n      payment_id: $.id\n# the end\n"
    );
}
