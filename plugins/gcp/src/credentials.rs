//! Application Default Credentials files: the JSON file
//! `GOOGLE_APPLICATION_CREDENTIALS` names, else gcloud's well-known file
//! (`gcloud auth application-default login` writes it), read as Google's
//! client libraries read them (<https://google.aip.dev/auth/4110>):
//!
//! - `service_account`: a key (<https://google.aip.dev/auth/4112>);
//! - `authorized_user`: a user's refresh token and OAuth client;
//! - `external_account`: workload identity federation
//!   (<https://google.aip.dev/auth/4117>), a subject token from a file or a
//!   URL exchanged at Google's STS, then optionally for a service account's
//!   token.
//!
//! A file is read once per run, at the first resolve; the sandbox sees only
//! the files in the provider's `grants.files`. Messages name the file and a
//! JSON field, never a field's value: the file holds a private key, a client
//! secret or a refresh token.

use reqflo_plugin_jwt::Key;
use reqflo_plugin_sdk::http::is_header_token;
use reqflo_plugin_sdk::origin::Origin;
use reqflo_plugin_sdk::{env, files};
use serde_json::{Map, Value};

use crate::Error;
use crate::external::{self, External};

/// The variable naming a credentials file.
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// Google's OAuth token endpoint, where a file names none.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// gcloud's file, under its configuration folder.
const WELL_KNOWN_FILE: &str = "application_default_credentials.json";

/// A credentials file, read and checked.
pub struct File {
    /// How messages name it: the path and how it was found.
    pub name: String,
    /// What it holds.
    pub credentials: Credentials,
    /// `quota_project_id`: the project billed for the calls, sent as
    /// `x-goog-user-project` (as Google's libraries do).
    pub quota_project: Option<String>,
}

/// The three kinds of file reqflo reads. No `Debug`: they hold credentials.
pub enum Credentials {
    /// A service account's key.
    ServiceAccount(ServiceAccount),
    /// A user's refresh token.
    AuthorizedUser(AuthorizedUser),
    /// Workload identity federation.
    External(External),
}

/// `"type": "service_account"`.
pub struct ServiceAccount {
    /// `client_email`: the account, the assertion's `iss`.
    pub email: String,
    /// `private_key_id`: the assertion header's `kid`.
    pub key_id: Option<String>,
    /// `private_key`, parsed.
    pub key: Key,
    /// `token_uri`.
    pub token_uri: Endpoint,
}

/// `"type": "authorized_user"`.
pub struct AuthorizedUser {
    /// `client_id`: the OAuth client, named in messages.
    pub client_id: String,
    /// `client_secret`; a credential.
    pub client_secret: String,
    /// `refresh_token`; a credential.
    pub refresh_token: String,
    /// `token_uri`, else Google's.
    pub token_uri: Endpoint,
}

/// A URL a file names (a token endpoint, STS, IAM Credentials, a subject
/// token's URL): https, or plain http on loopback for a local fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its origin, which messages name (a path may carry anything).
    pub origin: Origin,
    /// The whole URL.
    pub url: String,
}

/// The credentials file of the chain's file links, if there is one: the
/// one `GOOGLE_APPLICATION_CREDENTIALS` names (which must then be there),
/// else gcloud's well-known file when the provider may read it.
pub fn find(read: &impl env::Read) -> Result<Option<File>, Error> {
    if let Some(path) = env::optional(read, CREDENTIALS_ENV)?.filter(|p| !p.is_empty()) {
        let name = format!("the credentials file {path} ({CREDENTIALS_ENV})");
        let text = files::read_text(&path, CREDENTIALS_ENV)?;
        return parse(&name, &text).map(Some);
    }
    let Some(path) = well_known_path(read)? else {
        return Ok(None);
    };
    // Not there (or not granted) is the usual case: the chain goes on.
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&format!("gcloud's credentials file {path}"), &text).map(Some),
        Err(_) => Ok(None),
    }
}

/// `$CLOUDSDK_CONFIG/application_default_credentials.json`, else
/// `$HOME/.config/gcloud/…`, as gcloud writes it on Linux and macOS.
fn well_known_path(read: &impl env::Read) -> Result<Option<String>, Error> {
    let visible = |name| -> Result<Option<String>, Error> {
        Ok(env::optional(read, name)?.filter(|v| !v.is_empty()))
    };
    Ok(match (visible("CLOUDSDK_CONFIG")?, visible("HOME")?) {
        (Some(config), _) => Some(format!(
            "{}/{WELL_KNOWN_FILE}",
            config.trim_end_matches('/')
        )),
        (None, Some(home)) => Some(format!(
            "{}/.config/gcloud/{WELL_KNOWN_FILE}",
            home.trim_end_matches('/')
        )),
        (None, None) => None,
    })
}

/// Read a credentials file's text; `name` is how messages name it.
pub fn parse(name: &str, text: &str) -> Result<File, Error> {
    let bad = |why: String| Error::Unavailable(format!("{name} {why}"));
    // serde's messages may quote what they choke on: never shown.
    let json: Value = serde_json::from_str(text).map_err(|_| bad("is not JSON".to_string()))?;
    let Some(object) = json.as_object() else {
        return Err(bad("is not a JSON object".to_string()));
    };
    let fields = Fields { name, object };
    let credentials = match fields.string("type")? {
        "service_account" => Credentials::ServiceAccount(ServiceAccount {
            email: fields.string("client_email")?.to_string(),
            key_id: fields.optional("private_key_id")?.map(str::to_string),
            key: Key::from_pem(fields.string("private_key")?)
                .map_err(|why| bad(format!("has a `private_key` that {why}")))?,
            token_uri: fields.endpoint("token_uri", Some(GOOGLE_TOKEN_URI))?,
        }),
        "authorized_user" => Credentials::AuthorizedUser(AuthorizedUser {
            client_id: fields.string("client_id")?.to_string(),
            client_secret: fields.string("client_secret")?.to_string(),
            refresh_token: fields.string("refresh_token")?.to_string(),
            token_uri: fields.endpoint("token_uri", Some(GOOGLE_TOKEN_URI))?,
        }),
        "external_account" => Credentials::External(external::parse(&fields)?),
        kind => {
            let shown =
                if kind.len() <= 40 && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    format!("`{kind}`")
                } else {
                    "another".to_string()
                };
            return Err(bad(format!(
                "has type {shown}; reqflo reads service_account, authorized_user and \
                 external_account files"
            )));
        }
    };
    // Sent as the x-goog-user-project header: checked here, where the file
    // is named, rather than refused by the HTTP layer at each call.
    let quota_project = fields.optional("quota_project_id")?;
    if quota_project.is_some_and(|project| !is_header_token(project)) {
        return Err(bad(
            "has a `quota_project_id` with characters an HTTP header cannot carry".to_string(),
        ));
    }
    Ok(File {
        name: name.to_string(),
        credentials,
        quota_project: quota_project.map(str::to_string),
    })
}

/// A file's JSON object, and how messages name the file.
pub struct Fields<'a> {
    /// How messages name the file (or a part of it).
    pub name: &'a str,
    /// Its fields.
    pub object: &'a Map<String, Value>,
}

impl Fields<'_> {
    /// A string field that must be there and not blank.
    pub fn string(&self, field: &str) -> Result<&str, Error> {
        self.optional(field)?
            .ok_or_else(|| Error::Unavailable(format!("{} has no `{field}`", self.name)))
    }

    /// A string field that may be missing (or null, or blank).
    pub fn optional(&self, field: &str) -> Result<Option<&str>, Error> {
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim())),
            Some(_) => Err(Error::Unavailable(format!(
                "{} has a `{field}` that is not a string",
                self.name
            ))),
        }
    }

    /// A URL field (or `default`), which must be https, or http on loopback.
    pub fn endpoint(&self, field: &str, default: Option<&str>) -> Result<Endpoint, Error> {
        self.url(field, default, false)
    }

    /// A URL field; `plain` allows http anywhere (a subject token's URL,
    /// which is sent nothing of Google's: Azure's IMDS is plain http).
    pub fn url(&self, field: &str, default: Option<&str>, plain: bool) -> Result<Endpoint, Error> {
        let url = match (self.optional(field)?, default) {
            (Some(url), _) | (None, Some(url)) => url,
            (None, None) => {
                return Err(Error::Unavailable(format!(
                    "{} has no `{field}`",
                    self.name
                )));
            }
        };
        endpoint(url, plain)
            .map_err(|why| Error::Unavailable(format!("{} has a `{field}` that {why}", self.name)))
    }
}

/// `url` as an endpoint; the error completes "… that {why}".
fn endpoint(url: &str, plain: bool) -> Result<Endpoint, String> {
    let start = url.find("://").map_or(0, |at| at + 3);
    let (base, path) = match url[start..].find(['/', '?', '#']) {
        Some(at) => url.split_at(start + at),
        None => (url, ""),
    };
    let origin = Origin::parse_base(base)
        .map(Origin::without_default_port)
        .map_err(|why| format!("is not a usable URL: it {why}"))?;
    if !path.bytes().all(|b| b.is_ascii_graphic()) || path.contains('#') {
        return Err("is not a usable URL: its path has characters a URL cannot carry".into());
    }
    // Credentials travel to it; plain http would hand them to anyone on the
    // path, save on this machine (a local fake).
    if !plain && !origin.is_https() && !origin.is_loopback() {
        return Err(format!(
            "is not https:// ({origin}); plain http:// is allowed only to a loopback address"
        ));
    }
    let url = origin.url(if path.is_empty() { "/" } else { path });
    Ok(Endpoint { origin, url })
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::env::fake;
    use reqflo_plugin_sdk::testing::{accepted, refused};
    use serde_json::json;

    use super::*;
    use crate::external::{Format, SubjectSource};

    /// The test key the jwt crate's tests use (made with openssl).
    pub const KEY_PEM: &str = include_str!("../../jwt/tests/keys/rsa2048.pem");

    /// Why `json` is refused as a credentials file.
    fn refusal(json: &Value) -> String {
        refused(parse("F", &json.to_string()).map(|_| ()), "unavailable")
    }

    fn service_account() -> Value {
        json!({
            "type": "service_account",
            "project_id": "acme",
            "private_key_id": "kid-1",
            "private_key": KEY_PEM,
            "client_email": "reqflo@acme.iam.gserviceaccount.com",
            "token_uri": "http://127.0.0.1:9/token",
        })
    }

    fn external_account() -> Value {
        json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/app@acme.iam.gserviceaccount.com:generateAccessToken",
            "credential_source": {"file": "/var/run/token", "format": {"type": "json", "subject_token_field_name": "id_token"}},
        })
    }

    #[test]
    fn each_type_is_read() {
        let file = accepted(parse("F", &service_account().to_string()));
        let Credentials::ServiceAccount(account) = &file.credentials else {
            panic!("not a service account")
        };
        assert_eq!(account.email, "reqflo@acme.iam.gserviceaccount.com");
        assert_eq!(account.key_id.as_deref(), Some("kid-1"));
        assert_eq!(account.token_uri.url, "http://127.0.0.1:9/token");

        let user = json!({"type": "authorized_user", "client_id": "c.apps", "client_secret": "s",
                          "refresh_token": "r", "quota_project_id": "billing"});
        let file = accepted(parse("F", &user.to_string()));
        assert_eq!(file.quota_project.as_deref(), Some("billing"));
        // It travels in a header: a line break (or any byte a header cannot
        // carry) is refused when the file is read, never quoted.
        for bad in ["billing\nx-injected: 1", "bill ing", "bïlling"] {
            let mut user = user.clone();
            user["quota_project_id"] = bad.into();
            let m = refused(parse("F", &user.to_string()).map(|_| ()), "unavailable");
            assert_eq!(
                m,
                "F has a `quota_project_id` with characters an HTTP header cannot carry"
            );
        }
        let Credentials::AuthorizedUser(user) = &file.credentials else {
            panic!("not a user")
        };
        // No token_uri: Google's, printed as written.
        assert_eq!(user.token_uri.url, "https://oauth2.googleapis.com/token");
        assert_eq!(
            user.token_uri.origin.to_string(),
            "https://oauth2.googleapis.com"
        );

        let file = accepted(parse("F", &external_account().to_string()));
        let Credentials::External(external) = &file.credentials else {
            panic!("not external")
        };
        assert_eq!(
            external
                .impersonation
                .as_ref()
                .map(|(_, email)| email.as_str()),
            Some("app@acme.iam.gserviceaccount.com")
        );
        assert_eq!(external.lifetime_seconds, 3600);
        assert!(matches!(&external.source,
            SubjectSource::File { path, format: Format::Json(field) } if path == "/var/run/token" && field == "id_token"));
    }

    #[test]
    fn bad_files_name_the_file_and_the_field_never_a_value() {
        let mut missing = service_account();
        missing["client_email"] = Value::Null;
        assert_eq!(refusal(&missing), "F has no `client_email`");
        let mut number = service_account();
        number["private_key_id"] = json!(7);
        assert_eq!(
            refusal(&number),
            "F has a `private_key_id` that is not a string"
        );
        let mut broken = service_account();
        broken["private_key"] =
            json!("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n");
        let m = refusal(&broken);
        assert!(
            m.starts_with(
                "F has a `private_key` that has a `PRIVATE KEY` block that does not parse"
            ),
            "{m}"
        );
        assert!(!m.contains("c2VjcmV0"), "{m}");
        let mut plain = service_account();
        plain["token_uri"] = json!("http://oauth2.example.com/token");
        assert!(refusal(&plain).starts_with("F has a `token_uri` that is not https://"));
        let user = json!({"type": "authorized_user", "client_id": "c", "client_secret": "hunter2"});
        assert_eq!(refusal(&user), "F has no `refresh_token`");
        assert_eq!(
            refusal(&json!({"type": "impersonated_service_account"})),
            "F has type `impersonated_service_account`; reqflo reads service_account, \
             authorized_user and external_account files"
        );
        assert!(refusal(&json!({"type": "Hunter2 secret"})).starts_with("F has type another;"));
        assert_eq!(refusal(&json!([1])), "F is not a JSON object");
        assert_eq!(
            refused(
                parse("F", "{\"private_key\": \"hunter2").map(|_| ()),
                "unavailable"
            ),
            "F is not JSON"
        );
    }

    #[test]
    fn external_sources_that_cannot_work_are_refused_saying_why() {
        for (source, said) in [
            (
                json!({"environment_id": "aws1", "url": "http://169.254.169.254"}),
                "AWS request signing",
            ),
            (
                json!({"executable": {"command": "/bin/token"}}),
                "cannot run programs",
            ),
            (json!({"certificate": {}}), "mutual TLS"),
            (json!({}), "has neither `file` nor `url`"),
            (
                json!({"file": "/t", "format": {"type": "xml"}}),
                "neither text nor json",
            ),
            (
                json!({"file": "/t", "format": {"type": "json"}}),
                "has no `subject_token_field_name`",
            ),
            (
                json!({"url": "http://h/t", "headers": {"x": "a\nb"}}),
                "cannot carry",
            ),
        ] {
            let mut file = external_account();
            file["credential_source"] = source;
            let m = refusal(&file);
            assert!(m.contains(said), "{m}");
        }
        let mut file = external_account();
        file["service_account_impersonation_url"] =
            json!("https://iamcredentials.googleapis.com/v1/x");
        assert!(refusal(&file).contains("…/serviceAccounts/EMAIL:generateAccessToken"));
        file["service_account_impersonation_url"] = Value::Null;
        file["client_secret"] = json!("hunter2");
        let m = refusal(&file);
        assert!(
            m.contains("`client_secret`") && !m.contains("hunter2"),
            "{m}"
        );
        // A subject token's URL may be plain http (Azure's IMDS is).
        let mut file = external_account();
        file["credential_source"] = json!({"url": "http://169.254.169.254/metadata/identity/oauth2/token?resource=x", "headers": {"Metadata": "True"}});
        let file = accepted(parse("F", &file.to_string()));
        let Credentials::External(External {
            source: SubjectSource::Url { url, headers, .. },
            ..
        }) = &file.credentials
        else {
            panic!("not url-sourced")
        };
        assert_eq!(
            url.url,
            "http://169.254.169.254/metadata/identity/oauth2/token?resource=x"
        );
        assert_eq!(headers, &[("metadata".to_string(), "True".to_string())]);
    }

    #[test]
    fn the_variables_file_else_gclouds_well_known_file() {
        let dir = std::env::temp_dir().join(format!("reqflo-gcp-adc-{}", std::process::id()));
        let gcloud = dir.join(".config/gcloud");
        std::fs::create_dir_all(&gcloud).ok();
        let home = dir.display().to_string();
        let named = dir.join("key.json");
        std::fs::write(&named, service_account().to_string()).ok();
        let named = named.display().to_string();
        let user = json!({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"});
        std::fs::write(gcloud.join(WELL_KNOWN_FILE), user.to_string()).ok();

        let found = |vars: &[(&str, &str)]| accepted(find(&fake(vars))).map(|file| file.name);
        let both = [("HOME", home.as_str()), (CREDENTIALS_ENV, named.as_str())];
        assert_eq!(
            found(&both),
            Some(format!(
                "the credentials file {named} (GOOGLE_APPLICATION_CREDENTIALS)"
            ))
        );
        assert_eq!(
            found(&[("HOME", home.as_str())]),
            Some(format!(
                "gcloud's credentials file {home}/.config/gcloud/{WELL_KNOWN_FILE}"
            ))
        );
        let config = gcloud.display().to_string();
        assert_eq!(
            found(&[("HOME", "/nowhere"), ("CLOUDSDK_CONFIG", config.as_str())]),
            Some(format!(
                "gcloud's credentials file {config}/{WELL_KNOWN_FILE}"
            ))
        );
        // No well-known file (or not granted): the chain goes on.
        assert_eq!(found(&[("HOME", "/nowhere")]), None);
        assert_eq!(found(&[]), None);
        // A named file that is not there stops it, saying what to grant.
        let m = refused(
            find(&fake(&[(CREDENTIALS_ENV, "/nowhere/key.json")])).map(|_| ()),
            "unavailable",
        );
        assert_eq!(
            m,
            "GOOGLE_APPLICATION_CREDENTIALS names /nowhere/key.json, but it is not there, or not \
             granted: list `$GOOGLE_APPLICATION_CREDENTIALS` under the provider's grants.files"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
