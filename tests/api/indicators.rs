//! Acceptance tests of the indicator engine (issue 10): the versioned definitions, and
//! indicators 1–8 computed over a small district built through the API, read as of several days
//! around a change in the data (a death, a certificate running out or cancelled, a grant
//! suspended or ended, a household status changed, a move between towns, a facility closing),
//! against figures worked out by hand and written down as literal numbers.
//!
//! The fixture helpers at the top (`holder`, `insured`, `facility`, `Expect`, …) are
//! `pub(crate)`: other test modules build their districts with them too. The requests every
//! module makes (`register`, `certify`, `record`, `grant`, `move_to`, …) are in `helpers.rs`.

use std::fmt::Debug;

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{
    assert_invalid, certify, change_resident, days_from_today, field_errors, grant, grant_action,
    move_to, patch, record, register, resident_path, spawn_app, today, town_name, Answer, TestApp,
    TOWNS,
};
use crate::session::{Session, JINPING, XIKOU};

// ---------------------------------------------------------------------------------------------
// The district.
// ---------------------------------------------------------------------------------------------

pub(crate) const DISTRICT: &str = "330213";
pub(crate) const DISTRICT_NAME: &str = "奉化区";
/// 西坞街道, the third town of the fixtures (with 锦屏 `JINPING` and 溪口 `XIKOU`).
pub(crate) const XIWU: &str = "330213004";
/// 松岙镇, the last town in code order.
pub(crate) const SONGAO: &str = "330213108";

// ---------------------------------------------------------------------------------------------
// Residents and their files.
// ---------------------------------------------------------------------------------------------

/// A certificate to issue: category (one of the six single ones), grade, and the day of issue.
/// It is valid for 10 years: issued on 2014-05-20, `valid_until` is 2024-05-20, the last day
/// that counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cert {
    pub category: &'static str,
    pub grade: i32,
    pub issued_on: &'static str,
}

/// A certificate of `category` and `grade` issued on 2020-01-01 (valid to 2030-01-01).
pub(crate) const fn cert(category: &'static str, grade: i32) -> Cert {
    Cert {
        category,
        grade,
        issued_on: "2020-01-01",
    }
}

/// A certificate issued on `issued_on`.
pub(crate) const fn cert_issued(
    category: &'static str,
    grade: i32,
    issued_on: &'static str,
) -> Cert {
    Cert {
        category,
        grade,
        issued_on,
    }
}

/// A registered resident with a certificate.
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    pub id: String,
    /// The ID number (the gap lists show it masked).
    #[allow(dead_code)]
    pub number: String,
    pub certificate: String,
}

/// A resident of `town` born on `birth` (ID number from `sequence`, registered 2010-01-01,
/// household status `none`) holding `cert`.
pub(crate) async fn holder(
    app: &TestApp,
    who: &Session,
    sequence: u16,
    town: &str,
    birth: &str,
    cert: Cert,
) -> Holder {
    holder_with(app, who, sequence, town, birth, cert, json!({})).await
}

/// Like [`holder`], with resident fields (`household(…)`, `work_capacity`, …) in `fields`.
pub(crate) async fn holder_with(
    app: &TestApp,
    who: &Session,
    sequence: u16,
    town: &str,
    birth: &str,
    cert: Cert,
    fields: Value,
) -> Holder {
    let (id, number) = register(app, who, birth, sequence, town, fields).await;
    let certificate = certify(
        app,
        who,
        &id,
        &number,
        cert.category,
        cert.grade,
        cert.issued_on,
    )
    .await;
    Holder {
        id,
        number,
        certificate,
    }
}

/// Resident fields for a household status held since 2015-01-01.
pub(crate) fn household(status: &str) -> Value {
    json!({"household_status": status, "household_status_since": "2015-01-01"})
}

/// Cancels the holder's certificate (revoked) from `on`.
pub(crate) async fn cancel_certificate(app: &TestApp, who: &Session, holder: &Holder, on: &str) {
    let answer = app
        .post_as(
            who,
            &format!(
                "{}/certificates/{}/cancel",
                resident_path(&holder.id),
                holder.certificate
            ),
            &json!({"reason": "revoked", "cancelled_on": on}),
        )
        .await;
    assert_eq!(answer.status, 200, "cancel: {}", answer.text());
}

/// Records the resident's death on `on`.
pub(crate) async fn died(app: &TestApp, who: &Session, resident: &str, on: &str) {
    change_resident(app, who, resident, json!({"deceased_on": on})).await;
}

/// Records the resident's move out of the district on `on`.
pub(crate) async fn moved_out(app: &TestApp, who: &Session, resident: &str, on: &str) {
    change_resident(app, who, resident, json!({"moved_out_on": on})).await;
}

/// Changes the household status from `since`.
pub(crate) async fn household_change(
    app: &TestApp,
    who: &Session,
    resident: &str,
    status: &str,
    since: &str,
) {
    change_resident(
        app,
        who,
        resident,
        json!({"household_status": status, "household_status_since": since}),
    )
    .await;
}

/// An insurance year: `kind` is `pension` or `medical`.
pub(crate) async fn insured(
    app: &TestApp,
    who: &Session,
    resident: &str,
    year: i32,
    kind: &str,
    enrolled: bool,
) {
    record(
        app,
        who,
        resident,
        "insurance",
        json!({"year": year, "kind": kind, "enrolled": enrolled}),
    )
    .await;
}

/// The household's per-capita income of a year, in fen.
pub(crate) async fn income(app: &TestApp, who: &Session, resident: &str, year: i32, fen: i64) {
    record(
        app,
        who,
        resident,
        "incomes",
        json!({"year": year, "per_capita_income_fen": fen}),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Subsidies.
// ---------------------------------------------------------------------------------------------

/// Suspends a grant from `on`.
pub(crate) async fn suspend(app: &TestApp, who: &Session, resident: &str, grant: &str, on: &str) {
    let body = json!({"suspended_on": on, "reason": "待核查"});
    grant_action(app, who, resident, grant, "suspend", body).await;
}

/// Resumes a suspended grant from `on`.
pub(crate) async fn resume(app: &TestApp, who: &Session, resident: &str, grant: &str, on: &str) {
    let body = json!({"resumed_on": on});
    grant_action(app, who, resident, grant, "resume", body).await;
}

/// Terminates a grant from `on`.
pub(crate) async fn terminate(app: &TestApp, who: &Session, resident: &str, grant: &str, on: &str) {
    let body = json!({"terminated_on": on, "reason": "不再符合条件"});
    grant_action(app, who, resident, grant, "terminate", body).await;
}

/// Adds a subsidy policy version (as an admin).
pub(crate) async fn policy(app: &TestApp, admin: &Session, body: Value) {
    let answer = app.post_as(admin, "/api/v1/subsidy-policies", &body).await;
    assert_eq!(answer.status, 201, "policy {body}: {}", answer.text());
}

// ---------------------------------------------------------------------------------------------
// District data.
// ---------------------------------------------------------------------------------------------

/// A facility of `kind` in `town` opened on `opened_on`; returns it.
pub(crate) async fn facility(
    app: &TestApp,
    admin: &Session,
    kind: &str,
    town: &str,
    standardized: bool,
    opened_on: &str,
) -> Value {
    let body = json!({
        "kind": kind,
        "name": format!("{}{kind}", town_name(town)),
        "town_code": town,
        "standardized": standardized,
        "opened_on": opened_on,
    });
    let answer = app.post_as(admin, "/api/v1/facilities", &body).await;
    assert_eq!(answer.status, 201, "facility {body}: {}", answer.text());
    answer.json()
}

/// Records a facility's closing on `closed_on` (the first day it is not open).
pub(crate) async fn close_facility(
    app: &TestApp,
    admin: &Session,
    facility: &Value,
    closed_on: &str,
) {
    let path = format!("/api/v1/facilities/{}", facility["id"].as_str().unwrap());
    let version = format!("\"{}\"", facility["version"]);
    let answer = patch(
        app,
        admin,
        &path,
        Some(&version),
        &json!({"closed_on": closed_on}),
    )
    .await;
    assert_eq!(answer.status, 200, "close: {}", answer.text());
}

/// Sets the district GDP growth of `year` in basis points (650 is 6.5 %).
pub(crate) async fn gdp_growth(app: &TestApp, admin: &Session, year: i32, growth_bp: i64) {
    let answer = app
        .send_as(
            admin,
            TestRequest::put()
                .uri(&format!("/api/v1/gdp-growth/{year}"))
                .set_json(json!({"growth_bp": growth_bp})),
        )
        .await;
    assert_eq!(answer.status, 200, "gdp growth: {}", answer.text());
}

// ---------------------------------------------------------------------------------------------
// Reading indicators.
// ---------------------------------------------------------------------------------------------

/// `/api/v1/indicators/{code}` with `as_of` and `area` when given.
pub(crate) fn indicator_path(code: &str, as_of: Option<&str>, area: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(day) = as_of {
        query.push(format!("as_of={day}"));
    }
    if let Some(area) = area {
        query.push(format!("area={area}"));
    }
    let path = format!("/api/v1/indicators/{code}");
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// `GET /api/v1/indicators/{code}`, asserting 200.
pub(crate) async fn indicator(
    app: &TestApp,
    who: &Session,
    code: &str,
    as_of: Option<&str>,
    area: Option<&str>,
) -> Value {
    let answer = app.get_as(who, &indicator_path(code, as_of, area)).await;
    assert_eq!(
        answer.status,
        200,
        "{code} as of {as_of:?} in {area:?}: {}",
        answer.text()
    );
    answer.json()
}

/// What one figure shows: numerator, denominator (`None` for a count), value (`None` when the
/// denominator is 0) and whether it meets the target (`None` when it cannot be said).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Figure {
    pub numerator: i64,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    pub met: Option<bool>,
}

/// A rate: `numerator / denominator`, the value in percent rounded to 2 decimals, met or not.
pub(crate) const fn rate(numerator: i64, denominator: i64, value: f64, met: bool) -> Figure {
    Figure {
        numerator,
        denominator: Some(denominator),
        value: Some(value),
        met: Some(met),
    }
}

/// A rate with nobody in its denominator: no value, no verdict.
pub(crate) const NO_RATE: Figure = Figure {
    numerator: 0,
    denominator: Some(0),
    value: None,
    met: None,
};

/// A count: no denominator, the value is the count; `met` is null in the by-town breakdown.
pub(crate) const fn count(n: i64, met: Option<bool>) -> Figure {
    Figure {
        numerator: n,
        denominator: None,
        value: Some(n as f64),
        met,
    }
}

/// Income growth: the year's incomes over the year before's (fen), growth in percent, met
/// against the year's GDP growth (`None` when none was entered).
pub(crate) const fn growth(
    numerator: i64,
    denominator: i64,
    value: f64,
    met: Option<bool>,
) -> Figure {
    Figure {
        numerator,
        denominator: Some(denominator),
        value: Some(value),
        met,
    }
}

impl Figure {
    fn of(v: &Value) -> Result<Figure, String> {
        let optional = |key: &str| Some(&v[key]).filter(|x| !x.is_null());
        let numerator = v["numerator"]
            .as_i64()
            .ok_or_else(|| format!("no integer numerator in {v}"))?;
        let denominator = optional("denominator")
            .map(|d| d.as_i64().ok_or(format!("denominator {d} is no integer")))
            .transpose()?;
        let value = optional("value")
            .map(|x| x.as_f64().ok_or(format!("value {x} is no number")))
            .transpose()?;
        let met = optional("met")
            .map(|m| m.as_bool().ok_or(format!("met {m} is no boolean")))
            .transpose()?;
        Ok(Figure {
            numerator,
            denominator,
            value,
            met,
        })
    }
}

/// What a town the fixture did not use shows in `by_town` for `code`.
fn untouched_town(code: &str) -> Figure {
    match code {
        "care_institutions" | "child_rehab_institutions" => count(0, None),
        // A town is the denominator of its own coverage.
        "home_for_disabled_coverage" => rate(0, 1, 0.0, false),
        _ => NO_RATE,
    }
}

/// Reads one indicator at several days and collects every figure that differs from the hand
/// calculation, so one run reports all of them (the test fails at `done`).
pub(crate) struct Expect<'a> {
    app: &'a TestApp,
    who: &'a Session,
    code: &'static str,
    wrong: Vec<String>,
}

impl<'a> Expect<'a> {
    pub(crate) fn new(app: &'a TestApp, who: &'a Session, code: &'static str) -> Self {
        Expect {
            app,
            who,
            code,
            wrong: Vec::new(),
        }
    }

    fn same<T: PartialEq + Debug>(&mut self, what: String, actual: T, expected: T) {
        if actual != expected {
            self.wrong
                .push(format!("{what}: got {actual:?}, expected {expected:?}"));
        }
    }

    /// The parts of a result that do not depend on the data: the definition of version 1, the
    /// day and the area.
    fn header(&mut self, result: &Value, as_of: &str, area: &str, area_name: &str) {
        let row = seeded(self.code);
        let at = format!("{} as of {as_of} in {area}", self.code);
        self.same(
            format!("{at}: code"),
            result["code"].as_str(),
            Some(row.code),
        );
        self.same(
            format!("{at}: name"),
            result["name"].as_str(),
            Some(row.name),
        );
        self.same(
            format!("{at}: kind"),
            result["kind"].as_str(),
            Some(row.kind),
        );
        self.same(
            format!("{at}: comparator"),
            result["comparator"].as_str(),
            Some(row.comparator),
        );
        self.same(
            format!("{at}: binding"),
            result["binding"].as_bool(),
            Some(row.binding),
        );
        if row.kind != "growth" {
            self.same(
                format!("{at}: target"),
                result["target"].as_f64(),
                row.target,
            );
        }
        self.same(
            format!("{at}: definition_version"),
            result["definition_version"].as_i64(),
            Some(1),
        );
        self.same(
            format!("{at}: as_of"),
            result["as_of"].as_str(),
            Some(as_of),
        );
        self.same(
            format!("{at}: area"),
            result["area"].clone(),
            json!({"code": area, "name": area_name}),
        );
    }

    /// The district figure as of `as_of`, and the by-town breakdown: the towns in `towns` show
    /// their figure, every other town shows nothing (0/0 and no value for a rate, 0 for a count).
    /// Returns the result for further checks.
    pub(crate) async fn at(
        &mut self,
        as_of: &str,
        district: Figure,
        towns: &[(&str, Figure)],
    ) -> Value {
        let result = indicator(self.app, self.who, self.code, Some(as_of), None).await;
        self.header(&result, as_of, DISTRICT, DISTRICT_NAME);
        let at = format!("{} as of {as_of}", self.code);
        match Figure::of(&result) {
            Ok(figure) => self.same(format!("{at}, district"), figure, district),
            Err(e) => self.wrong.push(format!("{at}, district: {e}")),
        }
        let Some(by_town) = result["by_town"].as_array() else {
            self.wrong
                .push(format!("{at}: no by_town list in {result}"));
            return result;
        };
        let codes: Vec<&str> = by_town
            .iter()
            .filter_map(|t| t["town_code"].as_str())
            .collect();
        let expected_codes: Vec<&str> = TOWNS.iter().map(|(c, _)| *c).collect();
        if codes != expected_codes {
            self.wrong.push(format!(
                "{at}: by_town lists {codes:?}, not the 12 towns in code order"
            ));
            return result;
        }
        for (entry, (town, name)) in by_town.iter().zip(TOWNS) {
            self.same(
                format!("{at}, {town}: town_name"),
                entry["town_name"].as_str(),
                Some(name),
            );
            let expected = towns
                .iter()
                .find(|(t, _)| *t == town)
                .map_or_else(|| untouched_town(self.code), |(_, f)| *f);
            match Figure::of(entry) {
                Ok(figure) => self.same(format!("{at}, {town} {name}"), figure, expected),
                Err(e) => self.wrong.push(format!("{at}, {town}: {e}")),
            }
        }
        result
    }

    /// The figure for one town (`area`) as of `as_of`; such a result has no by-town breakdown.
    /// Returns the result for further checks.
    pub(crate) async fn in_area(&mut self, as_of: &str, area: &str, expected: Figure) -> Value {
        let result = indicator(self.app, self.who, self.code, Some(as_of), Some(area)).await;
        self.header(&result, as_of, area, town_name(area));
        let at = format!("{} as of {as_of} in {area}", self.code);
        match Figure::of(&result) {
            Ok(figure) => self.same(at.clone(), figure, expected),
            Err(e) => self.wrong.push(format!("{at}: {e}")),
        }
        if !result.get("by_town").is_none_or(Value::is_null) {
            self.wrong
                .push(format!("{at}: a town's result has no by_town"));
        }
        result
    }

    /// Records a further comparison made by the test.
    pub(crate) fn check<T: PartialEq + Debug>(&mut self, what: &str, actual: T, expected: T) {
        self.same(format!("{}: {what}", self.code), actual, expected);
    }

    /// Fails the test with every difference found.
    #[track_caller]
    pub(crate) fn done(self) {
        assert!(
            self.wrong.is_empty(),
            "{} figure(s) differ from the hand calculation:\n  {}",
            self.wrong.len(),
            self.wrong.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Version 1 as the contract's table gives it.
// ---------------------------------------------------------------------------------------------

pub(crate) struct Seeded {
    pub code: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub comparator: &'static str,
    pub target: Option<f64>,
    pub binding: bool,
    pub ages: Option<(i64, i64)>,
    pub window: Option<&'static str>,
    pub subsidy: Option<&'static str>,
}

const fn row(
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    comparator: &'static str,
    target: Option<f64>,
    binding: bool,
) -> Seeded {
    Seeded {
        code,
        name,
        kind,
        comparator,
        target,
        binding,
        ages: None,
        window: None,
        subsidy: None,
    }
}

const fn aged(mut seeded: Seeded, min: i64, max: i64) -> Seeded {
    seeded.ages = Some((min, max));
    seeded
}

const fn year_to_date(mut seeded: Seeded) -> Seeded {
    seeded.window = Some("year_to_date");
    seeded
}

const fn paid(mut seeded: Seeded, subsidy: &'static str) -> Seeded {
    seeded.subsidy = Some(subsidy);
    seeded
}

/// The 14 indicators of version 1, in the table's order.
#[rustfmt::skip]
pub(crate) const VERSION_1: [Seeded; 14] = [
    row("income_growth", "残疾人家庭人均收入年均增速", "growth", "gte", None, false),
    paid(row("living_subsidy_coverage", "困难残疾人生活补贴覆盖率", "rate", "gt", Some(99.0), true), "living"),
    paid(row("nursing_subsidy_coverage", "重度残疾人护理补贴覆盖率", "rate", "gt", Some(99.0), true), "nursing"),
    row("home_for_disabled_coverage", "“残疾人之家”覆盖率", "rate", "gte", Some(90.0), true),
    row("care_institutions", "残疾人专业托养机构", "count", "gte", Some(1.0), true),
    row("child_rehab_institutions", "规范化残疾儿童康复机构", "count", "gte", Some(1.0), true),
    aged(row("pension_insurance_rate", "残疾人城乡居民基本养老保险参保率", "rate", "gte", Some(99.0), false), 16, 59),
    row("medical_insurance_rate", "残疾人城乡居民基本医疗保险参保率", "rate", "gt", Some(99.0), false),
    aged(row("employment_rate", "残疾人就业率", "rate", "gte", Some(60.0), false), 16, 59),
    aged(row("high_school_education_rate", "残疾学生接受高中阶段教育比例", "rate", "gte", Some(85.0), true), 15, 17),
    year_to_date(row("rehab_service_coverage", "残疾人基本康复服务覆盖率", "rate", "gt", Some(99.0), true)),
    year_to_date(row("assistive_device_fitting_rate", "残疾人辅助器具适配率", "rate", "gt", Some(99.0), true)),
    row("home_modification_rate", "符合条件残疾人家庭无障碍改造率", "rate", "gte", Some(95.0), true),
    year_to_date(row("culture_sports_coverage", "残疾人文体服务覆盖率", "rate", "gte", Some(95.0), false)),
];

pub(crate) fn seeded(code: &str) -> &'static Seeded {
    VERSION_1
        .iter()
        .find(|s| s.code == code)
        .unwrap_or_else(|| panic!("{code} is not an indicator"))
}

/// Asserts that a definition shows the row of the table.
#[track_caller]
fn assert_definition(definition: &Value, row: &Seeded) {
    let at = row.code;
    assert_eq!(definition["code"], row.code);
    assert_eq!(definition["name"], row.name, "{at}");
    assert!(
        definition["name_en"]
            .as_str()
            .is_some_and(|n| !n.trim().is_empty()),
        "{at}: an English name"
    );
    assert_eq!(definition["kind"], row.kind, "{at}");
    assert_eq!(definition["comparator"], row.comparator, "{at}");
    assert_eq!(definition["target"].as_f64(), row.target, "{at}: target");
    assert_eq!(definition["binding"], row.binding, "{at}");
    let (min, max) = row
        .ages
        .map_or((Value::Null, Value::Null), |(a, b)| (json!(a), json!(b)));
    assert_eq!(definition["age_min"], min, "{at}");
    assert_eq!(definition["age_max"], max, "{at}");
    assert_eq!(definition["window"], json!(row.window), "{at}");
    assert_eq!(definition["subsidy"], json!(row.subsidy), "{at}");
}

// ---------------------------------------------------------------------------------------------
// The definitions API.
// ---------------------------------------------------------------------------------------------

const DEFINITIONS: &str = "/api/v1/indicator-definitions";

async fn definition_sets(app: &TestApp, who: &Session) -> Vec<Value> {
    let answer = app.get_as(who, DEFINITIONS).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["items"].as_array().expect("items").clone()
}

/// The indicators of version 1 as the API lists them (to build a new version from).
async fn version_1_indicators(app: &TestApp, who: &Session) -> Vec<Value> {
    let sets = definition_sets(app, who).await;
    let v1 = sets
        .iter()
        .find(|s| s["version"] == 1)
        .expect("version 1 is listed");
    v1["indicators"].as_array().unwrap().clone()
}

async fn publish(
    app: &TestApp,
    who: &Session,
    effective_from: &str,
    indicators: &[Value],
) -> Answer {
    app.post_as(
        who,
        DEFINITIONS,
        &json!({"effective_from": effective_from, "indicators": indicators}),
    )
    .await
}

async fn withdraw(app: &TestApp, who: &Session, id: &str, reason: &str) -> Answer {
    app.post_as(
        who,
        &format!("{DEFINITIONS}/{id}/withdraw"),
        &json!({"reason": reason}),
    )
    .await
}

/// The audit events of `action` as `GET /api/v1/audit-events` lists them, newest first.
async fn audit_listed(app: &TestApp, who: &Session, action: &str) -> Vec<Value> {
    let answer = app
        .get_as(who, &format!("/api/v1/audit-events?action={action}"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["items"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn version_one_holds_the_plan_s_fourteen_indicators_and_every_role_reads_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let listed = definition_sets(&app, &admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let v1 = &listed[0];
    assert!(v1["id"]
        .as_str()
        .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["effective_from"], "2021-01-01");
    assert_eq!(v1["status"], "in_effect");
    assert!(v1["published_at"].is_string());
    assert_eq!(v1["withdrawn_at"], Value::Null);
    assert_eq!(v1["withdraw_reason"], Value::Null);
    let indicators = v1["indicators"].as_array().unwrap();
    assert_eq!(indicators.len(), 14);
    for (definition, row) in indicators.iter().zip(&VERSION_1) {
        assert_definition(definition, row);
    }

    // Auditors and caseworkers read the same list; nobody signed in does not.
    for who in [&auditor, &worker] {
        assert_eq!(&definition_sets(&app, who).await, &listed);
    }
    app.get(DEFINITIONS).await.problem(401, "unauthorized");
}

#[actix_web::test]
async fn a_new_version_is_scheduled_reports_keep_the_version_in_force_and_it_can_be_withdrawn() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let v1_id = definition_sets(&app, &admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Version 2 raises the employment target to 65, a month from now.
    let mut indicators = version_1_indicators(&app, &admin).await;
    indicators[8]["target"] = json!(65);
    let in_a_month = days_from_today(30);
    let answer = publish(&app, &admin, &in_a_month, &indicators).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let v2 = answer.json();
    let v2_id = v2["id"].as_str().unwrap().to_owned();
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["effective_from"], in_a_month);
    assert_eq!(v2["status"], "scheduled");
    assert_eq!(v2["withdrawn_at"], Value::Null);
    assert_eq!(v2["indicators"][8]["code"], "employment_rate");
    assert_eq!(v2["indicators"][8]["target"].as_f64(), Some(65.0));
    for (definition, row) in v2["indicators"].as_array().unwrap().iter().zip(&VERSION_1) {
        if row.code != "employment_rate" {
            assert_definition(definition, row);
        }
    }

    let listed = definition_sets(&app, &auditor).await;
    let versions: Vec<(i64, &str)> = listed
        .iter()
        .map(|s| {
            (
                s["version"].as_i64().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [(2, "scheduled"), (1, "in_effect")],
        "newest first"
    );
    assert_eq!(listed[0], v2);

    // Today's reports still use version 1.
    let answer = app.get_as(&admin, "/api/v1/indicators").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = answer.json();
    assert_eq!(report["as_of"], today().to_string());
    assert_eq!(report["definition_version"], 1);
    for item in report["items"].as_array().unwrap() {
        assert_eq!(item["definition_version"], 1, "{}", item["code"]);
    }
    assert_eq!(report["items"][8]["target"].as_f64(), Some(60.0));
    let employment = indicator(&app, &admin, "employment_rate", None, None).await;
    assert_eq!(employment["definition_version"], 1);
    assert_eq!(employment["target"].as_f64(), Some(60.0));

    // A further version must take effect after version 2.
    for day in [in_a_month.clone(), days_from_today(20)] {
        let answer = publish(&app, &admin, &day, &indicators).await;
        assert_invalid(&answer, "effective_from", None);
    }

    let published = audit_listed(&app, &auditor, "indicator_definition_publish").await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0]["actor_username"], "admin");
    assert_eq!(published[0]["outcome"], "success");
    assert_eq!(published[0]["entity_id"], v2_id.as_str());

    // Version 1 is in effect: it cannot be withdrawn.
    withdraw(&app, &admin, &v1_id, "误发布")
        .await
        .problem(409, "definition_in_effect");
    // A withdrawal gives a reason.
    let answer = withdraw(&app, &admin, &v2_id, "").await;
    assert_invalid(&answer, "reason", None);
    withdraw(&app, &admin, &uuid::Uuid::new_v4().to_string(), "误发布")
        .await
        .problem(404, "not_found");

    let answer = withdraw(&app, &admin, &v2_id, "目标值待区政府审定").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let withdrawn = answer.json();
    assert_eq!(withdrawn["id"], v2_id.as_str());
    assert_eq!(withdrawn["version"], 2);
    assert_eq!(withdrawn["status"], "withdrawn");
    assert!(withdrawn["withdrawn_at"].is_string());
    assert_eq!(withdrawn["withdraw_reason"], "目标值待区政府审定");
    withdraw(&app, &admin, &v2_id, "再次撤回")
        .await
        .problem(409, "already_withdrawn");

    let withdrawals = audit_listed(&app, &auditor, "indicator_definition_withdraw").await;
    assert_eq!(withdrawals.len(), 1, "{withdrawals:?}");
    assert_eq!(withdrawals[0]["actor_username"], "admin");
    assert_eq!(withdrawals[0]["entity_id"], v2_id.as_str());

    // A withdrawn version holds no date: the next one may take effect before it, as version 3.
    let in_ten_days = days_from_today(10);
    let answer = publish(&app, &admin, &in_ten_days, &indicators).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json()["version"], 3);
    let versions: Vec<(i64, String)> = definition_sets(&app, &admin)
        .await
        .iter()
        .map(|s| {
            (
                s["version"].as_i64().unwrap(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (3, "scheduled".to_owned()),
            (2, "withdrawn".to_owned()),
            (1, "in_effect".to_owned())
        ]
    );
    assert_eq!(
        audit_listed(&app, &admin, "indicator_definition_publish")
            .await
            .len(),
        2
    );
}

#[actix_web::test]
async fn a_bad_definition_version_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let v1 = version_1_indicators(&app, &admin).await;
    let month_ahead = days_from_today(30);

    let mut missing = v1.clone();
    missing.pop();
    let mut duplicate = v1.clone();
    duplicate[13] = v1[12].clone();
    let mut no_code = v1.clone();
    no_code[13].as_object_mut().unwrap().remove("code");
    let mut rekinded = v1.clone();
    rekinded[0]["kind"] = json!("rate");
    let mut target_150 = v1.clone();
    target_150[1]["target"] = json!(150);
    let mut ages_crossed = v1.clone();
    ages_crossed[6]["age_min"] = json!(60);
    ages_crossed[6]["age_max"] = json!(16);
    let mut age_121 = v1.clone();
    age_121[6]["age_max"] = json!(121);

    // (body, field the problem must name: exactly, or as a prefix when it ends with '*')
    let next_month =
        |indicators: &[Value]| json!({"effective_from": month_ahead, "indicators": indicators});
    let from = |day: &str| json!({"effective_from": day, "indicators": v1});
    let cases = [
        (next_month(&missing), "indicators*"),
        (next_month(&duplicate), "indicators*"),
        (next_month(&no_code), "indicators*"),
        (next_month(&rekinded), "indicators[0].kind"),
        (next_month(&target_150), "indicators[1].target"),
        (next_month(&ages_crossed), "indicators[6].age*"),
        (next_month(&age_121), "indicators[6].age*"),
        (from(&days_from_today(-1)), "effective_from"),
        (from(&today().to_string()), "effective_from"),
        (from("2021-01-01"), "effective_from"),
        (json!({"indicators": v1}), "effective_from"),
    ];
    for (body, field) in cases {
        let answer = app.post_as(&admin, DEFINITIONS, &body).await;
        let fields: Vec<String> = field_errors(&answer).into_iter().map(|(f, _)| f).collect();
        let named = match field.strip_suffix('*') {
            Some(prefix) => fields.iter().any(|f| f.starts_with(prefix)),
            None => fields.iter().any(|f| f == field),
        };
        assert!(named, "expected {field} among {fields:?} for {body}");
    }
    assert_eq!(
        definition_sets(&app, &admin).await.len(),
        1,
        "nothing was published"
    );
    assert!(audit_listed(&app, &admin, "indicator_definition_publish")
        .await
        .is_empty());
}

#[actix_web::test]
async fn only_an_admin_publishes_or_withdraws_definitions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let v1 = version_1_indicators(&app, &admin).await;
    let answer = publish(&app, &admin, &days_from_today(30), &v1).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let v2 = answer.json()["id"].as_str().unwrap().to_owned();
    for (name, role, towns) in [
        ("auditor", Role::Auditor, &[][..]),
        ("worker", Role::Caseworker, &[JINPING][..]),
    ] {
        let session = app.session(name, role, towns).await;
        publish(&app, &session, &days_from_today(60), &v1)
            .await
            .problem(403, "forbidden");
        withdraw(&app, &session, &v2, "不需要")
            .await
            .problem(403, "forbidden");
        assert_eq!(
            definition_sets(&app, &session).await.len(),
            2,
            "{name} reads them"
        );
    }
    let statuses: Vec<Value> = definition_sets(&app, &admin)
        .await
        .iter()
        .map(|s| s["status"].clone())
        .collect();
    assert_eq!(statuses, [json!("scheduled"), json!("in_effect")]);
    assert_eq!(
        audit_listed(&app, &admin, "indicator_definition_publish")
            .await
            .len(),
        1
    );
    assert!(audit_listed(&app, &admin, "indicator_definition_withdraw")
        .await
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// All indicators, parameters and roles.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_report_lists_all_fourteen_in_the_table_s_order_as_each_one_alone() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // One resident of 锦屏 insured for medical care in 2024, one care institution in 溪口.
    let a = holder(&app, &admin, 11, JINPING, "1970-01-01", cert("physical", 2)).await;
    insured(&app, &admin, &a.id, 2024, "medical", true).await;
    facility(&app, &admin, "care_institution", XIKOU, false, "2022-01-01").await;

    let answer = app
        .get_as(&admin, "/api/v1/indicators?as_of=2024-06-30")
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = answer.json();
    assert_eq!(report["as_of"], "2024-06-30");
    assert_eq!(
        report["area"],
        json!({"code": DISTRICT, "name": DISTRICT_NAME})
    );
    assert_eq!(report["definition_version"], 1);
    let items = report["items"].as_array().unwrap();
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    let table: Vec<&str> = VERSION_1.iter().map(|s| s.code).collect();
    assert_eq!(codes, table);
    for item in items {
        let code = item["code"].as_str().unwrap();
        assert_eq!(item["definition_version"], 1, "{code}");
        assert_eq!(item["as_of"], "2024-06-30", "{code}");
        assert_eq!(item["by_town"].as_array().map(Vec::len), Some(12), "{code}");
        let alone = indicator(&app, &admin, code, Some("2024-06-30"), None).await;
        assert_eq!(item, &alone, "{code} reads the same alone");
    }
    assert_eq!(Figure::of(&items[7]), Ok(rate(1, 1, 100.0, true)));
    assert_eq!(Figure::of(&items[4]), Ok(count(1, Some(true))));
    assert_eq!(Figure::of(&items[5]), Ok(count(0, Some(false))));
    assert_eq!(Figure::of(&items[1]), Ok(NO_RATE), "nobody is eligible");

    // Without a day, today (Asia/Shanghai).
    let answer = app.get_as(&admin, "/api/v1/indicators").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["as_of"], today().to_string());
    let answer = app
        .get_as(&admin, "/api/v1/indicators/care_institutions")
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["as_of"], today().to_string());
    app.get("/api/v1/indicators")
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn a_bad_day_area_or_code_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.create_village(&admin, "330213001001", "锦屏社区", JINPING)
        .await;
    for path in [
        "/api/v1/indicators",
        "/api/v1/indicators/medical_insurance_rate",
    ] {
        for day in ["2024-02-30", "2024/06/30", "20240630", "yesterday"] {
            let answer = app.get_as(&admin, &format!("{path}?as_of={day}")).await;
            assert_invalid(&answer, "as_of", Some("invalid_date"));
        }
        let answer = app
            .get_as(&admin, &format!("{path}?as_of={}", days_from_today(1)))
            .await;
        assert_invalid(&answer, "as_of", Some("in_future"));
        let answer = app
            .get_as(&admin, &format!("{path}?as_of={}", today()))
            .await;
        assert_eq!(answer.status, 200, "today is fine: {}", answer.text());

        for area in [
            "330213001001",
            "330213999",
            "330212",
            "330213001x",
            "jinping",
        ] {
            let answer = app
                .get_as(&admin, &format!("{path}?as_of=2024-06-30&area={area}"))
                .await;
            assert_invalid(&answer, "area", Some("unknown_area"));
        }
    }
    for code in ["employment", "INCOME_GROWTH", "15"] {
        app.get_as(&admin, &indicator_path(code, Some("2024-06-30"), None))
            .await
            .problem(404, "not_found");
    }
}

/// 锦屏 has two residents, one insured for medical care in 2024 (1/2); 溪口 one, insured (1/1);
/// the district 2/3.
#[actix_web::test]
async fn a_caseworker_sees_its_own_town_only_and_auditors_any_area() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = holder(&app, &admin, 21, JINPING, "1970-01-01", cert("physical", 2)).await;
    let b = holder(&app, &admin, 22, JINPING, "1971-01-01", cert("hearing", 3)).await;
    let c = holder(&app, &admin, 23, XIKOU, "1972-01-01", cert("visual", 4)).await;
    insured(&app, &admin, &a.id, 2024, "medical", true).await;
    insured(&app, &admin, &b.id, 2024, "medical", false).await;
    insured(&app, &admin, &c.id, 2024, "medical", true).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    let worker = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let both = app
        .session("both", Role::Caseworker, &[JINPING, XIKOU])
        .await;

    let mut admin_reads = Expect::new(&app, &admin, "medical_insurance_rate");
    admin_reads
        .at(
            "2024-06-30",
            rate(2, 3, 66.67, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(1, 1, 100.0, true)),
            ],
        )
        .await;
    admin_reads
        .in_area("2024-06-30", XIKOU, rate(1, 1, 100.0, true))
        .await;
    admin_reads.done();

    let mut auditor_reads = Expect::new(&app, &auditor, "medical_insurance_rate");
    auditor_reads
        .at(
            "2024-06-30",
            rate(2, 3, 66.67, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(1, 1, 100.0, true)),
            ],
        )
        .await;
    auditor_reads
        .in_area("2024-06-30", XIKOU, rate(1, 1, 100.0, true))
        .await;
    auditor_reads.done();

    // The caseworker of 锦屏: its town, named or not.
    let mut worker_reads = Expect::new(&app, &worker, "medical_insurance_rate");
    worker_reads
        .in_area("2024-06-30", JINPING, rate(1, 2, 50.0, false))
        .await;
    worker_reads.done();
    let omitted = indicator(
        &app,
        &worker,
        "medical_insurance_rate",
        Some("2024-06-30"),
        None,
    )
    .await;
    assert_eq!(
        omitted["area"],
        json!({"code": JINPING, "name": "锦屏街道"})
    );
    assert_eq!(Figure::of(&omitted), Ok(rate(1, 2, 50.0, false)));
    assert!(
        omitted.get("by_town").is_none_or(Value::is_null),
        "{omitted}"
    );
    let answer = app
        .get_as(&worker, "/api/v1/indicators?as_of=2024-06-30")
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let report = answer.json();
    assert_eq!(report["area"], json!({"code": JINPING, "name": "锦屏街道"}));
    assert_eq!(Figure::of(&report["items"][7]), Ok(rate(1, 2, 50.0, false)));

    // Not the district, not another town.
    for area in [DISTRICT, XIKOU] {
        for path in [
            format!("/api/v1/indicators?as_of=2024-06-30&area={area}"),
            indicator_path("medical_insurance_rate", Some("2024-06-30"), Some(area)),
        ] {
            app.get_as(&worker, &path).await.problem(403, "forbidden");
        }
    }

    // A caseworker of two towns names one.
    let answer = app
        .get_as(
            &both,
            &indicator_path("medical_insurance_rate", Some("2024-06-30"), None),
        )
        .await;
    assert_invalid(&answer, "area", Some("required"));
    let mut both_reads = Expect::new(&app, &both, "medical_insurance_rate");
    both_reads
        .in_area("2024-06-30", XIKOU, rate(1, 1, 100.0, true))
        .await;
    both_reads.done();
    app.get_as(
        &both,
        &indicator_path("medical_insurance_rate", Some("2024-06-30"), Some(DISTRICT)),
    )
    .await
    .problem(403, "forbidden");
}

// ---------------------------------------------------------------------------------------------
// 1. income_growth
// ---------------------------------------------------------------------------------------------

/// Household incomes (fen) of 2023, 2024 and 2025; GDP growth 9.00 % for 2023, 6.50 % for 2024,
/// none for 2025. The group is P(D) with an income for D's year and the year before.
///
/// | who | town | P(D) | 2023 | 2024 | 2025 |
/// |---|---|---|---|---|---|
/// | i1 | 锦屏 | always | 3,000,000 | 3,300,000 | 3,630,000 |
/// | i2 | 锦屏 | always | 2,000,000 | 2,100,000 | — |
/// | i3 | 溪口 | dies 2024-09-01 | 4,000,000 | 4,120,000 | — |
/// | i4 | 溪口 | always | — | 2,500,000 | 2,750,000 |
/// | i5 | 西坞 | certificate from 2024-05-01 | 1,000,000 | 1,060,000 | 1,000,000 |
/// | i6 | 锦屏 | no certificate: never | 5,000,000 | 10,000,000 | — |
///
/// - 2024-04-30: i1, i2, i3 → 9,520,000 / 9,000,000 = +5.78 % < 6.5; 锦屏 5,400,000 /
///   5,000,000 = +8.00 % (met), 溪口 4,120,000 / 4,000,000 = +3.00 %, 西坞 nobody.
/// - 2024-05-01: i5 joins → 10,580,000 / 10,000,000 = +5.80 %; 西坞 1,060,000 / 1,000,000 =
///   +6.00 % (not met).
/// - 2024-09-01: i3 dead → 6,460,000 / 6,000,000 = +7.67 % (met); 溪口 has only i4, without
///   2023: nobody.
/// - 2025-03-01: year 2025, no GDP growth (target and met null): i1, i4, i5 → 7,380,000 /
///   6,860,000 = +7.58 %; 锦屏 3,630,000 / 3,300,000 = +10.00 %, 溪口 2,750,000 / 2,500,000 =
///   +10.00 %, 西坞 1,000,000 / 1,060,000 = −5.66 %.
#[actix_web::test]
async fn income_growth_compares_the_group_s_incomes_with_the_year_before_and_the_gdp() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let i1 = holder(
        &app,
        &admin,
        101,
        JINPING,
        "1975-01-01",
        cert("physical", 3),
    )
    .await;
    let i2 = holder(&app, &admin, 102, JINPING, "1980-02-02", cert("hearing", 2)).await;
    let i3 = holder(&app, &admin, 103, XIKOU, "1950-03-03", cert("visual", 1)).await;
    let i4 = holder(&app, &admin, 104, XIKOU, "1985-04-04", cert("speech", 4)).await;
    let i5 = holder(
        &app,
        &admin,
        105,
        XIWU,
        "1990-05-05",
        cert_issued("mental", 2, "2024-05-01"),
    )
    .await;
    let (i6, _) = register(&app, &admin, "1966-06-06", 106, JINPING, json!({})).await;
    for (who, year, fen) in [
        (&i1.id, 2023, 3_000_000),
        (&i1.id, 2024, 3_300_000),
        (&i1.id, 2025, 3_630_000),
        (&i2.id, 2023, 2_000_000),
        (&i2.id, 2024, 2_100_000),
        (&i3.id, 2023, 4_000_000),
        (&i3.id, 2024, 4_120_000),
        (&i4.id, 2024, 2_500_000),
        (&i4.id, 2025, 2_750_000),
        (&i5.id, 2023, 1_000_000),
        (&i5.id, 2024, 1_060_000),
        (&i5.id, 2025, 1_000_000),
        (&i6, 2023, 5_000_000),
        (&i6, 2024, 10_000_000),
    ] {
        income(&app, &admin, who, year, fen).await;
    }
    died(&app, &admin, &i3.id, "2024-09-01").await;
    gdp_growth(&app, &admin, 2023, 900).await;
    gdp_growth(&app, &admin, 2024, 650).await;

    let mut expect = Expect::new(&app, &admin, "income_growth");
    let result = expect
        .at(
            "2024-04-30",
            growth(9_520_000, 9_000_000, 5.78, Some(false)),
            &[
                (JINPING, growth(5_400_000, 5_000_000, 8.0, Some(true))),
                (XIKOU, growth(4_120_000, 4_000_000, 3.0, Some(false))),
            ],
        )
        .await;
    expect.check("target of 2024", result["target"].as_f64(), Some(6.5));
    expect
        .at(
            "2024-05-01",
            growth(10_580_000, 10_000_000, 5.8, Some(false)),
            &[
                (JINPING, growth(5_400_000, 5_000_000, 8.0, Some(true))),
                (XIKOU, growth(4_120_000, 4_000_000, 3.0, Some(false))),
                (XIWU, growth(1_060_000, 1_000_000, 6.0, Some(false))),
            ],
        )
        .await;
    let result = expect
        .at(
            "2024-09-01",
            growth(6_460_000, 6_000_000, 7.67, Some(true)),
            &[
                (JINPING, growth(5_400_000, 5_000_000, 8.0, Some(true))),
                (XIWU, growth(1_060_000, 1_000_000, 6.0, Some(false))),
            ],
        )
        .await;
    expect.check("target of 2024", result["target"].as_f64(), Some(6.5));
    expect
        .in_area(
            "2024-09-01",
            XIWU,
            growth(1_060_000, 1_000_000, 6.0, Some(false)),
        )
        .await;
    let result = expect
        .at(
            "2025-03-01",
            growth(7_380_000, 6_860_000, 7.58, None),
            &[
                (JINPING, growth(3_630_000, 3_300_000, 10.0, None)),
                (XIKOU, growth(2_750_000, 2_500_000, 10.0, None)),
                (XIWU, growth(1_000_000, 1_060_000, -5.66, None)),
            ],
        )
        .await;
    expect.check(
        "target of 2025 (none entered)",
        result["target"].clone(),
        Value::Null,
    );
    expect.done();
}

// ---------------------------------------------------------------------------------------------
// 2. living_subsidy_coverage
// ---------------------------------------------------------------------------------------------

/// The living subsidy under the seeded policy (household status `dibao`, `tekun` excluded) and,
/// from 2025-01-01, a version that adds `dibian`. Certificates from 2020-01-01, household
/// statuses since 2015-01-01.
///
/// | who | town | household | living grant |
/// |---|---|---|---|
/// | l1 | 锦屏 | dibao | from 2024-01 |
/// | l2 | 锦屏 | dibao | none |
/// | l3 | 溪口 | tekun (excluded) | from 2024-01 (override) |
/// | l4 | 溪口 | dibian (eligible from 2025-01-01) | none |
/// | l5 | 溪口 | dibao | from 2024-01, suspended 2024-06-01, resumed 2024-10-01 |
/// | l6 | 西坞 | dibao | from 2024-01, terminated 2024-04-01 |
/// | l7 | 西坞 | dibao | from 2024-08 |
/// | l8 | 锦屏 | dibao, `none` since 2024-07-01 | from 2024-01, still running |
/// | l9 | 锦屏 | dibao, no certificate (not in P) | none |
///
/// - 2024-03-31: eligible l1 l2 l8 | l5 | l6 l7; paid l1 l8 | l5 | l6 → 4/6.
/// - 2024-04-01: l6's grant terminated that day → 3/6 (西坞 0/2).
/// - 2024-06-01: l5 suspended that day → paid l1 l8 → 2/6; 2024-06-30 the same.
/// - 2024-07-01: l8 left dibao that day (out) → l1 of l1 l2 | l5 | l6 l7 → 1/5.
/// - 2024-07-31: l7's grant starts next month → still 1/5.
/// - 2024-08-01: l7 paid → 2/5.
/// - 2024-10-01: l5 resumed → 3/5 (溪口 1/1).
/// - 2024-12-31: the same, 3/5.
/// - 2025-01-01: l4 eligible, unpaid → l1 l5 l7 of l1 l2 | l4 l5 | l6 l7 → 3/6.
#[actix_web::test]
async fn living_subsidy_coverage_follows_eligibility_and_active_grants() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for (seq, town, birth, status) in [
        (201, JINPING, "1970-01-01", "dibao"),
        (202, JINPING, "1971-01-01", "dibao"),
        (203, XIKOU, "1972-01-01", "tekun"),
        (204, XIKOU, "1973-01-01", "dibian"),
        (205, XIKOU, "1974-01-01", "dibao"),
        (206, XIWU, "1975-01-01", "dibao"),
        (207, XIWU, "1976-01-01", "dibao"),
        (208, JINPING, "1977-01-01", "dibao"),
    ] {
        let h = holder_with(
            &app,
            &admin,
            seq,
            town,
            birth,
            cert("physical", 4),
            household(status),
        )
        .await;
        ids.push(h.id);
    }
    let [l1, _l2, l3, _l4, l5, l6, l7, l8] = <[String; 8]>::try_from(ids).unwrap();
    register(&app, &admin, "1978-01-01", 209, JINPING, household("dibao")).await;

    policy(
        &app,
        &admin,
        json!({
            "kind": "living",
            "effective_from": "2025-01-01",
            "monthly_amount_fen": 32000,
            "rules": {"household_statuses": ["dibao", "dibian"], "excluded_household_statuses": ["tekun"]},
        }),
    )
    .await;
    grant(&app, &admin, &l1, "living", "2024-01").await;
    grant(&app, &admin, &l3, "living", "2024-01").await;
    let g5 = grant(&app, &admin, &l5, "living", "2024-01").await;
    suspend(&app, &admin, &l5, &g5, "2024-06-01").await;
    resume(&app, &admin, &l5, &g5, "2024-10-01").await;
    let g6 = grant(&app, &admin, &l6, "living", "2024-01").await;
    terminate(&app, &admin, &l6, &g6, "2024-04-01").await;
    grant(&app, &admin, &l7, "living", "2024-08").await;
    grant(&app, &admin, &l8, "living", "2024-01").await;
    household_change(&app, &admin, &l8, "none", "2024-07-01").await;

    let mut expect = Expect::new(&app, &admin, "living_subsidy_coverage");
    expect
        .at(
            "2024-03-31",
            rate(4, 6, 66.67, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(1, 1, 100.0, true)),
                (XIWU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-04-01",
            rate(3, 6, 50.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(1, 1, 100.0, true)),
                (XIWU, rate(0, 2, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-06-01",
            rate(2, 6, 33.33, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(0, 2, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-06-30",
            rate(2, 6, 33.33, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(0, 2, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-07-01",
            rate(1, 5, 20.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(0, 2, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-07-31",
            rate(1, 5, 20.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(0, 2, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-08-01",
            rate(2, 5, 40.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-10-01",
            rate(3, 5, 60.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(1, 1, 100.0, true)),
                (XIWU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect
        .in_area("2024-10-01", XIKOU, rate(1, 1, 100.0, true))
        .await;
    expect
        .at(
            "2024-12-31",
            rate(3, 5, 60.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(1, 1, 100.0, true)),
                (XIWU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-01-01",
            rate(3, 6, 50.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(1, 2, 50.0, false)),
                (XIWU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect.done();
}

// ---------------------------------------------------------------------------------------------
// 3. nursing_subsidy_coverage
// ---------------------------------------------------------------------------------------------

/// The nursing subsidy under the seeded policy (grades 1–2; `tekun` and work-injury nursing
/// excluded) and, from 2025-07-01, a version extending it to grades 3–4 of intellectual and
/// mental disabilities. Certificates from 2020-01-01.
///
/// | who | town | certificate | nursing grant / other |
/// |---|---|---|---|
/// | n1 | 锦屏 | physical 1 | from 2024-01 |
/// | n2 | 锦屏 | visual 2 | from 2025-02 |
/// | n3 | 溪口 | physical 1, tekun (excluded) | from 2024-01 (override) |
/// | n4 | 溪口 | hearing 1 | none; work-injury nursing 2024-01-01..2024-12-31 |
/// | n5 | 溪口 | intellectual 3 (extension) | from 2025-07 |
/// | n6 | 西坞 | mental 4 (extension) | none |
/// | n7 | 西坞 | physical 3 (never eligible) | from 2024-01 (override) |
/// | n8 | 西坞 | physical 2 | from 2024-01, suspended 2024-05-01 |
/// | n9 | 锦屏 | physical 2 | from 2024-01, terminated 2024-10-01 |
/// | n10 | 锦屏 | physical 1, dies 2025-03-10 | from 2024-01 |
///
/// - 2024-04-30: eligible n1 n2 n9 n10 | — | n8; paid n1 n9 n10 | n8 → 4/5 (溪口 nobody).
/// - 2024-05-01: n8 suspended → 3/5.
/// - 2024-10-01: n9's grant terminated that day → n1 n10 → 2/5 (锦屏 2/4).
/// - 2024-12-31: n4's allowance still runs (its last day) → 2/5, 溪口 nobody.
/// - 2025-01-01: n4's allowance ended → eligible, unpaid; n2 from February → n1 n10 of
///   n1 n2 n9 n10 | n4 | n8 → 2/6.
/// - 2025-06-30: n10 dead; n2 paid → n1 n2 of n1 n2 n9 | n4 | n8 → 2/5.
/// - 2025-07-01: the extension: n5 (paid) and n6 (unpaid) join → n1 n2 | n5 of n1 n2 n9 |
///   n4 n5 | n6 n8 → 3/7 = 42.86 %.
#[actix_web::test]
async fn nursing_subsidy_coverage_follows_the_policy_in_force_and_active_grants() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let n1 = holder(
        &app,
        &admin,
        301,
        JINPING,
        "1960-01-01",
        cert("physical", 1),
    )
    .await;
    let n2 = holder(&app, &admin, 302, JINPING, "1961-01-01", cert("visual", 2)).await;
    let n3 = holder_with(
        &app,
        &admin,
        303,
        XIKOU,
        "1962-01-01",
        cert("physical", 1),
        household("tekun"),
    )
    .await;
    let n4 = holder(&app, &admin, 304, XIKOU, "1963-01-01", cert("hearing", 1)).await;
    let n5 = holder(
        &app,
        &admin,
        305,
        XIKOU,
        "1964-01-01",
        cert("intellectual", 3),
    )
    .await;
    holder(&app, &admin, 306, XIWU, "1965-01-01", cert("mental", 4)).await;
    let n7 = holder(&app, &admin, 307, XIWU, "1966-01-01", cert("physical", 3)).await;
    let n8 = holder(&app, &admin, 308, XIWU, "1967-01-01", cert("physical", 2)).await;
    let n9 = holder(
        &app,
        &admin,
        309,
        JINPING,
        "1968-01-01",
        cert("physical", 2),
    )
    .await;
    let n10 = holder(
        &app,
        &admin,
        310,
        JINPING,
        "1940-01-01",
        cert("physical", 1),
    )
    .await;

    policy(
        &app,
        &admin,
        json!({
            "kind": "nursing",
            "effective_from": "2025-07-01",
            "monthly_amount_fen": 32000,
            "rules": {
                "grades": [1, 2],
                "extension": {"grades": [3, 4], "categories": ["intellectual", "mental"]},
                "excluded_household_statuses": ["tekun"],
                "exclude_work_injury_nursing": true,
            },
        }),
    )
    .await;
    record(
        &app,
        &admin,
        &n4.id,
        "other-benefits",
        json!({"kind": "work_injury_nursing", "start_on": "2024-01-01", "end_on": "2024-12-31"}),
    )
    .await;
    grant(&app, &admin, &n1.id, "nursing", "2024-01").await;
    grant(&app, &admin, &n2.id, "nursing", "2025-02").await;
    grant(&app, &admin, &n3.id, "nursing", "2024-01").await;
    grant(&app, &admin, &n5.id, "nursing", "2025-07").await;
    grant(&app, &admin, &n7.id, "nursing", "2024-01").await;
    let g8 = grant(&app, &admin, &n8.id, "nursing", "2024-01").await;
    suspend(&app, &admin, &n8.id, &g8, "2024-05-01").await;
    let g9 = grant(&app, &admin, &n9.id, "nursing", "2024-01").await;
    terminate(&app, &admin, &n9.id, &g9, "2024-10-01").await;
    grant(&app, &admin, &n10.id, "nursing", "2024-01").await;
    died(&app, &admin, &n10.id, "2025-03-10").await;

    let mut expect = Expect::new(&app, &admin, "nursing_subsidy_coverage");
    expect
        .at(
            "2024-04-30",
            rate(4, 5, 80.0, false),
            &[
                (JINPING, rate(3, 4, 75.0, false)),
                (XIWU, rate(1, 1, 100.0, true)),
            ],
        )
        .await;
    expect
        .at(
            "2024-05-01",
            rate(3, 5, 60.0, false),
            &[
                (JINPING, rate(3, 4, 75.0, false)),
                (XIWU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect.in_area("2024-05-01", XIKOU, NO_RATE).await;
    expect
        .at(
            "2024-10-01",
            rate(2, 5, 40.0, false),
            &[
                (JINPING, rate(2, 4, 50.0, false)),
                (XIWU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2024-12-31",
            rate(2, 5, 40.0, false),
            &[
                (JINPING, rate(2, 4, 50.0, false)),
                (XIWU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-01-01",
            rate(2, 6, 33.33, false),
            &[
                (JINPING, rate(2, 4, 50.0, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-06-30",
            rate(2, 5, 40.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-07-01",
            rate(3, 7, 42.86, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(1, 2, 50.0, false)),
                (XIWU, rate(0, 2, 0.0, false)),
            ],
        )
        .await;
    expect.done();
}

// ---------------------------------------------------------------------------------------------
// 4. home_for_disabled_coverage
// ---------------------------------------------------------------------------------------------

/// Towns with a 残疾人之家 open on D, of the 12 (each town is 0/1 or 1/1 in `by_town`).
///
/// - 锦屏: one open 2019-05-01, closed 2024-12-31 (not open that day); another from
///   2025-03-01.
/// - 溪口: one from 2022-01-01.
/// - 西坞: one from 2024-07-01 and a second from 2024-08-01; a care institution since 2020
///   (not a 残疾人之家).
/// - 岳林, 江口, 萧王庙, 方桥, 尚田, 莼湖, 裘村, 大堰: one each from 2026-01-01; 松岙 none.
///
/// - 2024-06-30: 锦屏, 溪口 → 2/12 = 16.67 %.
/// - 2024-07-01: and 西坞 → 3/12 = 25 %; 2024-12-30 the same.
/// - 2024-12-31: 锦屏's closed → 2/12.
/// - 2025-03-01: 锦屏's new one → 3/12.
/// - 2026-06-30: all but 松岙 → 11/12 = 91.67 % ≥ 90 (met).
#[actix_web::test]
async fn home_for_disabled_coverage_counts_towns_with_one_open() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let first = facility(
        &app,
        &admin,
        "home_for_disabled",
        JINPING,
        true,
        "2019-05-01",
    )
    .await;
    close_facility(&app, &admin, &first, "2024-12-31").await;
    facility(
        &app,
        &admin,
        "home_for_disabled",
        JINPING,
        true,
        "2025-03-01",
    )
    .await;
    facility(
        &app,
        &admin,
        "home_for_disabled",
        XIKOU,
        false,
        "2022-01-01",
    )
    .await;
    facility(&app, &admin, "home_for_disabled", XIWU, true, "2024-07-01").await;
    facility(&app, &admin, "home_for_disabled", XIWU, true, "2024-08-01").await;
    facility(&app, &admin, "care_institution", XIWU, true, "2020-01-01").await;
    let later: Vec<&str> = TOWNS
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| ![JINPING, XIKOU, XIWU, SONGAO].contains(code))
        .collect();
    assert_eq!(later.len(), 8);
    for town in &later {
        facility(&app, &admin, "home_for_disabled", town, true, "2026-01-01").await;
    }

    let covered = rate(1, 1, 100.0, true);
    let mut expect = Expect::new(&app, &admin, "home_for_disabled_coverage");
    expect
        .at(
            "2024-06-30",
            rate(2, 12, 16.67, false),
            &[(JINPING, covered), (XIKOU, covered)],
        )
        .await;
    expect
        .at(
            "2024-07-01",
            rate(3, 12, 25.0, false),
            &[(JINPING, covered), (XIKOU, covered), (XIWU, covered)],
        )
        .await;
    expect
        .at(
            "2024-12-30",
            rate(3, 12, 25.0, false),
            &[(JINPING, covered), (XIKOU, covered), (XIWU, covered)],
        )
        .await;
    expect
        .at(
            "2024-12-31",
            rate(2, 12, 16.67, false),
            &[(XIKOU, covered), (XIWU, covered)],
        )
        .await;
    expect
        .in_area("2024-12-31", JINPING, rate(0, 1, 0.0, false))
        .await;
    expect
        .at(
            "2025-03-01",
            rate(3, 12, 25.0, false),
            &[(JINPING, covered), (XIKOU, covered), (XIWU, covered)],
        )
        .await;
    expect.in_area("2025-03-01", JINPING, covered).await;
    let mut all_but_songao: Vec<(&str, Figure)> =
        vec![(JINPING, covered), (XIKOU, covered), (XIWU, covered)];
    all_but_songao.extend(later.iter().map(|town| (*town, covered)));
    expect
        .at("2026-06-30", rate(11, 12, 91.67, true), &all_but_songao)
        .await;
    expect
        .in_area("2026-06-30", SONGAO, rate(0, 1, 0.0, false))
        .await;
    expect.done();
}

// ---------------------------------------------------------------------------------------------
// 5. care_institutions and 6. child_rehab_institutions
// ---------------------------------------------------------------------------------------------

/// Care institutions (托养机构) open on D: 锦屏's from 2021-03-01, closed 2025-01-01; 溪口's from
/// 2024-05-01 and a second from 2025-06-01. A 残疾人之家 in 锦屏 does not count.
///
/// - 2021-02-28: none → 0 (not met, the target is 1).
/// - 2024-04-30: 锦屏 → 1.
/// - 2024-05-01: 锦屏, 溪口 → 2.
/// - 2025-01-01: 锦屏's closed → 1 (溪口).
/// - 2025-06-01: 溪口's two → 2.
#[actix_web::test]
async fn care_institutions_counts_those_open_on_the_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let jinping = facility(
        &app,
        &admin,
        "care_institution",
        JINPING,
        false,
        "2021-03-01",
    )
    .await;
    close_facility(&app, &admin, &jinping, "2025-01-01").await;
    facility(&app, &admin, "care_institution", XIKOU, false, "2024-05-01").await;
    facility(&app, &admin, "care_institution", XIKOU, true, "2025-06-01").await;
    facility(
        &app,
        &admin,
        "home_for_disabled",
        JINPING,
        true,
        "2019-01-01",
    )
    .await;

    let mut expect = Expect::new(&app, &admin, "care_institutions");
    expect.at("2021-02-28", count(0, Some(false)), &[]).await;
    expect
        .at(
            "2024-04-30",
            count(1, Some(true)),
            &[(JINPING, count(1, None))],
        )
        .await;
    expect
        .at(
            "2024-05-01",
            count(2, Some(true)),
            &[(JINPING, count(1, None)), (XIKOU, count(1, None))],
        )
        .await;
    expect
        .at(
            "2025-01-01",
            count(1, Some(true)),
            &[(XIKOU, count(1, None))],
        )
        .await;
    expect
        .at(
            "2025-06-01",
            count(2, Some(true)),
            &[(XIKOU, count(2, None))],
        )
        .await;
    let in_xikou = indicator(
        &app,
        &admin,
        "care_institutions",
        Some("2025-06-01"),
        Some(XIKOU),
    )
    .await;
    expect.check(
        "溪口 on 2025-06-01",
        in_xikou["numerator"].as_i64(),
        Some(2),
    );
    expect.check(
        "溪口's denominator",
        in_xikou["denominator"].clone(),
        Value::Null,
    );
    expect.done();
}

/// Standardized child rehabilitation institutions open on D: 锦屏's from 2022-01-01; 西坞's from
/// 2024-09-01, closed 2025-03-31. Not counted: a child rehabilitation institution in 西坞 that
/// is not standardized, and a (standardized) rehabilitation institution for adults in 溪口.
///
/// - 2021-12-31: none → 0 (not met).
/// - 2024-08-31: 锦屏 → 1.
/// - 2024-09-01: 锦屏, 西坞 → 2.
/// - 2025-03-31: 西坞's closed → 1.
#[actix_web::test]
async fn child_rehab_institutions_counts_standardized_ones_open_on_the_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    facility(
        &app,
        &admin,
        "child_rehab_institution",
        JINPING,
        true,
        "2022-01-01",
    )
    .await;
    let xiwu = facility(
        &app,
        &admin,
        "child_rehab_institution",
        XIWU,
        true,
        "2024-09-01",
    )
    .await;
    close_facility(&app, &admin, &xiwu, "2025-03-31").await;
    facility(
        &app,
        &admin,
        "child_rehab_institution",
        XIWU,
        false,
        "2022-01-01",
    )
    .await;
    facility(&app, &admin, "rehab_institution", XIKOU, true, "2022-01-01").await;

    let mut expect = Expect::new(&app, &admin, "child_rehab_institutions");
    expect.at("2021-12-31", count(0, Some(false)), &[]).await;
    expect
        .at(
            "2024-08-31",
            count(1, Some(true)),
            &[(JINPING, count(1, None))],
        )
        .await;
    expect
        .at(
            "2024-09-01",
            count(2, Some(true)),
            &[(JINPING, count(1, None)), (XIWU, count(1, None))],
        )
        .await;
    expect
        .at(
            "2025-03-31",
            count(1, Some(true)),
            &[(JINPING, count(1, None))],
        )
        .await;
    expect.done();
}

// ---------------------------------------------------------------------------------------------
// 7. pension_insurance_rate
// ---------------------------------------------------------------------------------------------

/// P(D) aged 16–59 on D, not in an education record covering D: enrolled in pension insurance
/// for D's year. Certificates from 2020-01-01.
///
/// | who | town | born | pension | other |
/// |---|---|---|---|---|
/// | p1 | 锦屏 | 2009-03-16 (16 on 2025-03-16) | 2025 enrolled | |
/// | p2 | 溪口 | 1965-03-16 (60 on 2025-03-16) | 2025 enrolled | |
/// | p3 | 锦屏 | 1980-01-01 | none | medical 2025 (not pension) |
/// | p4 | 溪口 | 2007-06-01 | 2025 not enrolled | high school 2022-09-01..2025-06-30 |
/// | p5 | 锦屏 | 1966-09-01 (58) | 2025 enrolled | |
/// | p6 | 溪口 | 1990-05-05 | 2024 enrolled, 2025 not enrolled | |
///
/// - 2024-12-31: p1 is 15, p4 at school → p2 p6 | p3 p5; enrolled for 2024: p6 → 1/4.
/// - 2025-03-15: the same group; enrolled for 2025: p2, p5 → 2/4 (锦屏 1/2, 溪口 1/2).
/// - 2025-03-16: p1 turns 16 (in), p2 turns 60 (out) → p1 p3 p5 | p6; p1, p5 → 2/4 (锦屏 2/3,
///   溪口 0/1).
/// - 2025-06-30: p4 still at school (the end is the last day) → 2/4.
/// - 2025-07-01: p4 (18) joins, not enrolled → 2/5 (溪口 0/2).
#[actix_web::test]
async fn pension_insurance_rate_counts_ages_16_to_59_out_of_school() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let p1 = holder(&app, &admin, 701, JINPING, "2009-03-16", cert("hearing", 3)).await;
    let p2 = holder(&app, &admin, 702, XIKOU, "1965-03-16", cert("physical", 2)).await;
    let p3 = holder(&app, &admin, 703, JINPING, "1980-01-01", cert("visual", 4)).await;
    let p4 = holder(&app, &admin, 704, XIKOU, "2007-06-01", cert("speech", 3)).await;
    let p5 = holder(
        &app,
        &admin,
        705,
        JINPING,
        "1966-09-01",
        cert("physical", 4),
    )
    .await;
    let p6 = holder(&app, &admin, 706, XIKOU, "1990-05-05", cert("mental", 2)).await;
    insured(&app, &admin, &p1.id, 2025, "pension", true).await;
    insured(&app, &admin, &p2.id, 2025, "pension", true).await;
    insured(&app, &admin, &p3.id, 2025, "medical", true).await;
    insured(&app, &admin, &p4.id, 2025, "pension", false).await;
    insured(&app, &admin, &p5.id, 2025, "pension", true).await;
    insured(&app, &admin, &p6.id, 2024, "pension", true).await;
    insured(&app, &admin, &p6.id, 2025, "pension", false).await;
    record(
        &app,
        &admin,
        &p4.id,
        "education",
        json!({"stage": "high_school", "school": "奉化中学", "start_on": "2022-09-01", "end_on": "2025-06-30"}),
    )
    .await;

    let mut expect = Expect::new(&app, &admin, "pension_insurance_rate");
    expect
        .at(
            "2024-12-31",
            rate(1, 4, 25.0, false),
            &[
                (JINPING, rate(0, 2, 0.0, false)),
                (XIKOU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-03-15",
            rate(2, 4, 50.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-03-16",
            rate(2, 4, 50.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-06-30",
            rate(2, 4, 50.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-07-01",
            rate(2, 5, 40.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 2, 0.0, false)),
            ],
        )
        .await;
    expect
        .in_area("2025-07-01", XIKOU, rate(0, 2, 0.0, false))
        .await;
    expect.done();
}

// ---------------------------------------------------------------------------------------------
// 8. medical_insurance_rate, and the base population P(D)
// ---------------------------------------------------------------------------------------------

/// P(D): enrolled in medical insurance for D's year. This fixture walks P(D) through its rules.
///
/// | who | town | P(D) | medical |
/// |---|---|---|---|
/// | a | 锦屏 | always | 2024 enrolled, 2025 enrolled |
/// | b | 锦屏 | always | 2024 not enrolled, 2025 enrolled |
/// | c | 锦屏 | dies 2024-06-15 | 2024 enrolled |
/// | d | 溪口 | certificate issued 2014-05-20, valid until 2024-05-20 | 2024 enrolled |
/// | e | 溪口, to 西坞 on 2024-09-01, to 锦屏 on 2025-02-01 | always | 2025 enrolled |
/// | f | 西坞 | certificate cancelled 2024-08-01 | 2024 enrolled |
/// | g | 溪口 | no certificate: never | 2024 enrolled |
/// | h | 锦屏 | certificate issued 2024-07-01 | 2024 enrolled |
/// | i | 西坞 | moves out 2024-10-01 | 2024 enrolled |
///
/// - 2024-05-20: a b c | d e | f i; enrolled a c | d | f i → 5/7 = 71.43 %.
/// - 2024-05-21: d's certificate ran out → 4/6 (溪口 0/1).
/// - 2024-06-15: c died → a f i of a b | e | f i → 3/5.
/// - 2024-07-31: h certified since 07-01 → a h | — | f i of a b h | e | f i → 4/6.
/// - 2024-08-01: f's certificate cancelled that day → a h | — | i of a b h | e | i → 3/5;
///   2024-08-31 the same (e still in 溪口: the earliest move after the day is from 溪口).
/// - 2024-09-01: e in 西坞 → 锦屏 2/3, 溪口 nobody, 西坞 1/2 (e i).
/// - 2024-10-01: i moved out → a h | e → 2/4 (西坞 0/1).
/// - 2025-01-31: 2025 records: a b | e of a b h | e → 3/4 (e still in 西坞).
/// - 2025-02-01: e in 锦屏 → 锦屏 3/4, 西坞 nobody.
#[actix_web::test]
async fn medical_insurance_rate_follows_the_base_population_and_the_town_on_the_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = holder(
        &app,
        &admin,
        801,
        JINPING,
        "1970-01-10",
        cert("physical", 2),
    )
    .await;
    let b = holder(&app, &admin, 802, JINPING, "1972-02-02", cert("hearing", 3)).await;
    let c = holder(&app, &admin, 803, JINPING, "1940-03-03", cert("visual", 1)).await;
    let d = holder(
        &app,
        &admin,
        804,
        XIKOU,
        "1960-04-04",
        cert_issued("physical", 4, "2014-05-20"),
    )
    .await;
    let e = holder(
        &app,
        &admin,
        805,
        XIKOU,
        "1985-05-05",
        cert("intellectual", 2),
    )
    .await;
    let f = holder(&app, &admin, 806, XIWU, "1990-06-06", cert("mental", 3)).await;
    let (g, _) = register(&app, &admin, "1975-07-07", 807, XIKOU, json!({})).await;
    let h = holder(
        &app,
        &admin,
        808,
        JINPING,
        "2000-08-08",
        cert_issued("speech", 4, "2024-07-01"),
    )
    .await;
    let i = holder(&app, &admin, 809, XIWU, "1968-09-09", cert("physical", 3)).await;
    for (who, year, enrolled) in [
        (&a.id, 2024, true),
        (&a.id, 2025, true),
        (&b.id, 2024, false),
        (&b.id, 2025, true),
        (&c.id, 2024, true),
        (&d.id, 2024, true),
        (&e.id, 2025, true),
        (&f.id, 2024, true),
        (&g, 2024, true),
        (&h.id, 2024, true),
        (&i.id, 2024, true),
    ] {
        insured(&app, &admin, who, year, "medical", enrolled).await;
    }
    died(&app, &admin, &c.id, "2024-06-15").await;
    cancel_certificate(&app, &admin, &f, "2024-08-01").await;
    move_to(&app, &admin, &e.id, XIWU, "2024-09-01").await;
    moved_out(&app, &admin, &i.id, "2024-10-01").await;
    move_to(&app, &admin, &e.id, JINPING, "2025-02-01").await;

    let mut expect = Expect::new(&app, &admin, "medical_insurance_rate");
    expect
        .at(
            "2024-05-20",
            rate(5, 7, 71.43, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(1, 2, 50.0, false)),
                (XIWU, rate(2, 2, 100.0, true)),
            ],
        )
        .await;
    expect
        .at(
            "2024-05-21",
            rate(4, 6, 66.67, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(2, 2, 100.0, true)),
            ],
        )
        .await;
    expect
        .at(
            "2024-06-15",
            rate(3, 5, 60.0, false),
            &[
                (JINPING, rate(1, 2, 50.0, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(2, 2, 100.0, true)),
            ],
        )
        .await;
    expect
        .at(
            "2024-07-31",
            rate(4, 6, 66.67, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(2, 2, 100.0, true)),
            ],
        )
        .await;
    expect
        .at(
            "2024-08-01",
            rate(3, 5, 60.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(1, 1, 100.0, true)),
            ],
        )
        .await;
    expect
        .at(
            "2024-08-31",
            rate(3, 5, 60.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIKOU, rate(0, 1, 0.0, false)),
                (XIWU, rate(1, 1, 100.0, true)),
            ],
        )
        .await;
    expect
        .in_area("2024-08-31", XIWU, rate(1, 1, 100.0, true))
        .await;
    expect
        .at(
            "2024-09-01",
            rate(3, 5, 60.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIWU, rate(1, 2, 50.0, false)),
            ],
        )
        .await;
    expect
        .in_area("2024-09-01", XIWU, rate(1, 2, 50.0, false))
        .await;
    expect.in_area("2024-09-01", XIKOU, NO_RATE).await;
    expect
        .at(
            "2024-10-01",
            rate(2, 4, 50.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIWU, rate(0, 1, 0.0, false)),
            ],
        )
        .await;
    expect
        .at(
            "2025-01-31",
            rate(3, 4, 75.0, false),
            &[
                (JINPING, rate(2, 3, 66.67, false)),
                (XIWU, rate(1, 1, 100.0, true)),
            ],
        )
        .await;
    expect
        .at(
            "2025-02-01",
            rate(3, 4, 75.0, false),
            &[(JINPING, rate(3, 4, 75.0, false))],
        )
        .await;
    expect.in_area("2025-02-01", XIWU, NO_RATE).await;
    expect.done();
}
