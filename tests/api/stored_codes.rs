//! A code in the database that the service does not know (a row written by hand, or by a newer
//! version) fails the request with a 500 problem that does not show the value; it is never read
//! as some default code.

use diesel::connection::SimpleConnection;
use serde_json::json;

use fenghua_registry::db;

use crate::certificates::{date, id_number, register_with};
use crate::helpers::TestApp;
use crate::indicators::grant;
use crate::session::{Session, JINPING};

/// Runs `statement` as someone with the database would: past the column's CHECK constraint
/// (`table_column_check` on PostgreSQL; SQLite skips CHECKs per connection, and `db::run` runs
/// the whole batch on one connection) and past the trigger that marks the resident's indicator
/// values stale, whose rebuild would otherwise trip over the code first and hide the read path
/// under test.
async fn write_raw(app: &TestApp, table: &str, column: &str, statement: &str) {
    let sql = if app.is_postgres() {
        format!(
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_{column}_check; \
             ALTER TABLE {table} DISABLE TRIGGER USER; {statement}; \
             ALTER TABLE {table} ENABLE TRIGGER USER;"
        )
    } else {
        format!(
            "DROP TRIGGER IF EXISTS {table}_facts_update; \
             PRAGMA ignore_check_constraints = ON; {statement}; \
             PRAGMA ignore_check_constraints = OFF;"
        )
    };
    db::run(&app.state.pool, move |conn| Ok(conn.batch_execute(&sql)))
        .await
        .unwrap()
        .expect("the raw write");
}

#[track_caller]
fn fails_without_showing(answer: &crate::helpers::Answer, value: &str) {
    answer.problem(500, "internal_error");
    assert!(
        !answer.text().contains(value),
        "the stored value leaked: {}",
        answer.text()
    );
}

async fn resident(app: &TestApp, admin: &Session) -> String {
    register_with(
        app,
        admin,
        &id_number(date(1970, 5, 1), 11),
        "王五",
        JINPING,
        json!({"household_flags": ["multiple_disabled"]}),
    )
    .await
}

#[actix_web::test]
async fn an_unknown_subsidy_kind_fails_the_file_and_eligibility() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    let resident = resident(&app, &admin).await;
    grant(&app, &admin, &resident, "living", "2024-01").await;
    let file = format!("/api/v1/residents/{resident}/file");
    assert_eq!(app.get_as(&admin, &file).await.status, 200);

    // Before: read as `living`, the default.
    write_raw(
        &app,
        "subsidy_grants",
        "kind",
        "UPDATE subsidy_grants SET kind = 'pension_x'",
    )
    .await;
    fails_without_showing(&app.get_as(&admin, &file).await, "pension_x");
    let eligibility = format!("/api/v1/residents/{resident}/eligibility?as_of=2024-06-30");
    fails_without_showing(&app.get_as(&admin, &eligibility).await, "pension_x");
}

#[actix_web::test]
async fn unknown_household_codes_fail_the_resident() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    let resident = resident(&app, &admin).await;
    let path = format!("/api/v1/residents/{resident}");
    assert_eq!(app.get_as(&admin, &path).await.status, 200);

    // Before: an unknown flag was dropped from the list.
    write_raw(
        &app,
        "residents",
        "household_flags",
        r#"UPDATE residents SET household_flags = '["multiple_disabled","orphan_x"]'"#,
    )
    .await;
    fails_without_showing(&app.get_as(&admin, &path).await, "orphan_x");

    write_raw(
        &app,
        "residents",
        "household_flags",
        r#"UPDATE residents SET household_flags = '["multiple_disabled"]'"#,
    )
    .await;
    assert_eq!(app.get_as(&admin, &path).await.status, 200);

    // Before: an unknown status was read as `none`.
    write_raw(
        &app,
        "household_statuses",
        "status",
        "UPDATE household_statuses SET status = 'wubao_x'",
    )
    .await;
    fails_without_showing(&app.get_as(&admin, &path).await, "wubao_x");
    fails_without_showing(
        &app.get_as(&admin, &format!("{path}/eligibility?as_of=2024-06-30"))
            .await,
        "wubao_x",
    );
}
