//! What authentication needs, built once at start ([`AuthSettings`]): token keys, the login
//! policy, the rate limits and the logs of what they refused.

use std::sync::Arc;
use std::time::Instant;

use super::rate_limit::{RateLimiter, RouteLimits};
use super::refusals::RefusalLog;
use super::session_cache::SessionCache;
use super::sessions::LoginPolicy;
use super::token::TokenKeys;
use crate::db::{self, Pool};
use crate::error::AppError;
use crate::http::client_address::TrustedProxies;
use crate::secrets::Secret;

/// Everything authentication needs, built once at start.
pub struct AuthSettings {
    pub keys: TokenKeys,
    pub login: LoginPolicy,
    pub login_limiter: RateLimiter,
    /// Rate-limited logins: one audit event per client address and window, with the count.
    pub login_refusals: RefusalLog,
    /// ID-number probes per user: lookups by ID number, and answers that an ID number has a
    /// file in a town the caller does not work in (registration, import).
    pub id_probes: RateLimiter,
    /// Probes refused over that allowance: one audit event per user and window.
    pub id_probe_refusals: RefusalLog,
    /// The allowances of the expensive routes per principal.
    pub route_limits: RouteLimits,
    /// `METRICS_TOKEN`: when set, `/metrics` answers only with it as a bearer token.
    pub metrics_token: Option<Secret>,
    /// `TRUSTED_PROXIES`: whose `X-Forwarded-For` hops name the client.
    pub trusted_proxies: TrustedProxies,
    /// The callers behind recent sessions (`SESSION_CACHE_SECS`).
    pub sessions: SessionCache,
}

/// Writes the counts of the service's refusal logs (rate-limited logins, ID-number probes over
/// the allowance) whose window has ended, or of every open window with `all` (at shutdown).
/// Touches the database only when there is something to write.
pub async fn flush_refusals(
    auth: &Arc<AuthSettings>,
    pool: &Pool,
    all: bool,
) -> Result<(), AppError> {
    let now = Instant::now();
    if !all && !auth.login_refusals.has_due(now) && !auth.id_probe_refusals.has_due(now) {
        return Ok(());
    }
    let auth = auth.clone();
    db::run(pool, move |conn| {
        auth.login_refusals.flush(conn, now, all)?;
        auth.id_probe_refusals.flush(conn, now, all)?;
        Ok(())
    })
    .await
}
