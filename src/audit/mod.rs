//! The audit trail: append-only, hash-chained events (DESIGN §6).
//!
//! Every audited change calls [`append`] with the write transaction of the change
//! ([`db::WriteTx`], which only [`db::write_transaction`] hands out), so the two commit
//! together. Each event's hash covers all its columns and the previous event's
//! hash: editing, deleting or reordering a stored event breaks the chain, and [`verify`] finds
//! the first broken link. A MAC under a key the database does not hold anchors each event, so
//! an edit recomputed from the edit onward is found too ([`anchor`]).

pub mod anchor;
pub mod batch;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The kinds of events and their outcomes, the trail's vocabulary, are plain domain types.
pub use crate::domain::audit::{Action, Outcome};

use crate::db::audit::{self as store, AuditRow};
use crate::db::{self, DbConn, WriteTx};
use crate::domain::role::Role;

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Fields whose values never enter the trail, whatever the event.
const SENSITIVE_FIELDS: &[&str] = &[
    "password",
    "new_password",
    "current_password",
    "id_number",
    "phone",
    "guardian_phone",
    "refresh_token",
];
pub const REDACTED: &str = "[redacted]";

/// Who acted. Unknown parts stay empty (a failed login names only the username tried).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub role: Option<Role>,
}

/// Where an event comes from: the actor and the request.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
}

impl AuditContext {
    pub fn with_actor(&self, actor: Actor) -> Self {
        AuditContext {
            actor,
            ..self.clone()
        }
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: Action,
    pub outcome: Outcome,
    pub entity_type: Option<&'static str>,
    pub entity_id: Option<String>,
    pub resident_id: Option<String>,
    pub changes: Option<Value>,
}

impl Event {
    pub fn new(action: Action) -> Self {
        Event {
            action,
            outcome: Outcome::Success,
            entity_type: None,
            entity_id: None,
            resident_id: None,
            changes: None,
        }
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn entity(mut self, entity_type: &'static str, id: impl Into<String>) -> Self {
        self.entity_type = Some(entity_type);
        self.entity_id = Some(id.into());
        self
    }

    pub fn resident(mut self, resident_id: impl Into<String>) -> Self {
        self.resident_id = Some(resident_id.into());
        self
    }

    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }
}

/// Appends one event. It asks for the write transaction of the change it records
/// ([`db::write_transaction`]), which orders the writers so two appends never read the same
/// head, and commits or rolls back with the change.
///
/// Outside a write transaction there is no [`WriteTx`] to give it:
///
/// ```compile_fail,E0308
/// use fenghua_registry::audit::{self, Action, AuditContext, Event};
/// use fenghua_registry::db::DbConn;
///
/// fn outside(conn: &mut DbConn) -> diesel::QueryResult<i64> {
///     audit::append(conn, &AuditContext::default(), Event::new(Action::Login))
/// }
/// ```
pub fn append(tx: &mut WriteTx<'_>, ctx: &AuditContext, event: Event) -> diesel::QueryResult<i64> {
    let (last_seq, prev_hash) = head(tx)?;
    let row = link(last_seq + 1, prev_hash, ctx, event);
    store::insert(tx, &row)?;
    Ok(row.seq)
}

/// Events linked in order after `head` (from [`head`]), ready for [`append_linked`]: hashing
/// needs no connection, so a bulk writer can link on another thread while it writes its rows.
pub fn link_after<'a>(
    (mut seq, mut prev_hash): (i64, String),
    events: impl IntoIterator<Item = (&'a AuditContext, Event)>,
) -> Vec<AuditRow> {
    let mut rows = Vec::new();
    for (ctx, event) in events {
        seq += 1;
        let row = link(seq, prev_hash, ctx, event);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    rows
}

/// Writes events linked by [`link_after`], in multi-row statements, and answers their sequence
/// numbers. Refuses rows linked after another head than the chain's, which would break it.
pub fn append_linked(tx: &mut WriteTx<'_>, rows: &[AuditRow]) -> diesel::QueryResult<Vec<i64>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let (seq, hash) = head(tx)?;
    if first.seq != seq + 1 || first.prev_hash != hash {
        return Err(diesel::result::Error::QueryBuilderError(
            "audit events linked after another head than the chain's".into(),
        ));
    }
    store::insert_many(tx, rows)?;
    Ok(rows.iter().map(|r| r.seq).collect())
}

/// The chain's head to link new events after ([`link_after`]), inside a write transaction:
/// the genesis hash before the first event.
pub fn head(tx: &mut WriteTx<'_>) -> diesel::QueryResult<(i64, String)> {
    Ok(store::chain_head(tx)?.unwrap_or((0, GENESIS_HASH.to_owned())))
}

/// The stored form of `event` as event `seq`, linked to the hash before it.
fn link(seq: i64, prev_hash: String, ctx: &AuditContext, event: Event) -> AuditRow {
    let mut row = AuditRow {
        seq,
        occurred_at: db::now(),
        actor_user_id: ctx.actor.user_id.clone(),
        actor_username: ctx.actor.username.clone(),
        actor_role: ctx.actor.role.map(|r| r.as_str().to_owned()),
        action: event.action.as_str().to_owned(),
        entity_type: event.entity_type.map(str::to_owned),
        entity_id: event.entity_id,
        resident_id: event.resident_id,
        request_id: ctx.request_id.clone(),
        client_address: ctx.client_address.clone(),
        outcome: event.outcome.as_str().to_owned(),
        // Written straight into a string (a JSON value's `to_string` goes through a
        // formatter): the same compact text.
        changes: event
            .changes
            .map(|c| serde_json::to_string(&redact(c)).expect("a JSON value serialises")),
        prev_hash,
        hash: String::new(),
        mac: None,
    };
    row.hash = link_hash(&row);
    row.mac = Some(anchor::event_mac(row.seq, &row.hash));
    row
}

/// Appends an event that records no other change (a failed login, a denied request) in a
/// transaction of its own.
pub fn append_alone(
    conn: &mut DbConn,
    ctx: &AuditContext,
    event: Event,
) -> diesel::QueryResult<i64> {
    db::write_transaction(conn, |conn| append(conn, ctx, event))
}

/// The hash of an event: SHA-256 over a JSON array of every column but the hash and the MAC
/// (which is made over the hash), in a fixed order, the previous hash last.
pub fn link_hash(row: &AuditRow) -> String {
    // Serialised as a tuple straight into the hash: the same bytes as a JSON array value of
    // the columns (see the test), without copying every column into one first.
    let canonical = (
        row.seq,
        hashed_time(row.occurred_at),
        &row.actor_user_id,
        &row.actor_username,
        &row.actor_role,
        &row.action,
        &row.entity_type,
        &row.entity_id,
        &row.resident_id,
        &row.request_id,
        &row.client_address,
        &row.outcome,
        &row.changes,
        &row.prev_hash,
    );
    // Sha256 is an io::Write: the JSON streams into the hash without a buffer.
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, &canonical).expect("serialising strings cannot fail");
    hex::encode(hasher.finalize())
}

/// A timestamp as the hash reads it, `%Y-%m-%dT%H:%M:%S%.6fZ`, written out by hand where that
/// is the same text (years 0 to 9999, no leap second): parsing the format string for every
/// event cost as much as the rest of the text.
fn hashed_time(at: chrono::NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        nanos / 1_000
    )
}

/// Replaces the values of sensitive fields, at any depth, with a marker.
fn redact(mut value: Value) -> Value {
    redact_in_place(&mut value);
    value
}

/// [`redact`] without rebuilding the maps: every event of a bulk write goes through it.
fn redact_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SENSITIVE_FIELDS.contains(&k.as_str()) {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_in_place(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

/// The changes between two views of a thing (each serialising as a JSON object), as [`diff`].
pub fn diff_of(before: &impl serde::Serialize, after: &impl serde::Serialize) -> Value {
    diff(
        &serde_json::to_value(before).expect("views serialise"),
        &serde_json::to_value(after).expect("views serialise"),
    )
}

/// [`diff`] from nothing to `after` (what a creation records), taking `after` apart instead of
/// copying it: `{field: {from: null, to}}` for every field that is not null.
pub fn created(after: Value) -> Value {
    let Value::Object(after) = after else {
        return Value::Object(serde_json::Map::new());
    };
    Value::Object(
        after
            .into_iter()
            .filter(|(_, new)| !new.is_null())
            .map(|(field, new)| (field, serde_json::json!({ "from": null, "to": new })))
            .collect(),
    )
}

/// [`created`] of a view (serialising as a JSON object).
pub fn created_of(after: &impl serde::Serialize) -> Value {
    created(serde_json::to_value(after).expect("views serialise"))
}

/// The changes between two JSON objects, field by field: `{field: {from, to}}`.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = serde_json::Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changes = serde_json::Map::new();
    for (field, new) in after {
        let old = before.get(field).unwrap_or(&Value::Null);
        if old != new {
            changes.insert(field.clone(), serde_json::json!({ "from": old, "to": new }));
        }
    }
    Value::Object(changes)
}

#[derive(Debug, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    /// `hash_mismatch` (the event was altered), `mac_mismatch` (the event was altered and its
    /// hash recomputed, or its MAC removed), `prev_hash_mismatch` (an event before it was
    /// altered, removed or inserted), `sequence_gap` (events were removed),
    /// `checkpoint_missing` / `checkpoint_mismatch` (the event of a checkpoint is gone or has
    /// another hash) or `checkpoint_forged` (a checkpoint's MAC does not hold).
    pub problem: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ChainReport {
    pub valid: bool,
    /// Events walked by this verification (after `from_seq`) before the first broken one.
    pub events_checked: i64,
    /// The signed checkpoint the walk started after: 0 for a walk from the first event.
    pub from_seq: i64,
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    pub first_broken: Option<BrokenLink>,
}

impl ChainReport {
    fn broken(from_seq: i64, events_checked: i64, seq: i64, problem: &'static str) -> Self {
        ChainReport {
            valid: false,
            events_checked,
            from_seq,
            head_seq: None,
            head_hash: None,
            first_broken: Some(BrokenLink { seq, problem }),
        }
    }
}

/// How much of the chain [`verify`] walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// From the last signed checkpoint whose event still has its hash. Events before it are
    /// trusted as that checkpoint's clean walk found them: an edit there that leaves the
    /// stored hashes alone waits for a full walk; one that recomputes them moves the
    /// checkpoint's hash, and then the whole chain is walked.
    Incremental,
    /// From the first event, checking every checkpoint on the way.
    Full,
}

/// Verifies the chain: each event's sequence, link, hash and (after the start of the keyed
/// chain) MAC, and the signed checkpoints. After a clean walk it records a signed checkpoint
/// at the head, where the next incremental walk starts.
pub fn verify(conn: &mut DbConn, walk: Walk) -> diesel::QueryResult<ChainReport> {
    let (report, last_checkpoint) = check(conn, walk)?;
    if let (true, Some(seq), Some(hash)) = (report.valid, report.head_seq, &report.head_hash) {
        if seq > last_checkpoint {
            anchor::record(conn, seq, hash)?;
        }
    }
    Ok(report)
}

/// [`verify`] without recording a checkpoint, for a read-only transaction: the report, and
/// the `seq` of the last signed checkpoint.
pub fn check(conn: &mut DbConn, walk: Walk) -> diesel::QueryResult<(ChainReport, i64)> {
    let Some(start) = store::checkpoint_at_end(conn, true)? else {
        // The migration writes the first checkpoint: none at all means they were removed.
        return Ok((ChainReport::broken(0, 0, 0, "checkpoint_missing"), 0));
    };
    let last = store::checkpoint_at_end(conn, false)?.unwrap_or_else(|| start.clone());
    for checkpoint in [&start, &last] {
        if !anchor::checkpoint_holds(checkpoint) {
            let report = ChainReport::broken(0, 0, checkpoint.seq, "checkpoint_forged");
            return Ok((report, last.seq));
        }
    }
    if walk == Walk::Incremental {
        let intact =
            last.seq == 0 || store::event(conn, last.seq)?.is_some_and(|row| row.hash == last.hash);
        if intact {
            let report = walk_from(conn, start.seq, (last.seq, last.hash.clone()), false)?;
            return Ok((report, last.seq));
        }
    }
    let mut report = walk_from(conn, start.seq, (0, GENESIS_HASH.to_owned()), true)?;
    if report.valid {
        // A checkpoint past the head: the events up to it were cut.
        let head = report.head_seq.unwrap_or(0);
        if let Some(cut) = store::checkpoints_between(conn, head, i64::MAX)?.first() {
            let problem = if anchor::checkpoint_holds(cut) {
                "checkpoint_missing"
            } else {
                "checkpoint_forged"
            };
            report = ChainReport::broken(0, report.events_checked, cut.seq, problem);
        }
    }
    Ok((report, last.seq))
}

/// Walks the events after `from` (its seq and hash) to the head. Events after `keyed_from`
/// must carry a valid MAC; with `checkpoints`, each signed checkpoint on the way must hold
/// and its event have its hash.
fn walk_from(
    conn: &mut DbConn,
    keyed_from: i64,
    from: (i64, String),
    checkpoints: bool,
) -> diesel::QueryResult<ChainReport> {
    const PAGE: i64 = 5_000;
    let from_seq = from.0;
    let (mut after, mut expected_prev) = from;
    let mut checked = 0;
    loop {
        let page = store::page_after(conn, after, PAGE)?;
        let Some(last) = page.last() else { break };
        // This page's checkpoints, lowest first (one query a page, never all of them at once).
        let mut on_page = if checkpoints {
            store::checkpoints_between(conn, after, last.seq)?
        } else {
            Vec::new()
        }
        .into_iter()
        .peekable();
        for row in &page {
            let checkpoint = on_page.next_if(|c| c.seq <= row.seq);
            let problem = if row.seq != after + 1 {
                Some("sequence_gap")
            } else if row.prev_hash != expected_prev {
                Some("prev_hash_mismatch")
            } else if link_hash(row) != row.hash {
                Some("hash_mismatch")
            } else if row.seq > keyed_from
                && !anchor::event_holds(row.seq, &row.hash, row.mac.as_deref())
            {
                Some("mac_mismatch")
            } else if checkpoint
                .as_ref()
                .is_some_and(|c| !anchor::checkpoint_holds(c))
            {
                Some("checkpoint_forged")
            } else if checkpoint.is_some_and(|c| c.seq != row.seq || c.hash != row.hash) {
                Some("checkpoint_mismatch")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Ok(ChainReport::broken(from_seq, checked, row.seq, problem));
            }
            checked += 1;
            after = row.seq;
            expected_prev = row.hash.clone();
        }
    }
    Ok(ChainReport {
        valid: true,
        events_checked: checked,
        from_seq,
        head_seq: (after > 0).then_some(after),
        head_hash: (after > 0).then_some(expected_prev),
        first_broken: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_sensitive_fields_at_any_depth() {
        let redacted = redact(json!({
            "password": "x",
            "name": "张三",
            "id_number": {"from": "330213199001011234", "to": "330213199001011242"},
            "contacts": [{"phone": "13812345678"}]
        }));
        assert_eq!(redacted["password"], REDACTED);
        assert_eq!(redacted["name"], "张三");
        assert_eq!(redacted["id_number"], REDACTED);
        assert_eq!(redacted["contacts"][0]["phone"], REDACTED);
    }

    #[test]
    fn diff_lists_changed_fields_only() {
        let changes = diff(
            &json!({"a": 1, "b": 2}),
            &json!({"a": 1, "b": 3, "c": true}),
        );
        assert_eq!(
            changes,
            json!({"b": {"from": 2, "to": 3}, "c": {"from": null, "to": true}})
        );
    }

    /// Chains stored before keep verifying: the hash is the SHA-256 of the columns as a JSON
    /// array value, however it is serialised.
    #[test]
    fn the_hash_is_that_of_the_columns_as_a_json_array() {
        let row = AuditRow {
            seq: 42,
            occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
                .unwrap()
                .and_hms_micro_opt(13, 2, 3, 7)
                .unwrap(),
            actor_user_id: Some("u-1".into()),
            actor_username: Some("张三 \"admin\"".into()),
            actor_role: None,
            action: "resident_create".into(),
            entity_type: Some("resident".into()),
            entity_id: Some(String::new()),
            resident_id: Some("p\\1\t".into()),
            request_id: None,
            client_address: Some("127.0.0.1".into()),
            outcome: "success".into(),
            changes: Some(r#"{"name":{"from":null,"to":"李四\n"},"flags":["a","b"]}"#.into()),
            prev_hash: "ab".repeat(32),
            hash: String::new(),
            mac: None,
        };
        let as_value = serde_json::json!([
            row.seq,
            row.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            row.actor_user_id,
            row.actor_username,
            row.actor_role,
            row.action,
            row.entity_type,
            row.entity_id,
            row.resident_id,
            row.request_id,
            row.client_address,
            row.outcome,
            row.changes,
            row.prev_hash,
        ]);
        let expected = hex::encode(Sha256::digest(as_value.to_string().as_bytes()));
        assert_eq!(link_hash(&row), expected);
    }

    #[test]
    fn a_creation_records_what_a_diff_from_nothing_does() {
        for after in [
            json!({"name": "张三", "phone": null, "flags": ["a"], "nested": {"x": 1}}),
            json!({}),
            json!("not an object"),
        ] {
            assert_eq!(created(after.clone()), diff(&json!({}), &after));
        }
    }

    #[test]
    fn the_hashed_time_is_the_formatted_one() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for at in [
            day(2026, 12, 6).and_hms_micro_opt(13, 2, 3, 7).unwrap(),
            day(2026, 1, 31).and_hms_micro_opt(0, 0, 0, 0).unwrap(),
            day(999, 7, 9)
                .and_hms_micro_opt(23, 59, 59, 999_999)
                .unwrap(),
            day(12026, 7, 9).and_hms_micro_opt(1, 2, 3, 4).unwrap(),
            day(2016, 12, 31)
                .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
                .unwrap(),
        ] {
            assert_eq!(
                hashed_time(at),
                at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
        }
    }

    #[test]
    fn the_hash_covers_every_column() {
        let row = AuditRow {
            seq: 1,
            occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_micro_opt(1, 2, 3, 456_789)
                .unwrap(),
            actor_user_id: Some("u".into()),
            actor_username: Some("admin".into()),
            actor_role: Some("admin".into()),
            action: "login".into(),
            entity_type: None,
            entity_id: None,
            resident_id: None,
            request_id: Some("r".into()),
            client_address: Some("127.0.0.1".into()),
            outcome: "success".into(),
            changes: None,
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
            mac: None,
        };
        let original = link_hash(&row);
        // Every column but the hash itself, each changed alone: from a value to another, and
        // an empty one to a value. (A column added to the row breaks this pattern, and so
        // asks for its line below.)
        let AuditRow {
            seq: _,
            occurred_at: _,
            actor_user_id: _,
            actor_username: _,
            actor_role: _,
            action: _,
            entity_type: _,
            entity_id: _,
            resident_id: _,
            request_id: _,
            client_address: _,
            outcome: _,
            changes: _,
            prev_hash: _,
            hash: _,
            // Not in the hash: made over it (see `anchor`).
            mac: _,
        } = &row;
        type Alteration = (&'static str, fn(&mut AuditRow));
        let alterations: [Alteration; 14] = [
            ("seq", |r| r.seq += 1),
            ("occurred_at", |r| {
                r.occurred_at += chrono::Duration::microseconds(1)
            }),
            ("actor_user_id", |r| r.actor_user_id = Some("v".into())),
            ("actor_username", |r| r.actor_username = None),
            ("actor_role", |r| r.actor_role = Some("auditor".into())),
            ("action", |r| r.action = "logout".into()),
            ("entity_type", |r| r.entity_type = Some("resident".into())),
            ("entity_id", |r| r.entity_id = Some("e".into())),
            ("resident_id", |r| r.resident_id = Some("p".into())),
            ("request_id", |r| r.request_id = Some("s".into())),
            ("client_address", |r| {
                r.client_address = Some("10.0.0.1".into())
            }),
            ("outcome", |r| r.outcome = "failure".into()),
            ("changes", |r| r.changes = Some("{}".into())),
            ("prev_hash", |r| r.prev_hash = "1".repeat(64)),
        ];
        for (column, alter) in alterations {
            let mut altered = row.clone();
            alter(&mut altered);
            assert_ne!(link_hash(&altered), original, "{column}");
        }
        // An empty column and an empty text are told apart.
        let mut altered = row;
        altered.entity_id = Some(String::new());
        assert_ne!(link_hash(&altered), original, "entity_id: None vs \"\"");
    }
}
