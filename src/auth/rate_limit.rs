//! A sliding-window limit on login attempts per client address, held in memory.
//!
//! Each instance counts on its own; behind a load balancer the effective limit is the sum over
//! instances, and the per-account lockout (kept in the database) still holds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked addresses, idle ones are dropped on the next call.
const MAX_TRACKED: usize = 10_000;

pub struct RateLimiter {
    max_attempts: usize,
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(max_attempts: usize, window: Duration) -> Self {
        RateLimiter {
            max_attempts,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt from `key`; `Err(seconds)` tells how long to wait when over the limit.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if attempts.len() > MAX_TRACKED {
            let window = self.window;
            attempts.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = attempts.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.max_attempts {
            let oldest = *times.front().expect("non-empty when over the limit");
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        times.push_back(now);
        Ok(())
    }

    /// How many attempts `key` has left in the window at `now`, counting none.
    pub fn remaining(&self, key: &str, now: Instant) -> usize {
        let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let used = attempts.get(key).map_or(0, |times| {
            times
                .iter()
                .filter(|t| now.duration_since(**t) < self.window)
                .count()
        });
        self.max_attempts.saturating_sub(used)
    }

    /// Counts `n` attempts from `key` (as many as the limit still admits).
    pub fn spend(&self, key: &str, n: usize, now: Instant) {
        for _ in 0..n {
            if self.check(key, now).is_err() {
                break;
            }
        }
    }

    /// Uses up what `key` has left in the window.
    pub fn exhaust(&self, key: &str, now: Instant) {
        let left = self.remaining(key, now);
        self.spend(key, left, now);
    }

    /// Seconds until `key` may try again (1 at least).
    pub fn retry_after(&self, key: &str, now: Instant) -> u64 {
        let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts
            .get(key)
            .and_then(|times| times.front())
            .map_or(1, |oldest| {
                self.window
                    .saturating_sub(now.duration_since(*oldest))
                    .as_secs()
                    .max(1)
            })
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
}
