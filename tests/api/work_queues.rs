//! Work queues (issue 14): each queue lists exactly what waits in a fixture, scoped to the
//! caseworker's towns, paged, as a file, audited.

use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_invalid, change_resident, days_from_today, events, grant, record, resident_path,
    spawn_app, today, TestApp,
};
use crate::indicators::{cert_issued, holder, holder_with, household, suspend};
use crate::reports::{csv_of, ok};
use crate::session::{Session, JINPING, XIKOU};

/// A certificate issued so that it is valid until today + `days` (valid 10 years).
fn valid_until(days: i64) -> &'static str {
    let until: NaiveDate = today() + Duration::days(days);
    let issued = until.with_year_offset(-10);
    Box::leak(issued.to_string().into_boxed_str())
}

trait YearOffset {
    fn with_year_offset(self, years: i32) -> NaiveDate;
}

impl YearOffset for NaiveDate {
    fn with_year_offset(self, years: i32) -> NaiveDate {
        use chrono::Datelike;
        self.with_year(self.year() + years).unwrap()
    }
}

async fn queue(app: &TestApp, who: &Session, query: &str) -> Value {
    let answer = app
        .get_as(who, &format!("/api/v1/work-queues/{query}"))
        .await;
    assert_eq!(answer.status, 200, "{query}: {}", answer.text());
    answer.json()
}

/// (resident, state) of each item, in order.
fn listed(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["resident_id"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn each_queue_lists_exactly_what_waits_in_the_caseworker_s_towns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let physical = |until: i64| cert_issued("physical", 2, valid_until(until));

    // Certificates: expiring in 10 days, expired yesterday, valid a year (not listed), one of
    // another town, one of a resident who died (not listed).
    let expiring = holder(&app, &admin, 1, JINPING, "1960-01-01", physical(10)).await;
    let expired = holder(&app, &admin, 2, JINPING, "1960-01-01", physical(-1)).await;
    holder(&app, &admin, 3, JINPING, "1960-01-01", physical(365)).await;
    let elsewhere = holder(&app, &admin, 4, XIKOU, "1960-01-01", physical(-5)).await;
    let deceased = holder(&app, &admin, 5, JINPING, "1960-01-01", physical(-3)).await;
    change_resident(
        &app,
        &admin,
        &deceased.id,
        json!({"deceased_on": days_from_today(-2)}),
    )
    .await;

    let mine = queue(&app, &worker, "certificates").await;
    assert_eq!(
        listed(&mine),
        vec![
            (expiring.id.clone(), "expiring".to_owned()),
            (expired.id.clone(), "expired".to_owned())
        ]
    );
    assert_eq!(mine["total"], 2);
    let item = &mine["items"][0];
    assert_eq!(item["subject_id"], expiring.certificate.as_str());
    assert_eq!(item["kind"], "physical");
    assert_eq!(item["since"], days_from_today(10));
    assert_eq!(item["days"], -10);
    assert_eq!(item["town_name"], "锦屏街道");
    assert!(item["id_number"]
        .as_str()
        .unwrap()
        .ends_with("************"));
    let all = queue(&app, &admin, "certificates").await;
    assert_eq!(all["total"], 3, "the admin sees every town");
    assert!(listed(&all).contains(&(elsewhere.id.clone(), "expired".to_owned())));
    let xikou = queue(&app, &admin, &format!("certificates?town={XIKOU}")).await;
    assert_eq!(
        listed(&xikou),
        vec![(elsewhere.id.clone(), "expired".to_owned())]
    );
    app.get_as(
        &worker,
        &format!("/api/v1/work-queues/certificates?town={XIKOU}"),
    )
    .await
    .problem(403, "forbidden");

    // Paged: one at a time, in the same order, the total on every page.
    let first = queue(&app, &worker, "certificates?limit=1").await;
    assert_eq!(
        listed(&first),
        vec![(expiring.id.clone(), "expiring".to_owned())]
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = queue(
        &app,
        &worker,
        &format!("certificates?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(
        listed(&second),
        vec![(expired.id.clone(), "expired".to_owned())]
    );
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(second["total"], 2);

    // Home modifications: waiting 40 days in `applied` (listed), 10 days (listed only with
    // days=5).
    let cases = |r: &str| format!("{}/home-modifications", resident_path(r));
    let body = |applied: String| json!({"applied_on": applied, "items": [{"name": "扶手", "cost_fen": 80000}]});
    let long = app
        .post_as(&worker, &cases(&expiring.id), &body(days_from_today(-40)))
        .await;
    assert_eq!(long.status, 201, "{}", long.text());
    let recent = app
        .post_as(&worker, &cases(&expired.id), &body(days_from_today(-10)))
        .await;
    assert_eq!(recent.status, 201, "{}", recent.text());
    let waiting = queue(&app, &worker, "home_modifications").await;
    assert_eq!(
        listed(&waiting),
        vec![(expiring.id.clone(), "applied".to_owned())]
    );
    assert_eq!(waiting["items"][0]["subject_id"], long.json()["id"]);
    assert_eq!(waiting["items"][0]["days"], 40);
    let waiting = queue(&app, &worker, "home_modifications?days=5").await;
    assert_eq!(waiting["total"], 2);

    // Suspended grants: one suspended (listed), one running (not).
    let dibao = holder_with(
        &app,
        &admin,
        6,
        JINPING,
        "1960-01-01",
        physical(365),
        household("dibao"),
    )
    .await;
    let suspended = grant(&app, &admin, &dibao.id, "living", "2024-01").await;
    suspend(&app, &admin, &dibao.id, &suspended, &days_from_today(-3)).await;
    grant(&app, &admin, &expiring.id, "nursing", "2024-01").await;
    let grants = queue(&app, &worker, "suspended_grants").await;
    assert_eq!(
        listed(&grants),
        vec![(dibao.id.clone(), "suspended".to_owned())]
    );
    assert_eq!(grants["items"][0]["subject_id"], suspended.as_str());
    assert_eq!(grants["items"][0]["kind"], "living");
    assert_eq!(grants["items"][0]["since"], days_from_today(-3));

    // Rehabilitation needs without a service: the gap list's.
    record(
        &app,
        &admin,
        &dibao.id,
        "rehab-needs",
        json!({"type": "physical_therapy", "assessed_on": days_from_today(-1)}),
    )
    .await;
    let needs = queue(&app, &worker, &format!("rehab_needs?town={JINPING}")).await;
    assert_eq!(needs["total"], 1, "{needs}");
    assert_eq!(needs["items"][0]["resident_id"], dibao.id.as_str());

    // Household status ended: dibao until 20 days ago, then none.
    let ended = holder_with(
        &app,
        &admin,
        7,
        JINPING,
        "1960-01-01",
        physical(365),
        household("dibao"),
    )
    .await;
    change_resident(
        &app,
        &admin,
        &ended.id,
        json!({"household_status": "none", "household_status_since": days_from_today(-20)}),
    )
    .await;
    let statuses = queue(&app, &worker, "household_ended").await;
    assert_eq!(
        listed(&statuses),
        vec![(ended.id.clone(), "ended".to_owned())]
    );
    assert_eq!(statuses["items"][0]["kind"], "dibao");
    let statuses = queue(&app, &worker, "household_ended?days=10").await;
    assert_eq!(statuses["total"], 0, "ended more than 10 days ago");

    // As a file for Excel; bad parameters refused; auditors have no queue; every read audited.
    let answer = app
        .get_as(&worker, "/api/v1/work-queues/certificates?format=csv")
        .await;
    ok(&answer, "text/csv");
    let (header, rows) = csv_of(&answer);
    assert_eq!(header[1], "姓名");
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().any(|r| r.contains(&"即将到期".to_owned())),
        "{rows:?}"
    );
    let answer = app
        .get_as(&worker, "/api/v1/work-queues/certificates?days=3")
        .await;
    assert_invalid(&answer, "days", Some("not_applicable"));
    let answer = app
        .get_as(&worker, "/api/v1/work-queues/home_modifications?days=-1")
        .await;
    assert_invalid(&answer, "days", None);
    app.get_as(&worker, "/api/v1/work-queues/nonsense")
        .await
        .problem(404, "not_found");
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    app.get_as(&auditor, "/api/v1/work-queues/certificates")
        .await
        .problem(403, "forbidden");
    let reads = events(&app, "work_queue_read").await;
    assert!(reads.len() >= 12, "{}", reads.len());
    assert!(reads.iter().all(|e| e.outcome == "success"));
}
