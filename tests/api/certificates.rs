//! Disability certificates (残疾人证): issue, renew, reissue (`B1`…`B9`), re-assess and cancel;
//! the number rules (the holder's ID number, then the category and grade digits); at most one
//! active certificate; the history kept in the file; the audit trail; scope; and a recorded
//! death or move-out cancelling the active certificate the same day.

use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_invalid, certificate_rows, file_of, file_with_etag, issue_certificate,
    issued_certificate, masked, patch_current, register_named, register_with, resident_path,
    spawn_app, spawn_app_with, today, Answer, TestApp,
};
use crate::session::{id_number, Session, JINPING, XIKOU};

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

async fn act(
    app: &TestApp,
    who: &Session,
    resident: &str,
    certificate: &str,
    action: &str,
    body: Value,
) -> Answer {
    app.post_as(
        who,
        &format!("/api/v1/residents/{resident}/certificates/{certificate}/{action}"),
        &body,
    )
    .await
}

async fn act_ok(
    app: &TestApp,
    who: &Session,
    resident: &str,
    certificate: &str,
    action: &str,
    body: Value,
) -> Value {
    let answer = act(app, who, resident, certificate, action, body).await;
    assert_eq!(answer.status, 200, "{action}: {}", answer.text());
    answer.json()
}

fn physical_2(id: &str, issued_on: &str) -> Value {
    json!({
        "number": format!("{id}42"),
        "category": "physical",
        "grade": 2,
        "issued_on": issued_on,
    })
}

/// The certificates of a file, by id.
fn certificate_in<'a>(file: &'a Value, id: &str) -> &'a Value {
    file["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("certificate {id} is not in the file: {file}"))
}

/// Born 1970-05-06: the certificate tests' usual holder.
fn holder(sequence: u16) -> String {
    id_number("330283", "1970-05-06", sequence)
}

// ---------------------------------------------------------------------------------------------
// Issue.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn issuing_shows_a_masked_number_ten_years_validity_and_changes_the_file() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(11);
    let resident = register_named(&app, &admin, &id, "周建国", JINPING).await;
    let (before, etag_before) = file_with_etag(&app, &admin, &resident).await;
    assert_eq!(before["certificates"], json!([]));

    let answer = issue_certificate(&app, &admin, &resident, &physical_2(&id, "2020-03-01")).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let cert = answer.json();
    assert!(cert["id"].is_string());
    assert_eq!(cert["number"], masked(&format!("{id}42")));
    assert!(
        !answer.text().contains(&id[..14]),
        "the birth date of the holder shows: {}",
        answer.text()
    );
    assert_eq!(cert["category"], "physical");
    assert_eq!(cert["components"], json!([]));
    assert_eq!(cert["grade"], 2);
    assert_eq!(cert["issued_on"], "2020-03-01");
    assert_eq!(cert["valid_until"], "2030-03-01", "issued + 10 years");
    assert_eq!(cert["status"], "active");
    assert_eq!(cert["cancelled_on"], Value::Null);
    assert_eq!(cert["cancel_reason"], Value::Null);

    let (after, etag_after) = file_with_etag(&app, &admin, &resident).await;
    assert_ne!(etag_before, etag_after, "issuing changes the file's ETag");
    assert_eq!(after["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(after["certificates"][0], cert);

    // A lower-case `x` and an explicit validity end are accepted.
    let x_holder = (0..200)
        .map(|s| id_number("330283", "1981-02-03", s))
        .find(|n| n.ends_with('X'))
        .expect("some sequence gives the check character X");
    let other = register_named(&app, &admin, &x_holder, "王小红", JINPING).await;
    let cert = issued_certificate(
        &app,
        &admin,
        &other,
        &json!({
            "number": format!("{}11", x_holder.to_lowercase()),
            "category": "visual",
            "grade": 1,
            "issued_on": "2019-07-15",
            "valid_until": "2024-07-15",
        }),
    )
    .await;
    assert_eq!(cert["number"], masked(&format!("{x_holder}11")));
    assert_eq!(cert["valid_until"], "2024-07-15");
}

#[actix_web::test]
async fn the_number_must_be_the_holders_with_matching_digits() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(21);
    let someone_else = holder(23);
    let resident = register_named(&app, &admin, &id, "陈秀英", JINPING).await;
    let (_, etag) = file_with_etag(&app, &admin, &resident).await;

    let cases = [
        // Another person's (valid) ID number.
        (
            physical_2(&someone_else, "2020-03-01"),
            "number",
            "holder_mismatch",
        ),
        // Category digit 1 (visual) for a physical disability.
        (
            json!({"number": format!("{id}12"), "category": "physical", "grade": 2, "issued_on": "2020-03-01"}),
            "number",
            "category_mismatch",
        ),
        // Grade digit 3 for grade 2.
        (
            json!({"number": format!("{id}43"), "category": "physical", "grade": 2, "issued_on": "2020-03-01"}),
            "number",
            "grade_mismatch",
        ),
        // Grade out of range, in the body.
        (
            json!({"number": format!("{id}42"), "category": "physical", "grade": 5, "issued_on": "2020-03-01"}),
            "grade",
            "out_of_range",
        ),
        (
            json!({"number": format!("{id}42"), "category": "physical", "grade": 0, "issued_on": "2020-03-01"}),
            "grade",
            "out_of_range",
        ),
    ];
    for (body, field, code) in cases {
        let answer = issue_certificate(&app, &admin, &resident, &body).await;
        assert_invalid(&answer, field, Some(code));
    }
    for bad in [
        "123".to_owned(),
        id.clone(),
        format!("{id}4"),
        format!("{id}8"),
        format!("{id}82"),
        format!("{id}45"),
        format!("{id}40"),
        format!("{id}42B0"),
        format!("{id}42C1"),
        format!("{id}42B"),
        format!("{id}42B10"),
        format!("{}Y42", &id[..17]),
        format!("{id}四二"),
    ] {
        let answer = issue_certificate(
            &app,
            &admin,
            &resident,
            &json!({"number": bad, "category": "physical", "grade": 2, "issued_on": "2020-03-01"}),
        )
        .await;
        assert_invalid(&answer, "number", Some("invalid_format"));
    }

    assert_eq!(certificate_rows(&app).await, 0, "nothing was stored");
    let (file, etag_after) = file_with_etag(&app, &admin, &resident).await;
    assert_eq!(file["certificates"], json!([]));
    assert_eq!(
        etag, etag_after,
        "a refused certificate leaves the file as it was"
    );
}

#[actix_web::test]
async fn components_belong_to_a_multiple_disability_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(31);
    let resident = register_named(&app, &admin, &id, "李建军", JINPING).await;
    let multiple = |components: Value| {
        json!({
            "number": format!("{id}71"),
            "category": "multiple",
            "components": components,
            "grade": 1,
            "issued_on": "2021-06-01",
        })
    };
    for components in [
        json!([]),
        json!(["visual"]),
        json!(["visual", "visual"]),
        json!(["visual", "multiple"]),
    ] {
        let answer =
            issue_certificate(&app, &admin, &resident, &multiple(components.clone())).await;
        assert_invalid(&answer, "components", Some("invalid"));
    }
    // A missing `components` is the empty list: refused for a multiple disability.
    let answer = issue_certificate(
        &app,
        &admin,
        &resident,
        &json!({"number": format!("{id}71"), "category": "multiple", "grade": 1, "issued_on": "2021-06-01"}),
    )
    .await;
    assert_invalid(&answer, "components", Some("invalid"));
    // A single category has no components.
    let mut single = physical_2(&id, "2021-06-01");
    single["components"] = json!(["visual"]);
    let answer = issue_certificate(&app, &admin, &resident, &single).await;
    assert_invalid(&answer, "components", Some("not_allowed"));
    assert_eq!(certificate_rows(&app).await, 0);

    let cert = issued_certificate(
        &app,
        &admin,
        &resident,
        &multiple(json!(["visual", "hearing"])),
    )
    .await;
    assert_eq!(cert["category"], "multiple");
    let mut parts: Vec<&str> = cert["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    parts.sort_unstable();
    assert_eq!(parts, ["hearing", "visual"]);
    assert_eq!(cert["number"], masked(&format!("{id}71")));
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["certificates"][0]["components"], cert["components"]);
}

#[actix_web::test]
async fn issue_and_validity_dates_are_checked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(41);
    let resident = register_named(&app, &admin, &id, "张美玲", JINPING).await;
    let tomorrow = today().succ_opt().unwrap().to_string();

    let answer = issue_certificate(&app, &admin, &resident, &physical_2(&id, &tomorrow)).await;
    assert_invalid(&answer, "issued_on", Some("in_future"));
    let answer = issue_certificate(&app, &admin, &resident, &physical_2(&id, "1970-05-05")).await;
    assert_invalid(&answer, "issued_on", Some("before_birth"));
    for valid_until in ["2020-03-01", "2019-03-01"] {
        let mut body = physical_2(&id, "2020-03-01");
        body["valid_until"] = json!(valid_until);
        let answer = issue_certificate(&app, &admin, &resident, &body).await;
        assert_invalid(&answer, "valid_until", Some("not_after_issue"));
    }
    // Not a date at all.
    let answer = issue_certificate(&app, &admin, &resident, &physical_2(&id, "2020-02-30")).await;
    assert_invalid(&answer, "issued_on", Some("invalid_type"));
    assert_eq!(certificate_rows(&app).await, 0);

    // The day of birth and today are both allowed.
    let cert = issued_certificate(&app, &admin, &resident, &physical_2(&id, "1970-05-06")).await;
    assert_eq!(cert["valid_until"], "1980-05-06");
    let cancelled = act_ok(
        &app,
        &admin,
        &resident,
        cert["id"].as_str().unwrap(),
        "cancel",
        json!({"reason": "other", "cancelled_on": "1975-01-01"}),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    let cert = issued_certificate(
        &app,
        &admin,
        &resident,
        &physical_2(&id, &today().to_string()),
    )
    .await;
    assert_eq!(cert["issued_on"], today().to_string());
}

#[actix_web::test]
async fn a_resident_holds_at_most_one_active_certificate() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(51);
    let resident = register_named(&app, &admin, &id, "王志强", JINPING).await;
    issued_certificate(&app, &admin, &resident, &physical_2(&id, "2020-03-01")).await;
    let (_, etag) = file_with_etag(&app, &admin, &resident).await;

    let answer = issue_certificate(
        &app,
        &admin,
        &resident,
        &json!({"number": format!("{id}61"), "category": "mental", "grade": 1, "issued_on": "2021-03-01"}),
    )
    .await;
    answer.problem(409, "active_certificate_exists");
    assert_eq!(certificate_rows(&app).await, 1);
    let (file, etag_after) = file_with_etag(&app, &admin, &resident).await;
    assert_eq!(file["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(etag, etag_after);
}

#[actix_web::test]
async fn a_deceased_or_moved_out_resident_gets_no_certificate() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let dead = holder(61);
    let resident = register_with(
        &app,
        &admin,
        &dead,
        "赵德福",
        JINPING,
        json!({"deceased_on": "2023-01-01"}),
    )
    .await;
    let answer = issue_certificate(&app, &admin, &resident, &physical_2(&dead, "2020-03-01")).await;
    answer.problem(409, "resident_not_active");

    let gone = holder(63);
    let resident = register_with(
        &app,
        &admin,
        &gone,
        "钱佩芬",
        JINPING,
        json!({"moved_out_on": "2022-01-01"}),
    )
    .await;
    let answer = issue_certificate(&app, &admin, &resident, &physical_2(&gone, "2020-03-01")).await;
    answer.problem(409, "resident_not_active");
    assert_eq!(certificate_rows(&app).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Actions: renew, reissue, re-assess, cancel.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn renewing_cancels_the_old_certificate_and_keeps_the_number() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(71);
    let resident = register_named(&app, &admin, &id, "孙丽华", JINPING).await;
    let old = issued_certificate(&app, &admin, &resident, &physical_2(&id, "2015-01-10")).await;
    let old_id = old["id"].as_str().unwrap();
    let (_, etag) = file_with_etag(&app, &admin, &resident).await;

    // A renewal cannot predate the certificate it replaces.
    let answer = act(
        &app,
        &admin,
        &resident,
        old_id,
        "renew",
        json!({"issued_on": "2014-12-31"}),
    )
    .await;
    assert_invalid(&answer, "issued_on", Some("before_current"));

    let new = act_ok(
        &app,
        &admin,
        &resident,
        old_id,
        "renew",
        json!({"issued_on": "2025-01-10"}),
    )
    .await;
    assert_ne!(new["id"], old["id"]);
    assert_eq!(new["number"], old["number"], "a renewal keeps the number");
    assert_eq!(new["status"], "active");
    assert_eq!(new["category"], "physical");
    assert_eq!(new["grade"], 2);
    assert_eq!(new["issued_on"], "2025-01-10");
    assert_eq!(new["valid_until"], "2035-01-10");

    let (file, etag_after) = file_with_etag(&app, &admin, &resident).await;
    assert_ne!(etag, etag_after);
    let certs = file["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "the old certificate stays in the file");
    assert_eq!(certs[0]["id"], new["id"], "newest first");
    let old_now = &certs[1];
    assert_eq!(old_now["id"], old["id"]);
    assert_eq!(old_now["status"], "cancelled");
    assert_eq!(old_now["cancel_reason"], "renewed");
    assert_eq!(old_now["cancelled_on"], "2025-01-10");

    // An explicit validity end is kept.
    let newer = act_ok(
        &app,
        &admin,
        &resident,
        new["id"].as_str().unwrap(),
        "renew",
        json!({"issued_on": "2025-02-01", "valid_until": "2027-02-01"}),
    )
    .await;
    assert_eq!(newer["valid_until"], "2027-02-01");
}

#[actix_web::test]
async fn reissues_count_b1_to_b9_then_stop() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(81);
    let resident = register_named(&app, &admin, &id, "周桂英", JINPING).await;
    let first = issued_certificate(
        &app,
        &admin,
        &resident,
        &json!({"number": format!("{id}61"), "category": "mental", "grade": 1, "issued_on": "2018-04-01"}),
    )
    .await;
    let b1 = act_ok(
        &app,
        &admin,
        &resident,
        first["id"].as_str().unwrap(),
        "reissue",
        json!({"issued_on": "2019-04-01"}),
    )
    .await;
    assert_eq!(b1["number"], masked(&format!("{id}61B1")));
    assert_eq!(b1["status"], "active");
    assert_eq!(b1["category"], "mental");
    assert_eq!(b1["grade"], 1);
    assert_eq!(b1["issued_on"], "2019-04-01");
    assert_eq!(
        b1["valid_until"], first["valid_until"],
        "a reissued card replaces a lost one: same validity"
    );
    let b2 = act_ok(
        &app,
        &admin,
        &resident,
        b1["id"].as_str().unwrap(),
        "reissue",
        json!({"issued_on": "2020-04-01"}),
    )
    .await;
    assert_eq!(b2["number"], masked(&format!("{id}61B2")));

    let file = file_of(&app, &admin, &resident).await;
    let certs = file["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 3);
    assert_eq!(
        certs.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(),
        vec![b2["id"].clone(), b1["id"].clone(), first["id"].clone()],
        "newest first"
    );
    for (cert, cancelled_on) in [(&first, "2019-04-01"), (&b1, "2020-04-01")] {
        let stored = certificate_in(&file, cert["id"].as_str().unwrap());
        assert_eq!(stored["status"], "cancelled");
        assert_eq!(stored["cancel_reason"], "reissued");
        assert_eq!(stored["cancelled_on"], cancelled_on);
        assert_eq!(
            stored["number"], cert["number"],
            "an old number stays as it was"
        );
    }

    // A certificate already at B9 cannot be reissued again.
    let other_id = holder(83);
    let other = register_named(&app, &admin, &other_id, "吴国平", JINPING).await;
    let b9 = issued_certificate(
        &app,
        &admin,
        &other,
        &json!({"number": format!("{other_id}33B9"), "category": "speech", "grade": 3, "issued_on": "2022-01-01"}),
    )
    .await;
    assert_eq!(b9["number"], masked(&format!("{other_id}33B9")));
    let answer = act(
        &app,
        &admin,
        &other,
        b9["id"].as_str().unwrap(),
        "reissue",
        json!({"issued_on": "2023-01-01"}),
    )
    .await;
    answer.problem(409, "reissue_limit");
    let file = file_of(&app, &admin, &other).await;
    assert_eq!(file["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(file["certificates"][0]["status"], "active");
}

#[actix_web::test]
async fn a_reassessment_gives_a_new_number_and_cancels_the_old_one() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(91);
    let resident = register_named(&app, &admin, &id, "郑海燕", JINPING).await;
    let old = issued_certificate(&app, &admin, &resident, &physical_2(&id, "2016-09-01")).await;
    let old_id = old["id"].as_str().unwrap();

    // The new assessment is checked like an issue.
    let answer = act(
        &app,
        &admin,
        &resident,
        old_id,
        "reassess",
        json!({"category": "multiple", "grade": 1, "issued_on": "2024-09-01"}),
    )
    .await;
    assert_invalid(&answer, "components", Some("invalid"));
    let answer = act(
        &app,
        &admin,
        &resident,
        old_id,
        "reassess",
        json!({"category": "mental", "grade": 7, "issued_on": "2024-09-01"}),
    )
    .await;
    assert_invalid(&answer, "grade", Some("out_of_range"));

    let new = act_ok(
        &app,
        &admin,
        &resident,
        old_id,
        "reassess",
        json!({"category": "mental", "grade": 1, "issued_on": "2024-09-01"}),
    )
    .await;
    assert_ne!(new["id"], old["id"]);
    assert_eq!(new["number"], masked(&format!("{id}61")));
    assert_eq!(new["category"], "mental");
    assert_eq!(new["grade"], 1);
    assert_eq!(new["status"], "active");
    assert_eq!(new["valid_until"], "2034-09-01");

    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["certificates"][0]["id"], new["id"]);
    let old_now = certificate_in(&file, old_id);
    assert_eq!(old_now["status"], "cancelled");
    assert_eq!(old_now["cancel_reason"], "reassessed");
    assert_eq!(old_now["cancelled_on"], "2024-09-01");
    assert_eq!(old_now["number"], masked(&format!("{id}42")));

    // A re-assessment to a multiple disability, with its parts.
    let multiple = act_ok(
        &app,
        &admin,
        &resident,
        new["id"].as_str().unwrap(),
        "reassess",
        json!({"category": "multiple", "components": ["mental", "physical"], "grade": 1, "issued_on": "2024-10-01"}),
    )
    .await;
    assert_eq!(multiple["number"], masked(&format!("{id}71")));
    assert_eq!(multiple["components"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn cancelling_takes_a_manual_reason() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(101);
    let resident = register_named(&app, &admin, &id, "冯春梅", JINPING).await;
    for (i, reason) in ["revoked", "deceased", "moved_out", "other"]
        .into_iter()
        .enumerate()
    {
        let issued_on = format!("202{i}-02-01");
        let cert = issued_certificate(&app, &admin, &resident, &physical_2(&id, &issued_on)).await;
        let cert_id = cert["id"].as_str().unwrap();
        // Refused: reasons that only the actions set, and impossible dates.
        for automatic in ["renewed", "reissued", "reassessed"] {
            let answer = act(
                &app,
                &admin,
                &resident,
                cert_id,
                "cancel",
                json!({"reason": automatic, "cancelled_on": issued_on}),
            )
            .await;
            assert_invalid(&answer, "reason", Some("not_allowed"));
        }
        let answer = act(
            &app,
            &admin,
            &resident,
            cert_id,
            "cancel",
            json!({"reason": reason, "cancelled_on": "2019-12-31"}),
        )
        .await;
        assert_invalid(&answer, "cancelled_on", Some("before_issue"));
        let tomorrow = today().succ_opt().unwrap().to_string();
        let answer = act(
            &app,
            &admin,
            &resident,
            cert_id,
            "cancel",
            json!({"reason": reason, "cancelled_on": tomorrow}),
        )
        .await;
        assert_invalid(&answer, "cancelled_on", Some("in_future"));

        let cancelled_on = format!("202{i}-03-01");
        let done = act_ok(
            &app,
            &admin,
            &resident,
            cert_id,
            "cancel",
            json!({"reason": reason, "cancelled_on": cancelled_on}),
        )
        .await;
        assert_eq!(done["id"], cert["id"]);
        assert_eq!(done["status"], "cancelled");
        assert_eq!(done["cancel_reason"], reason);
        assert_eq!(done["cancelled_on"], cancelled_on);
    }
    let file = file_of(&app, &admin, &resident).await;
    let certs = file["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 4, "every certificate stays in the file");
    assert!(certs.iter().all(|c| c["status"] == "cancelled"));
    assert_eq!(
        certs
            .iter()
            .map(|c| c["cancel_reason"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["other", "moved_out", "deceased", "revoked"],
        "newest first"
    );
}

#[actix_web::test]
async fn only_the_active_certificate_can_be_acted_on() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(111);
    let resident = register_named(&app, &admin, &id, "蒋文斌", JINPING).await;
    let cert = issued_certificate(&app, &admin, &resident, &physical_2(&id, "2020-03-01")).await;
    let cert_id = cert["id"].as_str().unwrap();
    act_ok(
        &app,
        &admin,
        &resident,
        cert_id,
        "cancel",
        json!({"reason": "revoked", "cancelled_on": "2021-03-01"}),
    )
    .await;
    let (_, etag) = file_with_etag(&app, &admin, &resident).await;

    for (action, body) in [
        ("renew", json!({"issued_on": "2022-03-01"})),
        ("reissue", json!({"issued_on": "2022-03-01"})),
        (
            "reassess",
            json!({"category": "mental", "grade": 1, "issued_on": "2022-03-01"}),
        ),
        (
            "cancel",
            json!({"reason": "other", "cancelled_on": "2022-03-01"}),
        ),
    ] {
        let answer = act(&app, &admin, &resident, cert_id, action, body).await;
        answer.problem(409, "certificate_not_active");
    }
    assert_eq!(certificate_rows(&app).await, 1);
    let (file, etag_after) = file_with_etag(&app, &admin, &resident).await;
    assert_eq!(etag, etag_after);
    assert_eq!(file["certificates"][0]["cancel_reason"], "revoked");
}

#[actix_web::test]
async fn unknown_certificates_and_residents_are_not_found() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(121);
    let resident = register_named(&app, &admin, &id, "韩淑珍", JINPING).await;
    let cert = issued_certificate(&app, &admin, &resident, &physical_2(&id, "2020-03-01")).await;
    let other_id = holder(123);
    let other = register_named(&app, &admin, &other_id, "杨永福", JINPING).await;
    let nobody = uuid::Uuid::new_v4().to_string();

    let actions = [
        ("renew", json!({"issued_on": "2022-03-01"})),
        ("reissue", json!({"issued_on": "2022-03-01"})),
        (
            "reassess",
            json!({"category": "mental", "grade": 1, "issued_on": "2022-03-01"}),
        ),
        (
            "cancel",
            json!({"reason": "other", "cancelled_on": "2022-03-01"}),
        ),
    ];
    for (action, body) in actions {
        // No such certificate.
        let answer = act(&app, &admin, &resident, &nobody, action, body.clone()).await;
        answer.problem(404, "not_found");
        // A real certificate, under another resident.
        let answer = act(
            &app,
            &admin,
            &other,
            cert["id"].as_str().unwrap(),
            action,
            body.clone(),
        )
        .await;
        answer.problem(404, "not_found");
        // No such resident.
        let answer = act(
            &app,
            &admin,
            &nobody,
            cert["id"].as_str().unwrap(),
            action,
            body,
        )
        .await;
        answer.problem(404, "not_found");
    }
    let answer = issue_certificate(&app, &admin, &nobody, &physical_2(&id, "2020-03-01")).await;
    answer.problem(404, "not_found");
    let file = file_of(&app, &admin, &resident).await;
    assert_eq!(file["certificates"][0]["status"], "active");
    assert_eq!(certificate_rows(&app).await, 1);
}

#[actix_web::test]
async fn a_caseworker_cannot_touch_certificates_outside_their_towns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let jinping = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let id = holder(131);
    let resident = register_named(&app, &admin, &id, "溪口居民", XIKOU).await;
    let cert = issued_certificate(&app, &xikou, &resident, &physical_2(&id, "2020-03-01")).await;
    let cert_id = cert["id"].as_str().unwrap();
    let (_, etag) = file_with_etag(&app, &admin, &resident).await;
    let denied_before = denied_events(&app, &resident).await;

    let mut attempts = 0;
    let answer = issue_certificate(
        &app,
        &jinping,
        &resident,
        &json!({"number": format!("{id}61"), "category": "mental", "grade": 1, "issued_on": "2021-03-01"}),
    )
    .await;
    answer.problem(404, "not_found");
    attempts += 1;
    for (action, body) in [
        ("renew", json!({"issued_on": "2022-03-01"})),
        ("reissue", json!({"issued_on": "2022-03-01"})),
        (
            "reassess",
            json!({"category": "mental", "grade": 1, "issued_on": "2022-03-01"}),
        ),
        (
            "cancel",
            json!({"reason": "revoked", "cancelled_on": "2022-03-01"}),
        ),
    ] {
        let answer = act(&app, &jinping, &resident, cert_id, action, body).await;
        answer.problem(404, "not_found");
        attempts += 1;
    }
    assert_eq!(certificate_rows(&app).await, 1, "nothing was written");
    let (file, etag_after) = file_with_etag(&app, &admin, &resident).await;
    assert_eq!(etag, etag_after);
    assert_eq!(file["certificates"][0]["status"], "active");

    // Every attempt is in the audit trail, as denied, by the caseworker.
    let denied = denied_events(&app, &resident).await;
    assert_eq!(
        denied.len() - denied_before.len(),
        attempts,
        "one access_denied event per attempt; got {denied:?}"
    );
    assert!(denied
        .iter()
        .skip(denied_before.len())
        .all(|(actor, outcome)| actor.as_deref() == Some("jinping") && outcome == "denied"));
}

/// `(actor_username, outcome)` of the access_denied events about `resident`.
async fn denied_events(app: &TestApp, resident: &str) -> Vec<(Option<String>, String)> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "access_denied" && e.resident_id.as_deref() == Some(resident))
        .map(|e| (e.actor_username, e.outcome))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The audit trail and the history.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn every_action_is_audited_without_the_id_number() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(141);
    let resident = register_named(&app, &admin, &id, "曹金凤", JINPING).await;
    let first = issued_certificate(&app, &admin, &resident, &physical_2(&id, "2015-05-01")).await;
    let renewed = act_ok(
        &app,
        &admin,
        &resident,
        first["id"].as_str().unwrap(),
        "renew",
        json!({"issued_on": "2025-05-01"}),
    )
    .await;
    let reissued = act_ok(
        &app,
        &admin,
        &resident,
        renewed["id"].as_str().unwrap(),
        "reissue",
        json!({"issued_on": "2025-06-01"}),
    )
    .await;
    let reassessed = act_ok(
        &app,
        &admin,
        &resident,
        reissued["id"].as_str().unwrap(),
        "reassess",
        json!({"category": "hearing", "grade": 3, "issued_on": "2025-07-01"}),
    )
    .await;
    act_ok(
        &app,
        &admin,
        &resident,
        reassessed["id"].as_str().unwrap(),
        "cancel",
        json!({"reason": "revoked", "cancelled_on": "2025-08-01"}),
    )
    .await;

    let events: Vec<_> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("certificate_"))
        .collect();
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.entity_id.as_deref().unwrap()))
        .collect();
    let id_of = |c: &Value| c["id"].as_str().unwrap().to_owned();
    let (first, renewed, reissued, reassessed) = (
        id_of(&first),
        id_of(&renewed),
        id_of(&reissued),
        id_of(&reassessed),
    );
    assert_eq!(
        summary,
        vec![
            ("certificate_issue", first.as_str()),
            ("certificate_cancel", first.as_str()),
            ("certificate_renew", renewed.as_str()),
            ("certificate_cancel", renewed.as_str()),
            ("certificate_reissue", reissued.as_str()),
            ("certificate_cancel", reissued.as_str()),
            ("certificate_reassess", reassessed.as_str()),
            ("certificate_cancel", reassessed.as_str()),
        ]
    );
    for event in &events {
        assert_eq!(event.entity_type.as_deref(), Some("certificate"));
        assert_eq!(event.resident_id.as_deref(), Some(resident.as_str()));
        assert_eq!(event.actor_username.as_deref(), Some("admin"));
        assert_eq!(event.outcome, "success");
        let changes = event.changes.as_deref().unwrap_or_default();
        assert!(
            !changes.contains(&id[..17]) && !changes.contains(&id[6..14]),
            "{} records the ID number: {changes}",
            event.action
        );
    }
    let cancel_of_reassessed = events.last().unwrap();
    let changes: Value =
        serde_json::from_str(cancel_of_reassessed.changes.as_deref().unwrap()).unwrap();
    assert!(
        changes.to_string().contains("revoked"),
        "the cancel event records the reason: {changes}"
    );

    // The resident's history shows the certificate actions, never the number.
    let answer = app
        .get_as(
            &admin,
            &format!("/api/v1/residents/{resident}/history?limit=200"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let actions: Vec<String> = answer.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in [
        "certificate_issue",
        "certificate_renew",
        "certificate_reissue",
        "certificate_reassess",
        "certificate_cancel",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not in {actions:?}"
        );
    }
    assert!(!answer.text().contains(&id[..17]));

    // Five certificates' worth of history in the file, newest first.
    let file = file_of(&app, &admin, &resident).await;
    let ids: Vec<String> = file["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![reassessed, reissued, renewed, first]);
    assert!(!file.to_string().contains(&id[..17]));
}

// ---------------------------------------------------------------------------------------------
// A recorded move-out or death cancels the active certificate.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn recording_a_move_out_cancels_the_active_certificate_that_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(151);
    let resident = register_named(&app, &admin, &id, "魏国庆", JINPING).await;
    let cert = issued_certificate(&app, &admin, &resident, &physical_2(&id, "2020-03-01")).await;

    // Not before the certificate was issued.
    let answer = patch_current(
        &app,
        &admin,
        &resident_path(&resident),
        &json!({"moved_out_on": "2020-02-01"}),
    )
    .await;
    assert_invalid(&answer, "moved_out_on", Some("before_certificate"));

    let answer = patch_current(
        &app,
        &admin,
        &resident_path(&resident),
        &json!({"moved_out_on": "2024-06-01"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status"], "moved_out");
    let file = file_of(&app, &admin, &resident).await;
    let stored = certificate_in(&file, cert["id"].as_str().unwrap());
    assert_eq!(stored["status"], "cancelled");
    assert_eq!(stored["cancel_reason"], "moved_out");
    assert_eq!(stored["cancelled_on"], "2024-06-01");
    let cancels: Vec<_> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "certificate_cancel")
        .collect();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].entity_id.as_deref(), cert["id"].as_str());

    // Moved out: no new certificate.
    let answer = issue_certificate(
        &app,
        &admin,
        &resident,
        &json!({"number": format!("{id}61"), "category": "mental", "grade": 1, "issued_on": "2024-07-01"}),
    )
    .await;
    answer.problem(409, "resident_not_active");
}

#[actix_web::test]
async fn recording_a_death_cancels_the_active_certificate_that_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = holder(161);
    let resident = register_named(&app, &admin, &id, "沈阿毛", JINPING).await;
    let cert = issued_certificate(&app, &admin, &resident, &physical_2(&id, "2020-03-01")).await;
    let answer = patch_current(
        &app,
        &admin,
        &resident_path(&resident),
        &json!({"deceased_on": "2024-02-02"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status"], "deceased");
    let file = file_of(&app, &admin, &resident).await;
    let stored = certificate_in(&file, cert["id"].as_str().unwrap());
    assert_eq!(stored["status"], "cancelled");
    assert_eq!(stored["cancel_reason"], "deceased");
    assert_eq!(stored["cancelled_on"], "2024-02-02");
}

/// A certificate's shown status is derived for the day of the request (issue 14): a certificate
/// past its `valid_until` is no longer shown as valid.
#[actix_web::test]
async fn the_shown_status_is_derived_for_the_day() {
    let app = spawn_app_with(|c| c.certificate_expiring_days = 30).await;
    let admin = app.admin().await;
    let day = |days: i64| (today() + chrono::Duration::days(days)).to_string();
    let mut shown = Vec::new();
    for (sequence, valid_until, cancel) in [
        (1, day(365), false),
        (2, day(30), false),
        (3, day(0), false),
        (4, day(-1), false),
        (5, day(365), true),
        (6, day(31), false),
    ] {
        let number = id_number("330283", "1970-03-04", sequence);
        let resident = register_named(&app, &admin, &number, "状态", JINPING).await;
        let mut body = physical_2(&number, "2020-01-01");
        body["valid_until"] = json!(valid_until);
        let issued = issued_certificate(&app, &admin, &resident, &body).await;
        let id = issued["id"].as_str().unwrap().to_owned();
        if cancel {
            act_ok(
                &app,
                &admin,
                &resident,
                &id,
                "cancel",
                json!({"reason": "other", "cancelled_on": day(0)}),
            )
            .await;
        }
        let file = file_of(&app, &admin, &resident).await;
        shown.push(certificate_in(&file, &id)["status"].clone());
    }
    assert_eq!(
        shown,
        [
            "active",
            "expiring",
            "expiring",
            "expired",
            "cancelled",
            "active"
        ]
        .map(Value::from),
        "valid for a year, 30 days (the window), today, until yesterday, cancelled, 31 days"
    );
    // A search lists each resident with its town's name and its certificate as the file shows
    // it; a resident who never had one, with none.
    register_named(
        &app,
        &admin,
        &id_number("330283", "1970-03-04", 7),
        "状态",
        JINPING,
    )
    .await;
    let areas = app.get_as(&admin, "/api/v1/areas").await.json();
    let town_name = areas["items"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == JINPING)
        .map(|a| a["name"].clone())
        .unwrap();
    let found = app
        .get_as(&admin, "/api/v1/residents?q=%E7%8A%B6%E6%80%81")
        .await;
    assert_eq!(found.status, 200, "{}", found.text());
    let items = found.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 7);
    assert!(
        items.iter().all(|i| i["town_name"] == town_name),
        "{items:?}"
    );
    let listed: Vec<Value> = items
        .iter()
        .map(|i| i["certificate"]["status"].clone())
        .collect();
    let mut expected = shown.clone();
    expected.push(Value::Null);
    assert_eq!(listed, expected);
    assert_eq!(items[0]["certificate"]["category"], "physical");
    assert_eq!(items[0]["certificate"]["grade"], 2);
    assert_eq!(items[6]["certificate"], Value::Null);
    // The code set is labelled for the front-end like every other.
    let codes = app.get_as(&admin, "/api/v1/codes").await;
    assert_eq!(codes.status, 200);
    assert!(
        codes.text().contains("即将到期") && codes.text().contains("已过期"),
        "certificate_state labels in /codes"
    );
}
