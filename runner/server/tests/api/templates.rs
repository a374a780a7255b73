//! The template editor: a new template from its parts, and an existing
//! one's values changed in place, each checked with every journey of the
//! project before it is stored.

use axum::http::StatusCode;

use crate::browser::Browser;
use crate::harness::*;
use reqflo_server::auth::Role;

#[tokio::test]
async fn templates_are_made_and_edited_and_checked_with_every_journey() {
    let h = Harness::new().await;
    let key = "sk_tmpl_Cn4ry/+=5ee1d";
    let pasted = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let post = format!(
        "# Creates a payment.\n{}",
        POST_PAYMENT.replacen("\"\n", "\"   # the API's\n", 1)
    );
    let journey = "steps:\n  - id: pay\n    template: post\n    values:\n      key: {type: secret, name: PAY_KEY}\n      amount: 1000\n";
    let _api = h
        .payments("tmpl", key, &[("journeys/pay.yaml", journey)], "pay")
        .await;
    // The template with comments, as its author wrote it.
    let (status, answer) = h
        .upload(
            "tmpl",
            &[
                ("reqflo.yaml", &h.stored_file("tmpl", "reqflo.yaml").await),
                ("templates/post.yaml", &post),
                ("journeys/pay.yaml", journey),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let files = || async {
        let (_, project) = h
            .call("GET", "/api/projects/tmpl", Some(Role::Viewer), None)
            .await;
        project["files"].clone()
    };
    let mut builder = Browser::new(&h);
    builder.login(&h.tokens[&Role::Builder]).await;
    let project = builder.get("/projects/tmpl").await;
    assert!(
        project
            .body
            .contains("/build/tmpl/templates/post\">edit</a>"),
        "{}",
        project.body
    );
    assert!(
        project.body.contains("/build/tmpl/templates/new"),
        "{}",
        project.body
    );

    // A new template: each bad field is named, nothing is stored.
    let new = "/build/tmpl/templates/new";
    assert_eq!(builder.get(new).await.status, StatusCode::OK);
    let good = [
        ("name", "get-payment"),
        ("method", "GET"),
        ("url", "{{base_url}}/v1/payments/{{id}}"),
        (
            "headers",
            "Authorization: Bearer {{key}}\nAccept: application/json",
        ),
        ("body_kind", "none"),
        ("body", ""),
    ];
    for (field, value, says) in [
        ("name", "two words", "Name:"),
        ("name", "post", "exists in this project"),
        ("method", "BREW", "Method:"),
        ("url", " ", "URL:"),
        ("headers", "Accept: json\nno colon here", "Headers, line 2"),
        (
            "headers",
            &format!("Authorization: Bearer {pasted}"),
            "looks like a credential",
        ),
        ("body_kind", "json", "Body, line 1 column"),
    ] {
        let mut form = good.to_vec();
        for pair in form.iter_mut() {
            if pair.0 == field {
                pair.1 = value;
            }
        }
        if field == "body_kind" {
            form.push(("body", "{\"amount\": }"));
            form.retain(|p| p != &("body", ""));
        }
        let refused = builder.post(new, &form).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{field}: {}",
            refused.body
        );
        assert!(refused.body.contains(says), "{field}: {}", refused.body);
        assert!(
            !refused.body.contains(pasted),
            "the pasted key is shown again"
        );
    }
    assert!(files().await.get("templates/get-payment.yaml").is_none());
    let saved = builder.post(new, &good).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(saved.body.contains("id=\"saved\""), "{}", saved.body);
    let written = files().await["templates/get-payment.yaml"]
        .as_str()
        .expect("written")
        .to_string();
    assert_eq!(
        written,
        "method: GET\nurl: '{{base_url}}/v1/payments/{{id}}'\nheaders:\n  Authorization: Bearer {{key}}\n  Accept: application/json\n"
    );
    // A JSON body becomes the template's `json:`.
    let mut with_body = good.to_vec();
    with_body[0] = ("name", "refund");
    with_body[1] = ("method", "POST");
    with_body[4] = ("body_kind", "json");
    with_body[5] = (
        "body",
        "{\"amount\": \"{{amount}}\", \"reason\": \"duplicate\"}",
    );
    let saved = builder.post(new, &with_body).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(
        files().await["templates/refund.yaml"]
            .as_str()
            .is_some_and(|t| t.contains("json:\n  amount: '{{amount}}'\n  reason: duplicate\n"))
    );

    // An existing template's values, in place: the diff, then the save.
    let path = "/build/tmpl/templates/post";
    let page = builder.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let marker = "name=\"base\" value=\"";
    let at = page.body.find(marker).expect("base") + marker.len();
    let base = page.body[at..].split('"').next().unwrap_or("").to_string();
    let url = [
        ("base", base.as_str()),
        ("f:url", "{{base_url}}/v2/payments"),
    ];
    let preview = builder.post(path, &url).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("Save these changes"),
        "{}",
        preview.body
    );
    // Renaming a placeholder the journey fills breaks it: refused, not stored.
    let broken = [
        ("base", base.as_str()),
        ("f:headers/Authorization", "Bearer {{token}}"),
        ("confirm", "yes"),
    ];
    let refused = builder.post(path, &broken).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("token"), "{}", refused.body);
    assert_eq!(files().await["templates/post.yaml"], post.as_str());
    // A pasted key is refused and not shown again.
    let pasting = [("base", base.as_str()), ("f:json/currency", pasted)];
    let refused = builder.post(path, &pasting).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(!refused.body.contains(pasted));
    let mut confirm = url.to_vec();
    confirm.push(("confirm", "yes"));
    let saved = builder.post(path, &confirm).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(saved.body.contains("Saved."), "{}", saved.body);
    assert_eq!(
        files().await["templates/post.yaml"],
        post.replace(
            "\"{{base_url}}/v1/payments\"",
            "\"{{base_url}}/v2/payments\""
        ),
        "only that value changed; the comments stay"
    );
    // The same base again: the file changed underneath.
    assert_eq!(
        builder.post(path, &confirm).await.status,
        StatusCode::CONFLICT
    );
    // Another role may not; a template that is not there is 404.
    let mut viewer = Browser::new(&h);
    viewer.login(&h.tokens[&Role::Viewer]).await;
    assert_eq!(viewer.get(path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        builder.get("/build/tmpl/templates/nothing").await.status,
        StatusCode::NOT_FOUND
    );
    for body in h.seen.lock().expect("seen").iter() {
        assert!(
            !body.contains(key) && !body.contains(pasted),
            "a page holds a key"
        );
    }
}
