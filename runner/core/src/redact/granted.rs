//! What a file granted to a provider (`grants.files`) teaches the redactor.
//!
//! Such a file is a credential, or holds some: a token file, a PEM key, an
//! AWS credentials file, a Google credentials JSON. Its whole text is a
//! secret, but a provider that echoes one part of it (a key from the
//! `[default]` profile, one line of a PEM block) must not show that part
//! either. So the redactor learns the text and the parts that are secrets
//! by how credential files write them: the values of secret-sounding keys
//! (`aws_secret_access_key = …`, `"refresh_token": "…"`), the body of a
//! private key and each of its lines. Names, regions, account e-mails, URLs
//! and certificates stay readable, so that errors can still name them.

use super::Redactor;

/// A part shorter than this is not learnt on its own (it would redact
/// common words); the whole text always is.
const MIN_PART: usize = 8;

impl Redactor {
    /// Learn a granted file's text (under `label`, e.g. `file /path`) and
    /// the secret parts in it. A file that is not UTF-8 is learnt whole.
    pub fn add_file(&self, label: &str, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            if !bytes.is_empty() {
                self.add(label, bytes);
            }
            return;
        };
        for part in secret_parts(text) {
            self.add(label, part.as_bytes());
        }
    }
}

/// The trimmed text, then each secret part of it (see the module's doc), in
/// order, without repeats and without parts under [`MIN_PART`] bytes.
pub fn secret_parts(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let whole = text.trim();
    if !whole.is_empty() {
        parts.push(whole.to_owned());
    }
    match serde_json::from_str::<serde_json::Value>(whole) {
        Ok(json) => json_parts(&json, false, &mut parts),
        Err(_) => {
            for line in whole.lines() {
                for value in assigned_secret(line).into_iter().flatten() {
                    parts.push(value.to_owned());
                }
            }
            pem_parts(whole, &mut parts);
        }
    }
    let mut seen = std::collections::HashSet::new();
    parts.retain(|part| part.len() >= MIN_PART && seen.insert(part.clone()));
    parts
}

/// Whether a key names a secret: `client_secret`, `secret_id`,
/// `refresh_token`, `private_key`, `aws_session_token`, `password`. Not
/// `key` alone, nor a public ID (`aws_access_key_id`, `private_key_id`),
/// nor where a secret is (`web_identity_token_file`, `token_uri`): errors
/// name those.
fn secret_key(key: &str) -> bool {
    const PUBLIC: [&str; 5] = [
        "access_key_id",
        "key_id",
        "client_id",
        "role_id",
        "tenant_id",
    ];
    const PLACES: [&str; 6] = ["_file", "_path", "_uri", "_url", "_type", "_endpoint"];
    const SECRET: [&str; 8] = [
        "secret",
        "token",
        "password",
        "passwd",
        "passphrase",
        "private",
        "apikey",
        "api_key",
    ];
    let key = key.to_ascii_lowercase();
    !PUBLIC.iter().any(|id| key.ends_with(id))
        && !PLACES.iter().any(|place| key.ends_with(place))
        && SECRET.iter().any(|word| key.contains(word))
}

/// Whether a value is an address or a type name rather than a secret
/// (`token_uri`, `subject_token_type: urn:ietf:…`).
fn names_a_place(value: &str) -> bool {
    ["http://", "https://", "urn:", "file:"]
        .iter()
        .any(|scheme| value.starts_with(scheme))
}

/// The value of a `key = value`, `key: value` or `KEY=value` line whose key
/// names a secret, its quotes taken off; and, when it holds one, the value
/// before an inline comment (` ;` or ` #`, as AWS's files allow). Both are
/// learnt: a password may hold a `#` itself.
fn assigned_secret(line: &str) -> Option<[&str; 2]> {
    let line = line.trim();
    let line = line.strip_prefix("export ").unwrap_or(line);
    let at = line.find(['=', ':'])?;
    let (key, value) = (line[..at].trim(), line[at + 1..].trim());
    if !secret_key(key) {
        return None;
    }
    let comment = value
        .match_indices([';', '#'])
        .find(|(i, _)| value[..*i].ends_with([' ', '\t']))
        .map_or(value.len(), |(i, _)| i);
    let values = [unquoted(value), unquoted(value[..comment].trim())];
    (!names_a_place(values[1])).then_some(values)
}

/// `value` without the quotes around it, if it has them.
fn unquoted(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
}

/// The string values of `json` under secret-sounding keys (everything under
/// such a key, when `secret` is set), and the parts of any PEM key in them.
fn json_parts(json: &serde_json::Value, secret: bool, out: &mut Vec<String>) {
    match json {
        serde_json::Value::String(value) => {
            if secret && !names_a_place(value) {
                out.push(value.trim().to_owned());
            }
            pem_parts(value, out);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                json_parts(item, secret, out);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                json_parts(value, secret || secret_key(key), out);
            }
        }
        _ => {}
    }
}

/// The body of each private key block in `text` (its base64, lines joined)
/// and each of its lines. Certificates are public and stay readable.
fn pem_parts(text: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin + "-----BEGIN ".len()..];
        // The label ends on its own line; a BEGIN line that lost its dashes
        // (a damaged key) is taken for a key's, so its lines are learnt.
        let line_end = after.find('\n').unwrap_or(after.len());
        let (label, body) = match after[..line_end].find("-----") {
            Some(end) => (&after[..end], &after[end + "-----".len()..]),
            None => ("PRIVATE KEY", &after[line_end..]),
        };
        let end = body.find("-----END ").unwrap_or(body.len());
        if label.ends_with("PRIVATE KEY") {
            let lines: Vec<&str> = body[..end]
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.contains(':'))
                .collect();
            out.push(lines.concat());
            out.extend(lines.iter().map(|line| (*line).to_owned()));
        }
        rest = &body[end..];
        // Past this block's END line, to look for the next block.
        rest = rest.get("-----END ".len()..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUPublicPublic\n-----END CERTIFICATE-----\n";

    #[test]
    fn an_aws_credentials_file_gives_its_secret_values_not_its_names() {
        let text = "[default]\naws_access_key_id = AKIAEXAMPLEKEYID0001\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n[profile ci]\nregion = us-east-1\naws_session_token=\"FwoGZXIvYXdzEBYaDExampleSessionToken\"\n";
        let parts = secret_parts(text);
        assert_eq!(parts[0], text.trim());
        assert_eq!(
            parts[1..],
            [
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "FwoGZXIvYXdzEBYaDExampleSessionToken"
            ]
        );
    }

    #[test]
    fn a_google_credentials_file_gives_its_key_and_tokens_not_its_account_or_urls() {
        let json = serde_json::json!({
            "type": "service_account",
            "client_email": "deployer@acme.iam.gserviceaccount.com",
            "private_key_id": "0123456789abcdef",
            "private_key": PEM_KEY,
            "token_uri": "https://oauth2.googleapis.com/token",
            "credential_source": {"file": "/var/run/token", "format": {"type": "text"}},
            "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt"
        });
        let parts = secret_parts(&json.to_string());
        for secret in [
            PEM_KEY.trim(),
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
            "d-FL95Q19q7MQmFpd7hHD0Ty",
        ] {
            assert!(
                parts.iter().any(|p| p == secret),
                "{secret} missing from {parts:?}"
            );
        }
        for public in [
            "0123456789abcdef",
            "/var/run/token",
            "deployer@acme.iam.gserviceaccount.com",
            "https://oauth2.googleapis.com/token",
            "service_account",
            "urn:ietf:params:oauth:token-type:jwt",
        ] {
            assert!(!parts.iter().any(|p| p == public), "{public} learnt");
        }
    }

    #[test]
    fn a_pem_file_gives_its_key_lines_and_leaves_its_certificate() {
        let parts = secret_parts(&format!("{CERT}{PEM_KEY}"));
        assert!(
            parts
                .iter()
                .any(|p| p == "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj")
        );
        assert!(
            !parts.iter().any(|p| p.contains("Public") && p.len() < 40),
            "{parts:?}"
        );
    }

    #[test]
    fn secret_ids_and_commented_values_are_learnt_and_places_are_not() {
        let text = "role_id = 8e4b0c1d-public-role\nsecret_id = 1f0e2d3c-secret-0042 ; rotated weekly\nweb_identity_token_file = /var/run/secrets/token\npassword = pass#word;99\n";
        let parts = secret_parts(text);
        assert_eq!(
            parts[1..],
            [
                "1f0e2d3c-secret-0042 ; rotated weekly",
                "1f0e2d3c-secret-0042",
                "pass#word;99"
            ]
        );
        // A key whose BEGIN line lost its dashes: its lines are still learnt.
        let damaged = PEM_KEY.replacen("PRIVATE KEY-----\n", "PRIVATE KEY\n", 1);
        assert!(
            secret_parts(&damaged)
                .iter()
                .any(|p| p == "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj")
        );
    }

    #[test]
    fn a_token_file_is_its_trimmed_text_and_short_parts_are_not_learnt() {
        assert_eq!(
            secret_parts("  eyJhbGciOi.payload.sig\n"),
            ["eyJhbGciOi.payload.sig"]
        );
        assert!(secret_parts("\n \n").is_empty());
        // `password: hunter` is a secret too short to learn alone; the whole text is.
        assert_eq!(
            secret_parts("user: ann\npassword: hunter"),
            ["user: ann\npassword: hunter"]
        );
    }

    #[test]
    fn a_redactor_taught_a_file_hides_each_part_wherever_it_shows() {
        let redactor = Redactor::default();
        let text = "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion = eu-west-1\n";
        redactor.add_file("file creds", text.as_bytes());
        use base64::Engine as _;
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        let text = format!("signing with {key} in eu-west-1 ({encoded})");
        let shown = redactor.redact(&text);
        assert!(
            !shown.contains("wJalrXUtnFEMI") && !shown.contains(&encoded[..20]),
            "{shown}"
        );
        assert!(shown.contains("eu-west-1"), "{shown}");
        let binary = [0xff, 0xfe, b's', b'e', b'c', b'r', b'e', b't', b'!', b'!'];
        redactor.add_file("file blob", &binary);
        assert!(redactor.redact_bytes(&binary).as_ref() != binary);
    }
}
