//! The authorization matrix, written out: every route of the route table and what each caller
//! gets there. The expectations are literal data ([`MATRIX`]), not the access rules of
//! `src/api/mod.rs` that the middleware enforces, so a wrong rule fails here naming the cell,
//! and a route added to the table fails until its row is written.
//!
//! Columns of a row, after the method and the route pattern:
//! - `scope`: the client scope the row is about (`W` applications:write, `R` applications:read,
//!   `V` certificates:verify, `NO` none);
//! - `admin`, `auditor`: a staff token of that role;
//! - `cw`: a caseworker of 锦屏 on objects of 锦屏 (a resident of its town with that resident's
//!   certificate, home-modification case, grant and section records; applications of 锦屏; a
//!   report it took of its town);
//! - `cw out`: the same caseworker on the same kinds of objects of 溪口, a town it does not work
//!   in (a district report for the report routes); routes without such an object are called as
//!   in `cw`;
//! - `client`: an integration client holding every scope (it submitted the applications);
//! - `client−`: a client holding every scope but the row's `scope` (only `certificates:verify`
//!   when the row names none);
//! - `anon`: no token at all.
//!
//! Cells: `A` admitted: the handler answered, and not 401, 403, 404 or 405 (every path
//! parameter names a real object); `F` 403 `forbidden`; `U` 401 `unauthorized` with
//! `WWW-Authenticate: Bearer`; `N` 404 `not_found`, the object being outside the caller's towns
//! (DESIGN §5: a caseworker of town A gets 404 for a resident of town B).
//!
//! Bodies: a PATCH or a void carries a stale `If-Match`, so it is refused 412 once its object is
//! found (and nothing is voided).
//! The caseworker's writes (`cw`, `cw out`) carry a body the handler can read but the domain
//! refuses, dated before the resident's birth ([`well_formed`]): so the town check answers them,
//! not the body's parser, and `A` for `cw` means the check let it through. Everyone else sends
//! `{}`, refused 422. Either way nothing the other cells need is changed. Sign-out and password
//! changes are made with a second session of the caller, so its main session stays.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::header;
use actix_web::test::TestRequest;
use diesel::prelude::*;
use serde_json::{json, Value};

use fenghua_registry::api::endpoints;
use fenghua_registry::db::{self, schema::users};
use fenghua_registry::domain::role::Role;

use crate::helpers::{grant, id_of, record, spawn_app, spawn_app_with, Answer, TestApp};
use crate::indicators::{cert, facility, holder, XIWU};
use crate::integration::{application, register_client, submit_ok, Client};
use crate::sections::all_sections;
use crate::session::{Session, JINPING, PASSWORD, XIKOU};

/// What a caller gets from a route: see the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    A,
    F,
    U,
    N,
}
use Cell::{A, F, N, U};

const W: Option<&str> = Some("applications:write");
const R: Option<&str> = Some("applications:read");
const V: Option<&str> = Some("certificates:verify");
const NO: Option<&str> = None;

pub(crate) type Row = (&'static str, &'static str, Option<&'static str>, [Cell; 7]);

/// The callers, in the order of a row's cells.
const CALLERS: [&str; 7] = [
    "admin",
    "cw",
    "cw out",
    "auditor",
    "client",
    "client−",
    "anon",
];

#[rustfmt::skip]
pub(crate) const MATRIX: &[Row] = &[
    // method   route                                                                  scope  admin cw cw out auditor client client− anon
    ("GET",   "/healthz",                                                                NO, [A, A, A, A, A, A, A]),
    ("GET",   "/readyz",                                                                 NO, [A, A, A, A, A, A, A]),
    ("GET",   "/metrics",                                                                NO, [A, A, A, A, A, A, A]),
    ("GET",   "/api/v1/openapi.yaml",                                                    NO, [A, A, A, A, A, A, A]),
    ("GET",   "/api/v1/areas",                                                           NO, [A, A, A, A, A, A, U]),
    ("POST",  "/api/v1/areas",                                                           NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/codes",                                                           NO, [A, A, A, A, A, A, U]),
    ("POST",  "/api/v1/auth/login",                                                      NO, [A, A, A, A, A, A, A]),
    ("POST",  "/api/v1/auth/refresh",                                                    NO, [A, A, A, A, A, A, A]),
    ("POST",  "/api/v1/auth/logout",                                                     NO, [A, A, A, A, F, F, U]),
    ("POST",  "/api/v1/auth/token",                                                      NO, [A, A, A, A, A, A, A]),
    ("GET",   "/api/v1/me",                                                              NO, [A, A, A, A, F, F, U]),
    ("POST",  "/api/v1/me/password",                                                     NO, [A, A, A, A, F, F, U]),
    ("GET",   "/api/v1/users",                                                           NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/users",                                                           NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/users/{id}",                                                      NO, [A, F, F, F, F, F, U]),
    ("PATCH", "/api/v1/users/{id}",                                                      NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/audit-events",                                                    NO, [A, F, F, A, F, F, U]),
    ("GET",   "/api/v1/audit-events/verify",                                             NO, [A, F, F, A, F, F, U]),
    ("GET",   "/api/v1/audit-events/export",                                             NO, [A, F, F, A, F, F, U]),
    ("POST",  "/api/v1/residents",                                                       NO, [A, A, A, F, F, F, U]),
    ("GET",   "/api/v1/residents",                                                       NO, [A, A, A, A, F, F, U]),
    ("POST",  "/api/v1/residents/lookup",                                                NO, [A, A, A, A, F, F, U]),
    ("GET",   "/api/v1/residents/{id}",                                                  NO, [A, A, N, A, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}",                                                  NO, [A, A, N, F, F, F, U]),
    ("GET",   "/api/v1/residents/{id}/file",                                             NO, [A, A, N, A, F, F, U]),
    ("GET",   "/api/v1/residents/{id}/history",                                          NO, [A, A, N, A, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/reveal",                                           NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/moves",                                            NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/certificates",                                     NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/certificates/{certificate_id}/renew",              NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/certificates/{certificate_id}/reissue",            NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/certificates/{certificate_id}/reassess",           NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/certificates/{certificate_id}/cancel",             NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/imports/residents",                                               NO, [A, A, A, F, F, F, U]),
    ("GET",   "/api/v1/imports/residents/template",                                      NO, [A, A, A, F, F, F, U]),
    ("POST",  "/api/v1/imports/areas",                                                   NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/facilities",                                                      NO, [A, A, A, A, F, F, U]),
    ("POST",  "/api/v1/facilities",                                                      NO, [A, F, F, F, F, F, U]),
    ("PATCH", "/api/v1/facilities/{id}",                                                 NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/gdp-growth",                                                      NO, [A, A, A, A, F, F, U]),
    ("PUT",   "/api/v1/gdp-growth/{year}",                                               NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/home-modifications",                               NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/home-modifications/{case_id}/assess",              NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/home-modifications/{case_id}/start",               NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/home-modifications/{case_id}/complete",            NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/home-modifications/{case_id}/cancel",              NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/home-modifications/{case_id}/void",                NO, [A, A, N, F, F, F, U]),
    ("GET",   "/api/v1/indicator-definitions",                                           NO, [A, A, A, A, F, F, U]),
    ("POST",  "/api/v1/indicator-definitions",                                           NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/indicator-definitions/{id}/withdraw",                             NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/indicators",                                                      NO, [A, A, A, A, F, F, U]),
    ("GET",   "/api/v1/indicators/{code}",                                               NO, [A, A, A, A, F, F, U]),
    ("GET",   "/api/v1/indicators/{code}/gaps",                                          NO, [A, A, A, A, F, F, U]),
    ("GET",   "/api/v1/subsidies/reconciliation",                                        NO, [A, A, A, A, F, F, U]),
    ("POST",  "/api/v1/reports",                                                         NO, [A, A, A, A, F, F, U]),
    ("GET",   "/api/v1/reports",                                                         NO, [A, A, A, A, F, F, U]),
    ("GET",   "/api/v1/reports/{id}",                                                    NO, [A, A, N, A, F, F, U]),
    ("GET",   "/api/v1/reports/{id}/verify",                                             NO, [A, A, N, A, F, F, U]),
    ("GET",   "/api/v1/subsidy-policies",                                                NO, [A, F, F, A, F, F, U]),
    ("POST",  "/api/v1/subsidy-policies",                                                NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/subsidy-policies/{id}/withdraw",                                  NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/residents/{id}/eligibility",                                      NO, [A, A, N, A, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/subsidies",                                        NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/subsidies/{grant_id}/suspend",                     NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/subsidies/{grant_id}/resume",                      NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/subsidies/{grant_id}/terminate",                   NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/subsidies/{grant_id}/void",                        NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/rehab-needs",                                      NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/rehab-needs/{record_id}",                          NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/rehab-needs/{record_id}/void",                     NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/rehab-services",                                   NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/rehab-services/{record_id}",                       NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/rehab-services/{record_id}/void",                  NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/assistive-devices",                                NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/assistive-devices/{record_id}",                    NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/assistive-devices/{record_id}/void",               NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/employment",                                       NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/employment/{record_id}",                           NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/employment/{record_id}/void",                      NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/trainings",                                        NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/trainings/{record_id}",                            NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/trainings/{record_id}/void",                       NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/education",                                        NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/education/{record_id}",                            NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/education/{record_id}/void",                       NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/insurance",                                        NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/insurance/{record_id}",                            NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/insurance/{record_id}/void",                       NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/culture-services",                                 NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/culture-services/{record_id}",                     NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/culture-services/{record_id}/void",                NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/incomes",                                          NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/incomes/{record_id}",                              NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/incomes/{record_id}/void",                         NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/other-benefits",                                   NO, [A, A, N, F, F, F, U]),
    ("PATCH", "/api/v1/residents/{id}/other-benefits/{record_id}",                       NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/residents/{id}/other-benefits/{record_id}/void",                  NO, [A, A, N, F, F, F, U]),
    ("GET",   "/api/v1/clients",                                                         NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/clients",                                                         NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/clients/{id}",                                                    NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/clients/{id}/rotate-secret",                                      NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/clients/{id}/disable",                                            NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/clients/{id}/enable",                                             NO, [A, F, F, F, F, F, U]),
    ("PUT",   "/api/v1/clients/{id}/webhook",                                            NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/webhook-deliveries",                                              NO, [A, F, F, F, F, F, U]),
    ("GET",   "/api/v1/webhook-deliveries/{id}",                                         NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/webhook-deliveries/{id}/replay",                                  NO, [A, F, F, F, F, F, U]),
    ("POST",  "/api/v1/applications",                                                    W,  [A, A, A, F, A, F, U]),
    ("GET",   "/api/v1/applications",                                                    R,  [A, A, A, A, A, F, U]),
    ("GET",   "/api/v1/applications/{id}",                                               R,  [A, A, N, A, A, F, U]),
    ("POST",  "/api/v1/applications/{id}/decision",                                      NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/applications/{id}/register",                                      NO, [A, A, N, F, F, F, U]),
    ("POST",  "/api/v1/applications/{id}/withdraw",                                      W,  [F, F, F, F, A, F, U]),
    ("GET",   "/api/v1/application-events",                                              R,  [F, F, F, F, A, F, U]),
    ("POST",  "/api/v1/certificates/verify",                                             V,  [A, A, A, A, A, F, U]),
    ("GET",   "/api/v1/work-queues/{queue}",                                             NO, [A, A, A, F, F, F, U]),
];

#[test]
fn the_matrix_lists_exactly_the_routes_of_the_route_table() {
    let table: BTreeSet<(String, String)> = endpoints()
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_owned()))
        .collect();
    let mut written = BTreeSet::new();
    for (method, route, _, _) in MATRIX {
        assert!(
            written.insert((method.to_string(), route.to_string())),
            "{method} {route} has two rows"
        );
    }
    let unwritten: Vec<_> = table.difference(&written).collect();
    let unknown: Vec<_> = written.difference(&table).collect();
    assert!(
        unwritten.is_empty(),
        "routes without a row in MATRIX (write what each caller gets): {unwritten:?}"
    );
    assert!(
        unknown.is_empty(),
        "rows of MATRIX that are not routes: {unknown:?}"
    );
}

/// The objects of one town that a route's path parameters name.
pub(crate) struct TownObjects {
    resident: String,
    certificate: String,
    case: String,
    grant: String,
    /// Section route (`rehab-needs`, …) → a record of that section.
    records: BTreeMap<&'static str, String>,
    application: String,
    /// An application for the registration row alone (registering changes it).
    to_register: String,
    report: String,
}

/// Everything the path parameters name.
pub(crate) struct Fixtures {
    pub(crate) jinping: TownObjects,
    xikou: TownObjects,
    user: String,
    facility: String,
    definition: String,
    policy: String,
    /// A client no caller uses: rotated, disabled and enabled by the rows of those routes.
    client: String,
    delivery: String,
    /// An application of 锦屏 for the withdrawal row alone.
    to_withdraw: String,
}

/// A resident of `town` with a certificate, a home-modification case, a living-subsidy grant
/// and a record in each section, two applications of `town` from `client`, and a report that
/// `reporter` takes.
async fn town_objects(
    app: &TestApp,
    admin: &Session,
    reporter: &Session,
    client: &Client,
    town: &str,
    sequence: u16,
) -> TownObjects {
    let holder = holder(
        app,
        admin,
        sequence,
        town,
        "1980-05-01",
        cert("physical", 2),
    )
    .await;
    let case = record(
        app,
        admin,
        &holder.id,
        "home-modifications",
        json!({"applied_on": "2024-01-10"}),
    )
    .await;
    let grant = grant(app, admin, &holder.id, "living", "2024-01").await;
    let mut records = BTreeMap::new();
    for section in all_sections() {
        let created = record(app, admin, &holder.id, section.route, section.record).await;
        records.insert(section.route, id_of(&created));
    }
    let mut applications = Vec::new();
    for birth in ["1981-02-03", "1982-03-04"] {
        let person = crate::session::id_number("330283", birth, sequence);
        let mut body = application("rehab_service", &person, "申请人", &format!("M-{person}"));
        body["town_code"] = json!(town);
        applications.push(id_of(&submit_ok(app, client, &body).await));
    }
    let report = app
        .post_as(reporter, "/api/v1/reports", &json!({"as_of": "2025-06-30"}))
        .await;
    assert_eq!(report.status, 201, "report: {}", report.text());
    TownObjects {
        resident: holder.id,
        certificate: holder.certificate,
        case: id_of(&case),
        grant,
        records,
        application: applications[0].clone(),
        to_register: applications[1].clone(),
        report: id_of(&report.json()),
    }
}

/// The objects every route's path parameters name: a resident of 锦屏 and one of 溪口 with
/// everything of theirs ([`town_objects`], 锦屏's report taken by `worker`), and the shared ones.
pub(crate) async fn fixtures(
    app: &TestApp,
    admin: &Session,
    worker: &Session,
    client: &Client,
) -> Fixtures {
    let jinping = town_objects(app, admin, worker, client, JINPING, 11).await;
    let xikou = town_objects(app, admin, admin, client, XIKOU, 12).await;
    let definitions = app.get_as(admin, "/api/v1/indicator-definitions").await;
    let deliveries = app.get_as(admin, "/api/v1/webhook-deliveries").await;
    let policies = app.get_as(admin, "/api/v1/subsidy-policies").await;
    let target = register_client(app, admin, "target", &["certificates:verify"], None).await;
    let to_withdraw = application(
        "rehab_service",
        &crate::session::id_number("330283", "1981-02-03", 13),
        "申请人",
        "M-withdraw",
    );
    Fixtures {
        user: app
            .create_user("target", Role::Caseworker, &[JINPING])
            .await,
        facility: id_of(
            &facility(app, admin, "home_for_disabled", JINPING, true, "2020-01-01").await,
        ),
        definition: id_of(&definitions.json()["items"][0]),
        policy: id_of(&policies.json()["items"][0]),
        client: target.id,
        delivery: id_of(&deliveries.json()["items"][0]),
        to_withdraw: id_of(&submit_ok(app, client, &to_withdraw).await),
        jinping,
        xikou,
    }
}

/// `route` with each `{parameter}` replaced by the object of `town` (or the shared one) that
/// the segment before it names. A route with a parameter no fixture fills fails here.
pub(crate) fn fill(route: &str, town: &TownObjects, shared: &Fixtures) -> String {
    let segments: Vec<&str> = route.split('/').collect();
    let mut filled = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        if !segment.starts_with('{') {
            filled.push(segment.to_string());
            continue;
        }
        let before = segments[i - 1];
        let value = match before {
            "residents" => town.resident.clone(),
            "certificates" => town.certificate.clone(),
            "home-modifications" => town.case.clone(),
            "subsidies" => town.grant.clone(),
            "users" => shared.user.clone(),
            "facilities" => shared.facility.clone(),
            "gdp-growth" => "2024".to_owned(),
            "indicator-definitions" => shared.definition.clone(),
            "subsidy-policies" => shared.policy.clone(),
            "work-queues" => "certificates".to_owned(),
            "indicators" => "medical_insurance_rate".to_owned(),
            "reports" => town.report.clone(),
            "clients" => shared.client.clone(),
            "webhook-deliveries" => shared.delivery.clone(),
            "applications" if route.ends_with("/withdraw") => shared.to_withdraw.clone(),
            "applications" if route.ends_with("/register") => town.to_register.clone(),
            "applications" => town.application.clone(),
            section => town
                .records
                .get(section)
                .unwrap_or_else(|| panic!("no fixture for {segment} after {section} in {route}"))
                .clone(),
        };
        filled.push(value);
    }
    filled.join("/")
}

/// A body the route's handler can read, for the caseworker's calls: the answer is then the town
/// check's (404 out of town), or in town the domain's refusal of a day before the resident's
/// birth (1980), not a refusal of the body. Routes not listed get `{}`.
fn well_formed(method: &str, route: &str) -> Value {
    let day = "1970-01-01";
    let tail = route.rsplit('/').next().unwrap_or_default();
    let after_resident = route
        .strip_prefix("/api/v1/residents/{id}/")
        .unwrap_or_default();
    match (method, route, tail) {
        ("PATCH", "/api/v1/residents/{id}", _) => json!({"address": "溪口镇某路1号"}),
        (_, _, "reveal") => json!({"field": "id_number"}),
        (_, _, "moves") => json!({"town_code": XIWU, "moved_on": day}),
        (_, _, "certificates") => json!({
            "number": "330283198005010012", "category": "physical", "grade": 2, "issued_on": day,
        }),
        (_, _, "renew" | "reissue") => json!({"issued_on": day}),
        (_, _, "reassess") => json!({"category": "physical", "grade": 1, "issued_on": day}),
        (_, r, "cancel") if r.contains("/certificates/") => {
            json!({"reason": "revoked", "cancelled_on": day})
        }
        (_, _, "home-modifications") => json!({"applied_on": day}),
        (_, _, "assess") => json!({"assessed_on": day, "outcome": "eligible"}),
        (_, _, "start") => json!({"started_on": day}),
        (_, _, "complete") => json!({"completed_on": day}),
        (_, _, "cancel") => json!({"cancelled_on": day, "reason": "撤回"}),
        (_, _, "subsidies") => json!({"kind": "nursing", "start_month": "1970-01"}),
        (_, _, "suspend") => json!({"suspended_on": day, "reason": "待核查"}),
        (_, _, "resume") => json!({"resumed_on": day}),
        (_, _, "terminate") => json!({"terminated_on": day, "reason": "不再符合条件"}),
        (_, _, "decision") => json!({"decision": "approve"}),
        (_, _, "void") => json!({"reason": "录入错误"}),
        _ => all_sections()
            .into_iter()
            .find_map(|s| {
                if after_resident == s.route {
                    Some(before_birth(s.record, day))
                } else if after_resident == format!("{}/{{record_id}}", s.route) {
                    Some(s.change)
                } else {
                    None
                }
            })
            .unwrap_or_else(|| json!({})),
    }
}

/// A section record with every day and year moved to `day`, before the resident's birth.
fn before_birth(mut record: Value, day: &str) -> Value {
    for (field, value) in record.as_object_mut().expect("an object") {
        if field.ends_with("_on") {
            *value = json!(day);
        } else if field == "year" {
            *value = json!(day[..4].parse::<i32>().unwrap());
        }
    }
    record
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> Answer {
    let mut req = TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path);
    if matches!(method, "POST" | "PATCH" | "PUT") {
        req = req.set_json(body);
    }
    if method == "PATCH" || path.ends_with("/void") {
        req = req.insert_header((header::IF_MATCH, "\"999\""));
    }
    if let Some(token) = token {
        req = req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")));
    }
    app.send(req).await
}

/// Whether `answer` is what `expected` says; `None` when it is, else what is wrong.
fn mismatch(expected: Cell, answer: &Answer) -> Option<String> {
    let status = answer.status.as_u16();
    let problem = |code: &str| {
        let is_problem = answer.header("content-type") == Some("application/problem+json");
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        (is_problem && body["code"] == code).then_some(())
    };
    let ok = match expected {
        A => ![401, 403, 404, 405].contains(&status),
        F => status == 403 && problem("forbidden").is_some(),
        N => status == 404 && problem("not_found").is_some(),
        U => {
            status == 401
                && problem("unauthorized").is_some()
                && answer.header("www-authenticate") == Some("Bearer")
        }
    };
    (!ok).then(|| {
        let text = answer.text();
        let text: String = text.chars().take(200).collect();
        format!("expected {expected:?}, got {status}: {text}")
    })
}

#[actix_web::test]
async fn every_route_answers_each_caller_as_the_matrix_says() {
    // Every caller signs in more than once (sign-out and password rows): no login limit here.
    let app = spawn_app_with(|c| c.auth.login_rate_limit = 10_000).await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;

    let all = [
        "applications:write",
        "applications:read",
        "certificates:verify",
    ];
    let client = register_client(
        &app,
        &admin,
        "浙里办",
        &all,
        Some("http://127.0.0.1:9/hook"),
    )
    .await;
    let mut lacking = BTreeMap::new();
    for scope in all {
        let rest: Vec<&str> = all.iter().copied().filter(|s| *s != scope).collect();
        let other = register_client(&app, &admin, &format!("无 {scope}"), &rest, None).await;
        lacking.insert(Some(scope), other.token);
    }
    let narrow = register_client(&app, &admin, "核验", &["certificates:verify"], None).await;
    lacking.insert(None, narrow.token);

    let shared = fixtures(&app, &admin, &worker, &client).await;

    let mut wrong = Vec::new();
    for (method, route, scope, cells) in MATRIX {
        // Signing out and changing the password use a second session of the staff caller.
        let second_session = matches!(*route, "/api/v1/auth/logout" | "/api/v1/me/password");
        // Right to left: the refused and out-of-town calls before the admitted ones.
        for column in (0..CALLERS.len()).rev() {
            let (token, town, body) = match column {
                0 => (Some(admin.access_token.clone()), &shared.jinping, json!({})),
                1 => (
                    Some(worker.access_token.clone()),
                    &shared.jinping,
                    well_formed(method, route),
                ),
                2 => (
                    Some(worker.access_token.clone()),
                    &shared.xikou,
                    well_formed(method, route),
                ),
                3 => (
                    Some(auditor.access_token.clone()),
                    &shared.jinping,
                    json!({}),
                ),
                4 => (Some(client.token.clone()), &shared.jinping, json!({})),
                5 => (Some(lacking[scope].clone()), &shared.jinping, json!({})),
                _ => (None, &shared.jinping, json!({})),
            };
            let token = match (second_session, column) {
                (true, 0..=3) => {
                    let who = [&admin, &worker, &worker, &auditor][column];
                    let signed_in = app.login(&who.username, PASSWORD).await;
                    Some(
                        signed_in.json()["access_token"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    )
                }
                _ => token,
            };
            let path = fill(route, town, &shared);
            let answer = call(&app, method, &path, &body, token.as_deref()).await;
            if let Some(what) = mismatch(cells[column], &answer) {
                wrong.push(format!("{method} {route} as {}: {what}", CALLERS[column]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells of the matrix answered otherwise:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The main sessions are still live: no call ended one.
    for who in [&admin, &worker, &auditor] {
        assert_eq!(app.get_as(who, "/api/v1/me").await.status, 200);
    }
}

/// A user row with the role `integration`, written directly (the users API refuses to make
/// one): clients authenticate with client credentials, so such an account gets nowhere.
async fn integration_user_session(app: &TestApp) -> Option<Session> {
    let hash = fenghua_registry::auth::password::hash(PASSWORD);
    db::run(&app.state.pool, move |conn| {
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        diesel::insert_into(users::table)
            .values((
                users::public_id.eq(&public_id),
                users::username.eq("zheliban"),
                users::role.eq("integration"),
                users::password_hash.eq(&hash),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
    .await
    .unwrap();
    let answer = app.login("zheliban", PASSWORD).await;
    (answer.status == 200).then(|| {
        let body = answer.json();
        Session {
            user_id: String::new(),
            username: "zheliban".into(),
            access_token: body["access_token"].as_str().unwrap().into(),
            refresh_token: body["refresh_token"].as_str().unwrap().into(),
        }
    })
}

#[actix_web::test]
async fn a_user_row_with_the_integration_role_gets_nowhere() {
    let app = spawn_app().await;
    if let Some(session) = integration_user_session(&app).await {
        for path in ["/api/v1/me", "/api/v1/applications", "/api/v1/codes"] {
            app.get_as(&session, path)
                .await
                .problem(401, "invalid_token");
        }
    }
}

#[actix_web::test]
async fn a_refused_call_is_audited() {
    let app = spawn_app().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    app.get_as(&worker, "/api/v1/users")
        .await
        .problem(403, "forbidden");
    let events = app.audit_events().await;
    let denied = events
        .iter()
        .find(|e| e.action == "access_denied")
        .expect("the refusal is audited");
    assert_eq!(denied.actor_username.as_deref(), Some("worker"));
    assert_eq!(denied.outcome, "denied");
    assert!(denied.changes.as_deref().unwrap().contains("/api/v1/users"));
}
