//! Web identity (EKS IAM roles for service accounts, or any OIDC issuer AWS
//! trusts): the token in the file `AWS_WEB_IDENTITY_TOKEN_FILE` names,
//! exchanged at STS (`AssumeRoleWithWebIdentity`, which is not signed) for
//! temporary credentials of the role `AWS_ROLE_ARN`.
//!
//! The sandbox reads only files in the provider's `grants.files`, so the
//! token's file must be granted (`$AWS_WEB_IDENTITY_TOKEN_FILE` grants the
//! one the variable names). It is read again at each renewal: Kubernetes
//! rotates it.

use reqflo_plugin_sdk::http::{Request, Response, percent_encode};

use crate::Error;
use crate::chain::Issued;

/// What the environment names for a web identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The token's file, as `AWS_WEB_IDENTITY_TOKEN_FILE` names it.
    pub token_file: String,
    /// The role to assume, `AWS_ROLE_ARN`.
    pub role_arn: String,
    /// `AWS_ROLE_SESSION_NAME`, or `reqflo`.
    pub session_name: String,
    /// STS's `scheme://host[:port]`: `AWS_ENDPOINT_URL_STS`, or the region's.
    pub sts: String,
}

impl WebIdentity {
    /// How messages name the exchange.
    pub fn what(&self) -> String {
        format!("STS at {} (web identity for {})", self.sts, self.role_arn)
    }

    /// The `AssumeRoleWithWebIdentity` request, with the token read now.
    pub fn request(&self) -> Result<Request, Error> {
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    "it is not there, or not granted: list `$AWS_WEB_IDENTITY_TOKEN_FILE` \
                     under the provider's grants.files"
                        .to_string()
                }
                _ => format!("it cannot be read ({})", e.kind()),
            };
            Error::Unavailable(format!(
                "AWS_WEB_IDENTITY_TOKEN_FILE names {}, but {why}",
                self.token_file
            ))
        })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::Unavailable(format!(
                "the web identity token file {} is empty",
                self.token_file
            )));
        }
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
            percent_encode(&self.role_arn),
            percent_encode(&self.session_name),
            percent_encode(token)
        );
        Ok(Request::post(format!("{}/", self.sts), body.into_bytes())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/xml"))
    }

    /// The credentials in STS's XML answer, or what it refused.
    pub fn issued(&self, answer: &Response) -> Result<Issued, Error> {
        let xml = String::from_utf8_lossy(&answer.body);
        if !answer.is_success() {
            // STS names the error in <Code>; its <Message> is never shown.
            let code = tag(&xml, "Code")
                .filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
                .unwrap_or("no error code");
            let what = self.what();
            return Err(match answer.status {
                400 | 403 => Error::Denied(format!(
                    "{what} refused the token ({}, {code}): check the role's trust policy and \
                     the token's audience",
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
                "{} answered without credentials",
                self.what()
            ))),
        }
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
        WebIdentity {
            token_file: token_file.into(),
            role_arn: "arn:aws:iam::123456789012:role/app".into(),
            session_name: "reqflo".into(),
            sts: "https://sts.eu-west-2.amazonaws.com".into(),
        }
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
}
