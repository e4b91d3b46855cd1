//! Residents (一人一档): registering and reading a file, every validation rule, protection of
//! the identifiers at rest, the caseworker's towns, optimistic concurrency, search, history,
//! household status and death.

use actix_web::test::TestRequest;
use chrono::Duration;
use diesel::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use fenghua_registry::db::{self, residents::ResidentRow, schema::residents};
use fenghua_registry::domain::id_number::check_character;
use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_invalid, certificate_body, certify, days_from_today, field_errors, id_of,
    issue_certificate, patch, patch_request, register, register_resident, resident_body,
    resident_path, spawn_app, Answer, TestApp,
};
use crate::session::{etag, id_number, Session, JINPING, XIKOU};

const RESIDENTS: &str = "/api/v1/residents";
/// Villages made by the tests that need them.
const JINPING_VILLAGE: &str = "330213001001";
const JINPING_VILLAGE_2: &str = "330213001002";
const XIKOU_VILLAGE: &str = "330213100001";

/// `body` with the members of `extra` set (a `null` member is sent as `null`).
fn with(mut body: Value, extra: Value) -> Value {
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

/// An ID number of `region` and `birth` whose check character is `X`.
fn id_number_ending_in_x(region: &str, birth: &str) -> String {
    (0..1000)
        .map(|sequence| id_number(region, birth, sequence))
        .find(|n| n.ends_with('X'))
        .expect("one in eleven sequences has the check character X")
}

/// The first 17 characters with their correct check character.
fn with_check_character(first17: &str) -> String {
    format!("{first17}{}", check_character(first17.as_bytes()) as char)
}

/// PATCH of the resident `id` with an optional `If-Match`.
async fn patch_resident(
    app: &TestApp,
    session: &Session,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Answer {
    patch(app, session, &resident_path(id), if_match, body).await
}

async fn reveal(app: &TestApp, session: &Session, id: &str, field: &str) -> Answer {
    app.post_as(
        session,
        &format!("{}/reveal", resident_path(id)),
        &json!({ "field": field }),
    )
    .await
}

async fn lookup(app: &TestApp, session: &Session, number: &str) -> Answer {
    app.post_as(
        session,
        &format!("{RESIDENTS}/lookup"),
        &json!({ "id_number": number }),
    )
    .await
}

/// Query parameters, in order.
type Query<'a> = Vec<(&'a str, &'a str)>;

/// `key=value&…`, percent-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn list(app: &TestApp, session: &Session, pairs: &[(&str, &str)]) -> Answer {
    app.get_as(session, &format!("{RESIDENTS}?{}", query(pairs)))
        .await
}

/// The names a search finds, in the order given, asserting one page holds them all.
async fn names(app: &TestApp, session: &Session, pairs: &[(&str, &str)]) -> Vec<String> {
    let answer = list(app, session, pairs).await;
    assert_eq!(answer.status, 200, "{pairs:?}: {}", answer.text());
    let page = answer.json();
    assert_eq!(page["next_cursor"], Value::Null, "{pairs:?}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[track_caller]
fn fields(answer: &Answer) -> Vec<String> {
    field_errors(answer).into_iter().map(|(f, _)| f).collect()
}

/// What a refused request must leave as it was: every resident as an admin lists them, and the
/// length of the audit trail.
async fn snapshot(app: &TestApp, admin: &Session) -> (Value, usize) {
    let answer = list(app, admin, &[("limit", "200")]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    (
        answer.json()["items"].clone(),
        app.audit_events().await.len(),
    )
}

/// The stored row, read straight from the database.
async fn stored(app: &TestApp, id: &str) -> ResidentRow {
    let id = id.to_owned();
    db::run(&app.state.pool, move |conn| {
        Ok(fenghua_registry::db::residents::by_public_id(conn, &id)?)
    })
    .await
    .unwrap()
    .expect("the resident is stored")
}

/// The audit events of `action` about one resident.
async fn events_about(
    app: &TestApp,
    action: &str,
    resident_id: &str,
) -> Vec<fenghua_registry::db::audit::AuditRow> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action && e.resident_id.as_deref() == Some(resident_id))
        .collect()
}

// 1. Register and read -----------------------------------------------------------------------

#[actix_web::test]
async fn a_registered_resident_reads_back_masked_with_what_the_id_number_tells() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.create_village(&admin, JINPING_VILLAGE, "南山村", JINPING)
        .await;
    // The 17th digit (the sequence's last) is odd: a man.
    let number = id_number("330213", "1990-05-17", 123);
    let answer = app
        .create_resident(
            &admin,
            &json!({
                "id_number": number,
                "name": " 张三 ",
                "town_code": JINPING,
                "village_code": JINPING_VILLAGE,
                "address": "锦屏街道南山路 1 号",
                "phone": "138 1234 5678",
                "guardian_name": "张大",
                "guardian_phone": "0574-88881234",
                "household_status": "dibao",
                "household_status_since": "2020-01-01",
                "household_flags": ["multiple_disabled"],
                "work_capacity": false,
                "registered_on": "2019-06-01"
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let created = answer.json();
    let id = id_of(&created);
    assert_eq!(answer.header("location"), Some(resident_path(&id).as_str()));
    assert_eq!(answer.header("etag"), Some("\"1\""));

    // Issue 9: the region only, and the birth year, not the date.
    assert_eq!(created["id_number"], "330213************");
    assert_eq!(created["name"], "张三");
    assert_eq!(created["sex"], "male");
    assert_eq!(created["birth_year"], 1990);
    assert!(created.get("birth_date").is_none(), "{created}");
    assert_eq!(created["town_code"], JINPING);
    assert_eq!(created["village_code"], JINPING_VILLAGE);
    assert_eq!(created["address"], "锦屏街道南山路 1 号");
    assert_eq!(created["phone"], "138****5678");
    assert_eq!(created["guardian_name"], "张大");
    assert_eq!(created["guardian_phone"], "057*****1234");
    assert_eq!(created["household_status"], "dibao");
    assert_eq!(created["household_status_since"], "2020-01-01");
    assert_eq!(
        created["household_status_history"],
        json!([{ "status": "dibao", "since": "2020-01-01", "until": null }])
    );
    assert_eq!(created["household_flags"], json!(["multiple_disabled"]));
    assert_eq!(created["work_capacity"], false);
    assert_eq!(created["registered_on"], "2019-06-01");
    assert_eq!(created["deceased_on"], Value::Null);
    assert_eq!(created["moved_out_on"], Value::Null);
    assert_eq!(created["status"], "active");
    assert_eq!(created["version"], 1);
    let text = answer.text();
    assert!(
        !text.contains(&number) && !text.contains("13812345678") && !text.contains("88881234"),
        "{text}"
    );

    let read = app.get_as(&admin, &resident_path(&id)).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(etag(&read), "\"1\"");
    assert_eq!(read.json(), created);

    let file = app
        .get_as(&admin, &format!("{}/file", resident_path(&id)))
        .await;
    assert_eq!(file.status, 200, "{}", file.text());
    assert_eq!(etag(&file), "\"1\"");
    assert_eq!(file.json()["resident"], created);
    assert_eq!(file.json()["certificates"], json!([]));

    let found = lookup(&app, &admin, &number).await;
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(found.json(), created);
}

#[actix_web::test]
async fn defaults_are_today_no_household_status_and_nothing_else() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // The 17th digit is even: a woman.
    let number = id_number("330213", "1975-11-02", 244);
    let created = register_resident(&app, &admin, resident_body(&number, "李四", XIKOU)).await;
    let today = days_from_today(0);
    assert_eq!(created["sex"], "female");
    assert_eq!(created["birth_year"], 1975);
    assert_eq!(created["registered_on"], today);
    assert_eq!(created["household_status"], "none");
    assert_eq!(created["household_status_since"], today);
    assert_eq!(
        created["household_status_history"],
        json!([{ "status": "none", "since": today, "until": null }])
    );
    for empty in [
        "village_code",
        "address",
        "phone",
        "guardian_name",
        "guardian_phone",
        "work_capacity",
        "deceased_on",
        "moved_out_on",
    ] {
        assert_eq!(created[empty], Value::Null, "{empty}");
    }
    assert_eq!(created["household_flags"], json!([]));
    assert_eq!(created["status"], "active");

    // Without a date of its own, the household status holds from the registration.
    let other = id_number("330213", "1975-11-02", 246);
    let created = register_resident(
        &app,
        &admin,
        with(
            resident_body(&other, "李五", XIKOU),
            json!({ "household_status": "tekun", "registered_on": "2021-03-04" }),
        ),
    )
    .await;
    assert_eq!(created["household_status_since"], "2021-03-04");
}

#[actix_web::test]
async fn a_lower_case_check_character_is_stored_upper_case() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number_ending_in_x("330213", "1966-08-30");
    let lower = number.to_lowercase();
    let created = register_resident(
        &app,
        &admin,
        resident_body(&format!(" {lower} "), "王五", JINPING),
    )
    .await;
    let id = id_of(&created);
    // Issue 9: the check character is hidden too; the reveal below shows it.
    assert_eq!(created["id_number"], "330213************");

    let revealed = reveal(&app, &admin, &id, "id_number").await;
    assert_eq!(revealed.status, 200, "{}", revealed.text());
    assert_eq!(revealed.json()["value"], number);

    // Either spelling finds the one resident, and neither registers a second.
    for spelling in [&number, &lower] {
        let found = lookup(&app, &admin, spelling).await;
        assert_eq!(found.status, 200, "{}", found.text());
        assert_eq!(found.json()["id"], created["id"]);
        let again = app
            .create_resident(&admin, &resident_body(spelling, "王五", JINPING))
            .await;
        let problem = again.problem(409, "duplicate_id_number");
        assert_eq!(problem["existing_id"], created["id"]);
    }
}

#[actix_web::test]
async fn an_id_number_of_any_region_is_accepted() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (number, birth, sex) in [
        // Fenghua before it became a district of Ningbo, born on a leap day.
        (id_number("330283", "1980-02-29", 17), "1980-02-29", "male"),
        // The worked example of GB 11643, from Beijing.
        ("11010519491231002X".to_owned(), "1949-12-31", "female"),
        (id_number("650102", "2001-01-01", 8), "2001-01-01", "female"),
    ] {
        let created =
            register_resident(&app, &admin, resident_body(&number, "外地人", JINPING)).await;
        assert_eq!(created["birth_year"].to_string(), birth[..4], "{number}");
        assert_eq!(created["sex"], sex, "{number}");
        assert_eq!(
            created["id_number"],
            format!("{}************", &number[..6])
        );
    }
}

// 2. Validation --------------------------------------------------------------------------------

#[actix_web::test]
async fn every_rule_refuses_a_bad_value_by_name_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.create_village(&admin, JINPING_VILLAGE, "南山村", JINPING)
        .await;
    app.create_village(&admin, XIKOU_VILLAGE, "岩头村", XIKOU)
        .await;
    // Something registered already, so "unchanged" is not just "empty".
    register_resident(
        &app,
        &admin,
        resident_body(&id_number("330213", "1950-01-01", 11), "赵一", JINPING),
    )
    .await;

    let number = id_number("330213", "1990-05-17", 123);
    let base = with(
        resident_body(&number, "张三", JINPING),
        json!({ "village_code": JINPING_VILLAGE }),
    );
    let mut wrong_check = number.clone();
    let last = if number.ends_with('0') { "1" } else { "0" };
    wrong_check.replace_range(17..18, last);
    let future = days_from_today(30);
    let tomorrow = days_from_today(1);
    let day_before_birth = "1990-05-16";

    #[rustfmt::skip]
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        // The ID number: length, characters, the date inside it, the check character.
        (json!({"id_number": &number[..17]}), "id_number", Some("invalid_length")),
        (json!({"id_number": format!("{number}1")}), "id_number", Some("invalid_length")),
        (json!({"id_number": ""}), "id_number", Some("invalid_length")),
        (json!({"id_number": "33021319900517A23X"}), "id_number", Some("invalid_characters")),
        (json!({"id_number": "3302131990051712X4"}), "id_number", Some("invalid_characters")),
        (json!({"id_number": "３３０２１３１９９００５１７１２"}), "id_number", None),
        (json!({"id_number": with_check_character("33021319900230123")}), "id_number", Some("invalid_birth_date")),
        (json!({"id_number": with_check_character("33021319901317123")}), "id_number", Some("invalid_birth_date")),
        (json!({"id_number": wrong_check}), "id_number", Some("invalid_check_digit")),
        (json!({"id_number": 330213199005171230_u64}), "id_number", Some("invalid_type")),
        // Town and village: they exist, and the village is of the town.
        (json!({"town_code": "330213999", "village_code": null}), "town_code", Some("unknown_town")),
        (json!({"town_code": "330213", "village_code": null}), "town_code", Some("unknown_town")),
        (json!({"town_code": JINPING_VILLAGE, "village_code": null}), "town_code", Some("unknown_town")),
        (json!({"village_code": "330213001999"}), "village_code", Some("unknown_village")),
        (json!({"village_code": JINPING}), "village_code", Some("unknown_village")),
        (json!({"village_code": XIKOU_VILLAGE}), "village_code", Some("not_in_town")),
        // Dates of the resident's life: not before birth, not in the future.
        (json!({"registered_on": future}), "registered_on", Some("in_future")),
        (json!({"registered_on": tomorrow}), "registered_on", Some("in_future")),
        (json!({"registered_on": day_before_birth}), "registered_on", Some("before_birth")),
        (json!({"deceased_on": day_before_birth}), "deceased_on", Some("before_birth")),
        (json!({"deceased_on": future}), "deceased_on", Some("in_future")),
        (json!({"moved_out_on": "1980-01-01"}), "moved_out_on", Some("before_birth")),
        (json!({"moved_out_on": future}), "moved_out_on", Some("in_future")),
        (json!({"household_status": "dibao", "household_status_since": day_before_birth}), "household_status_since", Some("before_birth")),
        (json!({"household_status": "dibao", "household_status_since": future}), "household_status_since", Some("in_future")),
        // Phones of mainland format.
        (json!({"phone": "12345"}), "phone", Some("invalid_format")),
        (json!({"phone": "+8613812345678"}), "phone", Some("invalid_format")),
        (json!({"phone": "12812345678"}), "phone", Some("invalid_format")),
        (json!({"phone": "138123456789"}), "phone", Some("invalid_format")),
        (json!({"phone": "88881234"}), "phone", Some("invalid_format")),
        (json!({"guardian_phone": "12345"}), "guardian_phone", Some("invalid_format")),
        (json!({"guardian_phone": "+8613812345678"}), "guardian_phone", Some("invalid_format")),
        // Names and text.
        (json!({"name": ""}), "name", None),
        (json!({"name": "   "}), "name", None),
        (json!({"name": "名".repeat(51)}), "name", None),
        (json!({"guardian_name": "名".repeat(51)}), "guardian_name", None),
        (json!({"address": "路".repeat(201)}), "address", None),
        // Codes.
        (json!({"household_status": "rich"}), "household_status", None),
        (json!({"household_flags": ["rich"]}), "household_flags[0]", None),
        // Unknown fields and wrong types.
        (json!({"nickname": "三儿"}), "nickname", Some("unknown_field")),
        (json!({"sex": "male"}), "sex", Some("unknown_field")),
        (json!({"registered_on": 5}), "registered_on", Some("invalid_type")),
        (json!({"registered_on": "2020-13-01"}), "registered_on", None),
        (json!({"registered_on": "01/06/2020"}), "registered_on", None),
        (json!({"work_capacity": "yes"}), "work_capacity", Some("invalid_type")),
        (json!({"name": 5}), "name", Some("invalid_type")),
    ];
    let before = snapshot(&app, &admin).await;
    for (change, field, code) in cases {
        let body = with(base.clone(), change);
        let answer = app.create_resident(&admin, &body).await;
        let errors = field_errors(&answer);
        let error = errors
            .iter()
            .find(|(f, _)| f == field)
            .unwrap_or_else(|| panic!("{body}: {field} is not named in {errors:?}"));
        if let Some(code) = code {
            assert_eq!(error.1, code, "{body}: {errors:?}");
        }
        assert_eq!(
            snapshot(&app, &admin).await,
            before,
            "{body} changed something"
        );
    }

    // A required field missing is named too.
    for missing in ["id_number", "name", "town_code"] {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(missing);
        let answer = app.create_resident(&admin, &body).await;
        assert_eq!(
            field_errors(&answer),
            [(missing.to_owned(), "required".to_owned())],
            "{body}"
        );
    }
    // Several faults are reported together.
    let answer = app
        .create_resident(
            &admin,
            &with(
                base.clone(),
                json!({"name": "", "phone": "12345", "registered_on": future}),
            ),
        )
        .await;
    let named = fields(&answer);
    for field in ["name", "phone", "registered_on"] {
        assert!(named.iter().any(|f| f == field), "{field} in {named:?}");
    }
    assert_eq!(snapshot(&app, &admin).await, before);

    // Looking up by a malformed ID number is refused the same way.
    let answer = lookup(&app, &admin, "33021319900517123").await;
    assert_eq!(
        field_errors(&answer),
        [("id_number".to_owned(), "invalid_length".to_owned())]
    );
    assert_eq!(snapshot(&app, &admin).await, before);

    // The base itself is fine.
    register_resident(&app, &admin, base).await;
}

#[actix_web::test]
async fn an_id_number_born_in_the_future_is_refused_as_an_id_number() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let next_year = (fenghua_registry::domain::today() + Duration::days(400)).to_string();
    let number = id_number("330213", &next_year, 123);
    let before = snapshot(&app, &admin).await;
    let answer = app
        .create_resident(&admin, &resident_body(&number, "未生", JINPING))
        .await;
    let named = fields(&answer);
    assert!(named.iter().any(|f| f == "id_number"), "{named:?}");
    assert!(!named.iter().any(|f| f == "registered_on"), "{named:?}");
    assert_eq!(snapshot(&app, &admin).await, before);
}

#[actix_web::test]
async fn a_change_that_breaks_a_rule_is_refused_by_name_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.create_village(&admin, XIKOU_VILLAGE, "岩头村", XIKOU)
        .await;
    let number = id_number("330213", "1990-05-17", 123);
    let created = register_resident(
        &app,
        &admin,
        with(
            resident_body(&number, "张三", JINPING),
            json!({"phone": "13812345678", "registered_on": "2015-01-01"}),
        ),
    )
    .await;
    let id = id_of(&created);
    let future = days_from_today(30);
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"town_code": "330213999"}), "town_code"),
        (json!({"village_code": "330213001999"}), "village_code"),
        (json!({"village_code": XIKOU_VILLAGE}), "village_code"),
        (json!({"phone": "12345"}), "phone"),
        (
            json!({"guardian_phone": "+8613812345678"}),
            "guardian_phone",
        ),
        (json!({"registered_on": future}), "registered_on"),
        (json!({"registered_on": "1990-05-16"}), "registered_on"),
        (json!({"deceased_on": "1990-05-16"}), "deceased_on"),
        (json!({"deceased_on": future}), "deceased_on"),
        (json!({"moved_out_on": future}), "moved_out_on"),
        (
            json!({"id_number": id_number("330213", "1990-05-17", 125)}),
            "id_number",
        ),
        (json!({"status": "deceased"}), "status"),
        (json!({"version": 7}), "version"),
        (json!({"registered_on": 5}), "registered_on"),
    ];
    let before = snapshot(&app, &admin).await;
    for (body, field) in cases {
        let answer = patch_resident(&app, &admin, &id, Some("\"1\""), &body).await;
        assert_eq!(fields(&answer), [field], "{body}");
        assert_eq!(
            snapshot(&app, &admin).await,
            before,
            "{body} changed something"
        );
    }
    assert_eq!(stored(&app, &id).await.version, 1);
}

#[actix_web::test]
async fn the_same_id_number_twice_is_a_conflict_that_names_the_file_only_to_who_may_see_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1962-04-05", 31);
    let original = register_resident(&app, &admin, resident_body(&number, "溪口人", XIKOU)).await;
    let before = snapshot(&app, &admin).await;

    let again = app
        .create_resident(&admin, &resident_body(&number, "另一个名字", JINPING))
        .await;
    let problem = again.problem(409, "duplicate_id_number");
    assert_eq!(problem["existing_id"], original["id"]);

    // A caseworker of 锦屏 learns the town to ask (溪口), never which file.
    let jinping = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let again = app
        .create_resident(&jinping, &resident_body(&number, "另一个名字", JINPING))
        .await;
    let problem = again.problem(409, "duplicate_id_number");
    assert!(problem.get("existing_id").is_none(), "{problem}");
    assert!(!again.text().contains(&id_of(&original)), "{problem}");
    assert_eq!(problem["registered_in"]["town_code"], XIKOU, "{problem}");
    let town_name = problem["registered_in"]["town_name"].as_str().unwrap();
    assert!(town_name.starts_with("溪口"), "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains(town_name),
        "{problem}"
    );

    // A caseworker of 溪口 may.
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let again = app
        .create_resident(&xikou, &resident_body(&number, "另一个名字", XIKOU))
        .await;
    assert_eq!(
        again.problem(409, "duplicate_id_number")["existing_id"],
        original["id"]
    );

    let after = snapshot(&app, &admin).await;
    assert_eq!(after.0, before.0, "no second file");
    let since: Vec<String> = app.audit_events().await[before.1..]
        .iter()
        .map(|e| e.action.clone())
        .collect();
    // Issue 9: telling 锦屏's caseworker that the number has a file elsewhere is audited.
    assert!(
        since
            .iter()
            .all(|a| a == "user_create" || a == "login" || a == "resident_duplicate_elsewhere"),
        "only the caseworkers' accounts and logins and the answer to 锦屏 were audited: {since:?}"
    );
    let told: Vec<_> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "resident_duplicate_elsewhere")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].actor_username.as_deref(), Some("jinping"));
    assert_eq!(
        told[0].resident_id.as_ref(),
        original["id"].as_str().map(str::to_owned).as_ref()
    );
}

// 3. Protection --------------------------------------------------------------------------------

/// Every text column of `residents` (the others hold dates, numbers and flags).
#[derive(Debug, Queryable)]
#[allow(dead_code)]
struct StoredText {
    public_id: String,
    id_number_enc: String,
    id_number_index: String,
    name: String,
    sex: String,
    town_code: String,
    village_code: Option<String>,
    address: Option<String>,
    phone_enc: Option<String>,
    guardian_name: Option<String>,
    guardian_phone_enc: Option<String>,
    household_flags: String,
}

async fn residents_table(app: &TestApp) -> Vec<StoredText> {
    db::run(&app.state.pool, |conn| {
        Ok(residents::table
            .select((
                residents::public_id,
                residents::id_number_enc,
                residents::id_number_index,
                residents::name,
                residents::sex,
                residents::town_code,
                residents::village_code,
                residents::address,
                residents::phone_enc,
                residents::guardian_name,
                residents::guardian_phone_enc,
                residents::household_flags,
            ))
            .load::<StoredText>(conn)?)
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn the_database_holds_no_plain_id_number_or_phone() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1990-05-17", 123);
    let other = id_number("330213", "1990-05-17", 125);
    let secrets = [
        number.clone(),
        number[..17].to_owned(),
        other.clone(),
        other[..17].to_owned(),
        "13812345678".to_owned(),
        "057488881234".to_owned(),
        "88881234".to_owned(),
        "13987654321".to_owned(),
        "13911112222".to_owned(),
    ];
    let created = register_resident(
        &app,
        &admin,
        with(
            resident_body(&number, "张三", JINPING),
            json!({
                "phone": "138-1234-5678",
                "guardian_name": "张大",
                "guardian_phone": "0574-88881234",
                "registered_on": "2015-01-01"
            }),
        ),
    )
    .await;
    let id = id_of(&created);
    // Same phone for both: still two different ciphertexts.
    register_resident(
        &app,
        &admin,
        with(
            resident_body(&other, "张四", JINPING),
            json!({ "phone": "13911112222", "guardian_phone": "13911112222" }),
        ),
    )
    .await;
    // A change of phone and a certificate: their audit entries must not leak either.
    let changed = patch_resident(
        &app,
        &admin,
        &id,
        Some("\"1\""),
        &json!({"phone": "13987654321"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let issued = issue_certificate(
        &app,
        &admin,
        &id,
        &certificate_body(&number, "physical", 2, "2020-01-01"),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    assert!(!issued.text().contains(&number), "{}", issued.text());
    reveal(&app, &admin, &id, "id_number").await;
    reveal(&app, &admin, &id, "phone").await;
    lookup(&app, &admin, &number).await;

    let rows = residents_table(&app).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let text = format!("{row:?}");
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} is stored in the clear: {text}"
            );
        }
        // The blind index is a keyed HMAC-SHA256, not a plain hash anyone could recompute.
        assert_eq!(row.id_number_index.len(), 64, "{}", row.id_number_index);
        assert!(row.id_number_index.bytes().all(|b| b.is_ascii_hexdigit()));
        for n in [&number, &other] {
            assert_ne!(
                row.id_number_index,
                hex::encode(Sha256::digest(n.as_bytes()))
            );
        }
    }
    assert_ne!(rows[0].id_number_index, rows[1].id_number_index);
    let second = rows.iter().find(|r| r.name == "张四").unwrap();
    assert!(second.phone_enc.is_some());
    assert_ne!(
        second.phone_enc, second.guardian_phone_enc,
        "a random nonce per value"
    );

    let events = app.audit_events().await;
    assert!(events.iter().any(|e| e.action == "resident_create"));
    assert!(events.iter().any(|e| e.action == "resident_update"));
    assert!(events.iter().any(|e| e.action == "certificate_issue"));
    for event in &events {
        let text = format!("{event:?}");
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} is in the audit trail: {text}"
            );
        }
    }
    let create = events
        .iter()
        .find(|e| e.action == "resident_create" && e.resident_id.as_deref() == Some(id.as_str()))
        .unwrap();
    let changes: Value = serde_json::from_str(create.changes.as_deref().unwrap()).unwrap();
    assert_eq!(changes["id_number"], "[redacted]");
    assert_eq!(changes["phone"], "[redacted]");
    assert_eq!(changes["guardian_phone"], "[redacted]");
    assert_eq!(changes["name"]["to"], "张三");
}

#[actix_web::test]
async fn reveal_shows_one_value_to_an_admin_or_a_caseworker_in_scope_audited_without_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1990-05-17", 123);
    let created = register_resident(
        &app,
        &admin,
        with(
            resident_body(&number, "张三", JINPING),
            json!({"phone": "138 1234 5678", "guardian_phone": "0574-88881234"}),
        ),
    )
    .await;
    let id = id_of(&created);
    let bare_number = id_number("330213", "1991-01-01", 222);
    let bare =
        id_of(&register_resident(&app, &admin, resident_body(&bare_number, "张四", XIKOU)).await);

    for (field, value) in [
        ("id_number", json!(number)),
        ("phone", json!("13812345678")),
        ("guardian_phone", json!("057488881234")),
    ] {
        let answer = reveal(&app, &admin, &id, field).await;
        assert_eq!(answer.status, 200, "{field}: {}", answer.text());
        assert_eq!(answer.json(), json!({ "field": field, "value": value }));
        assert_eq!(answer.header("cache-control"), Some("no-store"));
    }
    for field in ["phone", "guardian_phone"] {
        let answer = reveal(&app, &admin, &bare, field).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.json()["value"], Value::Null, "{field} is not set");
    }

    let reveals = events_about(&app, "resident_reveal", &id).await;
    assert_eq!(reveals.len(), 3);
    for (event, field) in reveals.iter().zip(["id_number", "phone", "guardian_phone"]) {
        assert_eq!(event.actor_username.as_deref(), Some("admin"));
        assert_eq!(event.outcome, "success");
        let changes = event.changes.as_deref().unwrap();
        assert!(changes.contains(field), "{changes}");
        for value in [number.as_str(), "13812345678", "057488881234"] {
            assert!(!changes.contains(value), "{changes}");
        }
    }

    // Auditors never reveal.
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    reveal(&app, &auditor, &id, "id_number")
        .await
        .problem(403, "forbidden");
    // A caseworker of the resident's town does; of another town, the resident is not there.
    let jinping = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let answer = reveal(&app, &jinping, &id, "phone").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["value"], "13812345678");
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    reveal(&app, &xikou, &id, "phone")
        .await
        .problem(404, "not_found");
    let reveals = events_about(&app, "resident_reveal", &id).await;
    assert_eq!(reveals.len(), 4, "only the reveals that happened");
    assert_eq!(reveals[3].actor_username.as_deref(), Some("jinping"));

    // Only the protected fields, and only of a resident that exists.
    let answer = reveal(&app, &admin, &id, "address").await;
    assert_eq!(fields(&answer), ["field"]);
    reveal(&app, &admin, &uuid::Uuid::new_v4().to_string(), "phone")
        .await
        .problem(404, "not_found");
    app.get_as(&admin, &resident_path("not-a-uuid"))
        .await
        .problem(404, "not_found");
}

// 4. Scope -------------------------------------------------------------------------------------

/// Requests to send, each with what it tries.
type Attempts = Vec<(&'static str, TestRequest)>;

/// What a caseworker might try on a resident, by what it would read and what it would write.
fn attempts_on(id: &str, number: &str, certificate_id: &str) -> (Attempts, Attempts) {
    let reads = vec![
        ("read", TestRequest::get().uri(&resident_path(id))),
        (
            "file",
            TestRequest::get().uri(&format!("{}/file", resident_path(id))),
        ),
        (
            "history",
            TestRequest::get().uri(&format!("{}/history", resident_path(id))),
        ),
        (
            "lookup",
            TestRequest::post()
                .uri(&format!("{RESIDENTS}/lookup"))
                .set_json(json!({ "id_number": number })),
        ),
        (
            "reveal",
            TestRequest::post()
                .uri(&format!("{}/reveal", resident_path(id)))
                .set_json(json!({ "field": "id_number" })),
        ),
    ];
    let writes = vec![
        (
            "change",
            patch_request(
                &resident_path(id),
                Some("\"2\""),
                &json!({ "name": "改了" }),
            ),
        ),
        (
            "issue a certificate",
            TestRequest::post()
                .uri(&format!("{}/certificates", resident_path(id)))
                .set_json(certificate_body(number, "visual", 1, "2021-01-01")),
        ),
        (
            "cancel its certificate",
            TestRequest::post()
                .uri(&format!(
                    "{}/certificates/{certificate_id}/cancel",
                    resident_path(id)
                ))
                .set_json(json!({ "reason": "revoked", "cancelled_on": "2021-01-01" })),
        ),
    ];
    (reads, writes)
}

/// A resident of 溪口 with a certificate, a caseworker of 锦屏, and the certificate's id.
async fn out_of_scope_fixture(app: &TestApp) -> (Session, Session, String, String, String) {
    let admin = app.admin().await;
    let number = id_number("330283", "1958-03-09", 41);
    let xikou = register_resident(
        app,
        &admin,
        with(
            resident_body(&number, "溪口甲", XIKOU),
            json!({"phone": "13912340000", "registered_on": "2010-01-01"}),
        ),
    )
    .await;
    let id = id_of(&xikou);
    let issued = issue_certificate(
        app,
        &admin,
        &id,
        &certificate_body(&number, "physical", 2, "2020-01-01"),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    let certificate_id = issued.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(stored(app, &id).await.version, 2);
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    (admin, worker, id, number, certificate_id)
}

/// Sends an attempt as the caseworker: it must be answered as if the resident did not exist.
/// Returns whether exactly one `access_denied` event about the resident, by the caseworker,
/// was added.
async fn refused_and_audited(
    app: &TestApp,
    worker: &Session,
    resident_id: &str,
    what: &str,
    req: TestRequest,
) -> bool {
    let before = events_about(app, "access_denied", resident_id).await.len();
    let answer = app.send_as(worker, req).await;
    assert_eq!(answer.status, 404, "{what}: {}", answer.text());
    answer.problem(404, "not_found");
    assert!(!answer.text().contains("溪口甲"), "{what}");
    let denied = events_about(app, "access_denied", resident_id).await;
    if denied.len() != before + 1 {
        return false;
    }
    let event = denied.last().unwrap();
    assert_eq!(event.actor_username.as_deref(), Some("jinping"), "{what}");
    assert_eq!(
        event.actor_user_id.as_deref(),
        Some(worker.user_id.as_str())
    );
    assert_eq!(event.outcome, "denied", "{what}");
    true
}

#[actix_web::test]
async fn a_caseworker_of_jinping_cannot_reach_a_resident_of_xikou_and_its_reads_are_audited() {
    let app = spawn_app().await;
    let (admin, worker, x_id, number, certificate_id) = out_of_scope_fixture(&app).await;
    let (reads, writes) = attempts_on(&x_id, &number, &certificate_id);
    for (what, req) in reads {
        assert!(
            refused_and_audited(&app, &worker, &x_id, what, req).await,
            "{what} is audited as access_denied"
        );
    }
    for (what, req) in writes {
        let answer = app.send_as(&worker, req).await;
        assert_eq!(answer.status, 404, "{what}: {}", answer.text());
        answer.problem(404, "not_found");
    }

    // Searches do not find it.
    assert!(names(&app, &worker, &[("q", "溪口甲")]).await.is_empty());
    assert!(names(&app, &worker, &[("town", XIKOU)]).await.is_empty());
    assert!(names(&app, &worker, &[]).await.is_empty());

    // Nothing changed, nothing was issued or cancelled, nothing was read on its behalf.
    let row = stored(&app, &x_id).await;
    assert_eq!((row.name.as_str(), row.version), ("溪口甲", 2));
    let file = app
        .get_as(&admin, &format!("{}/file", resident_path(&x_id)))
        .await;
    let certificates = file.json()["certificates"].clone();
    assert_eq!(certificates.as_array().unwrap().len(), 1, "{certificates}");
    assert_eq!(certificates[0]["status"], "active");
    for action in [
        "resident_read",
        "file_read",
        "history_read",
        "resident_reveal",
        "resident_update",
        "certificate_issue",
        "certificate_cancel",
    ] {
        let by_worker = events_about(&app, action, &x_id)
            .await
            .into_iter()
            .filter(|e| e.actor_username.as_deref() == Some("jinping"))
            .count();
        assert_eq!(by_worker, 0, "{action}");
    }
}

#[actix_web::test]
async fn a_caseworker_s_attempts_to_change_a_resident_of_another_town_are_audited() {
    let app = spawn_app().await;
    let (_admin, worker, x_id, number, certificate_id) = out_of_scope_fixture(&app).await;
    let (_, writes) = attempts_on(&x_id, &number, &certificate_id);
    let mut unaudited = Vec::new();
    for (what, req) in writes {
        if !refused_and_audited(&app, &worker, &x_id, what, req).await {
            unaudited.push(what);
        }
    }
    assert!(unaudited.is_empty(), "not audited: {unaudited:?}");
}

#[actix_web::test]
async fn a_caseworker_works_freely_in_its_own_town_but_cannot_register_or_move_into_another() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.create_village(&admin, XIKOU_VILLAGE, "岩头村", XIKOU)
        .await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let number = id_number("330213", "1971-07-07", 57);

    let refused = app
        .create_resident(&worker, &resident_body(&number, "锦屏乙", XIKOU))
        .await;
    assert_eq!(
        field_errors(&refused),
        [("town_code".to_owned(), "out_of_scope".to_owned())]
    );
    assert!(names(&app, &admin, &[]).await.is_empty());

    let created = register_resident(
        &app,
        &worker,
        with(
            resident_body(&number, "锦屏乙", JINPING),
            json!({"phone": "13600001111", "registered_on": "2012-01-01"}),
        ),
    )
    .await;
    let id = id_of(&created);
    for sub in ["", "/file", "/history"] {
        let answer = app
            .get_as(&worker, &format!("{}{sub}", resident_path(&id)))
            .await;
        assert_eq!(answer.status, 200, "{sub}: {}", answer.text());
    }
    assert_eq!(names(&app, &worker, &[("q", "锦屏")]).await, ["锦屏乙"]);
    assert_eq!(names(&app, &worker, &[("town", JINPING)]).await, ["锦屏乙"]);
    let found = lookup(&app, &worker, &number).await;
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(found.json()["id"], created["id"]);
    let revealed = reveal(&app, &worker, &id, "phone").await;
    assert_eq!(revealed.json()["value"], "13600001111");
    let changed = patch_resident(
        &app,
        &worker,
        &id,
        Some("\"1\""),
        &json!({"address": "新地址"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let issued = issue_certificate(
        &app,
        &worker,
        &id,
        &certificate_body(&number, "intellectual", 3, "2020-01-01"),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    assert!(events_about(&app, "access_denied", &id).await.is_empty());

    // Moving its own resident out of its towns is refused.
    let version = stored(&app, &id).await.version;
    let current = format!("\"{version}\"");
    for body in [
        json!({"town_code": XIKOU}),
        json!({"town_code": XIKOU, "village_code": XIKOU_VILLAGE}),
    ] {
        let answer = patch_resident(&app, &worker, &id, Some(&current), &body).await;
        assert_eq!(
            field_errors(&answer),
            [("town_code".to_owned(), "out_of_scope".to_owned())],
            "{body}"
        );
    }
    let answer = patch_resident(
        &app,
        &worker,
        &id,
        Some(&current),
        &json!({"village_code": XIKOU_VILLAGE}),
    )
    .await;
    assert_eq!(fields(&answer), ["village_code"]);
    let row = stored(&app, &id).await;
    assert_eq!((row.town_code.as_str(), row.version), (JINPING, version));

    // Auditors read every town but write nothing.
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    assert_eq!(
        app.get_as(&auditor, &resident_path(&id)).await.status,
        200,
        "an auditor reads"
    );
    app.create_resident(
        &auditor,
        &resident_body(&id_number("330213", "1971-07-07", 59), "某", JINPING),
    )
    .await
    .problem(403, "forbidden");
    patch_resident(&app, &auditor, &id, Some(&current), &json!({"name": "某"}))
        .await
        .problem(403, "forbidden");
}

/// A change is a JSON merge patch: `null` clears an optional field; the fields a resident must
/// have cannot be cleared (named all at once, before the version is weighed); for the household
/// flags and the members that are not fields, `null` is the same as leaving them out; an
/// unknown member is refused even as `null`.
#[actix_web::test]
async fn null_in_a_change_clears_only_what_may_be_empty() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1975-03-03", 7);
    let created = register_resident(
        &app,
        &admin,
        with(
            resident_body(&number, "王五", JINPING),
            json!({"address": "锦屏路1号", "household_flags": ["multiple_disabled"]}),
        ),
    )
    .await;
    let id = id_of(&created);

    let cleared = json!({"name": null, "town_code": null, "registered_on": null});
    for if_match in ["\"1\"", "\"7\""] {
        let answer = patch_resident(&app, &admin, &id, Some(if_match), &cleared).await;
        assert_eq!(
            field_errors(&answer),
            [
                ("name".to_owned(), "required".to_owned()),
                ("town_code".to_owned(), "required".to_owned()),
                ("registered_on".to_owned(), "required".to_owned()),
            ]
        );
    }
    // Members of a wrong type, fields or not, are named in one answer, in the body's order.
    let body = json!({"work_capacity": "yes", "household_status": "poor", "address": 5});
    let answer = patch_resident(&app, &admin, &id, None, &body).await;
    assert_eq!(
        field_errors(&answer),
        [
            ("address".to_owned(), "invalid_type".to_owned()),
            ("household_status".to_owned(), "unknown_code".to_owned()),
            ("work_capacity".to_owned(), "invalid_type".to_owned()),
        ]
    );
    let answer = patch_resident(&app, &admin, &id, Some("\"1\""), &json!({"bogus": null})).await;
    assert_eq!(
        field_errors(&answer),
        [("bogus".to_owned(), "unknown_field".to_owned())]
    );
    assert_eq!(stored(&app, &id).await.version, 1);

    let body = json!({
        "household_flags": null,
        "household_status": null,
        "household_status_since": null,
        "id_number": null,
        "address": null,
    });
    let changed = patch_resident(&app, &admin, &id, Some("\"1\""), &body).await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let resident = changed.json();
    assert_eq!(resident["address"], Value::Null);
    assert_eq!(resident["household_flags"], json!(["multiple_disabled"]));
    assert_eq!(resident["household_status"], "none");
    assert_eq!(resident["name"], "王五");
}

// 5. Concurrency -------------------------------------------------------------------------------

#[actix_web::test]
async fn a_change_needs_the_current_etag() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1980-01-01", 1);
    let id = id_of(&register_resident(&app, &admin, resident_body(&number, "张三", JINPING)).await);
    let read = app.get_as(&admin, &resident_path(&id)).await;
    assert_eq!(etag(&read), "\"1\"");

    patch_resident(&app, &admin, &id, None, &json!({"name": "张三丰"}))
        .await
        .problem(428, "precondition_required");
    for stale in ["\"0\"", "\"2\"", "1", "garbage"] {
        patch_resident(&app, &admin, &id, Some(stale), &json!({"name": "张三丰"}))
            .await
            .problem(412, "precondition_failed");
    }
    assert_eq!(stored(&app, &id).await.version, 1);

    let changed =
        patch_resident(&app, &admin, &id, Some("\"1\""), &json!({"name": "张三丰"})).await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(etag(&changed), "\"2\"");
    assert_eq!(changed.json()["name"], "张三丰");
    assert_eq!(changed.json()["version"], 2);
    // The old ETag is stale now.
    patch_resident(&app, &admin, &id, Some("\"1\""), &json!({"name": "张君宝"}))
        .await
        .problem(412, "precondition_failed");
    let read = app.get_as(&admin, &resident_path(&id)).await;
    assert_eq!(etag(&read), "\"2\"");
    assert_eq!(read.json()["name"], "张三丰");
}

#[actix_web::test]
async fn of_two_concurrent_changes_with_the_same_etag_exactly_one_wins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1980-01-01", 1);
    let id = id_of(&register_resident(&app, &admin, resident_body(&number, "张三", JINPING)).await);
    let rounds = 5;
    for round in 0..rounds {
        let current = etag(&app.get_as(&admin, &resident_path(&id)).await);
        let version_before = stored(&app, &id).await.version;
        let bodies = [
            json!({"name": format!("甲{round}"), "address": format!("甲地{round}"), "phone": "13800000001"}),
            json!({"name": format!("乙{round}"), "address": format!("乙地{round}"), "phone": "13800000002"}),
        ];
        let (a, b) = futures_util::future::join(
            app.send_as(
                &admin,
                patch_request(&resident_path(&id), Some(&current), &bodies[0]),
            ),
            app.send_as(
                &admin,
                patch_request(&resident_path(&id), Some(&current), &bodies[1]),
            ),
        )
        .await;
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 412],
            "round {round}: {} / {}",
            a.text(),
            b.text()
        );
        let (winner, loser, body) = if a.status == 200 {
            (a, b, &bodies[0])
        } else {
            (b, a, &bodies[1])
        };
        loser.problem(412, "precondition_failed");
        let row = stored(&app, &id).await;
        assert_eq!(row.version, version_before + 1, "round {round}");
        assert_eq!(row.name, body["name"].as_str().unwrap());
        assert_eq!(row.address.as_deref(), body["address"].as_str());
        assert_eq!(winner.json()["name"], body["name"]);
        let phone = reveal(&app, &admin, &id, "phone").await.json()["value"].clone();
        assert_eq!(
            phone, body["phone"],
            "round {round}: the winner's phone, not a mix"
        );
    }
    assert_eq!(
        events_about(&app, "resident_update", &id).await.len(),
        rounds
    );
}

#[actix_web::test]
async fn the_etag_of_the_file_changes_when_a_certificate_is_issued() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1980-01-01", 1);
    let id = id_of(&register_resident(&app, &admin, resident_body(&number, "张三", JINPING)).await);
    let file_path = format!("{}/file", resident_path(&id));
    let before = etag(&app.get_as(&admin, &file_path).await);

    let issued = issue_certificate(
        &app,
        &admin,
        &id,
        &certificate_body(&number, "hearing", 2, "2020-01-01"),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    let file = app.get_as(&admin, &file_path).await;
    let after = etag(&file);
    assert_ne!(after, before);
    assert_eq!(file.json()["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(etag(&app.get_as(&admin, &resident_path(&id)).await), after);

    // A change made with the file read before the certificate is stale.
    patch_resident(&app, &admin, &id, Some(&before), &json!({"name": "张三丰"}))
        .await
        .problem(412, "precondition_failed");
    let changed = patch_resident(&app, &admin, &id, Some(&after), &json!({"name": "张三丰"})).await;
    assert_eq!(changed.status, 200, "{}", changed.text());
}

// 6. Search ------------------------------------------------------------------------------------

/// Five residents across two towns, three villages, every status and several certificates
/// (李张's cancelled by the death).
async fn search_fixture(app: &TestApp, admin: &Session) {
    app.create_village(admin, JINPING_VILLAGE, "南山村", JINPING)
        .await;
    app.create_village(admin, JINPING_VILLAGE_2, "北山村", JINPING)
        .await;
    app.create_village(admin, XIKOU_VILLAGE, "岩头村", XIKOU)
        .await;
    let people = [
        (
            "张三",
            JINPING,
            Some(JINPING_VILLAGE),
            "dibao",
            Some(("physical", 2, "2018-01-01")),
        ),
        (
            "张四",
            JINPING,
            Some(JINPING_VILLAGE_2),
            "none",
            Some(("mental", 1, "2022-01-01")),
        ),
        (
            "李张",
            XIKOU,
            Some(XIKOU_VILLAGE),
            "tekun",
            Some(("speech", 2, "2020-01-01")),
        ),
        ("王五", JINPING, None, "dibian", None),
        (
            "赵六",
            XIKOU,
            None,
            "none",
            Some(("hearing", 3, "2023-06-01")),
        ),
    ];
    for (n, (name, town, village, household, cert)) in people.into_iter().enumerate() {
        let number = id_number("330213", "1960-01-01", 100 + n as u16);
        let body = with(
            resident_body(&number, name, town),
            json!({
                "village_code": village,
                "household_status": household,
                "registered_on": "2015-01-01",
            }),
        );
        let id = id_of(&register_resident(app, admin, body).await);
        if let Some((category, grade, issued_on)) = cert {
            let answer = issue_certificate(
                app,
                admin,
                &id,
                &certificate_body(&number, category, grade, issued_on),
            )
            .await;
            assert_eq!(answer.status, 201, "{}", answer.text());
        }
        // Ends of life are recorded afterwards, as they happen.
        let end = match name {
            "李张" => Some(json!({"deceased_on": "2023-05-01"})),
            "王五" => Some(json!({"moved_out_on": "2022-01-01"})),
            _ => None,
        };
        if let Some(end) = end {
            let version = stored(app, &id).await.version;
            let answer =
                patch_resident(app, admin, &id, Some(&format!("\"{version}\"")), &end).await;
            assert_eq!(answer.status, 200, "{}", answer.text());
        }
    }
}

#[actix_web::test]
async fn search_filters_narrow_to_what_was_asked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    search_fixture(&app, &admin).await;
    let all = ["张三", "张四", "李张", "王五", "赵六"];
    let cases: Vec<(Query, Vec<&str>)> = vec![
        (vec![], all.to_vec()),
        // Any part of the name (李张's given name too); wildcards are taken literally.
        (vec![("q", "张")], vec!["张三", "张四", "李张"]),
        (vec![("q", " 张三 ")], vec!["张三"]),
        (vec![("q", "三")], vec!["张三"]),
        (vec![("q", "%")], vec![]),
        (vec![("q", "_")], vec![]),
        (vec![("q", "")], all.to_vec()),
        (vec![("town", XIKOU)], vec!["李张", "赵六"]),
        (vec![("town", JINPING)], vec!["张三", "张四", "王五"]),
        (vec![("village", JINPING_VILLAGE)], vec!["张三"]),
        (vec![("village", XIKOU_VILLAGE)], vec!["李张"]),
        (vec![("category", "physical")], vec!["张三"]),
        (vec![("category", "visual")], vec![]),
        // 李张's certificate was cancelled by the death: only active certificates count.
        (vec![("category", "speech")], vec![]),
        (vec![("grade", "1")], vec!["张四"]),
        (vec![("category", "mental"), ("grade", "1")], vec!["张四"]),
        (vec![("category", "mental"), ("grade", "2")], vec![]),
        (vec![("status", "active")], vec!["张三", "张四", "赵六"]),
        (vec![("status", "deceased")], vec!["李张"]),
        (vec![("status", "moved_out")], vec!["王五"]),
        (vec![("household_status", "dibao")], vec!["张三"]),
        (vec![("household_status", "dibian")], vec!["王五"]),
        (vec![("household_status", "tekun")], vec!["李张"]),
        (vec![("household_status", "none")], vec!["张四", "赵六"]),
        // 张三's certificate runs to 2028-01-01, 张四's to 2032-01-01, 赵六's to 2033-06-01.
        (
            vec![("certificate_expiring_before", "2028-01-02")],
            vec!["张三"],
        ),
        (vec![("certificate_expiring_before", "2028-01-01")], vec![]),
        (
            vec![("certificate_expiring_before", "2033-01-01")],
            vec!["张三", "张四"],
        ),
        (
            vec![("town", JINPING), ("status", "active"), ("q", "张")],
            vec!["张三", "张四"],
        ),
        (vec![("town", XIKOU), ("q", "张")], vec!["李张"]),
        (vec![("town", XIKOU), ("q", "三")], vec![]),
    ];
    for (pairs, expected) in cases {
        assert_eq!(names(&app, &admin, &pairs).await, expected, "{pairs:?}");
    }

    // 李张's certificate ended with the death.
    assert_eq!(
        names(
            &app,
            &admin,
            &[("certificate_expiring_before", "2099-01-01")]
        )
        .await,
        ["张三", "张四", "赵六"]
    );

    // Every item is masked.
    let page = list(&app, &admin, &[]).await.json();
    for item in page["items"].as_array().unwrap() {
        assert!(
            item["id_number"].as_str().unwrap().contains("********"),
            "{item}"
        );
    }
}

#[actix_web::test]
async fn a_caseworker_searches_only_its_towns_and_an_auditor_all_of_them() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    search_fixture(&app, &admin).await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let both = app
        .session("both", Role::Caseworker, &[JINPING, XIKOU])
        .await;

    assert_eq!(names(&app, &worker, &[]).await, ["张三", "张四", "王五"]);
    assert!(names(&app, &worker, &[("town", XIKOU)]).await.is_empty());
    assert!(names(&app, &worker, &[("village", XIKOU_VILLAGE)])
        .await
        .is_empty());
    assert!(names(&app, &worker, &[("category", "hearing")])
        .await
        .is_empty());
    assert!(names(&app, &worker, &[("q", "李")]).await.is_empty());
    // A name in both towns: only the caseworker's residents are found, and counted.
    assert_eq!(names(&app, &worker, &[("q", "张")]).await, ["张三", "张四"]);
    assert_eq!(list(&app, &worker, &[("q", "张")]).await.json()["total"], 2);
    assert_eq!(list(&app, &worker, &[]).await.json()["total"], 3);
    assert_eq!(
        names(&app, &auditor, &[]).await,
        ["张三", "张四", "李张", "王五", "赵六"]
    );
    assert_eq!(
        names(&app, &auditor, &[("category", "hearing")]).await,
        ["赵六"]
    );
    assert_eq!(names(&app, &both, &[]).await.len(), 5);
}

#[actix_web::test]
async fn paging_gives_every_match_once_in_a_stable_order() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    search_fixture(&app, &admin).await;
    let everything = list(&app, &admin, &[]).await.json()["items"].clone();
    let all_ids: Vec<Value> = everything
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(all_ids.len(), 5);

    // A change in the middle of the walk does not reorder it.
    let first = all_ids[0].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut pairs = vec![("limit", "2".to_owned())];
        if let Some(c) = &cursor {
            pairs.push(("cursor", c.clone()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = list(&app, &admin, &pairs).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let page = answer.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|r| r["id"].clone()));
        pages += 1;
        if pages == 1 {
            let version = stored(&app, &first).await.version;
            let answer = patch_resident(
                &app,
                &admin,
                &first,
                Some(&format!("\"{version}\"")),
                &json!({"name": "张三改"}),
            )
            .await;
            assert_eq!(answer.status, 200, "{}", answer.text());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "the walk ends");
    }
    assert_eq!(seen, all_ids);
    assert_eq!(pages, 3);

    // With a filter too, one at a time; every page counts all three.
    let (names, totals) = walk(&app, &admin, &[("q", "张")], 1).await;
    assert_eq!(names, ["张三改", "张四", "李张"]);
    assert!(totals.iter().all(|t| *t == 3), "{totals:?}");
}

/// Every page of a search, `limit` at a time: the names in order, and each page's `total`.
async fn walk(
    app: &TestApp,
    session: &Session,
    filters: &[(&str, &str)],
    limit: usize,
) -> (Vec<String>, Vec<i64>) {
    let limit = limit.to_string();
    let (mut names, mut totals) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs: Vec<(&str, &str)> = filters.to_vec();
        pairs.push(("limit", &limit));
        if let Some(c) = &cursor {
            pairs.push(("cursor", c));
        }
        let answer = list(app, session, &pairs).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let page = answer.json();
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned()),
        );
        totals.push(page["total"].as_i64().expect("a total"));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (names, totals),
        }
        assert!(totals.len() < 100, "the walk ends");
    }
}

#[actix_web::test]
async fn bad_search_parameters_are_refused_by_name() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let history_cursor = {
        let number = id_number("330213", "1980-01-01", 1);
        let id =
            id_of(&register_resident(&app, &admin, resident_body(&number, "张三", JINPING)).await);
        patch_resident(&app, &admin, &id, Some("\"1\""), &json!({"name": "张三丰"})).await;
        let page = app
            .get_as(&admin, &format!("{}/history?limit=1", resident_path(&id)))
            .await
            .json();
        page["next_cursor"]
            .as_str()
            .expect("a second page")
            .to_owned()
    };
    let cases: Vec<(Query, &str)> = vec![
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "201")], "limit"),
        (vec![("limit", "-1")], "limit"),
        (vec![("limit", "ten")], "limit"),
        (vec![("page", "2")], "page"),
        (vec![("id_number", "330213198001010011")], "id_number"),
        (vec![("grade", "5")], "grade"),
        (vec![("grade", "0")], "grade"),
        (vec![("category", "blind")], "category"),
        (vec![("status", "alive")], "status"),
        (vec![("household_status", "rich")], "household_status"),
        (
            vec![("certificate_expiring_before", "2020-13-01")],
            "certificate_expiring_before",
        ),
        (vec![("cursor", "garbage!")], "cursor"),
        (vec![("cursor", history_cursor.as_str())], "cursor"),
    ];
    for (pairs, field) in cases {
        let answer = list(&app, &admin, &pairs).await;
        assert_eq!(fields(&answer), [field], "{pairs:?}");
    }
    assert_eq!(list(&app, &admin, &[("limit", "200")]).await.status, 200);
    assert_eq!(list(&app, &admin, &[("limit", "1")]).await.status, 200);
}

/// Registers residents with these names in 锦屏街道, one after the other.
async fn register_names(app: &TestApp, admin: &Session, names: &[&str]) {
    for (n, name) in names.iter().enumerate() {
        let number = id_number("330213", "1970-01-01", 300 + n as u16);
        register_resident(app, admin, resident_body(&number, name, JINPING)).await;
    }
}

#[actix_web::test]
async fn a_name_is_found_by_any_part_of_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    register_names(
        &app,
        &admin,
        &[
            "欧阳娜娜",
            "司马光",
            "王娜",
            "张三丰",
            "阳娜欧阳",
            "Anna Lee",
        ],
    )
    .await;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // The given name only, at the end, in the middle.
        ("娜娜", vec!["欧阳娜娜"]),
        ("三丰", vec!["张三丰"]),
        ("马", vec!["司马光"]),
        // One character, anywhere.
        ("娜", vec!["欧阳娜娜", "王娜", "阳娜欧阳"]),
        ("丰", vec!["张三丰"]),
        // Three characters from the middle to the end: all of them, in that order.
        ("阳娜娜", vec!["欧阳娜娜"]),
        ("欧阳娜", vec!["欧阳娜娜"]),
        // 阳娜欧阳 has the pairs 欧阳 and 阳娜, but not 欧阳娜.
        ("娜欧阳", vec!["阳娜欧阳"]),
        // Characters that are not next to each other are not a part of the name.
        ("欧娜", vec![]),
        ("张丰", vec![]),
        // Latin letters in any case, with the space between them.
        ("ANNA", vec!["Anna Lee"]),
        ("nna l", vec!["Anna Lee"]),
        ("e", vec!["Anna Lee"]),
        ("李", vec![]),
    ];
    for (q, expected) in cases {
        let answer = list(&app, &admin, &[("q", q)]).await;
        assert_eq!(answer.status, 200, "{q}: {}", answer.text());
        let page = answer.json();
        let found: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(found, expected, "q={q}");
        assert_eq!(page["total"], expected.len(), "q={q}");
    }

    // A renamed resident is found by its new name only.
    let id = list(&app, &admin, &[("q", "司马")]).await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let version = stored(&app, &id).await.version;
    let answer = patch_resident(
        &app,
        &admin,
        &id,
        Some(&format!("\"{version}\"")),
        &json!({"name": "司徒雷"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(names(&app, &admin, &[("q", "马")]).await.is_empty());
    assert_eq!(names(&app, &admin, &[("q", "徒雷")]).await, ["司徒雷"]);
}

#[actix_web::test]
async fn the_total_counts_every_match_over_every_page_in_the_callers_towns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    register_names(
        &app,
        &admin,
        &["王一", "王二", "张王", "王三", "李四", "王五"],
    )
    .await;
    let number = id_number("330213", "1970-01-01", 400);
    register_resident(&app, &admin, resident_body(&number, "王溪口", XIKOU)).await;

    let (found, totals) = walk(&app, &admin, &[("q", "王")], 2).await;
    assert_eq!(found, ["王一", "王二", "张王", "王三", "王五", "王溪口"]);
    assert_eq!(totals, [6, 6, 6]);
    // No filter: every resident.
    let (all, totals) = walk(&app, &admin, &[], 4).await;
    assert_eq!(all.len(), 7);
    assert_eq!(totals, [7, 7]);
    // With another filter.
    let (found, totals) = walk(&app, &admin, &[("q", "王"), ("town", XIKOU)], 2).await;
    assert_eq!((found, totals), (vec!["王溪口".to_owned()], vec![1]));
    // Nothing found: an empty page counts 0.
    let (found, totals) = walk(&app, &admin, &[("q", "赵")], 2).await;
    assert_eq!((found.len(), totals), (0, vec![0]));

    // A caseworker of 溪口镇 finds and counts only its own.
    let worker = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let (found, totals) = walk(&app, &worker, &[("q", "王")], 2).await;
    assert_eq!((found, totals), (vec!["王溪口".to_owned()], vec![1]));
    let (found, totals) = walk(&app, &worker, &[("q", "王一")], 2).await;
    assert_eq!((found.len(), totals), (0, vec![0]));
}

/// Residents registered before the migration that adds the name index are found by any part of
/// their names once it has run (it fills the index from the stored names).
#[actix_web::test]
async fn residents_registered_before_the_name_index_are_found_after_its_migration() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (down, up) = if app.is_postgres() {
        (
            include_str!("../../migrations/postgres/2026-12-06-000010_name_search/down.sql"),
            include_str!("../../migrations/postgres/2026-12-06-000010_name_search/up.sql"),
        )
    } else {
        (
            include_str!("../../migrations/sqlite/2026-12-06-000010_name_search/down.sql"),
            include_str!("../../migrations/sqlite/2026-12-06-000010_name_search/up.sql"),
        )
    };
    let run = |sql: &'static str| {
        db::run(&app.state.pool, move |conn| {
            diesel::connection::SimpleConnection::batch_execute(conn, sql)?;
            Ok(())
        })
    };
    // As before the migration: no index of names, residents registered.
    run(down).await.unwrap();
    register_names(&app, &admin, &["欧阳娜娜", "司马光", "Anna Lee"]).await;
    run(up).await.unwrap();
    assert_eq!(names(&app, &admin, &[("q", "娜娜")]).await, ["欧阳娜娜"]);
    assert_eq!(names(&app, &admin, &[("q", "光")]).await, ["司马光"]);
    assert_eq!(names(&app, &admin, &[("q", "ANNA L")]).await, ["Anna Lee"]);
    // And the triggers keep it from then on.
    let number = id_number("330213", "1970-01-01", 399);
    register_resident(&app, &admin, resident_body(&number, "王光明", JINPING)).await;
    assert_eq!(
        names(&app, &admin, &[("q", "光")]).await,
        ["司马光", "王光明"]
    );
}

/// The name search reads `resident_name_grams` by its primary key on both backends, for a query
/// of one (a range of the key), two or more characters, counting included; checked on a seeded district, whose
/// residents (written by multi-row statements, on PostgreSQL without triggers) are found.
#[actix_web::test]
async fn name_search_uses_its_index_on_both_backends() {
    use fenghua_registry::db::residents::{search_plans, ResidentFilter};
    let app = spawn_app().await;
    let admin = app.admin().await;
    let options = fenghua_registry::demo::Options {
        residents: 3_000,
        seed: 7,
        force: false,
    };
    let (url, keys) = (app.db.url.clone(), app.state.config.keys.clone());
    actix_web::web::block(move || {
        fenghua_registry::demo::seed(&url, &keys, &options, &mut |_, _, _| {})
    })
    .await
    .unwrap()
    .expect("seeded");

    // Some seeded resident's name, and a part of it.
    let name: String = db::run(&app.state.pool, |conn| {
        Ok(residents::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "length(residents.name) = 3",
            ))
            .order(residents::id.desc())
            .select(residents::name)
            .first(conn)?)
    })
    .await
    .unwrap();
    let given: String = name.chars().skip(1).collect();
    let page = list(&app, &admin, &[("q", &given), ("limit", "200")])
        .await
        .json();
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == name.as_str()),
        "{given} does not find {name}: {page}"
    );
    assert!(page["total"].as_i64().unwrap() >= 1);

    let postgres = app.is_postgres();
    for q in [
        given.chars().last().unwrap().to_string(),
        given.clone(),
        name.clone(),
    ] {
        let filter = ResidentFilter {
            name: Some(q.clone()),
            ..Default::default()
        };
        let (page, total) = db::run(&app.state.pool, move |conn| {
            if postgres {
                diesel::connection::SimpleConnection::batch_execute(conn, "ANALYZE")?;
            }
            Ok(search_plans(conn, &filter, 50)?)
        })
        .await
        .unwrap();
        for plan in [&page, &total] {
            let text = plan.join("\n");
            let uses_index = if postgres {
                text.contains("resident_name_grams_pkey")
            } else {
                // `(gram=?)` for a pair, `(gram>? AND gram<?)` for one character.
                text.contains("SEARCH resident_name_grams USING PRIMARY KEY (gram")
            };
            assert!(
                uses_index,
                "q={q}: the plan does not use the index:\n{text}"
            );
            assert!(
                !text.contains("Seq Scan on resident_name_grams")
                    && !text.contains("SCAN resident_name_grams"),
                "q={q}: the plan scans the grams:\n{text}"
            );
            eprintln!("q={q}:\n{text}\n");
        }
    }
}

// 7. History -----------------------------------------------------------------------------------

#[actix_web::test]
async fn the_history_lists_every_change_oldest_first_and_no_reads() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let number = id_number("330213", "1980-01-01", 1);
    let created = register_resident(
        &app,
        &worker,
        with(
            resident_body(&number, "张三", JINPING),
            json!({"phone": "13812345678", "registered_on": "2015-01-01"}),
        ),
    )
    .await;
    let id = id_of(&created);
    app.get_as(&admin, &resident_path(&id)).await;
    let changed = patch_resident(
        &app,
        &admin,
        &id,
        Some("\"1\""),
        &json!({"name": "张三丰", "phone": "13987654321"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    app.get_as(&worker, &format!("{}/file", resident_path(&id)))
        .await;
    let issued = issue_certificate(
        &app,
        &worker,
        &id,
        &certificate_body(&number, "speech", 4, "2020-01-01"),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    lookup(&app, &worker, &number).await;
    reveal(&app, &admin, &id, "phone").await;
    app.get_as(&admin, &format!("{}/history", resident_path(&id)))
        .await;

    let answer = app
        .get_as(&worker, &format!("{}/history", resident_path(&id)))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let page = answer.json();
    assert_eq!(page["next_cursor"], Value::Null);
    let items = page["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["resident_create", "resident_update", "certificate_issue"]
    );
    let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );

    let (create, update, cert) = (&items[0], &items[1], &items[2]);
    assert_eq!(create["actor_username"], "jinping");
    assert_eq!(
        create["changes"]["name"],
        json!({"from": null, "to": "张三"})
    );
    assert_eq!(create["changes"]["id_number"], "[redacted]");
    assert_eq!(update["actor_username"], "admin");
    assert_eq!(update["actor_id"], json!(admin.user_id));
    assert_eq!(
        update["changes"]["name"],
        json!({"from": "张三", "to": "张三丰"})
    );
    assert_eq!(update["changes"]["phone"], "[redacted]");
    assert!(
        update["changes"].get("registered_on").is_none(),
        "only what changed"
    );
    assert_eq!(cert["entity_type"], "certificate");
    assert_eq!(cert["changes"]["category"]["to"], "speech");
    let text = answer.text();
    for secret in [number.as_str(), "13812345678", "13987654321"] {
        assert!(!text.contains(secret), "{text}");
    }

    // The reads are in the audit trail, only not in the history.
    let events = app.audit_events().await;
    let about = |action: &str| {
        events
            .iter()
            .filter(|e| e.action == action && e.resident_id.as_deref() == Some(id.as_str()))
            .count()
    };
    assert_eq!(about("resident_read"), 2, "a read and a lookup");
    assert_eq!(about("file_read"), 1);
    assert_eq!(about("history_read"), 2);
    assert_eq!(about("resident_reveal"), 1);

    // Paged, one at a time.
    let first = app
        .get_as(&admin, &format!("{}/history?limit=2", resident_path(&id)))
        .await
        .json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_as(
            &admin,
            &format!("{}/history?limit=2&cursor={next}", resident_path(&id)),
        )
        .await
        .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["action"], "certificate_issue");
    assert_eq!(second["next_cursor"], Value::Null);
}

// 8. Household status --------------------------------------------------------------------------

#[actix_web::test]
async fn a_new_household_status_closes_the_previous_period() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1980-01-01", 1);
    let id = id_of(
        &register_resident(
            &app,
            &admin,
            with(
                resident_body(&number, "张三", JINPING),
                json!({"household_status": "dibao", "household_status_since": "2020-01-01", "registered_on": "2019-01-01"}),
            ),
        )
        .await,
    );

    let changed = patch_resident(
        &app,
        &admin,
        &id,
        Some("\"1\""),
        &json!({"household_status": "dibian", "household_status_since": "2024-01-01"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let expected_history = json!([
        {"status": "dibao", "since": "2020-01-01", "until": "2023-12-31"},
        {"status": "dibian", "since": "2024-01-01", "until": null},
    ]);
    let body = changed.json();
    assert_eq!(body["household_status"], "dibian");
    assert_eq!(body["household_status_since"], "2024-01-01");
    assert_eq!(body["household_status_history"], expected_history);
    assert_eq!(etag(&changed), "\"2\"");
    let read = app.get_as(&admin, &resident_path(&id)).await.json();
    assert_eq!(read["household_status_history"], expected_history);
    let update = events_about(&app, "resident_update", &id).await;
    let changes: Value = serde_json::from_str(update[0].changes.as_deref().unwrap()).unwrap();
    assert_eq!(
        changes["household_status"],
        json!({"from": "dibao", "to": "dibian"})
    );

    // A new period starts after the current one, not on or before its first day.
    let before = snapshot(&app, &admin).await;
    for (body, field) in [
        (
            json!({"household_status": "tekun", "household_status_since": "2024-01-01"}),
            "household_status_since",
        ),
        (
            json!({"household_status": "tekun", "household_status_since": "2023-06-01"}),
            "household_status_since",
        ),
        (
            json!({"household_status": "tekun", "household_status_since": "1979-12-31"}),
            "household_status_since",
        ),
        (
            json!({"household_status": "tekun", "household_status_since": days_from_today(30)}),
            "household_status_since",
        ),
        (
            json!({"household_status_since": "2025-01-01"}),
            "household_status",
        ),
        (json!({"household_status": "poor"}), "household_status"),
    ] {
        let answer = patch_resident(&app, &admin, &id, Some("\"2\""), &body).await;
        let named = fields(&answer);
        assert!(named.iter().any(|f| f == field), "{body}: {named:?}");
        assert_eq!(
            snapshot(&app, &admin).await,
            before,
            "{body} changed something"
        );
    }

    // Without a date it starts today.
    let changed = patch_resident(
        &app,
        &admin,
        &id,
        Some("\"2\""),
        &json!({"household_status": "tekun"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let today = fenghua_registry::domain::today();
    let history = &changed.json()["household_status_history"];
    assert_eq!(history[1]["until"], (today - Duration::days(1)).to_string());
    assert_eq!(
        history[2],
        json!({"status": "tekun", "since": today.to_string(), "until": null})
    );
}

// 9. Death and move-out ------------------------------------------------------------------------

#[actix_web::test]
async fn a_death_ends_the_active_certificate_the_same_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1950-01-01", 1);
    let id = id_of(
        &register_resident(
            &app,
            &admin,
            with(
                resident_body(&number, "张三", JINPING),
                json!({"registered_on": "2010-01-01"}),
            ),
        )
        .await,
    );
    let issued = issue_certificate(
        &app,
        &admin,
        &id,
        &certificate_body(&number, "visual", 2, "2020-03-01"),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    let cert = issued.json();
    assert_eq!(cert["status"], "active");
    assert_eq!(cert["valid_until"], "2030-03-01");
    let current = etag(&app.get_as(&admin, &resident_path(&id)).await);

    // A death recorded before the certificate was issued cannot be.
    let before = snapshot(&app, &admin).await;
    let answer = patch_resident(
        &app,
        &admin,
        &id,
        Some(&current),
        &json!({"deceased_on": "2020-02-29"}),
    )
    .await;
    assert_eq!(
        field_errors(&answer),
        [("deceased_on".to_owned(), "before_certificate".to_owned())]
    );
    assert_eq!(snapshot(&app, &admin).await, before);
    let file = app
        .get_as(&admin, &format!("{}/file", resident_path(&id)))
        .await
        .json();
    assert_eq!(file["certificates"][0]["status"], "active");

    let answer = patch_resident(
        &app,
        &admin,
        &id,
        Some(&current),
        &json!({"deceased_on": "2024-02-10"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["status"], "deceased");
    assert_eq!(body["deceased_on"], "2024-02-10");

    let file = app
        .get_as(&admin, &format!("{}/file", resident_path(&id)))
        .await
        .json();
    let certs = file["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["id"], cert["id"]);
    assert_eq!(certs[0]["status"], "cancelled");
    assert_eq!(certs[0]["cancelled_on"], "2024-02-10");
    assert_eq!(certs[0]["cancel_reason"], "deceased");
    assert_eq!(file["resident"]["status"], "deceased");

    let history = app
        .get_as(&admin, &format!("{}/history", resident_path(&id)))
        .await
        .json();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "resident_create",
            "certificate_issue",
            "resident_update",
            "certificate_cancel"
        ]
    );

    // The deceased get no new certificate.
    issue_certificate(
        &app,
        &admin,
        &id,
        &certificate_body(&number, "visual", 2, "2024-03-01"),
    )
    .await
    .problem(409, "resident_not_active");
}

#[actix_web::test]
async fn a_move_out_ends_the_active_certificate_the_same_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let number = id_number("330213", "1950-01-01", 2);
    let id = id_of(
        &register_resident(
            &app,
            &admin,
            with(
                resident_body(&number, "李四", XIKOU),
                json!({"registered_on": "2010-01-01"}),
            ),
        )
        .await,
    );
    let issued = issue_certificate(
        &app,
        &admin,
        &id,
        &certificate_body(&number, "physical", 3, "2019-05-05"),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    let current = etag(&app.get_as(&admin, &resident_path(&id)).await);

    let answer = patch_resident(
        &app,
        &admin,
        &id,
        Some(&current),
        &json!({"moved_out_on": "2019-05-04"}),
    )
    .await;
    assert_eq!(fields(&answer), ["moved_out_on"]);

    let answer = patch_resident(
        &app,
        &admin,
        &id,
        Some(&current),
        &json!({"moved_out_on": "2023-09-09"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status"], "moved_out");
    let file = app
        .get_as(&admin, &format!("{}/file", resident_path(&id)))
        .await
        .json();
    assert_eq!(file["certificates"][0]["status"], "cancelled");
    assert_eq!(file["certificates"][0]["cancelled_on"], "2023-09-09");
    assert_eq!(file["certificates"][0]["cancel_reason"], "moved_out");
}

/// The search as a file for Excel (issue 14, Excel out): scoped like the search, identifiers
/// masked, Chinese headers and labels, paging refused, every export audited.
#[actix_web::test]
async fn the_search_exports_as_csv_and_xlsx_masked_scoped_and_audited() {
    use crate::reports::{csv_of, file_name, get_with, ok, sheets_of};
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    let app = spawn_app().await;
    let admin = app.admin().await;
    let (with_certificate, number) = register(
        &app,
        &admin,
        "1970-05-06",
        31,
        JINPING,
        json!({"phone": "13812345678"}),
    )
    .await;
    certify(
        &app,
        &admin,
        &with_certificate,
        &number,
        "physical",
        2,
        "2020-01-01",
    )
    .await;
    let (without, _) = register(&app, &admin, "1971-05-06", 32, JINPING, json!({})).await;
    register(&app, &admin, "1972-05-06", 33, XIKOU, json!({})).await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;

    let answer = app.get_as(&worker, "/api/v1/residents?format=csv").await;
    ok(&answer, "text/csv");
    assert!(
        file_name(&answer).starts_with("残疾人名单"),
        "{}",
        file_name(&answer)
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let (header, rows) = csv_of(&answer);
    assert_eq!(header[..3], ["档案编号", "姓名", "身份证号（脱敏）"]);
    assert_eq!(rows.len(), 2, "the caseworker's town only: {rows:?}");
    let text = String::from_utf8_lossy(&answer.body);
    assert!(!text.contains(&number), "no whole ID number in the file");
    assert!(
        !text.contains("13812345678"),
        "no whole phone number in the file"
    );
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let first = rows.iter().find(|r| r[0] == with_certificate).unwrap();
    assert_eq!(
        first[column("身份证号（脱敏）")],
        format!("{}************", &number[..6])
    );
    assert_eq!(first[column("镇（街道）代码")], JINPING);
    assert_eq!(first[column("残疾类别")], "肢体残疾");
    assert_eq!(first[column("残疾等级")], "2");
    assert_eq!(first[column("证件状态")], "有效");
    let second = rows.iter().find(|r| r[0] == without).unwrap();
    assert_eq!(second[column("残疾类别")], "");

    // The same rows as a workbook, chosen by Accept; the auditor sees every town.
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let answer = get_with(&app, &auditor, "/api/v1/residents", Some(XLSX)).await;
    ok(&answer, XLSX);
    let sheets = sheets_of(&answer);
    let sheet = &sheets["残疾人名单"];
    assert_eq!(sheet.len(), 1 + 3);

    // Paging is for JSON; the formats are those offered.
    for (query, field, code) in [
        ("format=csv&limit=10", "limit", "json_only"),
        ("format=xlsx&cursor=abc", "cursor", "json_only"),
        ("format=html", "format", "invalid"),
    ] {
        let answer = app
            .get_as(&worker, &format!("/api/v1/residents?{query}"))
            .await;
        assert_invalid(&answer, field, Some(code));
    }

    let exports = crate::helpers::events(&app, "resident_export").await;
    assert_eq!(exports.len(), 2, "{exports:?}");
    assert_eq!(exports[0].actor_username.as_deref(), Some("jinping"));
    let changes: Value = serde_json::from_str(exports[0].changes.as_deref().unwrap()).unwrap();
    assert_eq!(changes["rows"], 2);
    assert_eq!(changes["filters"]["format"], "csv");
}
