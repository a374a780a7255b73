//! Credentials written as literals: an upload holding what looks like a key
//! is refused with where, and a hint to make it a secret reference (as
//! Buildkite refuses interpolated secrets in pipeline uploads); an import
//! turns such a value into a secret reference by name.
//!
//! Two kinds of evidence: a token whose shape is a known credential format
//! (provider prefixes, AWS key ids, JWTs, PEM private keys, our own API
//! tokens), and a literal of credential length under a key whose name says
//! credential (`password`, `api_key`, `Authorization: Bearer …`). A
//! placeholder (`{{…}}`) or a value-source mapping is never one.

/// Prefixes of well-known credential formats.
const PREFIXES: &[&str] = &[
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "AIza",
    "rqf_",
    "hvs.",
    "s.",
];

/// Key names that say "this is a credential".
const KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "private_key",
    "client_secret",
    "access_key",
    "credential",
];

/// The first credential-looking literal in `text` (the file at `path`), as
/// `path:line:column: …` with a hint. Never quotes the literal itself.
pub fn find(path: &str, text: &str) -> Option<String> {
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((column, what)) = in_line(line) {
            return Some(format!(
                "{path}:{}:{}: this looks like a credential written as a literal ({what}); make it a secret reference, e.g. `{{type: secret, name: MY_API_KEY}}`, and have an admin register MY_API_KEY",
                n + 1,
                column + 1
            ));
        }
    }
    None
}

fn in_line(line: &str) -> Option<(usize, &'static str)> {
    if line.contains("-----BEGIN") && line.contains("PRIVATE KEY") {
        return line.find("-----BEGIN").map(|c| (c, "a PEM private key"));
    }
    for (start, word) in words(line) {
        if let Some(what) = shaped(word) {
            return Some((start, what));
        }
    }
    // `key: literal`, where the key names a credential.
    let (key, value) = line.split_once(':')?;
    let key = key
        .trim()
        .trim_start_matches("- ")
        .trim_matches(['"', '\''])
        .to_ascii_lowercase();
    let value_start = line.len() - value.len();
    let value = value.trim();
    let unquoted = value.trim_matches(['"', '\'']);
    if unquoted.contains("{{") || value.starts_with('{') || value.starts_with('[') {
        return None;
    }
    let offset = value_start + (line[value_start..].len() - line[value_start..].trim_start().len());
    if key == "authorization" {
        let token = unquoted
            .strip_prefix("Bearer ")
            .or_else(|| unquoted.strip_prefix("Basic "))
            .or_else(|| unquoted.strip_prefix("Token "))?;
        return (token.trim().len() >= 8)
            .then_some((offset, "an Authorization header with a literal credential"));
    }
    // A URL or a JSONPath under `token_url:` or `token:` is where, not what.
    if unquoted.contains("://") || unquoted.starts_with('$') {
        return None;
    }
    let named = KEY_WORDS.iter().any(|w| key.contains(w));
    if named && looks_random(unquoted) {
        return Some((offset, "a literal under a credential's key name"));
    }
    None
}

/// Whether a field, header or parameter named `key` holds a credential by
/// its name (`password`, `api_key`, `Authorization`, `X-Auth-Token`…).
pub fn named_credential(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "authorization"
        || key == "proxy-authorization"
        || key.ends_with("key")
        || KEY_WORDS.iter().any(|w| key.contains(w))
}

/// Whether one literal value looks like a credential (the UI's paste
/// guard): a known key format, a PEM private key, or a long value with the
/// randomness of a generated key. Says what it looks like, never the value.
pub fn shaped_like_credential(text: &str) -> Option<&'static str> {
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return Some("a PEM private key");
    }
    if let Some(what) = words(text).find_map(|(_, word)| shaped(word)) {
        return Some(what);
    }
    let token = text.trim();
    let random = token.len() >= 24
        && !token.contains(char::is_whitespace)
        && looks_random(token)
        && entropy(token) >= 4.0;
    random.then_some("a long random-looking value")
}

/// Shannon entropy of the characters, in bits per character.
fn entropy(text: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in text.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = text.chars().count() as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Words of credential alphabet, with where each starts.
fn words(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let is_word =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=');
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (is_word(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out.into_iter()
}

fn shaped(word: &str) -> Option<&'static str> {
    let word = word.trim_matches(['.', '-', '/', '=']);
    if PREFIXES.iter().any(|p| {
        word.starts_with(p) && word.len() >= p.len() + 12 && looks_random(&word[p.len()..])
    }) {
        return Some("a known key format");
    }
    let aws = |w: &str| {
        (w.starts_with("AKIA") || w.starts_with("ASIA"))
            && w.len() == 20
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if aws(word) {
        return Some("an AWS access key id");
    }
    let parts: Vec<&str> = word.split('.').collect();
    if parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts[2].len() >= 16
    {
        return Some("a JSON Web Token");
    }
    None
}

/// At least 12 characters mixing letters and digits, no spaces: the shape
/// of a generated key rather than a word or a setting.
fn looks_random(text: &str) -> bool {
    text.len() >= 12
        && !text.contains(' ')
        && text.chars().any(|c| c.is_ascii_digit())
        && text.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn literals_that_look_like_keys_are_found_with_their_place() {
        let cases = [
            (
                "headers:\n  Authorization: Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc\n",
                2,
            ),
            ("values:\n  key: AKIAIOSFODNN7EXAMPLE\n", 2),
            ("values:\n  password: \"hunter2hunter2x9\"\n", 2),
            (
                "values:\n  t: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop1234\n",
                2,
            ),
            ("x: 1\nbody: |\n  -----BEGIN RSA PRIVATE KEY-----\n", 3),
            (
                "headers:\n  Authorization: \"Basic dXNlcjpwYXNzd29yZA==\"\n",
                2,
            ),
        ];
        for (text, line) in cases {
            let found =
                find("journeys/j.yaml", text).unwrap_or_else(|| panic!("not found in {text}"));
            assert!(
                found.starts_with(&format!("journeys/j.yaml:{line}:")),
                "{found}"
            );
            assert!(found.contains("secret reference"), "{found}");
            for secret in [
                "4eC39HqLyjWD",
                "IOSFODNN7",
                "hunter2",
                "eyJzdWIi",
                "dXNlcjpw",
            ] {
                assert!(!found.contains(secret), "{found}");
            }
        }
    }

    #[test]
    fn the_paste_guard_knows_keys_from_words() {
        use super::shaped_like_credential as guard;
        assert!(guard("sk_live_4eC39HqLyjWDarjtT1zdp7dc").is_some());
        assert!(guard("AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(guard("q8Zr2mP0xVt7LwK3nB9sYh4dGc1fJe6a").is_some());
        for plain in [
            "usd",
            "1000",
            "hello world, this is a sentence",
            "payment-flow-2026-12-07",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
        ] {
            assert_eq!(guard(plain), None, "{plain}");
        }
    }

    #[test]
    fn references_placeholders_and_settings_are_not_credentials() {
        for text in [
            "headers:\n  Authorization: \"Bearer {{Authorization}}\"\n",
            "values:\n  Authorization: {type: secret, name: PAYMENTS_API_KEY}\n",
            "capture:\n  session_token: {jsonpath: $.token, secret: true}\n",
            "values:\n  token_url: http://127.0.0.1:8080/token\n",
            "# password: sk_live_4eC39HqLyjWDarjtT1zdp7dc\n",
            "values:\n  password_policy: strict\n",
            "json: {amount: \"{{amount}}\", currency: usd}\n",
        ] {
            assert_eq!(find("t.yaml", text), None, "{text}");
        }
    }
}
