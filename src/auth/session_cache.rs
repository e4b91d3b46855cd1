//! The callers found behind recent sessions, remembered so that an authenticated request does
//! not look its session and user up in the database every time: that lookup was a database
//! round trip and a hop to the blocking pool on every request (issue 13).
//!
//! A remembered caller is used only while all of these hold:
//! - no change to accounts or sessions was made by this process since it was looked up
//!   ([`db::users::changes`]: a logout, a revocation, a password change, a user disabled, a
//!   role or towns changed), so what the service itself changes takes effect at once;
//! - it was looked up less than `SESSION_CACHE_SECS` ago, which bounds how long a change made
//!   outside this process (a second instance, an operator's SQL) goes unseen;
//! - its session has not expired.
//!
//! Refused lookups are not remembered: a bad token costs its lookup every time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::caller::Caller;
use crate::db;

/// Sessions remembered at most; past it, the oldest half goes.
const CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct SessionCache {
    /// `SESSION_CACHE_SECS`; zero: nothing is remembered.
    lifetime: Duration,
    /// The count of changes to accounts and sessions: [`db::users::changes`].
    changes: fn() -> u64,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    caller: Caller,
    looked_up: Instant,
    /// [`db::users::changes`] when it was looked up.
    changes: u64,
    session_expires_at: NaiveDateTime,
}

/// What [`SessionCache::remember`] needs from before a lookup ([`SessionCache::stamp`]).
#[derive(Debug, Clone, Copy)]
pub struct LookupStamp {
    changes: u64,
    at: Instant,
}

impl SessionCache {
    pub fn new(lifetime: Duration) -> Self {
        Self::counting(lifetime, db::users::changes)
    }

    fn counting(lifetime: Duration, changes: fn() -> u64) -> Self {
        SessionCache {
            lifetime,
            changes,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The caller remembered for session `sid` of user `sub`, if it may still be used.
    pub fn get(&self, sid: &str, sub: &str, now: NaiveDateTime) -> Option<Caller> {
        if self.lifetime.is_zero() {
            return None;
        }
        let changes = (self.changes)();
        let entries = self.lock();
        let entry = entries.get(sid)?;
        let usable = entry.changes == changes
            && entry.looked_up.elapsed() < self.lifetime
            && entry.session_expires_at > now
            && entry.caller.public_id == sub;
        usable.then(|| entry.caller.clone())
    }

    /// Taken just before a lookup in the database, for [`remember`](Self::remember).
    pub fn stamp(&self) -> LookupStamp {
        LookupStamp {
            changes: (self.changes)(),
            at: Instant::now(),
        }
    }

    /// Remembers what a lookup stamped `stamp` found, unless accounts or sessions changed
    /// meanwhile (the lookup may have read the state before that change).
    pub fn remember(&self, stamp: LookupStamp, caller: &Caller, session_expires_at: NaiveDateTime) {
        if self.lifetime.is_zero() || (self.changes)() != stamp.changes {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            let mut ages: Vec<Instant> = entries.values().map(|e| e.looked_up).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            entries.retain(|_, e| e.looked_up > cutoff);
        }
        entries.insert(
            caller.session_public_id.clone(),
            Entry {
                caller: caller.clone(),
                looked_up: stamp.at,
                changes: stamp.changes,
                session_expires_at,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // Every entry is whole at all times: a panic elsewhere leaves nothing half-written.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::domain::role::Role;

    thread_local! {
        /// This test's own count of changes (the process's count moves with other tests).
        static CHANGES: Cell<u64> = const { Cell::new(0) };
    }

    fn cache(lifetime: Duration) -> SessionCache {
        SessionCache::counting(lifetime, || CHANGES.get())
    }

    fn caller(sid: &str) -> Caller {
        Caller {
            user_id: 1,
            public_id: "user-1".to_owned(),
            username: "wang".to_owned(),
            role: Role::Caseworker,
            towns: vec!["330213001".to_owned()],
            session_id: 7,
            session_public_id: sid.to_owned(),
        }
    }

    fn in_hours(hours: i64) -> NaiveDateTime {
        db::now() + chrono::Duration::hours(hours)
    }

    #[test]
    fn a_remembered_caller_is_used_for_its_session_and_user_only() {
        let cache = cache(Duration::from_secs(60));
        cache.remember(cache.stamp(), &caller("s1"), in_hours(1));
        let found = cache.get("s1", "user-1", db::now());
        assert_eq!(found.map(|c| c.towns), Some(vec!["330213001".to_owned()]));
        assert!(cache.get("s2", "user-1", db::now()).is_none());
        assert!(cache.get("s1", "user-2", db::now()).is_none());
    }

    #[test]
    fn an_expired_session_or_an_old_lookup_is_not_used() {
        let cache = cache(Duration::from_millis(50));
        cache.remember(cache.stamp(), &caller("s1"), in_hours(1));
        assert!(
            cache.get("s1", "user-1", in_hours(2)).is_none(),
            "session expired"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            cache.get("s1", "user-1", db::now()).is_none(),
            "lookup too old"
        );
    }

    #[test]
    fn a_change_to_accounts_forgets_every_lookup_and_a_lookup_across_one() {
        let cache = cache(Duration::from_secs(60));
        cache.remember(cache.stamp(), &caller("s1"), in_hours(1));
        let before_change = cache.stamp();
        CHANGES.set(CHANGES.get() + 1);
        assert!(cache.get("s1", "user-1", db::now()).is_none());
        cache.remember(before_change, &caller("s2"), in_hours(1));
        assert!(cache.get("s2", "user-1", db::now()).is_none());
    }

    #[test]
    fn zero_lifetime_remembers_nothing() {
        let cache = cache(Duration::ZERO);
        cache.remember(cache.stamp(), &caller("s1"), in_hours(1));
        assert!(cache.get("s1", "user-1", db::now()).is_none());
    }

    #[test]
    fn a_full_cache_drops_its_older_half() {
        let cache = cache(Duration::from_secs(60));
        for i in 0..CAPACITY + 1 {
            cache.remember(cache.stamp(), &caller(&format!("s{i}")), in_hours(1));
        }
        let kept = cache.lock().len();
        assert!(kept <= CAPACITY / 2 + 1, "{kept} kept");
        let newest = format!("s{CAPACITY}");
        assert!(cache.get(&newest, "user-1", db::now()).is_some());
    }
}
