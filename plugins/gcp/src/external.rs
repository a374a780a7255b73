//! External accounts (workload identity federation,
//! <https://google.aip.dev/auth/4117>): what an `external_account` file
//! says, and its subject token, the content of `credential_source.file` (a
//! Kubernetes service account token, an OIDC token another platform writes)
//! or the answer of `credential_source.url` (Azure's IMDS, say), either as
//! text or one field of JSON, fetched anew at each exchange.
//!
//! The file must be granted (`grants.files`), the URL's host too
//! (`grants.hosts`). The host copies a granted file once, when the
//! provider's sandbox starts (once a run): the plugin reads its copy at each
//! exchange, so a file rotated during a run is seen at the next run. The
//! token is a credential: messages never hold it.

use reqflo_plugin_sdk::files;
use reqflo_plugin_sdk::http::{Request, Server, Transport, is_header_value};
use serde_json::Value;

use crate::Error;
use crate::access::{self, MAX_ERROR_BYTES};
use crate::credentials::{Endpoint, Fields};

/// `"type": "external_account"`.
pub struct External {
    /// `audience`: the workload identity pool provider.
    pub audience: String,
    /// `subject_token_type`, as STS takes it.
    pub subject_token_type: String,
    /// `token_url`: Google's STS.
    pub token_url: Endpoint,
    /// `service_account_impersonation_url`, and the account it names.
    pub impersonation: Option<(Endpoint, String)>,
    /// `service_account_impersonation.token_lifetime_seconds`, else an hour.
    pub lifetime_seconds: u64,
    /// `workforce_pool_user_project`, sent in STS's `options`.
    pub workforce_project: Option<String>,
    /// `credential_source`.
    pub source: SubjectSource,
}

/// Where an external account's subject token comes from.
pub enum SubjectSource {
    /// `credential_source.file`: the plugin's copy, read at each exchange.
    File {
        /// The path.
        path: String,
        /// `credential_source.format`.
        format: Format,
    },
    /// `credential_source.url`, asked with `headers` at each exchange.
    Url {
        /// Where.
        url: Endpoint,
        /// `credential_source.headers`.
        headers: Vec<(String, String)>,
        /// `credential_source.format`.
        format: Format,
    },
}

/// `credential_source.format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `text` (the default): the whole content is the token.
    Text,
    /// `json`: the token is this field of the JSON content.
    Json(String),
}

/// An `external_account` file's fields.
pub fn parse(fields: &Fields<'_>) -> Result<External, Error> {
    let name = fields.name;
    let impersonation = match fields.optional("service_account_impersonation_url")? {
        None => None,
        Some(_) => {
            let endpoint = fields.endpoint("service_account_impersonation_url", None)?;
            // …/projects/-/serviceAccounts/EMAIL:generateAccessToken
            let account = endpoint
                .url
                .rsplit_once("/serviceAccounts/")
                .and_then(|(_, rest)| rest.strip_suffix(":generateAccessToken"))
                .filter(|email| !email.is_empty() && !email.contains('/'))
                .ok_or_else(|| {
                    Error::Unavailable(format!(
                        "{name} has a `service_account_impersonation_url` that is not IAM \
                         Credentials' …/serviceAccounts/EMAIL:generateAccessToken"
                    ))
                })?
                .to_string();
            Some((endpoint, account))
        }
    };
    let lifetime_seconds = match fields.object.get("service_account_impersonation") {
        Some(options) => match options.get("token_lifetime_seconds") {
            None => 3600,
            Some(seconds) => seconds
                .as_u64()
                .filter(|s| (600..=43_200).contains(s))
                .ok_or_else(|| {
                    Error::Unavailable(format!(
                        "{name} has a `service_account_impersonation.token_lifetime_seconds` \
                         that is not a number of seconds from 600 to 43200"
                    ))
                })?,
        },
        None => 3600,
    };
    if fields.optional("client_secret")?.is_some() {
        return Err(Error::Unavailable(format!(
            "{name} has a `client_secret`: STS client authentication is not supported; use a \
             configuration without client_id and client_secret"
        )));
    }
    Ok(External {
        audience: fields.string("audience")?.to_string(),
        subject_token_type: fields.string("subject_token_type")?.to_string(),
        token_url: fields.endpoint("token_url", None)?,
        impersonation,
        lifetime_seconds,
        workforce_project: fields
            .optional("workforce_pool_user_project")?
            .map(str::to_string),
        source: subject_source(fields)?,
    })
}

/// `credential_source`: a file or a URL; the kinds that would need AWS
/// signing, a program or a client certificate are refused, naming why.
fn subject_source(fields: &Fields<'_>) -> Result<SubjectSource, Error> {
    let name = fields.name;
    let object = match fields.object.get("credential_source") {
        Some(Value::Object(object)) => object,
        _ => {
            return Err(Error::Unavailable(format!(
                "{name} has no `credential_source` object"
            )));
        }
    };
    let source = Fields {
        name: &format!("{name}'s credential_source"),
        object,
    };
    let refuse = |why: &str| Err(Error::Unavailable(format!("{name}: {why}")));
    if object.contains_key("environment_id") {
        // An AWS source proves itself with a SigV4-signed GetCallerIdentity
        // request made with keys from EC2's metadata service: a second
        // cloud's credential chain inside this provider.
        return refuse(
            "an AWS credential source (`environment_id`) is not supported: it needs AWS \
             request signing with the instance's AWS keys; use a file- or url-sourced \
             configuration",
        );
    }
    if object.contains_key("executable") {
        return refuse(
            "an executable credential source is not supported: a provider's sandbox cannot run \
             programs; have the program write the token to a file and use a file-sourced \
             configuration",
        );
    }
    if object.contains_key("certificate") {
        return refuse(
            "an X.509 certificate credential source is not supported (it needs mutual TLS \
             with a client certificate)",
        );
    }
    let format = match object.get("format") {
        None => Format::Text,
        Some(Value::Object(format)) => {
            let format = Fields {
                name: &format!("{name}'s credential_source.format"),
                object: format,
            };
            match format.optional("type")? {
                None | Some("text") => Format::Text,
                Some("json") => {
                    Format::Json(format.string("subject_token_field_name")?.to_string())
                }
                Some(_) => {
                    return refuse("`credential_source.format.type` is neither text nor json");
                }
            }
        }
        Some(_) => return refuse("`credential_source.format` is not an object"),
    };
    if let Some(path) = source.optional("file")? {
        return Ok(SubjectSource::File {
            path: path.to_string(),
            format,
        });
    }
    if source.optional("url")?.is_some() {
        let headers = match object.get("headers") {
            None => Vec::new(),
            Some(Value::Object(headers)) => headers
                .iter()
                .map(|(key, value)| match value.as_str() {
                    Some(value) if is_header_value(key) && is_header_value(value) => {
                        Ok((key.to_ascii_lowercase(), value.to_string()))
                    }
                    _ => Err(Error::Unavailable(format!(
                        "{name} has a `credential_source.headers` entry an HTTP header cannot \
                         carry"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return refuse("`credential_source.headers` is not an object"),
        };
        return Ok(SubjectSource::Url {
            url: source.url("url", None, true)?,
            headers,
            format,
        });
    }
    refuse("`credential_source` has neither `file` nor `url`")
}

/// The subject token, read now.
pub fn subject_token(
    source: &SubjectSource,
    transport: &mut impl Transport,
) -> Result<String, Error> {
    match source {
        SubjectSource::File { path, format } => {
            let text = files::read_text(path, "credential_source.file")?;
            pick(&text, format, &format!("the subject token file {path}"))
        }
        SubjectSource::Url {
            url,
            headers,
            format,
        } => {
            let mut request = Request::get(&url.url);
            for (name, value) in headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let answer = transport
                .send(request, access::limits(MAX_ERROR_BYTES))
                .map_err(|failure| {
                    let server = Server {
                        service: "the subject token's URL",
                        address: &url.origin,
                        authority: &url.origin.authority(),
                    };
                    failure.error(server, Some("getting a subject token"), MAX_ERROR_BYTES)
                })?;
            let what = format!("the subject token's URL at {}", url.origin);
            if !answer.is_success() {
                return Err(Error::Unavailable(format!(
                    "{what} (credential_source.url) answered {}",
                    answer.status
                )));
            }
            let text = String::from_utf8(answer.body)
                .map_err(|_| Error::Unavailable(format!("{what} answered something not text")))?;
            pick(&text, format, &what)
        }
    }
}

/// The token in `text` as `format` says; `what` names where it came from.
fn pick(text: &str, format: &Format, what: &str) -> Result<String, Error> {
    let token = match format {
        Format::Text => text.trim().to_string(),
        Format::Json(field) => {
            let json: serde_json::Value = serde_json::from_str(text)
                .map_err(|_| Error::Unavailable(format!("{what} does not hold JSON")))?;
            json.get(field)
                .and_then(serde_json::Value::as_str)
                .map(|token| token.trim().to_string())
                .ok_or_else(|| {
                    Error::Unavailable(format!(
                        "{what} has no string `{field}` (credential_source.format.\
                         subject_token_field_name)"
                    ))
                })?
        }
    };
    // It travels in a form: any text would do, but a blank one or one with
    // control characters is not a token.
    if token.is_empty() || token.chars().any(char::is_control) {
        return Err(Error::Unavailable(format!("{what} holds no usable token")));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::http::Scripted;
    use reqflo_plugin_sdk::origin::Origin;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    use super::*;

    fn file(path: &str, format: Format) -> SubjectSource {
        SubjectSource::File {
            path: path.into(),
            format,
        }
    }

    #[test]
    fn from_a_file_as_text_or_json_read_each_time() {
        let path = std::env::temp_dir().join(format!("reqflo-gcp-subject-{}", std::process::id()));
        let shown = path.display().to_string();
        let mut none = Scripted::new();
        std::fs::write(&path, "eyJ.first\n").ok();
        assert_eq!(
            accepted(subject_token(&file(&shown, Format::Text), &mut none)),
            "eyJ.first"
        );
        std::fs::write(&path, r#"{"id_token": "eyJ.second", "other": 1}"#).ok();
        let json = file(&shown, Format::Json("id_token".into()));
        assert_eq!(accepted(subject_token(&json, &mut none)), "eyJ.second");
        let m = refused(
            subject_token(&file(&shown, Format::Json("nope".into())), &mut none),
            "unavailable",
        );
        assert!(
            m.ends_with("has no string `nope` (credential_source.format.subject_token_field_name)"),
            "{m}"
        );
        assert!(!m.contains("eyJ"), "{m}");
        std::fs::write(&path, " \n").ok();
        let m = refused(
            subject_token(&file(&shown, Format::Text), &mut none),
            "unavailable",
        );
        assert!(m.ends_with("holds no usable token"), "{m}");
        std::fs::remove_file(&path).ok();
        let m = refused(
            subject_token(&file(&shown, Format::Text), &mut none),
            "unavailable",
        );
        assert_eq!(
            m,
            format!(
                "credential_source.file names {shown}, but it is not there, or not granted: list \
                 `{shown}` under the provider's grants.files"
            )
        );
        assert!(none.urls().is_empty());
    }

    #[test]
    fn from_a_url_with_its_headers() {
        let origin = Origin::parse_base("http://169.254.169.254").map(Origin::without_default_port);
        let Ok(origin) = origin else { panic!("origin") };
        let url = "http://169.254.169.254/metadata/identity/oauth2/token?resource=x";
        let source = SubjectSource::Url {
            url: Endpoint {
                origin,
                url: url.into(),
            },
            headers: vec![("metadata".into(), "True".into())],
            format: Format::Json("access_token".into()),
        };
        let mut server = Scripted::new()
            .answer(url, 200, r#"{"access_token": "eyJ.azure"}"#)
            .answer(url, 403, "no");
        assert_eq!(accepted(subject_token(&source, &mut server)), "eyJ.azure");
        assert_eq!(server.header_values("metadata"), [Some("True")]);
        let m = refused(subject_token(&source, &mut server), "unavailable");
        assert_eq!(
            m,
            "the subject token's URL at http://169.254.169.254 (credential_source.url) answered 403"
        );
        let mut closed = Scripted::new();
        let m = refused(subject_token(&source, &mut closed), "denied");
        assert!(
            m.contains("169.254.169.254:80") && m.contains("grants.hosts"),
            "{m}"
        );
    }
}
