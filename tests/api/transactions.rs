//! The writers' transaction and the pool: a write whose work panics must not leave its
//! connection inside an open transaction for the next writer (issue 8: the next writer on it
//! ran as a savepoint inside the dead transaction, was acknowledged and never committed).

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use fenghua_registry::db::{self, DbConn, PoolSettings};
use fenghua_registry::startup;

use crate::helpers::fresh_database;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn villages_named(conn: &mut DbConn, name: &str) -> i64 {
    diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM areas WHERE name = '{name}'"
    ))
    .get_result::<Count>(conn)
    .unwrap()
    .n
}

fn add_village(conn: &mut DbConn, code: &str, name: &str) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "INSERT INTO areas (code, name, level, parent_code) \
         VALUES ('{code}', '{name}', 'village', '330213001')"
    ))
    .execute(conn)
}

/// A pool of `max_size` connections on the migrated database at `url`.
fn migrated_pool(
    url: &db::DatabaseUrl,
    max_size: u32,
    statement_timeout: Option<Duration>,
) -> db::Pool {
    startup::migrate_only(url).expect("migrations");
    db::connect_pool(
        url,
        &PoolSettings {
            max_size,
            checkout_timeout: Duration::from_secs(10),
            statement_timeout,
        },
    )
    .unwrap()
}

#[actix_web::test]
async fn a_write_that_panics_leaves_no_open_transaction_for_the_next_writer() {
    let database = fresh_database();
    let url = database.url.clone();
    actix_web::web::block(move || {
        // One connection: the next writer gets the very connection the panic left.
        let pool = migrated_pool(&url, 1, None);

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut conn = pool.get().unwrap();
            let _: Result<(), diesel::result::Error> = db::write_transaction(&mut conn, |conn| {
                add_village(conn, "330213001901", "半途村")?;
                panic!("a bug in the middle of a write");
            });
        }));
        assert!(panicked.is_err());

        {
            let mut conn = pool.get().unwrap();
            db::write_transaction(&mut conn, |conn| {
                add_village(conn, "330213001902", "后来村").map(|_| ())
            })
            .expect("the next write commits");
        }

        // Seen from a connection of its own: the next write is committed, the panicked one is
        // not.
        let mut other = db::ConnectionManager::new(url.clone()).establish().unwrap();
        assert_eq!(villages_named(&mut other, "后来村"), 1);
        assert_eq!(villages_named(&mut other, "半途村"), 0);
        // And the other connection can write: nobody holds the writers' lock.
        other
            .batch_execute("SELECT 1")
            .expect("the other connection works");
        db::write_transaction(&mut other, |conn| {
            add_village(conn, "330213001903", "旁边村").map(|_| ())
        })
        .expect("another connection writes");
    })
    .await
    .unwrap();
    drop(database);
}

/// The pool pings a connection only after it sat idle, so one the server closed while it was
/// in steady use fails its next request; that request answers 503 and the connection is closed
/// instead of going back, so the pool heals by itself (a PostgreSQL restart, an administrator's
/// `pg_terminate_backend`, a proxy's idle cut).
#[actix_web::test]
async fn connections_the_server_closed_are_replaced_without_a_restart() {
    let database = fresh_database();
    if !matches!(database.url, db::DatabaseUrl::Postgres(_)) {
        // SQLite connections are files opened in the process: nothing can close them.
        return;
    }
    let url = database.url.clone();
    actix_web::web::block(move || {
        let pool = migrated_pool(&url, 2, None);
        #[derive(QueryableByName)]
        struct Pid {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let backend_pid = |conn: &mut DbConn| -> QueryResult<i32> {
            Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
                .get_result::<Pid>(conn)?
                .pid)
        };
        // Both pooled connections in use at once, so both have answered just now.
        let (mut first, mut second) = (db::checkout(&pool).unwrap(), db::checkout(&pool).unwrap());
        let pids = [
            backend_pid(&mut first).unwrap(),
            backend_pid(&mut second).unwrap(),
        ];
        db::give_back(first, &Ok::<_, fenghua_registry::error::AppError>(()));
        db::give_back(second, &Ok::<_, fenghua_registry::error::AppError>(()));

        let mut admin = db::ConnectionManager::new(url.clone()).establish().unwrap();
        admin
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ({}, {})",
                pids[0], pids[1]
            ))
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));

        let mut answers = Vec::new();
        for _ in 0..6 {
            let mut conn = match db::checkout(&pool) {
                Ok(conn) => conn,
                Err(e) => panic!("a checkout failed: {e:?}"),
            };
            let outcome = backend_pid(&mut conn).map_err(fenghua_registry::error::AppError::from);
            answers.push(
                outcome
                    .as_ref()
                    .map(|pid| *pid)
                    .map_err(|e| format!("{e:?}")),
            );
            db::give_back(conn, &outcome);
        }
        let failures = answers.iter().filter(|a| a.is_err()).count();
        assert!(
            failures <= 2,
            "one failure per closed connection at most: {answers:?}"
        );
        assert!(
            answers
                .iter()
                .filter_map(|a| a.as_ref().err())
                .all(|e| e.contains("Unavailable")),
            "a closed connection answers 503, not 500: {answers:?}"
        );
        assert!(
            answers[failures..].iter().all(|a| a.is_ok()),
            "after the failures every request is served: {answers:?}"
        );
        assert!(
            answers
                .iter()
                .filter_map(|a| a.as_ref().ok())
                .all(|pid| !pids.contains(pid)),
            "no closed connection is handed out again: {answers:?}"
        );
    })
    .await
    .unwrap();
    drop(database);
}

/// A query that runs for minutes on either backend.
const SLOW_QUERY: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                          WHERE x < 1000000000) SELECT count(*) FROM c";

/// `DB_STATEMENT_TIMEOUT_MS`: a statement of the service that runs longer is stopped
/// (PostgreSQL cancels it, SQLite interrupts it), the request answers 503 (the database is
/// busy, not broken), and the connection serves the next request.
#[actix_web::test]
async fn a_statement_over_the_timeout_is_cancelled_and_answers_503() {
    let database = fresh_database();
    let url = database.url.clone();
    actix_web::web::block(move || {
        let pool = migrated_pool(&url, 1, Some(Duration::from_millis(200)));
        let mut conn = db::checkout(&pool).unwrap();
        let started = std::time::Instant::now();
        // Before: SQLite ran it to its end, unbounded.
        let slow = diesel::sql_query(SLOW_QUERY)
            .execute(&mut conn)
            .map_err(fenghua_registry::error::AppError::from);
        assert!(
            matches!(
                slow,
                Err(fenghua_registry::error::AppError::Unavailable { .. })
            ),
            "{slow:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "cancelled at the timeout, not after {:?}",
            started.elapsed()
        );
        db::give_back(conn, &slow);
        let mut conn = db::checkout(&pool).unwrap();
        assert_eq!(
            villages_named(&mut conn, "无"),
            0,
            "the pool serves the next request"
        );
    })
    .await
    .unwrap();
    drop(database);
}

/// The bound is per statement: a unit of work made of quick statements may take longer, and a
/// connection that idled past the bound is not stopped at its next statement.
#[actix_web::test]
async fn quick_statements_are_not_stopped_however_long_the_work() {
    let database = fresh_database();
    let url = database.url.clone();
    actix_web::web::block(move || {
        let pool = migrated_pool(&url, 1, Some(Duration::from_millis(200)));
        let mut conn = db::checkout(&pool).unwrap();
        for _ in 0..6 {
            assert_eq!(villages_named(&mut conn, "无"), 0);
            std::thread::sleep(Duration::from_millis(100));
        }
        db::write_transaction(&mut conn, |conn| {
            add_village(conn, "330213001901", "慢村")?;
            std::thread::sleep(Duration::from_millis(300));
            add_village(conn, "330213001902", "慢二村")
        })
        .expect("a transaction longer than the bound, of quick statements");
        assert_eq!(villages_named(&mut conn, "慢村"), 1);
    })
    .await
    .unwrap();
    drop(database);
}

/// On PostgreSQL a writer opens its transaction and takes the writers' lock in one round trip.
/// A writer that gives up waiting for the lock (its statement timeout) must leave its
/// connection outside any transaction: the next writer on it commits.
#[actix_web::test]
async fn a_writer_that_times_out_on_the_writers_lock_leaves_its_connection_clean() {
    let database = fresh_database();
    if !matches!(database.url, db::DatabaseUrl::Postgres(_)) {
        return; // SQLite's writers queue in the process and on its own write lock.
    }
    let url = database.url.clone();
    actix_web::web::block(move || {
        let holder_pool = migrated_pool(&url, 1, None);
        let pool = migrated_pool(&url, 1, Some(Duration::from_millis(300)));
        let (locked, wait_locked) = std::sync::mpsc::channel();
        let (release, wait_release) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let mut conn = holder_pool.get().unwrap();
            db::write_transaction(&mut conn, |_| {
                locked.send(()).unwrap();
                let _ = wait_release.recv();
                Ok::<_, diesel::result::Error>(())
            })
            .unwrap();
        });
        wait_locked.recv().unwrap();

        let mut conn = pool.get().unwrap();
        let refused = db::write_transaction(&mut conn, |conn| {
            add_village(conn, "330213001903", "等锁村").map(|_| ())
        });
        assert!(refused.is_err(), "the lock is held: {refused:?}");
        release.send(()).unwrap();
        holder.join().unwrap();

        db::write_transaction(&mut conn, |conn| {
            add_village(conn, "330213001904", "下一村").map(|_| ())
        })
        .expect("the next writer on the same connection commits");
        drop(conn);
        let mut other = pool.get().unwrap();
        assert_eq!(villages_named(&mut other, "下一村"), 1, "committed");
        assert_eq!(villages_named(&mut other, "等锁村"), 0);
    })
    .await
    .unwrap();
    drop(database);
}
