//! Killing the service loses no event of an answered read (issue 13, DESIGN §6): the binary
//! serves concurrent file reads, is killed with SIGKILL while they run, is not restarted, and
//! every read that got its answer has its `file_read` event in the database, in a chain that
//! verifies. SQLite by default; PostgreSQL (a schema of its own) with `TEST_DATABASE_URL`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;

use fenghua_registry::db::{ConnectionManager, DatabaseUrl};

const BIN: &str = env!("CARGO_BIN_EXE_fenghua-registry");
const CLIENTS: usize = 16;
/// Answers to wait for before the kill; the clients keep reading until it.
const ANSWERS_BEFORE_KILL: usize = 150;
const PASSWORD: &str = "crash-test password 0123456789";

/// A fresh folder and, on PostgreSQL, a fresh schema; both removed at the end.
struct Place {
    dir: PathBuf,
    database_url: Option<String>,
    drop_schema: Option<(String, String)>,
}

impl Place {
    fn new() -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("fenghua-crash-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin) => {
                let schema = format!("crash_{tag}");
                let mut conn = diesel::PgConnection::establish(&admin).unwrap();
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .unwrap();
                let separator = if admin.contains('?') { '&' } else { '?' };
                Place {
                    dir,
                    database_url: Some(format!(
                        "{admin}{separator}options=-csearch_path%3D{schema}"
                    )),
                    drop_schema: Some((admin, schema)),
                }
            }
            None => Place {
                dir,
                database_url: None,
                drop_schema: None,
            },
        }
    }

    fn url(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url).unwrap(),
            None => DatabaseUrl::Sqlite(self.dir.join("data").join("registry.db")),
        }
    }

    fn command(&self) -> Command {
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

    fn run(&self, args: &[&str], stdin: Option<&str>) {
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
struct Server(Child);

impl Server {
    /// SIGKILL: no shutdown, no flush, no last batch.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request over a fresh connection: the status and body of a whole answer, or `None` when
/// no whole answer came (the server died first).
fn call(port: u16, request: &str) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    // Whole: as long as Content-Length says (the service does not chunk these answers).
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(body.len());
    (body.len() == length).then(|| (status, body.to_owned()))
}

fn get(port: u16, path: &str, token: &str, request_id: &str) -> Option<(u16, String)> {
    call(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             X-Request-Id: {request_id}\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn login(port: u16) -> String {
    let body = serde_json::json!({ "username": "crashadmin", "password": PASSWORD }).to_string();
    let (status, text) = call(
        port,
        &format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .expect("the login is answered");
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn wait_healthy(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            let mut err = String::new();
            let _ = server.0.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the server exited ({status}): {err}");
        }
        if let Some((200, _)) = call(
            port,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ) {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        thread::sleep(Duration::from_millis(50));
    }
}

fn serve(place: &Place, port: u16) -> Server {
    let mut cmd = place.command();
    cmd.arg("serve")
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("DB_POOL_SIZE", "20");
    let mut server = Server(cmd.spawn().expect("start the binary"));
    wait_healthy(&mut server, port);
    server
}

fn file_read_events(place: &Place) -> (HashMap<String, usize>, bool, i64) {
    // The key the service generated into its data folder (embedded mode).
    let key = fenghua_registry::secrets::load(
        "AUDIT_CHAIN_KEY",
        None,
        fenghua_registry::secrets::AppEnv::Embedded,
        &place.dir.join("data"),
    )
    .unwrap();
    fenghua_registry::audit::anchor::install(&key);
    let url = place.url();
    let mut conn = ConnectionManager::new(url.clone())
        .establish()
        .expect("open the database of the killed service");
    let chain =
        fenghua_registry::audit::verify(&mut conn, fenghua_registry::audit::Walk::Full).unwrap();
    let mut events: HashMap<String, usize> = HashMap::new();
    for row in fenghua_registry::db::audit::page_after(&mut conn, 0, 1_000_000).unwrap() {
        if row.action == "file_read" {
            *events
                .entry(row.request_id.unwrap_or_default())
                .or_default() += 1;
        }
    }
    (events, chain.valid, chain.events_checked)
}

fn data_folder_exists(dir: &Path) -> bool {
    dir.join("data").is_dir()
}

#[test]
fn an_answered_read_keeps_its_event_when_the_service_is_killed() {
    let place = Place::new();
    place.run(&["seed-demo", "--residents", "40"], None);
    place.run(
        &[
            "create-admin",
            "--username",
            "crashadmin",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(data_folder_exists(&place.dir));
    let port = free_port();
    let server = Arc::new(Mutex::new(serve(&place, port)));
    let token = login(port);
    let (status, text) = get(port, "/api/v1/residents?limit=40", &token, "list").unwrap();
    assert_eq!(status, 200, "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<String> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.is_empty());

    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (answered, stop, ids, token, server) = (
                answered.clone(),
                stop.clone(),
                ids.clone(),
                token.clone(),
                server.clone(),
            );
            thread::spawn(move || {
                let mut sent = 0;
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let resident = &ids[(client * 7 + i) % ids.len()];
                    let request_id = format!("crash-{client}-{i}");
                    sent += 1;
                    match get(
                        port,
                        &format!("/api/v1/residents/{resident}/file"),
                        &token,
                        &request_id,
                    ) {
                        Some((200, body)) => {
                            assert!(body.contains(resident.as_str()));
                            let mut answered = answered.lock().unwrap();
                            answered.push(request_id);
                            if answered.len() == ANSWERS_BEFORE_KILL {
                                // Killed the instant this answer is in, with reads in
                                // flight; nothing is restarted.
                                server.lock().unwrap().kill();
                                stop.store(true, Ordering::SeqCst);
                            }
                        }
                        Some((status, body)) => panic!("{request_id}: {status} {body}"),
                        // The server is gone.
                        None => break,
                    }
                }
                sent
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(120);
    while !stop.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the reads are too slow");
        thread::sleep(Duration::from_millis(20));
    }
    let sent: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let answered = answered.lock().unwrap().clone();

    let (events, chain_valid, checked) = file_read_events(&place);
    let lost: Vec<&String> = answered
        .iter()
        .filter(|id| events.get(*id) != Some(&1))
        .collect();
    eprintln!(
        "sent {sent} reads, {} answered before the kill, {} file_read events stored, \
         chain of {checked} events valid: {chain_valid}",
        answered.len(),
        events.len()
    );
    assert!(
        lost.is_empty(),
        "answered reads without exactly one event: {lost:?}"
    );
    assert!(chain_valid, "the chain verifies after the kill");
    assert!(events.values().all(|n| *n == 1));
    assert!(answered.len() >= ANSWERS_BEFORE_KILL);
}
