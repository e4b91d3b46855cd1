//! Issue 9: what a hostile review of the running service found, one test (or a few) per
//! finding, on both backends.
//!
//! 1. masked ID numbers that the fields beside them gave back whole;
//! 2. parallel wrong passwords getting round the lockout;
//! 3. `/metrics` growing without bound;
//! 4. the audit trail truncated (PostgreSQL) and verified as valid, and the service owning its
//!    tables;
//! 5. any subsidy amount accepted as an ordinary grant;
//! 6. unlimited guesses of the current password at `/me/password`;
//! 7. existence of files in other towns told without trace or limit;
//! 8. a flood of rate-limited logins becoming a flood of audit rows;
//! 9. the data folder and database files readable by everyone;
//! 10. invisible and direction-changing characters in free text;
//! 11. a CSV without header echoing a cell;
//! 12. personal data answers without `Cache-Control: no-store`;
//! 13. no TLS to PostgreSQL.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use chrono::{Datelike, NaiveDate};
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use fenghua_registry::db::{self, DatabaseUrl};
use fenghua_registry::domain::id_number::{check_character, compose};
use fenghua_registry::domain::role::Role;
use fenghua_registry::secrets::Secret;

use crate::helpers::{
    changes, events, field_errors, id_of, register_resident, resident_body, spawn_app,
    spawn_app_with, try_sql, verify_chain, Answer, TestApp,
};
use crate::session::{Session, JINPING, PASSWORD, XIKOU};

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a YYYY-MM-DD date")
}

async fn created(answer: Answer) -> Value {
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

// ---------------------------------------------------------------------------------------------
// 1. The ID number cannot be reconstructed from what a non-revealing reader sees.
// ---------------------------------------------------------------------------------------------

/// Every leaf of a JSON answer, as (key, value) pairs; strings of a CSV answer as cells.
fn leaves(value: &Value, key: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, k, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                leaves(item, key, out);
            }
        }
        other => out.push((key.to_owned(), other.clone())),
    }
}

/// What a reader saw, everything together.
#[derive(Default)]
struct Seen {
    fields: Vec<(String, Value)>,
}

impl Seen {
    fn add(&mut self, answer: &Answer) {
        assert!(answer.status.is_success(), "{}", answer.text());
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(body) => leaves(&body, "", &mut self.fields),
            Err(_) => {
                for cell in answer.text().split([',', '\n', '\r', '"']) {
                    self.fields.push((String::new(), json!(cell)));
                }
            }
        }
    }

    fn strings(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter_map(|(_, v)| v.as_str())
    }
}

/// Counts the ID numbers consistent with everything seen: every birth date (or every day of
/// a birth year shown) and every sequence, each with its check character, kept when it agrees
/// with every mask (an ID number or a certificate number with `*` in it), every birth year,
/// birth date and sex shown, every full ID number shown, and every date shown (nothing about a
/// person is dated before their birth).
fn consistent_id_numbers(seen: &Seen, truth: &str) -> usize {
    let masks: Vec<Vec<u8>> = seen
        .strings()
        .filter(|s| {
            s.len() >= 18 && s.contains('*') && s.as_bytes()[..6].iter().all(u8::is_ascii_digit)
        })
        .map(|s| s.as_bytes()[..18].to_vec())
        .collect();
    assert!(!masks.is_empty(), "the masked ID number was seen");
    let whole: BTreeSet<String> = seen
        .fields
        .iter()
        .filter(|(k, _)| k != "hash" && k != "prev_hash")
        .filter_map(|(_, v)| v.as_str())
        .flat_map(|s| {
            let b = s.as_bytes();
            (0..b.len().saturating_sub(17))
                .filter(move |i| {
                    b[*i..*i + 17].iter().all(u8::is_ascii_digit)
                        && (b[i + 17].is_ascii_digit() || b[i + 17] == b'X')
                })
                .map(move |i| s[i..i + 18].to_owned())
        })
        .filter(|w| fenghua_registry::domain::id_number::IdNumber::parse(w).is_ok())
        .collect();
    let of_key = |key: &str| -> Vec<&Value> {
        seen.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect()
    };
    let years: BTreeSet<i32> = of_key("birth_year")
        .iter()
        .filter_map(|v| v.as_i64())
        .map(|y| y as i32)
        .collect();
    let birth_dates: BTreeSet<NaiveDate> = of_key("birth_date")
        .iter()
        .filter_map(|v| v.as_str())
        .map(day)
        .collect();
    let sexes: BTreeSet<&str> = of_key("sex").iter().filter_map(|v| v.as_str()).collect();
    // The earliest date of anything shown: the birth is not after it.
    let earliest = seen
        .strings()
        .filter_map(|s| {
            s.get(..10)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .or_else(|| {
                    s.get(..7)
                        .filter(|_| s.len() == 7)
                        .and_then(|m| {
                            NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok()
                        })
                        .map(|first| first + chrono::Months::new(1) - chrono::Days::new(1))
                })
        })
        .min()
        .expect("dates were seen");

    let today = fenghua_registry::domain::today();
    let candidate_days: Vec<NaiveDate> = if !birth_dates.is_empty() {
        birth_dates.iter().copied().collect()
    } else {
        let years: Vec<i32> = if years.is_empty() {
            (1900..=today.year()).collect()
        } else {
            years.iter().copied().collect()
        };
        years
            .iter()
            .flat_map(|y| {
                let mut d = NaiveDate::from_ymd_opt(*y, 1, 1).unwrap();
                std::iter::from_fn(move || {
                    let this = d;
                    d = d.succ_opt()?;
                    (this.year() == *y).then_some(this)
                })
            })
            .collect()
    };
    let region = &masks[0][..6];
    let region = std::str::from_utf8(region).unwrap();
    let mut count = 0;
    let mut truth_found = false;
    for birth in candidate_days.into_iter().filter(|d| *d <= earliest) {
        if years.iter().any(|y| *y != birth.year()) {
            continue;
        }
        let stem = format!("{region}{}", birth.format("%Y%m%d"));
        for sequence in 0..1000u16 {
            let sex = if sequence % 2 == 1 { "male" } else { "female" };
            if sexes.iter().any(|s| *s != sex) {
                continue;
            }
            let first17 = format!("{stem}{sequence:03}");
            let check = check_character(first17.as_bytes()) as char;
            let candidate = format!("{first17}{check}");
            let fits_masks = masks.iter().all(|m| {
                m.iter()
                    .zip(candidate.as_bytes())
                    .all(|(shown, c)| *shown == b'*' || shown == c)
            });
            if fits_masks && whole.iter().all(|w| *w == candidate) {
                count += 1;
                truth_found |= candidate == truth;
            }
        }
    }
    assert!(
        truth_found,
        "the true number must stay among the candidates"
    );
    count
}

/// A resident with a full file, read by an auditor and by a caseworker of the town, neither
/// revealing: every field of every read route together leaves at least 10,000 ID numbers
/// possible. (Before issue 9 the birth date beside the mask `330213********022X` left one.)
#[actix_web::test]
async fn everything_a_non_revealing_reader_sees_leaves_at_least_10000_id_numbers() {
    let app = spawn_app().await;
    let auditor = app.session("auditor.wu", Role::Auditor, &[]).await;
    let worker = app.session("worker.li", Role::Caseworker, &[JINPING]).await;
    let birth = day("1980-03-15");
    let number = compose("330213", birth, 22).as_str().to_owned();
    let resident = id_of(
        &register_resident(
            &app,
            &worker,
            json!({
                "id_number": number, "name": "王小红", "town_code": JINPING,
                "address": "锦屏街道南山路 1 号", "phone": "13812345678",
                "guardian_name": "王大", "guardian_phone": "13987654321",
                "household_status": "dibao", "household_status_since": "2015-01-01",
                "work_capacity": true, "registered_on": "2010-05-01",
            }),
        )
        .await,
    );
    let path = format!("/api/v1/residents/{resident}");
    let certificate = json!({
        "number": format!("{number}42"), "category": "physical", "grade": 2,
        "issued_on": "2021-06-01",
    });
    created(
        app.post_as(&worker, &format!("{path}/certificates"), &certificate)
            .await,
    )
    .await;
    created(
        app.post_as(
            &worker,
            &format!("{path}/subsidies"),
            &json!({"kind": "living", "start_month": "2024-01"}),
        )
        .await,
    )
    .await;
    created(
        app.post_as(
            &worker,
            &format!("{path}/employment"),
            &json!({"kind": "flexible", "employer": "奉化农场", "start_on": "2022-03-01"}),
        )
        .await,
    )
    .await;

    let mut seen = Seen::default();
    let today = fenghua_registry::domain::today();
    for reader in [&auditor, &worker] {
        for route in [
            path.clone(),
            format!("{path}/file"),
            format!("{path}/history"),
            format!("{path}/eligibility"),
            format!("{path}/eligibility?as_of=2024-06-30"),
            "/api/v1/residents?q=%E7%8E%8B".to_owned(),
            format!("/api/v1/indicators/medical_insurance_rate/gaps?as_of={today}"),
            format!("/api/v1/indicators/medical_insurance_rate/gaps?as_of={today}&format=csv"),
            format!("/api/v1/subsidies/reconciliation?as_of={today}"),
        ] {
            let answer = app.get_as(reader, &route).await;
            if route.contains("format=csv") && !answer.status.is_success() {
                continue;
            }
            seen.add(&answer);
        }
        let found = app
            .post_as(
                reader,
                "/api/v1/residents/lookup",
                &json!({"id_number": number}),
            )
            .await;
        seen.add(&found);
    }
    seen.add(
        &app.get_as(
            &auditor,
            &format!("/api/v1/audit-events?resident_id={resident}"),
        )
        .await,
    );
    assert!(
        seen.strings().any(|s| s.contains("王*") || s == "王小红"),
        "the gap list and the file were read"
    );

    let count = consistent_id_numbers(&seen, &number);
    eprintln!("ID numbers consistent with what a non-revealing reader sees: {count}");
    assert!(
        count >= 10_000,
        "only {count} ID numbers are consistent with what a non-revealing reader sees"
    );

    // The whole number is reached through an audited reveal only.
    let revealed = app
        .post_as(
            &worker,
            &format!("{path}/reveal"),
            &json!({"field": "id_number"}),
        )
        .await
        .json();
    assert_eq!(revealed["value"], number);
    assert_eq!(events(&app, "resident_reveal").await.len(), 1);
    assert_eq!(
        app.post_as(
            &auditor,
            &format!("{path}/reveal"),
            &json!({"field": "id_number"})
        )
        .await
        .status,
        403
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Parallel wrong passwords do not get round the lockout.
// ---------------------------------------------------------------------------------------------

/// 30 wrong passwords at once, and the right one sent just after them: the decision is made
/// on the user's row in the write transaction, so no login succeeds once the account is
/// locked, and the account stays locked. (Before, each attempt decided on the row it had read
/// before hashing: the right one, read before the lock, passed after it and cleared it.)
#[actix_web::test]
async fn thirty_parallel_wrong_passwords_then_the_right_one_stay_locked() {
    let app = spawn_app_with(|c| c.auth.login_rate_limit = 1_000).await;
    app.create_user("target.user", Role::Caseworker, &[JINPING])
        .await;
    let wrong = (0..30).map(|_| app.login("target.user", "a wrong password 12345"));
    let right = async {
        // Sent once the wrong ones have read the row and are hashing: it reads the row
        // before any of them is decided, and is decided after most of them.
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        app.login("target.user", PASSWORD).await
    };
    let (wrong, right) =
        futures_util::future::join(futures_util::future::join_all(wrong), right).await;
    assert!(wrong.iter().all(|a| a.status == 401));

    // Once the account is locked, every attempt is refused as locked: no login succeeds, no
    // wrong password is counted again, and the lock is not taken twice. (Deciding on the row
    // read before hashing, all 30 counted, the account was locked six times, and the right
    // password, read unlocked, signed in after the lock and cleared it.)
    let events = app.audit_events().await;
    let first_lock = events
        .iter()
        .position(|e| e.action == "account_locked")
        .expect("the account was locked");
    let after_lock: Vec<(String, Value)> = events[first_lock + 1..]
        .iter()
        .map(|e| (e.action.clone(), changes(e)["reason"].clone()))
        .collect();
    assert!(
        after_lock
            .iter()
            .all(|(action, reason)| action == "login_failed" && reason == "locked"),
        "after the lock (the right password answered {}): {after_lock:?}",
        right.status
    );
    assert_eq!(
        after_lock.len(),
        31 - 5,
        "every attempt decided after the lock is refused"
    );
    assert_eq!(right.status, 401, "{}", right.text());
    assert_eq!(
        app.login("target.user", PASSWORD).await.status,
        401,
        "still locked"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. /metrics stays small whatever methods and paths are sent.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn invented_methods_and_paths_keep_metrics_small() {
    use actix_web::dev::Service;
    let app = spawn_app().await;
    for i in 0..200 {
        let method = Method::from_bytes(format!("M{i}{}", "X".repeat(4000)).as_bytes()).unwrap();
        for uri in [
            format!("/invented/{i}/{}", uuid::Uuid::new_v4()),
            "/healthz".to_owned(),
        ] {
            let req = TestRequest::default()
                .method(method.clone())
                .uri(&uri)
                .to_request();
            let _ = app.service.call(req).await;
        }
    }
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.len() < 20_000,
        "/metrics is {} bytes after 400 invented requests",
        text.len()
    );
    assert!(!text.contains("XXXX"), "a method name made it into a label");
    assert!(
        text.contains("method=\"other\",route=\"unmatched\""),
        "{text}"
    );
    assert!(
        text.contains("method=\"other\",route=\"/healthz\""),
        "{text}"
    );
}

/// Random paths, under every standard method, are one series per method and status (route
/// `unmatched`), and a route's concrete paths are its pattern: 600 requests to 600 paths add a
/// handful of series, each labelled with a pattern of the route table or `unmatched`.
#[actix_web::test]
async fn random_paths_add_a_bounded_number_of_series() {
    use actix_web::dev::Service;
    let app = spawn_app().await;
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE];
    for i in 0..150 {
        let random = uuid::Uuid::new_v4().simple().to_string();
        for (method, uri) in methods.iter().zip([
            format!("/{random}"),
            format!("/api/v1/{random}/{i}"),
            format!("/api/v1/residents/{random}"),
            format!("/api/v1/residents/{random}/{}/x", &random[..i % 32]),
        ]) {
            let req = TestRequest::default()
                .method(method.clone())
                .uri(&uri)
                .to_request();
            let _ = app.service.call(req).await;
        }
    }
    let text = app.get("/metrics").await.text();
    let patterns: BTreeSet<&str> = fenghua_registry::api::endpoints()
        .iter()
        .map(|e| e.path)
        .collect();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .collect();
    for line in &series {
        let route = line
            .split("route=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        assert!(
            route == "unmatched" || patterns.contains(route),
            "a label that is no route pattern: {line}"
        );
    }
    // At most: each of the 4 methods on `unmatched` and on the resident route, by status.
    assert!(
        series.len() <= 12,
        "{} series after 600 requests:\n{}",
        series.len(),
        series.join("\n")
    );
}

#[actix_web::test]
async fn metrics_can_require_a_token() {
    let token = "m3tr1cs-t0ken-for-the-scraper-0123456789";
    let app =
        spawn_app_with(|c| c.auth.metrics_token = Some(Secret(token.as_bytes().to_vec()))).await;
    app.get("/metrics").await.problem(401, "unauthorized");
    let wrong = app
        .send(
            TestRequest::get()
                .uri("/metrics")
                .insert_header(("Authorization", "Bearer nope")),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let right = app
        .send(
            TestRequest::get()
                .uri("/metrics")
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await;
    assert_eq!(right.status, 200);
    assert!(right.text().contains("http_requests_total"));
}

/// With `METRICS_BIND` the main address answers `/metrics` 404 (its own listener serves them:
/// `tests/cli.rs`), even with the token.
#[actix_web::test]
async fn metrics_on_their_own_address_are_not_on_the_main_one() {
    let token = "m3tr1cs-t0ken-for-the-scraper-0123456789";
    let app = spawn_app_with(|c| {
        c.auth.metrics_token = Some(Secret(token.as_bytes().to_vec()));
        c.metrics_bind = Some("127.0.0.1:9".parse().unwrap());
    })
    .await;
    app.get("/metrics").await.problem(404, "not_found");
    app.send(
        TestRequest::get()
            .uri("/metrics")
            .insert_header(("Authorization", format!("Bearer {token}"))),
    )
    .await
    .problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// 4. The trail cannot be truncated, an emptied trail does not verify, and the service need
//    not own its tables.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_trail_cannot_be_truncated_and_an_emptied_trail_does_not_verify() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let first = verify_chain(&app, &admin).await;
    assert_eq!(first["valid"], true, "{first}");
    assert_eq!(first["anchors"], json!([]), "no checkpoint yet");
    let head = first["head_seq"].as_i64().unwrap();
    assert!(head >= 2);
    let second = verify_chain(&app, &admin).await;
    assert_eq!(second["valid"], true);
    assert_eq!(second["anchors"][0]["seq"], head, "{second}");
    assert_eq!(second["anchors"][0]["source"], "file");

    if app.is_postgres() {
        let refused = try_sql(&app, "TRUNCATE audit_events").await.unwrap_err();
        assert!(refused.contains("append-only"), "{refused}");
        // What the tables' owner could still do: switch its triggers off.
        try_sql(
            &app,
            "ALTER TABLE audit_events DISABLE TRIGGER USER; TRUNCATE audit_events; \
             ALTER TABLE audit_events ENABLE TRIGGER USER",
        )
        .await
        .unwrap();
    } else {
        let refused = try_sql(&app, "DELETE FROM audit_events").await.unwrap_err();
        assert!(refused.contains("append-only"), "{refused}");
        try_sql(
            &app,
            "DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events",
        )
        .await
        .unwrap();
    }
    assert!(app.audit_events().await.is_empty(), "the trail was emptied");
    let after = verify_chain(&app, &admin).await;
    assert_eq!(after["valid"], false, "an emptied trail verified: {after}");
    assert_eq!(after["events_checked"], 0);
    assert_eq!(
        after["first_broken"]["problem"], "checkpoint_missing",
        "{after}"
    );
    assert!(after["first_broken"]["seq"].as_i64().unwrap() >= head);
}

/// A head exported earlier (`AUDIT_CHECKPOINT`) that the trail does not hold fails the check.
#[actix_web::test]
async fn a_configured_checkpoint_the_trail_does_not_hold_fails_verification() {
    let pinned =
        fenghua_registry::audit_checkpoint::Checkpoint::parse(&format!("1:{}", "ab".repeat(32)))
            .unwrap();
    let app = spawn_app_with(move |c| c.storage.audit_checkpoint = Some(pinned)).await;
    let admin = app.admin().await;
    let report = verify_chain(&app, &admin).await;
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["first_broken"],
        json!({"seq": 1, "problem": "checkpoint_mismatch"})
    );
    assert_eq!(report["anchors"][0]["source"], "configured");
}

/// The role the service runs as on PostgreSQL, with the grants README gives it: the service
/// works, and the role cannot truncate, alter, drop or rewrite. (SQLite has no roles.)
#[actix_web::test]
async fn the_service_runs_as_a_role_that_does_not_own_the_tables() {
    let Some(admin_url) = crate::shared::postgres_admin_url() else {
        return;
    };
    let role = format!("app_{}", uuid::Uuid::new_v4().simple());
    // Declared before the app, so dropped after it (and its connections as the role).
    let _cleanup = DropRole {
        admin_url: admin_url.clone(),
        role: role.clone(),
    };
    let role_for_setup = role.clone();
    let owner_url = admin_url.clone();
    let app = crate::helpers::spawn_postgres_app_with(&admin_url, move |c| {
        let DatabaseUrl::Postgres(schema_url) = c.database_url.clone() else {
            unreachable!("a PostgreSQL app")
        };
        let schema = schema_url
            .rsplit("search_path%3D")
            .next()
            .unwrap()
            .to_owned();
        let mut owner =
            <diesel::PgConnection as diesel::Connection>::establish(&owner_url).unwrap();
        owner
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN;
                 GRANT USAGE ON SCHEMA {schema} TO {role};
                 ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                     GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
                 ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                     GRANT USAGE, SELECT ON SEQUENCES TO {role};",
                role = role_for_setup
            ))
            .unwrap();
        // Migrations as the owner; the service as the role.
        c.storage.migration_database_url = Some(c.database_url.clone());
        let as_role = schema_url.replacen("postgres@", &format!("{role_for_setup}@"), 1);
        assert_ne!(
            as_role, schema_url,
            "TEST_DATABASE_URL names the user postgres"
        );
        c.database_url = DatabaseUrl::parse(&as_role).unwrap();
    })
    .await;

    {
        let current: String = db::run(&app.state.pool, |conn| {
            use diesel::prelude::*;
            Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                "current_user::text",
            ))
            .get_result(conn)?)
        })
        .await
        .unwrap();
        assert_eq!(current, role);
        // The service works as that role: accounts, a resident, reads, the trail.
        let admin = app.admin().await;
        let worker = app
            .session("worker.zhou", Role::Caseworker, &[JINPING])
            .await;
        let number = compose("330213", day("1970-01-01"), 11).as_str().to_owned();
        let id =
            id_of(&register_resident(&app, &worker, resident_body(&number, "周一", JINPING)).await);
        assert_eq!(
            app.get_as(&admin, &format!("/api/v1/residents/{id}/file"))
                .await
                .status,
            200
        );
        assert_eq!(verify_chain(&app, &admin).await["valid"], true);
        // Nothing is pending, and the role checks that with reads only.
        let applied = actix_web::web::block({
            let url = app.state.config.database_url.clone();
            move || fenghua_registry::startup::migrate_only(&url)
        })
        .await
        .unwrap()
        .expect("the service's role finds nothing pending");
        assert!(applied.is_empty());
        // And it cannot change the schema or the trail.
        for statement in [
            "TRUNCATE audit_events",
            "DELETE FROM audit_events",
            "UPDATE audit_events SET outcome = 'success'",
            "ALTER TABLE residents ADD COLUMN note TEXT",
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "DROP TABLE audit_events",
            "DELETE FROM __diesel_schema_migrations",
            "CREATE TABLE intruder (id INT)",
        ] {
            let refused = try_sql(&app, statement).await;
            assert!(refused.is_err(), "the service's role may run {statement}");
        }
    }
}

/// Drops a test role (roles are global to the cluster) when the test ends, however it ends.
struct DropRole {
    admin_url: String,
    role: String,
}

impl Drop for DropRole {
    fn drop(&mut self) {
        let Ok(mut owner) =
            <diesel::PgConnection as diesel::Connection>::establish(&self.admin_url)
        else {
            return;
        };
        let role = &self.role;
        // The app's connections as the role close as its pool goes: retry for a moment.
        for _ in 0..20 {
            let dropped =
                owner.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}"));
            if dropped.is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The subsidy amount is the policy's; another is an audited override, above it admin only.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_subsidy_amount_other_than_the_policys_is_an_audited_override() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app
        .session("worker.qian", Role::Caseworker, &[JINPING])
        .await;
    let number = compose("330213", day("1970-03-03"), 41).as_str().to_owned();
    let resident = id_of(
        &register_resident(
            &app,
            &worker,
            json!({"id_number": number, "name": "钱一", "town_code": JINPING,
               "household_status": "dibao", "household_status_since": "2015-01-01"}),
        )
        .await,
    );
    let path = format!("/api/v1/residents/{resident}");
    created(
        app.post_as(
            &worker,
            &format!("{path}/certificates"),
            &json!({"number": format!("{number}42"), "category": "physical", "grade": 2, "issued_on": "2020-01-01"}),
        )
        .await,
    )
    .await;
    let app = &app;
    let (admin, worker) = (&admin, &worker);
    let grant = |who: &'static str, body: Value| {
        let session = if who == "admin" { admin } else { worker };
        let route = format!("{path}/subsidies");
        async move { app.post_as(session, &route, &body).await }
    };

    // 100,000,000 fen a month from a caseworker: refused, and the attempt audited.
    let huge = json!({"kind": "living", "start_month": "2024-01", "monthly_amount_fen": 100_000_000, "override_reason": "特批"});
    grant("worker", huge.clone())
        .await
        .problem(403, "forbidden");
    let denied = events(app, "access_denied").await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(changes(&denied[0])["monthly_amount_fen"], 100_000_000);
    assert!(events(app, "subsidy_grant").await.is_empty());

    // Less than the policy's needs a reason, and is then an override.
    let less = json!({"kind": "living", "start_month": "2024-01", "monthly_amount_fen": 20_000});
    let refused = grant("worker", less.clone())
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        refused["errors"][0]["code"], "required_when_amount_differs",
        "{refused}"
    );
    let mut with_reason = less;
    with_reason["override_reason"] = json!("按月折算");
    let granted = created(grant("worker", with_reason).await).await;
    assert_eq!(granted["monthly_amount_fen"], 20_000);
    assert_eq!(granted["override_reason"], "按月折算");
    let overrides = events(app, "subsidy_grant_override").await;
    assert_eq!(overrides.len(), 1);
    assert_eq!(changes(&overrides[0])["override"], json!(["amount"]));
    assert_eq!(changes(&overrides[0])["policy_monthly_amount_fen"], 30_000);

    // The policy's own amount, given explicitly, is an ordinary grant; more, from an admin,
    // an override.
    let nursing =
        json!({"kind": "nursing", "start_month": "2024-01", "monthly_amount_fen": 30_000});
    created(grant("worker", nursing).await).await;
    assert_eq!(events(app, "subsidy_grant").await.len(), 1);
    let granted = grant("admin", huge).await;
    assert_eq!(
        granted.status,
        409,
        "a living grant exists: {}",
        granted.text()
    );
    let other = compose("330213", day("1971-04-04"), 43).as_str().to_owned();
    let second = id_of(
        &register_resident(
            app,
            admin,
            json!({"id_number": other, "name": "钱二", "town_code": JINPING,
               "household_status": "dibao", "household_status_since": "2015-01-01"}),
        )
        .await,
    );
    created(
        app.post_as(
            admin,
            &format!("/api/v1/residents/{second}/certificates"),
            &json!({"number": format!("{other}42"), "category": "physical", "grade": 2, "issued_on": "2020-01-01"}),
        )
        .await,
    )
    .await;
    let admin_grant = created(
        app.post_as(
            admin,
            &format!("/api/v1/residents/{second}/subsidies"),
            &json!({"kind": "living", "start_month": "2024-01", "monthly_amount_fen": 50_000, "override_reason": "区特批"}),
        )
        .await,
    )
    .await;
    assert_eq!(admin_grant["monthly_amount_fen"], 50_000);
    assert_eq!(events(app, "subsidy_grant_override").await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 6. Guesses of the current password count as failed logins and are audited.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn wrong_current_passwords_count_as_failed_logins() {
    let app = spawn_app().await;
    let victim = app
        .session("victim.sun", Role::Caseworker, &[JINPING])
        .await;
    let (app, victim) = (&app, &victim);
    let change = |current: &'static str| async move {
        app.post_as(
            victim,
            "/api/v1/me/password",
            &json!({"current_password": current, "new_password": "a brand new passphrase 42"}),
        )
        .await
    };
    // Two wrong logins and three wrong current passwords: five in a row lock the account.
    for _ in 0..2 {
        assert_eq!(
            app.login("victim.sun", "not the password 1").await.status,
            401
        );
    }
    for _ in 0..3 {
        let refused = change("not the password 2")
            .await
            .problem(422, "validation_failed");
        assert_eq!(refused["errors"][0]["code"], "mismatch");
    }
    let failed = events(app, "password_change_failed").await;
    assert_eq!(failed.len(), 3);
    assert_eq!(failed[0].actor_username.as_deref(), Some("victim.sun"));
    assert_eq!(changes(&failed[0])["reason"], "wrong_password");
    let locked = events(app, "account_locked").await;
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(changes(&locked[0])["via"], "password_change");

    // The lock ended the session that guessed, and the right password no longer signs in.
    let after = change(PASSWORD).await;
    assert_eq!(after.status, 401, "{}", after.text());
    assert_eq!(app.login("victim.sun", PASSWORD).await.status, 401);
}

#[actix_web::test]
async fn a_locked_account_cannot_change_its_password() {
    let app = spawn_app().await;
    let user = app.session("locked.zhao", Role::Auditor, &[]).await;
    for _ in 0..5 {
        app.login("locked.zhao", "not the password 3").await;
    }
    let refused = app
        .post_as(
            &user,
            "/api/v1/me/password",
            &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase 43"}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["code"], "account_locked", "{refused}");
    assert_eq!(
        changes(&events(&app, "password_change_failed").await[0])["reason"],
        "locked"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Telling that an ID number has a file in another town: audited, limited per user.
// ---------------------------------------------------------------------------------------------

fn csv(lines: &[String]) -> Vec<u8> {
    lines.join("\n").into_bytes()
}

/// An import, answered in English (the assertions read English reasons).
async fn import(app: &TestApp, who: &Session, body: Vec<u8>) -> Answer {
    app.send_as(
        who,
        TestRequest::post()
            .uri("/api/v1/imports/residents")
            .insert_header(("Content-Type", "text/csv"))
            .insert_header(("Accept-Language", "en"))
            .set_payload(body),
    )
    .await
}

#[actix_web::test]
async fn existence_in_another_town_is_audited_and_limited_per_user() {
    let app = spawn_app_with(|c| c.auth.id_probe_limit = 3).await;
    let admin = app.admin().await;
    let worker = app
        .session("worker.feng", Role::Caseworker, &[JINPING])
        .await;
    let xikou: Vec<String> = (0..6)
        .map(|i| {
            compose("330213", day("1950-09-09"), 600 + i)
                .as_str()
                .to_owned()
        })
        .collect();
    let mut residents = Vec::new();
    for (i, number) in xikou.iter().enumerate() {
        residents.push(id_of(
            &register_resident(
                &app,
                &admin,
                resident_body(number, &format!("溪口{i}"), XIKOU),
            )
            .await,
        ));
    }

    // Registering one of them in 锦屏 answers 409 without naming the file, audited as that.
    let again = app
        .create_resident(&worker, &resident_body(&xikou[0], "冯一", JINPING))
        .await;
    let problem = again.problem(409, "duplicate_id_number");
    assert!(problem.get("existing_id").is_none());
    let told = events(&app, "resident_duplicate_elsewhere").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].resident_id.as_deref(), Some(residents[0].as_str()));
    assert_eq!(told[0].actor_username.as_deref(), Some("worker.feng"));
    assert_eq!(changes(&told[0])["via"], "register");

    // An import row with errors of its own gets those only (the attempt audited as denied);
    // a valid one is told, and audited as told.
    let lines = vec![
        "id_number,name,town_code".to_owned(),
        format!("{},,{JINPING}", xikou[1]),
        format!("{},冯二,{JINPING}", xikou[2]),
    ];
    let report = import(&app, &worker, csv(&lines)).await;
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    assert_eq!(report["rejected"][0]["row"], 2);
    assert_eq!(
        report["rejected"][0]["errors"][0]["field"], "name",
        "{report}"
    );
    assert_eq!(
        report["rejected"][1]["errors"][0],
        json!({"field": "id_number", "code": "out_of_scope", "message": "this resident is registered in a town you do not work in"})
    );
    let told = events(&app, "resident_duplicate_elsewhere").await;
    assert_eq!(told.len(), 2);
    assert_eq!(told[1].resident_id.as_deref(), Some(residents[2].as_str()));
    assert_eq!(changes(&told[1]), json!({"via": "import", "row": 3}));
    let denied = events(&app, "access_denied").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(
        denied[0].resident_id.as_deref(),
        Some(residents[1].as_str())
    );

    // Two answers used of three: a file that would get two more is refused whole.
    let lines = vec![
        "id_number,name,town_code".to_owned(),
        format!("{},冯三,{JINPING}", xikou[3]),
        format!("{},冯四,{JINPING}", xikou[4]),
        format!(
            "{},新人,{JINPING}",
            compose("330213", day("1990-01-01"), 1).as_str()
        ),
    ];
    import(&app, &worker, csv(&lines))
        .await
        .problem(429, "too_many_requests");
    assert_eq!(
        events(&app, "resident_duplicate_elsewhere").await.len(),
        2,
        "nothing told"
    );
    let refused_import = events(&app, "resident_import").await;
    assert_eq!(refused_import.last().unwrap().outcome, "denied");
    // The allowance is spent: registrations, imports and lookups wait for the window.
    app.create_resident(&worker, &resident_body(&xikou[5], "冯五", JINPING))
        .await
        .problem(429, "too_many_requests");
    app.post_as(
        &worker,
        "/api/v1/residents/lookup",
        &json!({"id_number": xikou[5]}),
    )
    .await
    .problem(429, "too_many_requests");
    assert_eq!(events(&app, "resident_duplicate_elsewhere").await.len(), 2);

    // The refused probes are one event per user and window, with the count.
    let state = app.state.clone();
    db::run(&app.state.pool, move |conn| {
        Ok(state.auth.id_probe_refusals.flush(
            conn,
            Instant::now() + Duration::from_secs(601),
            false,
        )?)
    })
    .await
    .unwrap();
    let limited = events(&app, "id_probe_rate_limited").await;
    assert_eq!(limited.len(), 1);
    assert_eq!(changes(&limited[0])["refused"], 3);
    assert_eq!(
        limited[0].actor_user_id.as_deref(),
        Some(worker.user_id.as_str())
    );
    // An admin, whose scope is the whole district, is never told and never limited by it.
    let dup = app
        .create_resident(&admin, &resident_body(&xikou[5], "冯五", JINPING))
        .await;
    assert!(dup.problem(409, "duplicate_id_number")["existing_id"].is_string());
}

/// A lookup of a number nobody has is audited: guessing hidden digits leaves a trace.
#[actix_web::test]
async fn lookups_are_counted_and_misses_audited() {
    let app = spawn_app_with(|c| c.auth.id_probe_limit = 2).await;
    let auditor = app.session("auditor.he", Role::Auditor, &[]).await;
    for sequence in [1, 2] {
        let guess = compose("330213", day("1980-03-15"), sequence)
            .as_str()
            .to_owned();
        app.post_as(
            &auditor,
            "/api/v1/residents/lookup",
            &json!({"id_number": guess}),
        )
        .await
        .problem(404, "not_found");
    }
    assert_eq!(events(&app, "resident_lookup_miss").await.len(), 2);
    let third = compose("330213", day("1980-03-15"), 3).as_str().to_owned();
    let limited = app
        .post_as(
            &auditor,
            "/api/v1/residents/lookup",
            &json!({"id_number": third}),
        )
        .await;
    limited.problem(429, "too_many_requests");
    assert!(limited.header("retry-after").is_some());
}

// ---------------------------------------------------------------------------------------------
// 8. Refused logins: one audit event per address and window, with the count.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_flood_of_refused_logins_is_one_event_per_address_and_window() {
    let window = Duration::from_secs(3);
    let app = spawn_app_with(move |c| {
        c.auth.login_rate_limit = 5;
        c.auth.login_rate_window = window;
    })
    .await;
    let login_from = |address: &'static str, username: String| {
        app.send(
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .peer_addr(address.parse().unwrap())
                .set_json(json!({"username": username, "password": "whatever it is 1"})),
        )
    };
    let before = app.audit_events().await.len();
    let started = Instant::now();
    let mut limited = 0;
    for i in 0..1_000 {
        let answer = login_from("10.9.9.9:4000", format!("guess{}", i % 7)).await;
        if answer.status == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 900, "{limited} of 1,000 were limited");
    // Let the window end; the next attempt writes the counts of the window that ended.
    actix_web::rt::time::sleep(window + Duration::from_millis(200)).await;
    assert_ne!(
        login_from("10.8.8.8:4000", "someone".to_owned())
            .await
            .status,
        429
    );
    let events = app.audit_events().await;
    assert!(
        events.len() - before < 20,
        "{} audit rows for 1,000 attempts",
        events.len() - before
    );
    let rate_limited: Vec<_> = events
        .iter()
        .filter(|e| e.action == "login_rate_limited")
        .collect();
    let counted: i64 = rate_limited
        .iter()
        .map(|e| changes(e)["refused"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, limited, "{rate_limited:?}");
    assert!(
        rate_limited.len() <= 1 + (started.elapsed().as_secs() / window.as_secs()) as usize,
        "{} events for {limited} refusals",
        rate_limited.len()
    );
    assert_eq!(rate_limited[0].client_address.as_deref(), Some("10.9.9.9"));
    assert_eq!(rate_limited[0].outcome, "denied");
    assert!(
        changes(rate_limited[0])["usernames"]
            .as_array()
            .unwrap()
            .len()
            <= 10
    );
}

#[actix_web::test]
async fn a_flood_of_refused_client_tokens_is_folded_like_logins() {
    let window = Duration::from_secs(3);
    let app = spawn_app_with(move |c| {
        c.auth.login_rate_limit = 5;
        c.auth.login_rate_window = window;
    })
    .await;
    let token_from = |address: &'static str| {
        app.send(
            TestRequest::post()
                .uri("/api/v1/auth/token")
                .peer_addr(address.parse().unwrap())
                .set_json(json!({
                    "grant_type": "client_credentials",
                    "client_id": "no-such-client",
                    "client_secret": "not a secret",
                })),
        )
    };
    let before = app.audit_events().await.len();
    let mut limited = 0;
    for _ in 0..300 {
        if token_from("10.7.7.7:4000").await.status == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 290, "{limited} of 300 were limited");
    actix_web::rt::time::sleep(window + Duration::from_millis(200)).await;
    assert_ne!(token_from("10.6.6.6:4000").await.status, 429);
    let events = app.audit_events().await;
    assert!(
        events.len() - before < 20,
        "{} audit rows for 300 attempts",
        events.len() - before
    );
    let counted: i64 = events
        .iter()
        .filter(|e| e.action == "login_rate_limited")
        .map(|e| changes(e)["refused"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, limited);
}

// ---------------------------------------------------------------------------------------------
// 9. Files at rest are the service's alone.
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
#[actix_web::test]
async fn the_data_folder_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| -> u32 {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = compose("330213", day("1970-01-01"), 21).as_str().to_owned();
    id_of(&register_resident(&app, &admin, resident_body(&number, "孙一", JINPING)).await);
    verify_chain(&app, &admin).await;

    if let DatabaseUrl::Sqlite(db_path) = &app.state.config.database_url {
        assert_eq!(
            mode(db_path.parent().unwrap()),
            0o700,
            "the database's folder"
        );
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", db_path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    let data_dir = app.state.config.data_dir.clone();
    assert_eq!(mode(&data_dir), 0o700, "DATA_DIR");
    assert_eq!(
        mode(&fenghua_registry::audit_checkpoint::path(&data_dir)),
        0o600,
        "the audit checkpoint"
    );
    let _ = std::fs::remove_dir_all(data_dir);
}

// ---------------------------------------------------------------------------------------------
// 10. Free text: no invisible or direction-changing characters, stored in NFC.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn free_text_refuses_invisible_characters_and_is_stored_in_nfc() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = |seq| {
        compose("330213", day("1975-05-05"), seq)
            .as_str()
            .to_owned()
    };

    let answer = app
        .create_resident(
            &admin,
            &json!({"id_number": number(1), "name": "张\u{202E}三", "town_code": JINPING,
                    "address": "南山路\u{200B}1号", "guardian_name": "\u{FEFF}张大"}),
        )
        .await;
    let mut codes = field_errors(&answer);
    codes.sort();
    assert_eq!(
        codes,
        [
            ("address", "invisible_character"),
            ("guardian_name", "invisible_character"),
            ("name", "invisible_character")
        ]
        .map(|(f, c)| (f.to_owned(), c.to_owned()))
    );
    assert!(answer.text().contains("U+202E"), "{}", answer.text());

    // Decomposed (e + combining acute) is stored precomposed, and found either way.
    let decomposed = "Rene\u{0301} Wang";
    let id = id_of(
        &register_resident(&app, &admin, resident_body(&number(3), decomposed, JINPING)).await,
    );
    let stored = app
        .get_as(&admin, &format!("/api/v1/residents/{id}"))
        .await
        .json();
    assert_eq!(stored["name"], "Ren\u{00E9} Wang");
    let found = app
        .get_as(&admin, "/api/v1/residents?q=Rene%CC%81")
        .await
        .json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");

    let path = format!("/api/v1/residents/{id}");
    let answer = app
        .post_as(&admin, &format!("{path}/employment"), &json!({"kind": "flexible", "employer": "evil\u{202E}txt.exe", "start_on": "2020-01-01"}))
        .await;
    assert_eq!(
        field_errors(&answer),
        [("employer".to_owned(), "invisible_character".to_owned())]
    );
    let training = created(
        app.post_as(
            &admin,
            &format!("{path}/trainings"),
            &json!({"course": " Cafe\u{0301} ", "start_on": "2020-01-01"}),
        )
        .await,
    )
    .await;
    assert_eq!(training["course"], "Caf\u{00E9}");
    let answer = app
        .post_as(
            &admin,
            "/api/v1/areas",
            &json!({"code": "330213001099", "name": "南\u{2066}山村", "parent_code": JINPING}),
        )
        .await;
    assert_eq!(
        field_errors(&answer),
        [("name".to_owned(), "invisible_character".to_owned())]
    );
    let etag = app
        .get_as(&admin, &path)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let answer = app
        .send_as(
            &admin,
            TestRequest::patch()
                .uri(&path)
                .insert_header(("If-Match", etag))
                .set_json(json!({"address": "a\u{0007}b"})),
        )
        .await;
    assert_eq!(
        field_errors(&answer),
        [("address".to_owned(), "invisible_character".to_owned())]
    );

    // An import row is checked the same way.
    let lines = vec![
        "id_number,name,town_code".to_owned(),
        format!("{},李\u{200F}四,{JINPING}", number(5)),
    ];
    let report = import(&app, &admin, csv(&lines)).await.json();
    assert_eq!(
        report["rejected"][0]["errors"][0]["code"], "invisible_character",
        "{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// 11. No error carries a cell's value.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_csv_without_header_is_refused_without_quoting_a_cell() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = compose("330213", day("1980-03-15"), 22).as_str().to_owned();
    let answer = import(
        &app,
        &admin,
        format!("{number},王小红,{JINPING}\n").into_bytes(),
    )
    .await;
    let problem = answer.problem(400, "malformed_csv");
    for secret in [
        number.as_str(),
        &number.to_lowercase(),
        &number[6..14],
        "王小红",
    ] {
        assert!(
            !answer.text().contains(secret),
            "the refusal quotes a cell: {problem}"
        );
    }
    assert!(
        problem["detail"].as_str().unwrap().contains("header"),
        "{problem}"
    );

    let answer = import(
        &app,
        &admin,
        format!("id_number,秘密列名,town_code\n{number},x,{JINPING}\n").into_bytes(),
    )
    .await;
    let problem = answer.problem(400, "malformed_csv");
    assert!(!answer.text().contains("秘密列名"), "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("column 2"),
        "{problem}"
    );
}

// ---------------------------------------------------------------------------------------------
// 12. Personal data answers are not cached.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn personal_data_answers_are_not_cached() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = compose("330213", day("1960-06-06"), 31).as_str().to_owned();
    let id = id_of(&register_resident(&app, &admin, resident_body(&number, "周二", JINPING)).await);
    let path = format!("/api/v1/residents/{id}");
    let mut answers = Vec::new();
    for route in [
        path.clone(),
        format!("{path}/file"),
        format!("{path}/history"),
        format!("{path}/eligibility"),
        "/api/v1/residents?q=%E5%91%A8".to_owned(),
        "/api/v1/users".to_owned(),
        "/api/v1/audit-events".to_owned(),
        "/api/v1/me".to_owned(),
    ] {
        answers.push((route.clone(), app.get_as(&admin, &route).await));
    }
    answers.push((
        "lookup".to_owned(),
        app.post_as(
            &admin,
            "/api/v1/residents/lookup",
            &json!({"id_number": number}),
        )
        .await,
    ));
    for (route, answer) in answers {
        assert_eq!(answer.status, 200, "{route}: {}", answer.text());
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{route}");
    }
    assert_eq!(
        app.get(&format!("{path}/file"))
            .await
            .header("cache-control"),
        Some("no-store")
    );
    assert_ne!(
        app.get("/api/v1/openapi.yaml")
            .await
            .header("cache-control"),
        Some("no-store")
    );
}

// ---------------------------------------------------------------------------------------------
// 13. TLS to PostgreSQL.
// ---------------------------------------------------------------------------------------------

/// A build without TLS says so, naming the feature, instead of libpq's terse refusal.
#[cfg(not(feature = "postgres-tls"))]
#[actix_web::test]
async fn a_url_asking_for_tls_is_refused_by_a_build_without_it() {
    let url =
        DatabaseUrl::parse("postgres://app@db.example:5432/registry?sslmode=verify-full").unwrap();
    let error = actix_web::web::block(move || fenghua_registry::startup::migrate_only(&url))
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("postgres-tls") && error.contains("verify-full"),
        "{error}"
    );
}

/// With the feature, to the local PostgreSQL (which serves TLS with the machine's snakeoil
/// certificate, issued to `localhost`): `require` encrypts, `verify-full` with that
/// certificate as the CA verifies it, and `verify-full` refuses a name it was not issued to.
#[cfg(feature = "postgres-tls")]
#[actix_web::test]
async fn the_connection_to_postgresql_can_be_tls_verified() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
        return;
    }
    const CA: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let with = |mode: &'static str, host: &'static str| {
        move |c: &mut fenghua_registry::config::Config| {
            let DatabaseUrl::Postgres(raw) = c.database_url.clone() else {
                unreachable!()
            };
            let mut url = url::Url::parse(&raw).unwrap();
            url.set_host(Some(host)).unwrap();
            url.query_pairs_mut()
                .append_pair("hostaddr", "127.0.0.1")
                .append_pair("sslmode", mode)
                .append_pair("sslrootcert", CA);
            c.database_url = DatabaseUrl::parse(url.as_str()).unwrap();
        }
    };
    for mode in ["require", "verify-full"] {
        let app = spawn_app_with(with(mode, "localhost")).await;
        let encrypted: bool = db::run(&app.state.pool, |conn| {
            use diesel::prelude::*;
            Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
            ))
            .get_result(conn)?)
        })
        .await
        .unwrap();
        assert!(encrypted, "sslmode={mode}");
        let admin = app.admin().await;
        assert_eq!(app.get_as(&admin, "/api/v1/me").await.status, 200);
    }
    let mut config = crate::helpers::test_config(&crate::helpers::fresh_database());
    with("verify-full", "127.0.0.2")(&mut config);
    let refused =
        actix_web::web::block(move || fenghua_registry::startup::prepare(config).map(|_| ()))
            .await
            .unwrap()
            .unwrap_err()
            .to_string();
    assert!(refused.contains("does not match host name"), "{refused}");
}
