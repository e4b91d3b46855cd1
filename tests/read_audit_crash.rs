//! Killing the service loses no event of an answered read (issue 13, DESIGN §6): the binary
//! serves concurrent file reads, is killed with SIGKILL while they run, is not restarted, and
//! every read that got its answer has its `file_read` event in the database, in a chain that
//! verifies. SQLite by default; PostgreSQL (a schema of its own) with `TEST_DATABASE_URL`.

#[allow(dead_code)]
mod service;
#[allow(dead_code)]
mod shared;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fenghua_registry::db::ConnectionManager;
use service::{send, Place};

const CLIENTS: usize = 16;
/// Answers to wait for before the kill; the clients keep reading until it.
const ANSWERS_BEFORE_KILL: usize = 150;

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

#[test]
fn an_answered_read_keeps_its_event_when_the_service_is_killed() {
    let place = Place::new();
    place.run(&["seed-demo", "--residents", "40"], None);
    place.create_admin();
    assert!(place.dir.join("data").is_dir());
    let server = service::serve(&place, &[("DB_POOL_SIZE", "20")]);
    let port = server.port;
    let server = Arc::new(Mutex::new(server));
    let token = service::login(port);
    let listed = service::get(port, "/api/v1/residents?limit=40", &token).unwrap();
    assert_eq!(listed.status, 200, "{}", listed.body);
    let ids: Vec<String> = listed.json()["items"]
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
                    match send(
                        port,
                        "GET",
                        &format!("/api/v1/residents/{resident}/file"),
                        &token,
                        &format!("X-Request-Id: {request_id}\r\n"),
                        None,
                    ) {
                        Some(answer) if answer.status == 200 => {
                            assert!(answer.body.contains(resident.as_str()));
                            let mut answered = answered.lock().unwrap();
                            answered.push(request_id);
                            if answered.len() == ANSWERS_BEFORE_KILL {
                                // Killed the instant this answer is in, with reads in
                                // flight; nothing is restarted.
                                server.lock().unwrap().kill();
                                stop.store(true, Ordering::SeqCst);
                            }
                        }
                        Some(answer) => {
                            panic!("{request_id}: {} {}", answer.status, answer.body)
                        }
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
