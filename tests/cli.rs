//! The compiled binary, driven as an operator drives it: `--help`, `migrate`, `serve` (also the
//! default), SIGTERM, bad configuration, JSON logs and, with `TEST_DATABASE_URL`, readiness
//! that follows a PostgreSQL server going away and coming back.
//!
//! The PostgreSQL-only tests get their database from [`shared::postgres_admin_url`]: `TEST_DATABASE_URL`,
//! or under CI (`CI` set, as `.ci/run` sets it) the CI database
//! `postgres://postgres@127.0.0.1:5432/test`, so in CI they run in the SQLite pass too and fail
//! when PostgreSQL is missing. Only outside CI, without `TEST_DATABASE_URL`, do they skip, and
//! say so.
//!
//! Every child process is killed when its guard drops and every wait is bounded, so a broken
//! binary fails a test instead of hanging the suite. Only std (plus the crate's own normal
//! dependencies: serde_json, uuid, url, diesel) is used.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

mod shared;

use shared::{free_port, id_number, postgres_admin_url};

const BIN: &str = env!("CARGO_BIN_EXE_fenghua-registry");

/// How long a started server may take to answer `/healthz`.
const READY_WITHIN: Duration = Duration::from_secs(15);
/// How long a one-shot command (`--help`, `migrate`, a refused configuration) may run.
const ONE_SHOT_WITHIN: Duration = Duration::from_secs(30);
/// How long the server may take to stop after SIGTERM when nothing is in flight.
const STOP_WITHIN: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers: temporary folders, processes, ports, HTTP.
// ---------------------------------------------------------------------------------------------

/// A fresh folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("fenghua-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create a temporary folder");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary with a clean environment (nothing leaks in from the developer's shell or CI), run
/// in `dir`. Callers add the variables a test is about.
fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

/// Collects a child's pipe on a thread, so the child never blocks on a full pipe.
struct Capture {
    text: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Capture {
    fn new(pipe: Option<impl Read + Send + 'static>) -> Self {
        let text = Arc::new(Mutex::new(Vec::new()));
        let reader = pipe.map(|mut pipe| {
            let text = text.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => text.lock().unwrap().extend_from_slice(&buf[..n]),
                    }
                }
            })
        });
        Capture { text, reader }
    }

    /// What was read so far.
    fn snapshot(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// Everything, once the child has exited (the pipe is then at its end).
    fn finish(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            // The child is gone, so the pipe ends; bound the wait anyway.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !reader.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        self.snapshot()
    }
}

/// A running child: killed (and reaped) when dropped.
struct Proc {
    child: Child,
    stdout: Capture,
    stderr: Capture,
    exited: Option<ExitStatus>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().expect("start the binary");
        let stdout = Capture::new(child.stdout.take());
        let stderr = Capture::new(child.stderr.take());
        Proc {
            child,
            stdout,
            stderr,
            exited: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("poll the child");
        }
        self.exited
    }

    /// Waits at most `within` for the child to exit; `None` if it is still running.
    fn wait_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM, as an orchestrator does to stop a container.
    fn sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// SIGTERM, then the exit status (which must come within [`STOP_WITHIN`]) and both outputs.
    fn terminate(&mut self) -> (ExitStatus, String, String) {
        self.sigterm();
        let started = Instant::now();
        let Some(status) = self.wait_within(STOP_WITHIN) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "the server was still running {STOP_WITHIN:?} after SIGTERM\n--- stderr:\n{}",
                self.stderr.finish()
            );
        };
        eprintln!("stopped {:?} after SIGTERM", started.elapsed());
        (status, self.stdout.finish(), self.stderr.finish())
    }

    fn stderr_so_far(&self) -> String {
        self.stderr.snapshot()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a one-shot run produced.
struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `cmd` to its end, failing the test if it takes longer than `within`.
fn run(cmd: Command, within: Duration) -> Outcome {
    let started = Instant::now();
    let mut proc = Proc::spawn(cmd);
    let Some(status) = proc.wait_within(within) else {
        let _ = proc.child.kill();
        let _ = proc.child.wait();
        panic!(
            "the command did not finish within {within:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            proc.stdout.finish(),
            proc.stderr.finish()
        );
    };
    Outcome {
        status,
        took: started.elapsed(),
        stdout: proc.stdout.finish(),
        stderr: proc.stderr.finish(),
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.body))
    }
}

/// `GET path` over a fresh connection, bounded by `timeout` per connect/read/write.
fn get_with(port: u16, path: &str, timeout: Duration) -> io::Result<Response> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn get(port: u16, path: &str) -> io::Result<Response> {
    get_with(port, path, Duration::from_secs(5))
}

fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Polls `/healthz` until it answers 200; fails the test if the process exits first or
/// [`READY_WITHIN`] passes.
fn wait_healthy(proc: &mut Proc, port: u16) {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Some(status) = proc.try_status() {
            panic!(
                "the server exited ({status}) before answering\n--- stderr:\n{}",
                proc.stderr.finish()
            );
        }
        if let Ok(res) = get_with(port, "/healthz", Duration::from_secs(2)) {
            if res.status == 200 {
                return;
            }
        }
        if Instant::now() >= deadline {
            panic!(
                "/healthz did not answer 200 within {READY_WITHIN:?}\n--- stderr:\n{}",
                proc.stderr_so_far()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A server on a free port over a SQLite database in a fresh folder.
fn sqlite_server(dir: &TempDir, configure: impl FnOnce(&mut Command, u16)) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = command(dir.path());
    cmd.env("DATA_DIR", dir.path().join("data"));
    configure(&mut cmd, port);
    let mut proc = Proc::spawn(cmd);
    wait_healthy(&mut proc, port);
    (proc, port)
}

/// The versions of the embedded migrations of one backend, as `migrate` prints them.
fn migration_versions(backend: &str) -> BTreeSet<String> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("read {}: {e}", folder.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .map(|name| {
            let prefix = name.split('_').next().unwrap_or(&name);
            prefix.chars().filter(char::is_ascii_digit).collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Help.
// ---------------------------------------------------------------------------------------------

#[test]
fn help_lists_the_commands_and_the_environment() {
    let dir = TempDir::new();
    let mut cmd = command(dir.path());
    cmd.arg("--help");
    let out = run(cmd, ONE_SHOT_WITHIN);
    assert!(
        out.status.success(),
        "--help: {}\n{}",
        out.status,
        out.stderr
    );
    for word in ["serve", "migrate", "DATABASE_URL", "BIND"] {
        assert!(
            out.stdout.contains(word),
            "--help does not mention {word}:\n{}",
            out.stdout
        );
    }

    let mut cmd = command(dir.path());
    cmd.args(["serve", "--help"]);
    let out = run(cmd, ONE_SHOT_WITHIN);
    assert!(
        out.status.success(),
        "serve --help: {}\n{}",
        out.status,
        out.stderr
    );
    assert!(
        out.stdout.contains("--bind"),
        "serve --help does not list --bind:\n{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Migrate.
// ---------------------------------------------------------------------------------------------

#[test]
fn migrate_applies_once_then_reports_nothing_pending() {
    let dir = TempDir::new();
    // The folder does not exist yet: the first start creates it.
    let data_dir = dir.path().join("state").join("data");
    let migrate = || {
        let mut cmd = command(dir.path());
        cmd.env("DATA_DIR", &data_dir).arg("migrate");
        run(cmd, ONE_SHOT_WITHIN)
    };

    let first = migrate();
    assert!(
        first.status.success(),
        "first migrate: {}\n--- stderr:\n{}",
        first.status,
        first.stderr
    );
    let printed: BTreeSet<String> = first
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("applied "))
        .map(|v| v.trim().to_owned())
        .collect();
    let expected = migration_versions("sqlite");
    assert!(!expected.is_empty(), "no SQLite migrations found");
    assert_eq!(
        printed, expected,
        "migrate printed other versions than the folders in migrations/sqlite (a binary built \
         before a migration folder was added embeds the old set: touch src/db/migrate.rs):\n{}",
        first.stdout
    );
    let db = data_dir.join("registry.db");
    assert!(db.is_file(), "{} was not created", db.display());

    let second = migrate();
    assert!(
        second.status.success(),
        "second migrate: {}\n--- stderr:\n{}",
        second.status,
        second.stderr
    );
    assert_eq!(second.stdout.trim(), "no pending migrations");
}

#[test]
fn migrate_without_data_dir_uses_the_data_folder_of_the_working_directory() {
    let dir = TempDir::new();
    let mut cmd = command(dir.path());
    cmd.arg("migrate");
    let out = run(cmd, ONE_SHOT_WITHIN);
    assert!(out.status.success(), "{}\n{}", out.status, out.stderr);
    assert!(dir.path().join("data").join("registry.db").is_file());
}

// ---------------------------------------------------------------------------------------------
// 3. Serve and SIGTERM.
// ---------------------------------------------------------------------------------------------

fn assert_serves_then_stops_on_sigterm(mut proc: Proc, port: u16) {
    let res = get(port, "/readyz").expect("/readyz answers");
    assert_eq!(res.status, 200, "/readyz: {}", res.body);
    let body = res.json();
    assert_eq!(body["database"], "sqlite", "{body}");
    assert_eq!(body["status"], "ready", "{body}");

    let (status, _stdout, stderr) = proc.terminate();
    assert!(
        status.success(),
        "SIGTERM should stop the server cleanly, got {status}\n--- stderr:\n{stderr}"
    );
    assert!(
        get_with(port, "/healthz", Duration::from_secs(1)).is_err(),
        "the port still answers after the process exited"
    );
}

#[test]
fn no_command_serves_on_bind_and_stops_cleanly_on_sigterm() {
    let dir = TempDir::new();
    let (proc, port) = sqlite_server(&dir, |cmd, port| {
        cmd.env("BIND", format!("127.0.0.1:{port}"));
    });
    assert!(dir.path().join("data").join("registry.db").is_file());
    assert_serves_then_stops_on_sigterm(proc, port);
}

#[test]
fn serve_with_bind_flag_serves_and_stops_cleanly_on_sigterm() {
    let dir = TempDir::new();
    let (proc, port) = sqlite_server(&dir, |cmd, port| {
        cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")]);
    });
    assert_serves_then_stops_on_sigterm(proc, port);
}

/// Connects, then sends `head` at once and `trickle` one byte every `every` on another thread,
/// and reads until the server closes the connection or `within` passes: what the server sent,
/// and when it closed (`None`: still open at `within`).
fn trickle(
    port: u16,
    head: &[u8],
    trickle: &'static [u8],
    every: Duration,
    within: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(head).expect("send the head");
    let mut writer = stream.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let sender = thread::spawn(move || {
        for byte in trickle {
            if stopped.load(Ordering::Relaxed) || writer.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(every);
        }
    });
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut received = Vec::new();
    let mut closed = None;
    let mut buffer = [0u8; 4096];
    while started.elapsed() < within {
        match stream.read(&mut buffer) {
            Ok(0) => {
                closed = Some(started.elapsed());
                break;
            }
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed = Some(started.elapsed());
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = stream.shutdown(Shutdown::Both);
    sender.join().unwrap();
    (received, closed)
}

#[test]
fn a_slow_client_is_answered_408_and_closed_while_others_are_served() {
    let dir = TempDir::new();
    let (mut proc, port) = sqlite_server(&dir, |cmd, port| {
        cmd.env("BIND", format!("127.0.0.1:{port}"))
            .env("WORKERS", "1")
            .env("CLIENT_REQUEST_TIMEOUT_MS", "1000")
            .env("BODY_READ_TIMEOUT_SECS", "2");
    });
    // Others are served while the slow clients trickle, by the one worker.
    let others = thread::spawn(move || {
        let started = Instant::now();
        let mut served = 0;
        while started.elapsed() < Duration::from_millis(2500) {
            let res = get(port, "/healthz").expect("/healthz answers beside the slow clients");
            assert_eq!(res.status, 200);
            served += 1;
            thread::sleep(Duration::from_millis(100));
        }
        served
    });

    // A head that never ends (a header line sent a byte at a time): 408 and closed within
    // CLIENT_REQUEST_TIMEOUT_MS (1 s), not held open as long as the client keeps sending.
    let slow_head = thread::spawn(move || {
        trickle(
            port,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
            &[b'X'; 200],
            Duration::from_millis(50),
            Duration::from_secs(8),
        )
    });
    // A body sent a byte at a time: 408 problem and closed within BODY_READ_TIMEOUT_SECS (2 s).
    let (received, closed) = trickle(
        port,
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 200\r\n\r\n",
        &[b' '; 200],
        Duration::from_millis(50),
        Duration::from_secs(8),
    );
    let closed = closed.expect("the server closes a connection whose body is too slow");
    assert!(
        closed < Duration::from_secs(5),
        "closed after {closed:?}, the bound is 2 s"
    );
    let answer = parse_response(&received).expect("an answer before closing");
    assert_eq!(answer.status, 408, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(answer.json()["code"], "request_timeout");

    let (received, closed) = slow_head.join().unwrap();
    let closed = closed.expect("the server closes a connection whose head is too slow");
    assert!(
        closed < Duration::from_secs(4),
        "closed after {closed:?}, the bound is 1 s"
    );
    if !received.is_empty() {
        let answer = parse_response(&received).expect("an answer, if any, is HTTP");
        assert_eq!(answer.status, 408);
    }
    assert!(
        others.join().unwrap() >= 5,
        "other clients were served meanwhile"
    );
    let res = get(port, "/healthz").expect("still serving");
    assert_eq!(res.status, 200);
    let (status, _, stderr) = proc.terminate();
    assert!(status.success(), "{status}\n{stderr}");
}

#[test]
fn metrics_can_be_served_on_their_own_address_alone() {
    let dir = TempDir::new();
    let metrics_port = free_port();
    let (mut proc, port) = sqlite_server(&dir, |cmd, port| {
        cmd.env("BIND", format!("127.0.0.1:{port}"))
            .env("METRICS_BIND", format!("127.0.0.1:{metrics_port}"));
    });
    let metrics = get(metrics_port, "/metrics").expect("the metrics address answers");
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert!(
        metrics
            .body
            .contains("http_requests_total{method=\"GET\",route=\"/healthz\""),
        "the main address's requests are counted: {}",
        metrics.body
    );
    // Only the metrics there, and no metrics on the main address.
    for path in ["/healthz", "/api/v1/me", "/api/v1/openapi.yaml"] {
        let res = get(metrics_port, path).expect("answers");
        assert_eq!(res.status, 404, "{path} on the metrics address");
    }
    let res = get(port, "/metrics").expect("the main address answers");
    assert_eq!(res.status, 404, "{}", res.body);
    assert_eq!(res.json()["code"], "not_found");

    let (status, _, stderr) = proc.terminate();
    assert!(status.success(), "{status}\n{stderr}");
    assert!(
        get_with(metrics_port, "/metrics", Duration::from_secs(1)).is_err(),
        "the metrics address still answers after the process exited"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Bad configuration.
// ---------------------------------------------------------------------------------------------

/// Runs `args` with `DATABASE_URL=url`, expecting a refusal within `within`.
fn refused(url: &str, args: &[&str], within: Duration) -> Outcome {
    let dir = TempDir::new();
    let mut cmd = command(dir.path());
    cmd.env("DATABASE_URL", url)
        .env("DATA_DIR", dir.path().join("data"))
        .env("BIND", format!("127.0.0.1:{}", free_port()))
        .args(args);
    let out = run(cmd, within);
    assert!(
        !out.status.success(),
        "{args:?} with DATABASE_URL={url} should fail\n--- stdout:\n{}\n--- stderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.took <= within,
        "{args:?} with DATABASE_URL={url} took {:?}",
        out.took
    );
    out
}

#[test]
fn unsupported_database_url_is_refused_quickly_and_named() {
    for args in [&[][..], &["serve"][..], &["migrate"][..]] {
        let out = refused("mysql://x/y", args, Duration::from_secs(5));
        assert!(
            out.stderr.contains("DATABASE_URL"),
            "{args:?}: stderr does not name DATABASE_URL:\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("mysql"),
            "{args:?}: stderr does not say which scheme is wrong:\n{}",
            out.stderr
        );
    }
}

/// Issue 15: `TRUST_FORWARDED_FOR=true` believed the first `X-Forwarded-For` hop, which the
/// client writes. It is refused at start with what to set instead, never silently ignored; a
/// `TRUSTED_PROXIES` that is not a list of addresses is refused too.
#[test]
fn trust_forwarded_for_is_refused_with_what_to_set_instead() {
    let serve = |env: &[(&str, &str)], args: &[&str]| {
        let dir = TempDir::new();
        let mut cmd = command(dir.path());
        cmd.env("DATA_DIR", dir.path().join("data"))
            .env("BIND", format!("127.0.0.1:{}", free_port()))
            .envs(env.iter().copied())
            .args(args);
        run(cmd, ONE_SHOT_WITHIN)
    };
    for (env, args) in [
        (&[("TRUST_FORWARDED_FOR", "true")][..], &["serve"][..]),
        (&[][..], &["serve", "--trust-forwarded-for"][..]),
    ] {
        let out = serve(env, args);
        assert!(!out.status.success(), "{env:?} {args:?} started");
        assert!(
            out.stderr.contains("TRUST_FORWARDED_FOR") && out.stderr.contains("TRUSTED_PROXIES"),
            "{env:?} {args:?}: stderr does not say what to set:\n{}",
            out.stderr
        );
    }
    let out = serve(
        &[("TRUSTED_PROXIES", "10.0.0.1, proxy.internal")],
        &["serve"],
    );
    assert!(!out.status.success(), "a host name as a trusted proxy");
    assert!(
        out.stderr.contains("TRUSTED_PROXIES") && out.stderr.contains("proxy.internal"),
        "{}",
        out.stderr
    );
}

#[test]
fn unreachable_postgres_is_refused_readably() {
    for args in [&[][..], &["migrate"][..]] {
        let out = refused(
            "postgres://postgres@127.0.0.1:1/x",
            args,
            Duration::from_secs(10),
        );
        assert!(
            out.stderr.contains("PostgreSQL"),
            "{args:?}: stderr does not say PostgreSQL:\n{}",
            out.stderr
        );
    }
}

#[test]
fn unreachable_postgres_error_does_not_show_the_password() {
    for url in [
        "postgres://u:topsecret@127.0.0.1:1/x",
        "postgresql://u:topsecret@127.0.0.1:1/x?sslmode=disable",
        "postgres://u@127.0.0.1:1/x?password=topsecret",
    ] {
        for args in [&[][..], &["migrate"][..]] {
            let out = refused(url, args, Duration::from_secs(10));
            assert!(
                out.stderr.contains("PostgreSQL"),
                "{url} {args:?}: stderr does not say PostgreSQL:\n{}",
                out.stderr
            );
            assert!(
                !out.stderr.contains("topsecret") && !out.stdout.contains("topsecret"),
                "{url} {args:?}: the password is shown:\n{}",
                out.stderr
            );
        }
    }
}

/// libpq quotes a malformed URI, password and all, in its error message; the service must scrub
/// it before the message reaches stderr or the logs.
#[test]
fn malformed_postgres_url_error_does_not_show_the_password() {
    for url in [
        // Unterminated IPv6 host: libpq quotes the whole URI.
        "postgres://u:topsecret@[::1/x",
        // Bad percent-encoding in the password: libpq quotes the token.
        "postgres://u:top%zzsecret@127.0.0.1:1/x",
    ] {
        for args in [&[][..], &["migrate"][..]] {
            let out = refused(url, args, Duration::from_secs(10));
            assert!(
                !out.stderr.contains("topsecret")
                    && !out.stderr.contains("top%zzsecret")
                    && !out.stdout.contains("topsecret"),
                "{url} {args:?}: the password is shown:\n{}",
                out.stderr
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Logs.
// ---------------------------------------------------------------------------------------------

/// Whether any object in `value` has `key` set to the string `expected`.
fn has_string_field(value: &Value, key: &str, expected: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| {
            (k == key && v.as_str() == Some(expected)) || has_string_field(v, key, expected)
        }),
        Value::Array(items) => items.iter().any(|v| has_string_field(v, key, expected)),
        _ => false,
    }
}

#[test]
fn json_logs_are_json_carry_the_request_id_and_never_the_query() {
    const SECRET: &str = "330213199001011234";
    let dir = TempDir::new();
    let (mut proc, port) = sqlite_server(&dir, |cmd, port| {
        cmd.env("LOG_FORMAT", "json")
            .env("BIND", format!("127.0.0.1:{port}"));
    });

    let res = get(port, &format!("/api/v1/areas?q={SECRET}")).expect("the request is answered");
    let request_id = res
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id header: {res:?}"))
        .to_owned();
    assert!(!request_id.is_empty());

    let (status, stdout, stderr) = proc.terminate();
    assert!(status.success(), "{status}\n{stderr}");

    let mut lines = 0;
    let mut with_request_id = 0;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        assert!(value.is_object(), "a log line is not a JSON object: {line}");
        if has_string_field(&value, "request_id", &request_id) {
            with_request_id += 1;
        }
    }
    assert!(lines > 0, "nothing was logged");
    assert!(
        with_request_id > 0,
        "no log line carries request_id {request_id}:\n{stderr}"
    );
    assert!(
        !stderr.contains(SECRET) && !stdout.contains(SECRET),
        "the query string reached the output:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. PostgreSQL: readiness follows the database.
// ---------------------------------------------------------------------------------------------

/// A schema of its own in the test database, dropped at the end.
struct PgSchema {
    admin_url: String,
    name: String,
}

impl PgSchema {
    fn create(admin_url: &str) -> Self {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is not reachable: {e}"));
        conn.batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create the test schema");
        PgSchema {
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A TCP proxy that can be cut (listener closed, live connections shut) and restored.
struct Proxy {
    port: u16,
    upstream: SocketAddr,
    running: Option<ProxyRun>,
}

struct ProxyRun {
    stop: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Self {
        let mut proxy = Proxy {
            port: free_port(),
            upstream,
            running: None,
        };
        proxy.restore();
        proxy
    }

    /// Listens again on the same port.
    fn restore(&mut self) {
        assert!(self.running.is_none(), "the proxy is already running");
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("the proxy cannot listen on {}: {e}", self.port));
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let upstream = self.upstream;
        let acceptor = thread::spawn({
            let stop = stop.clone();
            let live = live.clone();
            move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let _ = client.set_nonblocking(false);
                            let Ok(server) =
                                TcpStream::connect_timeout(&upstream, Duration::from_secs(2))
                            else {
                                let _ = client.shutdown(Shutdown::Both);
                                continue;
                            };
                            let mut guard = live.lock().unwrap();
                            if stop.load(Ordering::SeqCst) {
                                let _ = client.shutdown(Shutdown::Both);
                                let _ = server.shutdown(Shutdown::Both);
                                continue;
                            }
                            for s in [&client, &server] {
                                if let Ok(clone) = s.try_clone() {
                                    guard.push(clone);
                                }
                            }
                            drop(guard);
                            pipe(&client, &server);
                            pipe(&server, &client);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
                // The listener drops here: new connections are refused.
            }
        });
        self.running = Some(ProxyRun {
            stop,
            live,
            acceptor,
        });
    }

    /// As if the database server went away: refuse new connections, break live ones.
    fn cut(&mut self) {
        let run = self.running.take().expect("the proxy is not running");
        run.stop.store(true, Ordering::SeqCst);
        let _ = run.acceptor.join();
        for stream in run.live.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.cut();
        }
    }
}

/// Copies `from` into `to` on a thread until either side ends, then ends both.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// `TEST_DATABASE_URL` pointed at the proxy, with the schema as search path.
fn through_proxy(admin_url: &str, proxy_port: u16, schema: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_host(Some("127.0.0.1")).expect("set the host");
    url.set_port(Some(proxy_port)).expect("set the port");
    url.query_pairs_mut()
        .append_pair("options", &format!("-csearch_path={schema}"));
    url.to_string()
}

fn upstream_of(admin_url: &str) -> SocketAddr {
    let url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port().unwrap_or(5432);
    (host, port)
        .to_socket_addrs()
        .expect("resolve the TEST_DATABASE_URL host")
        .next()
        .expect("the TEST_DATABASE_URL host has an address")
}

/// `/readyz`, which must answer (not hang) within ~5 s.
fn readyz_bounded(port: u16) -> Response {
    let started = Instant::now();
    let res = get_with(port, "/readyz", Duration::from_secs(6))
        .unwrap_or_else(|e| panic!("/readyz did not answer: {e}"));
    let took = started.elapsed();
    assert!(
        took <= Duration::from_secs(5),
        "/readyz took {took:?} (status {})",
        res.status
    );
    res
}

fn assert_alive(port: u16) {
    let res = get(port, "/healthz").expect("/healthz answers");
    assert_eq!(res.status, 200, "/healthz: {}", res.body);
}

/// Polls `/readyz` until it answers `status`, for at most `within`.
fn wait_readyz(port: u16, status: u16, within: Duration, proc: &Proc) -> Response {
    let deadline = Instant::now() + within;
    loop {
        let res = readyz_bounded(port);
        if res.status == status {
            return res;
        }
        assert_alive(port);
        if Instant::now() >= deadline {
            panic!(
                "/readyz still answers {} after {within:?} (want {status}): {}\n--- stderr:\n{}",
                res.status,
                res.body,
                proc.stderr_so_far()
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn postgres_readiness_follows_the_database() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let schema = PgSchema::create(&admin_url);
    let mut proxy = Proxy::start(upstream_of(&admin_url));

    let dir = TempDir::new();
    let port = free_port();
    let mut cmd = command(dir.path());
    cmd.env(
        "DATABASE_URL",
        through_proxy(&admin_url, proxy.port, &schema.name),
    )
    .env("DATA_DIR", dir.path().join("data"))
    .env("BIND", format!("127.0.0.1:{port}"))
    .env("DB_POOL_TIMEOUT_MS", "1000");
    let mut proc = Proc::spawn(cmd);
    wait_healthy(&mut proc, port);

    let res = readyz_bounded(port);
    assert_eq!(res.status, 200, "/readyz: {}", res.body);
    assert_eq!(res.json()["database"], "postgres");

    // The database goes away.
    proxy.cut();
    let cut_at = Instant::now();
    let res = wait_readyz(port, 503, Duration::from_secs(10), &proc);
    eprintln!("/readyz answered 503 {:?} after the cut", cut_at.elapsed());
    let content_type = res.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "503 with content-type {content_type:?}"
    );
    assert_eq!(res.json()["status"], 503, "{}", res.body);
    assert_alive(port);
    // It stays unready while the database is away.
    assert_eq!(readyz_bounded(port).status, 503);
    assert_alive(port);

    // The database comes back on the same address.
    proxy.restore();
    let restored_at = Instant::now();
    wait_readyz(port, 200, Duration::from_secs(10), &proc);
    eprintln!(
        "/readyz answered 200 {:?} after the restore",
        restored_at.elapsed()
    );
    assert_alive(port);

    let (status, _stdout, stderr) = proc.terminate();
    assert!(status.success(), "{status}\n{stderr}");
    drop(proxy);
    drop(schema);
}

// ---------------------------------------------------------------------------------------------
// 7. create-admin.
// ---------------------------------------------------------------------------------------------

/// Runs `create-admin` with `stdin` as its standard input.
fn create_admin(dir: &TempDir, username: &str, stdin: &str) -> Outcome {
    let mut cmd = command(dir.path());
    cmd.env("DATA_DIR", dir.path().join("data"))
        .args(["create-admin", "--username", username, "--password-stdin"])
        .stdin(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start create-admin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("create-admin finishes");
    Outcome {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// `POST path` with a JSON body over a fresh connection.
fn post_json(port: u16, path: &str, body: &Value) -> io::Result<Response> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

#[test]
fn create_admin_reads_the_password_from_stdin_and_the_admin_can_sign_in() {
    let dir = TempDir::new();
    let weak = create_admin(&dir, "root", "password1234\n");
    assert!(!weak.status.success(), "a common password is refused");
    assert!(weak.stderr.contains("password"), "{}", weak.stderr);
    let empty = create_admin(&dir, "root", "");
    assert!(!empty.status.success());

    let created = create_admin(&dir, "root", "district admin passphrase\n");
    assert!(created.status.success(), "{}", created.stderr);
    assert!(
        created.stdout.contains("admin root created"),
        "{}",
        created.stdout
    );
    assert!(!created.stderr.contains("district admin passphrase"));
    let reset = create_admin(&dir, "root", "another admin passphrase\n");
    assert!(reset.status.success(), "{}", reset.stderr);
    assert!(
        reset.stdout.contains("admin root reset"),
        "{}",
        reset.stdout
    );

    let (mut proc, port) = sqlite_server(&dir, |cmd, port| {
        cmd.env("BIND", format!("127.0.0.1:{port}"));
    });
    let old = post_json(
        port,
        "/api/v1/auth/login",
        &serde_json::json!({"username": "root", "password": "district admin passphrase"}),
    )
    .unwrap();
    assert_eq!(old.status, 401, "the reset password replaced the old one");
    let login = post_json(
        port,
        "/api/v1/auth/login",
        &serde_json::json!({"username": "root", "password": "another admin passphrase"}),
    )
    .unwrap();
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.json()["token_type"], "Bearer");
    let (status, _, stderr) = proc.terminate();
    assert!(status.success());
    assert!(!stderr.contains("another admin passphrase"));
    // The generated signing secret sits in the data folder, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let secret = dir.path().join("data/secrets/jwt_secret");
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_first_start_says_how_to_create_an_admin() {
    let dir = TempDir::new();
    let (proc, _port) = sqlite_server(&dir, |cmd, port| {
        cmd.env("BIND", format!("127.0.0.1:{port}"));
    });
    let mut proc = proc;
    let (_, _, stderr) = proc.terminate();
    assert!(stderr.contains("create-admin --username"), "{stderr}");
}

#[test]
fn production_refuses_to_start_without_a_signing_secret() {
    let dir = TempDir::new();
    let mut cmd = command(dir.path());
    cmd.env("DATA_DIR", dir.path().join("data"))
        .env("APP_ENV", "production")
        .env("BIND", format!("127.0.0.1:{}", free_port()));
    let out = run(cmd, Duration::from_secs(20));
    assert!(!out.status.success());
    assert!(out.stderr.contains("JWT_SECRET"), "{}", out.stderr);

    let mut cmd = command(dir.path());
    cmd.env("DATA_DIR", dir.path().join("data"))
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "short")
        .env("BIND", format!("127.0.0.1:{}", free_port()));
    let out = run(cmd, Duration::from_secs(20));
    assert!(!out.status.success());
    assert!(out.stderr.contains("too short"), "{}", out.stderr);

    // Every key is required, the audit trail's too.
    let mut cmd = command(dir.path());
    cmd.env("DATA_DIR", dir.path().join("data"))
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "k3J9x2LqP0vN8mR4tY7wZ1aB5cD6eF9gH2iJ")
        .env("FIELD_ENCRYPTION_KEY", DEMO_ENCRYPTION_KEY)
        .env("BLIND_INDEX_KEY", DEMO_INDEX_KEY)
        .env("BIND", format!("127.0.0.1:{}", free_port()));
    let out = run(cmd, Duration::from_secs(20));
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("AUDIT_CHAIN_KEY is required"),
        "{}",
        out.stderr
    );
    assert!(
        !dir.path().join("data/secrets").exists(),
        "production generates nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. import residents FILE.csv.
// ---------------------------------------------------------------------------------------------

/// `SELECT COUNT(*) FROM table` on a SQLite file; 0 when the file does not exist.
fn sqlite_rows(db: &Path, table: &str) -> i64 {
    use diesel::{Connection, RunQueryDsl};
    if !db.exists() {
        return 0;
    }
    let mut conn = diesel::SqliteConnection::establish(&db.display().to_string())
        .expect("open the SQLite database");
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<RowCount>(&mut conn)
        .expect("count rows")
        .n
}

#[derive(diesel::QueryableByName)]
struct RowCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Runs `import residents file` with `DATA_DIR=data_dir` and the extra variables.
fn import_residents(dir: &TempDir, data_dir: &Path, file: &Path, env: &[(&str, &str)]) -> Outcome {
    let mut cmd = command(dir.path());
    cmd.env("DATA_DIR", data_dir)
        .arg("import")
        .arg("residents")
        .arg(file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, ONE_SHOT_WITHIN)
}

#[track_caller]
fn assert_no_id_number(out: &Outcome, ids: &[&str]) {
    for id in ids {
        for text in [&out.stdout, &out.stderr] {
            assert!(
                !text.contains(id) && !text.contains(&id[..14]),
                "the output shows an ID number:\n{text}"
            );
        }
    }
}

/// A file of three good rows (one with a certificate) and two bad ones (lines 5 and 6); the
/// ID numbers of all five.
fn roster(dir: &TempDir) -> (PathBuf, Vec<String>) {
    let ids: Vec<String> = (0..5)
        .map(|i| id_number("330283", &format!("19{}-01-01", 50 + i), 100 + i as u16))
        .collect();
    let mut bad_check = ids[4].clone();
    let wrong = if bad_check.ends_with('0') { "1" } else { "0" };
    bad_check.replace_range(17..18, wrong);
    let text = format!(
        "id_number,name,town_code,phone,registered_on,certificate_number,certificate_issued_on\n\
         {a},张三,330213001,13800001111,2015-01-01,{a}42,2016-01-01\n\
         {b},李四,330213100,,2015-01-01,,\n\
         {c},王五,330213001,,2015-01-01,,\n\
         {d},赵六,330213001,12345,2015-01-01,,\n\
         {bad_check},钱七,330213001,,2015-01-01,,\n",
        a = ids[0],
        b = ids[1],
        c = ids[2],
        d = ids[3],
    );
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, text).unwrap();
    let mut all = ids;
    all.push(bad_check);
    (path, all)
}

/// The whole import flow against one database: first run, its report, a second run.
fn import_twice(dir: &TempDir, env: &[(&str, &str)], count: &dyn Fn(&str) -> i64) {
    let data_dir = dir.path().join("data");
    let (file, ids) = roster(dir);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();

    let first = import_residents(dir, &data_dir, &file, env);
    assert!(
        first.status.success(),
        "first import: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        first.status,
        first.stdout,
        first.stderr
    );
    assert!(
        first
            .stdout
            .contains("rows 5: created 3, updated 0, unchanged 0, rejected 2"),
        "{}",
        first.stdout
    );
    let rejected: Vec<&str> = first
        .stdout
        .lines()
        .filter(|l| l.starts_with("line "))
        .collect();
    assert_eq!(rejected.len(), 2, "{}", first.stdout);
    assert!(
        rejected[0].starts_with("line 5: phone: ") && rejected[0].ends_with("(invalid_format)"),
        "{}",
        first.stdout
    );
    assert!(
        rejected[1].starts_with("line 6: id_number: ")
            && rejected[1].ends_with("(invalid_check_digit)"),
        "{}",
        first.stdout
    );
    assert_no_id_number(&first, &ids);
    assert_eq!(count("residents"), 3);
    assert_eq!(count("certificates"), 1);
    eprintln!("first import took {:?}", first.took);

    let second = import_residents(dir, &data_dir, &file, env);
    assert!(second.status.success(), "second import: {}", second.stderr);
    assert!(
        second
            .stdout
            .contains("rows 5: created 0, updated 0, unchanged 3, rejected 2"),
        "the second run changes nothing:\n{}",
        second.stdout
    );
    assert_no_id_number(&second, &ids);
    assert_eq!(count("residents"), 3);
    assert_eq!(count("certificates"), 1);
}

#[test]
fn import_residents_reports_counts_and_a_second_run_changes_nothing() {
    let dir = TempDir::new();
    let db = dir.path().join("data").join("registry.db");
    import_twice(&dir, &[], &|table| sqlite_rows(&db, table));
}

#[test]
fn import_residents_into_postgres_when_test_database_url_is_set() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let schema = PgSchema::create(&admin_url);
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{admin_url}{separator}options=-csearch_path%3D{}",
        schema.name
    );
    let dir = TempDir::new();
    let count = |table: &str| {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(&admin_url).unwrap();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {}.{table}", schema.name))
            .get_result::<RowCount>(&mut conn)
            .unwrap()
            .n
    };
    import_twice(&dir, &[("DATABASE_URL", &url)], &count);
}

/// An Excel workbook with the Chinese header: a multiple disability with its components (dates
/// as date cells, the phone a number), and an ID number Excel turned into a number (line 3).
fn roster_workbook(dir: &TempDir) -> (PathBuf, Vec<String>) {
    let good = id_number("330283", "1962-03-03", 301);
    let lost = id_number("330283", "1963-04-04", 302);
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "身份证号",
        "姓名",
        "乡镇（街道）代码",
        "联系电话",
        "登记日期",
        "残疾证号",
        "残疾类别",
        "残疾等级",
        "多重残疾构成",
        "发证日期",
    ];
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    let day = |y, m, d| rust_xlsxwriter::ExcelDateTime::from_ymd(y, m, d).unwrap();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    sheet.write_string(1, 0, &good).unwrap();
    sheet.write_string(1, 1, "张三").unwrap();
    sheet.write_string(1, 2, "330213001").unwrap();
    sheet.write_number(1, 3, 13800001111.0).unwrap();
    sheet
        .write_datetime_with_format(1, 4, day(2015, 1, 1), &date)
        .unwrap();
    sheet.write_string(1, 5, format!("{good}73")).unwrap();
    sheet.write_string(1, 6, "多重残疾").unwrap();
    sheet.write_string(1, 7, "三级").unwrap();
    sheet.write_string(1, 8, "听力残疾、言语残疾").unwrap();
    sheet
        .write_datetime_with_format(1, 9, day(2016, 1, 1), &date)
        .unwrap();
    sheet
        .write_number(2, 0, lost[..17].parse::<f64>().unwrap() * 10.0)
        .unwrap();
    sheet.write_string(2, 1, "李四").unwrap();
    sheet.write_string(2, 2, "330213001").unwrap();
    let path = dir.path().join("roster.xlsx");
    std::fs::write(&path, book.save_to_buffer().unwrap()).unwrap();
    (path, vec![good, lost])
}

/// `import residents roster.xlsx`: the workbook is read as a workbook, by its extension.
fn import_a_workbook(dir: &TempDir, env: &[(&str, &str)], count: &dyn Fn(&str) -> i64) {
    let data_dir = dir.path().join("data");
    let (file, ids) = roster_workbook(dir);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let out = import_residents(dir, &data_dir, &file, env);
    assert!(
        out.status.success(),
        "import: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout
            .contains("rows 2: created 1, updated 0, unchanged 0, rejected 1"),
        "{}",
        out.stdout
    );
    let rejected: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("line "))
        .collect();
    assert_eq!(rejected.len(), 1, "{}", out.stdout);
    assert!(
        rejected[0].starts_with("line 3: id_number: ")
            && rejected[0].ends_with("(scientific_notation)"),
        "{}",
        out.stdout
    );
    assert_no_id_number(&out, &ids);
    assert_eq!(count("residents"), 1);
    assert_eq!(count("certificates"), 1);
}

#[test]
fn import_residents_reads_an_xlsx_workbook() {
    let dir = TempDir::new();
    let db = dir.path().join("data").join("registry.db");
    import_a_workbook(&dir, &[], &|table| sqlite_rows(&db, table));
}

#[test]
fn import_residents_reads_an_xlsx_workbook_into_postgres_when_test_database_url_is_set() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let schema = PgSchema::create(&admin_url);
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{admin_url}{separator}options=-csearch_path%3D{}",
        schema.name
    );
    let dir = TempDir::new();
    let count = |table: &str| {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(&admin_url).unwrap();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {}.{table}", schema.name))
            .get_result::<RowCount>(&mut conn)
            .unwrap()
            .n
    };
    import_a_workbook(&dir, &[("DATABASE_URL", &url)], &count);
}

#[test]
fn import_residents_refuses_a_malformed_file_and_writes_nothing() {
    let dir = TempDir::new();
    let data_dir = dir.path().join("data");
    let db = data_dir.join("registry.db");
    let one = id_number("330283", "1970-01-01", 201);
    let two = id_number("330283", "1971-01-01", 202);
    let cases = [
        (
            "too_many.csv",
            format!("id_number,name,town_code\n{one},张三,330213001\n{two},李四,330213001,多余\n"),
            "line 3",
        ),
        (
            "unknown_column.csv",
            format!("id_number,name,town_code,nickname\n{one},张三,330213001,小张\n"),
            // Issue 9: a header cell is named by its position, never by what it holds.
            "column 4",
        ),
        (
            "no_id_number.csv",
            "name,town_code\n张三,330213001\n".to_owned(),
            "id_number",
        ),
    ];
    for (name, text, names) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = import_residents(&dir, &data_dir, &file, &[]);
        assert!(
            !out.status.success(),
            "{name}: a malformed file is refused\n{}",
            out.stdout
        );
        assert!(
            out.stderr.contains("error") && out.stderr.contains(names),
            "{name}: the message should say what is wrong ({names}):\n{}",
            out.stderr
        );
        assert!(!out.stdout.contains("created"), "{name}: {}", out.stdout);
        assert_no_id_number(&out, &[&one, &two]);
        assert_eq!(
            sqlite_rows(&db, "residents"),
            0,
            "{name}: rows were written"
        );
    }
    // Bytes that are neither UTF-8 nor GBK.
    let file = dir.path().join("binary.csv");
    let mut bytes = format!("id_number,name,town_code\n{one},").into_bytes();
    bytes.extend_from_slice(&[0xFF, 0xFE, 0xFF]);
    bytes.extend_from_slice(b",330213001\n");
    std::fs::write(&file, bytes).unwrap();
    let out = import_residents(&dir, &data_dir, &file, &[]);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("UTF-8") || out.stderr.contains("GBK"),
        "{}",
        out.stderr
    );
    assert_eq!(sqlite_rows(&db, "residents"), 0);

    // A file that is not there.
    let out = import_residents(&dir, &data_dir, &dir.path().join("missing.csv"), &[]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("missing.csv"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// 9. seed-demo.
// ---------------------------------------------------------------------------------------------

/// The keys of both seeded databases: the same keys give the same blind indexes.
const DEMO_ENCRYPTION_KEY: &str = "seed-demo test field key 0123456789abcdef";
const DEMO_INDEX_KEY: &str = "seed-demo test index key 0123456789abcdef";

/// The tables `seed-demo` fills, as its summary names them.
const DEMO_TABLES: &[&str] = &[
    "residents",
    "household_statuses",
    "certificates",
    "subsidy_grants",
    "grant_suspensions",
    "file_records",
    "home_modifications",
    "resident_moves",
];

/// A database a test looks into directly.
enum Store {
    Sqlite(PathBuf),
    Postgres { admin_url: String, schema: String },
}

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

#[derive(diesel::QueryableByName)]
struct ResidentSecrets {
    #[diesel(sql_type = diesel::sql_types::Text)]
    public_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id_number_enc: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id_number_index: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    phone_enc: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sex: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    birth: String,
}

impl Store {
    fn load<T>(&self, sql: &str) -> Vec<T>
    where
        T: diesel::QueryableByName<diesel::sqlite::Sqlite>
            + diesel::QueryableByName<diesel::pg::Pg>
            + 'static,
    {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, RunQueryDsl};
        match self {
            Store::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.display().to_string())
                    .expect("open the SQLite database");
                diesel::sql_query(sql).load(&mut conn).expect(sql)
            }
            Store::Postgres { admin_url, schema } => {
                let mut conn = diesel::PgConnection::establish(admin_url).expect("connect");
                conn.batch_execute(&format!("SET search_path TO {schema}"))
                    .expect("set the schema");
                diesel::sql_query(sql).load(&mut conn).expect(sql)
            }
        }
    }

    fn count(&self, table: &str) -> i64 {
        self.load::<RowCount>(&format!("SELECT COUNT(*) AS n FROM {table}"))[0].n
    }

    fn strings(&self, sql: &str) -> Vec<String> {
        self.load::<TextRow>(sql).into_iter().map(|r| r.v).collect()
    }
}

/// Runs `seed-demo ARGS` with the test keys, `DATA_DIR` in `dir` and the extra variables.
fn seed_demo(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> Outcome {
    let mut cmd = command(dir.path());
    cmd.env("DATA_DIR", dir.path().join("data"))
        .env("FIELD_ENCRYPTION_KEY", DEMO_ENCRYPTION_KEY)
        .env("BLIND_INDEX_KEY", DEMO_INDEX_KEY)
        .arg("seed-demo")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, Duration::from_secs(180))
}

/// The rows per table the summary printed.
fn seeded_rows(stdout: &str) -> Vec<(String, i64)> {
    DEMO_TABLES
        .iter()
        .map(|table| {
            let n = stdout
                .lines()
                .filter_map(|l| l.trim().strip_prefix(table))
                .filter_map(|rest| rest.trim().parse::<i64>().ok())
                .next()
                .unwrap_or_else(|| panic!("no row count for {table}:\n{stdout}"));
            ((*table).to_owned(), n)
        })
        .collect()
}

/// One request with a bearer token over a fresh connection.
fn authorized(port: u16, method: &str, path: &str, token: &str, body: Option<&Value>) -> Response {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_secs(30);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).expect("connect");
    stream.set_read_timeout(Some(timeout)).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    parse_response(&raw).expect("an HTTP answer")
}

/// Seeds two databases with one seed and checks them, refuses a third run, adds with
/// `--force`, then serves the files of the seeded residents.
fn seed_demo_flow(dirs: [&TempDir; 2], envs: [&[(&str, &str)]; 2], stores: [&Store; 2]) {
    let first = seed_demo(dirs[0], envs[0], &["--residents", "300", "--seed", "42"]);
    assert!(
        first.status.success(),
        "seed-demo: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        first.status,
        first.stdout,
        first.stderr
    );
    eprintln!("seed-demo of 300 took {:?}\n{}", first.took, first.stdout);
    let second = seed_demo(dirs[1], envs[1], &["--residents", "300", "--seed", "42"]);
    assert!(second.status.success(), "{}", second.stderr);

    // The same seed gives the same district: counts, ID numbers (by their blind index), names.
    let printed = seeded_rows(&first.stdout);
    assert_eq!(printed, seeded_rows(&second.stdout));
    for (table, n) in &printed {
        assert_eq!(stores[0].count(table), *n, "{table}");
        assert_eq!(stores[1].count(table), *n, "{table}");
    }
    assert_eq!(stores[0].count("residents"), 300);
    assert!(stores[0].count("certificates") >= 300);
    assert!(stores[0].count("household_statuses") >= 300);
    assert!(stores[0].count("file_records") > 300 * 5);
    assert!(stores[0].count("subsidy_grants") > 0);
    let indexes = "SELECT id_number_index AS v FROM residents ORDER BY id";
    assert_eq!(stores[0].strings(indexes), stores[1].strings(indexes));
    let names = "SELECT name AS v FROM residents ORDER BY id";
    assert_eq!(stores[0].strings(names), stores[1].strings(names));
    for table in ["facilities", "gdp_growth"] {
        assert!(stores[0].count(table) > 0, "{table} filled");
    }
    assert!(stores[0].count("areas") > 13, "villages were added");

    // Every ID number decrypts with the service's key and context, is valid, matches its blind
    // index, sex and birth date; the phones decrypt.
    let cipher = fenghua_registry::protect::FieldCipher::new(DEMO_ENCRYPTION_KEY.as_bytes());
    let index = fenghua_registry::protect::BlindIndex::new(DEMO_INDEX_KEY.as_bytes());
    let rows: Vec<ResidentSecrets> = stores[0].load(
        "SELECT public_id, id_number_enc, id_number_index, phone_enc, sex, \
         CAST(birth_date AS TEXT) AS birth FROM residents ORDER BY id",
    );
    let mut phones = 0;
    for row in &rows {
        let plain = cipher
            .decrypt(
                &row.id_number_enc,
                &format!("residents.id_number:{}", row.public_id),
            )
            .expect("the ID number decrypts");
        let number = fenghua_registry::domain::id_number::IdNumber::parse(&plain)
            .expect("a valid ID number");
        assert_eq!(index.of(number.as_str()), row.id_number_index);
        assert_eq!(number.sex().as_str(), row.sex);
        assert_eq!(number.birth_date().to_string(), row.birth);
        if let Some(phone) = &row.phone_enc {
            cipher
                .decrypt(phone, &format!("residents.phone:{}", row.public_id))
                .expect("the phone decrypts");
            phones += 1;
        }
    }
    assert!(phones > 100, "most residents have a phone ({phones})");

    // A database with residents is refused without --force, and nothing is written.
    let refused = seed_demo(dirs[0], envs[0], &["--residents", "10"]);
    assert!(!refused.status.success(), "{}", refused.stdout);
    assert!(
        refused.stderr.contains("--force") && refused.stderr.contains("300 residents"),
        "{}",
        refused.stderr
    );
    assert_eq!(stores[0].count("residents"), 300);
    let added = seed_demo(
        dirs[0],
        envs[0],
        &["--residents", "50", "--seed", "42", "--force"],
    );
    assert!(added.status.success(), "{}", added.stderr);
    assert_eq!(stores[0].count("residents"), 350);
    assert!(added.stdout.contains("ids from 301"), "{}", added.stdout);

    // The service reads the seeded files: the full file of residents with grants and records.
    let mut create = command(dirs[0].path());
    create
        .env("DATA_DIR", dirs[0].path().join("data"))
        .args(["create-admin", "--username", "root", "--password-stdin"])
        .stdin(Stdio::piped());
    for (k, v) in envs[0] {
        create.env(k, v);
    }
    let mut child = create.spawn().expect("start create-admin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"seeded district passphrase\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port = free_port();
    let mut cmd = command(dirs[0].path());
    cmd.env("DATA_DIR", dirs[0].path().join("data"))
        .env("FIELD_ENCRYPTION_KEY", DEMO_ENCRYPTION_KEY)
        .env("BLIND_INDEX_KEY", DEMO_INDEX_KEY)
        .env("BIND", format!("127.0.0.1:{port}"));
    for (k, v) in envs[0] {
        cmd.env(k, v);
    }
    let mut proc = Proc::spawn(cmd);
    wait_healthy(&mut proc, port);
    let login = post_json(
        port,
        "/api/v1/auth/login",
        &serde_json::json!({"username": "root", "password": "seeded district passphrase"}),
    )
    .unwrap();
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    let sample = stores[0].strings(
        "SELECT r.public_id AS v FROM residents r \
         WHERE EXISTS (SELECT 1 FROM subsidy_grants g WHERE g.resident_id = r.id) \
           AND EXISTS (SELECT 1 FROM file_records f WHERE f.resident_id = r.id) \
         ORDER BY r.id",
    );
    assert!(sample.len() > 10, "residents with grants and records");
    let mut ids: Vec<String> = sample.into_iter().take(15).collect();
    ids.extend(
        stores[0].strings("SELECT public_id AS v FROM residents WHERE id > 300 ORDER BY id"),
    );
    for id in ids.iter().take(25) {
        let res = authorized(
            port,
            "GET",
            &format!("/api/v1/residents/{id}/file"),
            &token,
            None,
        );
        assert_eq!(res.status, 200, "GET file of {id}: {}", res.body);
        let file = res.json();
        assert_eq!(file["resident"]["id"], id.as_str());
        assert!(file["resident"]["id_number"]
            .as_str()
            .is_some_and(|n| n.len() == 18 && n.contains("********")));
        assert!(!file["certificates"].as_array().unwrap().is_empty());
        assert!(file["insurance"].is_array(), "{}", res.body);
    }
    let with_grant = authorized(
        port,
        "GET",
        &format!("/api/v1/residents/{}/file", ids[0]),
        &token,
        None,
    )
    .json();
    assert!(!with_grant["subsidies"].as_array().unwrap().is_empty());
    let (status, _, stderr) = proc.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn seed_demo_is_deterministic_refuses_a_filled_database_and_serves_its_files() {
    let (a, b) = (TempDir::new(), TempDir::new());
    let stores = [
        Store::Sqlite(a.path().join("data").join("registry.db")),
        Store::Sqlite(b.path().join("data").join("registry.db")),
    ];
    seed_demo_flow([&a, &b], [&[], &[]], [&stores[0], &stores[1]]);
}

#[test]
fn seed_demo_into_postgres_when_test_database_url_is_set() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let schemas = [PgSchema::create(&admin_url), PgSchema::create(&admin_url)];
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let urls: Vec<String> = schemas
        .iter()
        .map(|s| format!("{admin_url}{separator}options=-csearch_path%3D{}", s.name))
        .collect();
    let stores: Vec<Store> = schemas
        .iter()
        .map(|s| Store::Postgres {
            admin_url: admin_url.clone(),
            schema: s.name.clone(),
        })
        .collect();
    let (a, b) = (TempDir::new(), TempDir::new());
    seed_demo_flow(
        [&a, &b],
        [&[("DATABASE_URL", &urls[0])], &[("DATABASE_URL", &urls[1])]],
        [&stores[0], &stores[1]],
    );
}

// 9. import areas FILE.csv.

#[test]
fn import_areas_adds_villages_and_a_second_run_changes_nothing() {
    let dir = TempDir::new();
    let data_dir = dir.path().join("data");
    let file = dir.path().join("villages.csv");
    std::fs::write(
        &file,
        "code,name,town_code\n330213001921,上游村,330213001\n330213001922,下游村,330213001\n\
         330213001923,错村,330213100\n",
    )
    .unwrap();
    let import = || {
        let mut cmd = command(dir.path());
        cmd.env("DATA_DIR", &data_dir)
            .arg("import")
            .arg("areas")
            .arg(&file);
        run(cmd, ONE_SHOT_WITHIN)
    };
    let first = import();
    assert!(first.status.success(), "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("rows 3: created 2, unchanged 0, rejected 1"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("line 4: code:"), "{}", first.stdout);
    let second = import();
    assert!(
        second.status.success(),
        "{}\n{}",
        second.stdout,
        second.stderr
    );
    assert!(
        second
            .stdout
            .contains("rows 3: created 0, unchanged 2, rejected 1"),
        "{}",
        second.stdout
    );
    let db = data_dir.join("registry.db");
    assert_eq!(sqlite_rows(&db, "areas WHERE level = 'village'"), 2);
}
