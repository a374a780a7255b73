//! Resolving a plan's secrets through provider chains, once per run per
//! provider and reference, instantiating only the providers the run needs.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::host::PluginHost;
use super::net::NetPolicy;
use super::plugin::{
    CallError, CompiledPlugin, PluginInstance, ProviderFailure, Sandbox, SecretValue,
};
use super::{Builtin, PluginSource, PluginSpec, Providers};
use super::{HeldValues, MIN_SECRET_BYTES, SecretId, SecretStore};
use crate::Load as _;
use reqflo_core::error::{Error, Result, SecretError};
use reqflo_core::plan::SecretUse;
use reqflo_core::plugins::FileGrant;
use reqflo_core::project::Project;
use reqflo_core::redact::{Redactor, sanitize_plugin_text};

/// The outcome of resolving one secret, for `reqflo check --resolve`.
#[derive(Debug)]
pub struct Resolution {
    /// The secret's name.
    pub name: String,
    /// Which provider answered, or why none did.
    pub outcome: Result<String, Error>,
}

enum Slot {
    Running(PluginInstance),
    /// Failed to start or configure; every later use fails the same way.
    Broken(String),
}

/// Resolves secrets for one run. Plugins are compiled and started on first use.
pub struct Resolver<'a> {
    project: &'a Project,
    providers: &'a Providers,
    host: Option<PluginHost>,
    compiled: HashMap<String, CompiledPlugin>,
    instances: HashMap<String, Slot>,
    /// Per provider: the env references of this run (the env plugin's whole view).
    env_view: HashMap<String, BTreeSet<String>>,
    resolved: HashMap<(String, String), SecretId>,
    /// Per provider: its network authority, shared by its instances (and
    /// their HTTP client) across restarts.
    net: HashMap<String, Arc<NetPolicy>>,
    /// The run's redactor: learns each value before anything can print it.
    redactor: Arc<Redactor>,
    /// What the embedding host holds for this run (a server's managed secrets).
    held: Option<Arc<HeldValues>>,
}

/// What one provider said about one reference.
enum Answer {
    Found(SecretValue),
    NotFound(String),
}

impl<'a> Resolver<'a> {
    /// A resolver for `uses`, teaching `redactor` (the run's) every value it
    /// resolves; nothing starts until a secret is asked for.
    pub fn new(
        project: &'a Project,
        providers: &'a Providers,
        uses: &[SecretUse],
        redactor: Arc<Redactor>,
    ) -> Self {
        let mut env_view: HashMap<String, BTreeSet<String>> = HashMap::new();
        for secret in uses {
            for provider in &secret.chain {
                env_view
                    .entry(provider.clone())
                    .or_default()
                    .insert(secret.reference.clone());
            }
        }
        Resolver {
            project,
            providers,
            host: None,
            compiled: HashMap::new(),
            instances: HashMap::new(),
            env_view,
            resolved: HashMap::new(),
            net: HashMap::new(),
            redactor,
            held: None,
        }
    }

    /// Resolve [`PluginSource::Held`] providers from `held`.
    pub fn with_held(mut self, held: Option<Arc<HeldValues>>) -> Self {
        self.held = held;
        self
    }

    /// Resolve every use into `store`; the first failure stops the run.
    /// Returns each use's id, in order.
    pub async fn resolve_all(
        &mut self,
        uses: &[SecretUse],
        store: &mut SecretStore,
    ) -> Result<Vec<SecretId>> {
        let mut ids = Vec::with_capacity(uses.len());
        for secret in uses {
            let (_, id) = self.resolve(secret, store).await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Resolve each use independently and report, for `check --resolve`.
    pub async fn check_all(
        &mut self,
        uses: &[SecretUse],
        store: &mut SecretStore,
    ) -> Vec<Resolution> {
        let mut out = Vec::new();
        for secret in uses {
            let outcome = self
                .resolve(secret, store)
                .await
                .map(|(provider, _)| provider);
            out.push(Resolution {
                name: secret.name.clone(),
                outcome,
            });
        }
        out
    }

    /// Try the chain in order; "not found" moves on, anything else stops.
    async fn resolve(
        &mut self,
        secret: &SecretUse,
        store: &mut SecretStore,
    ) -> Result<(String, SecretId)> {
        let mut tried = Vec::new();
        for provider in &secret.chain {
            let key = (provider.clone(), secret.reference.clone());
            if let Some(id) = self.resolved.get(&key) {
                // Fetched once; but each use keeps its own name and host binding.
                if store.label(*id) == secret.name && *store.binding(*id) == secret.binding {
                    return Ok((provider.clone(), *id));
                }
                let copy = secrecy::SecretString::from(store.reveal(*id).to_string());
                self.redactor
                    .add(&secret.name, store.reveal(*id).as_bytes());
                let id = store.insert(&secret.name, copy, secret.binding.clone());
                return Ok((provider.clone(), id));
            }
            match self.ask(provider, secret).await? {
                Answer::Found(value) => {
                    use secrecy::ExposeSecret;
                    if value.0.expose_secret().len() < MIN_SECRET_BYTES {
                        return Err(Error::Secret(SecretError::TooShort {
                            name: secret.name.clone(),
                            provider: provider.clone(),
                            min: MIN_SECRET_BYTES,
                        }));
                    }
                    // The redactor learns the value before anything else can print:
                    // a later failure's message may carry it.
                    self.redactor
                        .add(&secret.name, value.0.expose_secret().as_bytes());
                    let id = store.insert(&secret.name, value.0, secret.binding.clone());
                    self.resolved.insert(key, id);
                    return Ok((provider.clone(), id));
                }
                Answer::NotFound(why) => tried.push(format!("{provider}: {why}")),
            }
        }
        Err(Error::Secret(SecretError::NotFound {
            name: secret.name.clone(),
            tried,
        }))
    }

    async fn ask(&mut self, provider: &str, secret: &SecretUse) -> Result<Answer> {
        let spec = self
            .providers
            .get(provider)
            .ok_or_else(|| Error::Secret(SecretError::NoProvider(provider.to_string())))?
            .clone();
        if matches!(spec.source, PluginSource::Held) {
            return Ok(
                match self.held.as_ref().and_then(|h| h.get(&secret.reference)) {
                    Some(value) => Answer::Found(SecretValue(value)),
                    None => Answer::NotFound(format!("no managed secret `{}`", secret.reference)),
                },
            );
        }
        // The default secret file may simply not exist: that is "not found", and
        // no sandbox needs to start to say so. A file the user configured must
        // exist: a typo in its path should not quietly fall through the chain.
        if let Some(path) = spec.secret_file(self.project)
            && !path.is_file()
        {
            if spec.uses_default_secret_file() {
                return Ok(Answer::NotFound(format!(
                    "no secret file at {}",
                    path.display()
                )));
            }
            return Err(Error::Secret(SecretError::SecretFile {
                provider: provider.to_string(),
                why: format!("its secret file {} does not exist", path.display()),
            }));
        }
        let fail = |why: String| {
            Error::plugin(format!(
                "provider `{provider}` ({}) failed to resolve `{}`: {why}",
                spec.plugin, secret.reference
            ))
        };
        if !self.instances.contains_key(provider) {
            let slot = self.start(&spec).await?;
            self.instances.insert(provider.to_string(), slot);
        }
        let instance = match self.instances.get_mut(provider) {
            Some(Slot::Running(instance)) => instance,
            Some(Slot::Broken(why)) => return Err(fail(why.clone())),
            None => return Err(fail("did not start".into())),
        };
        match instance.resolve(&secret.reference).await {
            Ok(value) => Ok(Answer::Found(value)),
            Err(CallError::Provider(ProviderFailure::NotFound(m))) => {
                Ok(Answer::NotFound(sanitize_plugin_text(&self.redactor, &m)))
            }
            Err(CallError::Provider(failure)) => {
                let (kind, m) = match failure {
                    ProviderFailure::Denied(m) => ("access denied", m),
                    ProviderFailure::InvalidReference(m) => ("invalid reference", m),
                    ProviderFailure::Unavailable(m) => ("unavailable", m),
                    ProviderFailure::NotFound(m) => ("not found", m),
                };
                Err(fail(format!(
                    "{kind}: {}",
                    sanitize_plugin_text(&self.redactor, &m)
                )))
            }
            Err(CallError::Fault(why)) => {
                // A faulted instance is discarded; the next use starts a fresh one.
                self.instances.remove(provider);
                Err(fail(sanitize_plugin_text(&self.redactor, &why)))
            }
        }
    }

    /// Compile, start and configure one provider's sandbox.
    async fn start(&mut self, spec: &PluginSpec) -> Result<Slot> {
        if !self.compiled.contains_key(&spec.name) {
            let (bytes, digest) = spec.load()?;
            if self.host.is_none() {
                self.host = Some(PluginHost::shared()?);
            }
            let host = self
                .host
                .as_ref()
                .ok_or_else(|| Error::plugin("no plugin host"))?;
            let label = format!("{} (provider `{}`)", spec.plugin, spec.name);
            let compiled = host.compile(&label, &bytes, &digest)?;
            self.compiled.insert(spec.name.clone(), compiled);
        }
        let Some(compiled) = self.compiled.get(&spec.name) else {
            return Ok(Slot::Broken("was not compiled".into()));
        };
        let mut sandbox = self.sandbox(spec)?;
        if !spec.hosts.is_empty() {
            let policy = self.net.entry(spec.name.clone()).or_insert_with(|| {
                // A request must end before the call does, so the plugin can
                // still say which server was slow.
                let budget = spec.timeout.mul_f64(0.75);
                Arc::new(NetPolicy::new(
                    spec.hosts.clone(),
                    spec.allow_http,
                    spec.ca_file.clone(),
                    budget,
                ))
            });
            sandbox.net = Some(policy.clone());
        }
        let mut instance = match PluginInstance::start(compiled, sandbox).await {
            Ok(instance) => instance,
            Err(why) => return Ok(Slot::Broken(format!("could not start: {why}"))),
        };
        match instance.configure(&spec.config).await {
            Ok(()) => Ok(Slot::Running(instance)),
            Err(CallError::Provider(f)) => {
                let m = match f {
                    ProviderFailure::NotFound(m)
                    | ProviderFailure::Denied(m)
                    | ProviderFailure::InvalidReference(m)
                    | ProviderFailure::Unavailable(m) => m,
                };
                Ok(Slot::Broken(format!(
                    "configuration refused: {}",
                    sanitize_plugin_text(&self.redactor, &m)
                )))
            }
            Err(CallError::Fault(why)) => Ok(Slot::Broken(format!(
                "configure {}",
                sanitize_plugin_text(&self.redactor, &why)
            ))),
        }
    }

    /// Exactly the authority this provider gets, and nothing else.
    fn sandbox(&self, spec: &PluginSpec) -> Result<Sandbox> {
        let mut sandbox = Sandbox {
            memory_bytes: spec.memory_bytes,
            timeout: spec.timeout,
            ..Sandbox::new(Arc::clone(&self.redactor))
        };
        let mut visible: BTreeSet<String> = spec.env.iter().cloned().collect();
        if matches!(spec.source, PluginSource::Builtin(Builtin::Env)) {
            visible.extend(self.env_view.get(&spec.name).into_iter().flatten().cloned());
        }
        for name in visible {
            // A host that holds values (a server) gives a plugin its granted
            // variables from them: the process's own environment is never
            // read. Otherwise, variables that are unset or not Unicode are
            // simply not visible.
            let value = match &self.held {
                Some(held) => held.get(&name).map(|v| {
                    use secrecy::ExposeSecret;
                    v.expose_secret().to_string()
                }),
                None => std::env::var(&name).ok(),
            };
            if let Some(value) = value {
                // A granted variable is most often the plugin's own credential
                // (OP_CONNECT_TOKEN, VAULT_TOKEN), a secret of the run even
                // though no journey names it: whatever the plugin says is
                // redacted of it. (The env provider's own view holds the run's
                // secrets, which are learnt under their names as they resolve.)
                // A bare server address (OP_CONNECT_HOST, VAULT_ADDR) is where
                // the plugin goes, not a credential, and errors must name it.
                // Nor is a variable that `grants.files` reads a path from
                // (`$AWS_WEB_IDENTITY_TOKEN_FILE`): the file's text is the
                // credential, and it is learnt below.
                let names_a_file = spec
                    .files
                    .iter()
                    .any(|grant| matches!(grant, FileGrant::Variable(v) if *v == name));
                if spec.env.contains(&name) && !is_bare_address(&value) && !names_a_file {
                    self.redactor.add(&format!("${name}"), value.as_bytes());
                }
                sandbox.env.push((name, value));
            }
        }
        for grant in &spec.files {
            let path = grant.path(&|name| match &self.held {
                Some(held) => held.get(name).map(|v| {
                    use secrecy::ExposeSecret;
                    v.expose_secret().to_string()
                }),
                None => std::env::var(name).ok(),
            });
            // Like an unset variable, a file that is not there is simply not
            // visible: the provider says what it looked for.
            let Some(bytes) = path.as_ref().and_then(|p| read_granted(p)) else {
                continue;
            };
            // A granted file is a credential, or holds some (a token, a key
            // file, a credentials file): what the plugin says is redacted of
            // it and of each secret in it.
            let label = format!(
                "file {}",
                path.as_deref().unwrap_or(Path::new("")).display()
            );
            self.redactor.add_file(&label, &bytes);
            if let Some(path) = path {
                sandbox.files.push((path, bytes));
            }
        }
        if let Some(path) = spec.secret_file(self.project) {
            let file = std::fs::File::open(&path).map_err(|e| {
                Error::Secret(SecretError::SecretFile {
                    provider: spec.name.clone(),
                    why: format!(
                        "cannot open its secret file {}: {}",
                        path.display(),
                        reqflo_core::source::io_reason(&e)
                    ),
                })
            })?;
            sandbox.stdin = Some(file);
        }
        Ok(sandbox)
    }
}

/// The bytes of a granted file, if it is a file of at most 1 MiB (a token or
/// a key file is far smaller; a bigger one is not what was meant).
fn read_granted(path: &Path) -> Option<Vec<u8>> {
    const MAX_GRANTED_FILE: u64 = 1 << 20;
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_GRANTED_FILE {
        return None;
    }
    std::fs::read(path).ok()
}

/// Whether a granted variable's value is only a server address: an http(s)
/// origin with no user info and no path beyond `/`, so nowhere to carry a
/// credential (a path can: webhook URLs hold their token there).
pub fn is_bare_address(value: &str) -> bool {
    let Ok(uri) = value.parse::<http::Uri>() else {
        return false;
    };
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    let authority = uri.authority().map(|a| a.as_str());
    let path = uri.path_and_query().map_or("", |p| p.as_str());
    web && authority.is_some_and(|a| !a.contains('@'))
        && matches!(path, "" | "/")
        && !value.contains('#')
}

#[cfg(test)]
mod tests {
    use super::is_bare_address;

    #[test]
    fn only_a_plain_server_address_is_left_unredacted() {
        for plain in [
            "http://127.0.0.1:8080",
            "https://vault.example.com/",
            "https://[::1]:8200",
        ] {
            assert!(is_bare_address(plain), "{plain}");
        }
        for secret in [
            "s.abcdef123456",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
            "https://user:pw@host/",
            "https://host/?token=abc",
            "https://host/#abc",
            "https://hooks.example.com/services/T0/B0/XyZ",
            "ftp://host/",
            "host:8080",
            "",
        ] {
            assert!(!is_bare_address(secret), "{secret}");
        }
    }
}
