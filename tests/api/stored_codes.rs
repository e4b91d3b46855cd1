//! A code in the database that the service does not know (a row written by hand, or by a newer
//! version) fails the request with a 500 problem that does not show the value; it is never read
//! as some default code.

use diesel::connection::SimpleConnection;
use serde_json::json;

use fenghua_registry::db;

use crate::helpers::{grant, register_with, TestApp};
use crate::session::{id_number, Session, JINPING};

/// Runs `statement` as someone with the database would: past the column's CHECK constraint
/// (`table_column_check` on PostgreSQL; SQLite skips CHECKs per connection, and `db::run` runs
/// the whole batch on one connection) and past the trigger that marks the resident's indicator
/// values stale, whose rebuild would otherwise trip over the code first and hide the read path
/// under test. PostgreSQL turns off every trigger of the table for it, the one that forgets the
/// file's kept view among them: the kept views go by hand.
async fn write_raw(app: &TestApp, table: &str, column: &str, statement: &str) {
    let sql = if app.is_postgres() {
        format!(
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_{column}_check; \
             ALTER TABLE {table} DISABLE TRIGGER USER; {statement}; \
             ALTER TABLE {table} ENABLE TRIGGER USER; \
             DELETE FROM file_views;"
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
        &id_number("330283", "1970-05-01", 11),
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

#[actix_web::test]
async fn an_unknown_facility_kind_fails_the_list() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    let created = app
        .post_as(
            &admin,
            "/api/v1/facilities",
            &json!({"kind": "care_institution", "name": "溪口镇阳光家园", "town_code": JINPING, "opened_on": "2020-01-01"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(app.get_as(&admin, "/api/v1/facilities").await.status, 200);

    // Before: read as `home_for_disabled`, the default.
    write_raw(
        &app,
        "facilities",
        "kind",
        "UPDATE facilities SET kind = 'hospice_x'",
    )
    .await;
    fails_without_showing(&app.get_as(&admin, "/api/v1/facilities").await, "hospice_x");
}

#[actix_web::test]
async fn an_unknown_home_modification_status_fails_the_file_and_the_next_step() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    let resident = resident(&app, &admin).await;
    let cases = format!("/api/v1/residents/{resident}/home-modifications");
    let case = app
        .post_as(
            &admin,
            &cases,
            &json!({"applied_on": "2024-03-01", "items": [{"name": "卫生间扶手", "cost_fen": 80000}]}),
        )
        .await;
    assert_eq!(case.status, 201, "{}", case.text());
    let case = case.json()["id"].as_str().unwrap().to_owned();
    let file = format!("/api/v1/residents/{resident}/file");
    assert_eq!(app.get_as(&admin, &file).await.status, 200);

    // Before: read as `applied`, the default, and so open to assessment.
    write_raw(
        &app,
        "home_modifications",
        "status",
        "UPDATE home_modifications SET status = 'paused_x'",
    )
    .await;
    fails_without_showing(&app.get_as(&admin, &file).await, "paused_x");
    let assess = app
        .post_as(
            &admin,
            &format!("{cases}/{case}/assess"),
            &json!({"assessed_on": "2024-03-02", "outcome": "eligible"}),
        )
        .await;
    fails_without_showing(&assess, "paused_x");
}

#[actix_web::test]
async fn an_unknown_role_fails_the_accounts_that_show_it() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    let user = app
        .create_user(
            "target",
            fenghua_registry::domain::role::Role::Caseworker,
            &[JINPING],
        )
        .await;
    let path = format!("/api/v1/users/{user}");
    assert_eq!(app.get_as(&admin, &path).await.status, 200);

    // Before: read as `auditor`, the default.
    write_raw(
        &app,
        "users",
        "role",
        "UPDATE users SET role = 'superuser_x' WHERE username = 'target'",
    )
    .await;
    fails_without_showing(&app.get_as(&admin, &path).await, "superuser_x");
    fails_without_showing(&app.get_as(&admin, "/api/v1/users").await, "superuser_x");
}

#[actix_web::test]
async fn an_unknown_delivery_state_fails_the_deliveries() {
    use crate::integration::{application, register_client, submit_ok};

    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    // No worker runs here: the event stays pending.
    let client = register_client(
        &app,
        &admin,
        "浙里办",
        &["applications:write", "applications:read"],
        Some("http://127.0.0.1:9/hook"),
    )
    .await;
    submit_ok(
        &app,
        &client,
        &application(
            "rehab_service",
            &crate::session::id_number("330283", "1980-01-02", 95),
            "郑一",
            "F-1",
        ),
    )
    .await;
    let list = app.get_as(&admin, "/api/v1/webhook-deliveries").await;
    assert_eq!(list.status, 200, "{}", list.text());
    let event = list.json()["items"][0]["id"].as_str().unwrap().to_owned();
    let one = format!("/api/v1/webhook-deliveries/{event}");
    assert_eq!(app.get_as(&admin, &one).await.status, 200);

    // Before: read as `failed`, the default, and so open to a replay.
    write_raw(
        &app,
        "webhook_events",
        "state",
        "UPDATE webhook_events SET state = 'queued_x'",
    )
    .await;
    fails_without_showing(
        &app.get_as(&admin, "/api/v1/webhook-deliveries").await,
        "queued_x",
    );
    fails_without_showing(&app.get_as(&admin, &one).await, "queued_x");
    fails_without_showing(
        &app.post_as(&admin, &format!("{one}/replay"), &json!({}))
            .await,
        "queued_x",
    );
}
