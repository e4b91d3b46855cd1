//! Barrier-free home modification cases (家庭无障碍改造): applied → assessed (eligible or
//! ineligible) → in progress → completed, or cancelled; each step its own dated action, shown in
//! the file, refused when it cannot follow or is dated before the step it follows, audited, and
//! kept from a caseworker of another town.

use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_denied, assert_invalid, change_resident, days_from_today, events, file_of, out_of_town,
    register, resident_path, spawn_app, Answer, TestApp,
};
use crate::session::{Session, JINPING};

fn cases_path(resident: &str) -> String {
    format!("{}/home-modifications", resident_path(resident))
}

async fn apply(app: &TestApp, who: &Session, resident: &str, body: &Value) -> Answer {
    app.post_as(who, &cases_path(resident), body).await
}

async fn apply_ok(app: &TestApp, who: &Session, resident: &str, applied_on: &str) -> Value {
    let answer = apply(
        app,
        who,
        resident,
        &json!({"applied_on": applied_on, "items": [{"name": "卫生间扶手", "cost_fen": 80000}]}),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

async fn step(
    app: &TestApp,
    who: &Session,
    resident: &str,
    case: &Value,
    action: &str,
    body: &Value,
) -> Answer {
    let path = format!(
        "{}/{}/{action}",
        cases_path(resident),
        case["id"].as_str().unwrap()
    );
    app.post_as(who, &path, body).await
}

async fn step_ok(
    app: &TestApp,
    who: &Session,
    resident: &str,
    case: &Value,
    action: &str,
    body: &Value,
) -> Value {
    let answer = step(app, who, resident, case, action, body).await;
    assert_eq!(answer.status, 200, "{action} {body}: {}", answer.text());
    answer.json()
}

/// The case as the file shows it.
async fn in_file(app: &TestApp, who: &Session, resident: &str, case: &Value) -> Value {
    let file = file_of(app, who, resident).await;
    file["home_modifications"]
        .as_array()
        .expect("the file lists the cases")
        .iter()
        .find(|c| c["id"] == case["id"])
        .cloned()
        .unwrap_or_else(|| panic!("the case is in the file: {file}"))
}

async fn resident(app: &TestApp, who: &Session, sequence: u16) -> String {
    register(app, who, "1958-08-08", sequence, JINPING, json!({}))
        .await
        .0
}

#[actix_web::test]
async fn a_case_goes_from_application_to_acceptance_each_step_dated_in_the_file() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let resident = resident(&app, &admin, 201).await;

    let applied = apply_ok(&app, &worker, &resident, "2024-03-01").await;
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["applied_on"], "2024-03-01");
    assert_eq!(
        applied["items"],
        json!([{"name": "卫生间扶手", "cost_fen": 80000}])
    );
    for field in [
        "assessed_on",
        "assessment",
        "started_on",
        "completed_on",
        "cancelled_on",
    ] {
        assert_eq!(applied[field], Value::Null, "{field}");
    }
    assert_eq!(in_file(&app, &worker, &resident, &applied).await, applied);

    let assessed = step_ok(
        &app,
        &worker,
        &resident,
        &applied,
        "assess",
        &json!({"assessed_on": "2024-03-10", "outcome": "eligible"}),
    )
    .await;
    assert_eq!(assessed["status"], "assessed");
    assert_eq!(assessed["assessment"], "eligible");
    assert_eq!(assessed["assessed_on"], "2024-03-10");

    let started = step_ok(
        &app,
        &worker,
        &resident,
        &applied,
        "start",
        &json!({"started_on": "2024-04-01"}),
    )
    .await;
    assert_eq!(started["status"], "in_progress");
    assert_eq!(started["started_on"], "2024-04-01");

    let completed = step_ok(
        &app,
        &worker,
        &resident,
        &applied,
        "complete",
        &json!({
            "completed_on": "2024-05-20",
            "cost_fen": 156000,
            "items": [{"name": "卫生间扶手", "cost_fen": 80000}, {"name": "入户坡道", "cost_fen": 76000}],
        }),
    )
    .await;
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["cost_fen"], 156000);
    assert_eq!(completed["items"].as_array().unwrap().len(), 2);

    let shown = in_file(&app, &worker, &resident, &applied).await;
    assert_eq!(shown, completed);
    assert_eq!(
        [
            &shown["applied_on"],
            &shown["assessed_on"],
            &shown["started_on"],
            &shown["completed_on"],
        ],
        ["2024-03-01", "2024-03-10", "2024-04-01", "2024-05-20"]
    );

    let applies = events(&app, "home_modification_apply").await;
    assert_eq!(applies.len(), 1);
    let steps = events(&app, "home_modification_step").await;
    assert_eq!(steps.len(), 3, "one event per step");
    for event in applies.iter().chain(&steps) {
        assert_eq!(event.entity_type.as_deref(), Some("home_modification"));
        assert_eq!(event.entity_id.as_deref(), applied["id"].as_str());
        assert_eq!(event.resident_id.as_deref(), Some(resident.as_str()));
        assert_eq!(event.actor_username.as_deref(), Some("worker"));
    }
    assert!(steps[2]
        .changes
        .as_deref()
        .is_some_and(|c| c.contains("completed")));
}

#[actix_web::test]
async fn a_step_that_cannot_follow_is_an_illegal_transition() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = resident(&app, &admin, 202).await;
    let case = apply_ok(&app, &admin, &resident, "2024-03-01").await;

    // Work starts and ends only after an eligible assessment.
    step(
        &app,
        &admin,
        &resident,
        &case,
        "start",
        &json!({"started_on": "2024-03-05"}),
    )
    .await
    .problem(409, "illegal_transition");
    step(
        &app,
        &admin,
        &resident,
        &case,
        "complete",
        &json!({"completed_on": "2024-03-05"}),
    )
    .await
    .problem(409, "illegal_transition");
    assert_eq!(in_file(&app, &admin, &resident, &case).await, case);

    step_ok(
        &app,
        &admin,
        &resident,
        &case,
        "assess",
        &json!({"assessed_on": "2024-03-10", "outcome": "eligible"}),
    )
    .await;
    step(
        &app,
        &admin,
        &resident,
        &case,
        "assess",
        &json!({"assessed_on": "2024-03-11", "outcome": "ineligible"}),
    )
    .await
    .problem(409, "illegal_transition");
    step(
        &app,
        &admin,
        &resident,
        &case,
        "complete",
        &json!({"completed_on": "2024-03-12"}),
    )
    .await
    .problem(409, "illegal_transition");
    step_ok(
        &app,
        &admin,
        &resident,
        &case,
        "start",
        &json!({"started_on": "2024-03-12"}),
    )
    .await;
    step(
        &app,
        &admin,
        &resident,
        &case,
        "start",
        &json!({"started_on": "2024-03-13"}),
    )
    .await
    .problem(409, "illegal_transition");
    let done = step_ok(
        &app,
        &admin,
        &resident,
        &case,
        "complete",
        &json!({"completed_on": "2024-04-01"}),
    )
    .await;

    // Nothing follows an accepted case: not even a cancellation.
    for (action, body) in [
        (
            "cancel",
            json!({"cancelled_on": "2024-04-02", "reason": "撤回"}),
        ),
        ("complete", json!({"completed_on": "2024-04-02"})),
        ("start", json!({"started_on": "2024-04-02"})),
    ] {
        step(&app, &admin, &resident, &case, action, &body)
            .await
            .problem(409, "illegal_transition");
    }
    assert_eq!(in_file(&app, &admin, &resident, &case).await, done);
    assert_eq!(events(&app, "home_modification_step").await.len(), 3);
}

#[actix_web::test]
async fn an_ineligible_case_does_not_start_and_may_be_cancelled_with_a_reason() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = resident(&app, &admin, 203).await;
    let case = apply_ok(&app, &admin, &resident, "2024-06-01").await;
    let assessed = step_ok(
        &app,
        &admin,
        &resident,
        &case,
        "assess",
        &json!({"assessed_on": "2024-06-15", "outcome": "ineligible"}),
    )
    .await;
    assert_eq!(assessed["assessment"], "ineligible");
    step(
        &app,
        &admin,
        &resident,
        &case,
        "start",
        &json!({"started_on": "2024-07-01"}),
    )
    .await
    .problem(409, "illegal_transition");

    for body in [
        json!({"cancelled_on": "2024-07-01", "reason": ""}),
        json!({"cancelled_on": "2024-07-01", "reason": "因".repeat(201)}),
        json!({"cancelled_on": "2024-07-01"}),
    ] {
        let answer = step(&app, &admin, &resident, &case, "cancel", &body).await;
        assert_invalid(&answer, "reason", None);
    }
    let cancelled = step_ok(
        &app,
        &admin,
        &resident,
        &case,
        "cancel",
        &json!({"cancelled_on": "2024-07-01", "reason": "住房不符合改造条件"}),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancelled_on"], "2024-07-01");
    assert_eq!(cancelled["cancel_reason"], "住房不符合改造条件");
    assert_eq!(in_file(&app, &admin, &resident, &case).await, cancelled);
    step(
        &app,
        &admin,
        &resident,
        &case,
        "cancel",
        &json!({"cancelled_on": "2024-07-02", "reason": "再次"}),
    )
    .await
    .problem(409, "illegal_transition");

    // A new request is a new case.
    let second = apply_ok(&app, &admin, &resident, "2024-08-01").await;
    assert_ne!(second["id"], case["id"]);
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["home_modifications"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn a_step_dated_before_the_previous_one_or_in_the_future_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = resident(&app, &admin, 204).await;
    let case = apply_ok(&app, &admin, &resident, "2024-03-01").await;

    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "assess",
        &json!({"assessed_on": "2024-02-29", "outcome": "eligible"}),
    )
    .await;
    assert_invalid(&answer, "assessed_on", Some("before_previous_step"));
    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "assess",
        &json!({"assessed_on": days_from_today(1), "outcome": "eligible"}),
    )
    .await;
    assert_invalid(&answer, "assessed_on", Some("in_future"));
    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "assess",
        &json!({"assessed_on": "2024-03-02", "outcome": "maybe"}),
    )
    .await;
    assert_invalid(&answer, "outcome", None);
    assert_eq!(in_file(&app, &admin, &resident, &case).await, case);

    // The same day as the previous step is fine.
    step_ok(
        &app,
        &admin,
        &resident,
        &case,
        "assess",
        &json!({"assessed_on": "2024-03-01", "outcome": "eligible"}),
    )
    .await;
    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "start",
        &json!({"started_on": "2024-02-28"}),
    )
    .await;
    assert_invalid(&answer, "started_on", Some("before_previous_step"));
    step_ok(
        &app,
        &admin,
        &resident,
        &case,
        "start",
        &json!({"started_on": "2024-04-01"}),
    )
    .await;
    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "complete",
        &json!({"completed_on": "2024-03-31"}),
    )
    .await;
    assert_invalid(&answer, "completed_on", Some("before_previous_step"));
    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "complete",
        &json!({"completed_on": "2024-05-01", "cost_fen": -1}),
    )
    .await;
    assert_invalid(&answer, "cost_fen", None);
    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "complete",
        &json!({"completed_on": "2024-05-01", "items": [{"name": " "}]}),
    )
    .await;
    assert_invalid(&answer, "items[0].name", None);
    let answer = step(
        &app,
        &admin,
        &resident,
        &case,
        "cancel",
        &json!({"cancelled_on": "2024-03-31", "reason": "放弃"}),
    )
    .await;
    assert_invalid(&answer, "cancelled_on", Some("before_previous_step"));
    assert_eq!(
        in_file(&app, &admin, &resident, &case).await["status"],
        "in_progress"
    );
    assert_eq!(events(&app, "home_modification_step").await.len(), 2);
}

#[actix_web::test]
async fn an_application_is_dated_within_the_resident_s_life_with_named_items() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = resident(&app, &admin, 205).await;
    let cases = [
        (
            json!({"applied_on": "1958-08-07"}),
            "applied_on",
            Some("before_birth"),
        ),
        (
            json!({"applied_on": days_from_today(1)}),
            "applied_on",
            Some("in_future"),
        ),
        (json!({"applied_on": "2024-02-30"}), "applied_on", None),
        (json!({}), "applied_on", Some("required")),
        (
            json!({"applied_on": "2024-03-01", "items": [{"name": ""}]}),
            "items[0].name",
            Some("invalid"),
        ),
        (
            json!({"applied_on": "2024-03-01", "items": [{"name": "坡道", "cost_fen": -5}]}),
            "items[0].cost_fen",
            Some("out_of_range"),
        ),
        (
            json!({"applied_on": "2024-03-01", "status": "completed"}),
            "status",
            Some("unknown_field"),
        ),
    ];
    for (body, field, code) in cases {
        let answer = apply(&app, &admin, &resident, &body).await;
        assert_invalid(&answer, field, code);
    }
    // Items are optional.
    let answer = apply(
        &app,
        &admin,
        &resident,
        &json!({"applied_on": "2024-03-01"}),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json()["items"], json!([]));

    // Not after the resident's death.
    change_resident(
        &app,
        &admin,
        &resident,
        json!({"deceased_on": "2024-06-01"}),
    )
    .await;
    let answer = apply(
        &app,
        &admin,
        &resident,
        &json!({"applied_on": "2024-06-02"}),
    )
    .await;
    assert_invalid(&answer, "applied_on", Some("after_departure"));
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["home_modifications"].as_array().unwrap().len(), 1);
    assert_eq!(events(&app, "home_modification_apply").await.len(), 1);
}

#[actix_web::test]
async fn a_case_of_another_resident_or_town_is_not_found_and_the_attempt_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (outsider, far) = out_of_town(&app, &admin).await;
    let case = apply_ok(&app, &admin, &far, "2024-03-01").await;

    apply(&app, &outsider, &far, &json!({"applied_on": "2024-03-01"}))
        .await
        .problem(404, "not_found");
    step(
        &app,
        &outsider,
        &far,
        &case,
        "assess",
        &json!({"assessed_on": "2024-03-10", "outcome": "eligible"}),
    )
    .await
    .problem(404, "not_found");
    assert_denied(&app, &outsider, &far, 2).await;
    assert_eq!(in_file(&app, &admin, &far, &case).await, case);

    // A case is reached only through its own resident.
    let near = resident(&app, &admin, 206).await;
    step(
        &app,
        &admin,
        &near,
        &case,
        "assess",
        &json!({"assessed_on": "2024-03-10", "outcome": "eligible"}),
    )
    .await
    .problem(404, "not_found");
    let unknown = json!({"id": uuid::Uuid::new_v4().to_string()});
    step(
        &app,
        &admin,
        &far,
        &unknown,
        "cancel",
        &json!({"cancelled_on": "2024-03-10", "reason": "x"}),
    )
    .await
    .problem(404, "not_found");
}
