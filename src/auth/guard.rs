//! The one place where requests are authenticated and authorized by function.
//!
//! Every endpoint declares its [`Access`] in the route table; the [`authorize`] middleware looks
//! the matched route up, checks the bearer token and the live session behind it, checks the
//! role, and leaves a [`Caller`] in the request for the handler. Object-level checks (a
//! caseworker's towns) use [`Caller::scope`] in the domain code and answer 404.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

pub use super::caller::Caller;
use super::rate_limit::Expensive;
use crate::audit::{self, Action, Actor, AuditContext, Event, Outcome};
use crate::db::{self, sessions as store, users};
use crate::domain::role::{Access, Role};
use crate::error::AppError;
use crate::http::client_address::TrustedProxies;
use crate::http::observe::RequestId;
use crate::state::AppState;
use crate::use_cases::integration::clients::ClientCaller;

/// The access rule of every (method, route pattern), and the allowance it spends if it is
/// expensive.
#[derive(Debug, Default)]
pub struct RoutePolicies(HashMap<(Method, String), (Access, Option<Expensive>)>);

impl RoutePolicies {
    pub fn new(
        rules: impl IntoIterator<Item = (Method, &'static str, Access, Option<Expensive>)>,
    ) -> Self {
        RoutePolicies(
            rules
                .into_iter()
                .map(|(method, path, access, expensive)| {
                    ((method, path.to_owned()), (access, expensive))
                })
                .collect(),
        )
    }

    fn lookup(&self, method: &Method, pattern: String) -> Option<(Access, Option<Expensive>)> {
        self.0.get(&(method.clone(), pattern)).copied()
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            AppError::internal("a handler asked for the caller on a route without an access rule")
        }))
    }
}

impl FromRequest for ClientCaller {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<ClientCaller>()
                .cloned()
                .ok_or_else(|| AppError::forbidden("only integration clients use this route")),
        )
    }
}

/// The caller of a route open to staff and to integration clients.
#[derive(Debug, Clone)]
pub enum Principal {
    Staff(Caller),
    Client(ClientCaller),
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        let found = match (extensions.get::<Caller>(), extensions.get::<ClientCaller>()) {
            (Some(caller), _) => Ok(Principal::Staff(caller.clone())),
            (None, Some(client)) => Ok(Principal::Client(client.clone())),
            (None, None) => Err(AppError::internal(
                "a handler asked for the caller on a route without an access rule",
            )),
        };
        ready(found)
    }
}

/// The request's audit context: the caller (if any), the request id and the client address.
#[derive(Debug, Clone)]
pub struct RequestContext(pub AuditContext);

impl FromRequest for RequestContext {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(RequestContext(audit_context(req))))
    }
}

fn audit_context(req: &HttpRequest) -> AuditContext {
    let state = req.app_data::<web::Data<AppState>>();
    AuditContext {
        actor: {
            let extensions = req.extensions();
            match (extensions.get::<Caller>(), extensions.get::<ClientCaller>()) {
                (Some(caller), _) => caller.actor(),
                (None, Some(client)) => client.actor(),
                (None, None) => Actor::default(),
            }
        },
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        client_address: client_address(
            req,
            state.map_or(&TrustedProxies::default(), |s| &s.auth.trusted_proxies),
        ),
    }
}

/// The client's IP address: the peer, or behind a trusted proxy the rightmost
/// `X-Forwarded-For` hop that is not one (see [`TrustedProxies::client_address`]).
pub fn client_address(req: &HttpRequest, trusted: &TrustedProxies) -> Option<String> {
    let forwarded_for = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    trusted
        .client_address(req.peer_addr().map(|a| a.ip()), forwarded_for)
        .map(|ip| ip.to_string())
}

fn bearer_token(req: &ServiceRequest) -> Result<String, AppError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        AppError::unauthorized(
            "unauthorized",
            "send an access token: Authorization: Bearer <token>",
        )
    })?;
    let value = value.to_str().map_err(|_| {
        AppError::unauthorized("invalid_token", "the Authorization header is not readable")
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(AppError::unauthorized(
            "invalid_token",
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}

fn invalid_token() -> AppError {
    AppError::unauthorized(
        "invalid_token",
        "the access token is invalid, expired or revoked",
    )
}

/// Finds the caller behind a valid token, with when its session expires: its session must be
/// live and its user enabled.
fn load_caller(
    conn: &mut db::DbConn,
    sub: &str,
    sid: &str,
) -> Result<Option<(Caller, chrono::NaiveDateTime)>, AppError> {
    let Some((session, user)) = store::live_with_user(conn, sid, db::now())? else {
        return Ok(None);
    };
    // Integration clients authenticate with client credentials, never as users.
    let Some(role) = Role::parse(&user.role).filter(|r| *r != Role::Integration) else {
        return Ok(None);
    };
    if user.public_id != sub || user.disabled {
        return Ok(None);
    }
    let towns = if role == Role::Caseworker {
        users::towns(conn, user.id)?
    } else {
        Vec::new()
    };
    let caller = Caller {
        user_id: user.id,
        public_id: user.public_id,
        username: user.username,
        role,
        towns,
        session_id: session.id,
        session_public_id: session.public_id,
    };
    Ok(Some((caller, session.expires_at)))
}

/// The caller behind a valid token: remembered from a recent request of the same session
/// ([`SessionCache`](super::session_cache::SessionCache)), or looked up.
async fn find_caller(state: &AppState, sub: String, sid: String) -> Result<Caller, AppError> {
    let cache = &state.auth.sessions;
    if let Some(caller) = cache.get(&sid, &sub, db::now()) {
        return Ok(caller);
    }
    let stamp = cache.stamp();
    let (caller, expires_at) = db::run(&state.pool, move |conn| load_caller(conn, &sub, &sid))
        .await?
        .ok_or_else(invalid_token)?;
    cache.remember(stamp, &caller, expires_at);
    Ok(caller)
}

async fn authenticate(req: &ServiceRequest, access: Access) -> Result<(), AppError> {
    if access == Access::Public {
        return Ok(());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let token = bearer_token(req)?;
    if let Ok(claims) = state.auth.keys.validate(&token) {
        let caller = find_caller(&state, claims.sub, claims.sid).await?;
        if !access.admits(caller.role) {
            let refusal = format!("the {} role may not use this route", caller.role.as_str());
            return Err(deny(req, &state, caller.actor(), refusal).await);
        }
        req.extensions_mut().insert(caller);
        return Ok(());
    }
    let claims = state
        .auth
        .keys
        .validate_client(&token)
        .map_err(|_| invalid_token())?;
    let client = db::run(&state.pool, move |conn| {
        crate::use_cases::integration::clients::load_caller(conn, &claims)
    })
    .await?
    .ok_or_else(invalid_token)?;
    if !access.admits_client(&client.scopes) {
        let refusal = match access {
            Access::Clients {
                scope: Some(scope), ..
            } => format!("the client's token lacks the scope {}", scope.as_str()),
            _ => "integration clients may not use this route".to_owned(),
        };
        return Err(deny(req, &state, client.actor(), refusal).await);
    }
    req.extensions_mut().insert(client);
    Ok(())
}

/// Audits a refused call and answers 403.
async fn deny(req: &ServiceRequest, state: &AppState, actor: Actor, refusal: String) -> AppError {
    let mut ctx = audit_context(req.request());
    ctx.actor = actor;
    let event = Event::new(Action::AccessDenied)
        .outcome(Outcome::Denied)
        .changes(serde_json::json!({
            "method": req.method().as_str(),
            "route": req.match_pattern().unwrap_or_default(),
        }));
    let logged = db::run(&state.pool, move |conn| {
        Ok(audit::append_alone(conn, &ctx, event)?)
    })
    .await;
    match logged {
        Ok(_) => AppError::forbidden(refusal),
        Err(e) => e,
    }
}

/// Spends one call of the authenticated principal's allowance of `kind`: 429 with
/// `Retry-After` when it is used up. Checked before the body is read, so a refused import
/// costs its client nothing but the headers.
fn spend_allowance(req: &ServiceRequest, kind: Expensive) -> Result<(), AppError> {
    let principal = {
        let extensions = req.extensions();
        match (extensions.get::<Caller>(), extensions.get::<ClientCaller>()) {
            (Some(caller), _) => format!("user:{}", caller.public_id),
            (None, Some(client)) => format!("client:{}", client.client_id),
            (None, None) => return Ok(()),
        }
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    state
        .auth
        .route_limits
        .check(kind, &principal, std::time::Instant::now())
        .map_err(|retry_after_secs| {
            tracing::info!(%principal, ?kind, retry_after_secs, "rate limited");
            AppError::TooManyRequests { retry_after_secs }
        })
}

/// Applies the route's access rule. Routes without a rule (unknown paths, wrong methods) pass
/// through to their 404/405 answers.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let rule = match (
        req.app_data::<web::Data<Arc<RoutePolicies>>>(),
        crate::http::observe::route_pattern(&req),
    ) {
        (Some(policies), Some(pattern)) => policies.lookup(req.method(), pattern),
        _ => None,
    };
    if let Some((access, expensive)) = rule {
        let admitted = match authenticate(&req, access).await {
            Ok(()) => expensive.map_or(Ok(()), |kind| spend_allowance(&req, kind)),
            Err(error) => Err(error),
        };
        if let Err(error) = admitted {
            return Ok(req.error_response(error).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
