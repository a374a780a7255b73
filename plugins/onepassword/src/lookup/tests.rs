//! Lookups against a scripted Connect server: what is fetched, what is
//! cached for the run, and what each failure says.

use super::*;
use reqflo_plugin_sdk::Config;
use reqflo_plugin_sdk::http::Scripted;
use reqflo_plugin_sdk::testing::{accepted, refused};

const VAULT_ID: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvv";
const ITEM_ID: &str = "iiiiiiiiiiiiiiiiiiiiiiiiii";
const PROD_BY_NAME: &str = "/v1/vaults?filter=name%20eq%20%22Prod%22";

/// The URL of `path` on the Connect server the tests talk to.
fn url(path: &str) -> String {
    format!("http://connect:8080{path}")
}

/// A route: what the Connect server answers a path with (200).
type Route = (String, String);

/// [`Route`] of `path` to `body`.
fn route(path: impl Into<String>, body: impl Into<String>) -> Route {
    (path.into(), body.into())
}

/// A Connect server answering `routes` and, as for an ID that names
/// nothing, 404 to anything else.
fn connect(routes: impl IntoIterator<Item = Route>) -> Scripted {
    let mut server = Scripted::new().otherwise(Ok(Response::new(404, "")));
    for (path, body) in routes {
        server.add(url(&path), Ok(Response::new(200, body)));
    }
    server
}

/// How many times `path` was asked.
fn count(server: &Scripted, path: &str) -> usize {
    let url = url(path);
    server.urls().iter().filter(|asked| **asked == url).count()
}

fn item_json() -> String {
    let fields: Vec<String> = (0..10)
        .map(|n| format!(r#"{{"id": "f{n}", "label": "key {n}", "value": "value {n}"}}"#))
        .collect();
    format!(
        r#"{{"id": "{ITEM_ID}", "title": "Stripe", "fields": [{}]}}"#,
        fields.join(",")
    )
}

/// The item with its fields, by ID.
fn item_route() -> Route {
    route(
        format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}"),
        item_json(),
    )
}

/// Vault "Prod" and its item "Stripe", found by name.
fn prod() -> [Route; 3] {
    [
        route(
            PROD_BY_NAME,
            format!(r#"[{{"id": "{VAULT_ID}", "name": "prod"}}]"#),
        ),
        route(
            format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22Stripe%22"),
            format!(r#"[{{"id": "{ITEM_ID}", "title": "STRIPE"}}]"#),
        ),
        item_route(),
    ]
}

/// A reference to a field of the item [`prod`] serves.
const KEY_1: &str = "op://Prod/Stripe/key 1";

/// A server of [`prod`] and `more`.
fn by_name(more: impl IntoIterator<Item = Route>) -> Scripted {
    connect(prod().into_iter().chain(more))
}

/// [`prod`], but `path` gives `answers` in turn instead (a script
/// answers a URL in the order its answers were added).
fn by_name_but(path: &str, answers: Vec<Result<Response, Failure>>) -> Scripted {
    let mut server = connect(prod().into_iter().filter(|(route, _)| route != path));
    for answer in answers {
        server.add(url(path), answer);
    }
    server
}

fn provider() -> Provider {
    provider_of(&[("host", "http://connect:8080")])
}

fn provider_of(config: &[(&str, &str)]) -> Provider {
    Provider::new(accepted(Settings::from_config(Config::of(config))))
}

fn resolve(
    provider: &mut Provider,
    server: &mut Scripted,
    reference: &str,
) -> Result<String, Error> {
    let env = env::fake(&[("OP_CONNECT_TOKEN", "the-token")]);
    let bytes = provider.resolve(reference, server, env)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn ten_fields_of_one_item_cost_one_item_fetch() {
    let mut provider = provider();
    let mut fake = by_name([]);
    for n in 0..10 {
        let reference = format!("op://Prod/Stripe/key {n}");
        assert_eq!(
            resolve(&mut provider, &mut fake, &reference),
            Ok(format!("value {n}"))
        );
    }
    // Names are case-insensitive, so these hit the cache too.
    assert_eq!(
        resolve(&mut provider, &mut fake, "op://PROD/stripe/f3"),
        Ok("value 3".into())
    );
    assert_eq!(fake.urls().len(), 3, "{:?}", fake.urls());
    assert_eq!(
        count(&fake, &format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}")),
        1
    );
    let tokens = fake.header_values("authorization");
    assert!(tokens.iter().all(|t| *t == Some("Bearer the-token")));
}

#[test]
fn every_request_asks_for_json_and_skips_error_bodies() {
    let mut provider = provider();
    let mut fake = by_name([]);
    assert!(resolve(&mut provider, &mut fake, KEY_1).is_ok());
    let accept = fake.header_values("accept");
    assert!(accept.iter().all(|a| *a == Some("application/json")));
    assert!(fake.limits().iter().all(|l| *l == connect::LIMITS));
    assert_eq!(
        connect::LIMITS,
        reqflo_plugin_sdk::http::Limits {
            max_body_bytes: 8 * 1024 * 1024,
            error_body: reqflo_plugin_sdk::http::ErrorBody::Skip,
        }
    );
}

#[test]
fn names_in_another_case_are_found_by_listing_as_connect_filters_by_case() {
    // A real Connect: the filters match names as written only.
    let mut provider = provider();
    let mut fake = connect([
        route("/v1/vaults?filter=name%20eq%20%22PROD%22", "[]"),
        route(
            "/v1/vaults",
            format!(r#"[{{"id": "v0", "name": "Dev"}}, {{"id": "{VAULT_ID}", "name": "Prod"}}]"#),
        ),
        route(
            format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22stripe%22"),
            "[]",
        ),
        route(
            format!("/v1/vaults/{VAULT_ID}/items"),
            format!(r#"[{{"id": "{ITEM_ID}", "title": "Stripe"}}]"#),
        ),
        item_route(),
    ]);
    assert_eq!(
        resolve(&mut provider, &mut fake, "op://PROD/stripe/key 4"),
        Ok("value 4".into())
    );
    // A name that is in no case is still not found.
    let nothing = resolve(&mut provider, &mut fake, "op://PROD/nothing/key 4");
    refused(nothing, "not-found");
}

#[test]
fn ids_are_fetched_directly() {
    let mut provider = provider();
    let mut fake = connect([
        route(
            format!("/v1/vaults/{VAULT_ID}"),
            format!(r#"{{"id": "{VAULT_ID}", "name": "Prod"}}"#),
        ),
        item_route(),
    ]);
    let reference = format!("op://{VAULT_ID}/{ITEM_ID}/key 1");
    assert_eq!(
        resolve(&mut provider, &mut fake, &reference),
        Ok("value 1".into())
    );
    assert_eq!(fake.urls().len(), 2);
}

#[test]
fn an_id_shaped_name_falls_back_to_the_name_filter() {
    let name = "abcdefghijklmnopqrstuvwxyz";
    let mut provider = provider();
    let mut fake = by_name([route(
        format!("/v1/vaults?filter=name%20eq%20%22{name}%22"),
        format!(r#"[{{"id": "{VAULT_ID}", "name": "{name}"}}]"#),
    )]);
    let reference = format!("op://{name}/Stripe/key 2");
    assert_eq!(
        resolve(&mut provider, &mut fake, &reference),
        Ok("value 2".into())
    );
    assert_eq!(count(&fake, &format!("/v1/vaults/{name}")), 1);
}

#[test]
fn missing_and_ambiguous_vaults_and_items() {
    // What the server answers besides [`prod`], the reference, and how it
    // is refused.
    let cases = [
        (
            route("/v1/vaults?filter=name%20eq%20%22Dev%22", "[]"),
            "op://Dev/Stripe/key 1",
            "not-found",
            "vault \"Dev\" not found (or not shared with this Connect token)",
        ),
        (
            route(
                "/v1/vaults?filter=name%20eq%20%22Twin%22",
                r#"[{"id": "a", "name": "Twin"}, {"id": "b", "name": "twin"}]"#,
            ),
            "op://Twin/Stripe/key 1",
            "invalid-reference",
            "several vaults are named \"Twin\"; use the vault's ID",
        ),
        (
            route(
                format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22Gone%22"),
                "[]",
            ),
            "op://Prod/Gone/key 1",
            "not-found",
            "item \"Gone\" not found in vault \"Prod\"",
        ),
    ];
    for (answer, reference, kind, message) in cases {
        let refusal = resolve(&mut provider(), &mut by_name([answer]), reference);
        assert_eq!(refused(refusal, kind), message, "{reference}");
    }
}

#[test]
fn failures_are_not_cached() {
    let mut provider = provider();
    // The vault lookup fails twice, differently, then a healthy server
    // answers.
    let mut fake = by_name_but(
        PROD_BY_NAME,
        vec![Ok(Response::new(503, "")), Err(Failure::Timeout)],
    );
    let first = refused(resolve(&mut provider, &mut fake, KEY_1), "unavailable");
    assert!(
        first.contains("answered 503 while looking up vault"),
        "{first}"
    );
    let second = refused(resolve(&mut provider, &mut fake, KEY_1), "unavailable");
    assert!(
        second.ends_with("did not answer in time while looking up vault \"Prod\""),
        "{second}"
    );
    let healthy = resolve(&mut provider, &mut by_name([]), KEY_1);
    assert_eq!(healthy, Ok("value 1".into()));
}

#[test]
fn item_errors_name_the_item() {
    let mut provider = provider();
    let items = format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22Stripe%22");
    let mut fake = by_name_but(&items, vec![Ok(Response::new(403, ""))]);
    assert_eq!(
        refused(resolve(&mut provider, &mut fake, KEY_1), "denied"),
        "the Connect token may not read item \"Stripe\" in vault \"Prod\" (403)"
    );
}

#[test]
fn a_missing_token_fails_at_resolve() {
    let mut provider = provider_of(&[("token_env", "NOPE")]);
    let mut fake = by_name([]);
    let e = refused(resolve(&mut provider, &mut fake, KEY_1), "unavailable");
    assert!(e.starts_with("OP_CONNECT_HOST"), "{e}");
    assert!(fake.urls().is_empty());
}

/// [`prod`], its item holding a field `password` and the files `files`
/// (JSON), each file's content route answering what is paired with it.
fn with_files(files: &str, contents: &[(&str, Response)]) -> Scripted {
    let [vault, items, _] = prod();
    let item = format!(
        r#"{{"id": "{ITEM_ID}", "title": "Stripe", "files": {files},
            "fields": [{{"id": "password", "label": "password", "value": "pw"}}]}}"#
    );
    let path = format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}");
    let mut server = connect([vault, items, route(path, item)]);
    for (file, answer) in contents {
        server.add(url(&content(file)), Ok(answer.clone()));
    }
    server
}

/// The content route of file `id` of the item [`with_files`] serves.
fn content(id: &str) -> String {
    format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}/files/{id}/content")
}

#[test]
fn a_file_is_read_by_name_from_its_content_route() {
    let files = r#"[
        {"id": "keyfile", "name": "key.pem", "size": 7, "content_path": "/elsewhere"},
        {"id": "other", "name": "cert.pem", "size": 4}
    ]"#;
    let mut fake = with_files(files, &[("keyfile", Response::new(200, "-----k\n"))]);
    let mut provider = provider();
    assert_eq!(
        resolve(&mut provider, &mut fake, "op://Prod/Stripe/key.pem"),
        Ok("-----k\n".into())
    );
    let asked = fake.urls();
    assert_eq!(
        asked.last(),
        Some(&url(&content("keyfile")).as_str()),
        "{asked:?}"
    );
    assert_eq!(asked.len(), 4, "{asked:?}");
    // Only the content asks for bytes; every lookup before it for JSON.
    let accept = fake.header_values("accept");
    assert_eq!(accept.last(), Some(&Some("application/octet-stream")));
    assert!(accept[..3].iter().all(|a| *a == Some("application/json")));
    // Its ID needs no content; a field by that name would win.
    assert_eq!(
        resolve(
            &mut provider,
            &mut fake,
            "op://Prod/Stripe/key.pem?attribute=id"
        ),
        Ok("keyfile".into())
    );
    assert_eq!(
        resolve(&mut provider, &mut fake, "op://Prod/Stripe/password"),
        Ok("pw".into())
    );
    assert_eq!(fake.urls().len(), 4);
    let label = "op://Prod/Stripe/key.pem?attribute=label";
    let refusal = refused(
        resolve(&mut provider, &mut fake, label),
        "invalid-reference",
    );
    assert!(
        refusal.contains("is a file, which has no label"),
        "{refusal}"
    );
}

#[test]
fn a_file_over_64_kib_is_refused_by_name_and_size_never_content() {
    let big = "s3cr3t".repeat(11_000);
    let files = r#"[
        {"id": "huge", "name": "huge.bin", "size": 70000},
        {"id": "liar", "name": "liar.bin", "size": 10}
    ]"#;
    let mut fake = with_files(files, &[("liar", Response::new(200, big.as_str()))]);
    let mut provider = provider();
    let huge = refused(
        resolve(&mut provider, &mut fake, "op://Prod/Stripe/huge.bin"),
        "invalid-reference",
    );
    assert_eq!(
        huge,
        "file \"huge.bin\" of item \"Stripe\" is 70000 bytes; a secret may hold at most 64 KiB"
    );
    assert_eq!(count(&fake, &content("huge")), 0);
    // A size that understates what comes is caught on what came.
    let liar = refused(
        resolve(&mut provider, &mut fake, "op://Prod/Stripe/liar.bin"),
        "invalid-reference",
    );
    assert!(liar.contains("is 66000 bytes;"), "{liar}");
    assert!(!liar.contains("s3cr3t"));
}

#[test]
fn a_missing_or_failing_file_names_the_file() {
    let files = r#"[{"id": "gone", "name": "gone.txt"}, {"id": "down", "name": "down.txt"}]"#;
    let mut fake = with_files(files, &[("down", Response::new(503, "secret"))]);
    let mut provider = provider();
    assert_eq!(
        refused(
            resolve(&mut provider, &mut fake, "op://Prod/Stripe/gone.txt"),
            "not-found"
        ),
        "file \"gone.txt\" of item \"Stripe\" in vault \"Prod\" not found"
    );
    assert_eq!(
        refused(
            resolve(&mut provider, &mut fake, "op://Prod/Stripe/down.txt"),
            "unavailable"
        ),
        "1Password Connect at http://connect:8080 answered 503 while looking up \
         file \"down.txt\" of item \"Stripe\" in vault \"Prod\""
    );
}

#[test]
fn archived_items_are_found_by_id_only() {
    let archived = format!(r#"[{{"id": "{ITEM_ID}", "title": "Stripe", "state": "ARCHIVED"}}]"#);
    let titled = format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22Stripe%22");
    let mut fake = connect([
        prod()[0].clone(),
        route(&titled, archived.as_str()),
        route(format!("/v1/vaults/{VAULT_ID}/items"), archived.as_str()),
        item_route(),
        route(
            format!("/v1/vaults/{VAULT_ID}"),
            format!(r#"{{"id": "{VAULT_ID}", "name": "Prod"}}"#),
        ),
    ]);
    let mut op = provider();
    assert_eq!(
        refused(resolve(&mut op, &mut fake, KEY_1), "not-found"),
        "item \"Stripe\" in vault \"Prod\" is archived; an archived item is found by its ID only"
    );
    assert_eq!(
        count(&fake, &format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}")),
        0
    );
    let by_id = format!("op://Prod/{ITEM_ID}/key 1");
    assert_eq!(resolve(&mut op, &mut fake, &by_id), Ok("value 1".into()));
    // An active item of that title beside an archived one is the one found.
    let both = format!(
        r#"[{{"id": "old", "title": "Stripe", "state": "ARCHIVED"}},
            {{"id": "{ITEM_ID}", "title": "Stripe"}}]"#
    );
    let mut fake = by_name_but(&titled, vec![Ok(Response::new(200, both))]);
    assert_eq!(
        resolve(&mut provider(), &mut fake, KEY_1),
        Ok("value 1".into())
    );
}
