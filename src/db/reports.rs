//! Frozen reports (snapshots), written once and never changed, and the audit trail as an
//! auditor exports it.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::audit::AuditRow;
use super::conn::DbConn;
use super::schema::{audit_events, report_snapshots};

/// One snapshot as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = report_snapshots)]
pub struct SnapshotRow {
    pub id: i64,
    pub public_id: String,
    pub as_of: NaiveDate,
    pub area_code: String,
    pub definition_version: i32,
    pub taken_at: NaiveDateTime,
    pub taken_by: Option<String>,
    pub taken_by_username: Option<String>,
    pub audit_seq: i64,
    pub results: String,
    pub digests: String,
    pub contributions: String,
    pub seal: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = report_snapshots)]
pub struct NewSnapshotRow {
    pub public_id: String,
    pub as_of: NaiveDate,
    pub area_code: String,
    pub definition_version: i32,
    pub taken_at: NaiveDateTime,
    pub taken_by: Option<String>,
    pub taken_by_username: Option<String>,
    pub audit_seq: i64,
    pub results: String,
    pub digests: String,
    pub contributions: String,
    pub seal: String,
}

/// A snapshot in a list: everything but the bulky columns.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = report_snapshots)]
pub struct SnapshotSummaryRow {
    pub id: i64,
    pub public_id: String,
    pub as_of: NaiveDate,
    pub area_code: String,
    pub definition_version: i32,
    pub taken_at: NaiveDateTime,
    pub taken_by_username: Option<String>,
    pub audit_seq: i64,
    pub seal: String,
}

pub fn insert(conn: &mut DbConn, row: &NewSnapshotRow) -> QueryResult<()> {
    diesel::insert_into(report_snapshots::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn by_public_id(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<SnapshotRow>> {
    report_snapshots::table
        .filter(report_snapshots::public_id.eq(public_id))
        .select(SnapshotRow::as_select())
        .first(conn)
        .optional()
}

/// Snapshots newest first, of the given areas (all when `None`), with `id` below `before`.
pub fn list(
    conn: &mut DbConn,
    areas: Option<&[String]>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<SnapshotSummaryRow>> {
    let mut query = report_snapshots::table.into_boxed();
    if let Some(areas) = areas {
        query = query.filter(report_snapshots::area_code.eq_any(areas.to_vec()));
    }
    if let Some(before) = before {
        query = query.filter(report_snapshots::id.lt(before));
    }
    query
        .order(report_snapshots::id.desc())
        .limit(limit)
        .select(SnapshotSummaryRow::as_select())
        .load(conn)
}

/// What an audit trail export keeps.
#[derive(Debug, Default, Clone)]
pub struct ExportFilter {
    pub actor_user_id: Option<String>,
    pub action: Option<String>,
    pub resident_id: Option<String>,
    /// Events about residents who live in this town, or lived in it before a move.
    pub town_code: Option<String>,
    pub from: Option<NaiveDateTime>,
    /// Exclusive.
    pub to: Option<NaiveDateTime>,
}

/// Matching events in chain order, `seq` after `after`, at most `limit`.
pub fn export_page(
    conn: &mut DbConn,
    filter: &ExportFilter,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_events::table
        .filter(audit_events::seq.gt(after))
        .into_boxed();
    if let Some(actor) = &filter.actor_user_id {
        query = query.filter(audit_events::actor_user_id.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(resident) = &filter.resident_id {
        query = query.filter(audit_events::resident_id.eq(resident.clone()));
    }
    if let Some(town) = &filter.town_code {
        query = query.filter(
            diesel::dsl::sql::<Bool>(
                "audit_events.resident_id IN (SELECT public_id FROM residents WHERE town_code = ",
            )
            .bind::<Text, _>(town.clone())
            .sql(
                " UNION SELECT r.public_id FROM residents r JOIN resident_moves m \
                 ON m.resident_id = r.id WHERE m.from_town = ",
            )
            .bind::<Text, _>(town.clone())
            .sql(" OR m.to_town = ")
            .bind::<Text, _>(town.clone())
            .sql(")"),
        );
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    query
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// Events of these actions after `after_seq`, oldest first (facilities, policies, GDP growth:
/// the district data a figure also rests on).
pub fn events_of_actions(
    conn: &mut DbConn,
    actions: &[&str],
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    audit_events::table
        .filter(audit_events::action.eq_any(actions.to_vec()))
        .filter(audit_events::seq.gt(after_seq))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// The event of this action about this entity, if any (the event that recorded a snapshot).
pub fn event_of_entity(
    conn: &mut DbConn,
    action: &str,
    entity_id: &str,
) -> QueryResult<Option<AuditRow>> {
    audit_events::table
        .filter(audit_events::action.eq(action))
        .filter(audit_events::entity_id.eq(entity_id))
        .order(audit_events::seq.asc())
        .select(AuditRow::as_select())
        .first(conn)
        .optional()
}
