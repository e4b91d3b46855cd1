//! Per-key rate limits held in memory: logins per client address and ID-number probes per user
//! (a sliding window), and the expensive routes per principal (a token bucket).
//!
//! Each instance counts on its own; behind a load balancer the effective limit is the sum over
//! instances, and the per-account lockout (kept in the database) still holds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked keys, the ones back at a fresh allowance are dropped on the next call.
const MAX_TRACKED: usize = 10_000;

/// At most `max` in `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
}

/// What a limiter remembers of one key, and how it admits.
pub trait Allowance: Default + Send {
    /// Counts one use at `now`, or tells how long until one is admitted.
    fn take(&mut self, limit: Limit, now: Instant) -> Result<(), Duration>;
    /// How many uses would be admitted at `now`, counting none.
    fn left(&self, limit: Limit, now: Instant) -> usize;
    /// How long until one use is admitted (zero when one is).
    fn wait(&self, limit: Limit, now: Instant) -> Duration;
}

/// At most `max` uses in any `window`: the login limit and the ID-number probes, where a
/// burst after a quiet window must not add to the window's allowance.
#[derive(Debug, Default)]
pub struct SlidingWindow(VecDeque<Instant>);

impl SlidingWindow {
    fn in_window(&self, limit: Limit, now: Instant) -> impl Iterator<Item = &Instant> {
        self.0
            .iter()
            .filter(move |t| now.duration_since(**t) < limit.window)
    }
}

impl Allowance for SlidingWindow {
    fn take(&mut self, limit: Limit, now: Instant) -> Result<(), Duration> {
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limit.window)
        {
            self.0.pop_front();
        }
        if self.0.len() >= limit.max {
            return Err(self.wait(limit, now));
        }
        self.0.push_back(now);
        Ok(())
    }

    fn left(&self, limit: Limit, now: Instant) -> usize {
        limit.max.saturating_sub(self.in_window(limit, now).count())
    }

    fn wait(&self, limit: Limit, now: Instant) -> Duration {
        if self.left(limit, now) > 0 {
            return Duration::ZERO;
        }
        self.in_window(limit, now)
            .next()
            .map_or(Duration::ZERO, |oldest| {
                limit.window.saturating_sub(now.duration_since(*oldest))
            })
    }
}

/// A bucket of `max` tokens, refilled at `max` per `window`: a burst of `max`, then a steady
/// `max` per window. For the expensive routes, where a client that pauses may catch up.
#[derive(Debug, Default)]
pub struct TokenBucket {
    /// Tokens taken and not yet refilled, as of `at`; none taken when `at` is `None`.
    spent: f64,
    at: Option<Instant>,
}

impl TokenBucket {
    fn per_second(limit: Limit) -> f64 {
        limit.max as f64 / limit.window.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Tokens still spent at `now`.
    fn spent_at(&self, limit: Limit, now: Instant) -> f64 {
        match self.at {
            None => 0.0,
            Some(at) => {
                let refilled =
                    now.saturating_duration_since(at).as_secs_f64() * Self::per_second(limit);
                (self.spent - refilled).max(0.0)
            }
        }
    }
}

impl Allowance for TokenBucket {
    fn take(&mut self, limit: Limit, now: Instant) -> Result<(), Duration> {
        let spent = self.spent_at(limit, now);
        if spent + 1.0 > limit.max as f64 {
            return Err(self.wait(limit, now));
        }
        self.spent = spent + 1.0;
        self.at = Some(now);
        Ok(())
    }

    fn left(&self, limit: Limit, now: Instant) -> usize {
        (limit.max as f64 - self.spent_at(limit, now))
            .floor()
            .max(0.0) as usize
    }

    fn wait(&self, limit: Limit, now: Instant) -> Duration {
        let missing = self.spent_at(limit, now) + 1.0 - limit.max as f64;
        if missing <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(missing / Self::per_second(limit))
    }
}

/// A limit per key (a client address, a user, a principal).
pub struct Limiter<A> {
    limit: Limit,
    keys: Mutex<HashMap<String, A>>,
}

/// Logins per address, ID-number probes per user.
pub type RateLimiter = Limiter<SlidingWindow>;

/// The expensive routes per principal.
pub type BucketLimiter = Limiter<TokenBucket>;

/// Whole seconds to wait, rounded up, 1 at least (`Retry-After`).
fn seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl<A: Allowance> Limiter<A> {
    pub fn new(max_attempts: usize, window: Duration) -> Self {
        Limiter {
            limit: Limit {
                max: max_attempts,
                window,
            },
            keys: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, A>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one attempt from `key`; `Err(seconds)` tells how long to wait when over the limit.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let limit = self.limit;
        let mut keys = self.keys();
        if keys.len() > MAX_TRACKED {
            keys.retain(|_, allowance| allowance.left(limit, now) < limit.max);
        }
        let allowance = match keys.get_mut(key) {
            Some(allowance) => allowance,
            None => keys.entry(key.to_owned()).or_default(),
        };
        allowance.take(limit, now).map_err(seconds)
    }

    /// How many attempts `key` has left at `now`, counting none.
    pub fn remaining(&self, key: &str, now: Instant) -> usize {
        self.keys()
            .get(key)
            .map_or(self.limit.max, |a| a.left(self.limit, now))
    }

    /// Counts `n` attempts from `key` (as many as the limit still admits).
    pub fn spend(&self, key: &str, n: usize, now: Instant) {
        for _ in 0..n {
            if self.check(key, now).is_err() {
                break;
            }
        }
    }

    /// Uses up what `key` has left.
    pub fn exhaust(&self, key: &str, now: Instant) {
        let left = self.remaining(key, now);
        self.spend(key, left, now);
    }

    /// Seconds until `key` may try again (1 at least).
    pub fn retry_after(&self, key: &str, now: Instant) -> u64 {
        seconds(
            self.keys()
                .get(key)
                .map_or(Duration::ZERO, |a| a.wait(self.limit, now)),
        )
    }
}

/// The expensive routes, each kind with its own allowance per principal (`SEARCH_RATE_LIMIT`,
/// `IMPORT_RATE_LIMIT`, `REPORT_RATE_LIMIT`; see [`RouteLimitConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expensive {
    /// Resident lists and lookups.
    Search,
    /// CSV imports.
    Import,
    /// Reports, indicators, the reconciliation, and the audit trail's export and verification.
    Report,
}

/// Calls of the expensive routes allowed per principal (account or integration client): a
/// token bucket of `N` calls refilled at `N` per `window` for each kind; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteLimitConfig {
    /// `SEARCH_RATE_LIMIT`: resident lists and lookups.
    pub search: u32,
    /// `IMPORT_RATE_LIMIT`: CSV imports.
    pub import: u32,
    /// `REPORT_RATE_LIMIT`: reports, indicators, the reconciliation, audit export and verify.
    pub report: u32,
    /// `EXPENSIVE_RATE_WINDOW_SECS`.
    pub window: Duration,
}

impl Default for RouteLimitConfig {
    fn default() -> Self {
        RouteLimitConfig {
            search: 120,
            import: 10,
            report: 30,
            window: Duration::from_secs(60),
        }
    }
}

/// The allowances of the expensive routes per principal (account or integration client); an
/// allowance of 0 is no limit.
pub struct RouteLimits {
    search: Option<BucketLimiter>,
    import: Option<BucketLimiter>,
    report: Option<BucketLimiter>,
}

impl RouteLimits {
    pub fn new(config: &RouteLimitConfig) -> Self {
        let bucket = |max: u32| (max > 0).then(|| BucketLimiter::new(max as usize, config.window));
        RouteLimits {
            search: bucket(config.search),
            import: bucket(config.import),
            report: bucket(config.report),
        }
    }

    /// Counts one call of a route of `kind` by `principal`; `Err(seconds)` when over.
    pub fn check(&self, kind: Expensive, principal: &str, now: Instant) -> Result<(), u64> {
        let limiter = match kind {
            Expensive::Search => &self.search,
            Expensive::Import => &self.import,
            Expensive::Report => &self.report,
        };
        limiter
            .as_ref()
            .map_or(Ok(()), |limiter| limiter.check(principal, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_forgets_after_the_window() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("10.0.0.1", t0).is_ok());
        }
        let wait = limiter
            .check("10.0.0.1", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, 50);
        assert!(
            limiter.check("10.0.0.2", t0).is_ok(),
            "other addresses are not affected"
        );
        assert!(limiter
            .check("10.0.0.1", t0 + Duration::from_secs(61))
            .is_ok());
    }

    #[test]
    fn a_bucket_admits_a_burst_then_refills_steadily() {
        let limiter = BucketLimiter::new(4, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(limiter.check("u:1", t0).is_ok());
        }
        assert_eq!(limiter.check("u:1", t0), Err(15), "one token per 15 s");
        assert_eq!(limiter.retry_after("u:1", t0 + Duration::from_secs(5)), 10);
        assert!(
            limiter.check("u:2", t0).is_ok(),
            "other keys are not affected"
        );
        let later = t0 + Duration::from_secs(15);
        assert!(limiter.check("u:1", later).is_ok(), "one token back");
        assert!(limiter.check("u:1", later).is_err());
        let rested = t0 + Duration::from_secs(600);
        assert_eq!(
            limiter.remaining("u:1", rested),
            4,
            "never more than the burst"
        );
        for _ in 0..4 {
            assert!(limiter.check("u:1", rested).is_ok());
        }
        assert!(limiter.check("u:1", rested).is_err());
    }

    #[test]
    fn each_kind_of_route_has_its_own_allowance_and_zero_is_none() {
        let limits = RouteLimits::new(&RouteLimitConfig {
            search: 0,
            import: 1,
            report: 2,
            window: Duration::from_secs(60),
        });
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(limits.check(Expensive::Search, "user:a", now).is_ok());
        }
        assert!(limits.check(Expensive::Import, "user:a", now).is_ok());
        assert!(limits.check(Expensive::Import, "user:a", now).is_err());
        assert!(limits.check(Expensive::Report, "user:a", now).is_ok());
        assert!(limits.check(Expensive::Report, "user:a", now).is_ok());
        assert_eq!(limits.check(Expensive::Report, "user:a", now), Err(30));
        assert!(limits.check(Expensive::Report, "client:a", now).is_ok());
    }

    #[test]
    fn idle_keys_are_forgotten_when_many_are_tracked() {
        let limiter = BucketLimiter::new(1, Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..=MAX_TRACKED {
            limiter.check(&i.to_string(), t0).unwrap();
        }
        limiter.check("new", t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(limiter.keys().len(), 1, "only the new key is still spent");
    }
}
