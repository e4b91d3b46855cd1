//! Reports auditors take away (issue 11): the indicator figures, gap lists and reconciliation
//! as CSV, XLSX and HTML with small town figures suppressed; frozen snapshots that verify, and
//! name what a backdated correction restated; the database refusing to change a snapshot; the
//! audit trail exported for a period, verifiable by itself; who may do what.
//!
//! The district of these tests, as of 2026-06-30, every resident holding a grade-3 physical
//! certificate (so no subsidy counts them) and of working age (so the pension rate does):
//! 锦屏 6 residents, 5 insured for medical care in 2026; 溪口 2, 1 insured; 西坞 5, all insured.
//! The medical insurance rate is then 11/13 (84.62 %) for the district, 5/6 (83.33 %) in 锦屏,
//! 1/2 in 溪口 (suppressed: 2 residents) and 5/5 in 西坞 (suppressed with it, or the district
//! total would give 溪口 away).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use actix_web::http::header;
use actix_web::test::TestRequest;
use calamine::{Data, Reader, Xlsx};
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use fenghua_registry::db;
use fenghua_registry::db::audit::AuditRow;
use fenghua_registry::domain::role::Role;

use crate::helpers::{events, field_errors, spawn_app, today, Answer, TestApp};
use crate::indicators::{cert, died, holder, insured, Holder, XIWU};
use crate::session::{Session, JINPING, XIKOU};

const DAY: &str = "2026-06-30";
const DISTRICT: &str = "330213";
const PLAN: &str = "奉化区残疾人事业发展“十四五”规划";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const MEDICAL: &str = "medical_insurance_rate";

struct District {
    jinping: Vec<Holder>,
    xikou: Vec<Holder>,
    #[allow(dead_code)]
    xiwu: Vec<Holder>,
}

/// `of` residents of `town` (ID sequences from `start`), the first `insured_count` of them
/// insured for medical care in 2026, the others recorded as not.
async fn town_of(
    app: &TestApp,
    admin: &Session,
    start: u16,
    town: &str,
    insured_count: usize,
    of: usize,
) -> Vec<Holder> {
    let mut people = Vec::new();
    for i in 0..of {
        let sequence = start + i as u16;
        let who = holder(
            app,
            admin,
            sequence,
            town,
            "1980-05-05",
            cert("physical", 3),
        )
        .await;
        insured(app, admin, &who.id, 2026, "medical", i < insured_count).await;
        people.push(who);
    }
    people
}

/// The district described at the top.
async fn district(app: &TestApp, admin: &Session) -> District {
    District {
        jinping: town_of(app, admin, 100, JINPING, 5, 6).await,
        xikou: town_of(app, admin, 200, XIKOU, 1, 2).await,
        xiwu: town_of(app, admin, 300, XIWU, 5, 5).await,
    }
}

pub(crate) async fn get_with(
    app: &TestApp,
    who: &Session,
    path: &str,
    accept: Option<&str>,
) -> Answer {
    let mut req = TestRequest::get().uri(path);
    if let Some(accept) = accept {
        req = req.insert_header((header::ACCEPT, accept));
    }
    app.send_as(who, req).await
}

#[track_caller]
pub(crate) fn ok(answer: &Answer, content_type: &str) {
    assert_eq!(answer.status, 200, "{}", answer.text());
    let ct = answer.header("content-type").unwrap_or_default();
    assert!(ct.starts_with(content_type), "content type {ct}");
}

/// The file name of a `Content-Disposition`, from `filename*` (UTF-8, percent-encoded).
#[track_caller]
pub(crate) fn file_name(answer: &Answer) -> String {
    let header = answer
        .header("content-disposition")
        .expect("Content-Disposition");
    let encoded = header
        .split("filename*=UTF-8''")
        .nth(1)
        .unwrap_or_else(|| panic!("no filename* in {header}"));
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A CSV file: asserts the BOM, returns the header and the rows.
pub(crate) fn csv_of(answer: &Answer) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(
        answer.body.starts_with(b"\xEF\xBB\xBF"),
        "a CSV file opens with a UTF-8 BOM"
    );
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&answer.body[3..]);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Every sheet of a workbook by name, as rows of cells.
pub(crate) fn sheets_of(answer: &Answer) -> BTreeMap<String, Vec<Vec<Data>>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(answer.body.clone())).expect("an XLSX file");
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let rows = range.rows().map(|r| r.to_vec()).collect();
            (name, rows)
        })
        .collect()
}

/// Numerator, denominator, value.
type Figure = (i64, Option<i64>, Option<f64>);

/// The figures of a JSON report by (code, area or town code).
fn json_figures(report: &Value) -> BTreeMap<(String, String), Figure> {
    let mut out = BTreeMap::new();
    for item in report["items"].as_array().unwrap() {
        let code = item["code"].as_str().unwrap().to_owned();
        let figure = |v: &Value| {
            (
                v["numerator"].as_i64().unwrap(),
                v["denominator"].as_i64(),
                v["value"].as_f64(),
            )
        };
        out.insert(
            (
                code.clone(),
                item["area"]["code"].as_str().unwrap().to_owned(),
            ),
            figure(item),
        );
        for town in item["by_town"].as_array().into_iter().flatten() {
            out.insert(
                (code.clone(), town["town_code"].as_str().unwrap().to_owned()),
                figure(town),
            );
        }
    }
    out
}

/// The figures (code, place) a file must show suppressed in the fixture district: every
/// indicator counting residents has 溪口 (2) alone below 5, so 西坞 (5, the next smallest) goes
/// along; 锦屏 (6) and the district stay.
fn suppressed_places(code: &str) -> &'static [&'static str] {
    match code {
        // The whole base population, or those of working age: all 13 residents.
        MEDICAL | "pension_insurance_rate" | "culture_sports_coverage" => &[XIKOU, XIWU],
        _ => &[],
    }
}

#[actix_web::test]
async fn the_report_as_csv_xlsx_and_html_holds_the_json_figures_with_small_towns_suppressed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    district(&app, &admin).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let path = format!("/api/v1/indicators?as_of={DAY}");
    let json = app.get_as(&auditor, &path).await;
    ok(&json, "application/json");
    let report = json.json();
    let figures = json_figures(&report);
    let medical = |place: &str| figures[&(MEDICAL.to_owned(), place.to_owned())];
    assert_eq!(medical(DISTRICT), (11, Some(13), Some(84.62)));
    assert_eq!(medical(JINPING), (5, Some(6), Some(83.33)));
    assert_eq!(
        medical(XIKOU),
        (1, Some(2), Some(50.0)),
        "JSON keeps small numbers"
    );

    // CSV: BOM, the Chinese header, one row per indicator and place, small towns starred.
    let answer = app.get_as(&auditor, &format!("{path}&format=csv")).await;
    ok(&answer, "text/csv");
    assert_eq!(
        file_name(&answer),
        "奉化区残疾人事业发展主要指标（截至2026-06-30）.csv"
    );
    assert!(answer
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"indicators_330213_2026-06-30.csv\""));
    let (header, rows) = csv_of(&answer);
    assert_eq!(
        header,
        vec![
            "指标代码",
            "指标名称",
            "指标类型",
            "指标属性",
            "区域代码",
            "区域名称",
            "分子",
            "分母",
            "数值",
            "单位",
            "目标值",
            "达标要求",
            "是否达标",
            "指标定义版本",
            "统计日期"
        ]
    );
    assert_eq!(
        rows.len(),
        14 * 13,
        "each indicator: the district and 12 towns"
    );
    for row in &rows {
        let key = (row[0].clone(), row[4].clone());
        let (numerator, denominator, value) = figures[&key];
        if suppressed_places(&row[0]).contains(&row[4].as_str()) {
            assert_eq!(&row[6..9], ["*", "*", "*"], "{row:?}");
            assert_eq!(row[12], "*", "{row:?}");
            continue;
        }
        assert_eq!(row[6], numerator.to_string(), "{row:?}");
        assert_eq!(
            row[7],
            denominator.map(|d| d.to_string()).unwrap_or_default()
        );
        let shown: Option<f64> = (!row[8].is_empty()).then(|| row[8].parse().unwrap());
        assert_eq!(shown, value, "{row:?}");
        assert_eq!(row[13], "1");
        assert_eq!(row[14], DAY);
    }
    let jinping = rows
        .iter()
        .find(|r| r[0] == MEDICAL && r[4] == JINPING)
        .unwrap();
    assert_eq!(
        jinping[..14],
        [
            MEDICAL,
            "残疾人城乡居民基本医疗保险参保率",
            "比率",
            "预期性",
            JINPING,
            "锦屏街道",
            "5",
            "6",
            "83.33",
            "%",
            "99",
            "> 99%",
            "未达标",
            "1"
        ]
    );

    // XLSX (chosen by Accept): numbers as numbers, percentages as fractions, stars where the
    // CSV has them, and the gap list asked for as a sheet.
    let answer = get_with(
        &app,
        &auditor,
        &format!("{path}&gaps={MEDICAL}"),
        Some(XLSX),
    )
    .await;
    ok(&answer, XLSX);
    assert!(file_name(&answer).ends_with("（截至2026-06-30）.xlsx"));
    let sheets = sheets_of(&answer);
    assert_eq!(
        sheets.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "指标（分镇街道）".to_owned(),
            "缺口-残疾人城乡居民基本医疗保险参保率".to_owned(),
            "说明".to_owned()
        ])
    );
    let sheet = &sheets["指标（分镇街道）"];
    assert_eq!(sheet[0][0], Data::String("指标代码".into()));
    assert_eq!(sheet.len(), 1 + 14 * 13);
    let text = |d: &Data| match d {
        Data::String(s) => s.clone(),
        other => panic!("not text: {other:?}"),
    };
    let number = |d: &Data| match d {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        Data::Empty => None,
        other => panic!("not a number: {other:?}"),
    };
    let mut checked = 0;
    for row in &sheet[1..] {
        let (code, place) = (text(&row[0]), text(&row[4]));
        let (numerator, denominator, value) = figures[&(code.clone(), place.clone())];
        if suppressed_places(&code).contains(&place.as_str()) {
            for cell in &row[6..9] {
                assert_eq!(*cell, Data::String("*".into()), "{code} {place}");
            }
            continue;
        }
        assert_eq!(number(&row[6]), Some(numerator as f64), "{code} {place}");
        assert_eq!(number(&row[7]), denominator.map(|d| d as f64));
        let kind_is_count = text(&row[9]) == "个";
        let shown = number(&row[8]).map(|v| if kind_is_count { v } else { v * 100.0 });
        match (shown, value) {
            (Some(s), Some(v)) => assert!((s - v).abs() < 1e-9, "{code} {place}: {s} vs {v}"),
            (s, v) => assert_eq!(s, v, "{code} {place}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 14 * 13 - 3 * 2);
    let gaps = &sheets["缺口-残疾人城乡居民基本医疗保险参保率"];
    assert_eq!(gaps.len(), 1 + 2, "the one not insured in 锦屏 and in 溪口");
    assert_eq!(text(&gaps[1][7]), "未参保");

    // HTML: one printable page, a bar per rate, nothing from elsewhere, binding misses first.
    let answer = app.get_as(&auditor, &format!("{path}&format=html")).await;
    ok(&answer, "text/html");
    assert!(answer
        .header("content-disposition")
        .unwrap()
        .starts_with("inline; "));
    assert!(answer.header("content-security-policy").is_some());
    let page = answer.text();
    for needed in [PLAN, "奉化区（330213）", "2026-06-30", "第1版", "不足5人"] {
        assert!(page.contains(needed), "the page says {needed}");
    }
    let rates = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "rate")
        .count();
    assert_eq!(rates, 11);
    assert_eq!(page.matches("<svg class=\"bar\"").count(), rates);
    for outside in ["http:", "https:", "//", "src=", "url(", "@import"] {
        assert!(
            !page.contains(outside),
            "the page refers outside: {outside}"
        );
    }
    let order: Vec<&str> = page
        .split("<tr")
        .skip(1)
        .filter_map(|row| row.split("data-code=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let missed: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["binding"] == true && i["met"] == false)
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(!missed.is_empty());
    assert_eq!(
        &order[..missed.len()],
        &missed[..],
        "missed binding targets first"
    );
    assert_eq!(order.len(), 14);
    let towns_row = page
        .split("<tr>")
        .find(|row| row.starts_with("<td>残疾人城乡居民基本医疗保险参保率</td>"))
        .expect("the towns' row of the medical insurance rate");
    assert_eq!(
        towns_row.matches("class=\"c sup\"").count(),
        2,
        "溪口 and 西坞"
    );

    // Exports are audited; JSON reads are not.
    let exported = events(&app, "report_export").await;
    assert_eq!(exported.len(), 3);
    assert_eq!(exported[0].actor_username.as_deref(), Some("auditor"));
}

#[actix_web::test]
async fn the_suppression_threshold_is_the_service_s_setting() {
    let app = crate::helpers::spawn_app_with(|config| config.reports.suppress_below = 7).await;
    let admin = app.admin().await;
    district(&app, &admin).await;
    let path = format!("/api/v1/indicators/{MEDICAL}?as_of={DAY}");
    let answer = app.get_as(&admin, &format!("{path}&format=csv")).await;
    let (_, rows) = csv_of(&answer);
    for row in &rows {
        let hidden = [JINPING, XIKOU, XIWU].contains(&row[4].as_str());
        assert_eq!(row[6] == "*", hidden, "{row:?}");
    }
    let page = app.get_as(&admin, &format!("{path}&format=html")).await;
    assert!(page.text().contains("不足7人"));
    let json = app.get_as(&admin, &path).await.json();
    assert_eq!(
        json["by_town"][0]["denominator"], 6,
        "JSON keeps the numbers"
    );
}

#[actix_web::test]
async fn one_indicator_gap_lists_and_the_reconciliation_are_files_too() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    district(&app, &admin).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;

    let answer = app
        .get_as(
            &auditor,
            &format!("/api/v1/indicators/{MEDICAL}?as_of={DAY}&format=csv"),
        )
        .await;
    ok(&answer, "text/csv");
    assert_eq!(
        file_name(&answer),
        "奉化区残疾人城乡居民基本医疗保险参保率（截至2026-06-30）.csv"
    );
    let (_, rows) = csv_of(&answer);
    assert_eq!(rows.len(), 13);
    assert!(rows.iter().all(|r| r[0] == MEDICAL));

    // A gap list: every item, no paging, masked names.
    let gaps = format!("/api/v1/indicators/{MEDICAL}/gaps?as_of={DAY}");
    let answer = app.get_as(&auditor, &format!("{gaps}&format=csv")).await;
    ok(&answer, "text/csv");
    let (header, rows) = csv_of(&answer);
    assert_eq!(
        header,
        vec![
            "序号",
            "居民编号",
            "姓名",
            "身份证号",
            "镇（街道）代码",
            "镇（街道）",
            "原因代码",
            "原因"
        ]
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][2], "居****", "居民105, masked");
    assert_eq!(rows[0][6], "not_enrolled");
    assert!(file_name(&answer).contains("缺口名单（截至2026-06-30）"));
    let answer = app.get_as(&auditor, &format!("{gaps}&format=html")).await;
    ok(&answer, "text/html");
    assert!(answer.text().contains("居****"));
    let answer = app.get_as(&auditor, &format!("{gaps}&format=xlsx")).await;
    ok(&answer, XLSX);
    assert_eq!(sheets_of(&answer).values().next().unwrap().len(), 3);
    let answer = app
        .get_as(&auditor, &format!("{gaps}&format=csv&limit=10"))
        .await;
    assert_eq!(
        field_errors(&answer),
        vec![("limit".to_owned(), "json_only".to_owned())]
    );

    // The reconciliation: nobody is due a subsidy here, so the lists are empty.
    let recon = format!("/api/v1/subsidies/reconciliation?as_of={DAY}");
    let answer = app.get_as(&auditor, &format!("{recon}&format=xlsx")).await;
    ok(&answer, XLSX);
    let sheets = sheets_of(&answer);
    assert_eq!(sheets["汇总"].len(), 3, "a row per subsidy");
    assert_eq!(sheets["核对名单"].len(), 1, "the header only");
    let answer = get_with(&app, &auditor, &recon, Some("text/csv")).await;
    ok(&answer, "text/csv");
    assert_eq!(csv_of(&answer).0[2], "核对结果");
    let answer = app.get_as(&auditor, &format!("{recon}&format=html")).await;
    ok(&answer, "text/html");
    assert!(answer.text().contains("两项补贴核对"));

    // Wrong asks.
    let indicators = format!("/api/v1/indicators?as_of={DAY}");
    for (query, field, code) in [
        ("&format=pdf", "format", "invalid"),
        ("&format=csv&gaps=employment_rate", "gaps", "xlsx_only"),
        ("&gaps=employment_rate", "gaps", "xlsx_only"),
        ("&format=xlsx&gaps=income_growth", "gaps", "no_gap_list"),
        ("&format=xlsx&gaps=nonsense", "gaps", "unknown_code"),
    ] {
        let answer = app.get_as(&auditor, &format!("{indicators}{query}")).await;
        assert_eq!(
            field_errors(&answer),
            vec![(field.to_owned(), code.to_owned())],
            "{query}"
        );
    }
    // A wildcard Accept keeps JSON.
    let answer = get_with(&app, &auditor, &indicators, Some("*/*")).await;
    ok(&answer, "application/json");
}

/// `GET /api/v1/reports/{id}/verify` as `who`, asserting 200.
async fn verify(app: &TestApp, who: &Session, id: &str) -> Value {
    let answer = app
        .get_as(who, &format!("/api/v1/reports/{id}/verify"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

fn values(v: &Value) -> Figure {
    (
        v["numerator"].as_i64().unwrap(),
        v["denominator"].as_i64(),
        v["value"].as_f64(),
    )
}

#[actix_web::test]
async fn a_snapshot_verifies_unchanged_until_a_backdated_death_restates_exactly_its_figures() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let district = district(&app, &admin).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;

    let answer = app
        .post_as(
            &auditor,
            "/api/v1/reports",
            &json!({"as_of": DAY, "area": DISTRICT}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let snapshot = answer.json();
    let id = snapshot["id"].as_str().unwrap().to_owned();
    assert_eq!(
        answer.header("location"),
        Some(format!("/api/v1/reports/{id}").as_str())
    );
    let live = app
        .get_as(&auditor, &format!("/api/v1/indicators?as_of={DAY}"))
        .await
        .json();
    assert_eq!(snapshot["report"], live, "the snapshot holds the report");
    assert_eq!(snapshot["taken_by"], "auditor");
    assert_eq!(
        snapshot["digests"].as_object().unwrap().len(),
        14,
        "a digest per indicator"
    );
    assert_eq!(snapshot["digests"][MEDICAL].as_object().unwrap().len(), 12);
    let read = app.get_as(&auditor, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(read.json(), snapshot);
    let listed = app.get_as(&auditor, "/api/v1/reports").await.json();
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert_eq!(listed["items"][0]["seal"], snapshot["seal"]);
    let taken = events(&app, "report_snapshot_take").await;
    assert_eq!(taken.len(), 1);
    assert!(taken[0]
        .changes
        .as_deref()
        .unwrap()
        .contains(snapshot["seal"].as_str().unwrap()));

    // Nothing has changed.
    let check = verify(&app, &auditor, &id).await;
    assert_eq!(check["status"], "unchanged");
    assert_eq!(check["intact"], true);
    assert_eq!(check["restated"], json!([]));
    assert_eq!(check["inputs_changed"], json!([]));

    // A change after the day does not touch the day's figures.
    insured(&app, &admin, &district.xikou[1].id, 2025, "medical", true).await;
    assert_eq!(verify(&app, &auditor, &id).await["status"], "unchanged");

    // A death on 1 March, recorded now: the resident of 锦屏 was insured, of working age and
    // without a culture service, so three indicators lose them, in 锦屏 and the district.
    let dead = &district.jinping[0];
    died(&app, &admin, &dead.id, "2026-03-01").await;
    let check = verify(&app, &auditor, &id).await;
    assert_eq!(check["status"], "restated", "{check}");
    assert_eq!(check["intact"], true);
    assert_eq!(check["inputs_changed"], json!([]));
    let restated: BTreeMap<(String, String), &Value> = check["restated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                (
                    f["code"].as_str().unwrap().to_owned(),
                    f["area"]["code"].as_str().unwrap().to_owned(),
                ),
                f,
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> =
        [MEDICAL, "pension_insurance_rate", "culture_sports_coverage"]
            .iter()
            .flat_map(|c| {
                [
                    (c.to_string(), DISTRICT.to_owned()),
                    (c.to_string(), JINPING.to_owned()),
                ]
            })
            .collect();
    assert_eq!(
        restated.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "exactly the figures the death restates"
    );
    let medical = |place: &str| restated[&(MEDICAL.to_owned(), place.to_owned())];
    assert_eq!(
        values(&medical(DISTRICT)["old"]),
        (11, Some(13), Some(84.62))
    );
    assert_eq!(
        values(&medical(DISTRICT)["new"]),
        (10, Some(12), Some(83.33))
    );
    assert_eq!(values(&medical(JINPING)["old"]), (5, Some(6), Some(83.33)));
    assert_eq!(values(&medical(JINPING)["new"]), (4, Some(5), Some(80.0)));
    let pension = restated[&("pension_insurance_rate".to_owned(), JINPING.to_owned())];
    assert_eq!(values(&pension["old"]), (0, Some(6), Some(0.0)));
    assert_eq!(values(&pension["new"]), (0, Some(5), Some(0.0)));
    for figure in restated.values() {
        assert_eq!(figure["residents_total"], 1, "{figure}");
        let who = &figure["residents"][0];
        assert_eq!(who["resident_id"], dead.id.as_str());
        assert_eq!(who["after"]["status"], "not_counted");
        let events = who["events"].as_array().unwrap();
        // The death, and the certificate it cancelled; not the 2025 insurance of another.
        let actions: Vec<&str> = events
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["resident_update", "certificate_cancel"]);
        assert_eq!(events[0]["changes"]["deceased_on"]["to"], "2026-03-01");
        assert_eq!(events[1]["changes"]["cancel_reason"]["to"], "deceased");
    }
    assert_eq!(
        medical(JINPING)["residents"][0]["before"]["status"],
        "covered"
    );
    assert_eq!(
        pension["residents"][0]["before"],
        json!({"status": "not_covered", "reason": "no_enrollment_record"})
    );

    // The snapshot itself has not moved, and its files say what it is.
    let read = app.get_as(&auditor, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(read.json(), snapshot);
    let page = app
        .get_as(&auditor, &format!("/api/v1/reports/{id}?format=html"))
        .await;
    ok(&page, "text/html");
    let text = page.text();
    assert!(text.contains(&id) && text.contains(snapshot["seal"].as_str().unwrap()));
    assert!(text.contains("冻结快照"));
    let csv_file = app
        .get_as(&auditor, &format!("/api/v1/reports/{id}?format=csv"))
        .await;
    ok(&csv_file, "text/csv");
    let (_, rows) = csv_of(&csv_file);
    let frozen_medical = rows
        .iter()
        .find(|r| r[0] == MEDICAL && r[4] == DISTRICT)
        .unwrap();
    assert_eq!(frozen_medical[6..9], ["11", "13", "84.62"]);
    assert!(file_name(&csv_file).contains("主要指标快照（截至2026-06-30"));
    let book = app
        .get_as(&auditor, &format!("/api/v1/reports/{id}?format=xlsx"))
        .await;
    ok(&book, XLSX);
    assert!(sheets_of(&book)["说明"]
        .iter()
        .any(|row| row[1] == Data::String(snapshot["seal"].as_str().unwrap().to_owned())));
    assert_eq!(events(&app, "report_snapshot_verify").await.len(), 3);
}

#[actix_web::test]
async fn snapshots_cannot_be_changed_by_any_route_or_by_the_database() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app
        .post_as(&admin, "/api/v1/reports", &json!({"as_of": DAY}))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let snapshot = answer.json();
    let id = snapshot["id"].as_str().unwrap().to_owned();
    assert_eq!(
        snapshot["area"]["code"], DISTRICT,
        "the district by default"
    );

    for method in ["PATCH", "PUT", "DELETE"] {
        let req = TestRequest::default()
            .method(method.parse().unwrap())
            .uri(&format!("/api/v1/reports/{id}"))
            .set_json(json!({"seal": "0"}));
        let answer = app.send_as(&admin, req).await;
        answer.problem(405, "method_not_allowed");
    }

    for statement in [
        "UPDATE report_snapshots SET seal = 'forged'",
        "UPDATE report_snapshots SET results = '{}' WHERE id = 1",
        "DELETE FROM report_snapshots",
    ] {
        let refused = db::run(&app.state.pool, move |conn| {
            Ok(conn.batch_execute(statement).is_err())
        })
        .await
        .unwrap();
        assert!(refused, "the database refuses: {statement}");
    }
    if app.is_postgres() {
        let refused = db::run(&app.state.pool, |conn| {
            Ok(conn.batch_execute("TRUNCATE report_snapshots").is_err())
        })
        .await
        .unwrap();
        assert!(refused, "and a TRUNCATE");
    }
    let read = app.get_as(&admin, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(read.json(), snapshot);
    let check = verify(&app, &admin, &id).await;
    assert_eq!(
        (&check["status"], &check["intact"]),
        (&json!("unchanged"), &json!(true))
    );

    // Whoever gets past the database (a superuser disabling the trigger) does not get past
    // the seal: the stored row no longer matches it.
    let tamper = if app.is_postgres() {
        "ALTER TABLE report_snapshots DISABLE TRIGGER report_snapshots_no_change;
         UPDATE report_snapshots SET results = results || ' ';
         ALTER TABLE report_snapshots ENABLE TRIGGER report_snapshots_no_change;"
    } else {
        "DROP TRIGGER report_snapshots_no_update;
         UPDATE report_snapshots SET results = results || ' ';"
    };
    db::run(&app.state.pool, move |conn| Ok(conn.batch_execute(tamper)))
        .await
        .unwrap()
        .expect("tampered");
    assert_eq!(verify(&app, &admin, &id).await["intact"], false);

    // Unknown or malformed ids are not found.
    let unknown = uuid::Uuid::new_v4();
    app.get_as(&admin, &format!("/api/v1/reports/{unknown}"))
        .await
        .problem(404, "not_found");
    app.get_as(&admin, "/api/v1/reports/not-an-id/verify")
        .await
        .problem(404, "not_found");
    let future = app
        .post_as(&admin, "/api/v1/reports", &json!({"as_of": "2999-01-01"}))
        .await;
    assert_eq!(
        field_errors(&future),
        vec![("as_of".to_owned(), "in_future".to_owned())]
    );
}

#[actix_web::test]
async fn caseworkers_keep_to_their_towns_and_auditors_read_without_writing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    district(&app, &admin).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;

    // A caseworker's files are of its town: its figure of 6 residents is shown.
    let answer = app
        .get_as(
            &worker,
            &format!("/api/v1/indicators?as_of={DAY}&format=csv"),
        )
        .await;
    ok(&answer, "text/csv");
    assert!(file_name(&answer).starts_with("锦屏街道"));
    let (_, rows) = csv_of(&answer);
    assert_eq!(rows.len(), 14);
    let medical = rows.iter().find(|r| r[0] == MEDICAL).unwrap();
    assert_eq!(medical[6..9], ["5", "6", "83.33"]);
    app.get_as(
        &worker,
        &format!("/api/v1/indicators?as_of={DAY}&area={DISTRICT}&format=html"),
    )
    .await
    .problem(403, "forbidden");

    // A town of 2 residents: its own report hides the figures about them.
    let xikou_worker = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let answer = app
        .get_as(
            &xikou_worker,
            &format!("/api/v1/indicators?as_of={DAY}&format=csv"),
        )
        .await;
    let (_, rows) = csv_of(&answer);
    let medical = rows.iter().find(|r| r[0] == MEDICAL).unwrap();
    assert_eq!(medical[6..9], ["*", "*", "*"]);

    // Snapshots: a caseworker takes and sees those of its town only.
    let mine = app
        .post_as(&worker, "/api/v1/reports", &json!({"as_of": DAY}))
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text());
    let mine = mine.json()["id"].as_str().unwrap().to_owned();
    app.post_as(
        &worker,
        "/api/v1/reports",
        &json!({"as_of": DAY, "area": DISTRICT}),
    )
    .await
    .problem(403, "forbidden");
    let district_snapshot = app
        .post_as(&auditor, "/api/v1/reports", &json!({"as_of": DAY}))
        .await;
    assert_eq!(district_snapshot.status, 201);
    let theirs = district_snapshot.json()["id"].as_str().unwrap().to_owned();
    let listed = app.get_as(&worker, "/api/v1/reports").await.json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.as_str()]);
    let all = app.get_as(&auditor, "/api/v1/reports?limit=1").await.json();
    assert_eq!(all["items"][0]["id"], theirs.as_str(), "newest first");
    let next = all["next_cursor"].as_str().expect("a second page");
    let page2 = app
        .get_as(&auditor, &format!("/api/v1/reports?limit=1&cursor={next}"))
        .await
        .json();
    assert_eq!(page2["items"][0]["id"], mine.as_str());
    assert_eq!(page2["next_cursor"], Value::Null);
    for path in [
        format!("/api/v1/reports/{theirs}"),
        format!("/api/v1/reports/{theirs}/verify"),
        format!("/api/v1/reports/{theirs}?format=xlsx"),
    ] {
        app.get_as(&worker, &path).await.problem(404, "not_found");
    }
    assert_eq!(verify(&app, &worker, &mine).await["status"], "unchanged");

    // Auditors read policies and definitions, and change nothing.
    for path in ["/api/v1/subsidy-policies", "/api/v1/indicator-definitions"] {
        let answer = app.get_as(&auditor, path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    }
    app.get_as(&worker, "/api/v1/subsidy-policies")
        .await
        .problem(403, "forbidden");
    for (path, body) in [
        ("/api/v1/subsidy-policies", json!({})),
        ("/api/v1/indicator-definitions", json!({})),
        ("/api/v1/residents", json!({})),
        ("/api/v1/facilities", json!({})),
    ] {
        app.post_as(&auditor, path, &body)
            .await
            .problem(403, "forbidden");
    }
    app.get_as(&worker, "/api/v1/audit-events/export")
        .await
        .problem(403, "forbidden");
}

/// Reads an exported event back as the stored row, to recompute its hash.
fn row_of(event: &Value) -> AuditRow {
    let text = |k: &str| event[k].as_str().map(str::to_owned);
    AuditRow {
        seq: event["seq"].as_i64().unwrap(),
        occurred_at: chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap())
            .unwrap()
            .naive_utc(),
        actor_user_id: text("actor_id"),
        actor_username: text("actor_username"),
        actor_role: text("actor_role"),
        action: text("action").unwrap(),
        entity_type: text("entity_type"),
        entity_id: text("entity_id"),
        resident_id: text("resident_id"),
        request_id: text("request_id"),
        client_address: text("client_address"),
        outcome: text("outcome").unwrap(),
        changes: (!event["changes"].is_null()).then(|| event["changes"].to_string()),
        prev_hash: text("prev_hash").unwrap(),
        hash: text("hash").unwrap(),
        // Not exported: only the holder of AUDIT_CHAIN_KEY can check it.
        mac: None,
    }
}

#[actix_web::test]
async fn an_auditor_exports_the_audit_trail_of_a_period_and_the_export_verifies() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let district = district(&app, &admin).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let today = today();
    let stored = app.audit_events().await;

    // NDJSON of today (a plain date: the whole day in Beijing time).
    let answer = app
        .get_as(
            &auditor,
            &format!("/api/v1/audit-events/export?format=ndjson&from={today}&to={today}"),
        )
        .await;
    ok(&answer, "application/x-ndjson");
    assert_eq!(
        file_name(&answer),
        format!("审计日志（{today}至{today}）.ndjson")
    );
    let lines: Vec<Value> = answer
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (chain, exported) = lines.split_last().unwrap();
    assert_eq!(chain["record"], "chain");
    assert_eq!(chain["valid"], true);
    assert_eq!(exported.len(), stored.len(), "every event is of today");
    assert_eq!(chain["exported_events"], stored.len());
    assert_eq!(chain["head_seq"], stored.last().unwrap().seq);
    assert_eq!(chain["head_hash"], stored.last().unwrap().hash.as_str());
    let mut previous = fenghua_registry::audit::GENESIS_HASH.to_owned();
    for event in exported {
        assert_eq!(event["record"], "event");
        let row = row_of(event);
        assert_eq!(
            fenghua_registry::audit::link_hash(&row),
            row.hash,
            "event {} hashes as exported",
            row.seq
        );
        assert_eq!(row.prev_hash, previous, "event {} links", row.seq);
        previous = row.hash;
    }
    assert_eq!(answer.header("x-audit-chain-valid"), Some("true"));
    let recorded = events(&app, "audit_export").await;
    assert_eq!(recorded.len(), 1, "the export is audited after it is read");
    assert!(recorded[0].seq > stored.last().unwrap().seq);

    // CSV, filtered to one town's residents: the BOM, the header, the events, the chain.
    let before_csv = app.audit_events().await;
    let answer = app
        .get_as(
            &auditor,
            &format!("/api/v1/audit-events/export?from={today}&town={XIKOU}"),
        )
        .await;
    ok(&answer, "text/csv");
    let (header, rows) = csv_of(&answer);
    assert_eq!(header[0], "序号");
    assert_eq!(header[15], "本条哈希");
    let (events_rows, closing): (Vec<_>, Vec<_>) =
        rows.iter().partition(|r| !r[0].starts_with('#'));
    let xikou: BTreeSet<&str> = district.xikou.iter().map(|h| h.id.as_str()).collect();
    assert!(!events_rows.is_empty());
    for row in &events_rows {
        assert!(xikou.contains(row[9].as_str()), "{row:?}");
        let changes = (!row[13].is_empty()).then(|| row[13].clone());
        let stored_row = stored.iter().find(|e| e.seq.to_string() == row[0]).unwrap();
        assert_eq!(changes, stored_row.changes);
        assert_eq!(row[15], stored_row.hash);
    }
    assert_eq!(
        events_rows.len(),
        stored
            .iter()
            .filter(|e| e.resident_id.as_deref().is_some_and(|r| xikou.contains(r)))
            .count()
    );
    let closing: BTreeMap<&str, &str> = closing
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(closing["#审计链核验"], "通过");
    assert_eq!(
        closing["#链头哈希"],
        before_csv.last().unwrap().hash.as_str(),
        "the head as the export found it (after the first export's own event)"
    );

    // Other filters: one resident, one action; a period with nothing in it.
    let one = &district.jinping[0].id;
    let answer = app
        .get_as(
            &auditor,
            &format!(
                "/api/v1/audit-events/export?format=ndjson&resident_id={one}&action=record_create"
            ),
        )
        .await;
    let lines: Vec<Value> = answer
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "its insurance record, then the chain");
    assert_eq!(lines[0]["resident_id"], one.as_str());
    let yesterday = today - chrono::Duration::days(1);
    let answer = get_with(
        &app,
        &auditor,
        &format!("/api/v1/audit-events/export?from={yesterday}&to={yesterday}"),
        Some("application/x-ndjson"),
    )
    .await;
    ok(&answer, "application/x-ndjson");
    assert_eq!(
        answer.text().lines().count(),
        1,
        "no event, the chain still reported"
    );

    for (query, field, code) in [
        ("from=yesterday", "from", "invalid_date"),
        ("from=2026-02-30", "from", "invalid_date"),
        ("town=330213999", "town", "unknown_area"),
        ("action=nope", "action", "unknown_code"),
        ("from=2026-06-02&to=2026-06-01", "to", "before_from"),
        ("format=xml", "format", "invalid"),
    ] {
        let answer = app
            .get_as(&auditor, &format!("/api/v1/audit-events/export?{query}"))
            .await;
        assert_eq!(
            field_errors(&answer),
            vec![(field.to_owned(), code.to_owned())],
            "{query}"
        );
    }
    // Admins may export too.
    let answer = app
        .get_as(&admin, "/api/v1/audit-events/export?format=csv")
        .await;
    ok(&answer, "text/csv");
}
