//! Temporary credentials from STS: a web identity (EKS IAM roles for
//! service accounts, or any OIDC issuer AWS trusts) exchanged with
//! `AssumeRoleWithWebIdentity`, which is not signed; or a role assumed with
//! a profile's keys (`AssumeRole`, SigV4-signed for `sts`).
//!
//! A web identity's token is in a file (`AWS_WEB_IDENTITY_TOKEN_FILE`, or a
//! profile's `web_identity_token_file`), for the role `AWS_ROLE_ARN` (or the
//! profile's `role_arn`). The sandbox reads only files in the provider's
//! `grants.files`, so the token's file must be granted
//! (`$AWS_WEB_IDENTITY_TOKEN_FILE` grants the one the variable names). The
//! host copies a granted file once, when the provider's sandbox starts (once
//! a run); the plugin reads its copy again at each renewal, so a token
//! Kubernetes rotates during a run is seen at the next run.

use std::time::SystemTime;

use reqflo_plugin_sdk::files;
use reqflo_plugin_sdk::http::{Request, Response, percent_encode};

use crate::Error;
use crate::chain::Issued;
use crate::settings::Credentials;

/// STS's API version, in every request.
const VERSION: &str = "2011-06-15";

/// What the environment, or a profile, names for a web identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The token's file.
    pub token_file: String,
    /// What named the file, for messages: `AWS_WEB_IDENTITY_TOKEN_FILE`
    /// (then `$AWS_WEB_IDENTITY_TOKEN_FILE` is what to grant), or a
    /// profile's `web_identity_token_file` (then its path is).
    pub named_by: String,
    /// The role to assume, `AWS_ROLE_ARN` or the profile's `role_arn`.
    pub role_arn: String,
    /// `AWS_ROLE_SESSION_NAME` (or the profile's `role_session_name`), or
    /// `reqflo`.
    pub session_name: String,
    /// STS's `scheme://host[:port]`: `AWS_ENDPOINT_URL_STS`, or the region's.
    pub sts: String,
}

impl WebIdentity {
    /// The web identity `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` name.
    pub fn from_env(
        token_file: String,
        role_arn: String,
        session_name: String,
        sts: String,
    ) -> Self {
        WebIdentity {
            token_file,
            named_by: "AWS_WEB_IDENTITY_TOKEN_FILE".into(),
            role_arn,
            session_name,
            sts,
        }
    }

    /// How messages name the exchange.
    pub fn what(&self) -> String {
        format!("STS at {} (web identity for {})", self.sts, self.role_arn)
    }

    /// The `AssumeRoleWithWebIdentity` request, with the token read now.
    pub fn request(&self) -> Result<Request, Error> {
        let token = files::read_text(&self.token_file, &self.named_by)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::Unavailable(format!(
                "the web identity token file {} is empty",
                self.token_file
            )));
        }
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&Version={VERSION}&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
            percent_encode(&self.role_arn),
            percent_encode(&self.session_name),
            percent_encode(token)
        );
        Ok(form(&self.sts, body))
    }

    /// The credentials in STS's XML answer, or what it refused.
    pub fn issued(&self, answer: &Response) -> Result<Issued, Error> {
        issued(
            answer,
            &self.what(),
            "refused the token",
            "check the role's trust policy and the token's audience",
        )
    }
}

/// A role a profile assumes with its `source_profile`'s keys.
#[derive(Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// The profile's `role_arn`.
    pub role_arn: String,
    /// Its `role_session_name`, or `reqflo`.
    pub session_name: String,
    /// Its `external_id`, when the role's trust policy asks for one.
    pub external_id: Option<String>,
    /// The profile, for messages.
    pub profile: String,
    /// STS's `scheme://host[:port]`.
    pub sts: String,
    /// The region the request is signed for.
    pub region: String,
    /// The source profile's keys, which sign the request.
    pub source: Credentials,
}

// By hand: the source's keys are never shown.
impl std::fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.role_arn)
            .field("profile", &self.profile)
            .field("sts", &self.sts)
            .finish_non_exhaustive()
    }
}

impl AssumeRole {
    /// How messages name the call.
    pub fn what(&self) -> String {
        format!(
            "STS at {} (AssumeRole of {} for AWS profile `{}`)",
            self.sts, self.role_arn, self.profile
        )
    }

    /// The `AssumeRole` request, signed at `time` with the source's keys.
    pub fn request(&self, time: SystemTime) -> Result<Request, Error> {
        let mut body = format!(
            "Action=AssumeRole&Version={VERSION}&RoleArn={}&RoleSessionName={}",
            percent_encode(&self.role_arn),
            percent_encode(&self.session_name),
        );
        if let Some(id) = &self.external_id {
            body.push_str(&format!("&ExternalId={}", percent_encode(id)));
        }
        let mut request = form(&self.sts, body);
        let signature = crate::sign::signature_headers(
            &request.url,
            &request.headers,
            &request.body,
            &self.region,
            "sts",
            &self.source,
            time,
        )?;
        request.headers.extend(signature);
        Ok(request)
    }

    /// The credentials in STS's XML answer, or what it refused.
    pub fn issued(&self, answer: &Response) -> Result<Issued, Error> {
        issued(
            answer,
            &self.what(),
            "refused the request",
            "check the role's trust policy and that the source profile may sts:AssumeRole it",
        )
    }
}

/// A form `POST` to STS.
fn form(sts: &str, body: String) -> Request {
    Request::post(format!("{sts}/"), body.into_bytes())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/xml")
}

/// The credentials in STS's XML answer to `what`, or its refusal: STS names
/// the error in `<Code>`; its `<Message>` is never shown.
fn issued(answer: &Response, what: &str, refused: &str, hint: &str) -> Result<Issued, Error> {
    let xml = String::from_utf8_lossy(&answer.body);
    if !answer.is_success() {
        let code = tag(&xml, "Code")
            .filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
            .unwrap_or("no error code");
        return Err(match answer.status {
            400 | 403 => Error::Denied(format!(
                "{what} {refused} ({}, {code}): {hint}",
                answer.status
            )),
            status => Error::Unavailable(format!("{what} answered {status} ({code})")),
        });
    }
    let credentials = tag(&xml, "Credentials").unwrap_or_default();
    let field = |name: &str| tag(credentials, name).map(unescape);
    match (field("AccessKeyId"), field("SecretAccessKey")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Issued {
            access_key_id,
            secret_access_key,
            token: field("SessionToken"),
            expiration: field("Expiration"),
        }),
        _ => Err(Error::Unavailable(format!(
            "{what} answered without credentials"
        ))),
    }
}

/// The text inside the first `<name>…</name>`.
fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + end].trim())
}

/// XML's five predefined entities (what a token's `+`/`/`/`=` never need,
/// but an escaper may still write).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::testing::refused;

    use super::*;

    fn identity(token_file: &str) -> WebIdentity {
        WebIdentity::from_env(
            token_file.into(),
            "arn:aws:iam::123456789012:role/app".into(),
            "reqflo".into(),
            "https://sts.eu-west-2.amazonaws.com".into(),
        )
    }

    const ANSWER: &str = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>\
        <Credentials><AccessKeyId>ASIAWEB1</AccessKeyId><SecretAccessKey>s3cret/k+y</SecretAccessKey>\
        <SessionToken>tok&amp;en</SessionToken><Expiration>2026-12-07T22:00:00Z</Expiration>\
        </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";

    #[test]
    fn the_token_file_is_read_and_sent_encoded() {
        let dir = std::env::temp_dir().join(format!("reqflo-sts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("token");
        std::fs::write(&file, "eyJ.a+b/c=\n").ok();
        let web = identity(&file.display().to_string());
        let request = web.request();
        let Ok(request) = request else {
            panic!("no request")
        };
        assert_eq!(request.url, "https://sts.eu-west-2.amazonaws.com/");
        let body = String::from_utf8_lossy(&request.body).into_owned();
        assert!(body.starts_with("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&"));
        assert!(body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp"));
        assert!(
            body.ends_with("WebIdentityToken=eyJ.a%2Bb%2Fc%3D"),
            "{body}"
        );
        std::fs::remove_dir_all(&dir).ok();

        let missing = refused(
            identity("/nonexistent/token").request().map(drop),
            "unavailable",
        );
        assert!(
            missing
                .contains("list `$AWS_WEB_IDENTITY_TOKEN_FILE` under the provider's grants.files")
        );
    }

    #[test]
    fn answers_become_credentials_or_a_named_refusal() {
        let web = identity("/t");
        let Ok(issued) = web.issued(&Response::new(200, ANSWER)) else {
            panic!("not parsed")
        };
        assert_eq!(
            (
                issued.access_key_id.as_str(),
                issued.secret_access_key.as_str(),
                issued.token.as_deref(),
                issued.expiration.as_deref()
            ),
            (
                "ASIAWEB1",
                "s3cret/k+y",
                Some("tok&en"),
                Some("2026-12-07T22:00:00Z")
            )
        );
        let denied = "<ErrorResponse><Error><Code>InvalidIdentityToken</Code>\
            <Message>the token eyJ.secret was bad</Message></Error></ErrorResponse>";
        let message = refused(web.issued(&Response::new(400, denied)).map(drop), "denied");
        assert!(message.contains("(400, InvalidIdentityToken)"), "{message}");
        assert!(!message.contains("eyJ"), "{message}");
        let broken = refused(
            web.issued(&Response::new(200, "<x/>")).map(drop),
            "unavailable",
        );
        assert!(broken.ends_with("answered without credentials"));
        let down = refused(web.issued(&Response::new(503, "")).map(drop), "unavailable");
        assert!(down.ends_with("answered 503 (no error code)"));
    }

    #[test]
    fn assume_role_is_signed_with_the_source_keys_for_sts() {
        let role = AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/app".into(),
            session_name: "ci-run".into(),
            external_id: Some("ext-1".into()),
            profile: "app".into(),
            sts: "http://127.0.0.1:5000".into(),
            region: "eu-west-2".into(),
            source: Credentials {
                access_key_id: "AKIDBASE".into(),
                secret_access_key: "base/Key".into(),
                session_token: None,
            },
        };
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_323_045);
        let request = reqflo_plugin_sdk::testing::accepted(role.request(time));
        assert_eq!(request.url, "http://127.0.0.1:5000/");
        let body = String::from_utf8_lossy(&request.body).into_owned();
        assert_eq!(
            body,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp\
             &RoleSessionName=ci-run&ExternalId=ext-1"
        );
        let authorization = request
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDBASE/20260102/eu-west-2/sts/aws4_request"
            ),
            "{authorization}"
        );
        assert!(!format!("{role:?}").contains("base/Key"));
        // STS's refusal names its code and what to check.
        let denied = Response::new(
            403,
            "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>",
        );
        let message = refused(role.issued(&denied).map(drop), "denied");
        assert!(
            message.contains("refused the request (403, AccessDenied)"),
            "{message}"
        );
    }
}
