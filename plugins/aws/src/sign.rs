//! SigV4 for one request (to Secrets Manager, or STS's `AssumeRole`), by
//! AWS's own signer (`aws-sigv4`).
//!
//! The signature covers the method, the URL (so the host and port the host
//! will send in `Host`), `content-type`, `x-amz-target`, the date, the
//! session token when there is one, and the body's SHA-256. The secret
//! access key only ever feeds the HMAC; it is never sent.

use std::time::SystemTime;

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::Error;
use crate::settings::Credentials;

/// Secrets Manager's name in the signature's scope.
pub const SERVICE: &str = "secretsmanager";

/// The headers to add to a `POST url` carrying `headers` and `body`:
/// `x-amz-date`, `authorization` and, for temporary credentials,
/// `x-amz-security-token`. `headers` are signed as given; `service` is the
/// scope's service name.
pub fn signature_headers(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    region: &str,
    service: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<Vec<(String, String)>, Error> {
    // No detail from the signer's error: it is about this plugin's own
    // request (a bug, not the user's), and it should never carry anything
    // from the credentials anyway.
    let failed = |_| Error::Unavailable("reqflo could not sign the request to AWS".into());
    let identity: Identity = AwsCredentials::new(
        credentials.access_key_id.as_str(),
        credentials.secret_access_key.as_str(),
        credentials.session_token.clone(),
        None,
        "reqflo",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| Error::Unavailable("reqflo could not sign the request to AWS".into()))?
        .into();
    let request = SignableRequest::new(
        "POST",
        url,
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(failed)?;
    let (instructions, _signature) = sign(request, &params).map_err(failed)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// The credentials of AWS's documentation examples.
    fn credentials(session_token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: session_token.map(str::to_string),
        }
    }

    fn signed(session_token: Option<&str>) -> Vec<(String, String)> {
        let headers = vec![
            (
                "content-type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            (
                "x-amz-target".to_string(),
                "secretsmanager.GetSecretValue".to_string(),
            ),
        ];
        // 2026-01-02T03:04:05Z.
        let time = UNIX_EPOCH + Duration::from_secs(1_767_323_045);
        match signature_headers(
            "http://127.0.0.1:4566/",
            &headers,
            br#"{"SecretId":"prod/db"}"#,
            "eu-west-2",
            SERVICE,
            &credentials(session_token),
            time,
        ) {
            Ok(headers) => headers,
            Err(e) => panic!("{}", e.message()),
        }
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    // The expected signatures were computed independently, by botocore's
    // SigV4Auth (the signer of the AWS CLI and boto3) over the same request,
    // with `get_current_datetime` pinned to the same instant. Agreement with
    // a second implementation is what makes moto (and AWS) accept it; the
    // integration tests then prove it against a real moto.
    #[test]
    fn agrees_with_botocore() {
        let headers = signed(None);
        assert_eq!(header(&headers, "x-amz-date"), Some("20260102T030405Z"));
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-2/secretsmanager/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
                 Signature=819ec3de2ba35eb4182c5239b1f0bd7813ea362581ce20da2f2cbd065017fe86"
            )
        );
        assert_eq!(header(&headers, "x-amz-security-token"), None);
    }

    #[test]
    fn a_session_token_is_signed_and_sent() {
        let headers = signed(Some("FwoGZXIvYXdzEXAMPLETOKEN=="));
        assert_eq!(
            header(&headers, "x-amz-security-token"),
            Some("FwoGZXIvYXdzEXAMPLETOKEN==")
        );
        assert_eq!(
            header(&headers, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-2/secretsmanager/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
                 Signature=4cc894d97108353519237d4d3ccd4c1580aab9cf94f5b90d3d5b504710cd5d72"
            )
        );
    }

    #[test]
    fn the_secret_key_is_never_in_a_header() {
        for token in [None, Some("tok")] {
            for (_, value) in signed(token) {
                assert!(!value.contains("wJalrXUtnFEMI"), "{value}");
            }
        }
    }
}
