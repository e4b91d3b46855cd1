//! The Zheliban integration (DESIGN §7): integration clients with client credentials,
//! applications with idempotent submission, decisions with their effects on the file, signed
//! webhooks from a durable outbox, and certificate verification.

pub mod applications;
pub mod clients;
pub mod idempotency;
pub mod model;
pub mod outbox;
pub mod verify;
pub mod worker;

use std::sync::RwLock;
use std::time::Duration;

use crate::auth::rate_limit::RateLimiter;

/// What the integration keeps in memory per instance.
pub struct Integration {
    /// Certificate verifications per caller (a client, or a staff user) and minute. Replaceable,
    /// so tests can lower it.
    pub verify_limiter: RwLock<RateLimiter>,
}

impl Integration {
    /// `VERIFY_RATE_LIMIT` verifications a minute per caller (default 120).
    pub fn from_env() -> Self {
        let per_minute = std::env::var("VERIFY_RATE_LIMIT")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(120);
        Integration {
            verify_limiter: RwLock::new(RateLimiter::new(per_minute, Duration::from_secs(60))),
        }
    }
}
