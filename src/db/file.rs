//! A resident's whole file, read as one snapshot: the resident's row and the rows of every
//! section. On PostgreSQL it is one prepared statement (each section aggregated to JSON by the
//! server), so a file costs one round trip and needs no transaction to be consistent; on SQLite,
//! where a query is a function call, it is one query per section in one read transaction.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use serde::de::DeserializeOwned;

use super::certificates::{self, CertificateRow};
use super::conn::DbConn;
use super::file_records::{self, FileRecordRow};
use super::home_modifications::{self, CaseRow};
use super::integration::{self, ApplicationRow};
use super::moves::{self, MoveRow};
use super::residents::{self, HouseholdStatusRow, ResidentRow};
use super::subsidies::{self, GrantRow, SuspensionRow};
use crate::error::AppError;

/// The stored rows of one file, each list in the order its section shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRows {
    pub resident: ResidentRow,
    pub household: Vec<HouseholdStatusRow>,
    pub certificates: Vec<CertificateRow>,
    pub grants: Vec<GrantRow>,
    pub suspensions: Vec<SuspensionRow>,
    pub cases: Vec<CaseRow>,
    pub records: Vec<FileRecordRow>,
    pub moves: Vec<MoveRow>,
    pub applications: Vec<ApplicationRow>,
}

/// The file of the resident `public_id`, or `None`.
pub fn load(conn: &mut DbConn, public_id: &str) -> Result<Option<FileRows>, AppError> {
    match conn {
        DbConn::Postgres(c) => Ok(load_postgres(c, public_id)?),
        DbConn::Sqlite(_) => {
            super::conn::read_snapshot(conn, |conn| Ok(load_by_queries(conn, public_id)?))
        }
    }
}

/// The file read one section at a time, with the queries each section's own code uses: the
/// SQLite path, and the reference the single PostgreSQL statement is tested against. Consistent
/// only inside one read transaction.
pub fn load_by_queries(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<FileRows>> {
    let Some(resident) = residents::by_public_id(conn, public_id)? else {
        return Ok(None);
    };
    let id = resident.id;
    Ok(Some(FileRows {
        household: residents::household_history(conn, id)?,
        certificates: certificates::of_resident(conn, id)?,
        grants: subsidies::grants_of(conn, id)?,
        suspensions: subsidies::suspensions_of(conn, id)?,
        cases: home_modifications::of_resident(conn, id)?,
        records: file_records::of_resident(conn, id)?,
        moves: moves::of_resident(conn, id)?,
        applications: integration::applications_of_resident(conn, id)?,
        resident,
    }))
}

/// Each section as a JSON array of whole rows, in the order of the query of
/// [`load_by_queries`] that reads it. Rows become JSON objects keyed by column name, which is
/// what the row types' field names are; dates and timestamps come out in ISO 8601.
const FILE_SQL: &str = "\
SELECT row_to_json(r)::text, \
 (SELECT coalesce(json_agg(t ORDER BY t.since), '[]')::text \
    FROM household_statuses t WHERE t.resident_id = r.id), \
 (SELECT coalesce(json_agg(t ORDER BY t.issued_on DESC, t.id DESC), '[]')::text \
    FROM certificates t WHERE t.resident_id = r.id), \
 (SELECT coalesce(json_agg(t ORDER BY t.start_month DESC, t.id DESC), '[]')::text \
    FROM subsidy_grants t WHERE t.resident_id = r.id), \
 (SELECT coalesce(json_agg(t ORDER BY t.grant_id, t.suspended_on), '[]')::text \
    FROM grant_suspensions t WHERE t.resident_id = r.id), \
 (SELECT coalesce(json_agg(t ORDER BY t.applied_on DESC, t.id DESC), '[]')::text \
    FROM home_modifications t WHERE t.resident_id = r.id), \
 (SELECT coalesce(json_agg(t ORDER BY t.section, t.start_on, t.id), '[]')::text \
    FROM file_records t WHERE t.resident_id = r.id), \
 (SELECT coalesce(json_agg(t ORDER BY t.moved_on, t.id), '[]')::text \
    FROM resident_moves t WHERE t.resident_id = r.id), \
 (SELECT coalesce(json_agg(t ORDER BY t.id DESC), '[]')::text \
    FROM applications t WHERE t.resident_id = r.id) \
FROM residents r WHERE r.public_id = ";

type FileColumns = (Text, Text, Text, Text, Text, Text, Text, Text, Text);
type FileTexts = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// [`FILE_SQL`] as a query with a static query id, so diesel prepares it once per connection
/// and keeps it (a raw `sql_query` would be parsed and planned on every read).
#[derive(Debug)]
struct FileQuery<'a> {
    public_id: &'a str,
}

impl QueryId for FileQuery<'_> {
    type QueryId = FileQuery<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for FileQuery<'_> {
    type SqlType = FileColumns;
}

impl QueryFragment<Pg> for FileQuery<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(FILE_SQL);
        // Writes the placeholder (`$1`) after the SQL's last `=`.
        out.push_bind_param::<Text, _>(&self.public_id)?;
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for FileQuery<'_> {}

fn load_postgres(conn: &mut PgConnection, public_id: &str) -> QueryResult<Option<FileRows>> {
    let Some(texts) = FileQuery { public_id }
        .get_result::<FileTexts>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let (resident, household, certs, grants, suspensions, cases, records, moves, applications) =
        texts;
    Ok(Some(FileRows {
        resident: parsed(&resident)?,
        household: parsed(&household)?,
        certificates: parsed(&certs)?,
        grants: parsed(&grants)?,
        suspensions: parsed(&suspensions)?,
        cases: parsed(&cases)?,
        records: parsed(&records)?,
        moves: parsed(&moves)?,
        applications: parsed(&applications)?,
    }))
}

/// A row (or list of rows) from the server's JSON; a mismatch is a fault of this code, reported
/// as a deserialization error like any column of the wrong type.
fn parsed<T: DeserializeOwned>(json: &str) -> QueryResult<T> {
    serde_json::from_str(json).map_err(|e| diesel::result::Error::DeserializationError(e.into()))
}
