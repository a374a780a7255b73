//! The web UI over `oneshot`: login and sessions, the policy headers, every
//! page for every role, CSRF and cross-origin refusals, Secrets management
//! and runs through forms, and a canary that no page or fragment holds.

use axum::http::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::harness::*;
use reqflo_server::auth::Role;
use reqflo_server::web::{CSP, HTMX_INTEGRITY, HTMX_SSE_INTEGRITY, PAGES};

#[test]
fn the_vendored_htmx_is_the_pinned_file() {
    assert_eq!(
        HTMX_INTEGRITY.as_str(),
        "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"
    );
    assert_eq!(
        HTMX_SSE_INTEGRITY.as_str(),
        "sha384-A986SAtodyH8eg8x8irJnYUk7i9inVQqYigD6qZ9evobksGNIXfeFvDwLSHcp31N"
    );
}

#[tokio::test]
async fn login_sessions_and_every_page_for_every_role() {
    let h = Harness::new().await;
    let anonymous = Browser::new(&h);
    let login = anonymous.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(
        login
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some(CSP)
    );
    assert_eq!(
        login
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(login.body.contains(HTMX_INTEGRITY.as_str()));
    assert!(!login.body.contains("<script>"), "no inline script");
    // A wrong token: refused, and never echoed.
    let wrong = anonymous
        .send(
            "POST",
            "/login",
            &[("token", "rqf_guess_0123456789")],
            Some("http://reqflo.test"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!wrong.body.contains("rqf_guess_0123456789"));
    // A login posted from another site is refused.
    let forged = anonymous
        .send(
            "POST",
            "/login",
            &[("token", &h.tokens[&Role::Admin])],
            Some("http://evil.test"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let mut browsers = Vec::new();
    for role in [Role::Viewer, Role::Runner, Role::Builder, Role::Admin] {
        let mut browser = Browser::new(&h);
        browser.login(&h.tokens[&role]).await;
        browsers.push((role, browser));
    }
    for (method, path, needs) in PAGES {
        let path = path
            .replace("{id}", "x")
            .replace("{name}", "x")
            .replace("{format}", "json")
            .replace("{action}", "disable");
        if *method == "GET" {
            let got = anonymous.get(&path).await;
            match needs {
                None => assert_eq!(got.status, StatusCode::OK, "{path}"),
                Some(_) => assert_eq!(
                    got.status,
                    StatusCode::SEE_OTHER,
                    "{path} without a session goes to /login"
                ),
            }
        }
        let Some(needs) = needs else { continue };
        for (role, browser) in &browsers {
            let got = if *method == "GET" {
                browser.get(&path).await
            } else {
                browser.post(&path, &[]).await
            };
            if role < needs {
                assert_eq!(
                    got.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {}",
                    role.name()
                );
                assert!(got.body.contains(needs.name()), "{}", got.body);
            } else {
                assert_ne!(
                    got.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {}: {}",
                    role.name(),
                    got.body
                );
            }
        }
    }
    // Unsafe requests need the session's CSRF token and our own origin.
    let (_, admin) = &browsers[3];
    let no_token = admin
        .send(
            "POST",
            "/admin/secrets",
            &[("name", "X"), ("value", "v4lue-long")],
            Some("http://reqflo.test"),
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let mut fields = vec![("csrf", admin.csrf.as_str())];
    fields.extend([("name", "X"), ("value", "v4lue-long")]);
    let cross = admin
        .send("POST", "/admin/secrets", &fields, Some("http://evil.test"))
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let (_, secrets) = h.call("GET", "/api/secrets", Some(Role::Admin), None).await;
    assert_eq!(secrets["secrets"], json!([]), "nothing was registered");
    // Logging out ends the session.
    let out = admin.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get("/admin/secrets").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn secrets_and_runs_through_forms_and_no_page_holds_the_value() {
    let h = Harness::new().await;
    let canary = "sk_ui_Cn4ry/+=8c1d22";
    let api = demo_api::spawn(canary).expect("demo api");
    let template = "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  X-Key: \"{{key}}\"\n";
    let journey = "steps:\n  - id: echo\n    template: echo\n    values:\n      key: {type: secret, name: UI_KEY}\n    expect: {status: 200}\n";
    let (status, _) = h
        .upload(
            "ui",
            &[
                ("reqflo.yaml", &demo_config(&api)),
                ("templates/echo.yaml", template),
                ("journeys/echo.yaml", journey),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let _workers = reqflo_server::spawn_workers(&h.state, 2);
    let mut admin = Browser::new(&h);
    admin.login(&h.tokens[&Role::Admin]).await;

    // A refused registration comes back with what was typed, never the value.
    let refused = admin
        .post(
            "/admin/secrets",
            &[
                ("name", "bad name"),
                ("description", "kept"),
                ("value", canary),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("kept"));
    let registered = admin
        .post(
            "/admin/secrets",
            &[
                ("name", "UI_KEY"),
                ("description", "the demo key"),
                ("value", canary),
                ("journeys", "echo"),
            ],
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    let page = admin.get("/admin/secrets/UI_KEY?done=registered").await;
    assert!(page.body.contains("16-31 bytes"), "{}", page.body);
    assert!(page.body.contains("autocomplete=\"new-password\""));
    let rotated = admin
        .post(
            "/admin/secrets/UI_KEY/policy",
            &[
                ("description", "the demo key"),
                ("journeys", "echo, other"),
                ("environments", ""),
                ("hosts", "127.0.0.1"),
            ],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::SEE_OTHER);
    let (_, shown) = h
        .call("GET", "/api/secrets/UI_KEY", Some(Role::Admin), None)
        .await;
    assert_eq!(shown["journeys"], json!(["echo", "other"]));
    assert_eq!(shown["hosts"], json!(["127.0.0.1"]));

    // A runner starts a run from the project's page and follows it.
    let mut runner = Browser::new(&h);
    runner.login(&h.tokens[&Role::Runner]).await;
    let started = runner
        .post(
            "/runs",
            &[
                ("project", "ui"),
                ("journey", "echo"),
                ("environment", "demo"),
                ("inputs", ""),
                ("variables", ""),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let location = started
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("to the run")
        .to_string();
    let id = location.trim_start_matches("/runs/").to_string();
    h.ended(&id).await;
    let run = runner.get(&location).await;
    assert!(run.body.contains("passed"), "{}", run.body);
    assert!(
        run.body.contains("[redacted:UI_KEY]"),
        "the dump shows where the key went: {}",
        run.body
    );
    let fragment = runner.get(&format!("{location}/steps")).await;
    assert!(
        !fragment.body.contains("hx-trigger"),
        "an ended run stops polling"
    );
    for format in ["html", "json", "junit"] {
        assert_eq!(
            runner
                .get(&format!("{location}/report/{format}"))
                .await
                .status,
            StatusCode::OK
        );
    }
    for path in [
        "/runs",
        "/projects",
        "/projects/ui",
        "/runs?status=passed&journey=echo",
    ] {
        assert_eq!(runner.get(path).await.status, StatusCode::OK, "{path}");
    }
    for path in [
        "/admin/secrets",
        "/admin/secrets/UI_KEY",
        "/admin/audit",
        "/admin/audit?action=secret.used",
    ] {
        assert_eq!(admin.get(path).await.status, StatusCode::OK, "{path}");
    }
    // A bad run form: the reason on the project's page.
    let bad = runner
        .post(
            "/runs",
            &[
                ("project", "ui"),
                ("journey", "echo"),
                ("environment", "nowhere"),
                ("inputs", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("no environment"), "{}", bad.body);

    // Disable and delete through the forms.
    assert_eq!(
        admin
            .post("/admin/secrets/UI_KEY/disable", &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let unconfirmed = admin.post("/admin/secrets/UI_KEY/delete", &[]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        admin
            .post("/admin/secrets/UI_KEY/delete", &[("confirm", "yes")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    for body in h.seen.lock().expect("seen").iter() {
        assert_absent("a page", body.as_bytes(), canary);
    }
}

#[tokio::test]
async fn a_builder_composes_a_journey_with_the_pickers_and_it_runs() {
    let h = Harness::new().await;
    let key = "sk_build_Cn4ry/+=77e0aa";
    let api = demo_api::spawn(key).expect("demo api");
    let post = "method: POST\nurl: \"{{base_url}}/v1/payments\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\njson:\n  amount: \"{{amount}}\"\n  currency: usd\n";
    let get = "method: GET\nurl: \"{{base_url}}/v1/payments/{{id}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n";
    let (status, answer) = h
        .upload(
            "shop",
            &[
                ("reqflo.yaml", &demo_config(&api)),
                ("templates/post-payment.yaml", post),
                ("templates/get-payment.yaml", get),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (name, value, journeys) in [
        ("PAY_KEY", key, "pay-*"),
        ("OTHER_KEY", "sk_other_value_1234", "nothing-*"),
    ] {
        let body =
            json!({"name": name, "value": value, "journeys": [journeys], "hosts": ["127.0.0.1"]});
        let (status, _) = h
            .call("POST", "/api/secrets", Some(Role::Admin), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut builder = Browser::new(&h);
    builder.login(&h.tokens[&Role::Builder]).await;
    assert_eq!(builder.get("/build/shop").await.status, StatusCode::OK);
    let first = [
        ("journey", "pay-twice"),
        ("environment", "demo"),
        ("steps", "2"),
        ("step_0_id", "create"),
        ("step_0_template", "post-payment"),
        ("step_1_id", "read"),
        ("step_1_template", "get-payment"),
    ];
    let values = builder.post("/build/shop", &first).await;
    assert_eq!(values.status, StatusCode::OK, "{}", values.body);
    // The picker offers PAY_KEY, and lists OTHER_KEY disabled with the reason.
    assert!(
        values
            .body
            .contains("<option value=\"PAY_KEY\">PAY_KEY</option>"),
        "{}",
        values.body
    );
    assert!(
        values
            .body
            .contains("disabled>OTHER_KEY (not allowed: only for journeys nothing-*)"),
        "{}",
        values.body
    );

    // The paste guard: a pasted key is refused and not shown again.
    let pasted = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let mut guarded = first.to_vec();
    guarded.extend([
        ("v_0_key_source", "literal"),
        ("v_0_key_literal", pasted),
        ("v_0_amount_source", "literal"),
        ("v_0_amount_literal", "1200"),
    ]);
    let refused = builder.post("/build/shop/save", &guarded).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("looks like a credential"),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains(pasted),
        "the pasted key is not shown again"
    );

    // A disabled choice sent anyway is refused by the check.
    let mut sneaky = first.to_vec();
    sneaky.extend([
        ("v_0_key_source", "secret"),
        ("v_0_key_secret", "OTHER_KEY"),
        ("v_0_amount_source", "literal"),
        ("v_0_amount_literal", "1200"),
    ]);
    let denied = builder.post("/build/shop/save", &sneaky).await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST);
    assert!(
        denied.body.contains("may not use secret"),
        "{}",
        denied.body
    );
    // Also at the placeholder it is about.
    assert!(
        denied.body.contains(
            "name=\"v_0_key_source\" aria-invalid=\"true\" aria-describedby=\"v_0_key_error\""
        ) && denied
            .body
            .contains("<p class=\"error\" id=\"v_0_key_error\">"),
        "{}",
        denied.body
    );

    // The pickers: the secret by name, the capture of step 1 in step 2.
    let mut good = first.to_vec();
    good.extend([
        ("v_0_key_source", "secret"),
        ("v_0_key_secret", "PAY_KEY"),
        ("v_0_amount_source", "literal"),
        ("v_0_amount_literal", "1200"),
        ("c_0", "payment_id = $.id"),
        ("s_0", "201"),
        ("v_1_key_source", "secret"),
        ("v_1_key_secret", "PAY_KEY"),
        ("v_1_id_source", "capture"),
        ("v_1_id_capture", "create.payment_id"),
        ("s_1", "200"),
    ]);
    let refreshed = builder.post("/build/shop", &good).await;
    assert!(
        refreshed.body.contains("payment_id (from create)"),
        "the capture picker offers step 1's capture: {}",
        refreshed.body
    );
    let saved = builder.post("/build/shop/save", &good).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(
        saved.body.contains("Saved as journeys/pay-twice.yaml"),
        "{}",
        saved.body
    );
    let (_, project) = h
        .call("GET", "/api/projects/shop", Some(Role::Viewer), None)
        .await;
    let yaml = project["files"]["journeys/pay-twice.yaml"]
        .as_str()
        .expect("saved")
        .to_string();
    assert!(
        yaml.contains("name: PAY_KEY") && yaml.contains("step: create"),
        "{yaml}"
    );
    // It runs.
    let _workers = reqflo_server::spawn_workers(&h.state, 1);
    let (status, run) = h
        .call(
            "POST",
            "/api/runs",
            Some(Role::Runner),
            Some(json!({"project": "shop", "journeys": ["pay-twice"], "environment": "demo"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let ended = h.ended(run["id"].as_str().expect("id")).await;
    assert_eq!(ended["status"], "passed", "{ended}");
    for body in h.seen.lock().expect("seen").iter() {
        assert_absent("a page", body.as_bytes(), key);
    }
    assert_absent("the saved journey", yaml.as_bytes(), key);
}
