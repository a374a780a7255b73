//! Shared test harness: temporary projects, the demo API in-process, and the
//! real `reqflo` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use demo_api::Running;

pub mod chain;
pub mod python;
pub mod servers;
pub mod tls;

/// A secret with `/`, `+` and `=`, so every encoding differs from the raw form.
pub const CANARY: &str = "cAn4ry/Se+cret=Zq9";

/// Templates most tests share. `@BASE@` becomes the demo API's URL.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "templates/post-payment.yaml",
        "method: POST\nurl: \"{{base_url}}/v1/payments\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\njson:\n  amount: \"{{amount}}\"\n  currency: usd\n",
    ),
    (
        "templates/get-payment.yaml",
        "method: GET\nurl: \"{{base_url}}/v1/payments/{{id}}\"\nheaders:\n  Authorization: \"Bearer {{key}}\"\n",
    ),
    (
        "templates/echo.yaml",
        "method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n  X-Key: \"{{key}}\"\n",
    ),
    (
        "templates/status.yaml",
        "method: GET\nurl: \"{{base_url}}/status/{{code}}\"\n",
    ),
    (
        "templates/me.yaml",
        "method: GET\nurl: \"{{base_url}}/v1/me\"\n",
    ),
];

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Fail with the whole output when the exit code is not `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Fail when `needle` is not in stdout or stderr.
    pub fn expect_output(&self, needle: &str) -> &Self {
        assert!(
            self.all().contains(needle),
            "expected output to contain {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A project in a temporary folder, with a demo API to talk to.
pub struct TestProject {
    /// The project folder.
    pub dir: tempfile::TempDir,
    /// The demo API the project's `base_url` points at.
    pub api: Running,
}

/// A project with the shared templates plus `files`; `@BASE@` in any file is
/// the demo API's URL, `@HOSTILE@` the hostile test plugin's path. The demo
/// API accepts `key` as its bearer key.
pub fn project_with_key(key: &str, files: &[(&str, &str)]) -> TestProject {
    let api = demo_api::spawn(key).expect("demo API starts");
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in TEMPLATES.iter().chain(files.iter()) {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        let text = text.replace("@BASE@", &api.base_url()).replace(
            "@HOSTILE@",
            &plugin("reqflo_test_hostile").display().to_string(),
        );
        std::fs::write(path, text).expect("write project file");
    }
    if !dir.path().join("reqflo.yaml").exists() {
        std::fs::write(
            dir.path().join("reqflo.yaml"),
            format!(
                "environments:\n  test:\n    variables: {{base_url: \"{}\"}}\n",
                api.base_url()
            ),
        )
        .expect("write reqflo.yaml");
    }
    TestProject { dir, api }
}

/// A project whose demo API accepts [`CANARY`].
pub fn project(files: &[(&str, &str)]) -> TestProject {
    project_with_key(CANARY, files)
}

impl TestProject {
    /// Run `reqflo ARGS` in the project folder with only `env` set.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        reqflo(self.dir.path(), args, env)
    }

    /// A path inside the project.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The real binary, to run in `cwd` with a clean environment plus `env`.
pub fn command(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let home = cwd.join(".home");
    let _ = std::fs::create_dir_all(&home);
    let mut command = Command::new(env!("CARGO_BIN_EXE_reqflo"));
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("HOME", &home)
        .env(
            "REQFLO_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache"),
        )
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

/// Run the real binary in `cwd` with a clean environment plus `env`.
pub fn reqflo(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = command(cwd, args, env).output().expect("reqflo runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `reqflo plugin test builtin:NAME ARGS…` with `env`, which must pass every
/// check of the contract, the unreachable server's included (a networked
/// provider's); all it printed.
pub fn passes_contract(name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let work = tempfile::tempdir().expect("temp dir");
    let plugin = format!("builtin:{name}");
    let mut all = vec!["plugin", "test", plugin.as_str()];
    all.extend_from_slice(args);
    let run = reqflo(work.path(), &all, env);
    run.expect_code(0)
        .expect_output("ok    an unreachable server is not not-found: denied")
        .expect_output("9 passed, 0 failed, 0 skipped");
    run.all()
}

/// A test or built-in plugin component built by the workspace build.
pub fn plugin(artifact: &str) -> PathBuf {
    Path::new(reqflo_sandbox::PLUGIN_DIR).join(format!("{artifact}.wasm"))
}

/// The forms a value takes on the wire, computed independently of reqflo's
/// redactor so the tests check it rather than mirror it.
pub fn encoded_forms(value: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let percent = |set| percent_encoding::utf8_percent_encode(value, set).to_string();
    let mut forms = vec![
        value.to_string(),
        // As a server decodes it from a raw query string.
        value.replace('+', " "),
        percent(percent_encoding::NON_ALPHANUMERIC),
        percent(percent_encoding::NON_ALPHANUMERIC).to_lowercase(),
        form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        serde_json::to_string(value)
            .expect("json")
            .trim_matches('"')
            .to_string(),
        STANDARD.encode(value),
        STANDARD_NO_PAD.encode(value),
        URL_SAFE.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        hex::encode(value),
        hex::encode_upper(value),
    ];
    // Basic credentials built from it, with user names of every length mod 3.
    for user in ["a", "ab", "abc"] {
        forms.push(STANDARD.encode(format!("{user}:{value}")));
    }
    forms.sort();
    forms.dedup();
    forms
}

/// Fail if `value` or any encoded form of it appears anywhere in `text`.
pub fn assert_absent(text: &str, value: &str, context: &str) {
    for form in encoded_forms(value) {
        assert!(
            !text.contains(&form),
            "{context}: found the secret (as {form:?}) in:\n{text}"
        );
    }
}

/// What reqflo prints when the final scan of a file it wrote (a report, an
/// export) finds a secret and deletes the file. A test that sees it has found
/// a leak, whatever exit code it expected.
pub const SCAN_REFUSAL: &str = "contained a secret after redaction";

impl Run {
    /// Fail when the run said a final scan found a secret in a file it wrote.
    pub fn expect_no_scan_refusal(&self) -> &Self {
        assert!(
            !self.all().contains(SCAN_REFUSAL),
            "a final scan found a secret in a written file (a leak)\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A report `run` must have written at `path`: a missing report is a failure
/// (reqflo deletes a report that held a secret), never an empty, clean one.
pub fn read_report(run: &Run, path: &Path) -> String {
    run.expect_no_scan_refusal();
    match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => panic!(
            "report {} was not written ({e})\n--- stdout\n{}\n--- stderr\n{}",
            path.display(),
            run.stdout,
            run.stderr
        ),
    }
}

/// Fail unless `text` holds the `[redacted:NAME]` marker: the proof that the
/// secret reached this channel, without which its absence proves nothing.
pub fn assert_redacted(text: &str, name: &str, context: &str) {
    let marker = format!("[redacted:{name}]");
    assert!(
        text.contains(&marker),
        "{context}: expected {marker} (the secret never reached this channel?) in:\n{text}"
    );
}

/// The secret `name` reached `text` and was hidden there: its marker is
/// present and neither `value` nor any encoded form of it is.
pub fn assert_hidden(text: &str, name: &str, value: &str, context: &str) {
    assert_redacted(text, name, context);
    assert_absent(text, value, context);
}

/// A loopback port that refuses every connection for as long as this lives:
/// a socket is bound to it but never listens. Holding the port keeps anything
/// else from taking it meanwhile, which a listener bound and dropped (leaving
/// the port free for whoever asks next) does not.
pub struct RefusedPort {
    /// The port, on 127.0.0.1.
    pub port: u16,
    _socket: std::os::fd::OwnedFd,
}

/// A [`RefusedPort`] on 127.0.0.1.
pub fn refused_port() -> RefusedPort {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh socket that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: all-zero is a valid `sockaddr_in` (port 0: any free port).
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a valid `sockaddr_in` of `len` bytes, on our socket.
    let bound = unsafe { libc::bind(socket.as_raw_fd(), (&raw const addr).cast(), len) };
    assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
    // SAFETY: `addr` and `len` are writable and sized for a `sockaddr_in`.
    let named =
        unsafe { libc::getsockname(socket.as_raw_fd(), (&raw mut addr).cast(), &raw mut len) };
    assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
    RefusedPort {
        port: u16::from_be(addr.sin_port),
        _socket: socket,
    }
}

/// A template (write it to `templates/show.yaml`) and a journey step (append
/// it last: the journey fails there, exit 4) that put each secret of `names`
/// in every channel a run writes. The step sends them in headers to the demo
/// API's `/echo` and expects each echoed value to be `"shown"`, which it is
/// not: the failure lines on stdout and in the JUnit and JSON reports, `-v`
/// on stderr and the HTML report then all hold `[redacted:NAME]` for each
/// (give each name a value of its own: one value shows under one name).
/// The project needs the `base_url` variable of the demo API.
pub fn show_secrets(names: &[&str]) -> (String, String) {
    let mut template = String::from("method: GET\nurl: \"{{base_url}}/echo\"\nheaders:\n");
    let mut values = Vec::new();
    let mut expect = Vec::new();
    for (i, name) in names.iter().enumerate() {
        template.push_str(&format!("  X-Show-{i}: \"{{{{show{i}}}}}\"\n"));
        values.push(format!("show{i}: {{type: secret, name: {name}}}"));
        expect.push(format!("\"$.headers['x-show-{i}']\": shown"));
    }
    let step = format!(
        "  - id: show\n    template: show\n    values: {{{}}}\n    expect:\n      json: {{{}}}\n",
        values.join(", "),
        expect.join(", ")
    );
    (template, step)
}

/// Make `p`'s journey `j` end with the [`show_secrets`] step for `names`:
/// after it, a run of `j` puts each of those values in every channel.
pub fn show_last(p: &TestProject, names: &[&str]) {
    let (template, step) = show_secrets(names);
    std::fs::write(p.path("templates/show.yaml"), template).expect("write template");
    let journey = std::fs::read_to_string(p.path("journeys/j.yaml")).expect("journey");
    std::fs::write(p.path("journeys/j.yaml"), journey + &step).expect("write journey");
}

/// Run journey `j` (ending with [`show_last`]'s step) with `-v` and the
/// three reports, expect it to fail at that step (exit 4), and return every
/// channel it wrote as (channel, text): stdout, stderr with the `-v` dumps,
/// and the JSON, JUnit and HTML reports. Every provider's test checks these
/// the same way: the one "nothing leaks on any channel" run, written once.
pub fn every_channel(p: &TestProject, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let run = p.run(
        &[
            "run",
            "j",
            "-v",
            "--report-json",
            "r.json",
            "--report-junit",
            "r.xml",
            "--report-html",
            "html",
        ],
        env,
    );
    run.expect_code(4).expect_output(" steps ok, 1 failed");
    let mut channels = vec![
        ("stdout".to_string(), run.stdout.clone()),
        ("stderr (-v)".to_string(), run.stderr.clone()),
    ];
    for file in ["r.json", "r.xml", "html/index.html"] {
        channels.push((file.to_string(), read_report(&run, &p.path(file))));
    }
    channels
}

/// A fake server started on a runtime of its own (one worker), returned
/// with the runtime, which must live as long as the fake is used.
pub fn on_runtime<T, E: std::fmt::Debug>(
    what: &str,
    start: impl std::future::Future<Output = Result<T, E>>,
) -> (T, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let started = runtime
        .block_on(start)
        .unwrap_or_else(|e| panic!("{what} starts: {e:?}"));
    (started, runtime)
}
