//! Where the provider sends its calls: the region and endpoint (and their
//! mistakes), an endpoint outside the grants or down, and a misbehaving
//! front end that throttles, fails, redirects, garbles or stalls.

use super::{OTHER, REGION, aws, aws_project, echoes, line, pairs, pays, provider, secrets};
use crate::common::{self, CANARY, assert_absent};

#[test]
fn region_and_endpoint_mistakes_are_named() {
    let aws = aws();
    let server = &aws.moto.server;
    let env = aws.reader_env();
    let entries = secrets(&[("S", "reqflo/plain")]);
    let hosts = format!("\"{}\"", server.authority);
    let keys = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY";

    // The region from AWS_REGION, when granted.
    let from_env = provider(
        &format!("endpoint: \"{}\"", server.url),
        &format!("{keys}, AWS_REGION"),
        &hosts,
    );
    let p = aws_project(CANARY, "aws", &from_env, &entries, &pays(&["S"]));
    let mut with_region = env.clone();
    with_region.push(("AWS_REGION", REGION.to_string()));
    p.run(&["run", "j"], &pairs(&with_region)).expect_code(0);
    // Set but not granted: the sandbox does not see it.
    let ungranted = provider(&format!("endpoint: \"{}\"", server.url), keys, &hosts);
    let p = aws_project(CANARY, "aws", &ungranted, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&with_region))
        .expect_code(3)
        .expect_output("unavailable: no AWS region: set config.region, or set AWS_REGION");
    // Another region holds other secrets: not found there.
    let elsewhere = provider(
        &format!("region: us-east-1, endpoint: \"{}\"", server.url),
        keys,
        &hosts,
    );
    let p = aws_project(CANARY, "aws", &elsewhere, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output("tried aws: secret \"reqflo/plain\" not found");

    let cases = [
        (
            format!("region: {REGION}, endpiont: \"{}\"", server.url),
            "unknown config key `endpiont` for the AWS provider (known: region, endpoint, instance_metadata)",
        ),
        (
            format!("region: EU-West-2, endpoint: \"{}\"", server.url),
            "config.region \"EU-West-2\" is not an AWS region name (like eu-west-2)",
        ),
        (
            format!("region: {REGION}, endpoint: \"{}/v1\"", server.url),
            "config.endpoint is not a usable Secrets Manager URL: it has a path",
        ),
    ];
    for (config, message) in cases {
        let p = aws_project(
            CANARY,
            "aws",
            &provider(&config, keys, &hosts),
            &entries,
            &pays(&["S"]),
        );
        p.run(&["run", "j"], &pairs(&env))
            .expect_code(3)
            .expect_output(message);
    }

    // Credentials not granted.
    let no_keys = provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        "AWS_ACCESS_KEY_ID",
        &hosts,
    );
    let p = aws_project(CANARY, "aws", &no_keys, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output("AWS_SECRET_ACCESS_KEY is not visible to the AWS provider");
}

#[test]
fn an_endpoint_outside_the_grants_or_down_is_named() {
    let aws = aws();
    let env = aws.reader_env();
    let entries = secrets(&[("S", "reqflo/plain")]);
    let keys = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY";
    let server = &aws.moto.server;
    let outside = provider(
        &format!("region: {REGION}, endpoint: \"{}\"", server.url),
        keys,
        "\"127.0.0.1:9\"",
    );
    let p = aws_project(CANARY, "aws", &outside, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output(&format!(
            "tried to reach {}, which is not in its grants.hosts",
            server.url
        ));

    // Without config.endpoint the plugin goes to AWS itself, which is not
    // granted either: refused by the host, nothing leaves the machine.
    let public = provider(
        &format!("region: {REGION}"),
        keys,
        &format!("\"{}\"", server.authority),
    );
    let p = aws_project(CANARY, "aws", &public, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output(&format!(
            "tried to reach https://secretsmanager.{REGION}.amazonaws.com"
        ));

    // A port held by a socket that never listens: nothing can take it while
    // the test runs, and every connection to it is refused.
    let refused = common::refused_port();
    let authority = format!("127.0.0.1:{}", refused.port);
    let down = provider(
        &format!("region: {REGION}, endpoint: \"http://{authority}\""),
        keys,
        &format!("\"{authority}\""),
    );
    let p = aws_project(CANARY, "aws", &down, &entries, &pays(&["S"]));
    p.run(&["run", "j"], &pairs(&env))
        .expect_code(3)
        .expect_output(&format!(
            "failed to resolve `reqflo/plain`: unavailable: cannot connect to Secrets Manager \
             at http://{authority} (connection refused) while reading secret \
             \"reqflo/plain\""
        ));
}

/// A stand-in for a misbehaving Secrets Manager front end, in-process (moto
/// cannot be made to throttle, fail or stall): each secret ID in the request
/// body picks a canned answer. Returns its `host:port`.
fn canned_endpoint() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let authority = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body);
                let answer = |status: &str, headers: &str, body: &str| {
                    format!(
                        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let response = if body.contains("\"throttled\"") {
                    answer(
                        "400 Bad Request",
                        "x-amzn-errortype: ThrottlingException\r\n",
                        &format!(r#"{{"__type":"ThrottlingException","message":"{CANARY}"}}"#),
                    )
                } else if body.contains("\"broken\"") {
                    answer(
                        "500 Internal Server Error",
                        "",
                        &format!("<html>{CANARY}</html>"),
                    )
                } else if body.contains("\"moved\"") {
                    answer(
                        "307 Temporary Redirect",
                        "location: https://elsewhere.example/steal?token=abc\r\n",
                        "",
                    )
                } else if body.contains("\"garbled\"") {
                    answer("200 OK", "", &format!(r#"{{"SecretString": "{CANARY}""#))
                } else if body.contains("\"slow\"") {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    answer("200 OK", "", r#"{"SecretString": "too-late"}"#)
                } else {
                    // The type in the header alone, as some front ends send it.
                    answer(
                        "400 Bad Request",
                        "x-amzn-errortype: ResourceNotFoundException:http://internal.amazon.com/\r\n",
                        "",
                    )
                };
                let _ = reader.get_mut().write_all(response.as_bytes());
            });
        }
    });
    authority
}

#[test]
fn throttling_failures_redirects_and_slow_answers_are_named() {
    let authority = canned_endpoint();
    let config = format!("region: {REGION}, endpoint: \"http://{authority}\"");
    let providers = format!(
        "{}    limits: {{timeout_ms: 1000}}\n",
        provider(
            &config,
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
            &format!("\"{authority}\"")
        )
    );
    let entries = secrets(&[
        ("THROTTLED", "throttled"),
        ("BROKEN", "broken"),
        ("MOVED", "moved"),
        ("GARBLED", "garbled"),
        ("SLOW", "slow"),
        ("MISSING", "missing"),
    ]);
    let p = aws_project(
        CANARY,
        "aws",
        &providers,
        &entries,
        &echoes(&["THROTTLED", "BROKEN", "MOVED", "GARBLED", "SLOW", "MISSING"]),
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", OTHER),
    ];
    let started = std::time::Instant::now();
    let run = p.run(&["check", "j", "--resolve"], &env);
    run.expect_code(3);
    let out = run.all();
    let endpoint = format!("http://{authority}");
    let expect = |name: &str, text: &str| {
        assert!(
            line(&out, name).contains(text),
            "{name}: {text:?} in\n{out}"
        );
    };
    expect(
        "THROTTLED",
        &format!(
            "unavailable: Secrets Manager at {endpoint} throttled the request for secret \
             \"throttled\" (ThrottlingException); run again later"
        ),
    );
    expect(
        "BROKEN",
        &format!(
            "unavailable: Secrets Manager at {endpoint} answered 500 while reading secret \
             \"broken\""
        ),
    );
    expect(
        "MOVED",
        &format!(
            "unavailable: Secrets Manager at {endpoint} answered with a redirect (307) to \
             https://elsewhere.example; redirects are not followed"
        ),
    );
    expect(
        "GARBLED",
        &format!(
            "unavailable: Secrets Manager at {endpoint} answered with JSON reqflo could not \
             read while reading secret \"garbled\""
        ),
    );
    expect(
        "SLOW",
        &format!(
            "unavailable: Secrets Manager at {endpoint} did not answer in time while reading \
             secret \"slow\""
        ),
    );
    expect(
        "MISSING",
        "tried aws: secret \"missing\" not found (ResourceNotFoundException)",
    );
    assert!(!out.contains("token=abc"), "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    for value in [CANARY, OTHER] {
        assert_absent(&out, value, "answers from a misbehaving endpoint");
    }
}
