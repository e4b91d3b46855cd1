//! Reads audited by group commit (issue 13): each answered read has exactly one committed
//! event, the chain stays one verified order, writes are not held up by reads, a full queue
//! answers 503 with `Retry-After`, a failed batch answers an error (never the file), and a
//! file is read as one snapshot in a few queries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::test::TestRequest;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::Connection;
use futures_util::future::{join, join_all};
use serde_json::{json, Value};

use fenghua_registry::access::Requester;
use fenghua_registry::audit::AuditContext;
use fenghua_registry::db::{self};
use fenghua_registry::domain::role::{Role, Scope};
use fenghua_registry::use_cases::whole_file;

use crate::helpers::{register_named, spawn_app_with, sql, Answer, TestApp};
use crate::session::{etag, id_number, Session, JINPING};

/// Concurrent clients and the reads each makes one after the other.
const CLIENTS: usize = 20;
const READS_PER_CLIENT: usize = 10;

/// The district's region code, the first six digits of its residents' ID numbers.
const REGION: &str = "330213";

/// How long a write may take while the reads run: a bound, not a benchmark.
const WRITE_BOUND: Duration = Duration::from_secs(5);

/// An app with enough connections for every client at once.
async fn app_for_reads(adjust: impl FnOnce(&mut fenghua_registry::config::Config)) -> TestApp {
    spawn_app_with(|config| {
        config.pool.max_size = CLIENTS as u32 + 4;
        adjust(config);
    })
    .await
}

async fn residents_of(app: &TestApp, admin: &Session, n: u16) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let number = id_number(REGION, "1970-03-04", 100 + i);
        ids.push(register_named(app, admin, &number, &format!("读者{i}"), JINPING).await);
    }
    ids
}

fn file_path(resident: &str) -> String {
    format!("/api/v1/residents/{resident}/file")
}

/// `GET` the file with our own request id, which the event records.
async fn read_file(app: &TestApp, who: &Session, resident: &str, request_id: &str) -> Answer {
    app.send_as(
        who,
        TestRequest::get()
            .uri(&file_path(resident))
            .insert_header(("x-request-id", request_id)),
    )
    .await
}

/// `file_read` events by request id: (resident, how many).
async fn file_reads(app: &TestApp) -> HashMap<String, (Option<String>, usize)> {
    let mut reads: HashMap<String, (Option<String>, usize)> = HashMap::new();
    for event in app.audit_events().await {
        if event.action == "file_read" {
            let key = event.request_id.clone().unwrap_or_default();
            let entry = reads.entry(key).or_insert((event.resident_id.clone(), 0));
            entry.1 += 1;
        }
    }
    reads
}

async fn assert_chain_verifies(app: &TestApp) -> Value {
    let auditor = app.session("chain-auditor", Role::Auditor, &[]).await;
    let answer = app.get_as(&auditor, "/api/v1/audit-events/verify").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = answer.json();
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["first_broken"], Value::Null);
    report
}

/// Every client reads files one after the other; the answers: (request id, resident, status).
async fn read_burst(
    app: &TestApp,
    who: &Session,
    ids: &[String],
    tag: &str,
) -> Vec<(String, String, u16)> {
    let clients = (0..CLIENTS).map(|client| async move {
        let mut answers = Vec::new();
        for i in 0..READS_PER_CLIENT {
            let resident = &ids[(client + i) % ids.len()];
            let request_id = format!("{tag}-{client}-{i}");
            let answer = read_file(app, who, resident, &request_id).await;
            if answer.status == 200 {
                assert_eq!(answer.json()["resident"]["id"], resident.as_str());
            }
            answers.push((request_id, resident.clone(), answer.status.as_u16()));
        }
        answers
    });
    join_all(clients).await.into_iter().flatten().collect()
}

#[actix_web::test]
async fn concurrent_file_reads_each_leave_exactly_one_event_and_the_chain_verifies() {
    let app = app_for_reads(|_| {}).await;
    let admin = app.admin().await;
    let ids = residents_of(&app, &admin, 5).await;

    let answers = read_burst(&app, &admin, &ids, "burst").await;
    assert_eq!(answers.len(), CLIENTS * READS_PER_CLIENT);
    for (request_id, _, status) in &answers {
        assert_eq!(*status, 200, "read {request_id}");
    }

    let reads = file_reads(&app).await;
    assert_eq!(reads.len(), answers.len(), "one event per read: {reads:?}");
    for (request_id, resident, _) in &answers {
        let (recorded, count) = reads
            .get(request_id)
            .unwrap_or_else(|| panic!("no event for the answered read {request_id}"));
        assert_eq!(*count, 1, "events of {request_id}");
        assert_eq!(recorded.as_deref(), Some(resident.as_str()));
    }
    let report = assert_chain_verifies(&app).await;
    assert_eq!(
        report["events_checked"],
        app.audit_events().await.len() as i64,
        "every event is in the one chain"
    );
}

#[actix_web::test]
async fn a_write_during_concurrent_reads_is_not_held_up() {
    let app = app_for_reads(|_| {}).await;
    let admin = app.admin().await;
    let ids = residents_of(&app, &admin, 5).await;
    let target = ids[0].clone();
    let current = app
        .get_as(&admin, &format!("/api/v1/residents/{target}"))
        .await;
    assert_eq!(current.status, 200, "{}", current.text());
    let version = etag(&current);

    let write = async {
        // Let the reads get going first.
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let answer = app
            .send_as(
                &admin,
                TestRequest::patch()
                    .uri(&format!("/api/v1/residents/{target}"))
                    .insert_header((header::IF_MATCH, version.clone()))
                    .set_json(json!({ "address": "奉化区锦屏街道南山路1号" })),
            )
            .await;
        (answer, started.elapsed(), Instant::now())
    };
    let (answers, (patched, took, write_done)) =
        join(read_burst(&app, &admin, &ids, "beside-write"), write).await;
    let reads_done = Instant::now();

    assert_eq!(patched.status, 200, "{}", patched.text());
    assert!(
        took < WRITE_BOUND,
        "the write took {took:?} while {} reads ran",
        answers.len()
    );
    eprintln!(
        "write beside {} reads: {took:?}; reads went on {:?} after it",
        answers.len(),
        reads_done.saturating_duration_since(write_done)
    );
    assert!(answers.iter().all(|(_, _, status)| *status == 200));
    let reads = file_reads(&app).await;
    for (request_id, _, _) in &answers {
        assert_eq!(reads.get(request_id).map(|r| r.1), Some(1), "{request_id}");
    }
    // The change is in the trail, in the one order with the reads.
    let events = app.audit_events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "resident_update")
            .count(),
        1
    );
    assert_chain_verifies(&app).await;
}

/// Holds the writers' lock on a connection of the app's pool until told to let go.
struct HeldLock {
    release: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl HeldLock {
    fn take(app: &TestApp) -> Self {
        let pool = app.state.pool.clone();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut conn = pool.get().unwrap();
            db::write_transaction(&mut conn, |_| {
                locked.send(()).unwrap();
                let _ = released.recv_timeout(Duration::from_secs(20));
                Ok::<_, diesel::result::Error>(())
            })
            .unwrap();
        });
        is_locked
            .recv_timeout(Duration::from_secs(10))
            .expect("the writers' lock is taken");
        HeldLock { release, thread }
    }

    /// Lets go of the lock (the transaction then commits).
    fn let_go(&self) {
        let _ = self.release.send(());
    }

    fn finish(self) {
        self.let_go();
        self.thread.join().unwrap();
    }
}

#[actix_web::test]
async fn a_full_queue_answers_503_with_retry_after_and_no_answer_goes_unaudited() {
    let app = app_for_reads(|config| {
        let audit = &mut config.storage.read_audit;
        audit.queue_capacity = 1;
        audit.max_batch = 1;
        audit.queue_wait = Duration::from_millis(100);
    })
    .await;
    let admin = app.admin().await;
    let ids = residents_of(&app, &admin, 2).await;

    // A long write holds the lock: the writer thread waits with one batch, one event waits in
    // the queue, and every other read finds the queue full.
    let lock = HeldLock::take(&app);
    let reads = join_all((0..6).map(|i| {
        let (app, admin, ids) = (&app, &admin, &ids);
        async move {
            let request_id = format!("full-{i}");
            let answer = read_file(app, admin, &ids[i % 2], &request_id).await;
            (request_id, answer)
        }
    }));
    let release = async {
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        lock.let_go();
    };
    let (answers, ()) = join(reads, release).await;
    lock.finish();

    let events = file_reads(&app).await;
    let mut refused = 0;
    for (request_id, answer) in &answers {
        match answer.status.as_u16() {
            200 => assert_eq!(
                events.get(request_id).map(|e| e.1),
                Some(1),
                "the answered read {request_id} has its event"
            ),
            503 => {
                refused += 1;
                answer.problem(503, "service_unavailable");
                assert!(
                    answer.header("retry-after").is_some(),
                    "Retry-After on {request_id}"
                );
                assert_eq!(events.get(request_id), None, "{request_id} was not queued");
            }
            other => panic!("{request_id} answered {other}: {}", answer.text()),
        }
    }
    assert!(refused >= 1, "a full queue refuses reads: {answers:?}");
    assert!(refused < answers.len(), "the queued reads are answered");

    // Once the writer catches up, reads are answered again, and the chain holds.
    let answer = read_file(&app, &admin, &ids[0], "after-full").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(file_reads(&app).await["after-full"].1, 1);
    assert_chain_verifies(&app).await;
}

#[actix_web::test]
async fn a_failed_batch_answers_an_error_and_never_the_file() {
    let app = app_for_reads(|_| {}).await;
    let admin = app.admin().await;
    let ids = residents_of(&app, &admin, 1).await;
    // The trail refuses file reads (as a full disk or a lost connection would refuse them).
    if app.is_postgres() {
        sql(
            &app,
            "CREATE FUNCTION refuse_file_read() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'refused for the test'; END; $$;
             CREATE TRIGGER refuse_file_read BEFORE INSERT ON audit_events FOR EACH ROW
             WHEN (NEW.action = 'file_read') EXECUTE FUNCTION refuse_file_read();",
        )
        .await;
    } else {
        sql(
            &app,
            "CREATE TRIGGER refuse_file_read BEFORE INSERT ON audit_events
             WHEN NEW.action = 'file_read' BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
        )
        .await;
    }
    let answers = join_all((0..4).map(|i| {
        let (app, admin, ids) = (&app, &admin, &ids);
        async move { read_file(app, admin, &ids[0], &format!("refused-{i}")).await }
    }))
    .await;
    for answer in &answers {
        let problem = answer.problem(500, "internal_error");
        assert!(problem.get("resident").is_none());
        assert!(!answer.text().contains(&ids[0]), "{}", answer.text());
    }
    assert!(file_reads(&app).await.is_empty());

    if app.is_postgres() {
        sql(&app, "DROP TRIGGER refuse_file_read ON audit_events").await;
    } else {
        sql(&app, "DROP TRIGGER refuse_file_read").await;
    }
    let answer = read_file(&app, &admin, &ids[0], "accepted").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(file_reads(&app).await["accepted"].1, 1);
    assert_chain_verifies(&app).await;
}

/// Counts the statements a connection sends, and keeps their text.
#[derive(Clone, Default)]
struct Counter {
    statements: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                self.count.fetch_add(1, Ordering::SeqCst);
                self.statements.lock().unwrap().push(query.to_string());
            }
            InstrumentationEvent::BeginTransaction { .. }
            | InstrumentationEvent::CommitTransaction { .. }
            | InstrumentationEvent::RollbackTransaction { .. } => {}
            _ => {}
        }
    }
}

#[actix_web::test]
async fn a_file_is_read_in_one_snapshot_in_a_few_queries_and_sent_again_by_the_writer() {
    let app = app_for_reads(|_| {}).await;
    let admin = app.admin().await;
    let ids = residents_of(&app, &admin, 1).await;
    let resident = ids[0].clone();
    // A resident with a certificate.
    let answer = app
        .post_as(
            &admin,
            &format!("/api/v1/residents/{resident}/certificates"),
            &json!({
                "number": format!("{}42", id_number(REGION, "1970-03-04", 100)),
                "category": "physical",
                "grade": 2,
                "issued_on": "2020-05-06",
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());

    let read = |resident: String| {
        let state = app.state.clone();
        db::run(&app.state.pool, move |conn| {
            let counter = Counter::default();
            conn.set_instrumentation(counter.clone());
            let ctx = AuditContext::default();
            let who = Requester {
                audit: &ctx,
                recorder: &state.recorder,
                scope: &Scope::All,
                protector: &state.protector,
                today: fenghua_registry::domain::today(),
                certificate_expiring_days: 90,
            };
            let file = whole_file::read(conn, &who, &resident)?;
            conn.set_instrumentation(Counter::default());
            let statements = counter.statements.lock().unwrap().clone();
            Ok((statements, file))
        })
    };
    let (statements, file) = read(resident.clone()).await.unwrap();
    let shown: Value = serde_json::from_str(&file.body).unwrap();
    assert_eq!(shown["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(shown["resident"]["version"], file.version);
    eprintln!(
        "a first file read sends {} statements on its connection:\n  {}",
        statements.len(),
        statements.join("\n  ")
    );
    // No statement of the audit trail on this connection (the event and the rendered file went
    // to the batch writer), no writer lock, no write.
    assert!(statements.iter().all(|s| !s.contains("audit_events")
        && !s.contains("pg_advisory")
        && !s.contains("SAVEPOINT")
        && !s.starts_with("INSERT")
        && !s.starts_with("DELETE")
        && !s.starts_with("COPY")));
    if app.is_postgres() {
        // One statement: one snapshot without a transaction around it.
        assert_eq!(statements.len(), 1, "{statements:#?}");
        assert!(
            statements[0].starts_with("SELECT row_to_json"),
            "{statements:?}"
        );
    } else {
        // One read transaction around the section queries.
        assert!(statements[0].starts_with("BEGIN"), "{statements:?}");
        assert!(!statements[0].contains("IMMEDIATE"), "{statements:?}");
        assert!(statements.last().unwrap().starts_with("COMMIT"));
        assert_eq!(
            statements.iter().filter(|s| s.starts_with("BEGIN")).count(),
            1
        );
        assert!(statements.len() <= 11, "{statements:#?}");
    }

    // The file unchanged since: the next read is served by the read-audit writer as the first
    // rendered it, without a connection of the pool.
    let ctx = AuditContext::default();
    let who = Requester {
        audit: &ctx,
        recorder: &app.state.recorder,
        scope: &Scope::All,
        protector: &app.state.protector,
        today: fenghua_registry::domain::today(),
        certificate_expiring_days: 90,
    };
    let again = whole_file::read_kept(&who, &resident)
        .await
        .unwrap()
        .expect("the file was kept by its first read");
    assert_eq!(again.body, file.body);
    assert_eq!(again.version, file.version);
    let events = app.audit_events().await;
    assert_eq!(events.last().unwrap().action, "file_read");
}

#[actix_web::test]
async fn a_read_recorded_inside_a_write_transaction_joins_it_instead_of_waiting_for_the_writer() {
    let app = app_for_reads(|_| {}).await;
    let state = app.state.clone();
    // The writer thread would wait for the lock this transaction holds: the event goes into
    // the transaction instead, and commits or rolls back with it.
    let (kept, dropped) = db::run(&app.state.pool, move |conn| {
        let ctx = AuditContext::default();
        let event =
            || fenghua_registry::audit::Event::new(fenghua_registry::audit::Action::FileRead);
        let kept =
            db::write_transaction(conn, |conn| state.recorder.record_read(conn, &ctx, event()))?;
        let dropped = db::write_transaction(conn, |conn| {
            state.recorder.record_read(conn, &ctx, event())?;
            Err::<i64, _>(fenghua_registry::error::AppError::NotFound)
        });
        Ok((kept, dropped.is_err()))
    })
    .await
    .unwrap();
    assert!(dropped);
    let events = app.audit_events().await;
    assert_eq!(events.last().unwrap().seq, kept);
    assert_eq!(events.iter().filter(|e| e.action == "file_read").count(), 1);
}

/// The read-audit writer on PostgreSQL writes a batch in one statement after the head its last
/// batch left: a write between two batches moves the head, and the next batch then goes the
/// way of a write transaction. Every read keeps its one event, in the order of the chain.
#[actix_web::test]
async fn reads_around_a_write_leave_their_events_in_the_chains_order() {
    let app = app_for_reads(|_| {}).await;
    let admin = app.admin().await;
    let ids = residents_of(&app, &admin, 2).await;
    for request_id in ["before-1", "before-2"] {
        let answer = read_file(&app, &admin, &ids[0], request_id).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    // A write between two batches: another resident registered.
    let number = id_number(REGION, "1970-03-04", 150);
    register_named(&app, &admin, &number, "写者", JINPING).await;
    for request_id in ["after-1", "after-2"] {
        let answer = read_file(&app, &admin, &ids[1], request_id).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let events = app.audit_events().await;
    let seq_of = |request_id: &str| {
        let found: Vec<i64> = events
            .iter()
            .filter(|e| e.action == "file_read" && e.request_id.as_deref() == Some(request_id))
            .map(|e| e.seq)
            .collect();
        assert_eq!(found.len(), 1, "{request_id}: {found:?}");
        found[0]
    };
    let registered = events
        .iter()
        .filter(|e| e.action == "resident_create")
        .map(|e| e.seq)
        .max()
        .expect("the registrations were audited");
    assert!(seq_of("before-1") < seq_of("before-2"));
    assert!(seq_of("before-2") < registered);
    assert!(registered < seq_of("after-1"));
    assert!(seq_of("after-1") < seq_of("after-2"));
    assert_chain_verifies(&app).await;
}

/// A batch in one statement ([`db::read_audit`]) is written only after the head its events
/// were linked to: after another head it writes no event and answers `false`, so the writer
/// appends the batch in a write transaction instead. SQLite always answers `false`.
#[actix_web::test]
async fn a_batch_in_one_statement_is_written_only_after_the_head_it_was_linked_to() {
    use fenghua_registry::audit::{link_after, Action, Event};
    use fenghua_registry::db::audit::{event, head};
    use fenghua_registry::db::read_audit::append_alone_after;

    let app = app_for_reads(|_| {}).await;
    let admin = app.admin().await;
    let ids = residents_of(&app, &admin, 1).await;
    for request_id in ["first", "second"] {
        let answer = read_file(&app, &admin, &ids[0], request_id).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let postgres = app.is_postgres();
    let outcomes = db::run(&app.state.pool, move |conn| {
        let ctx = AuditContext {
            request_id: Some("one-statement".to_owned()),
            ..AuditContext::default()
        };
        let (seq, hash) = head(conn)?.expect("the chain has events");
        let before = event(conn, seq - 1)?.expect("the chain has two events");
        let mut outcomes = Vec::new();
        for after in [
            (before.seq, before.hash.clone()),
            (seq, "0".repeat(64)),
            (seq, hash.clone()),
        ] {
            let rows = link_after(after.clone(), [(&ctx, Event::new(Action::FileRead))]);
            let written = append_alone_after(conn, (after.0, &after.1), &rows, &[])?;
            let now = head(conn)?.expect("the chain has events");
            outcomes.push((written, now.0 - seq));
        }
        Ok(outcomes)
    })
    .await
    .unwrap();
    // Linked after an older event, or after a head of another hash: nothing written.
    assert_eq!(outcomes[0], (false, 0));
    assert_eq!(outcomes[1], (false, 0));
    // Linked after the head: written, committed, on PostgreSQL.
    assert_eq!(outcomes[2], if postgres { (true, 1) } else { (false, 0) });
    let events = app.audit_events().await;
    let written = events
        .iter()
        .filter(|e| e.request_id.as_deref() == Some("one-statement"))
        .count();
    assert_eq!(written, usize::from(postgres));
    assert_chain_verifies(&app).await;
}
