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

use reqflo_plugin_sdk::env;

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
                Err(e) if !is_unseen(&e) => {
                    return Err(Error::Unavailable(format!(
                        "the AWS shared file {path} cannot be read ({})",
                        e.kind()
                    )));
                }
                Err(_) if named => {
                    return Err(Error::Unavailable(format!(
                        "{variable} names {path}, but it is not there, or not granted: list \
                         `${variable}` under the provider's grants.files"
                    )));
                }
                Err(_) => continue,
            };
            files.push((ini::parse(&text, &path, kind)?, path));
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
                    grant: token_file.to_string(),
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

/// Whether a file could not be read because the sandbox does not see it.
fn is_unseen(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    )
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::Config;
    use reqflo_plugin_sdk::env::fake;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    use super::*;
    use crate::settings::{Connection, Settings};

    const CONFIG: &str = "/home/me/.aws/config";
    const CREDENTIALS: &str = "/home/me/.aws/credentials";

    /// A reader of the files in `files` (path, text); any other is unseen.
    fn files<'a>(files: &'a [(&str, &str)]) -> impl Fn(&str) -> std::io::Result<String> + 'a {
        move |path| {
            files
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, text)| text.to_string())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    }

    fn connect(
        config: &[(&str, &str)],
        vars: &[(&str, &str)],
        shared: &[(&str, &str)],
    ) -> Result<Connection, Error> {
        accepted(Settings::from_config(&Config::of(config)))
            .connection_with(fake(vars), files(shared))
    }

    /// Why the connection is refused (every such error is unavailable).
    fn why(vars: &[(&str, &str)], shared: &[(&str, &str)]) -> String {
        refused(connect(&[], vars, shared).map(|_| ()), "unavailable")
    }

    const HOME: (&str, &str) = ("HOME", "/home/me");
    const BOTH: [(&str, &str); 2] = [
        (
            CONFIG,
            "[default]\nregion = eu-west-1\n[profile ci]\nregion = us-east-1\n\
             aws_access_key_id = AKIDCONFIG\naws_secret_access_key = from-config\n",
        ),
        (
            CREDENTIALS,
            "[ci]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = s3cret/Key+1\n\
             aws_session_token = tok\n",
        ),
    ];

    #[test]
    fn the_named_profile_gives_keys_the_credentials_file_winning() {
        let c = accepted(connect(&[], &[HOME, ("AWS_PROFILE", "ci")], &BOTH));
        assert_eq!(c.source, Source::Profile("ci".into()));
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.credentials.access_key_id, "AKIDCREDS");
        assert_eq!(c.credentials.secret_access_key, "s3cret/Key+1");
        assert_eq!(c.credentials.session_token.as_deref(), Some("tok"));
        // The variables name the files; `~` is HOME.
        let moved = [
            ("/etc/aws-config", BOTH[0].1),
            ("/home/me/creds", BOTH[1].1),
        ];
        let vars = [
            HOME,
            ("AWS_PROFILE", "ci"),
            ("AWS_CONFIG_FILE", "/etc/aws-config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "~/creds"),
        ];
        let c = accepted(connect(&[], &vars, &moved));
        assert_eq!(c.credentials.access_key_id, "AKIDCREDS");
        // `default` without AWS_PROFILE: a region and no keys, so the chain
        // goes on and ends where the environment's keys are asked for.
        assert!(why(&[HOME], &BOTH).starts_with("AWS_ACCESS_KEY_ID is not visible"));
    }

    #[test]
    fn the_chain_and_region_precedence_are_the_sdks() {
        let vars = [
            HOME,
            ("AWS_PROFILE", "ci"),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-key"),
        ];
        // Keys in the environment beat the profile's.
        let c = accepted(connect(&[], &vars, &BOTH));
        assert_eq!(
            (
                c.source,
                c.credentials.access_key_id.as_str(),
                c.region.as_str()
            ),
            (Source::Environment, "AKIDENV", "us-east-1")
        );
        // The profile beats a web identity in the environment.
        let web = [
            HOME,
            ("AWS_PROFILE", "ci"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app"),
        ];
        assert_eq!(
            accepted(connect(&[], &web, &BOTH)).source,
            Source::Profile("ci".into())
        );
        // A profile without keys leaves the web identity its turn.
        let c = accepted(connect(
            &[],
            &web,
            &[(CONFIG, "[profile ci]\nregion = ap-south-1\n")],
        ));
        assert!(matches!(c.source, Source::WebIdentity(_)));
        assert_eq!(c.region, "ap-south-1");
        // config.region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile's.
        let mut with_region = vars.to_vec();
        with_region.push(("AWS_DEFAULT_REGION", "ca-central-1"));
        assert_eq!(
            accepted(connect(&[], &with_region, &BOTH)).region,
            "ca-central-1"
        );
        with_region.push(("AWS_REGION", "sa-east-1"));
        assert_eq!(
            accepted(connect(&[], &with_region, &BOTH)).region,
            "sa-east-1"
        );
        let configured = [("region", "eu-north-1")];
        assert_eq!(
            accepted(connect(&configured, &with_region, &BOTH)).region,
            "eu-north-1"
        );
        let bad = [(CONFIG, "[profile ci]\nregion = Mars 1\n"), BOTH[1]];
        assert_eq!(
            why(&[HOME, ("AWS_PROFILE", "ci")], &bad),
            "the region \"Mars 1\" of AWS profile `ci` is not an AWS region name (like eu-west-2)"
        );
    }

    #[test]
    fn files_and_profiles_not_visible_say_what_to_grant() {
        let vars = [
            ("AWS_SHARED_CREDENTIALS_FILE", "/run/creds"),
            ("AWS_REGION", "eu-west-2"),
        ];
        assert_eq!(
            why(&vars, &[]),
            "AWS_SHARED_CREDENTIALS_FILE names /run/creds, but it is not there, or not granted: \
             list `$AWS_SHARED_CREDENTIALS_FILE` under the provider's grants.files"
        );
        let named = [("AWS_PROFILE", "ci"), ("AWS_REGION", "eu-west-2")];
        assert!(why(&named, &BOTH).starts_with(
            "AWS_PROFILE names profile `ci`, but no shared credentials or config file is \
                 visible: set AWS_SHARED_CREDENTIALS_FILE"
        ));
        let other = [HOME, ("AWS_PROFILE", "ops"), ("AWS_REGION", "eu-west-2")];
        assert_eq!(
            why(&other, &BOTH),
            format!(
                "AWS_PROFILE names profile `ops`, which is in none of {CONFIG} and {CREDENTIALS}"
            )
        );
        let unprefixed = [(CONFIG, "[ops]\nregion = eu-west-2\n")];
        assert!(
            why(&other, &unprefixed)
                .ends_with("(in the config file it is written `[profile ops]`, not `[ops]`)")
        );
        // A malformed file: its path and line, nothing of the line.
        let broken = [(CREDENTIALS, "[ci]\naws_secret_access_key\n")];
        assert_eq!(
            why(&[HOME, ("AWS_PROFILE", "ci")], &broken),
            format!(
                "the AWS shared file {CREDENTIALS} is malformed at line 2: expected `key = value`, \
                 a `[section]` or a comment"
            )
        );
    }

    #[test]
    fn what_cannot_run_in_a_sandbox_is_refused_by_name() {
        let cases = [
            ("credential_process = /bin/creds", "sets credential_process"),
            ("sso_session = corp", "sets sso_session"),
            (
                "sso_start_url = https://x.awsapps.com/start",
                "sets sso_start_url",
            ),
            (
                "role_arn = arn:r\ncredential_source = Ec2InstanceMetadata",
                "sets credential_source",
            ),
            (
                "role_arn = arn:r\nsource_profile = ci\nmfa_serial = arn:m",
                "sets mfa_serial",
            ),
            (
                "role_arn = arn:r",
                "sets role_arn but neither source_profile",
            ),
            (
                "role_arn = arn:r\nsource_profile = hop",
                "`hop` assumes a role itself",
            ),
            (
                "role_arn = arn:r\nsource_profile = none",
                "`none` is in none of",
            ),
            (
                "aws_access_key_id = AKID",
                "has only one of aws_access_key_id",
            ),
            (
                "aws_access_key_id = AK ID\naws_secret_access_key = k",
                "aws_access_key_id has characters",
            ),
        ];
        for (properties, expected) in cases {
            let text = format!(
                "[x]\n{properties}\n[hop]\nrole_arn = arn:h\nsource_profile = ci\n[ci]\n\
                 aws_access_key_id = AKIDCI\naws_secret_access_key = sk\n"
            );
            let message = why(
                &[HOME, ("AWS_PROFILE", "x"), ("AWS_REGION", "eu-west-2")],
                &[(CREDENTIALS, &text)],
            );
            assert!(
                message.starts_with("AWS profile `x`") && message.contains(expected),
                "{expected}: {message}"
            );
        }
    }

    #[test]
    fn a_profiles_role_is_a_web_identity_or_assumed_with_its_source_keys() {
        let text = "[profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\n\
            web_identity_token_file = /var/run/token\n\
            [profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n\
            role_session_name = ci-run\nexternal_id = ext-1\n\
            [profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base/Key\n";
        let vars = |profile| {
            [
                HOME,
                ("AWS_PROFILE", profile),
                ("AWS_REGION", "eu-west-2"),
                ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000/"),
            ]
        };
        let c = accepted(connect(&[], &vars("web"), &[(CONFIG, text)]));
        let Source::WebIdentity(web) = c.source else {
            panic!("not a web identity")
        };
        assert_eq!(
            (
                web.token_file.as_str(),
                web.sts.as_str(),
                web.grant.as_str()
            ),
            ("/var/run/token", "http://127.0.0.1:5000", "/var/run/token")
        );
        let missing = refused(web.request().map(drop), "unavailable");
        assert_eq!(
            missing,
            "AWS profile `web`'s web_identity_token_file names /var/run/token, but it is not \
             there, or not granted: list `/var/run/token` under the provider's grants.files"
        );

        let c = accepted(connect(&[], &vars("app"), &[(CONFIG, text)]));
        let Source::AssumeRole(role) = c.source else {
            panic!("not a role")
        };
        assert_eq!(role.source.access_key_id, "AKIDBASE");
        assert_eq!(role.session_name, "ci-run");
        assert_eq!(role.external_id.as_deref(), Some("ext-1"));
        assert_eq!(role.sts, "http://127.0.0.1:5000");
    }
}
