//! The HTTP API: every route the service answers, in one table.
//!
//! [`endpoints`] is the single list of (method, path, access rule, handler). The app is built
//! from it, the authorization middleware enforces its access rules, and the contract test
//! compares it with `openapi.yaml`, so none of them can drift.

mod applications;
mod asker;
mod audit;
mod auth;
mod certificates;
mod clients;
pub mod concurrency;
mod corrections;
mod district;
pub mod extract;
mod health;
mod home_modifications;
mod indicators;
mod openapi;
pub mod paging;
mod reference;
mod reporting;
mod reports;
pub mod residents;
mod sections;
mod subsidies;
mod users;
mod work_queues;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder, Route};

use crate::auth::rate_limit::Expensive;
use crate::domain::role::Access;
use crate::error::AppError;

pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// The allowance per principal an expensive route spends (429 when it is used up).
    pub expensive: Option<Expensive>,
    route: Route,
}

impl Endpoint {
    /// Marks the route as expensive: each call spends the caller's allowance of `kind`.
    fn expensive(self, kind: Expensive) -> Self {
        Endpoint {
            expensive: Some(kind),
            ..self
        }
    }
}

fn endpoint<F, Args>(method: Method, path: &'static str, access: Access, handler: F) -> Endpoint
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Endpoint {
        route: web::route().method(method.clone()).to(handler),
        method,
        path,
        access,
        expensive: None,
    }
}

/// Every route of the service with who may call it.
#[rustfmt::skip]
pub fn endpoints() -> Vec<Endpoint> {
    use Access::Public;
    use Method as M;
    const ANY: Access = Access::ANY_ROLE;
    const ADMIN: Access = Access::ADMIN;
    const STAFF: Access = Access::STAFF;
    const OVERSIGHT: Access = Access::OVERSIGHT;
    const READERS: Access = Access::FILE_READERS;
    const WRITERS: Access = Access::FILE_WRITERS;
    const REFERENCE: Access = Access::REFERENCE;
    use crate::domain::role::{ClientScope as S, Role as R};
    const CLIENT_WRITE: Access = Access::Clients { scope: Some(S::ApplicationsWrite), staff: &[] };
    const CLIENT_READ: Access = Access::Clients { scope: Some(S::ApplicationsRead), staff: &[] };
    const SUBMIT: Access = Access::Clients { scope: Some(S::ApplicationsWrite), staff: &[R::Admin, R::Caseworker] };
    const APPLICATION_READERS: Access = Access::Clients { scope: Some(S::ApplicationsRead), staff: &[R::Admin, R::Caseworker, R::Auditor] };
    const VERIFIERS: Access = Access::Clients { scope: Some(S::CertificatesVerify), staff: &[R::Admin, R::Caseworker, R::Auditor] };
    use crate::use_cases::sections::kinds::*;
    use Expensive::{Import, Report, Search};
    vec![
        endpoint(M::GET,   "/healthz", Public, health::healthz),
        endpoint(M::GET,   "/readyz", Public, health::readyz),
        endpoint(M::GET,   "/metrics", Public, health::metrics),
        endpoint(M::GET,   "/api/v1/openapi.yaml", Public, openapi::spec),
        endpoint(M::GET,   "/api/v1/areas", REFERENCE, reference::areas),
        endpoint(M::POST,  "/api/v1/areas", ADMIN, reference::create_village),
        endpoint(M::GET,   "/api/v1/codes", REFERENCE, reference::codes),
        endpoint(M::POST,  "/api/v1/auth/login", Public, auth::login),
        endpoint(M::POST,  "/api/v1/auth/refresh", Public, auth::refresh),
        endpoint(M::POST,  "/api/v1/auth/logout", ANY, auth::logout),
        endpoint(M::POST,  "/api/v1/auth/token", Public, clients::token),
        endpoint(M::GET,   "/api/v1/me", ANY, users::me),
        endpoint(M::POST,  "/api/v1/me/password", STAFF, users::change_password),
        endpoint(M::GET,   "/api/v1/users", ADMIN, users::list),
        endpoint(M::POST,  "/api/v1/users", ADMIN, users::create),
        endpoint(M::GET,   "/api/v1/users/{id}", ADMIN, users::get),
        endpoint(M::PATCH, "/api/v1/users/{id}", ADMIN, users::update),
        endpoint(M::GET,   "/api/v1/audit-events", OVERSIGHT, audit::list),
        endpoint(M::GET,   "/api/v1/audit-events/verify", OVERSIGHT, audit::verify).expensive(Report),
        endpoint(M::GET,   "/api/v1/audit-events/export", OVERSIGHT, audit::export).expensive(Report),
        endpoint(M::POST,  "/api/v1/residents", WRITERS, residents::create),
        endpoint(M::GET,   "/api/v1/residents", READERS, residents::list).expensive(Search),
        endpoint(M::POST,  "/api/v1/residents/lookup", READERS, residents::lookup).expensive(Search),
        endpoint(M::GET,   "/api/v1/residents/{id}", READERS, residents::get),
        endpoint(M::PATCH, "/api/v1/residents/{id}", WRITERS, residents::update),
        endpoint(M::GET,   "/api/v1/residents/{id}/file", READERS, residents::file),
        endpoint(M::GET,   "/api/v1/residents/{id}/history", READERS, residents::history),
        endpoint(M::POST,  "/api/v1/residents/{id}/reveal", WRITERS, residents::reveal),
        endpoint(M::POST,  "/api/v1/residents/{id}/moves", WRITERS, residents::record_move),
        endpoint(M::POST,  "/api/v1/residents/{id}/certificates", WRITERS, certificates::issue),
        endpoint(M::POST,  "/api/v1/residents/{id}/certificates/{certificate_id}/renew", WRITERS, certificates::renew),
        endpoint(M::POST,  "/api/v1/residents/{id}/certificates/{certificate_id}/reissue", WRITERS, certificates::reissue),
        endpoint(M::POST,  "/api/v1/residents/{id}/certificates/{certificate_id}/reassess", WRITERS, certificates::reassess),
        endpoint(M::POST,  "/api/v1/residents/{id}/certificates/{certificate_id}/cancel", WRITERS, certificates::cancel),
        endpoint(M::POST,  "/api/v1/imports/residents", WRITERS, residents::import_residents).expensive(Import),
        endpoint(M::GET,   "/api/v1/imports/residents/template", WRITERS, residents::import_template),
        endpoint(M::POST,  "/api/v1/imports/areas", ADMIN, reference::import_villages).expensive(Import),
        endpoint(M::GET,   "/api/v1/facilities", STAFF, district::facilities),
        endpoint(M::POST,  "/api/v1/facilities", ADMIN, district::create_facility),
        endpoint(M::PATCH, "/api/v1/facilities/{id}", ADMIN, district::update_facility),
        endpoint(M::GET,   "/api/v1/gdp-growth", STAFF, district::gdp_growth),
        endpoint(M::PUT,   "/api/v1/gdp-growth/{year}", ADMIN, district::set_gdp_growth),
        endpoint(M::POST,  "/api/v1/residents/{id}/home-modifications", WRITERS, home_modifications::apply),
        endpoint(M::POST,  "/api/v1/residents/{id}/home-modifications/{case_id}/assess", WRITERS, home_modifications::assess),
        endpoint(M::POST,  "/api/v1/residents/{id}/home-modifications/{case_id}/start", WRITERS, home_modifications::start),
        endpoint(M::POST,  "/api/v1/residents/{id}/home-modifications/{case_id}/complete", WRITERS, home_modifications::complete),
        endpoint(M::POST,  "/api/v1/residents/{id}/home-modifications/{case_id}/cancel", WRITERS, home_modifications::cancel),
        endpoint(M::POST,  "/api/v1/residents/{id}/home-modifications/{case_id}/void", WRITERS, home_modifications::void),
        endpoint(M::GET,   "/api/v1/indicator-definitions", STAFF, indicators::definitions),
        endpoint(M::POST,  "/api/v1/indicator-definitions", ADMIN, indicators::publish),
        endpoint(M::POST,  "/api/v1/indicator-definitions/{id}/withdraw", ADMIN, indicators::withdraw),
        endpoint(M::GET,   "/api/v1/indicators", STAFF, indicators::report).expensive(Report),
        endpoint(M::GET,   "/api/v1/indicators/{code}", STAFF, indicators::one).expensive(Report),
        endpoint(M::GET,   "/api/v1/indicators/{code}/gaps", STAFF, indicators::gaps).expensive(Report),
        endpoint(M::GET,   "/api/v1/subsidies/reconciliation", STAFF, indicators::reconciliation).expensive(Report),
        endpoint(M::POST,  "/api/v1/reports", STAFF, reports::take).expensive(Report),
        endpoint(M::GET,   "/api/v1/reports", STAFF, reports::list),
        endpoint(M::GET,   "/api/v1/reports/{id}", STAFF, reports::get),
        endpoint(M::GET,   "/api/v1/reports/{id}/verify", STAFF, reports::verify),
        endpoint(M::GET,   "/api/v1/subsidy-policies", OVERSIGHT, subsidies::policies),
        endpoint(M::POST,  "/api/v1/subsidy-policies", ADMIN, subsidies::create_policy),
        endpoint(M::POST,  "/api/v1/subsidy-policies/{id}/withdraw", ADMIN, subsidies::withdraw_policy),
        endpoint(M::GET,   "/api/v1/residents/{id}/eligibility", READERS, subsidies::eligibility),
        endpoint(M::POST,  "/api/v1/residents/{id}/subsidies", WRITERS, subsidies::grant),
        endpoint(M::POST,  "/api/v1/residents/{id}/subsidies/{grant_id}/suspend", WRITERS, subsidies::suspend),
        endpoint(M::POST,  "/api/v1/residents/{id}/subsidies/{grant_id}/resume", WRITERS, subsidies::resume),
        endpoint(M::POST,  "/api/v1/residents/{id}/subsidies/{grant_id}/terminate", WRITERS, subsidies::terminate),
        endpoint(M::POST,  "/api/v1/residents/{id}/subsidies/{grant_id}/void", WRITERS, subsidies::void),
        endpoint(M::POST,  "/api/v1/residents/{id}/rehab-needs", WRITERS, sections::create::<RehabNeed>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/rehab-needs/{record_id}", WRITERS, sections::update::<RehabNeed>),
        endpoint(M::POST,  "/api/v1/residents/{id}/rehab-needs/{record_id}/void", WRITERS, sections::void::<RehabNeed>),
        endpoint(M::POST,  "/api/v1/residents/{id}/rehab-services", WRITERS, sections::create::<RehabService>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/rehab-services/{record_id}", WRITERS, sections::update::<RehabService>),
        endpoint(M::POST,  "/api/v1/residents/{id}/rehab-services/{record_id}/void", WRITERS, sections::void::<RehabService>),
        endpoint(M::POST,  "/api/v1/residents/{id}/assistive-devices", WRITERS, sections::create::<AssistiveDevice>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/assistive-devices/{record_id}", WRITERS, sections::update::<AssistiveDevice>),
        endpoint(M::POST,  "/api/v1/residents/{id}/assistive-devices/{record_id}/void", WRITERS, sections::void::<AssistiveDevice>),
        endpoint(M::POST,  "/api/v1/residents/{id}/employment", WRITERS, sections::create::<Employment>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/employment/{record_id}", WRITERS, sections::update::<Employment>),
        endpoint(M::POST,  "/api/v1/residents/{id}/employment/{record_id}/void", WRITERS, sections::void::<Employment>),
        endpoint(M::POST,  "/api/v1/residents/{id}/trainings", WRITERS, sections::create::<Training>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/trainings/{record_id}", WRITERS, sections::update::<Training>),
        endpoint(M::POST,  "/api/v1/residents/{id}/trainings/{record_id}/void", WRITERS, sections::void::<Training>),
        endpoint(M::POST,  "/api/v1/residents/{id}/education", WRITERS, sections::create::<Education>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/education/{record_id}", WRITERS, sections::update::<Education>),
        endpoint(M::POST,  "/api/v1/residents/{id}/education/{record_id}/void", WRITERS, sections::void::<Education>),
        endpoint(M::POST,  "/api/v1/residents/{id}/insurance", WRITERS, sections::create::<Insurance>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/insurance/{record_id}", WRITERS, sections::update::<Insurance>),
        endpoint(M::POST,  "/api/v1/residents/{id}/insurance/{record_id}/void", WRITERS, sections::void::<Insurance>),
        endpoint(M::POST,  "/api/v1/residents/{id}/culture-services", WRITERS, sections::create::<CultureService>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/culture-services/{record_id}", WRITERS, sections::update::<CultureService>),
        endpoint(M::POST,  "/api/v1/residents/{id}/culture-services/{record_id}/void", WRITERS, sections::void::<CultureService>),
        endpoint(M::POST,  "/api/v1/residents/{id}/incomes", WRITERS, sections::create::<Income>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/incomes/{record_id}", WRITERS, sections::update::<Income>),
        endpoint(M::POST,  "/api/v1/residents/{id}/incomes/{record_id}/void", WRITERS, sections::void::<Income>),
        endpoint(M::POST,  "/api/v1/residents/{id}/other-benefits", WRITERS, sections::create::<OtherBenefit>),
        endpoint(M::PATCH, "/api/v1/residents/{id}/other-benefits/{record_id}", WRITERS, sections::update::<OtherBenefit>),
        endpoint(M::POST,  "/api/v1/residents/{id}/other-benefits/{record_id}/void", WRITERS, sections::void::<OtherBenefit>),
        endpoint(M::GET,   "/api/v1/clients", ADMIN, clients::list),
        endpoint(M::POST,  "/api/v1/clients", ADMIN, clients::create),
        endpoint(M::GET,   "/api/v1/clients/{id}", ADMIN, clients::get),
        endpoint(M::POST,  "/api/v1/clients/{id}/rotate-secret", ADMIN, clients::rotate_secret),
        endpoint(M::POST,  "/api/v1/clients/{id}/disable", ADMIN, clients::disable),
        endpoint(M::POST,  "/api/v1/clients/{id}/enable", ADMIN, clients::enable),
        endpoint(M::PUT,   "/api/v1/clients/{id}/webhook", ADMIN, clients::set_webhook),
        endpoint(M::GET,   "/api/v1/webhook-deliveries", ADMIN, clients::deliveries),
        endpoint(M::GET,   "/api/v1/webhook-deliveries/{id}", ADMIN, clients::delivery),
        endpoint(M::POST,  "/api/v1/webhook-deliveries/{id}/replay", ADMIN, clients::replay),
        endpoint(M::POST,  "/api/v1/applications", SUBMIT, applications::create),
        endpoint(M::GET,   "/api/v1/applications", APPLICATION_READERS, applications::list),
        endpoint(M::GET,   "/api/v1/applications/{id}", APPLICATION_READERS, applications::get),
        endpoint(M::POST,  "/api/v1/applications/{id}/decision", WRITERS, applications::decide),
        endpoint(M::POST,  "/api/v1/applications/{id}/register", WRITERS, applications::register),
        endpoint(M::POST,  "/api/v1/applications/{id}/withdraw", CLIENT_WRITE, applications::withdraw),
        endpoint(M::GET,   "/api/v1/application-events", CLIENT_READ, applications::events),
        endpoint(M::POST,  "/api/v1/certificates/verify", VERIFIERS, applications::verify_certificate),
        endpoint(M::GET,   "/api/v1/work-queues/{queue}", WRITERS, work_queues::list).expensive(Report),
    ]
}

/// Registers every endpoint. Paths are grouped into one resource each, so a known path with an
/// unsupported method answers 405 with `Allow`, and static segments are registered before
/// `{parameters}` so `/residents/lookup` is not taken for a resident id.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut all = endpoints();
    all.sort_by_key(|e| registration_order(e.path));
    let mut resources: Vec<(&'static str, Vec<Endpoint>)> = Vec::new();
    for e in all {
        match resources.last_mut() {
            Some((path, group)) if *path == e.path => group.push(e),
            _ => resources.push((e.path, vec![e])),
        }
    }
    for (path, endpoints) in resources {
        let allow: Vec<String> = endpoints.iter().map(|e| e.method.to_string()).collect();
        let mut resource = web::resource(path);
        for e in endpoints {
            resource = resource.route(e.route);
        }
        cfg.service(resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<actix_web::HttpResponse, _>(AppError::MethodNotAllowed { allow }) }
        })));
    }
}

/// Sorts paths segment by segment, a static segment before a `{parameter}`.
fn registration_order(path: &str) -> Vec<(bool, &str)> {
    path.split('/')
        .map(|segment| (segment.starts_with('{'), segment))
        .collect()
}

/// The metrics route and the marker of its own listener, which `startup` mounts apart.
pub use health::{metrics, MetricsListener};

pub async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
