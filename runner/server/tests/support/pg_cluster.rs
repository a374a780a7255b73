//! A private Postgres for the tests: Debian's `postgresql` binaries, a
//! cluster in a temporary folder on 127.0.0.1 (a free port, no Unix
//! socket), started once per test process and killed with it; each test
//! gets a database of its own. Shared by the server's and the CLI's tests
//! (`#[path]`): it needs only `libc` and `tempfile`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running cluster: where to reach it as its superuser.
pub struct Cluster {
    /// `postgres://reqflo@127.0.0.1:PORT`, without a database.
    pub base: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    /// The cluster's files (removed at exit by nobody: a temporary folder).
    _dir: tempfile::TempDir,
}

/// The directory holding `initdb` and `postgres`: `$REQFLO_PG_BIN`, else
/// the newest `/usr/lib/postgresql/*/bin` (Debian's layout).
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REQFLO_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no Postgres server binaries in /usr/lib/postgresql/*/bin: install Debian's \
             `postgresql` package (scripts/install-test-servers does) or set REQFLO_PG_BIN"
        ),
    }
}

/// Postgres refuses to run as root: as root, run it as the `postgres`
/// user the Debian package creates.
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: getuid cannot fail and touches nothing.
    if unsafe { libc::getuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let line = passwd
        .lines()
        .find(|line| line.starts_with("postgres:"))
        .expect("running as root, and no `postgres` user to run Postgres as");
    let fields: Vec<&str> = line.split(':').collect();
    let id = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).expect("uid/gid");
    Some((id(2), id(3)))
}

fn command(bin: &Path, name: &str, user: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(bin.join(name));
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

/// The cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

fn start() -> Cluster {
    use std::os::unix::process::CommandExt;
    let bin = bin_dir();
    let user = run_as();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
    }
    let init = command(&bin, "initdb", user)
        .args(["--auth=trust", "--username=reqflo", "--encoding=UTF8"])
        .args(["--no-locale", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .expect("initdb");
    assert!(
        init.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    // Postgres takes no port 0: ask the system for a free one, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut server = command(&bin, "postgres", user);
    server
        .arg("-D")
        .arg(&data)
        .args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
        .args(["-c", "unix_socket_directories=", "-c", "fsync=off"])
        .args(["-c", "max_connections=400", "-c", "shared_buffers=32MB"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe and touches only this child. It
    // runs after the uid change (which would clear it).
    unsafe {
        server.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // A thread that lives as long as the process: PR_SET_PDEATHSIG fires
    // when the *thread* that spawned the child exits.
    let (sent, started) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("postgres".into())
        .spawn(move || {
            let child = server.spawn();
            let ok = child.is_ok();
            let _ = sent.send(child.map(|_| ()).map_err(|e| e.to_string()));
            if ok {
                // Park for good: this thread's exit would kill the server.
                loop {
                    std::thread::park();
                }
            }
        })
        .expect("postgres thread");
    if let Ok(Err(why)) | Err(why) = started.recv().map_err(|e| e.to_string()) {
        panic!("cannot start postgres: {why}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = command(&bin, "pg_isready", None)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "postgres on port {port} did not answer within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = format!("postgres://reqflo@127.0.0.1:{port}");
    Cluster {
        base,
        port,
        bin,
        _dir: dir,
    }
}

/// A new, empty database on the cluster; its URL.
pub fn database() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let cluster = cluster();
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let made = command(&cluster.bin, "createdb", None)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            "reqflo",
        ])
        .arg(&name)
        .output()
        .expect("createdb");
    assert!(
        made.status.success(),
        "createdb {name}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    format!("{}/{name}", cluster.base)
}

/// The rows of the database at `url` as `pg_dump --data-only` writes them
/// (values whole: Postgres compresses long values on disk, so its files
/// are no proof).
pub fn dump(url: &str) -> Vec<u8> {
    let cluster = cluster();
    let out = command(&cluster.bin, "pg_dump", None)
        .args(["--data-only", "--no-owner", "-d", url])
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
