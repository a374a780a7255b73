//! `reqflo import curl '<command>'`: a curl command line (as API docs and
//! browsers' "copy as cURL" write it) made into a template and a journey.
//! A value that looks like a credential (an `Authorization` header, a
//! `token`/`key`/`password` field or parameter, a known key format) is never
//! written: it becomes a placeholder filled by a secret by name, listed for
//! the user to register. Options reqflo cannot express are reported, not
//! dropped.

use serde_json::Value;

use super::Imported;
use super::fills::{Fills, body, credential_header, is_credential};

/// Options that take an argument reqflo has no use for, with why.
const IGNORED_WITH_ARGUMENT: &[(&str, &str)] = &[
    ("-o", "the response is reported, not saved"),
    ("--output", "the response is reported, not saved"),
    ("-m", "use `--timeout` on `reqflo run`"),
    ("--max-time", "use `--timeout` on `reqflo run`"),
    ("--connect-timeout", "use `--timeout` on `reqflo run`"),
    ("--retry", "use `retries:` on the step"),
    ("-w", "the report has the timings"),
    ("--write-out", "the report has the timings"),
];

/// Options without an argument reqflo does not follow, with why.
const IGNORED: &[(&str, &str)] = &[
    ("-s", ""),
    ("--silent", ""),
    ("-S", ""),
    ("--show-error", ""),
    ("-i", ""),
    ("--include", ""),
    ("-v", "use `reqflo run -v`"),
    ("--verbose", "use `reqflo run -v`"),
    ("--compressed", ""),
    ("-f", "a failed status fails the step's `expect:`"),
    ("--fail", "a failed status fails the step's `expect:`"),
    ("-k", "reqflo always verifies TLS certificates"),
    ("--insecure", "reqflo always verifies TLS certificates"),
    ("-L", "write `follow_redirects: true` on the step"),
    ("--location", "write `follow_redirects: true` on the step"),
    ("--http1.1", ""),
    ("--http2", ""),
];

/// A curl command line as a template and a one-step journey named `name`.
pub fn import(command: &str, name: &str) -> Result<Imported, String> {
    // Commands copied from docs are wrapped with `\` at line ends (and
    // from Windows ones with `^`): a shell joins those lines.
    let joined = command
        .replace("\\\r\n", " ")
        .replace("\\\n", " ")
        .replace("^\r\n", " ")
        .replace("^\n", " ");
    let words = shlex::split(joined.trim())
        .ok_or("the command could not be split into words (an unclosed quote?)")?;
    let mut words = words.into_iter().peekable();
    if words.peek().is_some_and(|w| w == "curl") {
        words.next();
    }
    let mut request = Request::default();
    while let Some(word) = words.next() {
        let mut value = |option: &str| {
            words
                .next()
                .ok_or_else(|| format!("`{option}` needs a value"))
        };
        match word.as_str() {
            "-X" | "--request" => request.method = Some(value(&word)?.to_ascii_uppercase()),
            "-H" | "--header" => {
                let header = value(&word)?;
                let (name, text) = header
                    .split_once(':')
                    .ok_or_else(|| "a header is `Name: value`".to_string())?;
                request
                    .headers
                    .push((name.trim().to_string(), text.trim().to_string()));
            }
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-ascii" => {
                request.data.push(value(&word)?);
            }
            "--data-urlencode" => {
                let pair = value(&word)?;
                let encoded = match pair.split_once('=') {
                    Some((k, v)) => format!("{k}={}", encode(v)),
                    None => encode(&pair),
                };
                request.data.push(encoded);
            }
            "--json" => {
                request.data.push(value(&word)?);
                request.json = true;
            }
            "-u" | "--user" => request.user = Some(value(&word)?),
            "-G" | "--get" => request.get = true,
            "-A" | "--user-agent" => request.headers.push(("User-Agent".into(), value(&word)?)),
            "-e" | "--referer" => request.headers.push(("Referer".into(), value(&word)?)),
            "-b" | "--cookie" => request.headers.push(("Cookie".into(), value(&word)?)),
            "--url" => request.url = Some(value(&word)?),
            "-F" | "--form" => {
                let _ = value(&word)?;
                request.unsupported.push(format!(
                    "`{word}` (a multipart form): write the body by hand"
                ));
            }
            other if other.starts_with('-') => {
                if let Some((_, why)) = IGNORED_WITH_ARGUMENT.iter().find(|(o, _)| *o == other) {
                    let _ = value(&word)?;
                    request.unsupported.push(format!("`{word}`: {why}"));
                } else if let Some((_, why)) = IGNORED.iter().find(|(o, _)| *o == other) {
                    if !why.is_empty() {
                        request.unsupported.push(format!("`{word}`: {why}"));
                    }
                } else {
                    request
                        .unsupported
                        .push(format!("`{word}`: not understood, left out"));
                }
            }
            _ if request.url.is_none() => request.url = Some(word),
            _ => request
                .unsupported
                .push(format!("`{word}`: a second URL, left out")),
        }
    }
    request.into_import(name)
}

/// Percent-encoding as `--data-urlencode` does.
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What the command line said.
#[derive(Default)]
struct Request {
    method: Option<String>,
    url: Option<String>,
    headers: Vec<(String, String)>,
    data: Vec<String>,
    json: bool,
    user: Option<String>,
    get: bool,
    unsupported: Vec<String>,
}

impl Request {
    fn into_import(self, name: &str) -> Result<Imported, String> {
        let raw_url = self.url.clone().ok_or("the command has no URL")?;
        let with_scheme = if raw_url.contains("://") {
            raw_url
        } else {
            format!("http://{raw_url}")
        };
        let mut url = url::Url::parse(&with_scheme)
            .map_err(|e| format!("`{with_scheme}` is not a URL: {e}"))?;
        if url.username() != "" || url.password().is_some() {
            return Err("the URL holds a user name or password: give it with `-u` instead".into());
        }
        let mut fills = Fills::default();
        let mut template = serde_yaml::Mapping::new();
        let has_data = !self.data.is_empty();
        let method = self
            .method
            .clone()
            .unwrap_or_else(|| if has_data && !self.get { "POST" } else { "GET" }.to_string());
        template.insert("method".into(), method.clone().into());

        // The origin becomes `{{base_url}}`, filled by the journey.
        let origin = url.origin().ascii_serialization();
        fills
            .values
            .insert("base_url".into(), Value::String(origin));
        let mut query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        url.set_fragment(None);
        let path = url.path().to_string();
        template.insert("url".into(), format!("{{{{base_url}}}}{path}").into());

        let data = self.data.join("&");
        if self.get && has_data {
            query.extend(
                form_urlencoded::parse(data.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        if !query.is_empty() {
            let mut map = serde_yaml::Mapping::new();
            for (key, value) in query {
                let value = if is_credential(&key, &value) {
                    fills.secret(&key, format!("query parameter `{key}`"))
                } else {
                    value
                };
                map.insert(key.into(), value.into());
            }
            template.insert("query".into(), map.into());
        }

        let mut headers = serde_yaml::Mapping::new();
        let mut content_type = None;
        for (header, value) in &self.headers {
            if header.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_ascii_lowercase());
            }
            let written = credential_header(header, value, &mut fills);
            headers.insert(header.clone().into(), written.into());
        }
        if self.json && content_type.is_none() {
            headers.insert("Content-Type".into(), "application/json".into());
            content_type = Some("application/json".into());
        }
        if !headers.is_empty() {
            template.insert("headers".into(), headers.into());
        }

        if let Some(user) = &self.user {
            let (username, password) = user.split_once(':').unwrap_or((user.as_str(), ""));
            let mut auth = serde_yaml::Mapping::new();
            auth.insert("username".into(), username.into());
            // Given or not (curl would ask for it), the password is a secret.
            let _ = password;
            let password = fills.secret("password", "`-u` (its password)".into());
            auth.insert("password".into(), password.into());
            template.insert("basic_auth".into(), auth.into());
        }

        if has_data && !self.get {
            body(&data, content_type.as_deref(), &mut template, &mut fills);
        }

        let template_yaml = serde_yaml::to_string(&serde_yaml::Value::Mapping(template))
            .map_err(|e| e.to_string())?;
        let mut step = serde_yaml::Mapping::new();
        step.insert("id".into(), name.into());
        step.insert("template".into(), name.into());
        let values = serde_yaml::to_value(&fills.values).map_err(|e| e.to_string())?;
        step.insert("values".into(), values);
        let mut journey = serde_yaml::Mapping::new();
        journey.insert(
            "description".into(),
            format!("Imported from a curl command: {method} {path}").into(),
        );
        journey.insert(
            "steps".into(),
            serde_yaml::Value::Sequence(vec![serde_yaml::Value::Mapping(step)]),
        );
        let journey_yaml = serde_yaml::to_string(&serde_yaml::Value::Mapping(journey))
            .map_err(|e| e.to_string())?;
        Ok(Imported {
            template: template_yaml,
            journey: journey_yaml,
            secrets: fills.secrets,
            unsupported: self.unsupported,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

    #[test]
    fn a_documented_curl_command_becomes_a_template_and_a_journey_without_its_secrets() {
        let command = format!(
            "curl -X POST 'https://api.example.com/v1/charges?expand=customer&api_key={KEY}' \\\n  -H 'Authorization: Bearer {KEY}' -H 'Content-Type: application/json' \\\n  -d '{{\"amount\": 2000, \"password\": \"hunter2\", \"nested\": {{\"token\": \"abc\"}}}}' --compressed -L"
        );
        let imported = import(&command, "create-charge").expect("imported");
        for text in [&imported.template, &imported.journey] {
            assert!(!text.contains(KEY) && !text.contains("hunter2"), "{text}");
        }
        assert!(
            imported.template.contains("url: '{{base_url}}/v1/charges'"),
            "{}",
            imported.template
        );
        assert!(
            imported.template.contains("Bearer {{API_TOKEN}}"),
            "{}",
            imported.template
        );
        assert!(
            imported.template.contains("amount: 2000"),
            "{}",
            imported.template
        );
        assert!(
            imported
                .journey
                .contains("base_url: https://api.example.com"),
            "{}",
            imported.journey
        );
        let names: Vec<&str> = imported.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["API_KEY", "API_TOKEN", "PASSWORD", "TOKEN"]);
        assert_eq!(
            imported.unsupported,
            ["`-L`: write `follow_redirects: true` on the step"]
        );
    }

    #[test]
    fn forms_users_cookies_and_gets() {
        let imported = import(
            "curl https://h.test/login -u admin:s3cret -d user=ann -d client_secret=xyz -b 'session=abc; theme=dark'",
            "login",
        )
        .expect("imported");
        assert!(imported.template.contains("method: POST"));
        assert!(
            imported
                .template
                .contains("client_secret: '{{CLIENT_SECRET}}'"),
            "{}",
            imported.template
        );
        assert!(imported.template.contains("user: ann"));
        assert!(
            imported
                .template
                .contains("session={{SESSION}}; theme=dark"),
            "{}",
            imported.template
        );
        assert!(
            imported.template.contains("password: '{{PASSWORD}}'"),
            "{}",
            imported.template
        );
        assert!(!imported.template.contains("s3cret") && !imported.template.contains("xyz"));
        let get = import("curl -G https://h.test/search -d q=shoes", "search").expect("get");
        assert!(
            get.template.contains("method: GET") && get.template.contains("q: shoes"),
            "{}",
            get.template
        );
    }

    #[test]
    fn what_cannot_be_imported_is_said() {
        assert!(import("curl 'https://h.test", "x").is_err_and(|e| e.contains("unclosed quote")));
        assert!(import("curl -X POST", "x").is_err_and(|e| e.contains("no URL")));
        assert!(import("curl -H", "x").is_err_and(|e| e.contains("`-H` needs a value")));
        assert!(import("curl https://u:p@h.test/", "x").is_err_and(|e| e.contains("-u")));
        let form = import("curl -F file=@a.png https://h.test/up --frobnicate", "x").expect("ok");
        assert_eq!(form.unsupported.len(), 2, "{:?}", form.unsupported);
    }
}
