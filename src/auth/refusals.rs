//! Refused attempts (a rate-limited login, an ID-number probe over the allowance), counted in
//! memory per key (a client address, a user) and window, and written to the audit trail as one
//! event per key and window with the count. One audit row per refusal would let anyone who can
//! reach the login route write a row per request: a flood of the trail and of the writers'
//! lock, the very thing the limit is there to stop.
//!
//! A window opens with the first refusal of its key and lasts the limit's window; it is written
//! when it has ended, by whoever comes next (the next attempt of any key, or the service's
//! housekeeping every few seconds) and at shutdown. A crash loses the counts of the windows not
//! yet written.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde_json::json;

use crate::audit::{self, Action, Actor, AuditContext, Event, Outcome};
use crate::db::{self, DbConn};

/// Distinct notes (usernames tried) kept per window.
const MAX_NOTES: usize = 10;
/// Keys with an open window at most; refusals of further keys count under [`OVERFLOW_KEY`].
const MAX_OPEN: usize = 10_000;
/// Where refusals of keys beyond [`MAX_OPEN`] are counted.
pub const OVERFLOW_KEY: &str = "(other)";

/// The refusals of one key in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    pub key: String,
    pub first_at: NaiveDateTime,
    pub last_at: NaiveDateTime,
    pub count: u64,
    /// Up to [`MAX_NOTES`] distinct notes, such as the usernames tried.
    pub notes: BTreeSet<String>,
    opened: Instant,
}

/// What kind of key a log counts by, and the event it writes.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    /// Client addresses: the event's `client_address`, notes are usernames tried.
    Address,
    /// Users (their public id): the event's actor.
    User,
}

pub struct RefusalLog {
    window: Duration,
    action: Action,
    kind: KeyKind,
    open: Mutex<HashMap<String, Refusals>>,
}

impl RefusalLog {
    pub fn new(window: Duration, action: Action, kind: KeyKind) -> Self {
        RefusalLog {
            window,
            action,
            kind,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one refusal of `key` at `now` (`at` in wall-clock time, for the event).
    pub fn record(&self, key: &str, note: Option<&str>, now: Instant, at: NaiveDateTime) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let key = if open.len() >= MAX_OPEN && !open.contains_key(key) {
            OVERFLOW_KEY
        } else {
            key
        };
        let entry = open.entry(key.to_owned()).or_insert_with(|| Refusals {
            key: key.to_owned(),
            first_at: at,
            last_at: at,
            count: 0,
            notes: BTreeSet::new(),
            opened: now,
        });
        entry.count += 1;
        entry.last_at = at;
        if let Some(note) = note {
            if entry.notes.len() < MAX_NOTES {
                entry.notes.insert(note.chars().take(64).collect());
            }
        }
    }

    /// Whether a window has ended by `now` (cheap: no database).
    pub fn has_due(&self, now: Instant) -> bool {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.values()
            .any(|r| now.duration_since(r.opened) >= self.window)
    }

    /// Takes the windows that have ended by `now`, or every open one with `all`.
    pub fn take(&self, now: Instant, all: bool) -> Vec<Refusals> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let due: Vec<String> = open
            .values()
            .filter(|r| all || now.duration_since(r.opened) >= self.window)
            .map(|r| r.key.clone())
            .collect();
        let mut taken: Vec<Refusals> = due.iter().filter_map(|k| open.remove(k)).collect();
        taken.sort_by(|a, b| a.first_at.cmp(&b.first_at).then(a.key.cmp(&b.key)));
        taken
    }

    /// The audit event of one window.
    fn event(&self, refusals: &Refusals) -> (AuditContext, Event) {
        let mut ctx = AuditContext::default();
        match self.kind {
            KeyKind::Address => ctx.client_address = Some(refusals.key.clone()),
            KeyKind::User if refusals.key != OVERFLOW_KEY => {
                ctx.actor = Actor {
                    user_id: Some(refusals.key.clone()),
                    ..Actor::default()
                }
            }
            KeyKind::User => {}
        }
        let event = Event::new(self.action)
            .outcome(Outcome::Denied)
            .changes(json!({
                "refused": refusals.count,
                "first_at": refusals.first_at.and_utc().to_rfc3339(),
                "last_at": refusals.last_at.and_utc().to_rfc3339(),
                "window_secs": self.window.as_secs(),
                "usernames": refusals.notes,
            }));
        (ctx, event)
    }

    /// Writes the windows that have ended (every open one with `all`), one event each, in one
    /// transaction. Windows that cannot be written are put back, to be tried again.
    pub fn flush(&self, conn: &mut DbConn, now: Instant, all: bool) -> diesel::QueryResult<usize> {
        let taken = self.take(now, all);
        if taken.is_empty() {
            return Ok(0);
        }
        let written = db::write_transaction(conn, |conn| {
            for refusals in &taken {
                let (ctx, event) = self.event(refusals);
                audit::append(conn, &ctx, event)?;
            }
            Ok::<_, diesel::result::Error>(taken.len())
        });
        if written.is_err() {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            for refusals in taken {
                open.entry(refusals.key.clone()).or_insert(refusals);
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(8, 0, second)
            .unwrap()
    }

    #[test]
    fn counts_per_key_and_window() {
        let log = RefusalLog::new(
            Duration::from_secs(60),
            Action::LoginRateLimited,
            KeyKind::Address,
        );
        let t0 = Instant::now();
        for i in 0..1000 {
            log.record("10.0.0.1", Some(&format!("user{}", i % 20)), t0, at(1));
        }
        log.record("10.0.0.2", None, t0 + Duration::from_secs(30), at(31));
        assert!(log.take(t0 + Duration::from_secs(59), false).is_empty());
        let due = log.take(t0 + Duration::from_secs(61), false);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].key.as_str(), due[0].count), ("10.0.0.1", 1000));
        assert_eq!(due[0].notes.len(), MAX_NOTES);
        let rest = log.take(t0 + Duration::from_secs(61), true);
        assert_eq!((rest[0].key.as_str(), rest[0].count), ("10.0.0.2", 1));
        assert!(log.take(t0, true).is_empty());
    }

    #[test]
    fn open_windows_are_bounded() {
        let log = RefusalLog::new(
            Duration::from_secs(1),
            Action::LoginRateLimited,
            KeyKind::Address,
        );
        let t0 = Instant::now();
        for i in 0..(MAX_OPEN + 500) {
            log.record(&format!("k{i}"), None, t0, at(0));
        }
        let all = log.take(t0, true);
        assert_eq!(all.len(), MAX_OPEN + 1);
        let overflow = all.iter().find(|r| r.key == OVERFLOW_KEY).unwrap();
        assert_eq!(overflow.count, 500);
    }
}
