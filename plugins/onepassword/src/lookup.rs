//! From a parsed reference to a secret: vault, then item, then field, with the
//! answers kept for the rest of the run.
//!
//! The plugin instance lives for the whole run and `resolve` is called once per
//! distinct reference, so a journey naming ten fields of one item must not cost
//! ten item fetches. Only successes are cached: a 5xx or a timeout may pass.

use std::collections::HashMap;
use std::rc::Rc;

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::http::{Failure, Response, Transport};

use crate::Error;
use crate::connect::{self, Subject, interpret};
use crate::item::{self, File, FileAttribute, Item, ItemSummary, Target, Vault};
use crate::otp;
use crate::reference::{Attribute, Reference, looks_like_id, parse};
use crate::settings::{Connection, Origin, Settings};

/// A configured provider and what it has learned so far in this run.
pub struct Provider {
    settings: Settings,
    connection: Option<Connection>,
    /// Vault segment (lowercased) → vault ID.
    vaults: HashMap<String, String>,
    /// (vault ID, item segment lowercased) → the full item.
    items: HashMap<(String, String), Rc<Item>>,
    /// Seconds since the Unix epoch, for one-time passwords.
    clock: fn() -> u64,
}

impl Provider {
    /// A provider that has not talked to any server yet.
    pub fn new(settings: Settings) -> Provider {
        Provider {
            settings,
            connection: None,
            vaults: HashMap::new(),
            items: HashMap::new(),
            clock: otp::now,
        }
    }

    /// The same provider reading the time from `clock`, for tests.
    #[cfg(test)]
    pub fn with_clock(self, clock: fn() -> u64) -> Provider {
        Provider { clock, ..self }
    }

    /// The bytes of the attribute `reference` (as written, `op://…`) points
    /// to.
    pub fn resolve(
        &mut self,
        reference: &str,
        transport: &mut impl Transport,
        env: impl env::Read,
    ) -> Result<Vec<u8>, Error> {
        let reference = &parse(reference)?;
        if self.connection.is_none() {
            // Not cached on failure: the next reference reports the same problem.
            self.connection = Some(self.settings.connection(env)?);
        }
        let item = self.item(reference, transport)?;
        match item::select(&item, reference)? {
            // From the item cached for the run: Connect's `totp` is the code
            // it sent with that item; without it, the code is computed for now.
            Target::Field(field) if reference.attribute == Attribute::Otp => {
                Ok(otp::code(field, reference, (self.clock)())?.into_bytes())
            }
            Target::Field(field) => Ok(item::attribute(field, reference)?.as_bytes().to_vec()),
            Target::File(file) => match item::file_attribute(file, reference)? {
                FileAttribute::Id(id) => Ok(id.as_bytes().to_vec()),
                FileAttribute::Content => self.file_content(&item, file, reference, transport),
            },
        }
    }

    /// The bytes of `file`, refused before it is fetched when Connect says it is larger
    /// than a secret may be, and refused again if what came is.
    fn file_content(
        &mut self,
        item: &Item,
        file: &File,
        reference: &Reference,
        transport: &mut impl Transport,
    ) -> Result<Vec<u8>, Error> {
        if let Some(size) = file.size {
            item::check_size(reference, size)?;
        }
        let vault_id = self.vault_id(&reference.vault, transport)?;
        let (vault, segment) = (reference.vault.as_str(), reference.item.as_str());
        let subject = Subject::File {
            vault,
            item: segment,
            file: &reference.field,
        };
        let path = connect::file_content(&vault_id, &item.id, &file.id);
        let (origin, outcome) = self.send(&path, connect::BYTES, transport)?;
        let content = connect::body(origin, subject, outcome)?
            .ok_or_else(|| Error::NotFound(format!("{subject} not found")))?;
        item::check_size(reference, content.len() as u64)?;
        Ok(content)
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
        // As for vaults: Connect's title filter is case-sensitive. Archived
        // items are listed too, but `op` finds none by name, nor do we.
        let named = |i: &ItemSummary| item::same_name(&i.title, segment);
        if !listed.iter().any(|i| i.active() && named(i)) {
            listed = self
                .get(&connect::items(vault_id), subject, transport)?
                .ok_or_else(not_found)?;
        }
        let archived = listed.iter().any(|i| !i.active() && named(i));
        let mut titled = listed.into_iter().filter(|i| i.active() && named(i));
        let id = match (titled.next(), titled.next()) {
            (Some(summary), None) => summary.id,
            (None, _) if archived => {
                return Err(Error::NotFound(format!(
                    "item {segment:?} in vault {vault:?} is archived; an archived item is \
                     found by its ID only"
                )));
            }
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
        let (origin, outcome) = self.send(path, connect::JSON, transport)?;
        interpret(origin, subject, outcome)
    }

    /// One GET of `path` on the server, and the server's origin for messages.
    /// Apart from [`Provider::get`] so that it is built once, not once per
    /// JSON type.
    fn send(
        &self,
        path: &str,
        accept: &str,
        transport: &mut impl Transport,
    ) -> Result<(&Origin, Result<Response, Failure>), Error> {
        let connection = self
            .connection
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the 1Password provider has no connection".into()))?;
        let request = connect::get(connection.origin.url(path), &connection.token, accept);
        Ok((&connection.origin, transport.send(request, connect::LIMITS)))
    }
}

#[cfg(test)]
mod tests;
