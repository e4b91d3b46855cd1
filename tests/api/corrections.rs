//! Corrections (issue 14): a section record, a subsidy grant and a home-modification case
//! entered by mistake are voided by a writer of the resident's town, with a reason. Each kind
//! is shown to leave the figures it counted in (the indicator of the district and of the town as
//! of today, eligibility, the work queues, a report snapshot taken after the void), to stay in
//! the file marked void and in the history and the audit trail with the reason, to take no
//! further change, and every refused void (twice, without or with a stale `If-Match`, another
//! town's caseworker, an auditor, a bad reason) to change nothing.

use actix_web::http::header;
use actix_web::test::TestRequest;
use chrono::Datelike;
use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_invalid, events, file_of, grant, patch, record, resident_path, spawn_app, today, Answer,
    TestApp,
};
use crate::indicators::{cert, holder, holder_with, household, indicator, suspend, DISTRICT};
use crate::session::{etag, Session, JINPING, XIKOU};

const REASON: &str = "录入错误：重复登记";

/// Who calls: an admin, a caseworker of 锦屏 (where the residents live), one of 溪口 and an
/// auditor.
struct Callers {
    admin: Session,
    worker: Session,
    outsider: Session,
    auditor: Session,
}

async fn callers(app: &TestApp) -> Callers {
    Callers {
        admin: app.admin().await,
        worker: app.session("jinping", Role::Caseworker, &[JINPING]).await,
        outsider: app.session("xikou", Role::Caseworker, &[XIKOU]).await,
        auditor: app.session("auditor", Role::Auditor, &[]).await,
    }
}

/// `POST {item}/void` with `If-Match` when given.
async fn void(
    app: &TestApp,
    who: &Session,
    item: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Answer {
    let mut req = TestRequest::post()
        .uri(&format!("{item}/void"))
        .set_json(body);
    if let Some(tag) = if_match {
        req = req.insert_header((header::IF_MATCH, tag));
    }
    app.send_as(who, req).await
}

/// `(numerator, denominator)` of `code` as of today, for the district and for 锦屏.
async fn figures(app: &TestApp, who: &Session, code: &str) -> [(i64, Option<i64>); 2] {
    let pair = |v: &Value| (v["numerator"].as_i64().unwrap(), v["denominator"].as_i64());
    let district = indicator(app, who, code, None, None).await;
    assert_eq!(district["area"]["code"], DISTRICT);
    let town = indicator(app, who, code, None, Some(JINPING)).await;
    [pair(&district), pair(&town)]
}

/// The entry `id` of the file's list `key`.
fn in_file(file: &Value, key: &str, id: &str) -> Value {
    file[key]
        .as_array()
        .unwrap_or_else(|| panic!("no list {key} in the file"))
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the file's {key}: {}", file[key]))
        .clone()
}

/// The ETag of the entry `id` of the file's list `key`: its version, quoted.
fn tag_in_file(file: &Value, key: &str, id: &str) -> String {
    format!("\"{}\"", in_file(file, key, id)["version"])
}

/// `(resident ETag, file)` as they stand.
async fn snapshot_of(app: &TestApp, who: &Session, resident: &str) -> (String, Value) {
    let answer = app.get_as(who, &resident_path(resident)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    (etag(&answer), file_of(app, who, resident).await)
}

/// Every way a void of `item` (current ETag `tag`) is refused, each answered as it should be,
/// and none changing the file, the resident's version or the audit trail's voids.
async fn refused_voids_change_nothing(
    app: &TestApp,
    who: &Callers,
    resident: &str,
    item: &str,
    tag: &str,
    action: &str,
) {
    let before = snapshot_of(app, &who.admin, resident).await;
    let voids_before = events(app, action).await.len();
    let good = json!({ "reason": REASON });

    void(app, &who.worker, item, None, &good)
        .await
        .problem(428, "precondition_required");
    for stale in ["\"999\"", "*", "W/\"1\""] {
        void(app, &who.worker, item, Some(stale), &good)
            .await
            .problem(412, "precondition_failed");
    }
    for reason in [json!(""), json!("   "), json!("长".repeat(501))] {
        let answer = void(
            app,
            &who.worker,
            item,
            Some(tag),
            &json!({ "reason": reason }),
        )
        .await;
        assert_invalid(&answer, "reason", Some("invalid"));
        // The sentence names the limit (Chinese by default).
        assert_eq!(
            answer.json()["errors"][0]["message"],
            "须为 1 至 500 个字符",
            "{}",
            answer.text()
        );
    }
    let answer = void(
        app,
        &who.worker,
        item,
        Some(tag),
        &json!({"reason": "录入\u{202e}错误"}),
    )
    .await;
    assert_invalid(&answer, "reason", Some("invisible_character"));
    let answer = void(app, &who.worker, item, Some(tag), &json!({})).await;
    assert_invalid(&answer, "reason", None);
    void(app, &who.outsider, item, Some(tag), &good)
        .await
        .problem(404, "not_found");
    void(app, &who.auditor, item, Some(tag), &good)
        .await
        .problem(403, "forbidden");
    // An unknown record of the resident is not found either.
    let unknown = format!(
        "{}/{}",
        item.rsplit_once('/').unwrap().0,
        uuid::Uuid::new_v4()
    );
    void(app, &who.worker, &unknown, Some(tag), &good)
        .await
        .problem(404, "not_found");

    assert_eq!(
        snapshot_of(app, &who.admin, resident).await,
        before,
        "a refused void changes nothing"
    );
    assert_eq!(events(app, action).await.len(), voids_before);
}

/// Voids `item` (current ETag `tag`, listed in the file's `key`) as the caseworker of its town
/// after every refusal, checks the answer, that a second void is refused and what the file,
/// the history and the audit trail then show; returns the void entry as the file shows it.
#[allow(clippy::too_many_arguments)]
async fn void_checked(
    app: &TestApp,
    who: &Callers,
    resident: &str,
    item: &str,
    tag: &str,
    key: &str,
    action: &str,
    entity_type: &str,
) -> Value {
    refused_voids_change_nothing(app, who, resident, item, tag, action).await;
    let id = item.rsplit('/').next().unwrap();
    let (resident_tag, _) = snapshot_of(app, &who.admin, resident).await;

    let answer = void(
        app,
        &who.worker,
        item,
        Some(tag),
        &json!({ "reason": REASON }),
    )
    .await;
    assert_eq!(answer.status, 200, "void: {}", answer.text());
    let voided = answer.json();
    let new_tag = etag(&answer);
    assert_ne!(new_tag, tag, "the ETag changes");
    assert_eq!(new_tag, format!("\"{}\"", voided["version"]));
    assert_eq!(voided["id"], id);
    assert_eq!(voided["void_reason"], REASON);
    assert_eq!(voided["voided_by"], who.worker.username);
    assert!(voided["voided_at"].is_string(), "{voided}");
    let (resident_tag_after, file) = snapshot_of(app, &who.admin, resident).await;
    assert_ne!(
        resident_tag_after, resident_tag,
        "the resident's version moves on"
    );
    assert_eq!(
        in_file(&file, key, id),
        voided,
        "the file shows it, marked void"
    );

    // Twice is refused, with the new ETag or the old one, and changes nothing.
    for stale_or_not in [new_tag.as_str(), tag] {
        void(
            app,
            &who.worker,
            item,
            Some(stale_or_not),
            &json!({"reason": "再次作废"}),
        )
        .await
        .problem(409, "already_voided");
    }
    let after = (resident_tag_after, file);
    assert_eq!(snapshot_of(app, &who.admin, resident).await, after);
    let file = after.1;

    // One audit event with the reason, and the history shows it.
    let audited: Vec<_> = events(app, action)
        .await
        .into_iter()
        .filter(|e| e.entity_id.as_deref() == Some(id))
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    let event = &audited[0];
    assert_eq!(event.entity_type.as_deref(), Some(entity_type));
    assert_eq!(event.resident_id.as_deref(), Some(resident));
    assert_eq!(
        event.actor_username.as_deref(),
        Some(who.worker.username.as_str())
    );
    assert_eq!(event.outcome, "success");
    let changes: Value = serde_json::from_str(event.changes.as_deref().unwrap()).unwrap();
    assert_eq!(changes["void_reason"]["to"], REASON, "{changes}");
    let history = app
        .get_as(
            &who.auditor,
            &format!("{}/history?limit=200", resident_path(resident)),
        )
        .await;
    assert_eq!(history.status, 200, "{}", history.text());
    let shown = history.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action && e["entity_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {action} of {id} in the history"));
    assert_eq!(shown["changes"]["void_reason"]["to"], REASON);
    in_file(&file, key, id)
}

/// The numerator of `code` in a report snapshot taken now of the district, and the snapshot's
/// id.
async fn snapshot_figure(app: &TestApp, who: &Session, code: &str) -> (i64, String) {
    let answer = app
        .post_as(
            who,
            "/api/v1/reports",
            &json!({"as_of": today().to_string()}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let report = answer.json();
    let numerator = report["report"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {report}"))["numerator"]
        .as_i64()
        .unwrap();
    (numerator, report["id"].as_str().unwrap().to_owned())
}

/// `(resident, reason)` of each gap of `code` today.
async fn gaps(app: &TestApp, who: &Session, code: &str) -> Vec<(String, String)> {
    let answer = app
        .get_as(who, &format!("/api/v1/indicators/{code}/gaps"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["resident_id"].as_str().unwrap().to_owned(),
                g["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(eligible, granted)` of the subsidy `kind` today.
async fn eligibility(app: &TestApp, who: &Session, resident: &str, kind: &str) -> (bool, bool) {
    let answer = app
        .get_as(who, &format!("{}/eligibility", resident_path(resident)))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let view = answer.json();
    let subsidy = view["subsidies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .cloned()
        .unwrap();
    (
        subsidy["eligible"].as_bool().unwrap(),
        subsidy["granted"].as_bool().unwrap(),
    )
}

/// The `subject_id`s a work queue lists for the caseworker.
async fn queued(app: &TestApp, who: &Session, query: &str) -> Vec<String> {
    let answer = app
        .get_as(who, &format!("/api/v1/work-queues/{query}"))
        .await;
    assert_eq!(answer.status, 200, "{query}: {}", answer.text());
    answer.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_void_record_counts_nowhere_and_stays_in_the_file_and_history() {
    let app = spawn_app().await;
    let who = callers(&app).await;
    let person = holder(
        &app,
        &who.admin,
        21,
        JINPING,
        "1980-05-01",
        cert("physical", 1),
    )
    .await;
    let path = resident_path(&person.id);
    let year = today().year();
    let insurance = record(
        &app,
        &who.worker,
        &person.id,
        "insurance",
        json!({"year": year, "kind": "medical", "enrolled": true}),
    )
    .await;
    let allowance = record(
        &app,
        &who.worker,
        &person.id,
        "other-benefits",
        json!({"kind": "work_injury_nursing", "start_on": "2022-01-01"}),
    )
    .await;
    const MEDICAL: &str = "medical_insurance_rate";
    assert_eq!(
        figures(&app, &who.admin, MEDICAL).await,
        [(1, Some(1)), (1, Some(1))]
    );
    let (counted, before_void) = snapshot_figure(&app, &who.admin, MEDICAL).await;
    assert_eq!(counted, 1);
    assert!(gaps(&app, &who.admin, MEDICAL).await.is_empty());
    assert_eq!(
        eligibility(&app, &who.admin, &person.id, "nursing").await,
        (false, false),
        "the work-injury nursing allowance excludes the nursing subsidy"
    );

    let item = format!("{path}/insurance/{}", insurance["id"].as_str().unwrap());
    let shown = void_checked(
        &app,
        &who,
        &person.id,
        &item,
        "\"1\"",
        "insurance",
        "record_void",
        "insurance",
    )
    .await;
    assert_eq!(shown["year"], year, "the record's own fields stay");
    assert_eq!(
        figures(&app, &who.admin, MEDICAL).await,
        [(0, Some(1)), (0, Some(1))],
        "the void year no longer counts, for the district and the town"
    );
    assert_eq!(
        gaps(&app, &who.admin, MEDICAL).await,
        vec![(person.id.clone(), "no_enrollment_record".to_owned())],
        "the resident is on the gap list as if the year had never been recorded"
    );
    assert_eq!(
        snapshot_figure(&app, &who.admin, MEDICAL).await.0,
        0,
        "a report taken after the void leaves it out"
    );
    // The snapshot taken before keeps its figure; verifying it names the void.
    let verified = app
        .get_as(&who.admin, &format!("/api/v1/reports/{before_void}/verify"))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text());
    let verified = verified.json();
    assert_eq!(verified["status"], "restated", "{verified}");
    let restated = verified["restated"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == MEDICAL && f["area"]["code"] == DISTRICT)
        .cloned()
        .unwrap_or_else(|| panic!("{MEDICAL} is not restated: {verified}"));
    assert_eq!(restated["old"]["numerator"], 1, "{restated}");
    assert_eq!(restated["new"]["numerator"], 0, "{restated}");
    assert!(
        restated["residents"][0]["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "record_void" && e["entity_id"] == shown["id"]),
        "{restated}"
    );
    // A void record takes no change; the year it held may be entered again.
    let tag = format!("\"{}\"", shown["version"]);
    let before = snapshot_of(&app, &who.admin, &person.id).await;
    patch(
        &app,
        &who.worker,
        &item,
        Some(&tag),
        &json!({"enrolled": false}),
    )
    .await
    .problem(409, "record_voided");
    assert_eq!(snapshot_of(&app, &who.admin, &person.id).await, before);
    record(
        &app,
        &who.worker,
        &person.id,
        "insurance",
        json!({"year": year, "kind": "medical", "enrolled": true}),
    )
    .await;
    assert_eq!(
        figures(&app, &who.admin, MEDICAL).await,
        [(1, Some(1)), (1, Some(1))]
    );
    assert_eq!(
        file_of(&app, &who.admin, &person.id).await["insurance"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the void record stays in the file beside the new one"
    );

    // Eligibility: the void allowance no longer excludes the nursing subsidy.
    let item = format!(
        "{path}/other-benefits/{}",
        allowance["id"].as_str().unwrap()
    );
    let answer = void(
        &app,
        &who.admin,
        &item,
        Some("\"1\""),
        &json!({"reason": REASON}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json()["voided_by"],
        who.admin.username,
        "an admin may void"
    );
    assert_eq!(
        eligibility(&app, &who.admin, &person.id, "nursing").await,
        (true, false)
    );
}

#[actix_web::test]
async fn a_void_grant_counts_nowhere_and_a_new_grant_may_replace_it() {
    let app = spawn_app().await;
    let who = callers(&app).await;
    let person = holder_with(
        &app,
        &who.admin,
        22,
        JINPING,
        "1980-05-01",
        cert("physical", 1),
        household("dibao"),
    )
    .await;
    let path = resident_path(&person.id);
    let nursing = grant(&app, &who.worker, &person.id, "nursing", "2024-01").await;
    let living = grant(&app, &who.worker, &person.id, "living", "2024-01").await;
    suspend(&app, &who.worker, &person.id, &living, "2024-06-01").await;
    const NURSING: &str = "nursing_subsidy_coverage";
    assert_eq!(
        figures(&app, &who.admin, NURSING).await,
        [(1, Some(1)), (1, Some(1))]
    );
    assert_eq!(
        eligibility(&app, &who.admin, &person.id, "nursing").await,
        (true, true)
    );
    assert_eq!(
        queued(&app, &who.worker, "suspended_grants").await,
        vec![living.clone()]
    );

    let item = format!("{path}/subsidies/{nursing}");
    let shown = void_checked(
        &app,
        &who,
        &person.id,
        &item,
        "\"1\"",
        "subsidies",
        "subsidy_void",
        "subsidy_grant",
    )
    .await;
    assert_eq!(shown["status"], "void");
    assert_eq!(
        figures(&app, &who.admin, NURSING).await,
        [(0, Some(1)), (0, Some(1))],
        "the void grant no longer covers the resident"
    );
    assert_eq!(
        eligibility(&app, &who.admin, &person.id, "nursing").await,
        (true, false),
        "a void grant is not in payment"
    );
    let reconciliation = app
        .get_as(&who.admin, "/api/v1/subsidies/reconciliation?kind=nursing")
        .await;
    assert_eq!(reconciliation.status, 200, "{}", reconciliation.text());
    assert_eq!(
        reconciliation.json()["items"][0]["finding"],
        "eligible_not_paid",
        "{}",
        reconciliation.text()
    );
    let before = snapshot_of(&app, &who.admin, &person.id).await;
    for (action, body) in [
        (
            "suspend",
            json!({"suspended_on": "2024-06-01", "reason": "待核查"}),
        ),
        (
            "terminate",
            json!({"terminated_on": "2024-06-01", "reason": "不再符合条件"}),
        ),
    ] {
        app.post_as(&who.worker, &format!("{item}/{action}"), &body)
            .await
            .problem(409, "record_voided");
    }
    assert_eq!(snapshot_of(&app, &who.admin, &person.id).await, before);
    // The void grant holds no months: the subsidy is granted again from the same month.
    grant(&app, &who.worker, &person.id, "nursing", "2024-01").await;
    assert_eq!(
        figures(&app, &who.admin, NURSING).await,
        [(1, Some(1)), (1, Some(1))]
    );

    // A suspended grant, once void, leaves the caseworker's queue.
    let file = file_of(&app, &who.admin, &person.id).await;
    let tag = tag_in_file(&file, "subsidies", &living);
    let answer = void(
        &app,
        &who.worker,
        &format!("{path}/subsidies/{living}"),
        Some(&tag),
        &json!({"reason": REASON}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(queued(&app, &who.worker, "suspended_grants")
        .await
        .is_empty());
}

#[actix_web::test]
async fn a_void_case_counts_nowhere_and_leaves_the_work_queue() {
    let app = spawn_app().await;
    let who = callers(&app).await;
    let person = holder(
        &app,
        &who.admin,
        23,
        JINPING,
        "1980-05-01",
        cert("physical", 2),
    )
    .await;
    let path = resident_path(&person.id);
    let done = record(
        &app,
        &who.worker,
        &person.id,
        "home-modifications",
        json!({"applied_on": "2024-01-10"}),
    )
    .await;
    let done = done["id"].as_str().unwrap().to_owned();
    for (step, body) in [
        (
            "assess",
            json!({"assessed_on": "2024-02-01", "outcome": "eligible"}),
        ),
        ("start", json!({"started_on": "2024-02-10"})),
        ("complete", json!({"completed_on": "2024-03-01"})),
    ] {
        let answer = app
            .post_as(
                &who.worker,
                &format!("{path}/home-modifications/{done}/{step}"),
                &body,
            )
            .await;
        assert_eq!(answer.status, 200, "{step}: {}", answer.text());
    }
    let waiting = record(
        &app,
        &who.worker,
        &person.id,
        "home-modifications",
        json!({"applied_on": "2024-05-10"}),
    )
    .await;
    let waiting = waiting["id"].as_str().unwrap().to_owned();
    const RATE: &str = "home_modification_rate";
    assert_eq!(
        figures(&app, &who.admin, RATE).await,
        [(1, Some(1)), (1, Some(1))]
    );
    assert_eq!(
        queued(&app, &who.worker, "home_modifications?days=0").await,
        vec![waiting.clone()]
    );

    let item = format!("{path}/home-modifications/{done}");
    let shown = void_checked(
        &app,
        &who,
        &person.id,
        &item,
        "\"4\"",
        "home_modifications",
        "home_modification_void",
        "home_modification",
    )
    .await;
    assert_eq!(shown["status"], "completed", "the case's own steps stay");
    assert_eq!(
        figures(&app, &who.admin, RATE).await,
        [(0, Some(0)), (0, Some(0))],
        "without its only eligible case the resident is out of the indicator"
    );

    let item = format!("{path}/home-modifications/{waiting}");
    let answer = void(
        &app,
        &who.worker,
        &item,
        Some("\"1\""),
        &json!({"reason": REASON}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(queued(&app, &who.worker, "home_modifications?days=0")
        .await
        .is_empty());
    let before = snapshot_of(&app, &who.admin, &person.id).await;
    app.post_as(
        &who.worker,
        &format!("{item}/cancel"),
        &json!({"cancelled_on": "2024-06-01", "reason": "撤回"}),
    )
    .await
    .problem(409, "record_voided");
    assert_eq!(snapshot_of(&app, &who.admin, &person.id).await, before);
}
