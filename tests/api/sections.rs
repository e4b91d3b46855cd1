//! The dated sections of the file (rehabilitation needs and services, assistive devices,
//! employment, training, education, insurance, culture and sports, income, other benefits):
//! each one created, read back in the file, changed under `If-Match`, refused with a problem
//! naming the field when a value or a date does not fit the resident's life, kept from a
//! caseworker of another town, and audited.

use chrono::Datelike;
use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_denied, assert_invalid, change_resident, days_from_today, events, file_of, out_of_town,
    patch, register, resident_path, spawn_app, today, Answer, TestApp,
};
use crate::session::{etag, Session, JINPING, XIKOU};

// ---------------------------------------------------------------------------------------------
// The sections, one description each.
// ---------------------------------------------------------------------------------------------

/// A section as the API shows it: where to post, its name in the file and the audit trail, a
/// valid record, and a change to it.
pub(crate) struct Section {
    pub(crate) route: &'static str,
    pub(crate) name: &'static str,
    pub(crate) record: Value,
    pub(crate) change: Value,
}

fn rehab_needs() -> Section {
    Section {
        route: "rehab-needs",
        name: "rehab_needs",
        record: json!({"type": "physical_therapy", "assessed_on": "2024-03-01"}),
        change: json!({"type": "speech_therapy"}),
    }
}

fn rehab_services() -> Section {
    Section {
        route: "rehab-services",
        name: "rehab_services",
        record: json!({"type": "community_rehab", "provider": "锦屏街道康复站", "service_on": "2024-04-02"}),
        change: json!({"provider": "奉化区残疾人康复中心"}),
    }
}

fn assistive_devices() -> Section {
    Section {
        route: "assistive-devices",
        name: "assistive_devices",
        record: json!({"device_type": "wheelchair", "needed_on": "2024-02-01"}),
        change: json!({"fitted_on": "2024-03-15", "mode": "in_kind"}),
    }
}

fn employment() -> Section {
    Section {
        route: "employment",
        name: "employment",
        record: json!({"kind": "concentrated", "employer": "奉化福利工厂", "start_on": "2023-01-01"}),
        change: json!({"end_on": "2024-06-30"}),
    }
}

fn trainings() -> Section {
    Section {
        route: "trainings",
        name: "trainings",
        record: json!({"course": "电子商务技能", "provider": "区就业服务中心", "start_on": "2024-05-06", "end_on": "2024-05-24"}),
        change: json!({"certified": true}),
    }
}

fn education() -> Section {
    Section {
        route: "education",
        name: "education",
        record: json!({"stage": "secondary_vocational", "school": "奉化区职业教育中心", "start_on": "2022-09-01"}),
        change: json!({"end_on": "2025-06-30"}),
    }
}

fn insurance() -> Section {
    Section {
        route: "insurance",
        name: "insurance",
        record: json!({"year": 2024, "kind": "pension", "enrolled": true, "government_paid": true}),
        change: json!({"government_paid": false}),
    }
}

fn culture_services() -> Section {
    Section {
        route: "culture-services",
        name: "culture_services",
        record: json!({"kind": "sports", "activity": "轮椅篮球", "service_on": "2024-08-08"}),
        change: json!({"activity": "盲人象棋"}),
    }
}

fn incomes() -> Section {
    Section {
        route: "incomes",
        name: "incomes",
        record: json!({"year": 2023, "per_capita_income_fen": 3_250_000}),
        change: json!({"per_capita_income_fen": 3_400_000}),
    }
}

fn other_benefits() -> Section {
    Section {
        route: "other-benefits",
        name: "other_benefits",
        record: json!({"kind": "work_injury_nursing", "start_on": "2022-01-01"}),
        change: json!({"end_on": "2024-12-31"}),
    }
}

pub(crate) fn all_sections() -> Vec<Section> {
    vec![
        rehab_needs(),
        rehab_services(),
        assistive_devices(),
        employment(),
        trainings(),
        education(),
        insurance(),
        culture_services(),
        incomes(),
        other_benefits(),
    ]
}

fn section_path(resident: &str, route: &str) -> String {
    format!("{}/{route}", resident_path(resident))
}

fn record_path(resident: &str, route: &str, record: &str) -> String {
    format!("{}/{record}", section_path(resident, route))
}

async fn post(app: &TestApp, who: &Session, resident: &str, route: &str, body: &Value) -> Answer {
    app.post_as(who, &section_path(resident, route), body).await
}

/// Creates a record, asserting 201; returns it and its ETag.
async fn create_ok(
    app: &TestApp,
    who: &Session,
    resident: &str,
    route: &str,
    body: &Value,
) -> (Value, String) {
    let answer = post(app, who, resident, route, body).await;
    assert_eq!(answer.status, 201, "{route} {body}: {}", answer.text());
    (answer.json(), etag(&answer))
}

/// `record` with the members of `change` set (a `null` member removed).
fn merged(record: &Value, change: &Value) -> Value {
    let mut out = record.clone();
    for (key, value) in change.as_object().unwrap() {
        if value.is_null() {
            out.as_object_mut().unwrap().remove(key);
        } else {
            out[key] = value.clone();
        }
    }
    out
}

/// Asserts that every member of `expected` is in `actual` with the same value.
#[track_caller]
fn assert_holds(actual: &Value, expected: &Value) {
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&actual[key], value, "{key} in {actual}");
    }
}

/// The records of one section in the file.
async fn records_in_file(app: &TestApp, who: &Session, resident: &str, name: &str) -> Vec<Value> {
    let file = file_of(app, who, resident).await;
    file[name]
        .as_array()
        .unwrap_or_else(|| panic!("the file has no {name} list: {file}"))
        .clone()
}

/// Create, read in the file, change under `If-Match` (428 without it, 412 when stale), audit:
/// the life of one record of `section`, done by a caseworker of the resident's town.
async fn round_trip(section: Section) {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let (resident, _) = register(&app, &admin, "1980-05-01", 11, XIKOU, json!({})).await;
    assert!(
        records_in_file(&app, &worker, &resident, section.name)
            .await
            .is_empty(),
        "a new file shows every section, empty"
    );

    let (created, created_etag) =
        create_ok(&app, &worker, &resident, section.route, &section.record).await;
    assert_holds(&created, &section.record);
    let record_id = created["id"]
        .as_str()
        .expect("the record has an id")
        .to_owned();
    assert_eq!(created["version"], 1);
    assert_eq!(created_etag, "\"1\"");

    let listed = records_in_file(&app, &worker, &resident, section.name).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0], created, "the file shows the record as created");

    let path = record_path(&resident, section.route, &record_id);
    patch(&app, &worker, &path, None, &section.change)
        .await
        .problem(428, "precondition_required");
    patch(&app, &worker, &path, Some("\"7\""), &section.change)
        .await
        .problem(412, "precondition_failed");

    let answer = patch(&app, &worker, &path, Some(&created_etag), &section.change).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(etag(&answer), "\"2\"");
    let changed = answer.json();
    assert_eq!(changed["id"], created["id"]);
    assert_eq!(changed["version"], 2);
    assert_holds(&changed, &merged(&section.record, &section.change));

    let listed = records_in_file(&app, &worker, &resident, section.name).await;
    assert_eq!(listed, vec![changed.clone()], "the file shows the change");

    // The old ETag is stale now.
    patch(&app, &worker, &path, Some(&created_etag), &section.record)
        .await
        .problem(412, "precondition_failed");
    assert_eq!(
        records_in_file(&app, &worker, &resident, section.name).await,
        vec![changed]
    );

    for (action, count) in [("record_create", 1), ("record_update", 1)] {
        let found = events(&app, action).await;
        assert_eq!(found.len(), count, "{action}: {found:?}");
        let event = &found[0];
        assert_eq!(event.entity_type.as_deref(), Some(section.name));
        assert_eq!(event.entity_id.as_deref(), Some(record_id.as_str()));
        assert_eq!(event.resident_id.as_deref(), Some(resident.as_str()));
        assert_eq!(event.actor_username.as_deref(), Some("xikou"));
        assert_eq!(event.outcome, "success");
        assert!(event.changes.is_some(), "{action} records what changed");
    }
}

#[actix_web::test]
async fn a_rehabilitation_need_is_created_read_changed_and_audited() {
    round_trip(rehab_needs()).await;
}

#[actix_web::test]
async fn a_rehabilitation_service_is_created_read_changed_and_audited() {
    round_trip(rehab_services()).await;
}

#[actix_web::test]
async fn an_assistive_device_is_created_read_fitted_and_audited() {
    round_trip(assistive_devices()).await;
}

#[actix_web::test]
async fn an_employment_spell_is_created_read_ended_and_audited() {
    round_trip(employment()).await;
}

#[actix_web::test]
async fn a_training_is_created_read_changed_and_audited() {
    round_trip(trainings()).await;
}

#[actix_web::test]
async fn an_education_stage_is_created_read_finished_and_audited() {
    round_trip(education()).await;
}

#[actix_web::test]
async fn an_insurance_year_is_created_read_changed_and_audited() {
    round_trip(insurance()).await;
}

#[actix_web::test]
async fn a_culture_service_is_created_read_changed_and_audited() {
    round_trip(culture_services()).await;
}

#[actix_web::test]
async fn a_household_income_is_created_read_changed_and_audited() {
    round_trip(incomes()).await;
}

#[actix_web::test]
async fn another_benefit_is_created_read_ended_and_audited() {
    round_trip(other_benefits()).await;
}

// ---------------------------------------------------------------------------------------------
// Refusals.
// ---------------------------------------------------------------------------------------------

/// Asserts that a refused request left the section as it was and wrote no record event.
async fn assert_untouched(
    app: &TestApp,
    who: &Session,
    resident: &str,
    name: &str,
    before: &[Value],
    record_events: usize,
) {
    assert_eq!(
        records_in_file(app, who, resident, name).await,
        before,
        "a refused request changes nothing"
    );
    let written =
        events(app, "record_create").await.len() + events(app, "record_update").await.len();
    assert_eq!(
        written, record_events,
        "a refused request is not audited as a change"
    );
}

#[actix_web::test]
async fn a_wrong_code_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1980-05-01", 21, JINPING, json!({})).await;
    let cases = [
        (rehab_needs(), "type", json!("massage")),
        (rehab_services(), "type", json!("physio")),
        (assistive_devices(), "device_type", json!("jetpack")),
        (assistive_devices(), "mode", json!("gift")),
        (employment(), "kind", json!("part_time")),
        (education(), "stage", json!("kindergarten")),
        (insurance(), "kind", json!("unemployment")),
        (culture_services(), "kind", json!("concert")),
        (other_benefits(), "kind", json!("pension")),
    ];
    for (section, field, value) in cases {
        let body = merged(&section.record, &json!({ field: value }));
        let answer = post(&app, &admin, &resident, section.route, &body).await;
        assert_invalid(&answer, field, None);
    }
    // Missing, unknown and mistyped fields are named too.
    let answer = post(
        &app,
        &admin,
        &resident,
        "rehab-needs",
        &json!({"type": "other"}),
    )
    .await;
    assert_invalid(&answer, "assessed_on", Some("required"));
    let answer = post(
        &app,
        &admin,
        &resident,
        "incomes",
        &json!({"year": 2023, "per_capita_income_fen": 100, "currency": "CNY"}),
    )
    .await;
    assert_invalid(&answer, "currency", Some("unknown_field"));
    let answer = post(
        &app,
        &admin,
        &resident,
        "culture-services",
        &json!({"kind": "sports", "service_on": "2024-13-01"}),
    )
    .await;
    assert_invalid(&answer, "service_on", None);
    for section in all_sections() {
        assert_untouched(&app, &admin, &resident, section.name, &[], 0).await;
    }
}

#[actix_web::test]
async fn each_section_keeps_its_own_rules_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1980-05-01", 22, JINPING, json!({})).await;
    let cases = [
        // An end before the start.
        (
            employment(),
            json!({"start_on": "2024-05-01", "end_on": "2024-04-30"}),
            "end_on",
            "before_start",
        ),
        (
            trainings(),
            json!({"end_on": "2024-05-01"}),
            "end_on",
            "before_start",
        ),
        (
            education(),
            json!({"end_on": "2022-08-31"}),
            "end_on",
            "before_start",
        ),
        (
            other_benefits(),
            json!({"end_on": "2021-12-31"}),
            "end_on",
            "before_start",
        ),
        (
            assistive_devices(),
            json!({"fitted_on": "2024-01-31", "mode": "voucher"}),
            "fitted_on",
            "before_start",
        ),
        // A device fitted says how; not in the future.
        (
            assistive_devices(),
            json!({"fitted_on": "2024-02-10"}),
            "mode",
            "required",
        ),
        (
            assistive_devices(),
            json!({"fitted_on": days_from_today(1), "mode": "rental"}),
            "fitted_on",
            "in_future",
        ),
        // Texts have a length.
        (
            rehab_services(),
            json!({"provider": "  "}),
            "provider",
            "invalid",
        ),
        (
            employment(),
            json!({"employer": "厂".repeat(101)}),
            "employer",
            "invalid",
        ),
        // Per-year records: a year of the resident's life, not in the future.
        (insurance(), json!({"year": 1979}), "year", "out_of_range"),
        (
            insurance(),
            json!({"year": today().year() + 1}),
            "year",
            "out_of_range",
        ),
        (
            insurance(),
            json!({"enrolled": false, "government_paid": true}),
            "government_paid",
            "not_enrolled",
        ),
        (
            incomes(),
            json!({"year": today().year() + 1}),
            "year",
            "out_of_range",
        ),
        (
            incomes(),
            json!({"per_capita_income_fen": -1}),
            "per_capita_income_fen",
            "out_of_range",
        ),
    ];
    for (section, change, field, code) in cases {
        let body = merged(&section.record, &change);
        let answer = post(&app, &admin, &resident, section.route, &body).await;
        assert_invalid(&answer, field, Some(code));
    }
    for section in all_sections() {
        assert_untouched(&app, &admin, &resident, section.name, &[], 0).await;
    }
}

/// Each dated section with the field that holds its start.
fn dated_sections() -> Vec<(Section, &'static str)> {
    vec![
        (rehab_needs(), "assessed_on"),
        (rehab_services(), "service_on"),
        (assistive_devices(), "needed_on"),
        (employment(), "start_on"),
        (trainings(), "start_on"),
        (education(), "start_on"),
        (culture_services(), "service_on"),
        (other_benefits(), "start_on"),
    ]
}

#[actix_web::test]
async fn a_record_starts_within_the_resident_s_life_and_not_in_the_future() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1980-05-01", 23, JINPING, json!({})).await;
    for (section, start) in dated_sections() {
        // Ends are dropped, so only the start is judged.
        let base = merged(&section.record, &json!({"end_on": null, "fitted_on": null}));
        let body = merged(&base, &json!({ start: "1980-04-30" }));
        let answer = post(&app, &admin, &resident, section.route, &body).await;
        assert_invalid(&answer, start, Some("before_birth"));

        let body = merged(&base, &json!({ start: days_from_today(1) }));
        let answer = post(&app, &admin, &resident, section.route, &body).await;
        assert_invalid(&answer, start, Some("in_future"));

        // The day of birth and today are both fine.
        let body = merged(&base, &json!({ start: "1980-05-01" }));
        create_ok(&app, &admin, &resident, section.route, &body).await;
        // Two spells of one kind may not overlap: the second job is of another kind.
        let kind = if section.name == "employment" {
            json!("agriculture")
        } else {
            base.get("kind").cloned().unwrap_or(Value::Null)
        };
        let body = merged(&base, &json!({ start: today().to_string(), "kind": kind }));
        create_ok(&app, &admin, &resident, section.route, &body).await;
    }
}

#[actix_web::test]
async fn after_death_a_record_may_end_but_not_start() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1950-02-02", 24, JINPING, json!({})).await;
    // Open records from before the death.
    let (spell, spell_etag) = create_ok(
        &app,
        &admin,
        &resident,
        "employment",
        &json!({"kind": "agriculture", "start_on": "2020-03-01"}),
    )
    .await;
    let (allowance, _) = create_ok(
        &app,
        &admin,
        &resident,
        "other-benefits",
        &json!({"kind": "work_injury_nursing", "start_on": "2021-01-01"}),
    )
    .await;
    change_resident(
        &app,
        &admin,
        &resident,
        json!({"deceased_on": "2024-06-01"}),
    )
    .await;

    for (section, start) in dated_sections() {
        let base = merged(&section.record, &json!({"end_on": null, "fitted_on": null}));
        let body = merged(&base, &json!({ start: "2024-06-02" }));
        let answer = post(&app, &admin, &resident, section.route, &body).await;
        assert_invalid(&answer, start, Some("after_departure"));
    }
    // The day of death still counts for a start.
    create_ok(
        &app,
        &admin,
        &resident,
        "rehab-services",
        &json!({"type": "medical_rehab", "service_on": "2024-06-01"}),
    )
    .await;

    // Closing a record after the death is allowed: the spell ends when the family reports it.
    let path = record_path(&resident, "employment", spell["id"].as_str().unwrap());
    let answer = patch(
        &app,
        &admin,
        &path,
        Some(&spell_etag),
        &json!({"end_on": "2024-07-15"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["end_on"], "2024-07-15");
    // And a record made after the death may carry an end after it, from a start before it.
    let (ended, _) = create_ok(
        &app,
        &admin,
        &resident,
        "trainings",
        &json!({"course": "手工编织", "start_on": "2024-05-01", "end_on": "2024-08-01"}),
    )
    .await;
    assert_eq!(ended["end_on"], "2024-08-01");

    // Moving a start past the death is refused on change too, and changes nothing.
    let path = record_path(
        &resident,
        "other-benefits",
        allowance["id"].as_str().unwrap(),
    );
    let answer = patch(
        &app,
        &admin,
        &path,
        Some("\"1\""),
        &json!({"start_on": "2024-09-01"}),
    )
    .await;
    assert_invalid(&answer, "start_on", Some("after_departure"));
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["other_benefits"][0], allowance);
}

#[actix_web::test]
async fn after_a_move_out_a_record_may_not_start() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1966-06-06", 30, JINPING, json!({})).await;
    change_resident(
        &app,
        &admin,
        &resident,
        json!({"moved_out_on": "2024-06-01"}),
    )
    .await;
    for (section, start) in dated_sections() {
        let base = merged(&section.record, &json!({"end_on": null, "fitted_on": null}));
        let body = merged(&base, &json!({ start: "2024-06-02" }));
        let answer = post(&app, &admin, &resident, section.route, &body).await;
        assert_invalid(&answer, start, Some("after_departure"));
    }
    assert_untouched(&app, &admin, &resident, "rehab_needs", &[], 0).await;
}

#[actix_web::test]
async fn no_insurance_is_recorded_for_a_year_after_the_death() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1950-02-02", 31, JINPING, json!({})).await;
    change_resident(
        &app,
        &admin,
        &resident,
        json!({"deceased_on": "2023-06-01"}),
    )
    .await;
    // The year of the death still counts.
    create_ok(
        &app,
        &admin,
        &resident,
        "insurance",
        &json!({"year": 2023, "kind": "medical", "enrolled": true}),
    )
    .await;
    let answer = post(
        &app,
        &admin,
        &resident,
        "insurance",
        &json!({"year": 2024, "kind": "medical", "enrolled": true}),
    )
    .await;
    assert_invalid(&answer, "year", None);
}

#[actix_web::test]
async fn a_change_that_breaks_a_rule_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1980-05-01", 25, JINPING, json!({})).await;
    let (record, tag) = create_ok(&app, &admin, &resident, "education", &education().record).await;
    let path = record_path(&resident, "education", record["id"].as_str().unwrap());
    let before = vec![record.clone()];

    let refused = [
        (json!({"end_on": "2022-08-01"}), "end_on", "before_start"),
        (
            json!({"start_on": days_from_today(3)}),
            "start_on",
            "in_future",
        ),
        (
            json!({"start_on": "1970-01-01"}),
            "start_on",
            "before_birth",
        ),
        (json!({"stage": "doctorate"}), "stage", "unknown_code"),
        (json!({"start_on": null}), "start_on", "required"),
        (json!({"grade": 3}), "grade", "unknown_field"),
    ];
    for (change, field, code) in refused {
        let answer = patch(&app, &admin, &path, Some(&tag), &change).await;
        assert_invalid(&answer, field, Some(code));
        assert_untouched(&app, &admin, &resident, "education", &before, 1).await;
    }

    // `null` clears an optional field.
    let answer = patch(&app, &admin, &path, Some(&tag), &json!({"school": null})).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.json().get("school").is_none_or(Value::is_null));

    // A record of another resident, or none at all, is not found.
    let (other, _) = register(&app, &admin, "1981-01-01", 26, JINPING, json!({})).await;
    let elsewhere = record_path(&other, "education", record["id"].as_str().unwrap());
    patch(
        &app,
        &admin,
        &elsewhere,
        Some("\"2\""),
        &json!({"school": "x"}),
    )
    .await
    .problem(404, "not_found");
    let unknown = record_path(&resident, "education", &uuid::Uuid::new_v4().to_string());
    patch(
        &app,
        &admin,
        &unknown,
        Some("\"1\""),
        &json!({"school": "x"}),
    )
    .await
    .problem(404, "not_found");
    // Nor is a record under another section's route.
    let wrong_section = record_path(&resident, "trainings", record["id"].as_str().unwrap());
    patch(
        &app,
        &admin,
        &wrong_section,
        Some("\"2\""),
        &json!({"certified": true}),
    )
    .await
    .problem(404, "not_found");
    let nobody = section_path(&uuid::Uuid::new_v4().to_string(), "education");
    app.post_as(&admin, &nobody, &education().record)
        .await
        .problem(404, "not_found");
}

#[actix_web::test]
async fn insurance_and_income_are_one_record_per_year_and_kind() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1980-05-01", 27, JINPING, json!({})).await;
    let (pension_2024, _) =
        create_ok(&app, &admin, &resident, "insurance", &insurance().record).await;

    let answer = post(
        &app,
        &admin,
        &resident,
        "insurance",
        &json!({"year": 2024, "kind": "pension", "enrolled": false}),
    )
    .await;
    answer.problem(409, "record_exists");

    // Another kind, or another year, is another record.
    let (medical_2024, _) = create_ok(
        &app,
        &admin,
        &resident,
        "insurance",
        &json!({"year": 2024, "kind": "medical", "enrolled": true}),
    )
    .await;
    let (_, pension_2023_tag) = create_ok(
        &app,
        &admin,
        &resident,
        "insurance",
        &json!({"year": 2023, "kind": "pension", "enrolled": true}),
    )
    .await;
    assert_eq!(
        medical_2024["government_paid"], false,
        "not paid unless said"
    );

    // Changing a record into the year and kind of another is the same conflict.
    let records = records_in_file(&app, &admin, &resident, "insurance").await;
    assert_eq!(records.len(), 3);
    let pension_2023 = records
        .iter()
        .find(|r| r["year"] == 2023)
        .expect("the 2023 record");
    let path = record_path(&resident, "insurance", pension_2023["id"].as_str().unwrap());
    patch(
        &app,
        &admin,
        &path,
        Some(&pension_2023_tag),
        &json!({"year": 2024}),
    )
    .await
    .problem(409, "record_exists");
    assert_eq!(
        records_in_file(&app, &admin, &resident, "insurance").await,
        records
    );
    assert!(records.contains(&pension_2024));

    // Income: one per year.
    create_ok(&app, &admin, &resident, "incomes", &incomes().record).await;
    post(&app, &admin, &resident, "incomes", &incomes().record)
        .await
        .problem(409, "record_exists");
    create_ok(
        &app,
        &admin,
        &resident,
        "incomes",
        &json!({"year": 2024, "per_capita_income_fen": 3_500_000}),
    )
    .await;
    assert_eq!(
        records_in_file(&app, &admin, &resident, "incomes")
            .await
            .len(),
        2
    );

    // The same year and kind for another resident is no conflict.
    let (other, _) = register(&app, &admin, "1985-01-01", 28, JINPING, json!({})).await;
    create_ok(&app, &admin, &other, "insurance", &insurance().record).await;
}

#[actix_web::test]
async fn employment_spells_overlap_only_where_their_kinds_allow() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1980-05-01", 29, JINPING, json!({})).await;
    let spell = |kind: &str, start: &str| json!({"kind": kind, "start_on": start});

    let (factory, factory_tag) = create_ok(
        &app,
        &admin,
        &resident,
        "employment",
        &spell("concentrated", "2023-01-01"),
    )
    .await;

    // Two jobs with an employer or a post do not run at once.
    for kind in [
        "proportional",
        "concentrated",
        "auxiliary",
        "public_welfare",
    ] {
        let answer = post(
            &app,
            &admin,
            &resident,
            "employment",
            &spell(kind, "2024-01-01"),
        )
        .await;
        assert_invalid(&answer, "start_on", Some("overlapping_spell"));
    }
    // Also when the new spell starts first and runs into the open one.
    let answer = post(
        &app,
        &admin,
        &resident,
        "employment",
        &json!({"kind": "proportional", "start_on": "2022-06-01", "end_on": "2023-01-01"}),
    )
    .await;
    assert_invalid(&answer, "start_on", Some("overlapping_spell"));

    // Flexible work beside a job is fine; two flexible spells at once are not.
    create_ok(
        &app,
        &admin,
        &resident,
        "employment",
        &spell("flexible", "2024-01-01"),
    )
    .await;
    let answer = post(
        &app,
        &admin,
        &resident,
        "employment",
        &spell("flexible", "2024-06-01"),
    )
    .await;
    assert_invalid(&answer, "start_on", Some("overlapping_spell"));
    create_ok(
        &app,
        &admin,
        &resident,
        "employment",
        &spell("self_employed", "2024-02-01"),
    )
    .await;

    // Ending the job on the last day before the next frees the next day, not that day.
    let path = record_path(&resident, "employment", factory["id"].as_str().unwrap());
    let answer = patch(
        &app,
        &admin,
        &path,
        Some(&factory_tag),
        &json!({"end_on": "2023-12-31"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let ended_tag = etag(&answer);
    let answer = post(
        &app,
        &admin,
        &resident,
        "employment",
        &spell("proportional", "2023-12-31"),
    )
    .await;
    assert_invalid(&answer, "start_on", Some("overlapping_spell"));
    create_ok(
        &app,
        &admin,
        &resident,
        "employment",
        &spell("proportional", "2024-01-01"),
    )
    .await;

    // Reopening the first job would overlap the new one: refused on change as well.
    let answer = patch(
        &app,
        &admin,
        &path,
        Some(&ended_tag),
        &json!({"end_on": null}),
    )
    .await;
    assert_invalid(&answer, "start_on", Some("overlapping_spell"));

    let spells = records_in_file(&app, &admin, &resident, "employment").await;
    let kinds: Vec<&str> = spells.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    for kind in ["concentrated", "flexible", "self_employed", "proportional"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(
        spells.iter().find(|s| s["kind"] == "concentrated").unwrap()["end_on"],
        "2023-12-31"
    );
}

#[actix_web::test]
async fn a_caseworker_of_another_town_reaches_no_section_and_each_attempt_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (outsider, resident) = out_of_town(&app, &admin).await;
    let mut attempts = 0;
    for section in all_sections() {
        let (record, tag) =
            create_ok(&app, &admin, &resident, section.route, &section.record).await;
        post(&app, &outsider, &resident, section.route, &section.record)
            .await
            .problem(404, "not_found");
        let path = record_path(&resident, section.route, record["id"].as_str().unwrap());
        patch(&app, &outsider, &path, Some(&tag), &section.change)
            .await
            .problem(404, "not_found");
        attempts += 2;
        assert_eq!(
            records_in_file(&app, &admin, &resident, section.name).await,
            vec![record],
            "{}: nothing changed",
            section.name
        );
    }
    app.get_as(&outsider, &format!("{}/file", resident_path(&resident)))
        .await
        .problem(404, "not_found");
    attempts += 1;
    assert_denied(&app, &outsider, &resident, attempts).await;
    let written =
        events(&app, "record_create").await.len() + events(&app, "record_update").await.len();
    assert_eq!(written, all_sections().len(), "only the admin's creations");

    // An auditor reads the file but writes no record.
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    assert_eq!(
        file_of(&app, &auditor, &resident).await["employment"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    post(
        &app,
        &auditor,
        &resident,
        "employment",
        &employment().record,
    )
    .await
    .problem(403, "forbidden");
}
