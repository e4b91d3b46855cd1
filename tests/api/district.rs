//! District data, kept by admins: facilities (残疾人之家, care and rehabilitation institutions)
//! with their opening and closing, and the yearly district GDP growth indicator 1 compares
//! incomes with.

use chrono::Datelike;
use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_invalid, days_from_today, events, patch, spawn_app, today, Answer, TestApp,
};
use crate::session::{etag, Session, JINPING, XIKOU};

const FACILITIES: &str = "/api/v1/facilities";
const GDP: &str = "/api/v1/gdp-growth";

fn home_for_disabled() -> Value {
    json!({
        "kind": "home_for_disabled",
        "name": "锦屏街道残疾人之家",
        "town_code": JINPING,
        "standardized": true,
        "opened_on": "2019-05-01",
    })
}

async fn facilities(app: &TestApp, who: &Session) -> Vec<Value> {
    let answer = app.get_as(who, FACILITIES).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["items"].as_array().unwrap().clone()
}

async fn create_facility(app: &TestApp, who: &Session, body: &Value) -> (Value, String) {
    let answer = app.post_as(who, FACILITIES, body).await;
    assert_eq!(answer.status, 201, "{body}: {}", answer.text());
    (answer.json(), etag(&answer))
}

fn facility_path(facility: &Value) -> String {
    format!("{FACILITIES}/{}", facility["id"].as_str().unwrap())
}

async fn put_growth(app: &TestApp, who: &Session, year: &str, body: &Value) -> Answer {
    app.send_as(
        who,
        actix_web::test::TestRequest::put()
            .uri(&format!("{GDP}/{year}"))
            .set_json(body),
    )
    .await
}

async fn growth(app: &TestApp, who: &Session) -> Vec<Value> {
    let answer = app.get_as(who, GDP).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["items"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn an_admin_records_a_facility_and_later_its_closing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    assert!(facilities(&app, &admin).await.is_empty());

    let (created, tag) = create_facility(&app, &admin, &home_for_disabled()).await;
    assert_eq!(tag, "\"1\"");
    assert_eq!(created["version"], 1);
    for (key, value) in home_for_disabled().as_object().unwrap() {
        assert_eq!(&created[key], value, "{key}");
    }
    assert_eq!(created["closed_on"], Value::Null);
    let (care, _) = create_facility(
        &app,
        &admin,
        &json!({"kind": "care_institution", "name": "溪口镇阳光家园", "town_code": XIKOU, "opened_on": "2020-01-01"}),
    )
    .await;
    assert_eq!(care["standardized"], false, "not standardized unless said");

    // Staff read the list.
    let listed = facilities(&app, &worker).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&created) && listed.contains(&care));

    // Closing needs the current ETag.
    let path = facility_path(&created);
    let close = json!({"closed_on": "2024-12-31"});
    patch(&app, &admin, &path, None, &close)
        .await
        .problem(428, "precondition_required");
    patch(&app, &admin, &path, Some("\"5\""), &close)
        .await
        .problem(412, "precondition_failed");
    let answer = patch(&app, &admin, &path, Some(&tag), &close).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(etag(&answer), "\"2\"");
    let closed = answer.json();
    assert_eq!(closed["closed_on"], "2024-12-31");
    assert_eq!(closed["name"], created["name"], "the rest is kept");
    assert_eq!(closed["version"], 2);
    patch(&app, &admin, &path, Some(&tag), &json!({"closed_on": null}))
        .await
        .problem(412, "precondition_failed");
    let listed = facilities(&app, &admin).await;
    assert!(listed.contains(&closed), "{listed:?}");

    // Reopened: `null` clears the closing.
    let answer = patch(
        &app,
        &admin,
        &path,
        Some("\"2\""),
        &json!({"closed_on": null}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["closed_on"], Value::Null);

    let created_events = events(&app, "facility_create").await;
    assert_eq!(created_events.len(), 2);
    assert_eq!(created_events[0].entity_type.as_deref(), Some("facility"));
    assert_eq!(
        created_events[0].entity_id.as_deref(),
        created["id"].as_str()
    );
    let updates = events(&app, "facility_update").await;
    assert_eq!(updates.len(), 2);
    assert!(updates[0]
        .changes
        .as_deref()
        .is_some_and(|c| c.contains("2024-12-31")));
    assert_eq!(updates[0].actor_username.as_deref(), Some("admin"));

    let unknown = format!("{FACILITIES}/{}", uuid::Uuid::new_v4());
    patch(&app, &admin, &unknown, Some("\"1\""), &close)
        .await
        .problem(404, "not_found");
}

#[actix_web::test]
async fn only_an_admin_changes_facilities() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (created, tag) = create_facility(&app, &admin, &home_for_disabled()).await;
    for (name, role, towns) in [
        ("worker", Role::Caseworker, &[JINPING][..]),
        ("auditor", Role::Auditor, &[][..]),
    ] {
        let session = app.session(name, role, towns).await;
        app.post_as(&session, FACILITIES, &home_for_disabled())
            .await
            .problem(403, "forbidden");
        patch(
            &app,
            &session,
            &facility_path(&created),
            Some(&tag),
            &json!({"closed_on": "2024-12-31"}),
        )
        .await
        .problem(403, "forbidden");
        assert_eq!(facilities(&app, &session).await, vec![created.clone()]);
    }
    assert_eq!(events(&app, "facility_create").await.len(), 1);
    assert!(events(&app, "facility_update").await.is_empty());
}

#[actix_web::test]
async fn a_bad_facility_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let with = |change: Value| {
        let mut body = home_for_disabled();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"town_code": "330213999"})),
            "town_code",
            Some("unknown_town"),
        ),
        (
            with(json!({"town_code": "330213"})),
            "town_code",
            Some("unknown_town"),
        ),
        (
            with(json!({"closed_on": "2019-04-30"})),
            "closed_on",
            Some("before_opening"),
        ),
        (
            with(json!({"opened_on": days_from_today(1)})),
            "opened_on",
            Some("in_future"),
        ),
        (with(json!({"kind": "hospital"})), "kind", None),
        (with(json!({"name": "  "})), "name", Some("invalid")),
        (with(json!({"opened_on": "2019-02-30"})), "opened_on", None),
        (
            with(json!({"capacity": 30})),
            "capacity",
            Some("unknown_field"),
        ),
    ];
    for (body, field, code) in cases {
        let answer = app.post_as(&admin, FACILITIES, &body).await;
        assert_invalid(&answer, field, code);
    }
    assert!(facilities(&app, &admin).await.is_empty());

    // A change is held to the same rules and changes nothing when refused.
    let (created, tag) = create_facility(&app, &admin, &home_for_disabled()).await;
    let path = facility_path(&created);
    for (change, field) in [
        (json!({"closed_on": "2019-01-01"}), "closed_on"),
        (json!({"town_code": "330213999"}), "town_code"),
        (json!({"kind": "hospital"}), "kind"),
    ] {
        let answer = patch(&app, &admin, &path, Some(&tag), &change).await;
        assert_invalid(&answer, field, None);
    }
    assert_eq!(facilities(&app, &admin).await, vec![created]);
    assert!(events(&app, "facility_update").await.is_empty());
}

#[actix_web::test]
async fn an_admin_sets_the_gdp_growth_of_a_year() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    assert!(growth(&app, &admin).await.is_empty());

    let answer = put_growth(&app, &admin, "2024", &json!({"growth_bp": 650})).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json(), json!({"year": 2024, "growth_bp": 650}));
    let answer = put_growth(&app, &admin, "2023", &json!({"growth_bp": -120})).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let listed = growth(&app, &worker).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&json!({"year": 2024, "growth_bp": 650})));
    assert!(listed.contains(&json!({"year": 2023, "growth_bp": -120})));

    // Setting a year again replaces its figure.
    let answer = put_growth(&app, &admin, "2024", &json!({"growth_bp": 700})).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let listed = growth(&app, &admin).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&json!({"year": 2024, "growth_bp": 700})));

    let set = events(&app, "gdp_growth_set").await;
    assert_eq!(set.len(), 3);
    assert_eq!(set[2].entity_type.as_deref(), Some("gdp_growth"));
    assert_eq!(set[2].entity_id.as_deref(), Some("2024"));
    let changes: Value = serde_json::from_str(set[2].changes.as_deref().unwrap()).unwrap();
    assert_eq!(changes["growth_bp"], json!({"from": 650, "to": 700}));

    // Only an admin sets it.
    put_growth(&app, &worker, "2024", &json!({"growth_bp": 100}))
        .await
        .problem(403, "forbidden");
    assert!(growth(&app, &admin)
        .await
        .contains(&json!({"year": 2024, "growth_bp": 700})));
}

#[actix_web::test]
async fn a_year_or_growth_out_of_range_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let next_year = (today().year() + 1).to_string();
    for (year, body, field) in [
        ("1999", json!({"growth_bp": 650}), "year"),
        (next_year.as_str(), json!({"growth_bp": 650}), "year"),
        ("2024", json!({"growth_bp": 5001}), "growth_bp"),
        ("2024", json!({"growth_bp": -5001}), "growth_bp"),
        ("2024", json!({"growth_bp": "6.5%"}), "growth_bp"),
        ("2024", json!({}), "growth_bp"),
    ] {
        let answer = put_growth(&app, &admin, year, &body).await;
        assert_invalid(&answer, field, None);
    }
    // This year and 2000 are the bounds.
    for year in [today().year().to_string(), "2000".to_owned()] {
        let answer = put_growth(&app, &admin, &year, &json!({"growth_bp": 0})).await;
        assert_eq!(answer.status, 200, "{year}: {}", answer.text());
    }
    assert_eq!(growth(&app, &admin).await.len(), 2);
    assert_eq!(events(&app, "gdp_growth_set").await.len(), 2);
}
