//! Credentials from an endpoint, as the AWS SDKs' default chain ends on
//! AWS: a web identity exchanged at STS ([`crate::sts`]) or a profile's role
//! assumed there, the ECS/EKS
//! container credentials endpoint, or EC2's instance metadata service
//! (IMDSv2: a session token first, then the role's credentials). Renewed
//! five minutes before they expire.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqflo_plugin_sdk::http::{Method, Request, Response, Transport, is_header_token};
use reqflo_plugin_sdk::renew;
use serde::Deserialize;

use crate::Error;
use crate::settings::{Connection, Credentials, Source};

/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`, as both
/// endpoints write them (STS's XML is read into the same). No `Debug`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Issued {
    /// The key ID.
    pub access_key_id: String,
    /// The signing key.
    pub secret_access_key: String,
    /// The session token.
    pub token: Option<String>,
    /// When they expire (RFC 3339).
    pub expiration: Option<String>,
}

/// Make sure `connection` holds credentials good for a while: fetched from
/// its endpoint when there are none or they are about to expire. Keys from
/// the environment are left as they are.
pub fn fresh(
    connection: &mut Connection,
    transport: &mut impl Transport,
    now: SystemTime,
) -> Result<(), Error> {
    let fresh = !connection.credentials.access_key_id.is_empty()
        && connection
            .expires
            .is_none_or(|expires| now < renew::before(expires));
    if fresh {
        return Ok(());
    }
    let issued = match &connection.source {
        Source::Environment | Source::Profile(_) => return Ok(()),
        Source::WebIdentity(web) => {
            let what = web.what();
            let answer = send_request(transport, web.request()?, &what)?;
            web.issued(&answer)?
        }
        Source::AssumeRole(role) => {
            let what = role.what();
            let answer = send_request(transport, role.request(now)?, &what)?;
            role.issued(&answer)?
        }
        Source::Container { url, authorization } => {
            let what = format!("the container credentials endpoint at {}", origin_of(url));
            let mut headers = vec![("accept".to_string(), "application/json".to_string())];
            if let Some(token) = authorization {
                headers.push(("authorization".to_string(), token.clone()));
            }
            let answer = send(transport, Method::Get, url, headers, &what)?;
            expect_ok(&answer, &what)?;
            parse(&answer.body, &what)?
        }
        Source::Instance { endpoint } => {
            let what = format!("the instance metadata service at {endpoint}");
            let session = send(
                transport,
                Method::Put,
                &format!("{endpoint}/latest/api/token"),
                vec![(
                    "x-aws-ec2-metadata-token-ttl-seconds".to_string(),
                    "21600".to_string(),
                )],
                &what,
            )?;
            expect_ok(&session, &what)?;
            let token = String::from_utf8(session.body)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| is_header_token(t))
                .ok_or_else(|| {
                    Error::Unavailable(format!("{what} gave no usable session token"))
                })?;
            let with_token = || vec![("x-aws-ec2-metadata-token".to_string(), token.clone())];
            let base = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
            let roles = send(transport, Method::Get, &base, with_token(), &what)?;
            if roles.status == 404 {
                return Err(Error::Denied(format!(
                    "{what} has no role for this instance (404): attach an instance profile"
                )));
            }
            expect_ok(&roles, &what)?;
            let role = String::from_utf8_lossy(&roles.body)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .filter(|r| {
                    r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
                })
                .map(str::to_string)
                .ok_or_else(|| Error::Unavailable(format!("{what} named no usable role")))?;
            let answer = send(
                transport,
                Method::Get,
                &format!("{base}{role}"),
                with_token(),
                &what,
            )?;
            expect_ok(&answer, &what)?;
            parse(&answer.body, &what)?
        }
    };
    if !issued
        .access_key_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric())
        || !is_header_token(&issued.secret_access_key)
        || issued.token.as_deref().is_some_and(|t| !is_header_token(t))
    {
        return Err(Error::Unavailable(
            "the credential endpoint gave credentials an HTTP header cannot carry".into(),
        ));
    }
    connection.expires = issued.expiration.as_deref().and_then(rfc3339);
    connection.credentials = Credentials {
        access_key_id: issued.access_key_id,
        secret_access_key: issued.secret_access_key,
        session_token: issued.token.filter(|t| !t.is_empty()),
    };
    Ok(())
}

fn send(
    transport: &mut impl Transport,
    method: Method,
    url: &str,
    headers: Vec<(String, String)>,
    what: &str,
) -> Result<Response, Error> {
    let mut request = Request::new(method, url);
    request.headers = headers;
    send_request(transport, request, what)
}

fn send_request(
    transport: &mut impl Transport,
    request: Request,
    what: &str,
) -> Result<Response, Error> {
    transport
        .send(request, crate::wire::limits())
        .map_err(|failure| {
            let why = failure.reason();
            Error::Unavailable(format!(
                "no AWS credentials: {what} could not be asked ({why})"
            ))
        })
}

fn expect_ok(answer: &Response, what: &str) -> Result<(), Error> {
    match answer.status {
        200..=299 => Ok(()),
        401 | 403 => Err(Error::Denied(format!(
            "{what} refused the request ({})",
            answer.status
        ))),
        status => Err(Error::Unavailable(format!("{what} answered {status}"))),
    }
}

fn parse(body: &[u8], what: &str) -> Result<Issued, Error> {
    serde_json::from_slice(body).map_err(|_| {
        Error::Unavailable(format!(
            "{what} answered something that is not its credentials JSON"
        ))
    })
}

/// `scheme://host[:port]` of `url`, for messages (a path may carry anything).
fn origin_of(url: &str) -> &str {
    match url
        .find("://")
        .and_then(|at| url[at + 3..].find('/').map(|p| at + 3 + p))
    {
        Some(path) => &url[..path],
        None => url,
    }
}

/// `2026-12-07T20:00:00Z` (fractions and `+00:00` allowed) as a time.
fn rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut date = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let time = time.trim_end_matches(['Z', 'z']).trim_end_matches("+00:00");
    let mut hms = time.split(':');
    let (h, mi) = (
        hms.next()?.parse::<i64>().ok()?,
        hms.next()?.parse::<i64>().ok()?,
    );
    let s = hms.next()?.split('.').next()?.parse::<i64>().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3_600 + mi * 60 + s;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::http::Scripted;

    use super::*;

    fn connection(source: Source) -> Connection {
        Connection {
            region: "eu-west-2".into(),
            endpoint: crate::endpoint::for_region("eu-west-2"),
            credentials: Credentials::none(),
            source,
            expires: None,
        }
    }

    const KEYS: &str = r#"{"AccessKeyId": "ASIAFAKE1", "SecretAccessKey": "s3cret/key", "Token": "tok", "Expiration": "2026-12-07T20:00:00Z"}"#;

    /// Whether request `n` carried header `name` with `value`.
    fn carried(fake: &Scripted, n: usize, name: &str, value: &str) -> bool {
        fake.sent()
            .nth(n)
            .is_some_and(|r| r.headers.contains(&(name.to_string(), value.to_string())))
    }

    #[test]
    fn imds_v2_asks_a_session_token_then_the_roles_credentials() {
        let endpoint = "http://127.0.0.1:1338";
        let mut fake = Scripted::new();
        for (path, body) in [
            ("/latest/api/token", "imds-session"),
            ("/latest/meta-data/iam/security-credentials/", "my-role\n"),
            ("/latest/meta-data/iam/security-credentials/my-role", KEYS),
        ] {
            fake.add(format!("{endpoint}{path}"), Ok(Response::new(200, body)));
        }
        let mut c = connection(Source::Instance {
            endpoint: endpoint.into(),
        });
        let now = UNIX_EPOCH + Duration::from_secs(1_796_670_000);
        assert!(fresh(&mut c, &mut fake, now).is_ok());
        assert_eq!(c.credentials.access_key_id, "ASIAFAKE1");
        assert_eq!(c.credentials.session_token.as_deref(), Some("tok"));
        assert_eq!(fake.asked()[0].0, Method::Put);
        assert!(carried(
            &fake,
            0,
            "x-aws-ec2-metadata-token-ttl-seconds",
            "21600"
        ));
        assert!(carried(
            &fake,
            2,
            "x-aws-ec2-metadata-token",
            "imds-session"
        ));
        assert_eq!(fake.limits()[0], crate::wire::limits());
        // An hour before expiry: kept. Four minutes before: renewed.
        assert!(fresh(&mut c, &mut fake, now).is_ok());
        assert_eq!(fake.urls().len(), 3);
        let late = UNIX_EPOCH + Duration::from_secs(1_796_673_600 - 240);
        assert!(fresh(&mut c, &mut fake, late).is_ok());
        assert_eq!(fake.urls().len(), 6);
    }

    #[test]
    fn the_container_endpoint_gets_its_token_and_refusals_are_said() {
        let url = "http://127.0.0.1:1339/v2/credentials/task";
        let mut fake = Scripted::new().answer(url, 200, KEYS);
        let mut c = connection(Source::Container {
            url: url.into(),
            authorization: Some("auth-token".into()),
        });
        assert!(fresh(&mut c, &mut fake, UNIX_EPOCH).is_ok());
        assert!(carried(&fake, 0, "authorization", "auth-token"));
        assert!(carried(&fake, 0, "accept", "application/json"));
        let mut fake = Scripted::new().answer(url, 403, "");
        let mut c = connection(Source::Container {
            url: url.into(),
            authorization: None,
        });
        let e = fresh(&mut c, &mut fake, UNIX_EPOCH).err();
        assert!(e.is_some_and(|e| e.kind() == "denied"
            && e.message() == "the container credentials endpoint at http://127.0.0.1:1339 refused the request (403)"));
        // Not granted: said, naming the endpoint and what to grant.
        let mut c = connection(Source::Instance {
            endpoint: "http://169.254.169.254".into(),
        });
        let e = fresh(&mut c, &mut Scripted::new(), UNIX_EPOCH).err();
        assert!(e.is_some_and(
            |e| e.message().contains("169.254.169.254") && e.message().contains("grants.hosts")
        ));
    }

    #[test]
    fn a_web_identity_is_exchanged_at_sts_and_renewed_from_the_file() {
        let file = std::env::temp_dir().join(format!("reqflo-web-token-{}", std::process::id()));
        std::fs::write(&file, "first.jwt").ok();
        let sts = "http://127.0.0.1:1340";
        let answer = |key: &str| {
            format!(
                "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
                 <AccessKeyId>{key}</AccessKeyId><SecretAccessKey>sk</SecretAccessKey>\
                 <SessionToken>st</SessionToken><Expiration>2026-12-07T21:00:00Z</Expiration>\
                 </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
            )
        };
        let mut fake = Scripted::new()
            .answer(format!("{sts}/"), 200, answer("ASIAONE"))
            .answer(format!("{sts}/"), 200, answer("ASIATWO"));
        let mut c = connection(Source::WebIdentity(crate::sts::WebIdentity::from_env(
            file.display().to_string(),
            "arn:aws:iam::123456789012:role/app".into(),
            "reqflo".into(),
            sts.into(),
        )));
        let expires = rfc3339("2026-12-07T21:00:00Z").unwrap_or(UNIX_EPOCH);
        assert!(fresh(&mut c, &mut fake, expires - Duration::from_secs(3600)).is_ok());
        assert_eq!(c.credentials.access_key_id, "ASIAONE");
        assert_eq!(c.expires, Some(expires));
        // Good for an hour: not asked again; near the end, renewed with the
        // token the file holds then (Kubernetes rotates it).
        assert!(fresh(&mut c, &mut fake, expires - Duration::from_secs(1800)).is_ok());
        assert_eq!(fake.urls().len(), 1);
        std::fs::write(&file, "second.jwt").ok();
        assert!(fresh(&mut c, &mut fake, expires - Duration::from_secs(60)).is_ok());
        assert_eq!(c.credentials.access_key_id, "ASIATWO");
        let bodies: Vec<String> = fake
            .sent()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        assert!(bodies[0].ends_with("WebIdentityToken=first.jwt"));
        assert!(bodies[1].ends_with("WebIdentityToken=second.jwt"));
        std::fs::remove_file(&file).ok();
    }

    #[test]
    fn rfc3339_reads_what_the_endpoints_write() {
        assert_eq!(
            rfc3339("1970-01-02T00:00:01Z"),
            Some(UNIX_EPOCH + Duration::from_secs(86_401))
        );
        assert_eq!(
            rfc3339("2026-12-07T20:00:00.123+00:00"),
            Some(UNIX_EPOCH + Duration::from_secs(1_796_673_600))
        );
        assert_eq!(rfc3339("tomorrow"), None);
        assert_eq!(rfc3339("2026-13-07T20:00:00Z"), None);
    }
}
