//! From a parsed reference to a secret: vault, then item, then field, with the
//! answers kept for the rest of the run.
//!
//! The plugin instance lives for the whole run and `resolve` is called once per
//! distinct reference, so a journey naming ten fields of one item must not cost
//! ten item fetches. Only successes are cached: a 5xx or a timeout may pass.

use std::collections::HashMap;
use std::env::VarError;
use std::rc::Rc;

use crate::Error;
use crate::connect::{self, Subject, Transport, interpret};
use crate::item::{self, Item, ItemSummary, Vault};
use crate::reference::{Reference, looks_like_id};
use crate::settings::{Connection, Settings};

/// A configured provider and what it has learned so far in this run.
pub struct Provider {
    settings: Settings,
    connection: Option<Connection>,
    /// Vault segment (lowercased) → vault ID.
    vaults: HashMap<String, String>,
    /// (vault ID, item segment lowercased) → the full item.
    items: HashMap<(String, String), Rc<Item>>,
}

impl Provider {
    /// A provider that has not talked to any server yet.
    pub fn new(settings: Settings) -> Provider {
        Provider {
            settings,
            connection: None,
            vaults: HashMap::new(),
            items: HashMap::new(),
        }
    }

    /// The bytes of the attribute `reference` points to.
    pub fn resolve(
        &mut self,
        reference: &Reference,
        transport: &mut impl Transport,
        env: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<Vec<u8>, Error> {
        if self.connection.is_none() {
            // Not cached on failure: the next reference reports the same problem.
            self.connection = Some(self.settings.connection(env)?);
        }
        let item = self.item(reference, transport)?;
        let field = item::select(&item, reference)?;
        Ok(item::attribute(field, reference)?.as_bytes().to_vec())
    }

    fn item(
        &mut self,
        reference: &Reference,
        transport: &mut impl Transport,
    ) -> Result<Rc<Item>, Error> {
        let vault_id = self.vault_id(&reference.vault, transport)?;
        let key = (vault_id, reference.item.to_lowercase());
        if let Some(item) = self.items.get(&key) {
            return Ok(Rc::clone(item));
        }
        let item = Rc::new(self.fetch_item(&key.0, reference, transport)?);
        self.items.insert(key, Rc::clone(&item));
        Ok(item)
    }

    fn vault_id(&mut self, segment: &str, transport: &mut impl Transport) -> Result<String, Error> {
        let key = segment.to_lowercase();
        if let Some(id) = self.vaults.get(&key) {
            return Ok(id.clone());
        }
        let subject = Subject::Vault(segment);
        if looks_like_id(segment) {
            let by_id: Option<Vault> = self.get(&connect::vault(segment), subject, transport)?;
            if let Some(vault) = by_id {
                self.vaults.insert(key, vault.id.clone());
                return Ok(vault.id);
            }
        }
        let mut listed: Vec<Vault> = self
            .get(&connect::vaults_named(segment), subject, transport)?
            .unwrap_or_default();
        // Connect's filter matches names case-sensitively (op does not, and
        // neither do we): with no match as written, every vault is listed
        // and compared without case.
        if !listed.iter().any(|v| item::same_name(&v.name, segment)) {
            listed = self
                .get(&connect::vaults(), subject, transport)?
                .unwrap_or_default();
        }
        let mut named = listed
            .into_iter()
            .filter(|v| item::same_name(&v.name, segment));
        let id = match (named.next(), named.next()) {
            (Some(vault), None) => vault.id,
            (None, _) => {
                return Err(Error::NotFound(format!(
                    "vault {segment:?} not found (or not shared with this Connect token)"
                )));
            }
            (Some(_), Some(_)) => {
                return Err(Error::InvalidReference(format!(
                    "several vaults are named {segment:?}; use the vault's ID"
                )));
            }
        };
        self.vaults.insert(key, id.clone());
        Ok(id)
    }

    fn fetch_item(
        &self,
        vault_id: &str,
        reference: &Reference,
        transport: &mut impl Transport,
    ) -> Result<Item, Error> {
        let (vault, segment) = (reference.vault.as_str(), reference.item.as_str());
        let subject = Subject::Item {
            vault,
            item: segment,
        };
        let not_found =
            || Error::NotFound(format!("item {segment:?} not found in vault {vault:?}"));
        if looks_like_id(segment)
            && let Some(item) = self.get(&connect::item(vault_id, segment), subject, transport)?
        {
            return Ok(item);
        }
        let listed: Option<Vec<ItemSummary>> = self.get(
            &connect::items_titled(vault_id, segment),
            subject,
            transport,
        )?;
        // A 404 here means the vault went away since it was found; say so as
        // the item not being there, which is what the user can check.
        let mut listed = listed.ok_or_else(not_found)?;
        // As for vaults: Connect's title filter is case-sensitive.
        if !listed.iter().any(|i| item::same_name(&i.title, segment)) {
            listed = self
                .get(&connect::items(vault_id), subject, transport)?
                .ok_or_else(not_found)?;
        }
        let mut titled = listed
            .into_iter()
            .filter(|i| item::same_name(&i.title, segment));
        let id = match (titled.next(), titled.next()) {
            (Some(summary), None) => summary.id,
            (None, _) => return Err(not_found()),
            (Some(_), Some(_)) => {
                return Err(Error::InvalidReference(format!(
                    "several items are titled {segment:?} in vault {vault:?}; use the item's ID"
                )));
            }
        };
        self.get(&connect::item(vault_id, &id), subject, transport)?
            .ok_or_else(not_found)
    }

    /// One GET, interpreted; `None` is a 404.
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        subject: Subject<'_>,
        transport: &mut impl Transport,
    ) -> Result<Option<T>, Error> {
        let connection = self
            .connection
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the 1Password provider has no connection".into()))?;
        let outcome = transport.get(&connection.origin.url(path), &connection.token);
        interpret(&connection.origin, subject, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{Answer, Failure};
    use crate::reference::parse;
    use crate::tests::kind_and_message;

    const VAULT_ID: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvv";
    const ITEM_ID: &str = "iiiiiiiiiiiiiiiiiiiiiiiiii";

    /// A Connect server made of canned answers, counting what was asked.
    #[derive(Default)]
    struct Fake {
        routes: HashMap<String, Result<(u16, String), Failure>>,
        asked: Vec<String>,
        tokens: Vec<String>,
    }

    impl Fake {
        fn route(mut self, path: &str, status: u16, body: &str) -> Fake {
            let url = format!("http://connect:8080{path}");
            self.routes.insert(url, Ok((status, body.to_string())));
            self
        }

        fn fail(mut self, path: &str, failure: Failure) -> Fake {
            self.routes
                .insert(format!("http://connect:8080{path}"), Err(failure));
            self
        }

        fn count(&self, path: &str) -> usize {
            let url = format!("http://connect:8080{path}");
            self.asked.iter().filter(|asked| **asked == url).count()
        }
    }

    impl Transport for Fake {
        fn get(&mut self, url: &str, token: &str) -> Result<Answer, Failure> {
            self.asked.push(url.to_string());
            self.tokens.push(token.to_string());
            match self.routes.get(url) {
                Some(Ok((status, body))) => Ok(Answer {
                    status: *status,
                    location: None,
                    body: body.clone().into_bytes(),
                }),
                Some(Err(failure)) => Err(failure.clone()),
                None => Ok(Answer {
                    status: 404,
                    location: None,
                    body: Vec::new(),
                }),
            }
        }
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

    fn by_name() -> Fake {
        Fake::default()
            .route(
                "/v1/vaults?filter=name%20eq%20%22Prod%22",
                200,
                &format!(r#"[{{"id": "{VAULT_ID}", "name": "prod"}}]"#),
            )
            .route(
                &format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22Stripe%22"),
                200,
                &format!(r#"[{{"id": "{ITEM_ID}", "title": "STRIPE"}}]"#),
            )
            .route(
                &format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}"),
                200,
                &item_json(),
            )
    }

    fn provider() -> Provider {
        match Settings::from_config(vec![("host".into(), "http://connect:8080".into())]) {
            Ok(settings) => Provider::new(settings),
            Err(e) => panic!("{}", kind_and_message(&e).1),
        }
    }

    fn env(name: &str) -> Result<String, VarError> {
        match name {
            "OP_CONNECT_TOKEN" => Ok("the-token".into()),
            _ => Err(VarError::NotPresent),
        }
    }

    fn resolve(
        provider: &mut Provider,
        fake: &mut Fake,
        reference: &str,
    ) -> Result<String, (&'static str, String)> {
        let reference = parse(reference).map_err(|e| kind_and_message(&e))?;
        provider
            .resolve(&reference, fake, env)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|e| kind_and_message(&e))
    }

    #[test]
    fn ten_fields_of_one_item_cost_one_item_fetch() {
        let mut provider = provider();
        let mut fake = by_name();
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
        assert_eq!(fake.asked.len(), 3, "{:?}", fake.asked);
        assert_eq!(
            fake.count(&format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}")),
            1
        );
        assert!(fake.tokens.iter().all(|t| t == "the-token"));
    }

    #[test]
    fn names_in_another_case_are_found_by_listing_as_connect_filters_by_case() {
        // A real Connect: the filters match names as written only.
        let mut provider = provider();
        let mut fake = Fake::default()
            .route("/v1/vaults?filter=name%20eq%20%22PROD%22", 200, "[]")
            .route(
                "/v1/vaults",
                200,
                &format!(
                    r#"[{{"id": "v0", "name": "Dev"}}, {{"id": "{VAULT_ID}", "name": "Prod"}}]"#
                ),
            )
            .route(
                &format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22stripe%22"),
                200,
                "[]",
            )
            .route(
                &format!("/v1/vaults/{VAULT_ID}/items"),
                200,
                &format!(r#"[{{"id": "{ITEM_ID}", "title": "Stripe"}}]"#),
            )
            .route(
                &format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}"),
                200,
                &item_json(),
            );
        assert_eq!(
            resolve(&mut provider, &mut fake, "op://PROD/stripe/key 4"),
            Ok("value 4".into())
        );
        // A name that is in no case is still not found.
        assert_eq!(
            resolve(&mut provider, &mut fake, "op://PROD/nothing/key 4").map_err(|e| e.0),
            Err("not-found")
        );
    }

    #[test]
    fn ids_are_fetched_directly() {
        let mut provider = provider();
        let mut fake = Fake::default()
            .route(
                &format!("/v1/vaults/{VAULT_ID}"),
                200,
                &format!(r#"{{"id": "{VAULT_ID}", "name": "Prod"}}"#),
            )
            .route(
                &format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}"),
                200,
                &item_json(),
            );
        let reference = format!("op://{VAULT_ID}/{ITEM_ID}/key 1");
        assert_eq!(
            resolve(&mut provider, &mut fake, &reference),
            Ok("value 1".into())
        );
        assert_eq!(fake.asked.len(), 2);
    }

    #[test]
    fn an_id_shaped_name_falls_back_to_the_name_filter() {
        let name = "abcdefghijklmnopqrstuvwxyz";
        let mut provider = provider();
        let mut fake = by_name().route(
            &format!("/v1/vaults?filter=name%20eq%20%22{name}%22"),
            200,
            &format!(r#"[{{"id": "{VAULT_ID}", "name": "{name}"}}]"#),
        );
        let reference = format!("op://{name}/Stripe/key 2");
        assert_eq!(
            resolve(&mut provider, &mut fake, &reference),
            Ok("value 2".into())
        );
        assert_eq!(fake.count(&format!("/v1/vaults/{name}")), 1);
    }

    #[test]
    fn missing_and_ambiguous_vaults_and_items() {
        let mut provider = provider();
        let mut fake = by_name()
            .route("/v1/vaults?filter=name%20eq%20%22Dev%22", 200, "[]")
            .route(
                "/v1/vaults?filter=name%20eq%20%22Twin%22",
                200,
                r#"[{"id": "a", "name": "Twin"}, {"id": "b", "name": "twin"}]"#,
            )
            .route(
                &format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22Gone%22"),
                200,
                "[]",
            );
        assert_eq!(
            resolve(&mut provider, &mut fake, "op://Dev/Stripe/key 1"),
            Err((
                "not-found",
                "vault \"Dev\" not found (or not shared with this Connect token)".into()
            ))
        );
        assert_eq!(
            resolve(&mut provider, &mut fake, "op://Twin/Stripe/key 1"),
            Err((
                "invalid-reference",
                "several vaults are named \"Twin\"; use the vault's ID".into()
            ))
        );
        assert_eq!(
            resolve(&mut provider, &mut fake, "op://Prod/Gone/key 1"),
            Err((
                "not-found",
                "item \"Gone\" not found in vault \"Prod\"".into()
            ))
        );
    }

    #[test]
    fn failures_are_not_cached() {
        let mut provider = provider();
        let vaults = "/v1/vaults?filter=name%20eq%20%22Prod%22";
        let mut fake = by_name().route(vaults, 503, "");
        let first = resolve(&mut provider, &mut fake, "op://Prod/Stripe/key 1");
        assert!(first.is_err_and(|(_, m)| m.contains("answered 503 while looking up vault")));
        fake = fake.fail(vaults, Failure::Timeout);
        let second = resolve(&mut provider, &mut fake, "op://Prod/Stripe/key 1");
        assert!(second.is_err_and(|(_, m)| m.ends_with("did not answer in time")));
        let mut healthy = by_name();
        assert_eq!(
            resolve(&mut provider, &mut healthy, "op://Prod/Stripe/key 1"),
            Ok("value 1".into())
        );
    }

    #[test]
    fn item_errors_name_the_item() {
        let mut provider = provider();
        let items = format!("/v1/vaults/{VAULT_ID}/items?filter=title%20eq%20%22Stripe%22");
        let mut fake = by_name().route(&items, 403, "");
        assert_eq!(
            resolve(&mut provider, &mut fake, "op://Prod/Stripe/key 1"),
            Err((
                "denied",
                "the Connect token may not read item \"Stripe\" in vault \"Prod\" (403)".into()
            ))
        );
    }

    #[test]
    fn a_missing_token_fails_at_resolve() {
        let mut provider = match Settings::from_config(vec![("token_env".into(), "NOPE".into())]) {
            Ok(settings) => Provider::new(settings),
            Err(e) => panic!("{}", kind_and_message(&e).1),
        };
        let mut fake = by_name();
        let e = resolve(&mut provider, &mut fake, "op://Prod/Stripe/key 1");
        assert!(
            e.is_err_and(|(kind, m)| kind == "unavailable" && m.starts_with("OP_CONNECT_HOST"))
        );
        assert!(fake.asked.is_empty());
    }
}
