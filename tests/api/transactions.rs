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

#[actix_web::test]
async fn a_write_that_panics_leaves_no_open_transaction_for_the_next_writer() {
    let database = fresh_database();
    let url = database.url.clone();
    actix_web::web::block(move || {
        startup::migrate_only(&url).expect("migrations");
        // One connection: the next writer gets the very connection the panic left.
        let pool = db::connect_pool(
            &url,
            &PoolSettings {
                max_size: 1,
                checkout_timeout: Duration::from_secs(10),
            },
        )
        .unwrap();

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
