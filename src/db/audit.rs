use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};

use super::conn::{DbConn, WriteTx};
use super::schema::{audit_chain_checkpoints, audit_events};
use crate::domain::audit::Action;

/// One audit event as stored: every column, in chain order by `seq`. An empty column is
/// written as NULL (the table has no defaults), which lets many rows go in one statement.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct AuditRow {
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: Option<String>,
    pub actor_username: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub resident_id: Option<String>,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub outcome: String,
    pub changes: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// HMAC of `seq` and `hash` under `AUDIT_CHAIN_KEY` ([`crate::audit::anchor`]); `None`
    /// only on events appended before the key existed.
    pub mac: Option<String>,
}

/// The chain's last link as stored: its sequence number and hash.
pub fn head(conn: &mut DbConn) -> QueryResult<Option<(i64, String)>> {
    audit_events::table
        .select((audit_events::seq, audit_events::hash))
        .order(audit_events::seq.desc())
        .first(conn)
        .optional()
}

thread_local! {
    /// The chain's head as this thread's write transaction last read or appended it. The
    /// transaction holds the writers' lock, so nobody else can move the head while it lasts; a
    /// transaction forgets it when it begins, commits or rolls back
    /// ([`super::write_transaction`]), and a [`WriteTx`] cannot leave its thread.
    static HEAD: std::cell::RefCell<Option<(i64, String)>> = const { std::cell::RefCell::new(None) };
}

/// Drops the remembered head (see [`HEAD`]).
pub(super) fn forget_head() {
    HEAD.with(|head| head.borrow_mut().take());
}

/// The chain's last link for the next append in `tx`: as this transaction last read or
/// appended it, else as stored (one query per transaction, not per event).
pub fn chain_head(tx: &mut WriteTx<'_>) -> QueryResult<Option<(i64, String)>> {
    if let Some(known) = HEAD.with(|head| head.borrow().clone()) {
        return Ok(Some(known));
    }
    let stored = head(tx)?;
    if let Some(found) = &stored {
        HEAD.with(|head| *head.borrow_mut() = Some(found.clone()));
    }
    Ok(stored)
}

/// Appends one event to the chain; it becomes the head [`chain_head`] answers.
pub fn insert(tx: &mut WriteTx<'_>, row: &AuditRow) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(row)
        .execute(&mut **tx)?;
    remember_head(row);
    Ok(())
}

/// Appends events to the chain in bulk ([`crate::bulk_insert`]); the last becomes the head.
pub fn insert_many(tx: &mut WriteTx<'_>, rows: &[AuditRow]) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    match conn {
        DbConn::Postgres(c) if rows.len() <= AppendRows::MAX_ROWS => {
            AppendRows::of(rows).execute(c)?;
        }
        _ => crate::bulk_insert!(conn, audit_events::table, rows),
    }
    if let Some(last) = rows.last() {
        remember_head(last);
    }
    Ok(())
}

/// A few events appended on PostgreSQL in one round trip, where a `COPY` takes two: one
/// statement of the same text whatever their number (so it is prepared once per connection),
/// the rows as one array per column. The read-audit writer's batches are such.
pub(super) struct AppendRows<'a> {
    seq: Vec<i64>,
    occurred_at: Vec<NaiveDateTime>,
    actor_user_id: Vec<Option<&'a str>>,
    actor_username: Vec<Option<&'a str>>,
    actor_role: Vec<Option<&'a str>>,
    action: Vec<&'a str>,
    entity_type: Vec<Option<&'a str>>,
    entity_id: Vec<Option<&'a str>>,
    resident_id: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    client_address: Vec<Option<&'a str>>,
    outcome: Vec<&'a str>,
    changes: Vec<Option<&'a str>>,
    prev_hash: Vec<&'a str>,
    hash: Vec<&'a str>,
    mac: Vec<Option<&'a str>>,
}

impl<'a> AppendRows<'a> {
    /// Rows appended this way at most; more go in a `COPY`, which streams them.
    pub(super) const MAX_ROWS: usize = 1024;

    pub(super) fn of(rows: &'a [AuditRow]) -> Self {
        fn each<'a, T>(rows: &'a [AuditRow], column: impl Fn(&'a AuditRow) -> T) -> Vec<T> {
            rows.iter().map(column).collect()
        }
        AppendRows {
            seq: each(rows, |r| r.seq),
            occurred_at: each(rows, |r| r.occurred_at),
            actor_user_id: each(rows, |r| r.actor_user_id.as_deref()),
            actor_username: each(rows, |r| r.actor_username.as_deref()),
            actor_role: each(rows, |r| r.actor_role.as_deref()),
            action: each(rows, |r| r.action.as_str()),
            entity_type: each(rows, |r| r.entity_type.as_deref()),
            entity_id: each(rows, |r| r.entity_id.as_deref()),
            resident_id: each(rows, |r| r.resident_id.as_deref()),
            request_id: each(rows, |r| r.request_id.as_deref()),
            client_address: each(rows, |r| r.client_address.as_deref()),
            outcome: each(rows, |r| r.outcome.as_str()),
            changes: each(rows, |r| r.changes.as_deref()),
            prev_hash: each(rows, |r| r.prev_hash.as_str()),
            hash: each(rows, |r| r.hash.as_str()),
            mac: each(rows, |r| r.mac.as_deref()),
        }
    }
}

impl QueryId for AppendRows<'_> {
    type QueryId = AppendRows<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for AppendRows<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(Self::INSERT);
        out.push_sql(" SELECT * FROM ");
        self.push_unnest(out)
    }
}

impl<'a> AppendRows<'a> {
    pub(super) const INSERT: &'static str =
        "INSERT INTO audit_events (seq, occurred_at, actor_user_id, \
        actor_username, actor_role, action, entity_type, entity_id, resident_id, request_id, \
        client_address, outcome, changes, prev_hash, hash, mac)";

    /// `unnest(…)` of the rows' columns, in the order of [`Self::INSERT`].
    pub(super) fn push_unnest<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
        type Texts = Array<Text>;
        type MaybeTexts = Array<Nullable<Text>>;
        out.push_sql("unnest(");
        out.push_bind_param::<Array<BigInt>, _>(&self.seq)?;
        out.push_sql("::int8[], ");
        out.push_bind_param::<Array<Timestamp>, _>(&self.occurred_at)?;
        out.push_sql("::timestamp[]");
        for texts in [&self.actor_user_id, &self.actor_username, &self.actor_role] {
            out.push_sql(", ");
            out.push_bind_param::<MaybeTexts, _>(texts)?;
            out.push_sql("::text[]");
        }
        out.push_sql(", ");
        out.push_bind_param::<Texts, _>(&self.action)?;
        out.push_sql("::text[]");
        for texts in [
            &self.entity_type,
            &self.entity_id,
            &self.resident_id,
            &self.request_id,
            &self.client_address,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<MaybeTexts, _>(texts)?;
            out.push_sql("::text[]");
        }
        out.push_sql(", ");
        out.push_bind_param::<Texts, _>(&self.outcome)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<MaybeTexts, _>(&self.changes)?;
        out.push_sql("::text[]");
        for texts in [&self.prev_hash, &self.hash] {
            out.push_sql(", ");
            out.push_bind_param::<Texts, _>(texts)?;
            out.push_sql("::text[]");
        }
        out.push_sql(", ");
        out.push_bind_param::<MaybeTexts, _>(&self.mac)?;
        out.push_sql("::text[])");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for AppendRows<'_> {}

fn remember_head(row: &AuditRow) {
    HEAD.with(|head| *head.borrow_mut() = Some((row.seq, row.hash.clone())));
}

/// The event `seq`, if it is there.
pub fn event(conn: &mut DbConn, seq: i64) -> QueryResult<Option<AuditRow>> {
    audit_events::table
        .find(seq)
        .select(AuditRow::as_select())
        .first(conn)
        .optional()
}

/// A signed checkpoint of the chain ([`crate::audit::anchor`]).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_chain_checkpoints)]
pub struct CheckpointRow {
    pub seq: i64,
    pub hash: String,
    pub mac: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The checkpoints with `seq` greater than `after` and at most `upto`, lowest first.
pub fn checkpoints_between(
    conn: &mut DbConn,
    after: i64,
    upto: i64,
) -> QueryResult<Vec<CheckpointRow>> {
    audit_chain_checkpoints::table
        .filter(audit_chain_checkpoints::seq.gt(after))
        .filter(audit_chain_checkpoints::seq.le(upto))
        .order(audit_chain_checkpoints::seq.asc())
        .select(CheckpointRow::as_select())
        .load(conn)
}

/// The lowest (`first`) or highest checkpoint.
pub fn checkpoint_at_end(conn: &mut DbConn, first: bool) -> QueryResult<Option<CheckpointRow>> {
    let query = audit_chain_checkpoints::table.select(CheckpointRow::as_select());
    if first {
        query.order(audit_chain_checkpoints::seq.asc()).first(conn)
    } else {
        query.order(audit_chain_checkpoints::seq.desc()).first(conn)
    }
    .optional()
}

/// Adds a checkpoint unless one at that `seq` exists (a concurrent verification wrote it).
pub fn insert_checkpoint(conn: &mut DbConn, row: &CheckpointRow) -> QueryResult<()> {
    use diesel::result::{DatabaseErrorKind, Error};
    // In a savepoint of its own: a conflict must not abort a PostgreSQL transaction around it.
    match conn.transaction(|conn| {
        diesel::insert_into(audit_chain_checkpoints::table)
            .values(row)
            .execute(conn)
    }) {
        Ok(_) | Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Signs the checkpoint `seq` if it is still unsigned; whether it did.
pub fn sign_checkpoint(conn: &mut DbConn, seq: i64, mac: &str) -> QueryResult<bool> {
    diesel::update(
        audit_chain_checkpoints::table
            .filter(audit_chain_checkpoints::seq.eq(seq))
            .filter(audit_chain_checkpoints::mac.is_null()),
    )
    .set(audit_chain_checkpoints::mac.eq(mac))
    .execute(conn)
    .map(|n| n > 0)
}

/// Events with `seq` greater than `after`, oldest first.
pub fn page_after(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<AuditRow>> {
    audit_events::table
        .filter(audit_events::seq.gt(after))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor_user_id: Option<String>,
    pub action: Option<String>,
    pub resident_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Only events with `seq` below this (the paging cursor; newest first).
    pub before_seq: Option<i64>,
}

/// Matching events, newest first.
pub fn search(conn: &mut DbConn, filter: &AuditFilter, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_events::table.into_boxed();
    if let Some(actor) = &filter.actor_user_id {
        query = query.filter(audit_events::actor_user_id.eq(actor));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action));
    }
    if let Some(resident) = &filter.resident_id {
        query = query.filter(audit_events::resident_id.eq(resident));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    if let Some(before) = filter.before_seq {
        query = query.filter(audit_events::seq.lt(before));
    }
    query
        .order(audit_events::seq.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// The events of the given actions about one resident, oldest first, after `after_seq`.
pub fn changes_of_resident(
    conn: &mut DbConn,
    resident_id: &str,
    actions: &[Action],
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let actions: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
    audit_events::table
        .filter(audit_events::resident_id.eq(resident_id))
        .filter(audit_events::action.eq_any(actions))
        .filter(audit_events::seq.gt(after_seq))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}
