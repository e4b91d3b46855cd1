//! Bulk import, `POST /api/v1/imports/residents` (text/csv): UTF-8 with or without BOM and GBK;
//! rows checked like the API and rejected one by one with line, field and code; a known ID
//! number updates its resident; a second run of the same file changes nothing; a malformed file
//! changes nothing; roles and towns; the audit trail.

use diesel::prelude::*;
use serde_json::{json, Value};

use fenghua_registry::db::{
    self,
    schema::{certificates, household_statuses, residents},
};
use fenghua_registry::domain::role::Role;

use crate::helpers::{certificate_rows, date, masked};
use crate::helpers::{
    field_codes, file_of, register_named, register_with, spawn_app, spawn_app_with, sql, Answer,
    TestApp,
};
use crate::session::{id_number, Session, JINPING, XIKOU};

const IMPORT: &str = "/api/v1/imports/residents";
/// A village of 锦屏街道 and one of 溪口镇, made by [`villages`].
const JINPING_VILLAGE: &str = "330213001001";
const XIKOU_VILLAGE: &str = "330213100201";

async fn import(app: &TestApp, who: &Session, body: Vec<u8>) -> Answer {
    import_as(app, who, Some("text/csv; charset=utf-8"), body).await
}

async fn import_as(
    app: &TestApp,
    who: &Session,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = actix_web::test::TestRequest::post()
        .uri(IMPORT)
        .set_payload(body);
    if let Some(ct) = content_type {
        req = req.insert_header((actix_web::http::header::CONTENT_TYPE, ct));
    }
    app.send_as(who, req).await
}

/// Imports a file that must be accepted as a whole; returns the report.
async fn import_ok(app: &TestApp, who: &Session, body: Vec<u8>) -> Value {
    let answer = import(app, who, body).await;
    assert_eq!(answer.status, 200, "import: {}", answer.text());
    answer.json()
}

/// Lines joined into a file.
fn csv(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

/// The rows, created, updated and unchanged counts of a report, and its rejected lines.
fn counts(report: &Value) -> (u64, u64, u64, u64, Vec<u64>) {
    let n = |k: &str| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in {report}"))
    };
    let rejected = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    (
        n("rows"),
        n("created"),
        n("updated"),
        n("unchanged"),
        rejected,
    )
}

/// The `(field, code)` pairs reported for line `row`.
fn rejected_at(report: &Value, row: u64) -> Vec<(String, String)> {
    let rejected = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["row"] == row)
        .unwrap_or_else(|| panic!("line {row} was not rejected: {report}"));
    field_codes(&rejected["errors"])
}

#[track_caller]
fn assert_rejected(report: &Value, row: u64, field: &str, code: &str) {
    let errors = rejected_at(report, row);
    assert!(
        errors.iter().any(|(f, c)| f == field && c == code),
        "line {row}: expected {field}/{code} among {errors:?}"
    );
}

async fn resident_rows(app: &TestApp) -> i64 {
    db::run(&app.state.pool, |conn| {
        Ok(residents::table.count().get_result::<i64>(conn)?)
    })
    .await
    .unwrap()
}

/// `POST /residents/lookup` as `who`: the resident, or the answer's status.
async fn lookup(app: &TestApp, who: &Session, id_number: &str) -> Result<Value, u16> {
    let answer = app
        .post_as(
            who,
            "/api/v1/residents/lookup",
            &json!({ "id_number": id_number }),
        )
        .await;
    match answer.status.as_u16() {
        200 => Ok(answer.json()),
        other => Err(other),
    }
}

async fn found(app: &TestApp, who: &Session, id_number: &str) -> Value {
    lookup(app, who, id_number)
        .await
        .unwrap_or_else(|status| panic!("lookup answered {status}"))
}

/// One village under 锦屏街道 and one under 溪口镇.
async fn villages(app: &TestApp, admin: &Session) {
    app.create_village(admin, JINPING_VILLAGE, "南山社区", JINPING)
        .await;
    app.create_village(admin, XIKOU_VILLAGE, "岩头村", XIKOU)
        .await;
}

/// The actions of the events that change a resident's file.
async fn change_events(app: &TestApp) -> Vec<String> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| {
            e.action == "resident_create"
                || e.action == "resident_update"
                || e.action.starts_with("certificate_")
        })
        .map(|e| e.action)
        .collect()
}

/// Asserts that no ID number in `ids` (nor its birth-date part) appears in `text`.
#[track_caller]
fn assert_no_id_numbers(text: &str, ids: &[&str]) {
    for id in ids {
        assert!(
            !text.contains(id) && !text.contains(&id.to_lowercase()) && !text.contains(&id[..14]),
            "an ID number shows in: {text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Good files.
// ---------------------------------------------------------------------------------------------

const FULL_HEADER: &str = "id_number,name,town_code,village_code,address,phone,guardian_name,guardian_phone,household_status,household_status_since,household_flags,work_capacity,registered_on,deceased_on,moved_out_on,certificate_number,certificate_issued_on,certificate_valid_until";

/// Five residents using every column: two with certificates, one deceased, one moved out.
fn full_file() -> (Vec<u8>, [String; 5]) {
    let ids = [
        id_number("330283", "1965-03-14", 11),
        id_number("330283", "1972-08-01", 22),
        id_number("330283", "1990-12-31", 33),
        id_number("330283", "1940-01-02", 44),
        id_number("330283", "1985-06-15", 55),
    ];
    let [a, b, c, d, e] = &ids;
    let lines = [
        FULL_HEADER.to_owned(),
        format!("{a},张三,{JINPING},{JINPING_VILLAGE},锦屏街道南山路1号,13800001111,,,dibao,2020-01-01,multiple_disabled;elderly_caring_for_disabled,否,2019-05-01,,,{a}42,2019-06-01,"),
        format!("{b},李四,{XIKOU},{XIKOU_VILLAGE},,,李母,0574-88881234,,,,,2018-01-01,,,,,"),
        format!("{c},王五,{JINPING},,\"锦屏街道, 中山路 8 号\",139 0000 2222,,,tekun,2021-01-01,,是,2020-01-01,,,{c}11,2020/02/02,2026-02-02"),
        format!("{d},赵六,{XIKOU},,,,,,none,,,,2015-01-01,2023-03-03,,,,"),
        format!("{e},钱七,{JINPING},,,,,,,,,,2016-01-01,,2024-04-04,,,"),
    ];
    (csv(&lines), ids)
}

#[actix_web::test]
async fn a_good_file_creates_residents_and_their_certificates() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    villages(&app, &admin).await;
    let (file, ids) = full_file();
    let answer = import(&app, &admin, file).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_no_id_numbers(&answer.text(), &id_refs);
    let report = answer.json();
    assert_eq!(counts(&report), (5, 5, 0, 0, vec![]), "{report}");
    assert_eq!(resident_rows(&app).await, 5);
    assert_eq!(certificate_rows(&app).await, 2);

    let a = found(&app, &admin, &ids[0]).await;
    assert_eq!(a["name"], "张三");
    assert_eq!(a["id_number"], masked(&ids[0]));
    assert_eq!(a["birth_year"], 1965);
    assert_eq!(a["town_code"], JINPING);
    assert_eq!(a["village_code"], JINPING_VILLAGE);
    assert_eq!(a["address"], "锦屏街道南山路1号");
    assert_eq!(a["phone"], "138****1111");
    assert_eq!(a["household_status"], "dibao");
    assert_eq!(a["household_status_since"], "2020-01-01");
    let mut flags: Vec<&str> = a["household_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    flags.sort_unstable();
    assert_eq!(flags, ["elderly_caring_for_disabled", "multiple_disabled"]);
    assert_eq!(a["work_capacity"], false);
    assert_eq!(a["registered_on"], "2019-05-01");
    assert_eq!(a["status"], "active");
    let a_file = file_of(&app, &admin, a["id"].as_str().unwrap()).await;
    let certs = a_file["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["number"], masked(&format!("{}42", ids[0])));
    assert_eq!(certs[0]["category"], "physical");
    assert_eq!(certs[0]["grade"], 2);
    assert_eq!(certs[0]["issued_on"], "2019-06-01");
    assert_eq!(certs[0]["valid_until"], "2029-06-01");
    assert_eq!(certs[0]["status"], "active");

    let b = found(&app, &admin, &ids[1]).await;
    assert_eq!(b["guardian_name"], "李母");
    assert_eq!(b["guardian_phone"], "057*****1234");
    assert_eq!(b["household_status"], "none");
    assert_eq!(b["phone"], Value::Null);
    let b_file = file_of(&app, &admin, b["id"].as_str().unwrap()).await;
    assert_eq!(b_file["certificates"], json!([]));

    let c = found(&app, &admin, &ids[2]).await;
    assert_eq!(
        c["address"], "锦屏街道, 中山路 8 号",
        "a quoted cell keeps its comma"
    );
    assert_eq!(c["phone"], "139****2222");
    assert_eq!(c["work_capacity"], true);
    let c_file = file_of(&app, &admin, c["id"].as_str().unwrap()).await;
    assert_eq!(c_file["certificates"][0]["category"], "visual");
    assert_eq!(c_file["certificates"][0]["issued_on"], "2020-02-02");
    assert_eq!(c_file["certificates"][0]["valid_until"], "2026-02-02");

    let d = found(&app, &admin, &ids[3]).await;
    assert_eq!(d["status"], "deceased");
    assert_eq!(d["deceased_on"], "2023-03-03");
    let e = found(&app, &admin, &ids[4]).await;
    assert_eq!(e["status"], "moved_out");
    assert_eq!(e["moved_out_on"], "2024-04-04");

    // Audited: one event per resident and certificate, and the import with its counts.
    let changes = change_events(&app).await;
    assert_eq!(
        changes.iter().filter(|a| *a == "resident_create").count(),
        5
    );
    assert_eq!(
        changes.iter().filter(|a| *a == "certificate_issue").count(),
        2
    );
    let events = app.audit_events().await;
    let imports: Vec<_> = events
        .iter()
        .filter(|e| e.action == "resident_import")
        .collect();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].actor_username.as_deref(), Some("admin"));
    let summary: Value = serde_json::from_str(imports[0].changes.as_deref().unwrap()).unwrap();
    assert_eq!(
        summary,
        json!({"rows": 5, "created": 5, "updated": 0, "unchanged": 0, "rejected": 0})
    );
    for event in &events {
        assert_no_id_numbers(event.changes.as_deref().unwrap_or_default(), &id_refs);
    }
}

#[actix_web::test]
async fn utf8_with_a_bom_and_crlf_line_ends_is_read() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let one = id_number("330283", "1977-07-07", 101);
    let two = id_number("330283", "1988-08-08", 102);
    let text = format!(
        "\u{FEFF}id_number,name,town_code\r\n{one},欧阳娜娜,{JINPING}\r\n{two},司马光,{XIKOU}\r\n"
    );
    let report = import_ok(&app, &admin, text.into_bytes()).await;
    assert_eq!(counts(&report), (2, 2, 0, 0, vec![]), "{report}");
    assert_eq!(found(&app, &admin, &one).await["name"], "欧阳娜娜");
    assert_eq!(found(&app, &admin, &two).await["town_code"], XIKOU);
}

#[actix_web::test]
async fn gbk_as_excel_saves_it_is_read() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let one = id_number("330283", "1966-06-06", 201);
    let two = id_number("330283", "1955-05-05", 202);
    let text = format!(
        "id_number,name,town_code,address,guardian_name\r\n\
         {one},张三丰,{JINPING},锦屏街道中山东路,张母\r\n\
         {two},欧阳锋,{XIKOU},溪口镇武岭路,\r\n"
    );
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let bytes = bytes.into_owned();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the test file must not also be UTF-8"
    );
    let report = import_ok(&app, &admin, bytes).await;
    assert_eq!(counts(&report), (2, 2, 0, 0, vec![]), "{report}");
    let first = found(&app, &admin, &one).await;
    assert_eq!(first["name"], "张三丰");
    assert_eq!(first["address"], "锦屏街道中山东路");
    assert_eq!(first["guardian_name"], "张母");
    assert_eq!(found(&app, &admin, &two).await["name"], "欧阳锋");
}

// ---------------------------------------------------------------------------------------------
// Rejected rows.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn each_bad_row_is_reported_and_the_good_rows_are_imported() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    villages(&app, &admin).await;
    let good1 = id_number("330283", "1970-01-01", 301);
    let good2 = id_number("330283", "1971-02-02", 302);
    let bad_cert = id_number("330283", "1972-03-03", 303);
    let no_date = id_number("330283", "1973-04-04", 304);
    let mut bad_check = id_number("330283", "1974-05-05", 305);
    let wrong = if bad_check.ends_with('0') { "1" } else { "0" };
    bad_check.replace_range(17..18, wrong);
    let ids: Vec<String> = (306..312)
        .map(|s| id_number("330283", "1975-06-06", s))
        .collect();
    let header = "id_number,name,town_code,village_code,phone,household_status,registered_on,certificate_number,certificate_issued_on";
    let lines = vec![
        header.to_owned(),
        /* 2 */
        format!("{good1},好人甲,{JINPING},{JINPING_VILLAGE},13800001111,dibao,2015-01-01,,"),
        /* 3 */ format!("{bad_check},错号码,{JINPING},,,,2015-01-01,,"),
        /* 4 */ format!("{},无此镇,330213999,,,,2015-01-01,,", ids[0]),
        /* 5 */ format!("{},错村,{JINPING},{XIKOU_VILLAGE},,,2015-01-01,,", ids[1]),
        /* 6 */ format!("{},错日期,{JINPING},,,,2020-13-01,,", ids[2]),
        /* 7 */ format!("{},错电话,{JINPING},,12345,,2015-01-01,,", ids[3]),
        /* 8 */ format!("{},错状态,{JINPING},,,rich,2015-01-01,,", ids[4]),
        /* 9 */ format!("{good2},好人乙,{XIKOU},,,,2015-01-01,,"),
        /* 10 */ format!("{good1},重复,{JINPING},,,,2015-01-01,,"),
        /* 11 */ format!("{bad_cert},错证号,{JINPING},,,,2015-01-01,{good1}42,2016-01-01"),
        /* 12 */ format!("{no_date},缺发证日期,{JINPING},,,,2015-01-01,{no_date}42,"),
    ];
    let answer = import(&app, &admin, csv(&lines)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let mut all_ids: Vec<&str> = vec![&good1, &good2, &bad_cert, &no_date, &bad_check];
    all_ids.extend(ids.iter().map(String::as_str));
    assert_no_id_numbers(&answer.text(), &all_ids);
    let report = answer.json();
    assert_eq!(
        counts(&report),
        (11, 2, 0, 0, vec![3, 4, 5, 6, 7, 8, 10, 11, 12]),
        "{report}"
    );
    assert_rejected(&report, 3, "id_number", "invalid_check_digit");
    assert_rejected(&report, 4, "town_code", "unknown_town");
    assert_rejected(&report, 5, "village_code", "not_in_town");
    assert_rejected(&report, 6, "registered_on", "invalid_date");
    assert_rejected(&report, 7, "phone", "invalid_format");
    assert_rejected(&report, 8, "household_status", "unknown_code");
    assert_rejected(&report, 10, "id_number", "repeated_in_file");
    assert_rejected(&report, 11, "certificate_number", "holder_mismatch");
    assert_rejected(&report, 12, "certificate_issued_on", "required");
    for row in report["rejected"].as_array().unwrap() {
        for error in row["errors"].as_array().unwrap() {
            assert!(error["message"].is_string(), "a readable reason: {error}");
        }
    }

    // Only the good rows are stored; a row refused while writing left nothing behind.
    assert_eq!(resident_rows(&app).await, 2);
    assert_eq!(certificate_rows(&app).await, 0);
    let first = found(&app, &admin, &good1).await;
    assert_eq!(
        first["name"], "好人甲",
        "the repeated line did not overwrite the first"
    );
    assert_eq!(first["household_status"], "dibao");
    assert_eq!(found(&app, &admin, &good2).await["name"], "好人乙");
    for id in [&bad_cert, &no_date] {
        assert_eq!(lookup(&app, &admin, id).await.unwrap_err(), 404);
    }
    let summary: Value = serde_json::from_str(
        app.audit_events()
            .await
            .iter()
            .find(|e| e.action == "resident_import")
            .expect("the import is audited")
            .changes
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        summary,
        json!({"rows": 11, "created": 2, "updated": 0, "unchanged": 0, "rejected": 9})
    );
}

#[actix_web::test]
async fn line_numbers_count_every_line_of_the_file() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let good = id_number("330283", "1970-01-01", 351);
    let bad = id_number("330283", "1970-01-01", 353);
    // A blank line (as a hand-edited file has) is still a line of the file.
    let text = format!(
        "id_number,name,town_code,phone\n{good},甲,{JINPING},\n\n{bad},乙,{JINPING},12345\n"
    );
    let report = import_ok(&app, &admin, text.into_bytes()).await;
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(
        counts(&report).4,
        vec![4],
        "the bad row is on line 4 of the file (header = line 1, a blank line 3): {report}"
    );
    assert_rejected(&report, 4, "phone", "invalid_format");
}

// ---------------------------------------------------------------------------------------------
// Known ID numbers and repeated imports.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_known_id_number_updates_its_resident() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // An ID number ending in X, written with a lower-case x in the file.
    let id = (0..200)
        .map(|s| id_number("330283", "1960-10-10", s))
        .find(|n| n.ends_with('X'))
        .unwrap();
    let resident = register_with(
        &app,
        &admin,
        &id,
        "王五",
        JINPING,
        json!({"address": "旧地址", "phone": "13800001111"}),
    )
    .await;
    let before = app
        .get_as(&admin, &format!("/api/v1/residents/{resident}"))
        .await
        .json();

    let lines = vec![
        "id_number,name,town_code,address,phone,registered_on".to_owned(),
        format!(
            "{},王五,{JINPING},新地址,13900002222,2010-01-01",
            id.to_lowercase()
        ),
    ];
    let report = import_ok(&app, &admin, csv(&lines)).await;
    assert_eq!(counts(&report), (1, 0, 1, 0, vec![]), "{report}");
    assert_eq!(resident_rows(&app).await, 1, "no second resident");

    let after = app
        .get_as(&admin, &format!("/api/v1/residents/{resident}"))
        .await
        .json();
    assert_eq!(after["address"], "新地址");
    assert_eq!(after["phone"], "139****2222");
    assert_eq!(after["name"], "王五");
    assert_eq!(
        after["version"].as_i64().unwrap(),
        before["version"].as_i64().unwrap() + 1
    );

    // The change is in the resident's history, the phone redacted.
    let history = app
        .get_as(
            &admin,
            &format!("/api/v1/residents/{resident}/history?limit=200"),
        )
        .await;
    assert_eq!(history.status, 200, "{}", history.text());
    let items = history.json()["items"].as_array().unwrap().clone();
    let update = items
        .iter()
        .rev()
        .find(|e| e["action"] == "resident_update")
        .unwrap_or_else(|| panic!("no resident_update in {items:?}"));
    assert_eq!(update["changes"]["address"]["from"], "旧地址");
    assert_eq!(update["changes"]["address"]["to"], "新地址");
    assert!(update["changes"].get("phone").is_some(), "{update}");
    assert!(!history.text().contains("13900002222"));
    assert!(!history.text().contains("13800001111"));
}

#[actix_web::test]
async fn an_import_records_a_death_and_the_certificate_is_cancelled_that_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = id_number("330283", "1938-04-04", 361);
    let header = "id_number,name,town_code,registered_on,deceased_on,certificate_number,certificate_issued_on";
    let alive = csv(&[
        header.to_owned(),
        format!("{id},孙老伯,{JINPING},2012-01-01,,{id}42,2016-05-05"),
    ]);
    let report = import_ok(&app, &admin, alive).await;
    assert_eq!(counts(&report), (1, 1, 0, 0, vec![]), "{report}");

    // The next month's roster: the same row, now with the day of death.
    let died = csv(&[
        header.to_owned(),
        format!("{id},孙老伯,{JINPING},2012-01-01,2024-09-09,{id}42,2016-05-05"),
    ]);
    let report = import_ok(&app, &admin, died.clone()).await;
    assert_eq!(
        counts(&report),
        (1, 0, 1, 0, vec![]),
        "recording the death is an update of the resident: {report}"
    );
    let resident = found(&app, &admin, &id).await;
    assert_eq!(resident["status"], "deceased");
    assert_eq!(resident["deceased_on"], "2024-09-09");
    let file = file_of(&app, &admin, resident["id"].as_str().unwrap()).await;
    let certs = file["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{file}");
    assert_eq!(certs[0]["status"], "cancelled");
    assert_eq!(certs[0]["cancel_reason"], "deceased");
    assert_eq!(certs[0]["cancelled_on"], "2024-09-09");

    // And the same file again changes nothing.
    let report = import_ok(&app, &admin, died).await;
    assert_eq!(counts(&report), (1, 0, 0, 1, vec![]), "{report}");
}

/// Everything the import writes, as it stands: residents (id, version, last change), household
/// periods, certificates.
async fn snapshot(app: &TestApp) -> Value {
    db::run(&app.state.pool, |conn| {
        let people: Vec<(String, i32, chrono::NaiveDateTime)> = residents::table
            .select((residents::public_id, residents::version, residents::updated_at))
            .order(residents::id)
            .load(conn)?;
        let periods: Vec<(i64, String, chrono::NaiveDate, Option<chrono::NaiveDate>)> =
            household_statuses::table
                .select((
                    household_statuses::resident_id,
                    household_statuses::status,
                    household_statuses::since,
                    household_statuses::until,
                ))
                .order(household_statuses::id)
                .load(conn)?;
        let certs: Vec<(String, String, chrono::NaiveDate)> = certificates::table
            .select((
                certificates::public_id,
                certificates::status,
                certificates::valid_until,
            ))
            .order(certificates::id)
            .load(conn)?;
        Ok(json!({
            "residents": people.iter().map(|(id, v, at)| json!([id, v, at.to_string()])).collect::<Vec<_>>(),
            "household": periods.iter().map(|(r, s, since, until)| json!([r, s, since, until])).collect::<Vec<_>>(),
            "certificates": certs.iter().map(|(id, s, until)| json!([id, s, until])).collect::<Vec<_>>(),
        }))
    })
    .await
    .unwrap()
}

/// Each resident's indicator value (`resident_facts`), by resident id.
async fn kept_facts(app: &TestApp) -> Vec<(i64, Vec<u8>)> {
    db::run(&app.state.pool, |conn| {
        use fenghua_registry::db::schema::resident_facts;
        Ok(resident_facts::table
            .select((resident_facts::resident_id, resident_facts::facts))
            .order(resident_facts::resident_id)
            .load(conn)?)
    })
    .await
    .unwrap()
}

/// The import writes its new residents' indicator values from the rows it has in memory: they
/// are the values made from the stored rows.
#[actix_web::test]
async fn the_indicator_values_of_imported_residents_are_those_of_their_rows() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    villages(&app, &admin).await;
    let (file, _) = full_file();
    let report = import_ok(&app, &admin, file).await;
    assert_eq!(counts(&report), (5, 5, 0, 0, vec![]), "{report}");
    let written = kept_facts(&app).await;
    assert_eq!(written.len(), 5);

    // Every value made again from the tables by the next write.
    sql(&app, "DELETE FROM resident_facts").await;
    sql(
        &app,
        "INSERT INTO resident_facts_stale (resident_id) SELECT id FROM residents",
    )
    .await;
    app.create_village(&admin, "330213001299", "测试村", JINPING)
        .await;
    assert_eq!(kept_facts(&app).await, written);
}

#[actix_web::test]
async fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    villages(&app, &admin).await;
    let (file, ids) = full_file();
    let first = import_ok(&app, &admin, file.clone()).await;
    assert_eq!(counts(&first), (5, 5, 0, 0, vec![]), "{first}");
    let before = snapshot(&app).await;
    let mut views = Vec::new();
    for id in &ids {
        views.push(found(&app, &admin, id).await);
    }
    let changes_before = change_events(&app).await;

    let second = import_ok(&app, &admin, file).await;
    assert_eq!(counts(&second), (5, 0, 0, 5, vec![]), "{second}");
    assert_eq!(snapshot(&app).await, before, "the second import wrote");
    for (id, view) in ids.iter().zip(&views) {
        assert_eq!(&found(&app, &admin, id).await, view);
    }
    assert_eq!(
        change_events(&app).await,
        changes_before,
        "the second import recorded changes"
    );
    let imports: Vec<Value> = app
        .audit_events()
        .await
        .iter()
        .filter(|e| e.action == "resident_import")
        .map(|e| serde_json::from_str(e.changes.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(
        imports.last().unwrap(),
        &json!({"rows": 5, "created": 0, "updated": 0, "unchanged": 5, "rejected": 0})
    );
}

// ---------------------------------------------------------------------------------------------
// Files refused as a whole.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_malformed_file_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let good1 = id_number("330283", "1980-01-01", 401);
    let good2 = id_number("330283", "1981-01-01", 402);
    let ok_line = format!("{good1},张三,{JINPING}");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "an unknown column",
            csv(&[
                "id_number,name,town_code,nickname".into(),
                format!("{ok_line},小张"),
            ]),
            "malformed_csv",
        ),
        (
            "no id_number column",
            csv(&["name,town_code".into(), format!("张三,{JINPING}")]),
            "malformed_csv",
        ),
        (
            "no name column",
            csv(&["id_number,town_code".into(), format!("{good1},{JINPING}")]),
            "malformed_csv",
        ),
        (
            "a column twice",
            csv(&[
                "id_number,name,town_code,name".into(),
                format!("{ok_line},李四"),
            ]),
            "malformed_csv",
        ),
        (
            "a row with too many fields",
            csv(&[
                "id_number,name,town_code".into(),
                ok_line.clone(),
                format!("{good2},李四,{JINPING},多余"),
            ]),
            "malformed_csv",
        ),
        (
            "a row with too few fields",
            csv(&[
                "id_number,name,town_code".into(),
                ok_line.clone(),
                format!("{good2},李四"),
            ]),
            "malformed_csv",
        ),
        ("an empty file", Vec::new(), "malformed_csv"),
        (
            "neither UTF-8 nor GBK",
            [
                format!("id_number,name,town_code\n{ok_line}\n{good2},").into_bytes(),
                vec![0xFF, 0xFE, 0xFF],
                format!(",{JINPING}\n").into_bytes(),
            ]
            .concat(),
            "unreadable_file",
        ),
    ];
    for (what, body, code) in cases {
        let answer = import(&app, &admin, body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text());
        let problem = answer.problem(400, code);
        assert!(problem["detail"].is_string(), "{what}: a readable reason");
        assert_no_id_numbers(&answer.text(), &[&good1, &good2]);
    }
    assert_eq!(
        resident_rows(&app).await,
        0,
        "a malformed file created residents"
    );
    assert!(
        change_events(&app).await.is_empty(),
        "a malformed file recorded changes"
    );
}

#[actix_web::test]
async fn only_csv_is_accepted_and_auditors_cannot_import() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let id = id_number("330283", "1980-02-02", 501);
    let body = csv(&[
        "id_number,name,town_code".into(),
        format!("{id},张三,{JINPING}"),
    ]);

    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let answer = import_as(&app, &admin, content_type, body.clone()).await;
        answer.problem(415, "unsupported_media_type");
    }
    let answer = import(&app, &auditor, body.clone()).await;
    answer.problem(403, "forbidden");
    assert_eq!(resident_rows(&app).await, 0);

    let report = import_ok(&app, &admin, body).await;
    assert_eq!(counts(&report), (1, 1, 0, 0, vec![]));
}

// ---------------------------------------------------------------------------------------------
// Towns.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_caseworker_imports_only_into_their_towns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let xikou_id = id_number("330283", "1950-09-09", 601);
    let xikou_resident = register_named(&app, &admin, &xikou_id, "溪口老人", XIKOU).await;
    let before = app
        .get_as(&admin, &format!("/api/v1/residents/{xikou_resident}"))
        .await
        .json();
    let mine = id_number("330283", "1960-09-09", 602);
    let theirs = id_number("330283", "1961-09-09", 603);

    let lines = vec![
        "id_number,name,town_code".to_owned(),
        /* 2 */ format!("{mine},锦屏新人,{JINPING}"),
        /* 3 */ format!("{theirs},溪口新人,{XIKOU}"),
        /* 4: an existing 溪口 resident, written as if of 锦屏 */
        format!("{xikou_id},改名,{JINPING}"),
    ];
    let answer = import(&app, &worker, csv(&lines)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        !answer.text().contains(&xikou_resident),
        "the report names the other town's resident: {}",
        answer.text()
    );
    let report = answer.json();
    assert_eq!(counts(&report), (3, 1, 0, 0, vec![3, 4]), "{report}");
    assert_rejected(&report, 3, "town_code", "out_of_scope");
    assert_rejected(&report, 4, "id_number", "out_of_scope");

    // The 溪口 resident is as it was, and no 溪口 resident was created.
    let after = app
        .get_as(&admin, &format!("/api/v1/residents/{xikou_resident}"))
        .await
        .json();
    assert_eq!(after, before);
    assert_eq!(lookup(&app, &admin, &theirs).await.unwrap_err(), 404);
    assert_eq!(found(&app, &admin, &mine).await["town_code"], JINPING);
    assert_eq!(resident_rows(&app).await, 2);

    // Telling that line 4's ID number has a file in 溪口 is audited as that answer (issue 9:
    // `resident_duplicate_elsewhere`, was `access_denied`), the import with its counts.
    let events = app.audit_events().await;
    let told: Vec<_> = events
        .iter()
        .filter(|e| e.action == "resident_duplicate_elsewhere")
        .collect();
    assert!(
        denied_for_line(&told, &xikou_resident, 4),
        "no resident_duplicate_elsewhere event for line 4, the 溪口 resident: {told:?}"
    );
    let import_event = events
        .iter()
        .find(|e| e.action == "resident_import")
        .expect("the import is audited");
    assert_eq!(import_event.actor_username.as_deref(), Some("jinping"));
    let summary: Value = serde_json::from_str(import_event.changes.as_deref().unwrap()).unwrap();
    assert_eq!(
        summary,
        json!({"rows": 3, "created": 1, "updated": 0, "unchanged": 0, "rejected": 2})
    );
    for event in &events {
        assert_no_id_numbers(
            event.changes.as_deref().unwrap_or_default(),
            &[&xikou_id, &mine, &theirs],
        );
    }
}

/// Whether `denied` holds the caseworker's access_denied event for `resident` at `line`.
fn denied_for_line(
    denied: &[&fenghua_registry::db::audit::AuditRow],
    resident: &str,
    line: u64,
) -> bool {
    denied.iter().any(|e| {
        e.resident_id.as_deref() == Some(resident)
            && e.actor_username.as_deref() == Some("jinping")
            && e.outcome == "denied"
            && e.changes
                .as_deref()
                .is_some_and(|c| serde_json::from_str::<Value>(c).is_ok_and(|c| c["row"] == line))
    })
}

/// A row naming an existing 溪口 resident with the resident's own town is an attempt on that
/// resident as much as one written with 锦屏's code: refused, and audited as denied.
#[actix_web::test]
async fn a_row_for_another_towns_resident_in_its_own_town_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let xikou_id = id_number("330283", "1950-09-09", 611);
    let xikou_resident = register_named(&app, &admin, &xikou_id, "溪口老人", XIKOU).await;
    let lines = vec![
        "id_number,name,town_code".to_owned(),
        format!("{xikou_id},改名,{XIKOU}"),
    ];
    let report = import_ok(&app, &worker, csv(&lines)).await;
    assert_eq!(counts(&report), (1, 0, 0, 0, vec![2]), "{report}");
    let events = app.audit_events().await;
    let denied: Vec<_> = events
        .iter()
        .filter(|e| e.action == "access_denied")
        .collect();
    assert!(
        denied_for_line(&denied, &xikou_resident, 2),
        "no access_denied event for line 2, an existing 溪口 resident written with its own town \
         (the row is refused as town_code/out_of_scope before its ID number is looked up, so \
         the attempt on the resident leaves no trace); report {report}; denied events {denied:?}"
    );
}

/// A row refused after its resident was already changed (its savepoint rolls back an audit event
/// as well) leaves one unbroken audit chain, and later rows append to it.
#[actix_web::test]
async fn a_row_refused_mid_write_leaves_the_audit_chain_whole() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = id_number("330283", "1970-01-01", 11);
    let b = id_number("330283", "1971-02-02", 21);
    let c = id_number("330283", "1972-03-03", 31);
    let header = "id_number,name,town_code,certificate_number,certificate_issued_on".to_owned();
    let first = import_ok(
        &app,
        &admin,
        csv(&[header.clone(), format!("{a},甲,{JINPING},{a}42,2021-01-01")]),
    )
    .await;
    assert_eq!(counts(&first).1, 1);

    // Row 3 renames A (an update event is appended) and then names another certificate, which
    // refuses the row: the rename and its event roll back.
    let report = import_ok(
        &app,
        &admin,
        csv(&[
            header,
            format!("{b},乙,{JINPING},,"),
            format!("{a},甲改,{JINPING},{a}41,2021-01-01"),
            format!("{c},丙,{JINPING},{c}21,2022-02-02"),
        ]),
    )
    .await;
    assert_eq!(counts(&report), (3, 2, 0, 0, vec![3]));
    assert_rejected(&report, 3, "certificate_number", "differs_from_active");
    assert_eq!(found(&app, &admin, &a).await["name"], "甲");

    let verify = app
        .get_as(&admin, "/api/v1/audit-events/verify")
        .await
        .json();
    assert_eq!(verify["valid"], true, "{verify}");
    let seqs: Vec<i64> = app.audit_events().await.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
}

// ---- villages -----------------------------------------------------------------------------

const VILLAGES: &str = "/api/v1/imports/areas";

async fn import_villages(app: &TestApp, who: &Session, body: Vec<u8>) -> Answer {
    app.send_as(
        who,
        actix_web::test::TestRequest::post()
            .uri(VILLAGES)
            .insert_header((actix_web::http::header::CONTENT_TYPE, "text/csv"))
            .set_payload(body),
    )
    .await
}

/// The villages stored under a town, by code.
async fn villages_of(app: &TestApp, _who: &Session, town: &'static str) -> Vec<(String, String)> {
    fenghua_registry::db::run(&app.state.pool, move |conn| {
        Ok(fenghua_registry::db::areas::all(conn)?
            .into_iter()
            .filter(|a| a.level == "village" && a.parent_code.as_deref() == Some(town))
            .map(|a| (a.code, a.name))
            .collect())
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn villages_import_in_bulk_with_a_row_report_and_again_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let file = csv(&[
        "code,name,town_code".into(),
        "330213001901,东门村,330213001".into(),
        "330213100902,溪口社区,330213100".into(),
        "330213100903,错镇村,330213001".into(),
        "330213001904,无镇村,999999999".into(),
        "330213001901,又一个东门村,330213001".into(),
        "330213001905,,330213001".into(),
    ]);
    let first = import_villages(&app, &admin, file.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let report = first.json();
    assert_eq!(
        (&report["rows"], &report["created"], &report["unchanged"]),
        (&json!(6), &json!(2), &json!(0)),
        "{report}"
    );
    assert_rejected(&report, 4, "code", "invalid");
    assert_rejected(&report, 5, "town_code", "unknown_town");
    assert_rejected(&report, 6, "code", "repeated_in_file");
    assert_rejected(&report, 7, "name", "invalid");
    assert_eq!(
        villages_of(&app, &admin, "330213001").await,
        [("330213001901".to_owned(), "东门村".to_owned())]
    );
    assert_eq!(
        villages_of(&app, &admin, "330213100").await,
        [("330213100902".to_owned(), "溪口社区".to_owned())]
    );
    let events = app.audit_events().await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "village_create").count(),
        2
    );
    assert_eq!(actions.last(), Some(&"village_import"));

    // The same file again: nothing new, the stored villages unchanged.
    let again = import_villages(&app, &admin, file).await.json();
    assert_eq!(
        (&again["created"], &again["unchanged"]),
        (&json!(0), &json!(2)),
        "{again}"
    );
    assert_eq!(again["rejected"].as_array().unwrap().len(), 4);

    // A stored code under another name is refused, not renamed.
    let renamed = import_villages(
        &app,
        &admin,
        csv(&[
            "code,name,town_code".into(),
            "330213001901,西门村,330213001".into(),
        ]),
    )
    .await
    .json();
    assert_rejected(&renamed, 2, "code", "area_exists");
    assert_eq!(
        villages_of(&app, &admin, "330213001").await,
        [("330213001901".to_owned(), "东门村".to_owned())]
    );
}

#[actix_web::test]
async fn a_gbk_file_of_villages_with_parent_code_imports_and_a_bad_file_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (gbk, _, _) =
        encoding_rs::GBK.encode("parent_code,code,name\r\n330213001,330213001911,北渡村\r\n");
    let report = import_villages(&app, &admin, gbk.into_owned()).await;
    assert_eq!(report.status, 200, "{}", report.text());
    assert_eq!(report.json()["created"], 1);
    assert!(villages_of(&app, &admin, "330213001")
        .await
        .contains(&("330213001911".to_owned(), "北渡村".to_owned())));

    let before = app.audit_events().await.len();
    let malformed = import_villages(
        &app,
        &admin,
        csv(&[
            "code,name,town".into(),
            "330213001912,南渡村,330213001".into(),
        ]),
    )
    .await;
    malformed.problem(400, "malformed_csv");
    assert_eq!(app.audit_events().await.len(), before, "nothing written");

    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let refused = import_villages(
        &app,
        &worker,
        csv(&[
            "code,name,town_code".into(),
            "330213001913,中渡村,330213001".into(),
        ]),
    )
    .await;
    refused.problem(403, "forbidden");
}

// ---------------------------------------------------------------------------------------------
// Excel in: Chinese headers and labels, certificate columns, workbooks, the template, the
// report as CSV.
// ---------------------------------------------------------------------------------------------

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The header of the Chinese files below.
const CHINESE_HEADER: [&str; 16] = [
    "身份证号",
    "姓名",
    "乡镇（街道）代码",
    "村（社区）代码",
    "联系电话",
    "困难类别",
    "困难类别起始日期",
    "家庭标识",
    "劳动能力",
    "登记日期",
    "残疾证号",
    "残疾类别",
    "残疾等级",
    "多重残疾构成",
    "发证日期",
    "有效期至",
];

/// A cell of a test workbook: text, a number as Excel stores one, or a date cell.
#[derive(Clone)]
enum Xl {
    T(String),
    N(f64),
    D(chrono::NaiveDate),
}

fn t(s: impl Into<String>) -> Xl {
    Xl::T(s.into())
}

impl Xl {
    /// The cell as a CSV file saved by Excel holds it.
    fn csv_text(&self) -> String {
        match self {
            Xl::T(s) => s.clone(),
            // Excel's General format: digits up to 11, scientific notation for longer numbers.
            Xl::N(n) if *n >= 1e12 => {
                let shown = format!("{n:.5E}");
                let (m, e) = shown.split_once('E').unwrap();
                format!("{m}E+{e}")
            }
            Xl::N(n) => format!("{n}"),
            Xl::D(d) => d.format("%Y/%m/%d").to_string(),
        }
    }
}

/// A workbook of one sheet: the header, then the rows (dates as date cells, numbers as numbers).
fn workbook(header: &[&str], rows: &[Vec<Xl>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy/m/d");
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            match cell {
                Xl::T(s) if s.is_empty() => {}
                Xl::T(s) => {
                    sheet.write_string(r, c, s).unwrap();
                }
                Xl::N(n) => {
                    sheet.write_number(r, c, *n).unwrap();
                }
                Xl::D(d) => {
                    let day = rust_xlsxwriter::ExcelDateTime::from_ymd(
                        d.year() as u16,
                        d.month() as u8,
                        d.day() as u8,
                    )
                    .unwrap();
                    sheet.write_datetime_with_format(r, c, &day, &date).unwrap();
                }
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// The same rows as a GBK CSV file, as Excel in Chinese saves it.
fn gbk_csv(header: &[&str], rows: &[Vec<Xl>]) -> Vec<u8> {
    let mut text = header.join(",");
    text.push_str("\r\n");
    for row in rows {
        let cells: Vec<String> = row.iter().map(Xl::csv_text).collect();
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "GBK, not UTF-8");
    bytes.into_owned()
}

use chrono::Datelike;

/// Six rows as a caseworker's sheet has them: two good ones (one a multiple disability with its
/// components), an ID number Excel turned into a number, an unknown label, a multiple
/// disability without components and a grade that disagrees with the certificate number.
fn chinese_rows() -> (Vec<Vec<Xl>>, [String; 2]) {
    let a = id_number("330283", "1966-04-05", 611);
    let b = id_number("330283", "1978-09-10", 612);
    let c = id_number("330283", "1980-01-01", 613);
    let d = id_number("330283", "1981-02-03", 614);
    let e = id_number("330283", "1982-03-04", 615);
    let lost: f64 = id_number("330283", "1975-05-06", 616)[..17]
        .parse::<f64>()
        .unwrap()
        * 10.0;
    let empty = || t("");
    let rows = vec![
        vec![
            t(&a),
            t("张三"),
            t(JINPING),
            t(JINPING_VILLAGE),
            Xl::N(13800001111.0),
            t("低保"),
            Xl::D(date(2020, 1, 1)),
            t("一户多残；老养残"),
            t("否"),
            Xl::D(date(2019, 5, 1)),
            t(format!("{a}42")),
            t("肢体残疾"),
            t("二级"),
            empty(),
            Xl::D(date(2019, 6, 1)),
            empty(),
        ],
        vec![
            t(&b),
            t("李四"),
            t(XIKOU),
            empty(),
            empty(),
            t("特困供养"),
            Xl::D(date(2021, 3, 1)),
            empty(),
            t("是"),
            Xl::D(date(2020, 1, 1)),
            t(format!("{b}71")),
            t("多重残疾"),
            t("一级"),
            t("视力残疾、听力残疾"),
            Xl::D(date(2020, 2, 1)),
            Xl::D(date(2030, 2, 1)),
        ],
        vec![
            Xl::N(lost),
            t("王五"),
            t(JINPING),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
        ],
        vec![
            t(&c),
            t("赵六"),
            t(JINPING),
            empty(),
            empty(),
            t("低收入"),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
        ],
        vec![
            t(&d),
            t("钱七"),
            t(JINPING),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            t(format!("{d}71")),
            t("多重残疾"),
            t("一级"),
            empty(),
            Xl::D(date(2020, 2, 1)),
            empty(),
        ],
        vec![
            t(&e),
            t("孙八"),
            t(JINPING),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            t(format!("{e}42")),
            t("肢体残疾"),
            t("三级"),
            empty(),
            Xl::D(date(2020, 2, 1)),
            empty(),
        ],
    ];
    (rows, [a, b])
}

/// A resident and its certificates as stored, without the ids each install gives them.
async fn stored(app: &TestApp, who: &Session, id: &str) -> (Value, Value) {
    let mut resident = found(app, who, id).await;
    let file = file_of(app, who, resident["id"].as_str().unwrap()).await;
    resident.as_object_mut().unwrap().remove("id");
    let mut certificates = file["certificates"].clone();
    for c in certificates.as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("id");
    }
    (resident, certificates)
}

#[actix_web::test]
async fn a_gbk_file_with_chinese_headers_and_labels_and_the_same_rows_as_xlsx_import_alike() {
    let (rows, [a, b]) = chinese_rows();
    let mut reports = Vec::new();
    let mut files = Vec::new();
    for (content_type, body) in [
        ("text/csv", gbk_csv(&CHINESE_HEADER, &rows)),
        (XLSX, workbook(&CHINESE_HEADER, &rows)),
    ] {
        let app = spawn_app().await;
        let admin = app.admin().await;
        villages(&app, &admin).await;
        let answer = import_as(&app, &admin, Some(content_type), body).await;
        assert_eq!(answer.status, 200, "{content_type}: {}", answer.text());
        let report = answer.json();
        assert_eq!(
            counts(&report),
            (6, 2, 0, 0, vec![4, 5, 6, 7]),
            "{content_type}: {report}"
        );
        // The ID number Excel turned into a number says so, and nothing else.
        assert_eq!(
            rejected_at(&report, 4),
            [("id_number".to_owned(), "scientific_notation".to_owned())]
        );
        assert_eq!(
            rejected_at(&report, 5),
            [("household_status".to_owned(), "unknown_code".to_owned())]
        );
        assert_rejected(&report, 6, "certificate_components", "invalid");
        assert_rejected(&report, 7, "certificate_number", "grade_mismatch");
        assert_eq!(resident_rows(&app).await, 2);

        let (first, first_certificates) = stored(&app, &admin, &a).await;
        assert_eq!(first["household_status"], "dibao");
        assert_eq!(first["household_status_since"], "2020-01-01");
        assert_eq!(first["registered_on"], "2019-05-01");
        assert_eq!(first["phone"], "138****1111");
        assert_eq!(first["work_capacity"], false);
        let mut flags: Vec<&str> = first["household_flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        flags.sort_unstable();
        assert_eq!(flags, ["elderly_caring_for_disabled", "multiple_disabled"]);
        assert_eq!(first_certificates[0]["category"], "physical");
        assert_eq!(first_certificates[0]["grade"], 2);
        let (second, second_certificates) = stored(&app, &admin, &b).await;
        assert_eq!(second["household_status"], "tekun");
        assert_eq!(second["work_capacity"], true);
        let multiple = &second_certificates[0];
        assert_eq!(multiple["category"], "multiple");
        assert_eq!(multiple["grade"], 1);
        assert_eq!(multiple["components"], json!(["visual", "hearing"]));
        assert_eq!(multiple["issued_on"], "2020-02-01");
        assert_eq!(multiple["valid_until"], "2030-02-01");

        reports.push(report);
        files.push(((first, first_certificates), (second, second_certificates)));
    }
    assert_eq!(reports[0], reports[1], "the same rows, the same report");
    assert_eq!(files[0], files[1], "the same rows, the same files");
}

#[actix_web::test]
async fn rows_without_the_certificate_columns_and_with_codes_still_import() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let one = id_number("330283", "1969-09-09", 621);
    let two = id_number("330283", "1970-10-10", 622);
    let file = csv(&[
        "身份证号,姓名,乡镇代码,household_status,certificate_number,certificate_issued_on".into(),
        format!("{one},周一,{JINPING},dibian,{one}11,2020-01-01"),
        format!("{two},吴二,{JINPING},低边,,"),
    ]);
    let report = import_ok(&app, &admin, file).await;
    assert_eq!(counts(&report), (2, 2, 0, 0, vec![]), "{report}");
    let (resident, certificates) = stored(&app, &admin, &one).await;
    assert_eq!(resident["household_status"], "dibian");
    assert_eq!(certificates[0]["category"], "visual");
    assert_eq!(certificates[0]["grade"], 1);
    assert_eq!(certificates[0]["components"], json!([]));

    let three = id_number("330283", "1971-11-11", 623);
    let file = csv(&[
        "id_number,name,town_code,残疾类别,残疾等级,多重残疾构成,残疾证号,发证日期".into(),
        format!("{three},郑三,{JINPING},肢体残疾,二级,视力残疾,{three}42,2020-01-01"),
        format!("{two},吴二,{JINPING},肢体残疾,五级,,,"),
    ]);
    // Components of a single category are refused; a category without a number too.
    let report = import_ok(&app, &admin, file).await;
    assert_eq!(counts(&report), (2, 0, 0, 0, vec![2, 3]), "{report}");
    assert_rejected(&report, 2, "certificate_components", "not_allowed");
    assert_rejected(&report, 3, "certificate_grade", "unknown_code");
    assert_rejected(&report, 3, "certificate_number", "required");
}

#[actix_web::test]
async fn a_file_that_is_not_a_workbook_is_refused_whole() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = id_number("330283", "1980-02-02", 631);
    let text = csv(&[
        "id_number,name,town_code".into(),
        format!("{id},张三,{JINPING}"),
    ]);
    let answer = import_as(&app, &admin, Some(XLSX), text).await;
    answer.problem(400, "unreadable_file");
    let unknown = workbook(&["身份证号", "姓名", "乡镇（街道）代码", "昵称"], &[]);
    let answer = import_as(&app, &admin, Some(XLSX), unknown).await;
    let problem = answer.problem(400, "malformed_xlsx");
    // The detail names the column, in the reader's language (Chinese by default).
    assert!(
        problem["detail"].as_str().unwrap().contains("表头第 4 列"),
        "{problem}"
    );
    assert_eq!(resident_rows(&app).await, 0);
}

const TEMPLATE: &str = "/api/v1/imports/residents/template";

#[actix_web::test]
async fn the_template_round_trips_in_both_formats() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app
        .session("worker", Role::Caseworker, &[JINPING, XIKOU])
        .await;
    let columns: Vec<&str> =
        fenghua_registry::use_cases::residents::import_columns::ImportColumn::ALL
            .iter()
            .map(|c| c.label())
            .collect();

    // CSV: the header and the example row, filled in with one more row.
    let answer = app.get_as(&worker, &format!("{TEMPLATE}?format=csv")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let disposition = answer.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"residents_import_template.csv\""),
        "{disposition}"
    );
    let (header, rows) = crate::reports::csv_of(&answer);
    assert_eq!(header, columns);
    assert_eq!(rows.len(), 1, "one example row");
    let example_id = rows[0][0].clone();
    assert_eq!(rows[0][1], "张三（示例）");
    let new_id = id_number("330283", "1988-03-03", 641);
    let mut mine = vec![String::new(); columns.len()];
    mine[0] = new_id.clone();
    mine[1] = "冯九".into();
    mine[2] = XIKOU.into();
    let mut filled = answer.body.to_vec();
    filled.extend_from_slice(mine.join(",").as_bytes());
    filled.extend_from_slice(b"\r\n");
    let report = import_ok(&app, &worker, filled).await;
    assert_eq!(counts(&report), (2, 2, 0, 0, vec![]), "{report}");
    let (example, certificates) = stored(&app, &admin, &example_id).await;
    assert_eq!(example["town_code"], JINPING);
    assert_eq!(example["household_status"], "dibao");
    assert_eq!(certificates[0]["category"], "multiple");
    assert_eq!(certificates[0]["components"], json!(["visual", "physical"]));
    assert_eq!(found(&app, &admin, &new_id).await["name"], "冯九");

    // XLSX: read back, the ID number a text cell; a new workbook with its header and rows.
    let answer = app
        .get_as(&worker, &format!("{TEMPLATE}?format=xlsx"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some(XLSX));
    assert!(answer
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"residents_import_template.xlsx\""));
    let sheets = crate::reports::sheets_of(&answer);
    let sheet = sheets.values().next().unwrap();
    let header: Vec<String> = sheet[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(header, columns);
    assert_eq!(
        sheet[1][0],
        calamine::Data::String(example_id.clone()),
        "the ID number is text"
    );
    let other_id = id_number("330283", "1989-04-04", 642);
    let mut rows: Vec<Vec<Xl>> = vec![sheet[1].iter().map(|c| t(c.to_string())).collect()];
    let mut row = vec![t(""); columns.len()];
    row[0] = t(&other_id);
    row[1] = t("陈十");
    row[2] = t(JINPING);
    rows.push(row);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let answer = import_as(&app, &worker, Some(XLSX), workbook(&header, &rows)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = answer.json();
    assert_eq!(counts(&report), (2, 1, 0, 1, vec![]), "{report}");
    assert_eq!(found(&app, &admin, &other_id).await["name"], "陈十");

    // Only WRITERS; the format is checked.
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    app.get_as(&auditor, TEMPLATE)
        .await
        .problem(403, "forbidden");
    let answer = app.get_as(&admin, &format!("{TEMPLATE}?format=pdf")).await;
    answer.problem(422, "validation_failed");
    let answer = app.get_as(&admin, TEMPLATE).await;
    assert_eq!(
        answer.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
}

#[actix_web::test]
async fn the_report_comes_as_csv_with_a_bom_when_asked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let good = id_number("330283", "1972-07-07", 651);
    let bad = id_number("330283", "1973-08-08", 652);
    let file = csv(&[
        "身份证号,姓名,乡镇（街道）代码,困难类别".into(),
        format!("{good},张三,{JINPING},低保"),
        format!("3.30283E+17,李四,{JINPING},"),
        format!("{bad},王五,999999999,小康"),
    ]);
    let expected = [
        "行号,列,原因代码,原因".to_owned(),
        "3,身份证号,scientific_notation,Excel 已将该数字转为科学计数法（如 3.30213E+17），后几位已丢失：请将该列设置为文本格式后重新录入".to_owned(),
        "4,困难类别,unknown_code,\"不是此处可用的代码，可用：none（无）, dibao（低保）, dibian（低边）, tekun（特困供养）\"".to_owned(),
        "4,乡镇（街道）代码,unknown_town,不是本区的镇（街道）".to_owned(),
        "合计,读取行数,rows,3".to_owned(),
    ];
    let by_parameter = actix_web::test::TestRequest::post()
        .uri(&format!("{IMPORT}?report=csv"))
        .insert_header(("Content-Type", "text/csv"))
        .set_payload(file.clone());
    let by_accept = actix_web::test::TestRequest::post()
        .uri(IMPORT)
        .insert_header(("Content-Type", "text/csv"))
        .insert_header(("Accept", "text/csv"))
        .set_payload(file.clone());
    for (n, req) in [by_parameter, by_accept].into_iter().enumerate() {
        let answer = app.send_as(&admin, req).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(
            answer.header("content-type"),
            Some("text/csv; charset=utf-8")
        );
        assert!(answer
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment; filename=\"residents_import_report_"));
        assert!(answer.body.starts_with(b"\xEF\xBB\xBF"), "a BOM");
        let text = std::str::from_utf8(&answer.body[3..]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..5], expected, "{text}");
        let created = if n == 0 { 1 } else { 0 };
        let unchanged = 1 - created;
        assert_eq!(
            lines[5..],
            [
                format!("合计,新增,created,{created}"),
                "合计,更新,updated,0".to_owned(),
                format!("合计,未变,unchanged,{unchanged}"),
                "合计,拒绝,rejected,2".to_owned(),
            ],
            "{text}"
        );
        assert_no_id_numbers(text, &[&good, &bad]);
    }
    // An unknown report format is refused before anything is read or written.
    let answer = app
        .send_as(
            &admin,
            actix_web::test::TestRequest::post()
                .uri(&format!("{IMPORT}?report=pdf"))
                .insert_header(("Content-Type", "text/csv"))
                .set_payload(file),
        )
        .await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "report");
    assert_eq!(resident_rows(&app).await, 1);
}

#[actix_web::test]
async fn a_workbook_is_bounded_and_rate_limited_like_a_csv_file() {
    let app = spawn_app_with(|c| {
        c.import_limit_bytes = 8 * 1024;
        c.auth.route_limits.import = 2;
    })
    .await;
    let admin = app.admin().await;
    let rows: Vec<Vec<Xl>> = (0..400)
        .map(|i| {
            vec![
                t(id_number("330283", "1960-01-01", 700 + i)),
                t(format!("居民{i}")),
                t(JINPING),
            ]
        })
        .collect();
    let large = workbook(&["身份证号", "姓名", "乡镇（街道）代码"], &rows);
    assert!(large.len() > 8 * 1024, "{} bytes", large.len());
    import_as(&app, &admin, Some(XLSX), large)
        .await
        .problem(413, "payload_too_large");
    let small = workbook(&["身份证号", "姓名", "乡镇（街道）代码"], &rows[..2]);
    let answer = import_as(&app, &admin, Some(XLSX), small.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(counts(&answer.json()), (2, 2, 0, 0, vec![]));
    import_as(&app, &admin, Some(XLSX), small)
        .await
        .problem(429, "too_many_requests");
    assert_eq!(resident_rows(&app).await, 2);
}

#[actix_web::test]
async fn each_number_column_in_scientific_notation_says_so_and_the_codes_name_the_columns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let one = id_number("330283", "1974-04-04", 661);
    let file = csv(&[
        "身份证号,姓名,乡镇（街道）代码,联系电话,监护人电话,残疾证号,发证日期".into(),
        format!("{one},张三,{JINPING},1.38E+10,5.74889E+11,3.30283E+19,2020-01-01"),
    ]);
    let report = import_ok(&app, &admin, file).await;
    assert_eq!(counts(&report), (1, 0, 0, 0, vec![2]), "{report}");
    let mut errors = rejected_at(&report, 2);
    errors.sort();
    assert_eq!(
        errors,
        [
            (
                "certificate_number".to_owned(),
                "scientific_notation".to_owned()
            ),
            (
                "guardian_phone".to_owned(),
                "scientific_notation".to_owned()
            ),
            ("phone".to_owned(), "scientific_notation".to_owned()),
        ]
    );

    let codes = app.get_as(&admin, "/api/v1/codes").await.json();
    let set = |name: &str| {
        codes["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["set"] == name)
            .unwrap_or_else(|| panic!("no set {name}"))["codes"]
            .clone()
    };
    let columns = set("import_column");
    assert_eq!(
        columns[0],
        json!({"code": "id_number", "label": "身份证号"})
    );
    assert_eq!(columns.as_array().unwrap().len(), 21);
    assert_eq!(
        set("disability_grade")[0],
        json!({"code": "1", "label": "一级"})
    );
}
