//! The HTTP API: every route the service answers, in one table.
//!
//! [`endpoints`] is the single list of (method, path, handler). The app is built from it and the
//! contract test compares it with `openapi.yaml`, so the two cannot drift.

pub mod extract;
mod health;
mod openapi;
mod reference;

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder, Route};

use crate::error::AppError;

pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: Route,
}

fn endpoint<F, Args>(method: Method, path: &'static str, handler: F) -> Endpoint
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Endpoint {
        route: web::route().method(method.clone()).to(handler),
        method,
        path,
    }
}

/// Every route of the service.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        endpoint(M::GET, "/healthz", health::healthz),
        endpoint(M::GET, "/readyz", health::readyz),
        endpoint(M::GET, "/metrics", health::metrics),
        endpoint(M::GET, "/api/v1/openapi.yaml", openapi::spec),
        endpoint(M::GET, "/api/v1/areas", reference::areas),
        endpoint(M::GET, "/api/v1/codes", reference::codes),
    ]
}

/// Registers every endpoint. Paths are grouped into one resource each, so a known path with an
/// unsupported method answers 405 with `Allow`, and static segments are registered before
/// `{parameters}` so `/residents/lookup` is not taken for a resident id.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: BTreeMap<Vec<(bool, &'static str)>, (&'static str, Vec<Endpoint>)> =
        BTreeMap::new();
    for e in endpoints() {
        let key = e
            .path
            .split('/')
            .map(|segment| (segment.starts_with('{'), segment))
            .collect();
        by_path
            .entry(key)
            .or_insert_with(|| (e.path, Vec::new()))
            .1
            .push(e);
    }
    for (_, (path, endpoints)) in by_path {
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

pub async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
