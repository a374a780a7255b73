//! The `-v` view of a request and a response: every header and the body as
//! text, redacted whole before it leaves the engine.

use std::borrow::Cow;
use std::fmt::Write as _;

use reqflo_core::duration::human;
use reqflo_core::message::{BuiltRequest, Received};
use reqflo_core::redact::Redactor;

/// Bodies longer than this are cut in dumps.
pub const DUMP_BODY_BYTES: usize = 64 * 1024;

/// The request as sent, redacted.
pub fn request(request: &BuiltRequest, redactor: &Redactor) -> String {
    let mut text = format!("> {} {}", request.method, request.url);
    for header in &request.headers {
        let _ = write!(text, "\n> {}: {}", header.name, header.value.as_str());
    }
    if let Some(body) = &request.body {
        text.push_str("\n>\n");
        push_body(&mut text, body, redactor);
    }
    redactor.redact(&text).into_owned()
}

/// The response as received, redacted.
pub fn response(response: &Received, redactor: &Redactor) -> String {
    // The version only when it is not the usual one.
    let version = match response.version {
        reqwest::Version::HTTP_11 => String::new(),
        other => format!("{other:?} "),
    };
    let mut text = format!(
        "< {version}{} ({})",
        response.status,
        human(response.elapsed)
    );
    for (name, value) in &response.headers {
        let _ = write!(
            text,
            "\n< {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    if !response.body.is_empty() {
        text.push_str("\n<\n");
        push_body(&mut text, &response.body, redactor);
    }
    match redactor.redact(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(redacted) => redacted,
    }
}

/// A body appended as text to a dump, cut at a limit. A body that will be cut is
/// redacted whole first, so the cut cannot split a secret and show half of
/// it. One shown whole is redacted once, with the rest of the dump: a second
/// pass over every byte cost a `-v` run about a tenth of its time.
fn push_body(text: &mut String, body: &[u8], redactor: &Redactor) {
    let body = match body.len() > DUMP_BODY_BYTES {
        true => redactor.redact_bytes(body),
        false => Cow::Borrowed(body),
    };
    let shown = &body[..body.len().min(DUMP_BODY_BYTES)];
    // `from_utf8` checks ASCII many bytes at a time; the lossy decoder, only
    // needed when that fails, goes byte by byte.
    match std::str::from_utf8(shown) {
        Ok(shown) => text.push_str(shown),
        Err(_) => text.push_str(&String::from_utf8_lossy(shown)),
    }
    if body.len() > DUMP_BODY_BYTES {
        let _ = write!(text, "\n… ({} more bytes)", body.len() - DUMP_BODY_BYTES);
    }
}

#[cfg(test)]
mod tests {
    use super::{DUMP_BODY_BYTES, push_body};
    use reqflo_core::redact::Redactor;

    fn dumped(body: &[u8], redactor: &Redactor) -> String {
        let mut text = String::from("< 200 OK\n<\n");
        push_body(&mut text, body, redactor);
        redactor.redact(&text).into_owned()
    }

    #[test]
    fn a_secret_across_the_dump_cut_shows_no_part_of_it() {
        let secret = "canary-at-the-cut-3f9a1c77d2";
        let redactor = Redactor::default();
        redactor.add("CUT_CANARY", secret.as_bytes());
        // The cut falls 10 bytes into the secret.
        let mut body = vec![b'a'; DUMP_BODY_BYTES - 10];
        body.extend_from_slice(secret.as_bytes());
        body.extend_from_slice(&[b'b'; 100]);
        let shown = dumped(&body, &redactor);
        assert!(shown.contains("more bytes)"), "the body was cut");
        assert!(!shown.contains(&secret[..10]), "half the secret shown");
    }

    #[test]
    fn a_body_shown_whole_is_redacted_with_the_dump() {
        let secret = "canary-in-a-whole-body-81be0c";
        let redactor = Redactor::default();
        redactor.add("WHOLE_CANARY", secret.as_bytes());
        // At the limit exactly: not cut, so redacted once, with the dump.
        let mut body = format!("{{\"token\":\"{secret}\"}}").into_bytes();
        body.resize(DUMP_BODY_BYTES, b' ');
        let shown = dumped(&body, &redactor);
        assert!(!shown.contains("more bytes)"), "the body was not cut");
        assert!(!shown.contains(secret));
        assert!(shown.contains("[redacted:WHOLE_CANARY]"));
    }
}
