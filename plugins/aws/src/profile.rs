//! The shared config and credentials files and the profile in them, the
//! link of the AWS SDKs' chain after the environment's keys ("Shared config
//! and credentials files" in the AWS SDKs and Tools reference guide).
//!
//! `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name the files, else
//! `~/.aws/credentials` and `~/.aws/config` under `HOME`; `AWS_PROFILE`
//! names the profile, else `default`. Both files are merged, the
//! credentials file winning. The sandbox sees a file only when the
//! provider's `grants.files` lists it: a file a variable names but the
//! sandbox cannot read is an error saying what to grant; a default file
//! that is not there is simply no profile.
//!
//! A profile gives static keys, a web identity (`role_arn` +
//! `web_identity_token_file`) or a role assumed with another profile's
//! keys (`role_arn` + `source_profile`). `credential_process` (a program
//! to run, which a sandboxed plugin cannot start) and IAM Identity Center
//! (`sso_*`, a browser sign-in) are refused by name, never skipped.

use std::collections::BTreeMap;

use reqflo_plugin_sdk::{env, files};

use crate::Error;
use crate::ini::{self, Kind, Properties};
use crate::settings::{Credentials, Source};
use crate::sts::{AssumeRole, WebIdentity};

/// What the sandbox sees of the shared files.
pub struct Shared {
    /// The profile in use.
    name: String,
    /// Whether `AWS_PROFILE` named it (a missing one is then an error).
    named: bool,
    /// Every profile of both files, merged.
    profiles: BTreeMap<String, Properties>,
    /// The files read, for messages.
    read: Vec<String>,
    /// Config-file sections that are no profiles (`[ci]` for `[profile ci]`).
    other_sections: Vec<String>,
}

/// Where STS is, for the links that ask it: `scheme://host[:port]`.
pub struct Sts<'a> {
    /// `AWS_ENDPOINT_URL_STS`, or the region's.
    pub url: &'a str,
    /// The region its requests are signed for.
    pub region: &'a str,
}

impl Shared {
    /// Read the files the environment (`read`) names, or the defaults under
    /// `HOME`, with `open` (`std::fs::read_to_string` in the component).
    pub fn load(
        read: &impl env::Read,
        open: impl Fn(&str) -> std::io::Result<String>,
    ) -> Result<Shared, Error> {
        Shared::read_files(read, open, true)
    }

    /// [`Shared::load`] for the profile's region alone, when the
    /// environment's keys are the credentials: a file that cannot be read
    /// or parsed is skipped, since nothing else in it matters to the run.
    pub fn load_for_region(
        read: &impl env::Read,
        open: impl Fn(&str) -> std::io::Result<String>,
    ) -> Option<Shared> {
        Shared::read_files(read, open, false).ok()
    }

    /// The files, each failure an error when `strict`, else skipped.
    fn read_files(
        read: &impl env::Read,
        open: impl Fn(&str) -> std::io::Result<String>,
        strict: bool,
    ) -> Result<Shared, Error> {
        let visible = |name: &str| -> Result<Option<String>, Error> {
            Ok(env::optional(read, name)?.filter(|v| !v.is_empty()))
        };
        let home = visible("HOME")?;
        let profile = visible("AWS_PROFILE")?;
        let mut shared = Shared {
            named: profile.is_some(),
            name: profile.unwrap_or_else(|| "default".into()),
            profiles: BTreeMap::new(),
            read: Vec::new(),
            other_sections: Vec::new(),
        };
        let mut files = Vec::new();
        for (kind, variable, default) in [
            (Kind::Config, "AWS_CONFIG_FILE", ".aws/config"),
            (
                Kind::Credentials,
                "AWS_SHARED_CREDENTIALS_FILE",
                ".aws/credentials",
            ),
        ] {
            let (path, named) = match visible(variable)? {
                Some(path) => (Some(expand_home(&path, home.as_deref())), true),
                None => (home.as_ref().map(|h| format!("{h}/{default}")), false),
            };
            let Some(path) = path else { continue };
            let text = match open(&path) {
                Ok(text) => text,
                Err(_) if !strict => continue,
                Err(e) if named => return Err(files::unreadable(&e, &path, variable)),
                Err(e) if !files::is_unseen(&e) => {
                    return Err(Error::Unavailable(format!(
                        "the AWS shared file {path} cannot be read ({})",
                        e.kind()
                    )));
                }
                Err(_) => continue,
            };
            match ini::parse(&text, &path, kind) {
                Ok(parsed) => files.push((parsed, path)),
                Err(e) if strict => return Err(e),
                Err(_) => continue,
            }
        }
        // Config first, so that the credentials file's keys win.
        for (parsed, path) in files {
            for (name, properties) in parsed.profiles {
                shared.profiles.entry(name).or_default().extend(properties);
            }
            shared.other_sections.extend(parsed.other_sections);
            shared.read.push(path);
        }
        Ok(shared)
    }

    /// The profile's `region`, if it has one.
    pub fn region(&self) -> Option<&str> {
        self.profiles
            .get(&self.name)
            .and_then(|p| p.get("region"))
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
    }

    /// The profile's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the profile's credentials come from, and its static keys if
    /// it holds them; `None` when it gives none (the chain goes on).
    pub fn credentials(&self, sts: &Sts) -> Result<Option<(Source, Credentials)>, Error> {
        let Some(properties) = self.profiles.get(&self.name) else {
            return if self.named {
                Err(self.missing())
            } else {
                Ok(None)
            };
        };
        let name = &self.name;
        let get = |key: &str| get(properties, key);
        let said = |key: &str, why: &str| {
            Error::Unavailable(format!(
                "AWS profile `{name}` sets {key}, which reqflo's AWS provider does not support: \
                 {why}"
            ))
        };
        if let Some(role_arn) = get("role_arn") {
            if get("mfa_serial").is_some() {
                return Err(said(
                    "mfa_serial",
                    "a sandboxed plugin cannot ask for an MFA code; use a role without MFA",
                ));
            }
            let session_name = get("role_session_name").unwrap_or("reqflo").to_string();
            if let Some(token_file) = get("web_identity_token_file") {
                let web = WebIdentity {
                    token_file: token_file.to_string(),
                    named_by: format!("AWS profile `{name}`'s web_identity_token_file"),
                    role_arn: role_arn.to_string(),
                    session_name,
                    sts: sts.url.to_string(),
                };
                return Ok(Some((Source::WebIdentity(web), Credentials::none())));
            }
            if let Some(source) = get("source_profile") {
                let role = AssumeRole {
                    role_arn: role_arn.to_string(),
                    session_name,
                    external_id: get("external_id").map(str::to_string),
                    profile: name.clone(),
                    sts: sts.url.to_string(),
                    region: sts.region.to_string(),
                    source: self.source_keys(source)?,
                };
                return Ok(Some((Source::AssumeRole(role), Credentials::none())));
            }
            if get("credential_source").is_some() {
                return Err(said(
                    "credential_source",
                    "give the profile a source_profile with keys instead",
                ));
            }
            return Err(Error::Unavailable(format!(
                "AWS profile `{name}` sets role_arn but neither source_profile nor \
                 web_identity_token_file"
            )));
        }
        for key in [
            "sso_session",
            "sso_start_url",
            "sso_account_id",
            "sso_role_name",
        ] {
            if get(key).is_some() {
                return Err(said(
                    key,
                    "IAM Identity Center (SSO) sign-in is not supported; use keys, a role or a \
                     web identity",
                ));
            }
        }
        match keys(name, properties)? {
            Some(credentials) => Ok(Some((Source::Profile(name.clone()), credentials))),
            None if get("credential_process").is_some() => Err(said(
                "credential_process",
                "a sandboxed plugin cannot start a program; put the keys it prints in the \
                 environment, or use a role or a web identity",
            )),
            None => Ok(None),
        }
    }

    /// The static keys of `source`, the profile a role is assumed with.
    fn source_keys(&self, source: &str) -> Result<Credentials, Error> {
        let name = &self.name;
        let Some(properties) = self.profiles.get(source) else {
            return Err(Error::Unavailable(format!(
                "AWS profile `{name}`'s source_profile `{source}` is in none of {}",
                self.files()
            )));
        };
        if source != name && get(properties, "role_arn").is_some() {
            return Err(Error::Unavailable(format!(
                "AWS profile `{name}`'s source_profile `{source}` assumes a role itself; \
                 reqflo does not chain roles: give `{source}` keys"
            )));
        }
        keys(source, properties)?.ok_or_else(|| {
            Error::Unavailable(format!(
                "AWS profile `{name}`'s source_profile `{source}` has no aws_access_key_id \
                 and aws_secret_access_key"
            ))
        })
    }

    /// The error for a profile `AWS_PROFILE` names that is not there.
    fn missing(&self) -> Error {
        let name = &self.name;
        if self.read.is_empty() {
            return Error::Unavailable(format!(
                "AWS_PROFILE names profile `{name}`, but no shared credentials or config file \
                 is visible: set AWS_SHARED_CREDENTIALS_FILE (or AWS_CONFIG_FILE), list it \
                 under the provider's grants.env and `$AWS_SHARED_CREDENTIALS_FILE` under its \
                 grants.files (or grant HOME and `~/.aws/credentials`)"
            ));
        }
        let hint = if self.other_sections.iter().any(|s| s == name) {
            format!(" (in the config file it is written `[profile {name}]`, not `[{name}]`)")
        } else {
            String::new()
        };
        Error::Unavailable(format!(
            "AWS_PROFILE names profile `{name}`, which is in none of {}{hint}",
            self.files()
        ))
    }

    fn files(&self) -> String {
        self.read.join(" and ")
    }
}

/// A property's trimmed value, when it has one.
fn get<'a>(properties: &'a Properties, key: &str) -> Option<&'a str> {
    properties
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The profile's static keys, both or neither; checked for what an HTTP
/// header can carry, never quoted.
fn keys(name: &str, properties: &Properties) -> Result<Option<Credentials>, Error> {
    let (id, secret) = (
        get(properties, "aws_access_key_id"),
        get(properties, "aws_secret_access_key"),
    );
    let (access_key_id, secret_access_key) = match (id, secret) {
        (Some(id), Some(secret)) => (id, secret),
        (None, None) => return Ok(None),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Unavailable(format!(
                "AWS profile `{name}` has only one of aws_access_key_id and \
                 aws_secret_access_key"
            )));
        }
    };
    let unusable = |key: &str| {
        Error::Unavailable(format!(
            "AWS profile `{name}`'s {key} has characters an HTTP header cannot carry"
        ))
    };
    if !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(unusable("aws_access_key_id"));
    }
    let session_token = get(properties, "aws_session_token");
    if session_token.is_some_and(|t| !t.bytes().all(|b| b.is_ascii_graphic())) {
        return Err(unusable("aws_session_token"));
    }
    Ok(Some(Credentials {
        access_key_id: access_key_id.to_string(),
        secret_access_key: secret_access_key.to_string(),
        session_token: session_token.map(str::to_string),
    }))
}

/// `~/x` under `home`, as the SDKs expand a path a variable names.
fn expand_home(path: &str, home: Option<&str>) -> String {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests;
