//! The real binary as a service, for the tests that kill it or load it over HTTP
//! (`read_audit_crash.rs`, `write_load.rs`): a fresh place for its data (a folder and, on
//! PostgreSQL, a schema of its own), the server process with its log in that folder, and a
//! plain HTTP/1.1 client that tells a whole answer from none.

pub mod load;
pub mod private_postgres;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;

use fenghua_registry::db::DatabaseUrl;

pub use crate::shared::free_port;

pub const BIN: &str = env!("CARGO_BIN_EXE_fenghua-registry");
pub const ADMIN: &str = "loadadmin";
pub const PASSWORD: &str = "crash-test password 0123456789";

/// A fresh folder and, on PostgreSQL, a fresh schema; both removed at the end.
pub struct Place {
    pub dir: PathBuf,
    database_url: Option<String>,
    drop_schema: Option<(String, String)>,
}

impl Place {
    /// SQLite in the folder, or a schema in `TEST_DATABASE_URL` when it is set.
    pub fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin) => Place::on_postgres(&admin),
            None => Place::on_sqlite(),
        }
    }

    pub fn on_sqlite() -> Self {
        Place {
            dir: fresh_dir(),
            database_url: None,
            drop_schema: None,
        }
    }

    /// A schema of its own in the PostgreSQL database `admin` names.
    pub fn on_postgres(admin: &str) -> Self {
        let dir = fresh_dir();
        let schema = format!(
            "crash_{}",
            dir.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .rsplit('-')
                .next()
                .unwrap()
        );
        let mut conn = diesel::PgConnection::establish(admin).unwrap();
        conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        let separator = if admin.contains('?') { '&' } else { '?' };
        Place {
            dir,
            database_url: Some(format!(
                "{admin}{separator}options=-csearch_path%3D{schema}"
            )),
            drop_schema: Some((admin.to_owned(), schema)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.is_some()
    }

    pub fn url(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url).unwrap(),
            None => DatabaseUrl::Sqlite(self.dir.join("data").join("registry.db")),
        }
    }

    /// The server's log (stderr of every start, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The log's first warnings and errors, to show with a failure.
    pub fn log_warnings(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .take(20)
            .collect();
        lines.join("\n")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .current_dir(&self.dir)
            .env("DATA_DIR", self.dir.join("data"))
            .env("LOG_LEVEL", "warn")
            .env("WEBHOOK_WORKER", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        if let Some(url) = &self.database_url {
            cmd.env("DATABASE_URL", url);
        }
        cmd
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) {
        let mut cmd = self.command();
        cmd.args(args);
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The admin [`ADMIN`] with [`PASSWORD`] (migrating the database first).
    pub fn create_admin(&self) {
        self.run(
            &["create-admin", "--username", ADMIN, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        );
    }
}

fn fresh_dir() -> PathBuf {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("fenghua-crash-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, schema)) = &self.drop_schema {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// The server, killed (SIGKILL) when dropped if the test has not killed it yet.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// SIGKILL: no shutdown, no flush, no last batch.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `serve` on a free port with `env` added, its log appended to [`Place::log_path`]; answers
/// once `/healthz` does.
pub fn serve<V: AsRef<std::ffi::OsStr>>(place: &Place, env: &[(&str, V)]) -> Server {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(place.log_path())
        .unwrap();
    let mut cmd = place.command();
    cmd.arg("serve")
        .env("BIND", format!("127.0.0.1:{port}"))
        .stderr(log);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut server = Server {
        child: cmd.spawn().expect("start the binary"),
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("the server exited ({status}): {}", place.log());
        }
        if let Some(answer) = call(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") {
            if answer.status == 200 {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        thread::sleep(Duration::from_millis(50));
    }
}

/// A whole answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    head: String,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, value) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.body))
    }
}

/// One request (its head without `Connection`) over a fresh connection: the whole answer, or
/// `None` when no whole answer came (the server died first, or never listened).
pub fn call(port: u16, request: &str) -> Option<Answer> {
    let request = request.replacen("\r\n", "\r\nConnection: close\r\n", 1);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let answer = Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    };
    // Whole: as long as Content-Length says (the service does not chunk these answers).
    let length: usize = answer
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(body.len());
    (body.len() == length).then_some(answer)
}

/// A request with a bearer token, `headers` (each ending in `\r\n`) and a body of
/// `content_type`.
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    headers: &str,
    body: Option<(&str, &str)>,
) -> Option<Answer> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{headers}"
    );
    match body {
        Some((content_type, body)) => request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => request.push_str("\r\n"),
    }
    call(port, &request)
}

pub fn get(port: u16, path: &str, token: &str) -> Option<Answer> {
    send(port, "GET", path, token, "", None)
}

/// [`ADMIN`]'s access token.
pub fn login(port: u16) -> String {
    let body = serde_json::json!({ "username": ADMIN, "password": PASSWORD }).to_string();
    let answer = call(
        port,
        &format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .expect("the login is answered");
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["access_token"].as_str().unwrap().to_owned()
}

/// Whether the whole audit chain verifies, as `GET /api/v1/audit-events/verify?full=true`
/// says, with the report.
pub fn chain_verifies(port: u16, token: &str) -> (bool, Value) {
    let answer = get(port, "/api/v1/audit-events/verify?full=true", token)
        .expect("the verification is answered");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let report = answer.json();
    (report["valid"] == true, report)
}
