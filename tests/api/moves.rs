//! Moves between towns and departures: `POST /residents/{id}/moves` records a dated move (the
//! resident's town changes, the file lists it, the audit trail keeps it, the caseworkers of the
//! new town take over); a `PATCH` or an import row that changes the town records a move dated
//! today; recording a death or a move-out (by `PATCH` or import) ends the running subsidy
//! grants from the month after, in the same transaction, audited.

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_denied, assert_invalid, certify, change_resident, changes, days_from_today, events,
    file_of, out_of_town, register, resident_path, spawn_app, subsidy_granted, today, Answer,
    TestApp,
};
use crate::session::{etag, Session, JINPING, XIKOU};

/// A village of 溪口镇 and one of 锦屏街道, made by [`villages`].
const XIKOU_VILLAGE: &str = "330213100201";
const JINPING_VILLAGE: &str = "330213001001";

async fn villages(app: &TestApp, admin: &Session) {
    app.create_village(admin, JINPING_VILLAGE, "锦屏一村", JINPING)
        .await;
    app.create_village(admin, XIKOU_VILLAGE, "溪口一村", XIKOU)
        .await;
}

fn moves_path(resident: &str) -> String {
    format!("{}/moves", resident_path(resident))
}

async fn move_resident(app: &TestApp, who: &Session, resident: &str, body: &Value) -> Answer {
    app.post_as(who, &moves_path(resident), body).await
}

/// The moves in the file.
async fn moves_in_file(app: &TestApp, who: &Session, resident: &str) -> Vec<Value> {
    file_of(app, who, resident).await["moves"]
        .as_array()
        .expect("the file lists the moves")
        .clone()
}

/// The resident as an admin reads it.
async fn resident_now(app: &TestApp, admin: &Session, resident: &str) -> Value {
    let answer = app.get_as(admin, &resident_path(resident)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

// ---------------------------------------------------------------------------------------------
// The move route.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_move_changes_the_town_from_its_day_and_the_new_towns_caseworker_takes_over() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    villages(&app, &admin).await;
    let jinping = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let (resident, _) = register(
        &app,
        &jinping,
        "1970-03-03",
        101,
        JINPING,
        json!({"village_code": JINPING_VILLAGE}),
    )
    .await;
    assert_eq!(
        app.get_as(&xikou, &resident_path(&resident)).await.status,
        404,
        "not yet theirs"
    );
    let before = resident_now(&app, &admin, &resident).await;

    let answer = move_resident(
        &app,
        &admin,
        &resident,
        &json!({"town_code": XIKOU, "village_code": XIKOU_VILLAGE, "moved_on": "2020-05-01"}),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let moved = answer.json();
    assert_eq!(moved["id"], resident);
    assert_eq!(moved["town_code"], XIKOU);
    assert_eq!(moved["village_code"], XIKOU_VILLAGE);
    assert_eq!(
        moved["version"].as_i64().unwrap(),
        before["version"].as_i64().unwrap() + 1
    );
    assert_eq!(etag(&answer), format!("\"{}\"", moved["version"]));
    assert_eq!(
        moved["name"], before["name"],
        "nothing else of the resident changes"
    );
    assert_eq!(moved["registered_on"], before["registered_on"]);

    // The caseworker of the new town sees the resident; the old town's no longer does.
    let seen = app.get_as(&xikou, &resident_path(&resident)).await;
    assert_eq!(seen.status, 200, "{}", seen.text());
    assert_eq!(seen.json()["town_code"], XIKOU);
    assert_eq!(
        etag(&seen),
        etag(&answer),
        "the ETag of GET /residents/{{id}}"
    );
    assert_eq!(
        app.get_as(&jinping, &resident_path(&resident)).await.status,
        404
    );

    // The file lists the move.
    let moves = moves_in_file(&app, &xikou, &resident).await;
    assert_eq!(moves.len(), 1, "{moves:?}");
    let recorded = &moves[0];
    assert_eq!(recorded["from_town"], JINPING);
    assert_eq!(recorded["from_village"], JINPING_VILLAGE);
    assert_eq!(recorded["to_town"], XIKOU);
    assert_eq!(recorded["to_village"], XIKOU_VILLAGE);
    assert_eq!(recorded["moved_on"], "2020-05-01");

    // Audited once, about the move, with the place before and after and the day.
    let audited = events(&app, "resident_move").await;
    assert_eq!(audited.len(), 1);
    let event = &audited[0];
    assert_eq!(event.entity_type.as_deref(), Some("resident_move"));
    assert_eq!(event.entity_id.as_deref(), recorded["id"].as_str());
    assert_eq!(event.resident_id.as_deref(), Some(resident.as_str()));
    assert_eq!(event.actor_username.as_deref(), Some("admin"));
    assert_eq!(event.outcome, "success");
    assert_eq!(
        changes(event),
        json!({
            "town_code": {"from": JINPING, "to": XIKOU},
            "village_code": {"from": JINPING_VILLAGE, "to": XIKOU_VILLAGE},
            "moved_on": "2020-05-01",
        })
    );

    // And the resident's history shows it.
    let history = app
        .get_as(&xikou, &format!("{}/history", resident_path(&resident)))
        .await;
    assert_eq!(history.status, 200, "{}", history.text());
    assert!(
        history.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "resident_move" && e["entity_type"] == "resident_move"),
        "{}",
        history.text()
    );

    // A later move back, by a caseworker of both towns, without a village.
    let both = app
        .session("both", Role::Caseworker, &[JINPING, XIKOU])
        .await;
    let answer = move_resident(
        &app,
        &both,
        &resident,
        &json!({"town_code": JINPING, "moved_on": "2023-02-02"}),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json()["town_code"], JINPING);
    assert_eq!(answer.json()["village_code"], Value::Null);
    let moves = moves_in_file(&app, &admin, &resident).await;
    let days: Vec<&Value> = moves.iter().map(|m| &m["moved_on"]).collect();
    assert_eq!(days, [&json!("2020-05-01"), &json!("2023-02-02")]);
    assert_eq!(moves[1]["from_town"], XIKOU);
    assert_eq!(moves[1]["from_village"], XIKOU_VILLAGE);
    assert_eq!(moves[1]["to_village"], Value::Null);
}

#[actix_web::test]
async fn a_bad_move_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    villages(&app, &admin).await;
    // Born 1970, registered 2010.
    let (resident, _) = register(&app, &admin, "1970-03-03", 102, JINPING, json!({})).await;
    let answer = move_resident(
        &app,
        &admin,
        &resident,
        &json!({"town_code": XIKOU, "moved_on": "2015-06-01"}),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    // Now in 溪口 since 2015-06-01.
    let before = resident_now(&app, &admin, &resident).await;
    let file_before = moves_in_file(&app, &admin, &resident).await;

    let cases = [
        (
            json!({"town_code": "330213999", "moved_on": "2016-01-01"}),
            "town_code",
            "unknown_town",
        ),
        (
            json!({"town_code": JINPING_VILLAGE, "moved_on": "2016-01-01"}),
            "town_code",
            "unknown_town",
        ),
        (
            json!({"town_code": XIKOU, "moved_on": "2016-01-01"}),
            "town_code",
            "same_town",
        ),
        (
            json!({"town_code": JINPING, "village_code": XIKOU_VILLAGE, "moved_on": "2016-01-01"}),
            "village_code",
            "not_in_town",
        ),
        (
            json!({"town_code": JINPING, "village_code": "330213001999", "moved_on": "2016-01-01"}),
            "village_code",
            "unknown_village",
        ),
        (
            json!({"town_code": JINPING, "moved_on": days_from_today(1)}),
            "moved_on",
            "in_future",
        ),
        (
            json!({"town_code": JINPING, "moved_on": "1969-12-31"}),
            "moved_on",
            "before_birth",
        ),
        (
            json!({"town_code": JINPING, "moved_on": "2009-12-31"}),
            "moved_on",
            "before_registration",
        ),
        (
            json!({"town_code": JINPING, "moved_on": "2015-06-01"}),
            "moved_on",
            "before_last_move",
        ),
        (
            json!({"town_code": JINPING, "moved_on": "2012-01-01"}),
            "moved_on",
            "before_last_move",
        ),
        (json!({"town_code": JINPING}), "moved_on", "required"),
        (
            json!({"town_code": JINPING, "moved_on": "2016-02-30"}),
            "moved_on",
            "invalid_type",
        ),
    ];
    for (body, field, code) in cases {
        let answer = move_resident(&app, &admin, &resident, &body).await;
        assert_invalid(&answer, field, Some(code));
    }

    // A caseworker moves residents only into their own towns.
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let answer = move_resident(
        &app,
        &xikou,
        &resident,
        &json!({"town_code": JINPING, "moved_on": "2016-01-01"}),
    )
    .await;
    assert_invalid(&answer, "town_code", Some("out_of_scope"));

    // A stale If-Match is refused; the current one is accepted below.
    let stale = app
        .send_as(
            &admin,
            TestRequest::post()
                .uri(&moves_path(&resident))
                .insert_header((header::IF_MATCH, "\"1\""))
                .set_json(json!({"town_code": JINPING, "moved_on": "2016-01-01"})),
        )
        .await;
    stale.problem(412, "precondition_failed");
    // A bad move is refused for what is wrong with it, even on a stale version.
    let stale_and_bad = app
        .send_as(
            &admin,
            TestRequest::post()
                .uri(&moves_path(&resident))
                .insert_header((header::IF_MATCH, "\"1\""))
                .set_json(json!({"town_code": XIKOU, "moved_on": "2016-01-01"})),
        )
        .await;
    assert_invalid(&stale_and_bad, "town_code", Some("same_town"));

    assert_eq!(resident_now(&app, &admin, &resident).await, before);
    assert_eq!(moves_in_file(&app, &admin, &resident).await, file_before);
    assert_eq!(events(&app, "resident_move").await.len(), 1);

    // Not after a recorded death (the day itself is still possible).
    change_resident(
        &app,
        &admin,
        &resident,
        json!({"deceased_on": "2020-03-03"}),
    )
    .await;
    let answer = move_resident(
        &app,
        &admin,
        &resident,
        &json!({"town_code": JINPING, "moved_on": "2020-03-04"}),
    )
    .await;
    assert_invalid(&answer, "moved_on", Some("after_departure"));
    let current = app.get_as(&admin, &resident_path(&resident)).await;
    let answer = app
        .send_as(
            &admin,
            TestRequest::post()
                .uri(&moves_path(&resident))
                .insert_header((header::IF_MATCH, etag(&current)))
                .set_json(json!({"town_code": JINPING, "moved_on": "2020-03-03"})),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(events(&app, "resident_move").await.len(), 2);
}

#[actix_web::test]
async fn a_caseworker_of_another_town_cannot_move_the_resident_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (outsider, resident) = out_of_town(&app, &admin).await;
    let before = resident_now(&app, &admin, &resident).await;

    let answer = move_resident(
        &app,
        &outsider,
        &resident,
        &json!({"town_code": JINPING, "moved_on": "2020-01-01"}),
    )
    .await;
    answer.problem(404, "not_found");
    assert_denied(&app, &outsider, &resident, 1).await;

    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    move_resident(
        &app,
        &auditor,
        &resident,
        &json!({"town_code": JINPING, "moved_on": "2020-01-01"}),
    )
    .await
    .problem(403, "forbidden");

    assert_eq!(resident_now(&app, &admin, &resident).await, before);
    assert!(moves_in_file(&app, &admin, &resident).await.is_empty());
    assert!(events(&app, "resident_move").await.is_empty());
}

#[actix_web::test]
async fn changing_the_town_by_patch_records_a_move_dated_today() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    villages(&app, &admin).await;
    let (resident, _) = register(
        &app,
        &admin,
        "1980-08-08",
        103,
        JINPING,
        json!({"village_code": JINPING_VILLAGE}),
    )
    .await;

    // A change of village within the town is not a move.
    change_resident(&app, &admin, &resident, json!({"village_code": null})).await;
    assert!(moves_in_file(&app, &admin, &resident).await.is_empty());

    change_resident(
        &app,
        &admin,
        &resident,
        json!({"town_code": XIKOU, "village_code": XIKOU_VILLAGE}),
    )
    .await;
    let moves = moves_in_file(&app, &admin, &resident).await;
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(moves[0]["from_town"], JINPING);
    assert_eq!(moves[0]["from_village"], Value::Null);
    assert_eq!(moves[0]["to_town"], XIKOU);
    assert_eq!(moves[0]["to_village"], XIKOU_VILLAGE);
    assert_eq!(moves[0]["moved_on"], today().to_string());

    let audited = events(&app, "resident_move").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].entity_id.as_deref(), moves[0]["id"].as_str());
    assert_eq!(changes(&audited[0])["moved_on"], today().to_string());
    assert_eq!(
        changes(&audited[0])["town_code"],
        json!({"from": JINPING, "to": XIKOU})
    );
    // The update itself stays audited as before.
    let updates = events(&app, "resident_update").await;
    assert_eq!(
        changes(updates.last().unwrap())["town_code"],
        json!({"from": JINPING, "to": XIKOU})
    );

    // A move dated before today is then refused: the latest recorded move is today's.
    let answer = move_resident(
        &app,
        &admin,
        &resident,
        &json!({"town_code": JINPING, "moved_on": days_from_today(-1)}),
    )
    .await;
    assert_invalid(&answer, "moved_on", Some("before_last_move"));
}

#[actix_web::test]
async fn the_file_lists_the_moves_oldest_first() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1966-06-06", 104, JINPING, json!({})).await;
    assert_eq!(
        moves_in_file(&app, &admin, &resident).await,
        Vec::<Value>::new()
    );
    for (town, day) in [(XIKOU, "2012-02-02"), (JINPING, "2018-08-08")] {
        let answer = move_resident(
            &app,
            &admin,
            &resident,
            &json!({"town_code": town, "moved_on": day}),
        )
        .await;
        assert_eq!(answer.status, 201, "{}", answer.text());
    }
    change_resident(&app, &admin, &resident, json!({"town_code": XIKOU})).await;

    let moves = moves_in_file(&app, &admin, &resident).await;
    let chain: Vec<(String, String, String)> = moves
        .iter()
        .map(|m| {
            (
                m["from_town"].as_str().unwrap().to_owned(),
                m["to_town"].as_str().unwrap().to_owned(),
                m["moved_on"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        [
            (
                JINPING.to_owned(),
                XIKOU.to_owned(),
                "2012-02-02".to_owned()
            ),
            (
                XIKOU.to_owned(),
                JINPING.to_owned(),
                "2018-08-08".to_owned()
            ),
            (JINPING.to_owned(), XIKOU.to_owned(), today().to_string()),
        ]
    );
    let ids: std::collections::BTreeSet<&str> =
        moves.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "each move has its own id");
}

// ---------------------------------------------------------------------------------------------
// Deaths and move-outs end the running grants.
// ---------------------------------------------------------------------------------------------

/// A resident of 锦屏 on dibao since 2015 with a grade-1 certificate (eligible for both
/// subsidies); returns its id and ID number.
async fn holder(app: &TestApp, who: &Session, sequence: u16) -> (String, String) {
    let (resident, number) = register(
        app,
        who,
        "1960-03-03",
        sequence,
        JINPING,
        json!({"household_status": "dibao", "household_status_since": "2015-01-01"}),
    )
    .await;
    certify(app, who, &resident, &number, "physical", 1, "2020-01-01").await;
    (resident, number)
}

/// Grants a subsidy from `start_month` (`YYYY-MM`); returns the grant.
async fn grant(app: &TestApp, who: &Session, resident: &str, kind: &str, start: &str) -> Value {
    let body = json!({"kind": kind, "start_month": start});
    subsidy_granted(app, who, resident, &body).await
}

/// The grant with this id, as the file shows it.
#[track_caller]
fn grant_in<'a>(file: &'a Value, grant: &Value) -> &'a Value {
    file["subsidies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == grant["id"])
        .unwrap_or_else(|| panic!("no grant {} in {file}", grant["id"]))
}

/// Asserts that each grant ended on its day with `reason`, and that one `subsidy_terminate`
/// event per grant records it.
async fn assert_ended(
    app: &TestApp,
    who: &Session,
    resident: &str,
    ended: &[(&Value, &str)],
    reason: &str,
) {
    let file = file_of(app, who, resident).await;
    for (grant, day) in ended {
        let shown = grant_in(&file, grant);
        assert_eq!(shown["terminated_on"], *day, "{shown}");
        assert_eq!(shown["terminate_reason"], reason, "{shown}");
        assert_eq!(shown["status"], "terminated", "{shown}");
    }
    let terminations = events(app, "subsidy_terminate").await;
    for (grant, day) in ended {
        let about: Vec<_> = terminations
            .iter()
            .filter(|e| e.entity_id.as_deref() == grant["id"].as_str())
            .collect();
        assert_eq!(about.len(), 1, "one event for grant {}", grant["id"]);
        let event = about[0];
        assert_eq!(event.entity_type.as_deref(), Some("subsidy_grant"));
        assert_eq!(event.resident_id.as_deref(), Some(resident));
        let recorded = changes(event);
        assert_eq!(
            recorded["terminated_on"],
            json!({"from": null, "to": day}),
            "{recorded}"
        );
        assert_eq!(
            recorded["terminate_reason"],
            json!({"from": null, "to": reason}),
            "{recorded}"
        );
    }
}

#[actix_web::test]
async fn recording_a_death_ends_the_running_grants_from_the_month_after() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let (resident, _) = holder(&app, &admin, 201).await;

    // An earlier living grant, already terminated, is left as it is.
    let old = grant(&app, &worker, &resident, "living", "2022-01").await;
    let answer = app
        .post_as(
            &worker,
            &format!(
                "{}/subsidies/{}/terminate",
                resident_path(&resident),
                old["id"].as_str().unwrap()
            ),
            &json!({"terminated_on": "2023-01-01", "reason": "退出低保"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let living = grant(&app, &worker, &resident, "living", "2023-01").await;
    // A grant whose first month comes after the death never ran.
    let nursing = grant(&app, &worker, &resident, "nursing", "2025-01").await;
    let terminations_before = events(&app, "subsidy_terminate").await.len();
    assert_eq!(terminations_before, 1);

    change_resident(
        &app,
        &worker,
        &resident,
        json!({"deceased_on": "2024-09-09"}),
    )
    .await;

    assert_ended(
        &app,
        &worker,
        &resident,
        &[(&living, "2024-10-01"), (&nursing, "2025-01-01")],
        "deceased",
    )
    .await;
    let file = file_of(&app, &worker, &resident).await;
    let untouched = grant_in(&file, &old);
    assert_eq!(untouched["terminated_on"], "2023-01-01");
    assert_eq!(untouched["terminate_reason"], "退出低保");
    assert_eq!(events(&app, "subsidy_terminate").await.len(), 3);
    // The certificate is cancelled the same day, as before.
    assert_eq!(file["certificates"][0]["status"], "cancelled");
    assert_eq!(file["certificates"][0]["cancelled_on"], "2024-09-09");
    // The same change once more ends nothing again.
    change_resident(
        &app,
        &worker,
        &resident,
        json!({"deceased_on": "2024-09-09"}),
    )
    .await;
    assert_eq!(events(&app, "subsidy_terminate").await.len(), 3);

    // The month of death is paid, the next is not.
    let paid = app
        .get_as(
            &worker,
            &format!("{}/eligibility?as_of=2024-09-30", resident_path(&resident)),
        )
        .await
        .json();
    let living_granted = |view: &Value| {
        view["subsidies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "living")
            .unwrap()["granted"]
            .clone()
    };
    assert_eq!(living_granted(&paid), true);
    let unpaid = app
        .get_as(
            &worker,
            &format!("{}/eligibility?as_of=2024-10-01", resident_path(&resident)),
        )
        .await
        .json();
    assert_eq!(living_granted(&unpaid), false);
}

#[actix_web::test]
async fn recording_a_move_out_ends_the_running_grants_from_the_month_after() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = holder(&app, &admin, 202).await;
    let living = grant(&app, &admin, &resident, "living", "2024-01").await;
    let nursing = grant(&app, &admin, &resident, "nursing", "2024-03").await;
    // A suspended grant is running too.
    let answer = app
        .post_as(
            &admin,
            &format!(
                "{}/subsidies/{}/suspend",
                resident_path(&resident),
                nursing["id"].as_str().unwrap()
            ),
            &json!({"suspended_on": "2025-02-01", "reason": "核查"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());

    change_resident(
        &app,
        &admin,
        &resident,
        json!({"moved_out_on": "2025-12-31"}),
    )
    .await;

    assert_ended(
        &app,
        &admin,
        &resident,
        &[(&living, "2026-01-01"), (&nursing, "2026-01-01")],
        "moved_out",
    )
    .await;
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["resident"]["status"], "moved_out");
    assert_eq!(file["certificates"][0]["cancel_reason"], "moved_out");
}

#[actix_web::test]
async fn a_death_refused_for_its_date_ends_no_grant() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = holder(&app, &admin, 203).await;
    let living = grant(&app, &admin, &resident, "living", "2024-01").await;
    let current = app.get_as(&admin, &resident_path(&resident)).await;
    // Before the certificate was issued: the whole change is refused.
    let answer = app
        .send_as(
            &admin,
            TestRequest::patch()
                .uri(&resident_path(&resident))
                .insert_header((header::IF_MATCH, etag(&current)))
                .set_json(json!({"deceased_on": "2019-01-01"})),
        )
        .await;
    assert_invalid(&answer, "deceased_on", Some("before_certificate"));
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(grant_in(&file, &living)["terminated_on"], Value::Null);
    assert!(events(&app, "subsidy_terminate").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Imports.
// ---------------------------------------------------------------------------------------------

async fn import(app: &TestApp, who: &Session, lines: &[String]) -> Value {
    let mut text = lines.join("\n");
    text.push('\n');
    let answer = app
        .send_as(
            who,
            TestRequest::post()
                .uri("/api/v1/imports/residents")
                .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
                .set_payload(text.into_bytes()),
        )
        .await;
    assert_eq!(answer.status, 200, "import: {}", answer.text());
    answer.json()
}

#[actix_web::test]
async fn an_import_recording_a_death_ends_the_running_grants() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, number) = holder(&app, &admin, 204).await;
    let living = grant(&app, &admin, &resident, "living", "2024-01").await;
    let nursing = grant(&app, &admin, &resident, "nursing", "2024-03").await;

    let report = import(
        &app,
        &admin,
        &[
            "id_number,name,town_code,deceased_on".to_owned(),
            format!("{number},居民204,{JINPING},2024-09-09"),
        ],
    )
    .await;
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(report["rejected"], json!([]), "{report}");

    assert_ended(
        &app,
        &admin,
        &resident,
        &[(&living, "2024-10-01"), (&nursing, "2024-10-01")],
        "deceased",
    )
    .await;
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["resident"]["deceased_on"], "2024-09-09");
    assert_eq!(file["certificates"][0]["cancel_reason"], "deceased");
    assert!(file["moves"].as_array().unwrap().is_empty(), "same town");

    // The same file again changes nothing.
    let report = import(
        &app,
        &admin,
        &[
            "id_number,name,town_code,deceased_on".to_owned(),
            format!("{number},居民204,{JINPING},2024-09-09"),
        ],
    )
    .await;
    assert_eq!(report["unchanged"], 1, "{report}");
    assert_eq!(events(&app, "subsidy_terminate").await.len(), 2);
}

#[actix_web::test]
async fn an_import_that_changes_the_town_records_a_move_dated_today() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, number) = register(&app, &admin, "1975-05-05", 205, JINPING, json!({})).await;
    let lines = [
        "id_number,name,town_code".to_owned(),
        format!("{number},居民205,{XIKOU}"),
    ];
    let report = import(&app, &admin, &lines).await;
    assert_eq!(report["updated"], 1, "{report}");
    let moves = moves_in_file(&app, &admin, &resident).await;
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(moves[0]["from_town"], JINPING);
    assert_eq!(moves[0]["to_town"], XIKOU);
    assert_eq!(moves[0]["moved_on"], today().to_string());
    assert_eq!(events(&app, "resident_move").await.len(), 1);

    let report = import(&app, &admin, &lines).await;
    assert_eq!(report["unchanged"], 1, "{report}");
    assert_eq!(moves_in_file(&app, &admin, &resident).await.len(), 1);
}
