//! Acceptance tests for indicators 9–14 (employment, high school, rehabilitation, assistive
//! devices, home modification, culture and sports), their gap lists, and the reconciliation of
//! the two subsidies, written from the contract (`notes/indicators-contract.md`, DESIGN §4).
//!
//! Each test builds a small district through the API and checks the figures against numbers
//! worked out by hand (in the doc comment of each fixture), on several days around a change in
//! the data. Every day is in the past: the service refuses records dated in the future.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::masked;
use crate::helpers::{
    assert_invalid, certificate_body, change_resident, days_from_today, events, grant_action,
    grant_subsidy, id_of, issued_certificate, move_to, record, register_with, resident_path,
    spawn_app, town_name, Answer, TestApp, TOWNS,
};
use crate::session::{id_number, Session, JINPING, XIKOU};

// ---------------------------------------------------------------------------------------------
// The district.
// ---------------------------------------------------------------------------------------------

const DISTRICT: &str = "330213";
const YUELIN: &str = "330213002";

// ---------------------------------------------------------------------------------------------
// Residents and their records.
// ---------------------------------------------------------------------------------------------

/// A resident of a fixture.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    /// The full ID number, which no answer may show.
    number: String,
    name: String,
}

/// A name as gap lists show it: its first character, then a `*` for each other one.
fn masked_name(name: &str) -> String {
    let mut chars = name.chars();
    let first = chars.next().expect("a name");
    format!("{first}{}", "*".repeat(chars.count()))
}

/// The residents of a fixture, by a short label.
#[derive(Default)]
struct District(Vec<(&'static str, Person)>);

impl District {
    fn add(&mut self, label: &'static str, person: Person) {
        self.0.push((label, person));
    }

    fn everyone(&self) -> Vec<&Person> {
        self.0.iter().map(|(_, p)| p).collect()
    }
}

impl std::ops::Index<&str> for District {
    type Output = Person;

    fn index(&self, label: &str) -> &Person {
        &self
            .0
            .iter()
            .find(|(l, _)| *l == label)
            .unwrap_or_else(|| panic!("no resident {label}"))
            .1
    }
}

/// Registers a resident born on `birth` in `town` (registered on 2010-01-01, or at birth when
/// born later), with the members of `extra` added to the body.
async fn person(
    app: &TestApp,
    admin: &Session,
    name: &str,
    birth: &str,
    sequence: u16,
    town: &str,
    extra: Value,
) -> Person {
    let number = id_number("330283", birth, sequence);
    let registered_on = if birth > "2010-01-01" {
        birth
    } else {
        "2010-01-01"
    };
    let mut fields = json!({ "registered_on": registered_on });
    for (key, value) in extra.as_object().expect("an object") {
        fields[key] = value.clone();
    }
    Person {
        id: register_with(app, admin, &number, name, town, fields).await,
        number,
        name: name.to_owned(),
    }
}

/// Issues a certificate; returns its id. `valid_until` defaults to ten years after issue.
async fn certify(
    app: &TestApp,
    admin: &Session,
    holder: &Person,
    category: &str,
    grade: i32,
    issued_on: &str,
    valid_until: Option<&str>,
) -> String {
    let mut body = certificate_body(&holder.number, category, grade, issued_on);
    if let Some(until) = valid_until {
        body["valid_until"] = json!(until);
    }
    let certificate = issued_certificate(app, admin, &holder.id, &body).await;
    if let Some(until) = valid_until {
        assert_eq!(certificate["valid_until"], until);
    }
    id_of(&certificate)
}

/// A resident holding a physical grade-2 certificate issued on 2020-01-01 (valid through
/// 2030-01-01), so in the base population on every day these tests look at.
async fn member(
    app: &TestApp,
    admin: &Session,
    name: &str,
    birth: &str,
    sequence: u16,
    town: &str,
    extra: Value,
) -> Person {
    let p = person(app, admin, name, birth, sequence, town, extra).await;
    certify(app, admin, &p, "physical", 2, "2020-01-01", None).await;
    p
}

/// Acts on a certificate (`cancel`, `reassess`), asserting 200.
async fn certificate_action(
    app: &TestApp,
    admin: &Session,
    of: &Person,
    certificate: &str,
    action: &str,
    body: Value,
) {
    let path = format!(
        "{}/certificates/{certificate}/{action}",
        resident_path(&of.id)
    );
    let answer = app.post_as(admin, &path, &body).await;
    assert_eq!(answer.status, 200, "{action} {body}: {}", answer.text());
}

async fn die(app: &TestApp, admin: &Session, who: &Person, on: &str) {
    change_resident(app, admin, &who.id, json!({"deceased_on": on})).await;
}

/// A home modification case applied for on `applied_on` and taken through `steps` in order.
async fn home_case(
    app: &TestApp,
    admin: &Session,
    of: &Person,
    applied_on: &str,
    steps: &[(&str, Value)],
) {
    let path = format!("{}/home-modifications", resident_path(&of.id));
    let answer = app
        .post_as(
            admin,
            &path,
            &json!({"applied_on": applied_on, "items": [{"name": "卫生间扶手", "cost_fen": 80000}]}),
        )
        .await;
    assert_eq!(answer.status, 201, "apply: {}", answer.text());
    let case = answer.json()["id"].as_str().unwrap().to_owned();
    for (action, body) in steps {
        let answer = app
            .post_as(admin, &format!("{path}/{case}/{action}"), body)
            .await;
        assert_eq!(answer.status, 200, "{action} {body}: {}", answer.text());
    }
}

/// Grants a subsidy from `start_month`, with an override reason when given; returns the
/// grant's id.
async fn grant(
    app: &TestApp,
    admin: &Session,
    to: &Person,
    kind: &str,
    start_month: &str,
    override_reason: Option<&str>,
) -> String {
    let mut body = json!({"kind": kind, "start_month": start_month});
    if let Some(reason) = override_reason {
        body["override_reason"] = json!(reason);
    }
    grant_subsidy(app, admin, &to.id, body).await
}

// ---------------------------------------------------------------------------------------------
// Indicator results.
// ---------------------------------------------------------------------------------------------

/// A rate as worked out by hand: numerator, denominator, value, met.
#[derive(Debug, Clone, Copy)]
struct Rate(i64, i64, Option<f64>, Option<bool>);

/// No one in the denominator: no value, nothing met.
const EMPTY: Rate = Rate(0, 0, None, None);

/// Target, comparator and binding of version 1 of the definitions (the contract's table).
fn definition(code: &str) -> (f64, &'static str, bool) {
    match code {
        "employment_rate" => (60.0, "gte", false),
        "high_school_education_rate" => (85.0, "gte", true),
        "rehab_service_coverage" => (99.0, "gt", true),
        "assistive_device_fitting_rate" => (99.0, "gt", true),
        "home_modification_rate" => (95.0, "gte", true),
        "culture_sports_coverage" => (95.0, "gte", false),
        _ => panic!("no definition for {code} in these tests"),
    }
}

#[track_caller]
fn assert_figures(actual: &Value, expected: Rate, what: &str) {
    let Rate(numerator, denominator, value, met) = expected;
    assert_eq!(
        actual["numerator"], numerator,
        "{what}: numerator in {actual}"
    );
    assert_eq!(
        actual["denominator"], denominator,
        "{what}: denominator in {actual}"
    );
    match value {
        None => assert!(actual["value"].is_null(), "{what}: no value in {actual}"),
        Some(value) => {
            let got = actual["value"]
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: a value in {actual}"));
            assert!(
                (got - value).abs() < 1e-9,
                "{what}: value {got}, expected {value} in {actual}"
            );
        }
    }
    assert_eq!(actual["met"], json!(met), "{what}: met in {actual}");
}

async fn indicator(app: &TestApp, who: &Session, code: &str, query: &str) -> Value {
    let answer = app
        .get_as(who, &format!("/api/v1/indicators/{code}?{query}"))
        .await;
    assert_eq!(answer.status, 200, "{code}?{query}: {}", answer.text());
    answer.json()
}

/// Checks an indicator on `as_of`: the district figure, every town of `by_town` (the towns in
/// `towns` with their figures, every other town empty), each town in `towns` asked for as the
/// area, and the same result in the report of all 14.
async fn assert_day(
    app: &TestApp,
    who: &Session,
    code: &str,
    as_of: &str,
    district: Rate,
    towns: &[(&str, Rate)],
) {
    let what = format!("{code} on {as_of}");
    let result = indicator(app, who, code, &format!("as_of={as_of}")).await;
    assert_eq!(result["code"], code);
    assert_eq!(result["as_of"], as_of);
    assert_eq!(result["kind"], "rate");
    assert_eq!(result["definition_version"], 1);
    assert_eq!(result["area"], json!({"code": DISTRICT, "name": "奉化区"}));
    let (target, comparator, binding) = definition(code);
    assert_eq!(result["target"].as_f64(), Some(target), "{what}: target");
    assert_eq!(result["comparator"], comparator, "{what}: comparator");
    assert_eq!(result["binding"], binding, "{what}: binding");
    assert_figures(&result, district, &format!("{what}, district"));

    let by_town = result["by_town"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: by_town for the district in {result}"));
    assert_eq!(by_town.len(), 12, "{what}: one entry per town");
    for (entry, (town, name)) in by_town.iter().zip(TOWNS) {
        assert_eq!(
            entry["town_code"], town,
            "{what}: by_town in town-code order"
        );
        assert_eq!(entry["town_name"], name);
        let expected = towns
            .iter()
            .find(|(t, _)| *t == town)
            .map_or(EMPTY, |(_, rate)| *rate);
        assert_figures(entry, expected, &format!("{what}, by_town {name}"));
    }

    for (town, rate) in towns {
        let query = format!("as_of={as_of}&area={town}");
        let own = indicator(app, who, code, &query).await;
        assert_eq!(own["area"], json!({"code": town, "name": town_name(town)}));
        assert_figures(&own, *rate, &format!("{what}, area {}", town_name(town)));
        assert!(
            own.get("by_town").is_none_or(Value::is_null),
            "{what}: no by_town for a town: {own}"
        );
    }

    let answer = app
        .get_as(who, &format!("/api/v1/indicators?as_of={as_of}"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = answer.json();
    let item = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["code"] == code)
        .unwrap_or_else(|| panic!("{code} in the report {report}"))
        .clone();
    assert_eq!(item, result, "{what}: the report shows the same result");
}

// ---------------------------------------------------------------------------------------------
// Gap lists.
// ---------------------------------------------------------------------------------------------

async fn gaps(app: &TestApp, who: &Session, code: &str, query: &str) -> Answer {
    app.get_as(who, &format!("/api/v1/indicators/{code}/gaps?{query}"))
        .await
}

/// Asserts a whole gap list on one page: exactly these residents, each with the town it lived
/// in on the day and the reason, masked, and no full ID number of anyone in the body.
#[track_caller]
fn assert_gaps(answer: &Answer, expected: &[(&Person, &str, &str)], everyone: &[&Person]) {
    assert_eq!(answer.status, 200, "gaps: {}", answer.text());
    let body = answer.json();
    let mut actual = body["items"].as_array().expect("items").clone();
    let mut wanted: Vec<Value> = expected
        .iter()
        .map(|(p, town, reason)| {
            json!({
                "resident_id": p.id,
                "name": masked_name(&p.name),
                "id_number": masked(&p.number),
                "town_code": town,
                "town_name": town_name(town),
                "reason": reason,
            })
        })
        .collect();
    let by_resident = |v: &Value| v["resident_id"].as_str().unwrap_or_default().to_owned();
    actual.sort_by_key(by_resident);
    wanted.sort_by_key(by_resident);
    assert_eq!(actual, wanted, "gap items");
    assert_eq!(body["total"], expected.len(), "total");
    assert_eq!(body["next_cursor"], Value::Null, "one page");
    let text = answer.text();
    for p in everyone {
        assert!(
            !text.contains(&p.number),
            "the full ID number of {} is in {text}",
            p.name
        );
    }
}

/// Walks a list page by page with `limit`, asserting `total` on every page; returns the items
/// in the order given.
async fn walk(app: &TestApp, who: &Session, path: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut uri = format!("{path}&limit={limit}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let answer = app.get_as(who, &uri).await;
        assert_eq!(answer.status, 200, "{uri}: {}", answer.text());
        let body = answer.json();
        let page = body["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit, "a page holds at most {limit}");
        pages += 1;
        items.extend(page);
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 100, "the cursor walks on forever");
    }
    (items, pages)
}

// ---------------------------------------------------------------------------------------------
// 9. employment_rate.
// ---------------------------------------------------------------------------------------------

/// Employment: P(D) aged 16–59 with work capacity, employed by a spell covering D.
///
/// | | born | town | work capacity | spells | other |
/// |---|---|---|---|---|---|
/// | a | 1980-05-01 | 锦屏 | yes | concentrated 2023-01-01– | |
/// | b | 2008-07-01 | 锦屏 | yes | flexible 2024-03-01– | 16 on 2024-07-01 |
/// | c | 1965-01-10 | 锦屏 | yes | none | 60 on 2025-01-10 |
/// | d | 1975-02-02 | 锦屏 | no | self-employed 2020-05-01– | |
/// | e | 1978-03-03 | 锦屏 | unknown | agriculture 2020-05-01– | |
/// | f | 1985-04-04 | 溪口 | yes | proportional 2022-01-01–2024-12-31 | |
/// | g | 1990-06-06 | 溪口 | yes | agriculture 2021-01-01– | died 2025-01-10 |
/// | h | 1988-08-08 | 溪口 | yes | none | moved to 锦屏 2025-01-01 |
///
/// d and e never count (no work capacity, or not known). By hand:
/// - 2024-06-30: group a c f g h (b is 15); employed a f g: 3/5 = 60.00, met (≥ 60).
///   锦屏 a c: 1/2 = 50.00 not met; 溪口 f g h: 2/3 = 66.67 met. Gaps: c (锦屏), h (溪口).
/// - 2024-07-01: b turns 16: group a b c f g h; employed a b f g: 4/6 = 66.67.
///   锦屏 a b c: 2/3 = 66.67; 溪口 f g h: 2/3 = 66.67.
/// - 2024-12-31: the same (f's last day still counts, c is still 59, h still in 溪口).
/// - 2025-01-15: c is 60, g died, f's spell is over, h lives in 锦屏: group a b f h;
///   employed a b: 2/4 = 50.00 not met. 锦屏 a b h: 2/3 = 66.67 met; 溪口 f: 0/1 = 0.00.
///   Gaps: f (溪口), h (锦屏).
async fn employment_district(app: &TestApp, admin: &Session) -> District {
    let mut d = District::default();
    let yes = json!({"work_capacity": true});
    d.add(
        "a",
        member(
            app,
            admin,
            "应国平",
            "1980-05-01",
            101,
            JINPING,
            yes.clone(),
        )
        .await,
    );
    d.add(
        "b",
        member(
            app,
            admin,
            "毛小燕",
            "2008-07-01",
            102,
            JINPING,
            yes.clone(),
        )
        .await,
    );
    d.add(
        "c",
        member(
            app,
            admin,
            "竺建华",
            "1965-01-10",
            103,
            JINPING,
            yes.clone(),
        )
        .await,
    );
    d.add(
        "d",
        member(
            app,
            admin,
            "王志刚",
            "1975-02-02",
            104,
            JINPING,
            json!({"work_capacity": false}),
        )
        .await,
    );
    d.add(
        "e",
        member(app, admin, "蒋丽娟", "1978-03-03", 105, JINPING, json!({})).await,
    );
    d.add(
        "f",
        member(app, admin, "邬海波", "1985-04-04", 106, XIKOU, yes.clone()).await,
    );
    d.add(
        "g",
        member(app, admin, "胡晓东", "1990-06-06", 107, XIKOU, yes.clone()).await,
    );
    d.add(
        "h",
        member(app, admin, "孙美玲", "1988-08-08", 108, XIKOU, yes).await,
    );

    let spells = [
        (
            "a",
            json!({"kind": "concentrated", "employer": "奉化福利工厂", "start_on": "2023-01-01"}),
        ),
        ("b", json!({"kind": "flexible", "start_on": "2024-03-01"})),
        (
            "d",
            json!({"kind": "self_employed", "start_on": "2020-05-01"}),
        ),
        (
            "e",
            json!({"kind": "agriculture", "start_on": "2020-05-01"}),
        ),
        (
            "f",
            json!({"kind": "proportional", "start_on": "2022-01-01", "end_on": "2024-12-31"}),
        ),
        (
            "g",
            json!({"kind": "agriculture", "start_on": "2021-01-01"}),
        ),
    ];
    for (who, spell) in spells {
        record(app, admin, &d[who].id, "employment", spell).await;
    }
    die(app, admin, &d["g"], "2025-01-10").await;
    move_to(app, admin, &d["h"].id, JINPING, "2025-01-01").await;
    d
}

#[actix_web::test]
async fn employment_rate_counts_residents_of_working_age_able_to_work_with_a_spell_on_the_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = employment_district(&app, &admin).await;
    let code = "employment_rate";

    assert_day(
        &app,
        &admin,
        code,
        "2024-06-30",
        Rate(3, 5, Some(60.0), Some(true)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(2, 3, Some(66.67), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2024-07-01",
        Rate(4, 6, Some(66.67), Some(true)),
        &[
            (JINPING, Rate(2, 3, Some(66.67), Some(true))),
            (XIKOU, Rate(2, 3, Some(66.67), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2024-12-31",
        Rate(4, 6, Some(66.67), Some(true)),
        &[
            (JINPING, Rate(2, 3, Some(66.67), Some(true))),
            (XIKOU, Rate(2, 3, Some(66.67), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-01-15",
        Rate(2, 4, Some(50.0), Some(false)),
        &[
            (JINPING, Rate(2, 3, Some(66.67), Some(true))),
            (XIKOU, Rate(0, 1, Some(0.0), Some(false))),
        ],
    )
    .await;

    let everyone = d.everyone();
    let reason = "no_employment_spell";
    let answer = gaps(&app, &admin, code, "as_of=2024-06-30").await;
    assert_gaps(
        &answer,
        &[(&d["c"], JINPING, reason), (&d["h"], XIKOU, reason)],
        &everyone,
    );
    // The mask, spelled out once: 竺建华 is 竺**.
    assert!(
        answer.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "竺**"),
        "{}",
        answer.text()
    );
    let answer = gaps(&app, &admin, code, "as_of=2025-01-15").await;
    assert_gaps(
        &answer,
        &[(&d["f"], XIKOU, reason), (&d["h"], JINPING, reason)],
        &everyone,
    );
    // For one town, the residents who lived there on the day.
    let answer = gaps(
        &app,
        &admin,
        code,
        &format!("as_of=2024-06-30&area={XIKOU}"),
    )
    .await;
    assert_gaps(&answer, &[(&d["h"], XIKOU, reason)], &everyone);
    let answer = gaps(
        &app,
        &admin,
        code,
        &format!("as_of=2024-06-30&area={JINPING}"),
    )
    .await;
    assert_gaps(&answer, &[(&d["c"], JINPING, reason)], &everyone);
}

// ---------------------------------------------------------------------------------------------
// 10. high_school_education_rate.
// ---------------------------------------------------------------------------------------------

/// High school: P(D) aged 15–17, with an education record of stage high school, secondary
/// vocational or higher that started by D (enrolled or finished).
///
/// | | born | town | education | other |
/// |---|---|---|---|---|
/// | k1 | 2010-08-15 | 锦屏 | high school 2025-09-01– | 15 on 2025-08-15 |
/// | k2 | 2008-03-10 | 锦屏 | secondary vocational 2023-09-01–2025-06-30 | 18 on 2026-03-10 |
/// | k3 | 2009-01-20 | 锦屏 | compulsory 2015-09-01–2024-06-30 | |
/// | k4 | 2008-02-01 | 溪口 | high school 2023-09-01– | 18 on 2026-02-01 |
/// | k5 | 2009-05-05 | 溪口 | high school 2026-02-16– | |
/// | k6 | 2009-09-09 | 溪口 | none | certificate revoked 2025-08-01 |
///
/// By hand:
/// - 2025-06-30: k1 is 14. Group k2 k3 k4 k5 k6; counted k2 k4: 2/5 = 40.00, not met (≥ 85).
///   锦屏 k2 k3: 1/2 = 50.00; 溪口 k4 k5 k6: 1/3 = 33.33.
/// - 2025-09-01: k1 is 15 and starts that day; k6's certificate is cancelled. Group k1 k2 k3
///   k4 k5; counted k1 k2 k4: 3/5 = 60.00. 锦屏 k1 k2 k3: 2/3 = 66.67; 溪口 k4 k5: 1/2 = 50.00.
///   Gaps: k3 (锦屏), k5 (溪口).
/// - 2026-03-01: k4 is 18; k5 started in February. Group k1 k2 k3 k5; counted k1 k2 k5:
///   3/4 = 75.00. 锦屏 k1 k2 k3: 2/3 = 66.67; 溪口 k5: 1/1 = 100.00 met.
/// - 2026-03-10: k2 is 18. Group k1 k3 k5; counted k1 k5: 2/3 = 66.67. 锦屏 k1 k3: 1/2 =
///   50.00; 溪口 k5: 1/1 = 100.00 met. Gap: k3 (锦屏).
async fn high_school_district(app: &TestApp, admin: &Session) -> District {
    let mut d = District::default();
    let people = [
        ("k1", "张子涵", "2010-08-15", 201, JINPING),
        ("k2", "李浩然", "2008-03-10", 202, JINPING),
        ("k3", "陈雨桐", "2009-01-20", 203, JINPING),
        ("k4", "周梓轩", "2008-02-01", 204, XIKOU),
        ("k5", "吴思远", "2009-05-05", 205, XIKOU),
    ];
    for (label, name, birth, sequence, town) in people {
        d.add(
            label,
            member(app, admin, name, birth, sequence, town, json!({})).await,
        );
    }
    let k6 = person(app, admin, "郑可欣", "2009-09-09", 206, XIKOU, json!({})).await;
    let certificate = certify(app, admin, &k6, "hearing", 3, "2020-01-01", None).await;
    certificate_action(
        app,
        admin,
        &k6,
        &certificate,
        "cancel",
        json!({"reason": "revoked", "cancelled_on": "2025-08-01"}),
    )
    .await;
    d.add("k6", k6);

    let schooling = [
        (
            "k1",
            json!({"stage": "high_school", "school": "奉化中学", "start_on": "2025-09-01"}),
        ),
        (
            "k2",
            json!({"stage": "secondary_vocational", "start_on": "2023-09-01", "end_on": "2025-06-30"}),
        ),
        (
            "k3",
            json!({"stage": "compulsory", "start_on": "2015-09-01", "end_on": "2024-06-30"}),
        ),
        (
            "k4",
            json!({"stage": "high_school", "start_on": "2023-09-01"}),
        ),
        (
            "k5",
            json!({"stage": "high_school", "start_on": "2026-02-16"}),
        ),
    ];
    for (who, body) in schooling {
        record(app, admin, &d[who].id, "education", body).await;
    }
    d
}

#[actix_web::test]
async fn high_school_rate_counts_fifteen_to_seventeen_year_olds_enrolled_or_finished() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = high_school_district(&app, &admin).await;
    let code = "high_school_education_rate";

    assert_day(
        &app,
        &admin,
        code,
        "2025-06-30",
        Rate(2, 5, Some(40.0), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 3, Some(33.33), Some(false))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-09-01",
        Rate(3, 5, Some(60.0), Some(false)),
        &[
            (JINPING, Rate(2, 3, Some(66.67), Some(false))),
            (XIKOU, Rate(1, 2, Some(50.0), Some(false))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2026-03-01",
        Rate(3, 4, Some(75.0), Some(false)),
        &[
            (JINPING, Rate(2, 3, Some(66.67), Some(false))),
            (XIKOU, Rate(1, 1, Some(100.0), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2026-03-10",
        Rate(2, 3, Some(66.67), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 1, Some(100.0), Some(true))),
        ],
    )
    .await;

    let everyone = d.everyone();
    let reason = "no_high_school_record";
    let answer = gaps(&app, &admin, code, "as_of=2025-09-01").await;
    assert_gaps(
        &answer,
        &[(&d["k3"], JINPING, reason), (&d["k5"], XIKOU, reason)],
        &everyone,
    );
    let answer = gaps(&app, &admin, code, "as_of=2026-03-10").await;
    assert_gaps(&answer, &[(&d["k3"], JINPING, reason)], &everyone);
}

// ---------------------------------------------------------------------------------------------
// 11. rehab_service_coverage.
// ---------------------------------------------------------------------------------------------

/// Rehabilitation: P(D) with a rehab need assessed in the window (1 January of D's year to D),
/// covered when they received at least one rehab service in the window.
///
/// | | town | needs | services | other |
/// |---|---|---|---|---|
/// | r1 | 锦屏 | 2024-11-05, 2025-01-10 | 2024-12-10, 2025-02-20 | |
/// | r2 | 锦屏 | 2024-03-01 | none | |
/// | r3 | 溪口 | 2025-01-15 | 2025-01-31 | died 2025-03-01 |
/// | r4 | 溪口 | 2024-06-01, 2025-02-01 | 2024-06-15 | |
/// | r5 | 岳林 | 2025-01-05 | 2025-01-06 | moved to 溪口 2025-02-15 |
/// | r6 | 锦屏 | none | 2025-01-20 | |
/// | r7 | 锦屏 | 2025-03-10 | 2025-03-10 | |
///
/// r6 never counts (a service without a need). By hand:
/// - 2024-12-31: group r1 r2 r4; served r1 r4: 2/3 = 66.67, not met (> 99).
///   锦屏 r1 r2: 1/2 = 50.00; 溪口 r4: 1/1 = 100.00 met. Gap: r2 (锦屏).
/// - 2025-01-31: r1's December service no longer counts. Group r1 r3 r5; served r3 (on the
///   day) r5: 2/3 = 66.67. 锦屏 r1: 0/1 = 0.00; 溪口 r3: 1/1; 岳林 r5: 1/1.
///   Gap: r1 (锦屏).
/// - 2025-03-31: r3 died; r5 lives in 溪口. Group r1 r4 r5 r7; served r1 r5 r7: 3/4 = 75.00.
///   锦屏 r1 r7: 2/2 = 100.00 met; 溪口 r4 r5: 1/2 = 50.00; 岳林 empty. Gap: r4 (溪口).
async fn rehab_district(app: &TestApp, admin: &Session) -> District {
    let mut d = District::default();
    let people = [
        ("r1", "沈国强", "1970-01-01", 301, JINPING),
        ("r2", "屠秀英", "1955-02-02", 302, JINPING),
        ("r3", "俞建军", "1962-03-03", 303, XIKOU),
        ("r4", "鲍丽萍", "1972-04-04", 304, XIKOU),
        ("r5", "孔德明", "1968-05-05", 305, YUELIN),
        ("r6", "汪静", "1980-06-06", 306, JINPING),
        ("r7", "任志伟", "1975-07-07", 307, JINPING),
    ];
    for (label, name, birth, sequence, town) in people {
        d.add(
            label,
            member(app, admin, name, birth, sequence, town, json!({})).await,
        );
    }
    let needs = [
        ("r1", "2024-11-05"),
        ("r1", "2025-01-10"),
        ("r2", "2024-03-01"),
        ("r3", "2025-01-15"),
        ("r4", "2024-06-01"),
        ("r4", "2025-02-01"),
        ("r5", "2025-01-05"),
        ("r7", "2025-03-10"),
    ];
    for (who, day) in needs {
        record(
            app,
            admin,
            &d[who].id,
            "rehab-needs",
            json!({"type": "physical_therapy", "assessed_on": day}),
        )
        .await;
    }
    let services = [
        ("r1", "2024-12-10"),
        ("r1", "2025-02-20"),
        ("r3", "2025-01-31"),
        ("r4", "2024-06-15"),
        ("r5", "2025-01-06"),
        ("r6", "2025-01-20"),
        ("r7", "2025-03-10"),
    ];
    for (who, day) in services {
        record(
            app,
            admin,
            &d[who].id,
            "rehab-services",
            json!({"type": "community_rehab", "provider": "奉化区残疾人康复中心", "service_on": day}),
        )
        .await;
    }
    die(app, admin, &d["r3"], "2025-03-01").await;
    move_to(app, admin, &d["r5"].id, XIKOU, "2025-02-15").await;
    d
}

#[actix_web::test]
async fn rehab_coverage_counts_needs_and_services_of_the_year_to_date() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = rehab_district(&app, &admin).await;
    let code = "rehab_service_coverage";

    assert_day(
        &app,
        &admin,
        code,
        "2024-12-31",
        Rate(2, 3, Some(66.67), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 1, Some(100.0), Some(true))),
            (YUELIN, EMPTY),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-01-31",
        Rate(2, 3, Some(66.67), Some(false)),
        &[
            (JINPING, Rate(0, 1, Some(0.0), Some(false))),
            (XIKOU, Rate(1, 1, Some(100.0), Some(true))),
            (YUELIN, Rate(1, 1, Some(100.0), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-03-31",
        Rate(3, 4, Some(75.0), Some(false)),
        &[
            (JINPING, Rate(2, 2, Some(100.0), Some(true))),
            (XIKOU, Rate(1, 2, Some(50.0), Some(false))),
            (YUELIN, EMPTY),
        ],
    )
    .await;

    let everyone = d.everyone();
    let reason = "need_without_service";
    for (as_of, expected) in [
        ("2024-12-31", [(&d["r2"], JINPING, reason)]),
        ("2025-01-31", [(&d["r1"], JINPING, reason)]),
        ("2025-03-31", [(&d["r4"], XIKOU, reason)]),
    ] {
        let answer = gaps(&app, &admin, code, &format!("as_of={as_of}")).await;
        assert_gaps(&answer, &expected, &everyone);
    }
}

// ---------------------------------------------------------------------------------------------
// 12. assistive_device_fitting_rate.
// ---------------------------------------------------------------------------------------------

/// Assistive devices: P(D) with a device need (`needed_on`) in the window, counted when every
/// such need was fitted by D.
///
/// | | town | needs (fitted) | other |
/// |---|---|---|---|
/// | a1 | 锦屏 | 2024-05-01 (2024-06-01), 2025-02-01 (2025-04-10) | |
/// | a2 | 锦屏 | 2025-01-10 (2025-01-20), 2025-03-01 (2025-07-01) | |
/// | a3 | 溪口 | 2024-11-01 (2025-02-01) | |
/// | a4 | 溪口 | 2025-03-15 (2025-03-31) | moved to 锦屏 2025-06-01 |
/// | a5 | 溪口 | 2025-05-01 (never) | certificate valid until 2025-08-01 |
///
/// By hand:
/// - 2024-12-31: group a1 a3; fitted a1: 1/2 = 50.00, not met (> 99).
///   锦屏 a1: 1/1 = 100.00 met; 溪口 a3: 0/1 = 0.00.
/// - 2025-03-31: a1's 2024 need is outside the window, its 2025 need unfitted; a2 has one of
///   two fitted; a3 has no need this year; a4 fitted on the day. Group a1 a2 a4; fitted a4:
///   1/3 = 33.33. 锦屏 a1 a2: 0/2 = 0.00; 溪口 a4: 1/1 = 100.00 met.
/// - 2025-05-31: a1 fitted; a5's need counts. Group a1 a2 a4 a5; fitted a1 a4: 2/4 = 50.00.
///   锦屏 a1 a2: 1/2; 溪口 a4 a5: 1/2. Gaps: a2 (锦屏), a5 (溪口).
/// - 2025-08-01: a2 fitted; a4 in 锦屏; a5's certificate still valid on its last day. Group
///   a1 a2 a4 a5; fitted a1 a2 a4: 3/4 = 75.00. 锦屏 3/3 = 100.00 met; 溪口 a5: 0/1.
///   Gap: a5 (溪口).
/// - 2025-08-31: a5's certificate expired. Group a1 a2 a4: 3/3 = 100.00 met.
///   锦屏 3/3 met; 溪口 empty.
async fn device_district(app: &TestApp, admin: &Session) -> District {
    let mut d = District::default();
    let people = [
        ("a1", "葛明辉", "1966-01-15", 401, JINPING),
        ("a2", "方春燕", "1958-02-20", 402, JINPING),
        ("a3", "蔡永康", "1949-03-25", 403, XIKOU),
        ("a4", "严海燕", "1983-04-30", 404, XIKOU),
    ];
    for (label, name, birth, sequence, town) in people {
        d.add(
            label,
            member(app, admin, name, birth, sequence, town, json!({})).await,
        );
    }
    let a5 = person(app, admin, "潘文斌", "1977-05-12", 405, XIKOU, json!({})).await;
    certify(
        app,
        admin,
        &a5,
        "visual",
        2,
        "2015-08-01",
        Some("2025-08-01"),
    )
    .await;
    d.add("a5", a5);

    let devices = [
        (
            "a1",
            "daily_living_aid",
            "2024-05-01",
            Some(("2024-06-01", "in_kind")),
        ),
        (
            "a1",
            "wheelchair",
            "2025-02-01",
            Some(("2025-04-10", "voucher")),
        ),
        (
            "a2",
            "walking_aid",
            "2025-01-10",
            Some(("2025-01-20", "rental")),
        ),
        (
            "a2",
            "hearing_aid",
            "2025-03-01",
            Some(("2025-07-01", "in_kind")),
        ),
        (
            "a3",
            "visual_aid",
            "2024-11-01",
            Some(("2025-02-01", "in_kind")),
        ),
        (
            "a4",
            "prosthesis",
            "2025-03-15",
            Some(("2025-03-31", "in_kind")),
        ),
        ("a5", "visual_aid", "2025-05-01", None),
    ];
    for (who, device, needed_on, fitted) in devices {
        let mut body = json!({"device_type": device, "needed_on": needed_on});
        if let Some((fitted_on, mode)) = fitted {
            body["fitted_on"] = json!(fitted_on);
            body["mode"] = json!(mode);
        }
        record(app, admin, &d[who].id, "assistive-devices", body).await;
    }
    move_to(app, admin, &d["a4"].id, JINPING, "2025-06-01").await;
    d
}

#[actix_web::test]
async fn device_fitting_rate_counts_a_resident_when_every_need_of_the_year_is_fitted() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = device_district(&app, &admin).await;
    let code = "assistive_device_fitting_rate";

    assert_day(
        &app,
        &admin,
        code,
        "2024-12-31",
        Rate(1, 2, Some(50.0), Some(false)),
        &[
            (JINPING, Rate(1, 1, Some(100.0), Some(true))),
            (XIKOU, Rate(0, 1, Some(0.0), Some(false))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-03-31",
        Rate(1, 3, Some(33.33), Some(false)),
        &[
            (JINPING, Rate(0, 2, Some(0.0), Some(false))),
            (XIKOU, Rate(1, 1, Some(100.0), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-05-31",
        Rate(2, 4, Some(50.0), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 2, Some(50.0), Some(false))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-08-01",
        Rate(3, 4, Some(75.0), Some(false)),
        &[
            (JINPING, Rate(3, 3, Some(100.0), Some(true))),
            (XIKOU, Rate(0, 1, Some(0.0), Some(false))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-08-31",
        Rate(3, 3, Some(100.0), Some(true)),
        &[
            (JINPING, Rate(3, 3, Some(100.0), Some(true))),
            (XIKOU, EMPTY),
        ],
    )
    .await;

    let everyone = d.everyone();
    let reason = "device_not_fitted";
    let answer = gaps(&app, &admin, code, "as_of=2025-05-31").await;
    assert_gaps(
        &answer,
        &[(&d["a2"], JINPING, reason), (&d["a5"], XIKOU, reason)],
        &everyone,
    );
    let answer = gaps(&app, &admin, code, "as_of=2025-08-01").await;
    assert_gaps(&answer, &[(&d["a5"], XIKOU, reason)], &everyone);
    let answer = gaps(&app, &admin, code, "as_of=2025-08-31").await;
    assert_gaps(&answer, &[], &everyone);
}

// ---------------------------------------------------------------------------------------------
// 13. home_modification_rate.
// ---------------------------------------------------------------------------------------------

/// Home modification: P(D) with a case assessed eligible by D and not cancelled by D, counted
/// when every such case was completed by D. No window: a case of any year counts.
///
/// | | town | cases (applied, eligible, started, completed / cancelled) | other |
/// |---|---|---|---|
/// | h1 | 锦屏 | 03-01, 03-10, 04-01, done 2024-08-20 | |
/// | h2 | 锦屏 | 2024-05-01, assessed ineligible 2024-05-15 | |
/// | h3 | 溪口 | 04-01, 04-20, cancelled 2024-08-01 | |
/// | h4 | 溪口 | 06-01, 07-01, 07-15, not done | moved to 岳林 2025-01-10 |
/// | h5 | 锦屏 | A: 01-05, 01-20, 02-01, done 2024-03-01; B: 09-01, 09-15, 10-01, done 2025-01-20 | |
/// | h6 | 溪口 | 01-15, 02-01, 03-01, done 2024-05-01 | died 2024-12-01 |
/// | h7 | 岳林 | 08-15, 09-01, 09-10, done 2024-09-30 | |
///
/// (dates in 2024 unless given.) h2 never counts. By hand:
/// - 2024-06-30: group h1 h3 h5 h6 (h4 assessed later); done h5 h6: 2/4 = 50.00, not met
///   (≥ 95). 锦屏 h1 h5: 1/2; 溪口 h3 h6: 1/2.
/// - 2024-09-30: h1 done; h3 cancelled; h4 eligible; h5's case B open; h7 done on the day.
///   Group h1 h4 h5 h6 h7; done h1 h6 h7: 3/5 = 60.00. 锦屏 h1 h5: 1/2; 溪口 h4 h6: 1/2;
///   岳林 h7: 1/1 = 100.00 met. Gaps: h4 (溪口), h5 (锦屏).
/// - 2025-03-31: h5's case B done; h6 died; h4 lives in 岳林. Group h1 h4 h5 h7; done h1 h5
///   h7: 3/4 = 75.00. 锦屏 2/2 = 100.00 met; 溪口 empty; 岳林 h4 h7: 1/2. Gap: h4 (岳林).
async fn home_modification_district(app: &TestApp, admin: &Session) -> District {
    let mut d = District::default();
    let people = [
        ("h1", "黄建平", "1950-01-11", 501, JINPING),
        ("h2", "刘桂芳", "1948-02-12", 502, JINPING),
        ("h3", "徐国庆", "1952-03-13", 503, XIKOU),
        ("h4", "朱晓红", "1961-04-14", 504, XIKOU),
        ("h5", "林志明", "1957-05-15", 505, JINPING),
        ("h6", "何秀兰", "1940-06-16", 506, XIKOU),
        ("h7", "高文杰", "1966-07-17", 507, YUELIN),
    ];
    for (label, name, birth, sequence, town) in people {
        d.add(
            label,
            member(app, admin, name, birth, sequence, town, json!({})).await,
        );
    }
    let eligible = |on: &str| ("assess", json!({"assessed_on": on, "outcome": "eligible"}));
    let start = |on: &str| ("start", json!({"started_on": on}));
    let complete = |on: &str| ("complete", json!({"completed_on": on}));

    home_case(
        app,
        admin,
        &d["h1"],
        "2024-03-01",
        &[
            eligible("2024-03-10"),
            start("2024-04-01"),
            complete("2024-08-20"),
        ],
    )
    .await;
    home_case(
        app,
        admin,
        &d["h2"],
        "2024-05-01",
        &[(
            "assess",
            json!({"assessed_on": "2024-05-15", "outcome": "ineligible"}),
        )],
    )
    .await;
    home_case(
        app,
        admin,
        &d["h3"],
        "2024-04-01",
        &[
            eligible("2024-04-20"),
            (
                "cancel",
                json!({"cancelled_on": "2024-08-01", "reason": "申请人放弃"}),
            ),
        ],
    )
    .await;
    home_case(
        app,
        admin,
        &d["h4"],
        "2024-06-01",
        &[eligible("2024-07-01"), start("2024-07-15")],
    )
    .await;
    home_case(
        app,
        admin,
        &d["h5"],
        "2024-01-05",
        &[
            eligible("2024-01-20"),
            start("2024-02-01"),
            complete("2024-03-01"),
        ],
    )
    .await;
    home_case(
        app,
        admin,
        &d["h5"],
        "2024-09-01",
        &[
            eligible("2024-09-15"),
            start("2024-10-01"),
            complete("2025-01-20"),
        ],
    )
    .await;
    home_case(
        app,
        admin,
        &d["h6"],
        "2024-01-15",
        &[
            eligible("2024-02-01"),
            start("2024-03-01"),
            complete("2024-05-01"),
        ],
    )
    .await;
    home_case(
        app,
        admin,
        &d["h7"],
        "2024-08-15",
        &[
            eligible("2024-09-01"),
            start("2024-09-10"),
            complete("2024-09-30"),
        ],
    )
    .await;
    die(app, admin, &d["h6"], "2024-12-01").await;
    move_to(app, admin, &d["h4"].id, YUELIN, "2025-01-10").await;
    d
}

#[actix_web::test]
async fn home_modification_rate_counts_eligible_cases_completed_by_the_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = home_modification_district(&app, &admin).await;
    let code = "home_modification_rate";

    assert_day(
        &app,
        &admin,
        code,
        "2024-06-30",
        Rate(2, 4, Some(50.0), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 2, Some(50.0), Some(false))),
            (YUELIN, EMPTY),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2024-09-30",
        Rate(3, 5, Some(60.0), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 2, Some(50.0), Some(false))),
            (YUELIN, Rate(1, 1, Some(100.0), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-03-31",
        Rate(3, 4, Some(75.0), Some(false)),
        &[
            (JINPING, Rate(2, 2, Some(100.0), Some(true))),
            (XIKOU, EMPTY),
            (YUELIN, Rate(1, 2, Some(50.0), Some(false))),
        ],
    )
    .await;

    let everyone = d.everyone();
    let reason = "case_not_completed";
    let answer = gaps(&app, &admin, code, "as_of=2024-09-30").await;
    assert_gaps(
        &answer,
        &[(&d["h4"], XIKOU, reason), (&d["h5"], JINPING, reason)],
        &everyone,
    );
    let answer = gaps(&app, &admin, code, "as_of=2025-03-31").await;
    assert_gaps(&answer, &[(&d["h4"], YUELIN, reason)], &everyone);
}

// ---------------------------------------------------------------------------------------------
// 14. culture_sports_coverage.
// ---------------------------------------------------------------------------------------------

/// Culture and sports: all of P(D), counted with at least one culture or sports service in the
/// window.
///
/// | | town | services | other |
/// |---|---|---|---|
/// | c1 | 锦屏 | 2024-12-20, 2025-03-01 | |
/// | c2 | 锦屏 | 2025-01-31 | |
/// | c3 | 溪口 | 2024-05-05 | |
/// | c4 | 溪口 | none | certificate revoked 2025-05-01 |
/// | c5 | 溪口 | 2025-01-15 | moved to 锦屏 2025-02-10 |
/// | c6 | 岳林 | 2024-07-01, 2025-01-10 | no certificate |
/// | c7 | 岳林 | 2025-03-03 | certificate issued 2025-02-01 |
/// | c8 | 岳林 | 2024-06-01 | moved out of the district 2025-01-20 |
///
/// c6 never counts (no certificate). By hand:
/// - 2024-12-31: P = c1 c2 c3 c4 c5 c8; served c1 c3 c8: 3/6 = 50.00, not met (≥ 95).
///   锦屏 c1 c2: 1/2; 溪口 c3 c4 c5: 1/3 = 33.33; 岳林 c8: 1/1 = 100.00 met.
/// - 2025-01-31: c1's December service does not count in January; c8 moved out. P = c1 c2 c3
///   c4 c5; served c2 (on the day) c5: 2/5 = 40.00. 锦屏 c1 c2: 1/2; 溪口 c3 c4 c5: 1/3;
///   岳林 empty. Gaps: c1 (锦屏), c3 (溪口), c4 (溪口).
/// - 2025-06-30: c4's certificate cancelled; c5 lives in 锦屏; c7 certified. P = c1 c2 c3 c5
///   c7; served c1 c2 c5 c7: 4/5 = 80.00. 锦屏 c1 c2 c5: 3/3 = 100.00 met; 溪口 c3: 0/1;
///   岳林 c7: 1/1 met. Gap: c3 (溪口).
async fn culture_district(app: &TestApp, admin: &Session) -> District {
    let mut d = District::default();
    let people = [
        ("c1", "方建国", "1960-01-21", 601, JINPING),
        ("c2", "陈美华", "1971-02-22", 602, JINPING),
        ("c3", "应志强", "1982-03-23", 603, XIKOU),
        ("c5", "毛国平", "1969-05-25", 605, XIKOU),
        ("c8", "董秀珍", "1959-08-28", 608, YUELIN),
    ];
    for (label, name, birth, sequence, town) in people {
        d.add(
            label,
            member(app, admin, name, birth, sequence, town, json!({})).await,
        );
    }
    let c4 = person(app, admin, "邵丽君", "1993-04-24", 604, XIKOU, json!({})).await;
    let certificate = certify(app, admin, &c4, "speech", 3, "2020-01-01", None).await;
    certificate_action(
        app,
        admin,
        &c4,
        &certificate,
        "cancel",
        json!({"reason": "revoked", "cancelled_on": "2025-05-01"}),
    )
    .await;
    d.add("c4", c4);
    let c6 = person(app, admin, "胡海英", "1977-06-26", 606, YUELIN, json!({})).await;
    d.add("c6", c6);
    let c7 = person(app, admin, "单伟", "1988-07-27", 607, YUELIN, json!({})).await;
    certify(app, admin, &c7, "physical", 3, "2025-02-01", None).await;
    d.add("c7", c7);

    let services = [
        ("c1", "culture", "2024-12-20"),
        ("c1", "culture", "2025-03-01"),
        ("c2", "sports", "2025-01-31"),
        ("c3", "reading", "2024-05-05"),
        ("c5", "culture", "2025-01-15"),
        ("c6", "sports", "2024-07-01"),
        ("c6", "sports", "2025-01-10"),
        ("c7", "culture", "2025-03-03"),
        ("c8", "culture", "2024-06-01"),
    ];
    for (who, kind, day) in services {
        record(
            app,
            admin,
            &d[who].id,
            "culture-services",
            json!({"kind": kind, "service_on": day}),
        )
        .await;
    }
    move_to(app, admin, &d["c5"].id, JINPING, "2025-02-10").await;
    change_resident(
        app,
        admin,
        &d["c8"].id,
        json!({"moved_out_on": "2025-01-20"}),
    )
    .await;
    d
}

#[actix_web::test]
async fn culture_coverage_counts_a_service_in_the_year_to_date_over_the_whole_population() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = culture_district(&app, &admin).await;
    let code = "culture_sports_coverage";

    assert_day(
        &app,
        &admin,
        code,
        "2024-12-31",
        Rate(3, 6, Some(50.0), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 3, Some(33.33), Some(false))),
            (YUELIN, Rate(1, 1, Some(100.0), Some(true))),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-01-31",
        Rate(2, 5, Some(40.0), Some(false)),
        &[
            (JINPING, Rate(1, 2, Some(50.0), Some(false))),
            (XIKOU, Rate(1, 3, Some(33.33), Some(false))),
            (YUELIN, EMPTY),
        ],
    )
    .await;
    assert_day(
        &app,
        &admin,
        code,
        "2025-06-30",
        Rate(4, 5, Some(80.0), Some(false)),
        &[
            (JINPING, Rate(3, 3, Some(100.0), Some(true))),
            (XIKOU, Rate(0, 1, Some(0.0), Some(false))),
            (YUELIN, Rate(1, 1, Some(100.0), Some(true))),
        ],
    )
    .await;

    let everyone = d.everyone();
    let reason = "no_culture_service";
    let answer = gaps(&app, &admin, code, "as_of=2025-01-31").await;
    assert_gaps(
        &answer,
        &[
            (&d["c1"], JINPING, reason),
            (&d["c3"], XIKOU, reason),
            (&d["c4"], XIKOU, reason),
        ],
        &everyone,
    );
    let answer = gaps(&app, &admin, code, "as_of=2025-06-30").await;
    assert_gaps(&answer, &[(&d["c3"], XIKOU, reason)], &everyone);
}

// ---------------------------------------------------------------------------------------------
// Gap lists: paging, scope, refusals, audit, towns.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_gap_list_walked_one_item_a_page_gives_every_item_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = culture_district(&app, &admin).await;
    let path = "/api/v1/indicators/culture_sports_coverage/gaps?as_of=2025-01-31";

    // The whole list on one page: c1, c3, c4 (see `culture_district`).
    let whole = app.get_as(&admin, &format!("{path}&limit=200")).await;
    assert_gaps(
        &whole,
        &[
            (&d["c1"], JINPING, "no_culture_service"),
            (&d["c3"], XIKOU, "no_culture_service"),
            (&d["c4"], XIKOU, "no_culture_service"),
        ],
        &d.everyone(),
    );
    let whole = whole.json()["items"].as_array().unwrap().clone();

    // One a page: three pages, each saying the total, in the same stable order.
    let first = app.get_as(&admin, &format!("{path}&limit=1")).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["total"], 3);
    assert_eq!(first.json()["items"].as_array().unwrap().len(), 1);
    assert!(first.json()["next_cursor"].is_string());
    let (walked, pages) = walk(&app, &admin, path, 1).await;
    assert_eq!(pages, 3);
    assert_eq!(walked, whole, "every item once, in order");
    let ids: BTreeSet<&str> = walked
        .iter()
        .map(|i| i["resident_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "no resident twice");

    // Two a page: two pages.
    let (walked, pages) = walk(&app, &admin, path, 2).await;
    assert_eq!(pages, 2);
    assert_eq!(walked, whole);

    // The limit is 1 to 200; a cursor is one the list gave out.
    for limit in ["0", "201", "x"] {
        let answer = app.get_as(&admin, &format!("{path}&limit={limit}")).await;
        assert_invalid(&answer, "limit", None);
    }
    let answer = app.get_as(&admin, &format!("{path}&cursor=garbage!")).await;
    assert_invalid(&answer, "cursor", None);
}

#[actix_web::test]
async fn a_caseworker_sees_only_the_gaps_of_its_town_and_not_who_moved_away_after_the_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = employment_district(&app, &admin).await;
    let jinping = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let everyone = d.everyone();
    let code = "employment_rate";
    let reason = "no_employment_spell";

    // On 2024-06-30 the gaps are c (锦屏) and h (溪口, who has lived in 锦屏 since 2025-01-01).
    // 锦屏's caseworker gets its town by default, and sees c only: h was not in 锦屏 that day.
    for query in [
        "as_of=2024-06-30".to_owned(),
        format!("as_of=2024-06-30&area={JINPING}"),
    ] {
        let answer = gaps(&app, &jinping, code, &query).await;
        assert_gaps(&answer, &[(&d["c"], JINPING, reason)], &everyone);
    }
    // 溪口's caseworker does not see h, who has moved away since; an admin does.
    let answer = gaps(&app, &xikou, code, "as_of=2024-06-30").await;
    assert_gaps(&answer, &[], &everyone);
    let answer = gaps(
        &app,
        &admin,
        code,
        &format!("as_of=2024-06-30&area={XIKOU}"),
    )
    .await;
    assert_gaps(&answer, &[(&d["h"], XIKOU, reason)], &everyone);

    // On 2025-01-15 the gaps are f (溪口) and h (锦屏): each caseworker sees its own.
    let answer = gaps(&app, &jinping, code, "as_of=2025-01-15").await;
    assert_gaps(&answer, &[(&d["h"], JINPING, reason)], &everyone);
    let answer = gaps(&app, &xikou, code, "as_of=2025-01-15").await;
    assert_gaps(&answer, &[(&d["f"], XIKOU, reason)], &everyone);

    // The district, or another town, is refused to a caseworker.
    for query in [
        format!("as_of=2025-01-15&area={DISTRICT}"),
        format!("as_of=2025-01-15&area={XIKOU}"),
    ] {
        gaps(&app, &jinping, code, &query)
            .await
            .problem(403, "forbidden");
    }
    // An auditor reads the district list.
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let answer = gaps(&app, &auditor, code, "as_of=2025-01-15").await;
    assert_gaps(
        &answer,
        &[(&d["f"], XIKOU, reason), (&d["h"], JINPING, reason)],
        &everyone,
    );
}

#[actix_web::test]
async fn a_gap_list_checks_its_code_day_and_area() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    // Indicators that count institutions or compare incomes have no gap list.
    for code in [
        "income_growth",
        "care_institutions",
        "child_rehab_institutions",
    ] {
        let answer = gaps(&app, &admin, code, "as_of=2025-06-30").await;
        assert_invalid(&answer, "code", Some("no_gap_list"));
    }
    gaps(&app, &admin, "happiness_rate", "as_of=2025-06-30")
        .await
        .problem(404, "not_found");

    let code = "culture_sports_coverage";
    let answer = gaps(&app, &admin, code, "as_of=2025-02-30").await;
    assert_invalid(&answer, "as_of", Some("invalid_date"));
    let answer = gaps(&app, &admin, code, &format!("as_of={}", days_from_today(1))).await;
    assert_invalid(&answer, "as_of", Some("in_future"));
    for area in ["330213001001", "330299", "jinping"] {
        let answer = gaps(&app, &admin, code, &format!("as_of=2025-06-30&area={area}")).await;
        assert_invalid(&answer, "area", Some("unknown_area"));
    }
    // A caseworker of two towns names one.
    let both = app
        .session("both", Role::Caseworker, &[JINPING, XIKOU])
        .await;
    let answer = gaps(&app, &both, code, "as_of=2025-06-30").await;
    assert_invalid(&answer, "area", Some("required"));
    let answer = gaps(&app, &both, code, &format!("as_of=2025-06-30&area={XIKOU}")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["total"], 0);
    // Without a date: today.
    let answer = gaps(&app, &admin, code, "").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    app.get(&format!("/api/v1/indicators/{code}/gaps"))
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn reading_a_gap_list_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = employment_district(&app, &admin).await;
    let jinping = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    assert!(events(&app, "indicator_gaps_read").await.is_empty());

    let answer = gaps(&app, &jinping, "employment_rate", "as_of=2024-06-30").await;
    assert_gaps(
        &answer,
        &[(&d["c"], JINPING, "no_employment_spell")],
        &d.everyone(),
    );
    let read = events(&app, "indicator_gaps_read").await;
    assert_eq!(read.len(), 1, "one event per read: {read:?}");
    assert_eq!(read[0].actor_username.as_deref(), Some("jinping"));
    assert_eq!(read[0].outcome, "success");

    let answer = gaps(&app, &admin, "employment_rate", "as_of=2025-01-15&limit=1").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let read = events(&app, "indicator_gaps_read").await;
    assert_eq!(read.len(), 2);
    assert_eq!(read[1].actor_username.as_deref(), Some("admin"));
}

/// Homes for the disabled (残疾人之家): 锦屏 from 2019-05-01; 溪口 from 2024-01-01, closed on
/// 2025-06-30 (a closure takes effect on its day); 岳林 from 2025-07-01. 岳林 also has a care
/// institution since 2020, which is not a home. By hand, the towns without an open home:
/// - 2023-12-31: every town but 锦屏 (11).
/// - 2025-06-29: every town but 锦屏 and 溪口 (10).
/// - 2025-06-30: every town but 锦屏 (11).
/// - 2025-07-01: every town but 锦屏 and 岳林 (10).
#[actix_web::test]
async fn the_home_for_disabled_gap_list_names_the_towns_without_an_open_home() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let facilities = [
        json!({"kind": "home_for_disabled", "name": "锦屏街道残疾人之家", "town_code": JINPING, "opened_on": "2019-05-01"}),
        json!({"kind": "home_for_disabled", "name": "溪口镇残疾人之家", "town_code": XIKOU, "opened_on": "2024-01-01", "closed_on": "2025-06-30"}),
        json!({"kind": "home_for_disabled", "name": "岳林街道残疾人之家", "town_code": YUELIN, "opened_on": "2025-07-01"}),
        json!({"kind": "care_institution", "name": "岳林街道托养中心", "town_code": YUELIN, "opened_on": "2020-01-01"}),
    ];
    for body in &facilities {
        let answer = app.post_as(&admin, "/api/v1/facilities", body).await;
        assert_eq!(answer.status, 201, "{body}: {}", answer.text());
    }
    let code = "home_for_disabled_coverage";
    let without = |open: &[&str]| -> Vec<Value> {
        TOWNS
            .iter()
            .filter(|(c, _)| !open.contains(c))
            .map(|(c, n)| json!({"town_code": c, "town_name": n, "reason": "no_home_for_disabled"}))
            .collect()
    };
    let by_town = |items: &Value| -> Vec<Value> {
        let mut items = items.as_array().expect("items").clone();
        items.sort_by_key(|i| i["town_code"].as_str().unwrap_or_default().to_owned());
        items
    };
    for (as_of, open, total) in [
        ("2023-12-31", vec![JINPING], 11),
        ("2025-06-29", vec![JINPING, XIKOU], 10),
        ("2025-06-30", vec![JINPING], 11),
        ("2025-07-01", vec![JINPING, YUELIN], 10),
    ] {
        let answer = gaps(&app, &admin, code, &format!("as_of={as_of}&limit=200")).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let body = answer.json();
        assert_eq!(body["total"], total, "{as_of}");
        assert_eq!(by_town(&body["items"]), without(&open), "{as_of}");
        assert_eq!(body["next_cursor"], Value::Null);
    }

    // Four a page: 4 + 4 + 3, every town once.
    let path = format!("/api/v1/indicators/{code}/gaps?as_of=2025-06-30");
    let (walked, pages) = walk(&app, &admin, &path, 4).await;
    assert_eq!(pages, 3);
    assert_eq!(by_town(&json!(walked)), without(&[JINPING]));

    // A caseworker's list holds its own town when it has no home open.
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let answer = gaps(&app, &xikou, code, "as_of=2025-06-30").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json()["items"],
        json!([{"town_code": XIKOU, "town_name": "溪口镇", "reason": "no_home_for_disabled"}])
    );
    assert_eq!(answer.json()["total"], 1);
    let answer = gaps(&app, &xikou, code, "as_of=2025-06-29").await;
    assert_eq!(answer.json()["items"], json!([]));
    assert_eq!(answer.json()["total"], 0);
}

// ---------------------------------------------------------------------------------------------
// Reconciliation.
// ---------------------------------------------------------------------------------------------

/// The two subsidies, paid against due (policies as seeded: living for `dibao`, nursing for
/// grades 1–2; `tekun` and a work-injury nursing allowance excluded). Every grant starts in
/// 2024-01; households are in their status since 2015; certificates issued 2020-01-01.
///
/// | | town | household | certificate | grants | change |
/// |---|---|---|---|---|---|
/// | n1 | 锦屏 | dibao | physical 4 | none | |
/// | n2 | 锦屏 | dibao | physical 2 | living | living suspended 2025-02-01 |
/// | n3 | 溪口 | dibao | physical 4 | living | living terminated 2025-03-01 |
/// | p1 | 锦屏 | dibao | visual 1 | living, nursing | died 2025-03-10 (grants end 2025-04-01) |
/// | p2 | 溪口 | dibao | physical 2 | living, nursing | certificate revoked 2025-02-15 |
/// | p3 | 锦屏 | dibao | physical 3 | living | household `none` from 2025-01-01 |
/// | p4 | 溪口 | dibao | physical 2 | living, nursing | re-assessed to grade 3 on 2025-02-01 |
/// | p5 | 锦屏 | none | visual 1 | nursing | household `tekun` from 2025-01-01 |
/// | p6 | 溪口 | none | physical 1 | nursing | work-injury nursing from 2025-01-01; moved to 岳林 2025-04-01 |
/// | p7 | 溪口 | dibao | physical 4, 2015-02-01 to 2025-01-31 | living | certificate expires |
/// | p8 | 锦屏 | dibao | none | living (override) | |
/// | ok | 岳林 | dibao | physical 2 | living, nursing | |
///
/// By hand, for the district:
/// - 2024-12-31. Living: eligible n1 n2 n3 p1 p2 p3 p4 p7 ok = 9; paid n2 n3 p1 p2 p3 p4 p7
///   p8 ok = 9; n1 not paid (`no_grant`); p8 paid, not eligible (`no_certificate`).
///   Nursing: eligible n2 p1 p2 p4 p5 p6 ok = 7; paid p1 p2 p4 p5 p6 ok = 6; n2 not paid
///   (`no_grant`); none paid and not eligible.
/// - 2025-03-20 (p1's death month: p1 is paid and ineligible, but the end of the grants is
///   recorded for 2025-04-01, so not flagged). Living: eligible n1 n2 n3 p4 ok = 5; paid p1
///   p2 p3 p4 p7 p8 ok = 7; not paid n1 `no_grant`, n2 `grant_suspended`, n3
///   `grant_terminated`; not eligible p2 `certificate_cancelled`, p3
///   `household_status_changed`, p7 `certificate_expired`, p8 `no_certificate`.
///   Nursing: eligible n2 ok = 2; paid p1 p2 p4 p5 p6 ok = 6; not paid n2 `no_grant`; not
///   eligible p2 `certificate_cancelled`, p4 `grade_changed`, p5 `excluded_tekun`, p6
///   `work_injury_nursing` (in 溪口 that day).
/// - 2025-04-15 (p1's grants ended): as on 2025-03-20, but living paid 6 and nursing paid 5;
///   p6 is in 岳林.
async fn subsidy_district(app: &TestApp, admin: &Session) -> District {
    let mut d = District::default();
    let dibao = json!({"household_status": "dibao", "household_status_since": "2015-01-01"});
    let none = json!({"household_status": "none", "household_status_since": "2015-01-01"});
    // (label, name, birth, sequence, town, household, certificate category and grade)
    let people = [
        (
            "n1",
            "屠小龙",
            "1970-01-01",
            701,
            JINPING,
            &dibao,
            ("physical", 4),
        ),
        (
            "n2",
            "俞美娟",
            "1971-02-02",
            702,
            JINPING,
            &dibao,
            ("physical", 2),
        ),
        (
            "n3",
            "邬国华",
            "1972-03-03",
            703,
            XIKOU,
            &dibao,
            ("physical", 4),
        ),
        (
            "p1",
            "钱伟民",
            "1950-04-04",
            704,
            JINPING,
            &dibao,
            ("visual", 1),
        ),
        (
            "p2",
            "孙丽华",
            "1973-05-05",
            705,
            XIKOU,
            &dibao,
            ("physical", 2),
        ),
        (
            "p3",
            "周建新",
            "1974-06-06",
            706,
            JINPING,
            &dibao,
            ("physical", 3),
        ),
        (
            "p4",
            "吴海燕",
            "1975-07-07",
            707,
            XIKOU,
            &dibao,
            ("physical", 2),
        ),
        (
            "p5",
            "郑国栋",
            "1976-08-08",
            708,
            JINPING,
            &none,
            ("visual", 1),
        ),
        (
            "p6",
            "王秀英",
            "1977-09-09",
            709,
            XIKOU,
            &none,
            ("physical", 1),
        ),
        (
            "ok",
            "蒋文军",
            "1978-10-10",
            712,
            YUELIN,
            &dibao,
            ("physical", 2),
        ),
    ];
    let mut certificates = std::collections::HashMap::new();
    for (label, name, birth, sequence, town, household, (category, grade)) in people {
        let p = person(app, admin, name, birth, sequence, town, household.clone()).await;
        let id = certify(app, admin, &p, category, grade, "2020-01-01", None).await;
        certificates.insert(label, id);
        d.add(label, p);
    }
    let p7 = person(
        app,
        admin,
        "冯志明",
        "1979-11-11",
        710,
        XIKOU,
        dibao.clone(),
    )
    .await;
    certify(
        app,
        admin,
        &p7,
        "physical",
        4,
        "2015-02-01",
        Some("2025-01-31"),
    )
    .await;
    d.add("p7", p7);
    let p8 = person(app, admin, "陈小芳", "1980-12-12", 711, JINPING, dibao).await;
    d.add("p8", p8);

    let month = "2024-01";
    let mut grants = std::collections::HashMap::new();
    for (label, kind) in [
        ("n2", "living"),
        ("n3", "living"),
        ("p1", "living"),
        ("p1", "nursing"),
        ("p2", "living"),
        ("p2", "nursing"),
        ("p3", "living"),
        ("p4", "living"),
        ("p4", "nursing"),
        ("p5", "nursing"),
        ("p6", "nursing"),
        ("p7", "living"),
        ("ok", "living"),
        ("ok", "nursing"),
    ] {
        let id = grant(app, admin, &d[label], kind, month, None).await;
        grants.insert((label, kind), id);
    }
    grant(
        app,
        admin,
        &d["p8"],
        "living",
        month,
        Some("证件补办中，区残联特批"),
    )
    .await;

    grant_action(
        app,
        admin,
        &d["n2"].id,
        &grants[&("n2", "living")],
        "suspend",
        json!({"suspended_on": "2025-02-01", "reason": "外出务工，待核查"}),
    )
    .await;
    grant_action(
        app,
        admin,
        &d["n3"].id,
        &grants[&("n3", "living")],
        "terminate",
        json!({"terminated_on": "2025-03-01", "reason": "停发待复核"}),
    )
    .await;
    certificate_action(
        app,
        admin,
        &d["p2"],
        &certificates["p2"],
        "cancel",
        json!({"reason": "revoked", "cancelled_on": "2025-02-15"}),
    )
    .await;
    change_resident(
        app,
        admin,
        &d["p3"].id,
        json!({"household_status": "none", "household_status_since": "2025-01-01"}),
    )
    .await;
    certificate_action(
        app,
        admin,
        &d["p4"],
        &certificates["p4"],
        "reassess",
        json!({"category": "physical", "grade": 3, "issued_on": "2025-02-01"}),
    )
    .await;
    change_resident(
        app,
        admin,
        &d["p5"].id,
        json!({"household_status": "tekun", "household_status_since": "2025-01-01"}),
    )
    .await;
    record(
        app,
        admin,
        &d["p6"].id,
        "other-benefits",
        json!({"kind": "work_injury_nursing", "start_on": "2025-01-01"}),
    )
    .await;
    move_to(app, admin, &d["p6"].id, YUELIN, "2025-04-01").await;
    die(app, admin, &d["p1"], "2025-03-10").await;
    d
}

/// A summary entry as worked out by hand: eligible, paid, eligible_not_paid, paid_not_eligible.
fn summary(kind: &str, counts: [i64; 4]) -> Value {
    let [eligible, paid, eligible_not_paid, paid_not_eligible] = counts;
    json!({
        "kind": kind,
        "eligible": eligible,
        "paid": paid,
        "eligible_not_paid": eligible_not_paid,
        "paid_not_eligible": paid_not_eligible,
    })
}

/// A finding as worked out by hand: who, which subsidy, the finding, the town on the day, the
/// reasons.
type Finding<'a> = (&'a Person, &'a str, &'a str, &'a str, &'a [&'a str]);

async fn reconciliation(app: &TestApp, who: &Session, query: &str) -> Answer {
    app.get_as(who, &format!("/api/v1/subsidies/reconciliation?{query}"))
        .await
}

/// Asserts a whole reconciliation on one page: the area, the summary, exactly these findings
/// (each resident's findings together, living before nursing), masked, and no full ID number
/// of anyone in the body.
#[track_caller]
fn assert_reconciliation(
    answer: &Answer,
    area: (&str, &str),
    summaries: &[Value],
    expected: &[Finding],
    everyone: &[&Person],
) {
    assert_eq!(answer.status, 200, "reconciliation: {}", answer.text());
    let body = answer.json();
    assert_eq!(body["area"], json!({"code": area.0, "name": area.1}));
    assert_eq!(body["summary"], json!(summaries), "summary");
    assert_eq!(body["next_cursor"], Value::Null, "one page");
    let items = body["items"].as_array().expect("items").clone();

    // Ordered by resident, then kind: one run of items per resident, living first.
    let mut seen: Vec<&str> = Vec::new();
    for pair in items.windows(2) {
        if pair[0]["resident_id"] == pair[1]["resident_id"] {
            assert_eq!(
                (&pair[0]["kind"], &pair[1]["kind"]),
                (&json!("living"), &json!("nursing")),
                "living before nursing"
            );
        }
    }
    for item in &items {
        let id = item["resident_id"].as_str().unwrap();
        if seen.last() != Some(&id) {
            assert!(
                !seen.contains(&id),
                "the findings of a resident are together"
            );
            seen.push(id);
        }
    }

    let normal = |v: &Value| {
        let mut v = v.clone();
        if let Some(reasons) = v["reasons"].as_array_mut() {
            reasons.sort_by_key(|r| r.as_str().unwrap_or_default().to_owned());
        }
        v
    };
    let key = |v: &Value| format!("{}/{}", v["resident_id"], v["kind"]);
    let mut actual: Vec<Value> = items.iter().map(normal).collect();
    let mut wanted: Vec<Value> = expected
        .iter()
        .map(|(p, kind, finding, town, reasons)| {
            normal(&json!({
                "kind": kind,
                "finding": finding,
                "resident_id": p.id,
                "name": masked_name(&p.name),
                "id_number": masked(&p.number),
                "town_code": town,
                "town_name": town_name(town),
                "reasons": reasons,
            }))
        })
        .collect();
    actual.sort_by_key(key);
    wanted.sort_by_key(key);
    assert_eq!(actual, wanted, "findings");
    let text = answer.text();
    for p in everyone {
        assert!(
            !text.contains(&p.number),
            "the full ID number of {} is in {text}",
            p.name
        );
    }
}

const ENP: &str = "eligible_not_paid";
const PNE: &str = "paid_not_eligible";

#[actix_web::test]
async fn reconciliation_finds_the_eligible_not_paid_and_the_paid_not_eligible() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = subsidy_district(&app, &admin).await;
    let everyone = d.everyone();
    let district = (DISTRICT, "奉化区");

    let answer = reconciliation(&app, &admin, "as_of=2024-12-31&limit=200").await;
    assert_reconciliation(
        &answer,
        district,
        &[
            summary("living", [9, 9, 1, 1]),
            summary("nursing", [7, 6, 1, 0]),
        ],
        &[
            (&d["n1"], "living", ENP, JINPING, &["no_grant"]),
            (&d["n2"], "nursing", ENP, JINPING, &["no_grant"]),
            (&d["p8"], "living", PNE, JINPING, &["no_certificate"]),
        ],
        &everyone,
    );
    assert_eq!(answer.json()["as_of"], "2024-12-31");

    // In the month of p1's death: paid, not eligible, not flagged.
    let on_death_month: [Finding; 12] = [
        (&d["n1"], "living", ENP, JINPING, &["no_grant"]),
        (&d["n2"], "living", ENP, JINPING, &["grant_suspended"]),
        (&d["n2"], "nursing", ENP, JINPING, &["no_grant"]),
        (&d["n3"], "living", ENP, XIKOU, &["grant_terminated"]),
        (&d["p2"], "living", PNE, XIKOU, &["certificate_cancelled"]),
        (&d["p2"], "nursing", PNE, XIKOU, &["certificate_cancelled"]),
        (
            &d["p3"],
            "living",
            PNE,
            JINPING,
            &["household_status_changed"],
        ),
        (&d["p4"], "nursing", PNE, XIKOU, &["grade_changed"]),
        (&d["p5"], "nursing", PNE, JINPING, &["excluded_tekun"]),
        (&d["p6"], "nursing", PNE, XIKOU, &["work_injury_nursing"]),
        (&d["p7"], "living", PNE, XIKOU, &["certificate_expired"]),
        (&d["p8"], "living", PNE, JINPING, &["no_certificate"]),
    ];
    let answer = reconciliation(&app, &admin, "as_of=2025-03-20&limit=200").await;
    assert_reconciliation(
        &answer,
        district,
        &[
            summary("living", [5, 7, 3, 4]),
            summary("nursing", [2, 6, 1, 4]),
        ],
        &on_death_month,
        &everyone,
    );

    // The month after: p1's grants have ended, p6 lives in 岳林.
    let mut after = on_death_month.to_vec();
    for finding in after.iter_mut() {
        if finding.0.id == d["p6"].id {
            finding.3 = YUELIN;
        }
    }
    let answer = reconciliation(&app, &admin, "as_of=2025-04-15&limit=200").await;
    assert_reconciliation(
        &answer,
        district,
        &[
            summary("living", [5, 6, 3, 4]),
            summary("nursing", [2, 5, 1, 4]),
        ],
        &after,
        &everyone,
    );
    assert!(
        answer
            .json()
            .get("items")
            .and_then(Value::as_array)
            .is_some_and(|items| items
                .iter()
                .all(|i| i["resident_id"] != d["p1"].id.as_str())),
        "p1 is listed nowhere"
    );

    // One town: 溪口 on 2025-03-20 holds n3, p2, p4, p6 (still there that day) and p7.
    //   Living: eligible n3 p4 = 2; paid p2 p4 p7 = 3; n3 not paid; p2 p7 not eligible.
    //   Nursing: eligible none; paid p2 p4 p6 = 3, none of them eligible.
    let answer = reconciliation(&app, &admin, &format!("as_of=2025-03-20&area={XIKOU}")).await;
    assert_reconciliation(
        &answer,
        (XIKOU, "溪口镇"),
        &[
            summary("living", [2, 3, 1, 2]),
            summary("nursing", [0, 3, 0, 3]),
        ],
        &[
            (&d["n3"], "living", ENP, XIKOU, &["grant_terminated"]),
            (&d["p2"], "living", PNE, XIKOU, &["certificate_cancelled"]),
            (&d["p2"], "nursing", PNE, XIKOU, &["certificate_cancelled"]),
            (&d["p4"], "nursing", PNE, XIKOU, &["grade_changed"]),
            (&d["p6"], "nursing", PNE, XIKOU, &["work_injury_nursing"]),
            (&d["p7"], "living", PNE, XIKOU, &["certificate_expired"]),
        ],
        &everyone,
    );
}

#[actix_web::test]
async fn reconciliation_filters_by_kind_and_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = subsidy_district(&app, &admin).await;
    let everyone = d.everyone();
    let district = (DISTRICT, "奉化区");

    // Nursing only, 2025-03-20: see `subsidy_district`.
    let answer = reconciliation(&app, &admin, "as_of=2025-03-20&kind=nursing").await;
    assert_reconciliation(
        &answer,
        district,
        &[summary("nursing", [2, 6, 1, 4])],
        &[
            (&d["n2"], "nursing", ENP, JINPING, &["no_grant"]),
            (&d["p2"], "nursing", PNE, XIKOU, &["certificate_cancelled"]),
            (&d["p4"], "nursing", PNE, XIKOU, &["grade_changed"]),
            (&d["p5"], "nursing", PNE, JINPING, &["excluded_tekun"]),
            (&d["p6"], "nursing", PNE, XIKOU, &["work_injury_nursing"]),
        ],
        &everyone,
    );
    let answer = reconciliation(&app, &admin, "as_of=2025-03-20&kind=living").await;
    assert_reconciliation(
        &answer,
        district,
        &[summary("living", [5, 7, 3, 4])],
        &[
            (&d["n1"], "living", ENP, JINPING, &["no_grant"]),
            (&d["n2"], "living", ENP, JINPING, &["grant_suspended"]),
            (&d["n3"], "living", ENP, XIKOU, &["grant_terminated"]),
            (&d["p2"], "living", PNE, XIKOU, &["certificate_cancelled"]),
            (
                &d["p3"],
                "living",
                PNE,
                JINPING,
                &["household_status_changed"],
            ),
            (&d["p7"], "living", PNE, XIKOU, &["certificate_expired"]),
            (&d["p8"], "living", PNE, JINPING, &["no_certificate"]),
        ],
        &everyone,
    );
    let answer = reconciliation(&app, &admin, "as_of=2025-03-20&kind=housing").await;
    assert_invalid(&answer, "kind", None);

    // Paged five at a time, the twelve findings come in 5 + 5 + 2, each once, in the order of
    // the whole list, and every page carries the whole summary.
    let whole = reconciliation(&app, &admin, "as_of=2025-03-20&limit=200").await;
    assert_eq!(whole.status, 200, "{}", whole.text());
    let whole_items = whole.json()["items"].as_array().unwrap().clone();
    assert_eq!(whole_items.len(), 12);
    let first = reconciliation(&app, &admin, "as_of=2025-03-20&limit=5").await;
    assert_eq!(first.json()["summary"], whole.json()["summary"]);
    let (walked, pages) = walk(
        &app,
        &admin,
        "/api/v1/subsidies/reconciliation?as_of=2025-03-20",
        5,
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(walked, whole_items);
    let (walked, pages) = walk(
        &app,
        &admin,
        "/api/v1/subsidies/reconciliation?as_of=2025-03-20",
        1,
    )
    .await;
    assert_eq!(pages, 12);
    assert_eq!(walked, whole_items);
}

#[actix_web::test]
async fn reconciliation_is_kept_to_a_caseworker_s_town_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let d = subsidy_district(&app, &admin).await;
    let everyone = d.everyone();
    let xikou = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    let yuelin = app.session("yuelin", Role::Caseworker, &[YUELIN]).await;
    assert!(events(&app, "subsidy_reconciliation_read").await.is_empty());

    // 溪口 on 2025-03-20: as the admin sees it, less p6, who lives in 岳林 now. The summary
    // still counts the whole area.
    let answer = reconciliation(&app, &xikou, "as_of=2025-03-20").await;
    assert_reconciliation(
        &answer,
        (XIKOU, "溪口镇"),
        &[
            summary("living", [2, 3, 1, 2]),
            summary("nursing", [0, 3, 0, 3]),
        ],
        &[
            (&d["n3"], "living", ENP, XIKOU, &["grant_terminated"]),
            (&d["p2"], "living", PNE, XIKOU, &["certificate_cancelled"]),
            (&d["p2"], "nursing", PNE, XIKOU, &["certificate_cancelled"]),
            (&d["p4"], "nursing", PNE, XIKOU, &["grade_changed"]),
            (&d["p7"], "living", PNE, XIKOU, &["certificate_expired"]),
        ],
        &everyone,
    );
    let read = events(&app, "subsidy_reconciliation_read").await;
    assert_eq!(read.len(), 1, "one event per read");
    assert_eq!(read[0].actor_username.as_deref(), Some("xikou"));
    assert_eq!(read[0].outcome, "success");

    // 岳林 on 2025-04-15 holds ok (eligible and paid for both) and p6, moved in on 04-01.
    let answer = reconciliation(&app, &yuelin, "as_of=2025-04-15").await;
    assert_reconciliation(
        &answer,
        (YUELIN, "岳林街道"),
        &[
            summary("living", [1, 1, 0, 0]),
            summary("nursing", [1, 2, 0, 1]),
        ],
        &[(&d["p6"], "nursing", PNE, YUELIN, &["work_injury_nursing"])],
        &everyone,
    );

    // Not the district, not another town.
    for area in [DISTRICT, JINPING] {
        reconciliation(&app, &xikou, &format!("as_of=2025-03-20&area={area}"))
            .await
            .problem(403, "forbidden");
    }
    let read = events(&app, "subsidy_reconciliation_read").await;
    assert_eq!(
        read.iter().filter(|e| e.outcome == "success").count(),
        2,
        "a refused read is no read: {read:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A recorded death or move-out ends the running grants.
// ---------------------------------------------------------------------------------------------

/// The grants in a resident's file, by kind.
async fn grants_in_file(app: &TestApp, who: &Session, of: &Person) -> Vec<Value> {
    let answer = app
        .get_as(who, &format!("{}/file", resident_path(&of.id)))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let mut grants = answer.json()["subsidies"]
        .as_array()
        .expect("the file lists the grants")
        .clone();
    grants.sort_by_key(|g| g["kind"].as_str().unwrap_or_default().to_owned());
    grants
}

/// q1 (dibao, visual 1) holds a living grant and a nursing grant suspended since 2025-01-15,
/// both from 2024-01, and dies on 2025-03-10: both grants end on 2025-04-01 (the month of the
/// death is paid). q2 (dibao, physical 4) holds a living grant from 2025-05, recorded ahead, and dies on
/// 2025-03-10 as well: that grant ends on its first month, 2025-05-01, paying nothing. q3
/// (dibao) moves out of the district on 2024-12-15: its living grant ends on 2025-01-01.
#[actix_web::test]
async fn recording_a_death_or_a_move_out_ends_the_running_grants_from_the_next_month() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let dibao = json!({"household_status": "dibao", "household_status_since": "2015-01-01"});
    let q1 = person(
        &app,
        &admin,
        "钱玉兰",
        "1945-01-05",
        801,
        JINPING,
        dibao.clone(),
    )
    .await;
    certify(&app, &admin, &q1, "visual", 1, "2020-01-01", None).await;
    let q2 = person(
        &app,
        &admin,
        "应阿大",
        "1946-02-06",
        802,
        JINPING,
        dibao.clone(),
    )
    .await;
    certify(&app, &admin, &q2, "physical", 4, "2020-01-01", None).await;
    let q3 = member(&app, &admin, "邬小妹", "1980-03-07", 803, XIKOU, dibao).await;

    let living = grant(&app, &admin, &q1, "living", "2024-01", None).await;
    let nursing = grant(&app, &admin, &q1, "nursing", "2024-01", None).await;
    grant_action(
        &app,
        &admin,
        &q1.id,
        &nursing,
        "suspend",
        json!({"suspended_on": "2025-01-15", "reason": "住院核查"}),
    )
    .await;
    let ahead = grant(&app, &admin, &q2, "living", "2025-05", None).await;
    let moved = grant(&app, &admin, &q3, "living", "2024-01", None).await;
    assert!(events(&app, "subsidy_terminate").await.is_empty());

    die(&app, &admin, &q1, "2025-03-10").await;
    die(&app, &admin, &q2, "2025-03-10").await;
    change_resident(&app, &admin, &q3.id, json!({"moved_out_on": "2024-12-15"})).await;

    let ended =
        |id: &str, on: &str, reason: &str| (id.to_owned(), on.to_owned(), reason.to_owned());
    let shown = |grants: &[Value]| -> Vec<(String, String, String)> {
        grants
            .iter()
            .map(|g| {
                assert_eq!(g["status"], "terminated", "{g}");
                (
                    g["id"].as_str().unwrap_or_default().to_owned(),
                    g["terminated_on"].as_str().unwrap_or_default().to_owned(),
                    g["terminate_reason"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        shown(&grants_in_file(&app, &admin, &q1).await),
        vec![
            ended(&living, "2025-04-01", "deceased"),
            ended(&nursing, "2025-04-01", "deceased"),
        ]
    );
    assert_eq!(
        shown(&grants_in_file(&app, &admin, &q2).await),
        vec![ended(&ahead, "2025-05-01", "deceased")]
    );
    assert_eq!(
        shown(&grants_in_file(&app, &admin, &q3).await),
        vec![ended(&moved, "2025-01-01", "moved_out")]
    );

    // Each ending is in the audit trail.
    let terminated = events(&app, "subsidy_terminate").await;
    let mut ids: Vec<&str> = terminated
        .iter()
        .filter_map(|e| e.entity_id.as_deref())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![
        living.as_str(),
        nursing.as_str(),
        ahead.as_str(),
        moved.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected, "one subsidy_terminate per grant");
    for event in &terminated {
        assert_eq!(event.actor_username.as_deref(), Some("admin"));
        assert_eq!(event.entity_type.as_deref(), Some("subsidy_grant"));
    }

    // The reconciliation. 2025-03-20: q1's living grant still pays (the month of the death)
    // and is not flagged; its nursing grant is suspended, so not paid; q2's grant never paid.
    // Nobody is eligible (q1, q2 dead, q3 gone).
    let everyone = [&q1, &q2, &q3];
    let answer = reconciliation(&app, &admin, "as_of=2025-03-20").await;
    assert_reconciliation(
        &answer,
        (DISTRICT, "奉化区"),
        &[
            summary("living", [0, 1, 0, 0]),
            summary("nursing", [0, 0, 0, 0]),
        ],
        &[],
        &everyone,
    );
    // 2025-04-01: nothing is paid any more.
    let answer = reconciliation(&app, &admin, "as_of=2025-04-01").await;
    assert_reconciliation(
        &answer,
        (DISTRICT, "奉化区"),
        &[
            summary("living", [0, 0, 0, 0]),
            summary("nursing", [0, 0, 0, 0]),
        ],
        &[],
        &everyone,
    );
    // 2024-12-31, after q3 moved out in the middle of December: its grant still pays that
    // month and is not flagged; q1 is eligible for both and paid for both (the suspension
    // came later); q2 is eligible for the living subsidy but its grant starts later.
    let answer = reconciliation(&app, &admin, "as_of=2024-12-31").await;
    assert_reconciliation(
        &answer,
        (DISTRICT, "奉化区"),
        &[
            summary("living", [2, 2, 1, 0]),
            summary("nursing", [1, 1, 0, 0]),
        ],
        &[(&q2, "living", ENP, JINPING, &["no_grant"])],
        &everyone,
    );
}
