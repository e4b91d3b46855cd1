//! The two subsidies (两项补贴): policy versions with effective dates, eligibility explained on
//! any day, and grants with their suspensions, resumptions and termination, overrides for the
//! ineligible, the file, the audit trail and the caseworker's towns.

use chrono::{Datelike, Months};
use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_denied, assert_invalid, certify, change_resident, days_from_today, events, file_of,
    out_of_town, register, resident_path, spawn_app, subsidy_granted, today, Answer, TestApp,
};
use crate::session::{Session, JINPING, XIKOU};

const POLICIES: &str = "/api/v1/subsidy-policies";

fn seeded_living() -> Value {
    json!({
        "id": "00000000-0000-4000-8000-000000000001",
        "kind": "living",
        "effective_from": "2021-01-01",
        "monthly_amount_fen": 30000,
        "rules": {"household_statuses": ["dibao"], "excluded_household_statuses": ["tekun"]},
        "withdrawn_at": null,
        "withdraw_reason": null,
    })
}

fn seeded_nursing() -> Value {
    json!({
        "id": "00000000-0000-4000-8000-000000000002",
        "kind": "nursing",
        "effective_from": "2021-01-01",
        "monthly_amount_fen": 30000,
        "rules": {
            "grades": [1, 2],
            "extension": null,
            "excluded_household_statuses": ["tekun"],
            "exclude_work_injury_nursing": true,
        },
        "withdrawn_at": null,
        "withdraw_reason": null,
    })
}

/// A nursing policy version that extends the subsidy to grades 3–4 of intellectual and mental
/// disabilities from `from`.
fn nursing_with_extension(from: &str) -> Value {
    json!({
        "kind": "nursing",
        "effective_from": from,
        "monthly_amount_fen": 32000,
        "rules": {
            "grades": [1, 2],
            "extension": {"grades": [3, 4], "categories": ["intellectual", "mental"]},
        },
    })
}

async fn policies(app: &TestApp, who: &Session) -> Vec<Value> {
    let answer = app.get_as(who, POLICIES).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["items"].as_array().unwrap().clone()
}

async fn create_policy(app: &TestApp, who: &Session, body: &Value) -> Value {
    let answer = app.post_as(who, POLICIES, body).await;
    assert_eq!(answer.status, 201, "{body}: {}", answer.text());
    answer.json()
}

/// A resident with a certificate and a household status (since 2015).
async fn holder(
    app: &TestApp,
    who: &Session,
    sequence: u16,
    household_status: &str,
    category: &str,
    grade: i32,
) -> String {
    let (resident, number) = register(
        app,
        who,
        "1970-03-03",
        sequence,
        JINPING,
        json!({"household_status": household_status, "household_status_since": "2015-01-01"}),
    )
    .await;
    certify(app, who, &resident, &number, category, grade, "2020-01-01").await;
    resident
}

async fn eligibility_answer(app: &TestApp, who: &Session, resident: &str, query: &str) -> Answer {
    app.get_as(
        who,
        &format!("{}/eligibility{query}", resident_path(resident)),
    )
    .await
}

/// `GET …/eligibility?as_of=`, asserting 200.
async fn eligibility(app: &TestApp, who: &Session, resident: &str, as_of: &str) -> Value {
    let answer = eligibility_answer(app, who, resident, &format!("?as_of={as_of}")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let view = answer.json();
    assert_eq!(view["resident_id"], resident);
    assert_eq!(view["as_of"], as_of);
    view
}

/// One subsidy of an eligibility view.
#[track_caller]
fn subsidy<'a>(view: &'a Value, kind: &str) -> &'a Value {
    view["subsidies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {view}"))
}

/// Whether a subsidy is eligible, and the codes of the reasons given.
#[track_caller]
fn decision(view: &Value, kind: &str) -> (bool, Vec<String>) {
    let s = subsidy(view, kind);
    let reasons = s["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(
                r["label"].as_str().is_some_and(|l| !l.is_empty()),
                "every reason has a label: {r}"
            );
            r["code"].as_str().unwrap().to_owned()
        })
        .collect();
    (s["eligible"].as_bool().unwrap(), reasons)
}

/// `(eligible, reasons)` as the assertions write it.
fn said(eligible: bool, reasons: &[&str]) -> (bool, Vec<String>) {
    (eligible, reasons.iter().map(|r| r.to_string()).collect())
}

fn subsidies_path(resident: &str) -> String {
    format!("{}/subsidies", resident_path(resident))
}

async fn grant(app: &TestApp, who: &Session, resident: &str, body: &Value) -> Answer {
    app.post_as(who, &subsidies_path(resident), body).await
}

async fn act(
    app: &TestApp,
    who: &Session,
    resident: &str,
    grant: &Value,
    action: &str,
    body: &Value,
) -> Answer {
    let path = format!(
        "{}/{}/{action}",
        subsidies_path(resident),
        grant["id"].as_str().unwrap()
    );
    app.post_as(who, &path, body).await
}

async fn act_ok(
    app: &TestApp,
    who: &Session,
    resident: &str,
    grant: &Value,
    action: &str,
    body: &Value,
) -> Value {
    let answer = act(app, who, resident, grant, action, body).await;
    assert_eq!(answer.status, 200, "{action} {body}: {}", answer.text());
    answer.json()
}

/// The grants in the file.
async fn grants_in_file(app: &TestApp, who: &Session, resident: &str) -> Vec<Value> {
    file_of(app, who, resident).await["subsidies"]
        .as_array()
        .expect("the file lists the subsidies")
        .clone()
}

/// This month moved on by `months`, as `YYYY-MM`.
fn month_from_now(months: u32) -> String {
    let first = today().with_day(1).unwrap();
    (first + Months::new(months)).format("%Y-%m").to_string()
}

// ---------------------------------------------------------------------------------------------
// Policies.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_seeded_policies_are_listed_to_admins_and_auditors_and_only_admins_add() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let items = policies(&app, &admin).await;
    assert_eq!(items, vec![seeded_living(), seeded_nursing()]);

    // Auditors read the policies the figures rest on (issue 11), read-only.
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    assert_eq!(policies(&app, &auditor).await, items);
    for (name, role, towns) in [
        ("auditor2", Role::Auditor, &[][..]),
        ("worker", Role::Caseworker, &[JINPING][..]),
    ] {
        let session = app.session(name, role, towns).await;
        if role == Role::Caseworker {
            app.get_as(&session, POLICIES)
                .await
                .problem(403, "forbidden");
        }
        app.post_as(&session, POLICIES, &nursing_with_extension("2025-07-01"))
            .await
            .problem(403, "forbidden");
    }
    app.get(POLICIES).await.problem(401, "unauthorized");
    assert_eq!(policies(&app, &admin).await.len(), 2, "nothing was added");
}

#[actix_web::test]
async fn a_new_policy_version_is_added_once_per_kind_and_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let body = json!({
        "kind": "living",
        "effective_from": "2025-01-01",
        "monthly_amount_fen": 32000,
        "rules": {"household_statuses": ["dibao", "dibian"]},
    });
    let created = create_policy(&app, &admin, &body).await;
    assert_eq!(created["kind"], "living");
    assert_eq!(created["effective_from"], "2025-01-01");
    assert_eq!(created["monthly_amount_fen"], 32000);
    assert_eq!(
        created["rules"],
        json!({"household_statuses": ["dibao", "dibian"], "excluded_household_statuses": ["tekun"]}),
        "tekun stays excluded unless the policy says otherwise"
    );
    let id = created["id"].as_str().expect("an id").to_owned();
    let items = policies(&app, &admin).await;
    assert_eq!(items.len(), 3);
    assert!(items.contains(&created), "{items:?}");

    // The same kind on the same day is a conflict, whatever else differs.
    let again = json!({
        "kind": "living",
        "effective_from": "2025-01-01",
        "monthly_amount_fen": 40000,
        "rules": {},
    });
    app.post_as(&admin, POLICIES, &again)
        .await
        .problem(409, "policy_exists");
    // The other kind on that day is not.
    let nursing = create_policy(&app, &admin, &nursing_with_extension("2025-01-01")).await;
    assert_eq!(
        nursing["rules"]["extension"],
        json!({"grades": [3, 4], "categories": ["intellectual", "mental"]})
    );
    assert_eq!(nursing["rules"]["exclude_work_injury_nursing"], true);
    assert_eq!(policies(&app, &admin).await.len(), 4);

    let created_events = events(&app, "policy_create").await;
    assert_eq!(created_events.len(), 2);
    assert_eq!(
        created_events[0].entity_type.as_deref(),
        Some("subsidy_policy")
    );
    assert_eq!(created_events[0].entity_id.as_deref(), Some(id.as_str()));
    assert_eq!(created_events[0].actor_username.as_deref(), Some("admin"));
}

fn withdraw_path(policy: &str) -> String {
    format!("{POLICIES}/{policy}/withdraw")
}

#[actix_web::test]
async fn a_version_not_yet_in_effect_is_withdrawn_and_the_one_before_stays_in_force() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let dibao = holder(&app, &admin, 103, "dibao", "physical", 4).await;
    let next_month = days_from_today(30);
    let mistaken = create_policy(
        &app,
        &admin,
        &json!({
            "kind": "living",
            "effective_from": next_month,
            "monthly_amount_fen": 3500000,
            "rules": {"household_statuses": ["dibao"]},
        }),
    )
    .await;
    let mistaken_id = mistaken["id"].as_str().unwrap().to_owned();
    let living_then = |view: &Value| subsidy(view, "living")["policy"]["id"].clone();
    let view = eligibility(&app, &admin, &dibao, &next_month).await;
    assert_eq!(living_then(&view), mistaken_id.as_str());

    // Refused, changing nothing: a caseworker, a version in effect, no reason, no such version.
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let reason = json!({"reason": "金额录入错误"});
    app.post_as(&worker, &withdraw_path(&mistaken_id), &reason)
        .await
        .problem(403, "forbidden");
    let in_force = seeded_living()["id"].as_str().unwrap().to_owned();
    app.post_as(&admin, &withdraw_path(&in_force), &reason)
        .await
        .problem(409, "policy_in_effect");
    let answer = app
        .post_as(
            &admin,
            &withdraw_path(&mistaken_id),
            &json!({"reason": " "}),
        )
        .await;
    assert_invalid(&answer, "reason", None);
    app.post_as(
        &admin,
        &withdraw_path(&uuid::Uuid::new_v4().to_string()),
        &reason,
    )
    .await
    .problem(404, "not_found");
    assert!(events(&app, "policy_withdraw").await.is_empty());
    assert_eq!(
        policies(&app, &admin).await,
        vec![seeded_living(), mistaken.clone(), seeded_nursing()]
    );

    let answer = app
        .post_as(&admin, &withdraw_path(&mistaken_id), &reason)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let withdrawn = answer.json();
    assert_eq!(withdrawn["id"], mistaken_id.as_str());
    assert!(withdrawn["withdrawn_at"].is_string(), "{withdrawn}");
    assert_eq!(withdrawn["withdraw_reason"], "金额录入错误");
    app.post_as(&admin, &withdraw_path(&mistaken_id), &reason)
        .await
        .problem(409, "already_withdrawn");

    // Still listed, as withdrawn; the version before it is in force on that day again.
    let items = policies(&app, &admin).await;
    assert_eq!(
        items,
        vec![seeded_living(), withdrawn.clone(), seeded_nursing()]
    );
    let view = eligibility(&app, &admin, &dibao, &next_month).await;
    assert_eq!(subsidy(&view, "living")["policy"], seeded_living());
    assert_eq!(
        decision(&view, "living"),
        said(true, &["household_status_qualifies"])
    );

    // The day is free for the corrected version.
    let corrected = create_policy(
        &app,
        &admin,
        &json!({
            "kind": "living",
            "effective_from": next_month,
            "monthly_amount_fen": 35000,
            "rules": {"household_statuses": ["dibao"]},
        }),
    )
    .await;
    let view = eligibility(&app, &admin, &dibao, &next_month).await;
    assert_eq!(living_then(&view), corrected["id"]);

    let withdrawals = events(&app, "policy_withdraw").await;
    assert_eq!(withdrawals.len(), 1);
    assert_eq!(
        withdrawals[0].entity_type.as_deref(),
        Some("subsidy_policy")
    );
    assert_eq!(
        withdrawals[0].entity_id.as_deref(),
        Some(mistaken_id.as_str())
    );
    assert_eq!(withdrawals[0].actor_username.as_deref(), Some("admin"));
}

#[actix_web::test]
async fn a_bad_policy_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let policy = |kind: &str, amount: i64, rules: Value| json!({"kind": kind, "effective_from": "2026-01-01", "monthly_amount_fen": amount, "rules": rules});
    let cases = [
        (
            policy("nursing", 30000, json!({"grades": [0, 5]})),
            "rules.grades",
        ),
        (
            policy("nursing", 30000, json!({"grades": "1-2"})),
            "rules.grades",
        ),
        (
            policy(
                "nursing",
                30000,
                json!({"extension": {"grades": [3, 9], "categories": ["mental"]}}),
            ),
            "rules.extension.grades",
        ),
        (
            policy(
                "nursing",
                30000,
                json!({"exclude_work_injury_nursing": "no"}),
            ),
            "rules.exclude_work_injury_nursing",
        ),
        (
            policy("living", 30000, json!({"household_statuses": "dibao"})),
            "rules.household_statuses",
        ),
        // A rule of the other subsidy is not a rule of this one.
        (
            policy("living", 30000, json!({"grades": [1]})),
            "rules.grades",
        ),
        (policy("living", 0, json!({})), "monthly_amount_fen"),
        (policy("nursing", -100, json!({})), "monthly_amount_fen"),
        (policy("housing", 30000, json!({})), "kind"),
    ];
    for (body, field) in cases {
        let answer = app.post_as(&admin, POLICIES, &body).await;
        assert_invalid(&answer, field, None);
    }
    // A wrong code inside the rules is named down to where it is.
    for (rules, prefix) in [
        (
            json!({"household_statuses": ["rich"]}),
            "rules.household_statuses",
        ),
        (
            json!({"extension": {"grades": [3], "categories": ["sad"]}}),
            "rules.extension.categories",
        ),
    ] {
        let kind = if prefix.contains("extension") {
            "nursing"
        } else {
            "living"
        };
        let answer = app
            .post_as(&admin, POLICIES, &policy(kind, 30000, rules))
            .await;
        let problem = answer.problem(422, "validation_failed");
        let field = problem["errors"][0]["field"].as_str().unwrap().to_owned();
        assert!(field.starts_with(prefix), "{field} names {prefix}");
    }
    assert_eq!(policies(&app, &admin).await.len(), 2, "nothing was added");
    assert!(events(&app, "policy_create").await.is_empty());
}

#[actix_web::test]
async fn policy_rules_are_an_object() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for rules in [json!([]), json!(null), json!("dibao"), json!([["dibao"]])] {
        let body = json!({"kind": "living", "effective_from": "2026-01-01", "monthly_amount_fen": 30000, "rules": rules});
        let answer = app.post_as(&admin, POLICIES, &body).await;
        assert_invalid(&answer, "rules", None);
    }
    assert_eq!(policies(&app, &admin).await.len(), 2, "nothing was added");
}

// ---------------------------------------------------------------------------------------------
// Eligibility.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn eligibility_explains_each_subsidy_under_the_policy_in_force() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let dibao = holder(&app, &admin, 101, "dibao", "physical", 4).await;
    let view = eligibility(&app, &admin, &dibao, "2024-06-30").await;
    assert_eq!(view["subsidies"].as_array().unwrap().len(), 2);
    assert_eq!(
        decision(&view, "living"),
        said(true, &["household_status_qualifies"])
    );
    assert_eq!(
        decision(&view, "nursing"),
        said(false, &["grade_not_covered"])
    );
    assert_eq!(subsidy(&view, "living")["policy"], seeded_living());
    assert_eq!(subsidy(&view, "nursing")["policy"], seeded_nursing());
    assert_eq!(subsidy(&view, "living")["granted"], false);

    let severe = holder(&app, &admin, 102, "none", "visual", 1).await;
    let view = eligibility(&app, &admin, &severe, "2024-06-30").await;
    assert_eq!(
        decision(&view, "living"),
        said(false, &["household_status_not_qualifying"])
    );
    assert_eq!(decision(&view, "nursing"), said(true, &["grade_qualifies"]));

    // 特困供养 is excluded from both.
    let tekun = holder(&app, &admin, 103, "tekun", "physical", 1).await;
    let view = eligibility(&app, &admin, &tekun, "2024-06-30").await;
    let (living, reasons) = decision(&view, "living");
    assert!(!living);
    assert!(
        reasons.contains(&"excluded_household_status".to_owned()),
        "{reasons:?}"
    );
    assert_eq!(
        decision(&view, "nursing"),
        said(false, &["grade_qualifies", "excluded_household_status"])
    );

    // Without a certificate valid that day, neither.
    let (uncertified, _) = register(
        &app,
        &admin,
        "1970-03-03",
        110,
        JINPING,
        json!({"household_status": "dibao"}),
    )
    .await;
    let view = eligibility(&app, &admin, &uncertified, "2024-06-30").await;
    for kind in ["living", "nursing"] {
        assert_eq!(
            decision(&view, kind),
            said(false, &["no_valid_certificate"])
        );
    }
    // Before any policy took effect, no policy.
    let view = eligibility(&app, &admin, &dibao, "2020-12-31").await;
    for kind in ["living", "nursing"] {
        assert_eq!(decision(&view, kind), said(false, &["no_policy"]));
        assert_eq!(subsidy(&view, kind)["policy"], Value::Null);
    }
    // Without a date, today.
    let answer = eligibility_answer(&app, &admin, &dibao, "").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["as_of"], today().to_string());

    // A caseworker of the town and an auditor may ask; the question is audited as a read.
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    for who in [&worker, &auditor] {
        let view = eligibility(&app, who, &dibao, "2024-06-30").await;
        assert!(decision(&view, "living").0);
    }
    assert!(events(&app, "resident_read")
        .await
        .iter()
        .any(|e| e.actor_username.as_deref() == Some("auditor")
            && e.resident_id.as_deref() == Some(dibao.as_str())));
}

#[actix_web::test]
async fn a_bad_date_is_refused_naming_the_parameter() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 104, "dibao", "physical", 2).await;
    for query in ["?as_of=2024-02-30", "?as_of=30/06/2024", "?as_of="] {
        let answer = eligibility_answer(&app, &admin, &resident, query).await;
        assert_invalid(&answer, "as_of", None);
    }
    let answer = eligibility_answer(&app, &admin, &resident, "?on=2024-01-01").await;
    assert_invalid(&answer, "on", None);
    eligibility_answer(
        &app,
        &admin,
        &uuid::Uuid::new_v4().to_string(),
        "?as_of=2024-01-01",
    )
    .await
    .problem(404, "not_found");
}

#[actix_web::test]
async fn the_extension_to_grade_three_mental_counts_from_the_day_it_takes_effect() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mental = holder(&app, &admin, 105, "none", "mental", 3).await;
    let physical = holder(&app, &admin, 106, "none", "physical", 3).await;
    let before = eligibility(&app, &admin, &mental, "2025-07-01").await;
    assert_eq!(
        decision(&before, "nursing"),
        said(false, &["grade_not_covered"]),
        "no extension while no policy has it"
    );

    let extended = create_policy(&app, &admin, &nursing_with_extension("2025-07-01")).await;

    let eve = eligibility(&app, &admin, &mental, "2025-06-30").await;
    assert_eq!(
        decision(&eve, "nursing"),
        said(false, &["grade_not_covered"])
    );
    assert_eq!(
        subsidy(&eve, "nursing")["policy"]["effective_from"],
        "2021-01-01"
    );

    let day = eligibility(&app, &admin, &mental, "2025-07-01").await;
    assert_eq!(
        decision(&day, "nursing"),
        said(true, &["extension_applies"])
    );
    assert_eq!(subsidy(&day, "nursing")["policy"], extended);
    let later = eligibility(&app, &admin, &mental, "2026-01-01").await;
    assert!(decision(&later, "nursing").0);

    // Only the categories the extension names.
    let other = eligibility(&app, &admin, &physical, "2025-07-01").await;
    assert_eq!(
        decision(&other, "nursing"),
        said(false, &["grade_not_covered"])
    );

    // A later version that drops the extension ends it on its day.
    create_policy(
        &app,
        &admin,
        &json!({"kind": "nursing", "effective_from": "2026-01-01", "monthly_amount_fen": 32000, "rules": {}}),
    )
    .await;
    let eve = eligibility(&app, &admin, &mental, "2025-12-31").await;
    assert!(decision(&eve, "nursing").0, "eligible the day before");
    let after = eligibility(&app, &admin, &mental, "2026-01-01").await;
    assert_eq!(
        decision(&after, "nursing"),
        said(false, &["grade_not_covered"])
    );
}

#[actix_web::test]
async fn a_living_policy_that_adds_a_household_status_counts_from_its_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let dibian = holder(&app, &admin, 107, "dibian", "hearing", 3).await;
    create_policy(
        &app,
        &admin,
        &json!({
            "kind": "living",
            "effective_from": "2025-01-01",
            "monthly_amount_fen": 32000,
            "rules": {"household_statuses": ["dibao", "dibian"]},
        }),
    )
    .await;
    let eve = eligibility(&app, &admin, &dibian, "2024-12-31").await;
    assert_eq!(
        decision(&eve, "living"),
        said(false, &["household_status_not_qualifying"])
    );
    let day = eligibility(&app, &admin, &dibian, "2025-01-01").await;
    assert_eq!(
        decision(&day, "living"),
        said(true, &["household_status_qualifies"])
    );
    assert_eq!(
        subsidy(&day, "living")["policy"]["monthly_amount_fen"],
        32000
    );

    // A grant from that month takes the new amount; one from before it, the old.
    let answer = grant(
        &app,
        &admin,
        &dibian,
        &json!({"kind": "living", "start_month": "2024-12"}),
    )
    .await;
    assert_invalid(&answer, "override_reason", Some("required_when_ineligible"));
    let granted = subsidy_granted(
        &app,
        &admin,
        &dibian,
        &json!({"kind": "living", "start_month": "2025-01"}),
    )
    .await;
    assert_eq!(granted["monthly_amount_fen"], 32000);
    assert_eq!(granted["eligible_at_start"], true);
}

#[actix_web::test]
async fn a_work_injury_nursing_allowance_excludes_from_nursing_while_it_runs() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 108, "dibao", "visual", 1).await;
    let answer = app
        .post_as(
            &admin,
            &format!("{}/other-benefits", resident_path(&resident)),
            &json!({"kind": "work_injury_nursing", "start_on": "2024-01-01", "end_on": "2024-12-31"}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());

    for (as_of, eligible) in [
        ("2023-12-31", true),
        ("2024-01-01", false),
        ("2024-12-31", false),
        ("2025-01-01", true),
    ] {
        let view = eligibility(&app, &admin, &resident, as_of).await;
        let expected = if eligible {
            said(true, &["grade_qualifies"])
        } else {
            said(false, &["grade_qualifies", "work_injury_nursing_allowance"])
        };
        assert_eq!(decision(&view, "nursing"), expected, "{as_of}");
        assert!(
            decision(&view, "living").0,
            "the living subsidy is not affected"
        );
    }

    // A grant while the allowance runs needs an override.
    let answer = grant(
        &app,
        &admin,
        &resident,
        &json!({"kind": "nursing", "start_month": "2024-03"}),
    )
    .await;
    assert_invalid(&answer, "override_reason", Some("required_when_ineligible"));
    let granted = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "nursing", "start_month": "2025-01"}),
    )
    .await;
    assert_eq!(granted["eligible_at_start"], true);
}

#[actix_web::test]
async fn a_deceased_resident_is_eligible_for_nothing_from_the_day_of_death() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 109, "dibao", "physical", 1).await;
    change_resident(
        &app,
        &admin,
        &resident,
        json!({"deceased_on": "2025-03-01"}),
    )
    .await;

    let eve = eligibility(&app, &admin, &resident, "2025-02-28").await;
    assert!(decision(&eve, "living").0);
    assert!(decision(&eve, "nursing").0);
    let day = eligibility(&app, &admin, &resident, "2025-03-01").await;
    for kind in ["living", "nursing"] {
        assert_eq!(decision(&day, kind), said(false, &["deceased"]), "{kind}");
    }

    // No grant may start after the death.
    let answer = grant(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2025-04", "override_reason": "补录"}),
    )
    .await;
    assert_invalid(&answer, "start_month", Some("after_departure"));
}

// ---------------------------------------------------------------------------------------------
// Grants.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_grant_takes_the_policy_amount_and_there_is_one_per_subsidy() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let resident = holder(&app, &admin, 111, "dibao", "physical", 2).await;

    let living = subsidy_granted(
        &app,
        &worker,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01"}),
    )
    .await;
    assert_eq!(living["kind"], "living");
    assert_eq!(living["start_month"], "2024-01");
    assert_eq!(living["monthly_amount_fen"], 30000, "the policy's amount");
    assert_eq!(living["status"], "active");
    assert_eq!(living["eligible_at_start"], true);
    assert_eq!(living["override_reason"], Value::Null);
    assert_eq!(living["terminated_on"], Value::Null);
    assert_eq!(living["suspensions"], json!([]));
    assert_eq!(living["decided_by"], "worker");

    // Issue 9: another amount than the policy's is an override, with a reason.
    let nursing = subsidy_granted(
        &app,
        &worker,
        &resident,
        &json!({"kind": "nursing", "start_month": "2024-03", "monthly_amount_fen": 12345, "override_reason": "按实际护理天数折算"}),
    )
    .await;
    assert_eq!(
        nursing["monthly_amount_fen"], 12345,
        "an amount given is kept"
    );

    let in_file = grants_in_file(&app, &worker, &resident).await;
    assert_eq!(in_file.len(), 2);
    assert!(
        in_file.contains(&living) && in_file.contains(&nursing),
        "{in_file:?}"
    );

    // A second grant of a subsidy that is not terminated is a conflict.
    for body in [
        json!({"kind": "living", "start_month": "2024-06"}),
        json!({"kind": "nursing", "start_month": "2024-03", "override_reason": "再次申请"}),
    ] {
        grant(&app, &worker, &resident, &body)
            .await
            .problem(409, "grant_exists");
    }
    assert_eq!(grants_in_file(&app, &worker, &resident).await, in_file);

    let granted = events(&app, "subsidy_grant").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(events(&app, "subsidy_grant_override").await.len(), 1);
    assert_eq!(granted[0].entity_type.as_deref(), Some("subsidy_grant"));
    assert_eq!(
        granted[0].entity_id,
        living["id"].as_str().map(str::to_owned)
    );
    assert_eq!(granted[0].resident_id.as_deref(), Some(resident.as_str()));
    assert_eq!(granted[0].actor_username.as_deref(), Some("worker"));

    // The eligibility view says whether a grant is active that day.
    let view = eligibility(&app, &worker, &resident, "2024-02-15").await;
    assert_eq!(subsidy(&view, "living")["granted"], true);
    assert_eq!(subsidy(&view, "nursing")["granted"], false, "from March");
    let view = eligibility(&app, &worker, &resident, "2023-12-31").await;
    assert_eq!(subsidy(&view, "living")["granted"], false, "from January");
}

#[actix_web::test]
async fn a_bad_grant_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 112, "dibao", "physical", 2).await;
    let cases = [
        (
            json!({"kind": "living", "start_month": "2024-1"}),
            "start_month",
        ),
        (
            json!({"kind": "living", "start_month": "2024-13"}),
            "start_month",
        ),
        (
            json!({"kind": "living", "start_month": "202401"}),
            "start_month",
        ),
        (
            json!({"kind": "living", "start_month": "2024-01-15"}),
            "start_month",
        ),
        (
            json!({"kind": "living", "start_month": "January"}),
            "start_month",
        ),
        (
            json!({"kind": "living", "start_month": "1969-12"}),
            "start_month",
        ),
        (
            json!({"kind": "living", "start_month": month_from_now(2)}),
            "start_month",
        ),
        (
            json!({"kind": "living", "start_month": "2024-01", "monthly_amount_fen": 0}),
            "monthly_amount_fen",
        ),
        (
            json!({"kind": "living", "start_month": "2024-01", "monthly_amount_fen": -30000}),
            "monthly_amount_fen",
        ),
        (json!({"kind": "housing", "start_month": "2024-01"}), "kind"),
        (json!({"start_month": "2024-01"}), "kind"),
        (json!({"kind": "living"}), "start_month"),
        (
            json!({"kind": "living", "start_month": "2024-01", "end_month": "2024-12"}),
            "end_month",
        ),
    ];
    for (body, field) in cases {
        let answer = grant(&app, &admin, &resident, &body).await;
        assert_invalid(&answer, field, None);
    }
    assert!(grants_in_file(&app, &admin, &resident).await.is_empty());
    assert!(events(&app, "subsidy_grant").await.is_empty());

    // Next month is the latest start.
    let next = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": month_from_now(1), "override_reason": "提前办理"}),
    )
    .await;
    assert_eq!(next["status"], "not_started");
}

#[actix_web::test]
async fn granting_to_someone_not_eligible_needs_a_reason_and_is_audited_as_an_override() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 113, "none", "physical", 4).await;

    let answer = grant(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01"}),
    )
    .await;
    assert_invalid(&answer, "override_reason", Some("required_when_ineligible"));
    let answer = grant(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01", "override_reason": "   "}),
    )
    .await;
    assert_invalid(&answer, "override_reason", None);
    assert!(grants_in_file(&app, &admin, &resident).await.is_empty());

    let granted = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01", "override_reason": "低保审批中，区残联特批"}),
    )
    .await;
    assert_eq!(granted["eligible_at_start"], false);
    assert_eq!(granted["override_reason"], "低保审批中，区残联特批");
    assert_eq!(granted["status"], "active");
    assert_eq!(
        grants_in_file(&app, &admin, &resident).await,
        vec![granted.clone()]
    );

    let overrides = events(&app, "subsidy_grant_override").await;
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0].entity_type.as_deref(), Some("subsidy_grant"));
    assert_eq!(
        overrides[0].entity_id,
        granted["id"].as_str().map(str::to_owned)
    );
    assert_eq!(overrides[0].resident_id.as_deref(), Some(resident.as_str()));
    assert!(
        overrides[0]
            .changes
            .as_deref()
            .is_some_and(|c| c.contains("household_status_not_qualifying")),
        "the override records why the resident was not eligible: {:?}",
        overrides[0].changes
    );
    assert!(events(&app, "subsidy_grant").await.is_empty());

    // A reason given for an eligible resident is no override.
    let eligible = holder(&app, &admin, 114, "dibao", "physical", 4).await;
    let granted = subsidy_granted(
        &app,
        &admin,
        &eligible,
        &json!({"kind": "living", "start_month": "2024-01", "override_reason": "以防万一"}),
    )
    .await;
    assert_eq!(granted["eligible_at_start"], true);
    assert_eq!(granted["override_reason"], Value::Null);
    assert_eq!(events(&app, "subsidy_grant").await.len(), 1);
    assert_eq!(events(&app, "subsidy_grant_override").await.len(), 1);
}

/// A grant as the file shows it.
async fn status_in_file(app: &TestApp, who: &Session, resident: &str, id: &Value) -> Value {
    let grants = grants_in_file(app, who, resident).await;
    grants
        .into_iter()
        .find(|g| &g["id"] == id)
        .expect("the grant is in the file")
}

#[actix_web::test]
async fn a_grant_is_suspended_resumed_and_terminated_with_dates_and_reasons() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 115, "dibao", "physical", 2).await;
    let living = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01"}),
    )
    .await;
    let id = living["id"].clone();

    // Not before the grant starts, not in the future, and with a reason.
    for (body, field) in [
        (
            json!({"suspended_on": "2023-12-31", "reason": "核查"}),
            "suspended_on",
        ),
        (
            json!({"suspended_on": days_from_today(1), "reason": "核查"}),
            "suspended_on",
        ),
        (
            json!({"suspended_on": "2024-03-01", "reason": ""}),
            "reason",
        ),
        (json!({"suspended_on": "2024-03-01"}), "reason"),
    ] {
        let answer = act(&app, &admin, &resident, &living, "suspend", &body).await;
        assert_invalid(&answer, field, None);
    }
    // Only a suspended grant resumes.
    act(
        &app,
        &admin,
        &resident,
        &living,
        "resume",
        &json!({"resumed_on": "2024-04-01"}),
    )
    .await
    .problem(409, "illegal_transition");

    let suspended = act_ok(
        &app,
        &admin,
        &resident,
        &living,
        "suspend",
        &json!({"suspended_on": "2024-03-01", "reason": "外出务工，待核查"}),
    )
    .await;
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(
        suspended["suspensions"],
        json!([{"suspended_on": "2024-03-01", "resumed_on": null, "reason": "外出务工，待核查"}])
    );
    assert_eq!(
        status_in_file(&app, &admin, &resident, &id).await["status"],
        "suspended"
    );
    act(
        &app,
        &admin,
        &resident,
        &living,
        "suspend",
        &json!({"suspended_on": "2024-04-01", "reason": "again"}),
    )
    .await
    .problem(409, "illegal_transition");

    // A resumption is after the suspension and not in the future.
    for resumed_on in ["2024-03-01".to_owned(), days_from_today(1)] {
        let answer = act(
            &app,
            &admin,
            &resident,
            &living,
            "resume",
            &json!({"resumed_on": resumed_on}),
        )
        .await;
        assert_invalid(&answer, "resumed_on", None);
    }
    let resumed = act_ok(
        &app,
        &admin,
        &resident,
        &living,
        "resume",
        &json!({"resumed_on": "2024-05-01"}),
    )
    .await;
    assert_eq!(resumed["status"], "active");
    assert_eq!(resumed["suspensions"][0]["resumed_on"], "2024-05-01");
    assert_eq!(
        status_in_file(&app, &admin, &resident, &id).await["status"],
        "active"
    );
    act(
        &app,
        &admin,
        &resident,
        &living,
        "resume",
        &json!({"resumed_on": "2024-06-01"}),
    )
    .await
    .problem(409, "illegal_transition");

    // Paid in February, not while suspended (the day of resumption pays again).
    for (day, granted) in [
        ("2024-02-29", true),
        ("2024-03-01", false),
        ("2024-04-30", false),
        ("2024-05-01", true),
    ] {
        let view = eligibility(&app, &admin, &resident, day).await;
        assert_eq!(subsidy(&view, "living")["granted"], granted, "{day}");
    }

    // A new suspension is not before the last resumption.
    let answer = act(
        &app,
        &admin,
        &resident,
        &living,
        "suspend",
        &json!({"suspended_on": "2024-04-15", "reason": "核查"}),
    )
    .await;
    assert_invalid(&answer, "suspended_on", None);

    // Termination: not before the start, not in the future, with a reason.
    for (body, field) in [
        (
            json!({"terminated_on": "2023-12-01", "reason": "退出低保"}),
            "terminated_on",
        ),
        (
            json!({"terminated_on": days_from_today(1), "reason": "退出低保"}),
            "terminated_on",
        ),
        (
            json!({"terminated_on": "2024-09-01", "reason": " "}),
            "reason",
        ),
    ] {
        let answer = act(&app, &admin, &resident, &living, "terminate", &body).await;
        assert_invalid(&answer, field, None);
    }
    let terminated = act_ok(
        &app,
        &admin,
        &resident,
        &living,
        "terminate",
        &json!({"terminated_on": "2024-09-01", "reason": "退出低保"}),
    )
    .await;
    assert_eq!(terminated["status"], "terminated");
    assert_eq!(terminated["terminated_on"], "2024-09-01");
    assert_eq!(terminated["terminate_reason"], "退出低保");
    assert_eq!(
        status_in_file(&app, &admin, &resident, &id).await,
        terminated
    );

    // Nothing follows a termination.
    for (action, body) in [
        (
            "suspend",
            json!({"suspended_on": today().to_string(), "reason": "核查"}),
        ),
        ("resume", json!({"resumed_on": today().to_string()})),
        (
            "terminate",
            json!({"terminated_on": today().to_string(), "reason": "再次终止"}),
        ),
    ] {
        act(&app, &admin, &resident, &living, action, &body)
            .await
            .problem(409, "illegal_transition");
    }
    assert_eq!(
        status_in_file(&app, &admin, &resident, &id).await,
        terminated
    );

    for action in ["subsidy_suspend", "subsidy_resume", "subsidy_terminate"] {
        let found = events(&app, action).await;
        assert_eq!(found.len(), 1, "{action}");
        assert_eq!(found[0].entity_type.as_deref(), Some("subsidy_grant"));
        assert_eq!(
            found[0].entity_id.as_ref(),
            id.as_str().map(str::to_owned).as_ref()
        );
        assert_eq!(found[0].resident_id.as_deref(), Some(resident.as_str()));
    }

    let view = eligibility(&app, &admin, &resident, "2024-08-31").await;
    assert_eq!(
        subsidy(&view, "living")["granted"],
        true,
        "paid up to the termination"
    );
    let view = eligibility(&app, &admin, &resident, "2024-09-01").await;
    assert_eq!(
        subsidy(&view, "living")["granted"],
        false,
        "not from its day"
    );

    // Once terminated, the subsidy may be granted again.
    let again = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-09"}),
    )
    .await;
    assert_eq!(again["status"], "active");
    let statuses: Vec<Value> = grants_in_file(&app, &admin, &resident)
        .await
        .iter()
        .map(|g| g["status"].clone())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&json!("active")) && statuses.contains(&json!("terminated")));
}

#[actix_web::test]
async fn a_new_grant_does_not_pay_the_months_a_terminated_one_paid() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 118, "dibao", "physical", 2).await;
    let first = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01"}),
    )
    .await;
    act_ok(
        &app,
        &admin,
        &resident,
        &first,
        "terminate",
        &json!({"terminated_on": "2024-08-01", "reason": "迁出后又迁回"}),
    )
    .await;

    // Two grants of one subsidy would both be active from March to July.
    let answer = grant(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-03"}),
    )
    .await;
    assert!(
        answer.status == 409 || answer.status == 422,
        "a grant over months already paid is refused; got {}: {}",
        answer.status,
        answer.text()
    );
    assert_eq!(grants_in_file(&app, &admin, &resident).await.len(), 1);
    for day in ["2024-03-15", "2024-07-31"] {
        let view = eligibility(&app, &admin, &resident, day).await;
        assert_eq!(subsidy(&view, "living")["granted"], true, "{day}");
    }

    // From the day the termination takes effect, a new grant may run.
    let second = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-08"}),
    )
    .await;
    assert_eq!(second["status"], "active");
}

#[actix_web::test]
async fn an_unknown_grant_is_not_found() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let resident = holder(&app, &admin, 116, "dibao", "physical", 2).await;
    let other = holder(&app, &admin, 117, "dibao", "physical", 2).await;
    let living = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01"}),
    )
    .await;
    let body = json!({"suspended_on": "2024-03-01", "reason": "核查"});
    act(&app, &admin, &other, &living, "suspend", &body)
        .await
        .problem(404, "not_found");
    let unknown = json!({"id": uuid::Uuid::new_v4().to_string()});
    act(&app, &admin, &resident, &unknown, "suspend", &body)
        .await
        .problem(404, "not_found");
    grant(
        &app,
        &admin,
        &uuid::Uuid::new_v4().to_string(),
        &json!({"kind": "living", "start_month": "2024-01"}),
    )
    .await
    .problem(404, "not_found");
    assert_eq!(
        grants_in_file(&app, &admin, &resident).await[0]["status"],
        "active"
    );
}

#[actix_web::test]
async fn a_caseworker_of_another_town_neither_sees_nor_grants_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (outsider, resident) = out_of_town(&app, &admin).await;
    let living = subsidy_granted(
        &app,
        &admin,
        &resident,
        &json!({"kind": "living", "start_month": "2024-01", "override_reason": "测试"}),
    )
    .await;

    eligibility_answer(&app, &outsider, &resident, "?as_of=2024-06-30")
        .await
        .problem(404, "not_found");
    grant(
        &app,
        &outsider,
        &resident,
        &json!({"kind": "nursing", "start_month": "2024-01", "override_reason": "测试"}),
    )
    .await
    .problem(404, "not_found");
    for (action, body) in [
        (
            "suspend",
            json!({"suspended_on": "2024-03-01", "reason": "核查"}),
        ),
        (
            "terminate",
            json!({"terminated_on": "2024-03-01", "reason": "核查"}),
        ),
    ] {
        act(&app, &outsider, &resident, &living, action, &body)
            .await
            .problem(404, "not_found");
    }
    assert_denied(&app, &outsider, &resident, 4).await;
    assert_eq!(grants_in_file(&app, &admin, &resident).await, vec![living]);

    // Its own town's caseworker may.
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let view = eligibility(&app, &xikou, &resident, "2024-06-30").await;
    assert_eq!(subsidy(&view, "living")["granted"], true);
}
