//! Writes under load and faults (issue 15), against the real binary over HTTP: writers that
//! register residents, add section records, change one shared resident under `If-Match` and
//! import CSV files, all at once.
//!
//! - `concurrent_writers_lose_nothing`: `LOAD_WRITERS` (50) writers for `LOAD_SECS` (10 s):
//!   no 5xx, no "database is locked" in any answer or in the server's log, every acknowledged
//!   write there afterwards, the shared resident's version counting exactly its acknowledged
//!   changes, the audit chain verifying.
//! - `acknowledged_writes_survive_a_sigkill`: `CRASH_WRITERS` (8) writers; the service is
//!   killed with SIGKILL once `CRASH_ACKS` (300) writes are acknowledged, started again, and
//!   every acknowledged write is there and the chain verifies.
//! - `writes_recover_when_postgresql_restarts`: PostgreSQL itself is restarted under load (a
//!   private cluster, in the PostgreSQL pass only) and the service recovers without a restart.
//!
//! SQLite by default; PostgreSQL (a schema of its own) with `TEST_DATABASE_URL`. Longer runs:
//! README, "Load and crash tests".

#[allow(dead_code)]
mod service;
#[allow(dead_code)]
mod shared;
use std::time::Duration;

use service::load::{env_number, Load, Stop};
use service::Place;

/// One load test at a time in this binary: each is a whole server's worth of load.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn concurrent_writers_lose_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let place = Place::new();
    place.create_admin();
    let server = service::serve(&place, &Load::server_env(place.is_postgres()));
    let token = service::login(server.port);
    let load = Load::start(
        server.port,
        &token,
        env_number("LOAD_WRITERS", 50),
        Stop::After(Duration::from_secs(env_number("LOAD_SECS", 10) as u64)),
    );
    let outcome = load.wait();
    eprintln!("{}", outcome.summary(place.is_postgres()));
    assert!(
        outcome.faults.is_empty(),
        "faults: {:#?}\nthe server's warnings:\n{}",
        &outcome.faults[..outcome.faults.len().min(20)],
        place.log_warnings()
    );
    assert_eq!(outcome.unanswered, 0, "requests left without an answer");
    outcome.assert_every_kind_acknowledged();
    outcome.assert_present(server.port, &token, true);
    let log = place.log();
    assert!(
        !log.contains("database is locked"),
        "the server log says the database was locked:\n{log}"
    );
    let (valid, report) = service::chain_verifies(server.port, &token);
    assert!(valid, "the chain does not verify: {report}");
}

#[test]
fn acknowledged_writes_survive_a_sigkill() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let place = Place::new();
    place.create_admin();
    let mut server = service::serve(&place, &Load::server_env(place.is_postgres()));
    let token = service::login(server.port);
    let acks = env_number("CRASH_ACKS", 300);
    let load = Load::start(
        server.port,
        &token,
        env_number("CRASH_WRITERS", 8),
        Stop::Manual,
    );
    load.wait_for_acks(acks, Duration::from_secs(120));
    // Killed with writes in flight: no shutdown, no flush.
    load.stop();
    server.kill();
    let outcome = load.wait();
    eprintln!(
        "killed after {acks} acknowledged writes; {}",
        outcome.summary(place.is_postgres())
    );
    assert!(
        outcome.faults.is_empty(),
        "faults: {:#?}\nthe server's warnings:\n{}",
        outcome.faults,
        place.log_warnings()
    );
    outcome.assert_every_kind_acknowledged();

    let server = service::serve(&place, &Load::server_env(place.is_postgres()));
    let token = service::login(server.port);
    outcome.assert_present(server.port, &token, false);
    let (valid, report) = service::chain_verifies(server.port, &token);
    assert!(valid, "the chain does not verify after the kill: {report}");
}

/// PostgreSQL itself crashes and comes back while writers run, and the service, never
/// restarted, recovers: writes during the outage may fail (a 5xx problem), writes after it
/// succeed again, and every acknowledged write is there. On a private cluster
/// ([`service::private_postgres`]), never the shared server; in the PostgreSQL pass
/// (`TEST_DATABASE_URL` set), where it fails when the server programs are missing.
#[test]
fn writes_recover_when_postgresql_restarts() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("skipped: runs in the PostgreSQL pass (TEST_DATABASE_URL set)");
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let postgres = service::private_postgres::PrivatePostgres::start()
        .unwrap_or_else(|why| panic!("a private PostgreSQL cluster: {why}"));
    let place = Place::on_postgres(&postgres.url());
    place.create_admin();
    let server = service::serve(&place, &Load::server_env(place.is_postgres()));
    let token = service::login(server.port);
    let before = env_number("RESTART_ACKS", 100);
    let load = Load::start(
        server.port,
        &token,
        env_number("RESTART_WRITERS", 8),
        Stop::Manual,
    );
    load.wait_for_acks(before, Duration::from_secs(120));

    postgres.crash_server();
    let down = env_number("RESTART_OUTAGE_MS", 1000);
    std::thread::sleep(Duration::from_millis(down as u64));
    postgres.start_server();
    let (acked_at_restart, faults_at_restart) = (load.acked(), load.faults());

    // The same service writes again, as many writes as before the crash.
    load.wait_for_acks(acked_at_restart + before, Duration::from_secs(120));
    let faults_after_restart = load.faults() - faults_at_restart;
    let outcome = load.wait();
    eprintln!(
        "PostgreSQL crashed after {before} acknowledged writes, down {down} ms; {} faults \
         answered before it was back, {faults_after_restart} after; {}",
        faults_at_restart,
        outcome.summary(true)
    );
    let mut distinct = std::collections::BTreeMap::<&str, usize>::new();
    for fault in &outcome.faults {
        *distinct.entry(fault).or_default() += 1;
    }
    for (fault, count) in distinct {
        eprintln!("{count} × {fault}");
    }
    assert_eq!(outcome.unanswered, 0, "requests left without an answer");
    for fault in &outcome.faults {
        assert!(
            fault.contains("application/problem+json"),
            "a fault that is not a problem: {fault}"
        );
    }
    outcome.assert_every_kind_acknowledged();
    outcome.assert_present(server.port, &token, false);
    let (valid, report) = service::chain_verifies(server.port, &token);
    assert!(valid, "the chain does not verify: {report}");
}
