//! The secrets a plan uses: each use checked against the registry (which
//! journeys may use it, which provider resolves it, where it may go) while
//! planning, before any request.

use globset::Glob;

use super::SecretUse;
use super::build::Planner;
use crate::error::{Diagnostic, Error, Result};

impl Planner<'_> {
    /// Record a secret use, enforcing the registry's policy now, before any request.
    pub(super) fn secret(
        &mut self,
        path: &[&str],
        name: &str,
        provider: Option<String>,
    ) -> Result<usize> {
        // Positions are looked up only for an error: finding one makes the
        // file's position index, a second parse a valid file need not pay.
        let source = self.source;
        let spot = || source.value(&[path, &["name"]].concat());
        self.secret_at(&spot, name, provider, "")
    }

    /// [`Self::secret`] with the spot to blame given, and a note for messages
    /// (which hook the secret is granted to).
    pub(super) fn secret_at(
        &mut self,
        at: &dyn Fn() -> Option<crate::error::Spot>,
        name: &str,
        provider: Option<String>,
        note: &str,
    ) -> Result<usize> {
        let config = &self.project.config;
        let entry = config.secrets.get(name);
        if let Some(globs) = entry.and_then(|e| e.journeys.as_ref()) {
            let allowed = globs.iter().any(|g| {
                Glob::new(g)
                    .map(|g| g.compile_matcher().is_match(self.root))
                    .unwrap_or(false)
            });
            if !allowed {
                let within = match self.journey.name == self.root {
                    true => String::new(),
                    false => format!(" (in included journey `{}`)", self.journey.name),
                };
                return Err(Error::Policy(
                    Diagnostic::new(format!(
                        "journey `{}` may not use secret `{name}`{note}{within}",
                        self.root
                    ))
                    .at(at())
                    .hint(format!(
                        "reqflo.yaml allows `{name}` only for journeys matching: {}",
                        globs.join(", ")
                    )),
                ));
            }
        }
        let pinned = provider.or_else(|| entry.and_then(|e| e.provider.clone()));
        let chain = match pinned {
            Some(p) if self.providers.get(&p).is_none() => {
                return Err(Error::Config(
                    Diagnostic::new(format!(
                        "secret `{name}` names provider `{p}`, which is not defined"
                    ))
                    .at(at())
                    .hint(format!("providers: {}", self.providers.names().join(", "))),
                ));
            }
            Some(p) => vec![p],
            None => self.chain.clone(),
        };
        let reference = entry
            .and_then(|e| e.reference.clone())
            .unwrap_or_else(|| name.to_string());
        if let Some(index) = self
            .secrets
            .iter()
            .position(|s| s.name == name && s.chain == chain)
        {
            return Ok(index);
        }
        self.secrets.push(SecretUse {
            name: name.to_string(),
            chain,
            reference,
            binding: crate::secret::Binding {
                hosts: entry.and_then(|e| e.hosts.clone()),
                allow_http: entry.is_some_and(|e| e.allow_http),
            },
        });
        Ok(self.secrets.len() - 1)
    }
}
