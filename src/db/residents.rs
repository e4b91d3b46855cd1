use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use diesel::dsl::sql;
use diesel::sql_types::{Bool, Text};

use super::conn::{DbConn, MultiBackend};
use super::schema::{certificates, household_statuses, resident_name_grams, residents};
use super::versioned::versioned;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = residents)]
pub struct ResidentRow {
    pub id: i64,
    pub public_id: String,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub name: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub town_code: String,
    pub village_code: Option<String>,
    pub address: Option<String>,
    pub phone_enc: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_phone_enc: Option<String>,
    pub household_flags: String,
    pub work_capacity: Option<bool>,
    pub registered_on: NaiveDate,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// A resident to write. An empty column is written as NULL (no such column has another
/// default), which lets many rows go in one statement ([`insert_many`]).
#[derive(Debug, Insertable)]
#[diesel(table_name = residents, treat_none_as_default_value = false)]
pub struct NewResidentRow {
    pub public_id: String,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub name: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub town_code: String,
    pub village_code: Option<String>,
    pub address: Option<String>,
    pub phone_enc: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_phone_enc: Option<String>,
    pub household_flags: String,
    pub work_capacity: Option<bool>,
    pub registered_on: NaiveDate,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewResidentRow {
    /// The row as stored under `id`, without reading it back.
    pub fn stored(self, id: i64) -> ResidentRow {
        ResidentRow {
            id,
            public_id: self.public_id,
            id_number_enc: self.id_number_enc,
            id_number_index: self.id_number_index,
            name: self.name,
            sex: self.sex,
            birth_date: self.birth_date,
            town_code: self.town_code,
            village_code: self.village_code,
            address: self.address,
            phone_enc: self.phone_enc,
            guardian_name: self.guardian_name,
            guardian_phone_enc: self.guardian_phone_enc,
            household_flags: self.household_flags,
            work_capacity: self.work_capacity,
            registered_on: self.registered_on,
            deceased_on: self.deceased_on,
            moved_out_on: self.moved_out_on,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: 1,
        }
    }
}

/// The columns an update may change; `None` leaves a column as it is.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = residents)]
pub struct ResidentChanges {
    pub name: Option<String>,
    pub town_code: Option<String>,
    pub village_code: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub phone_enc: Option<Option<String>>,
    pub guardian_name: Option<Option<String>>,
    pub guardian_phone_enc: Option<Option<String>>,
    pub household_flags: Option<String>,
    pub work_capacity: Option<Option<bool>>,
    pub registered_on: Option<NaiveDate>,
    pub deceased_on: Option<Option<NaiveDate>>,
    pub moved_out_on: Option<Option<NaiveDate>>,
}

pub fn insert(conn: &mut DbConn, row: &NewResidentRow) -> QueryResult<i64> {
    diesel::insert_into(residents::table)
        .values(row)
        .returning(residents::id)
        .get_result(conn)
}

/// Rows per multi-row `INSERT` of the bulk writes: at 20 columns, 10,000 bound values, well
/// under SQLite's limit (32,766) and PostgreSQL's (65,535).
pub const ROWS_PER_STATEMENT: usize = 500;

/// Runs `$body` with `$chunk` bound to each run of [`ROWS_PER_STATEMENT`] rows of `$rows` and
/// then to the rest. A full run is an array (`&[_; ROWS_PER_STATEMENT]`), whose multi-row
/// `INSERT` has one shape: diesel prepares it once per connection and reuses it, where a slice's
/// statement would be parsed anew each time (a 500-row statement takes about as long to parse
/// as to run on SQLite).
#[macro_export]
macro_rules! in_statement_chunks {
    ($rows:expr, |$chunk:ident| $body:expr) => {{
        let rows = $rows;
        let mut runs = rows.chunks_exact($crate::db::residents::ROWS_PER_STATEMENT);
        for run in &mut runs {
            let $chunk: &[_; $crate::db::residents::ROWS_PER_STATEMENT] =
                run.try_into().expect("a run of the chunk size");
            $body;
        }
        let $chunk = runs.remainder();
        if !$chunk.is_empty() {
            $body;
        }
    }};
}

/// Writes `$rows` (a slice of insertable rows) into `$table` in bulk: one `COPY` on PostgreSQL
/// (no statement to parse, however many rows), multi-row `INSERT`s of
/// [`ROWS_PER_STATEMENT`] on SQLite. The multi-backend connection has no multi-row insert:
/// each backend's own has.
#[macro_export]
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        match $conn {
            $crate::db::conn::DbConn::Postgres(c) => {
                if !rows.is_empty() {
                    diesel::copy_from($table).from_insertable(rows).execute(c)?;
                }
            }
            $crate::db::conn::DbConn::Sqlite(c) => {
                $crate::in_statement_chunks!(rows, |chunk| diesel::insert_into($table)
                    .values(chunk)
                    .execute(c)?);
            }
        }
    }};
}

/// Writes residents in bulk: one `COPY` on PostgreSQL (no statement to parse, however many
/// rows), multi-row `INSERT`s on SQLite (in-process, nothing to save there). Answers each
/// one's `(public_id, id)`.
pub fn insert_many(conn: &mut DbConn, rows: &[NewResidentRow]) -> QueryResult<Vec<(String, i64)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        DbConn::Postgres(c) => {
            diesel::copy_from(residents::table)
                .from_insertable(rows)
                .execute(c)?;
            let public_ids: Vec<&str> = rows.iter().map(|r| r.public_id.as_str()).collect();
            residents::table
                .filter(residents::public_id.eq_any(public_ids))
                .select((residents::public_id, residents::id))
                .load(c)
        }
        DbConn::Sqlite(c) => {
            let mut ids = Vec::with_capacity(rows.len());
            crate::in_statement_chunks!(rows, |chunk| ids.extend(
                diesel::insert_into(residents::table)
                    .values(chunk)
                    .returning((residents::public_id, residents::id))
                    .get_results::<(String, i64)>(c)?
            ));
            Ok(ids)
        }
    }
}

/// The residents registered under any of these blind indexes of ID numbers.
pub fn by_indexes(conn: &mut DbConn, indexes: &[String]) -> QueryResult<Vec<ResidentRow>> {
    let mut rows = Vec::with_capacity(indexes.len());
    // 1,000 bound values a statement at most, like the writes.
    for chunk in indexes.chunks(1_000) {
        rows.extend(
            residents::table
                .filter(residents::id_number_index.eq_any(chunk))
                .select(ResidentRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

pub fn by_public_id(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<ResidentRow>> {
    residents::table
        .filter(residents::public_id.eq(public_id))
        .select(ResidentRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_index(conn: &mut DbConn, id_number_index: &str) -> QueryResult<Option<ResidentRow>> {
    residents::table
        .filter(residents::id_number_index.eq(id_number_index))
        .select(ResidentRow::as_select())
        .first(conn)
        .optional()
}

versioned! {
    /// Applies `changes` and moves the version on, if the row is still at `expected_version`.
    update pub update_versioned(residents, ResidentChanges)
}

versioned! {
    /// Moves the version on after a change elsewhere in the file (a certificate, a status), so
    /// the file's ETag changes with any of its parts.
    touch touch(residents)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = household_statuses)]
pub struct HouseholdStatusRow {
    pub id: i64,
    pub resident_id: i64,
    pub status: String,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// A resident's household statuses, oldest first.
pub fn household_history(
    conn: &mut DbConn,
    resident_id: i64,
) -> QueryResult<Vec<HouseholdStatusRow>> {
    household_statuses::table
        .filter(household_statuses::resident_id.eq(resident_id))
        .order(household_statuses::since.asc())
        .select(HouseholdStatusRow::as_select())
        .load(conn)
}

/// Household statuses of several residents, by resident then date.
pub fn household_histories(
    conn: &mut DbConn,
    resident_ids: &[i64],
) -> QueryResult<Vec<HouseholdStatusRow>> {
    household_statuses::table
        .filter(household_statuses::resident_id.eq_any(resident_ids))
        .order((
            household_statuses::resident_id.asc(),
            household_statuses::since.asc(),
        ))
        .select(HouseholdStatusRow::as_select())
        .load(conn)
}

/// Closes the open status on `until` and opens `status` from `since`.
pub fn change_household_status(
    conn: &mut DbConn,
    resident_id: i64,
    status: &str,
    since: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let until = since.pred_opt().expect("a date after the first");
    diesel::update(
        household_statuses::table
            .filter(household_statuses::resident_id.eq(resident_id))
            .filter(household_statuses::until.is_null()),
    )
    .set(household_statuses::until.eq(Some(until)))
    .execute(conn)?;
    open_household_status(conn, resident_id, status, since, now)
}

/// Opens the first household status of many new residents, `(resident_id, status, since,
/// created_at)`: `COPY` on PostgreSQL, multi-row `INSERT`s on SQLite.
pub fn open_household_statuses(
    conn: &mut DbConn,
    statuses: &[(i64, &'static str, NaiveDate, NaiveDateTime)],
) -> QueryResult<()> {
    if statuses.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = statuses
        .iter()
        .map(|(resident_id, status, since, created_at)| {
            (
                household_statuses::resident_id.eq(*resident_id),
                household_statuses::status.eq(*status),
                household_statuses::since.eq(*since),
                household_statuses::created_at.eq(*created_at),
            )
        })
        .collect();
    crate::bulk_insert!(conn, household_statuses::table, &values[..]);
    Ok(())
}

/// Opens the first household status of a new resident.
pub fn open_household_status(
    conn: &mut DbConn,
    resident_id: i64,
    status: &str,
    since: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(household_statuses::table)
        .values((
            household_statuses::resident_id.eq(resident_id),
            household_statuses::status.eq(status),
            household_statuses::since.eq(since),
            household_statuses::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// What a resident search may filter on. Every filter narrows; `towns` is the caller's scope.
#[derive(Debug, Default, Clone)]
pub struct ResidentFilter {
    pub towns: Option<Vec<String>>,
    /// Any part of the name (ASCII letters in any case).
    pub name: Option<String>,
    pub town: Option<String>,
    pub village: Option<String>,
    pub category: Option<String>,
    pub grade: Option<i32>,
    pub status: Option<String>,
    pub household_status: Option<String>,
    pub certificate_expiring_before: Option<NaiveDate>,
    pub after_id: i64,
}

/// At most this many pairs of a long name query are looked up in the index; the name itself is
/// checked with LIKE anyway.
const MAX_QUERY_GRAMS: usize = 8;

/// What a name query looks up in `resident_name_grams`, which holds each name's pairs of
/// neighbouring characters and its last character paired with U+0001, ASCII in lower case (see
/// the migration `name_search`). One character: the pairs that begin with it (a range of the
/// primary key). Two: that pair. More: each of its pairs (all must be in the name), and the name
/// is then checked with LIKE ([`NameQuery::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameQuery {
    /// `[from, to)`: the pairs that begin with the one character of the query.
    pub range: Option<(String, String)>,
    pub grams: Vec<String>,
    /// The LIKE pattern a longer query checks the (ASCII-folded) name against.
    pub check: Option<String>,
}

impl NameQuery {
    pub fn new(text: &str) -> Option<Self> {
        let folded = text.to_ascii_lowercase();
        let chars: Vec<char> = folded.chars().collect();
        match chars.len() {
            0 => None,
            // Every pair that begins with the character sorts from it (alone, it sorts first)
            // to it followed by the last code point.
            1 => Some(NameQuery {
                range: Some((folded.clone(), format!("{folded}\u{10FFFF}"))),
                grams: Vec::new(),
                check: None,
            }),
            2 => Some(NameQuery {
                range: None,
                grams: vec![folded],
                check: None,
            }),
            _ => {
                let mut grams: Vec<String> = Vec::new();
                for pair in chars.windows(2) {
                    let gram: String = pair.iter().collect();
                    if !grams.contains(&gram) && grams.len() < MAX_QUERY_GRAMS {
                        grams.push(gram);
                    }
                }
                let escaped = folded
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                Some(NameQuery {
                    range: None,
                    grams,
                    check: Some(format!("%{escaped}%")),
                })
            }
        }
    }
}

/// Whether a search filters on the active certificate or the current household status.
fn needs_joins(filter: &ResidentFilter) -> bool {
    filter.household_status.is_some()
        || filter.category.is_some()
        || filter.grade.is_some()
        || filter.certificate_expiring_before.is_some()
}

/// `$query` (boxed, over residents) narrowed by the filters on the resident itself. A name is
/// found through `resident_name_grams` ([`NameQuery`]: one `id IN (…)` per lookup, each a range
/// of its primary key) on both backends.
macro_rules! resident_filters {
    ($query:expr, $filter:expr, $postgres:expr) => {{
        let filter: &ResidentFilter = $filter;
        let mut query = $query;
        if filter.after_id > 0 {
            query = query.filter(residents::id.gt(filter.after_id));
        }
        if let Some(towns) = &filter.towns {
            query = query.filter(residents::town_code.eq_any(towns.clone()));
        }
        if let Some(name) = filter.name.as_deref().and_then(NameQuery::new) {
            if let Some((from, to)) = name.range {
                query = query.filter(
                    residents::id.eq_any(
                        resident_name_grams::table
                            .filter(resident_name_grams::gram.ge(from))
                            .filter(resident_name_grams::gram.lt(to))
                            .select(resident_name_grams::resident_id),
                    ),
                );
            }
            for gram in name.grams {
                query = query.filter(
                    residents::id.eq_any(
                        resident_name_grams::table
                            .filter(resident_name_grams::gram.eq(gram))
                            .select(resident_name_grams::resident_id),
                    ),
                );
            }
            if let Some(pattern) = name.check {
                // The same test on both: SQLite's LIKE ignores the case of ASCII letters only;
                // PostgreSQL's is exact, so the name is folded like the grams first.
                query = if $postgres {
                    query.filter(
                        sql::<Bool>("lower(residents.name COLLATE \"C\") LIKE ")
                            .bind::<Text, _>(pattern)
                            .sql(" ESCAPE '\\'"),
                    )
                } else {
                    query.filter(residents::name.like(pattern).escape('\\'))
                };
            }
        }
        if let Some(town) = &filter.town {
            query = query.filter(residents::town_code.eq(town.clone()));
        }
        if let Some(village) = &filter.village {
            query = query.filter(residents::village_code.eq(village.clone()));
        }
        match filter.status.as_deref() {
            Some("active") => {
                query = query
                    .filter(residents::deceased_on.is_null())
                    .filter(residents::moved_out_on.is_null())
            }
            Some("deceased") => query = query.filter(residents::deceased_on.is_not_null()),
            Some("moved_out") => {
                query = query
                    .filter(residents::deceased_on.is_null())
                    .filter(residents::moved_out_on.is_not_null())
            }
            _ => {}
        }
        query
    }};
}

/// Runs `$body` with `$query`, the residents a search finds as a boxed query. Joined to their
/// active certificate and current household status only when the filters look at them; joined,
/// not sub-queried: a resident has at most one of each (partial unique indexes), so the join
/// does not repeat rows.
macro_rules! with_search_query {
    ($filter:expr, $postgres:expr, |$query:ident| $body:expr) => {{
        let filter: &ResidentFilter = $filter;
        if needs_joins(filter) {
            let joined = residents::table
                .left_join(
                    certificates::table.on(certificates::resident_id
                        .eq(residents::id)
                        .and(certificates::cancelled_on.is_null())),
                )
                .left_join(
                    household_statuses::table.on(household_statuses::resident_id
                        .eq(residents::id)
                        .and(household_statuses::until.is_null())),
                )
                .into_boxed::<MultiBackend>();
            let mut $query = resident_filters!(joined, filter, $postgres);
            if let Some(status) = &filter.household_status {
                $query = $query.filter(household_statuses::status.eq(status.clone()));
            }
            if let Some(category) = &filter.category {
                $query = $query.filter(certificates::category.eq(category.clone()));
            }
            if let Some(grade) = filter.grade {
                $query = $query.filter(certificates::grade.eq(grade));
            }
            if let Some(before) = filter.certificate_expiring_before {
                $query = $query.filter(certificates::valid_until.lt(before));
            }
            $body
        } else {
            let $query = resident_filters!(
                residents::table.into_boxed::<MultiBackend>(),
                filter,
                $postgres
            );
            $body
        }
    }};
}

/// Matching residents in id order (stable), at most `limit`.
pub fn search(
    conn: &mut DbConn,
    filter: &ResidentFilter,
    limit: i64,
) -> QueryResult<Vec<ResidentRow>> {
    let postgres = matches!(conn, DbConn::Postgres(_));
    with_search_query!(filter, postgres, |query| query
        .order(residents::id.asc())
        .limit(limit)
        .select(ResidentRow::as_select())
        .load(conn))
}

/// How many residents match, over every page (the cursor is not a filter here).
pub fn count(conn: &mut DbConn, filter: &ResidentFilter) -> QueryResult<i64> {
    let postgres = matches!(conn, DbConn::Postgres(_));
    let filter = ResidentFilter {
        after_id: 0,
        ..filter.clone()
    };
    with_search_query!(&filter, postgres, |query| query.count().get_result(conn))
}

/// The database's plan of [`search`] and of [`count`] (`EXPLAIN QUERY PLAN` on SQLite,
/// `EXPLAIN` on PostgreSQL), one line per step: shows which indexes a search uses.
pub fn search_plans(
    conn: &mut DbConn,
    filter: &ResidentFilter,
    limit: i64,
) -> QueryResult<(Vec<String>, Vec<String>)> {
    let postgres = matches!(conn, DbConn::Postgres(_));
    let page = with_search_query!(filter, postgres, |query| explain(
        conn,
        query
            .order(residents::id.asc())
            .limit(limit)
            .select(ResidentRow::as_select())
    ))?;
    let total = with_search_query!(filter, postgres, |query| explain(conn, query.count()))?;
    Ok((page, total))
}

/// A query preceded by the backend's EXPLAIN.
struct Explain<Q>(Q, bool);

impl<Q> diesel::query_builder::QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> diesel::query_builder::Query for Explain<Q> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Q> diesel::query_builder::QueryFragment<MultiBackend> for Explain<Q>
where
    Q: diesel::query_builder::QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql(if self.1 {
            "EXPLAIN "
        } else {
            "EXPLAIN QUERY PLAN "
        });
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> RunQueryDsl<DbConn> for Explain<Q> {}

/// One line of a plan: `detail` of SQLite's EXPLAIN QUERY PLAN, `QUERY PLAN` of PostgreSQL's.
struct PlanLine(String);

impl diesel::deserialize::QueryableByName<MultiBackend> for PlanLine {
    fn build<'a>(
        row: &impl diesel::row::NamedRow<'a, MultiBackend>,
    ) -> diesel::deserialize::Result<Self> {
        let line = match diesel::row::NamedRow::get::<Text, String>(row, "detail") {
            Ok(line) => line,
            Err(_) => diesel::row::NamedRow::get::<Text, String>(row, "QUERY PLAN")?,
        };
        Ok(PlanLine(line))
    }
}

fn explain<Q>(conn: &mut DbConn, query: Q) -> QueryResult<Vec<String>>
where
    Q: diesel::query_builder::QueryFragment<MultiBackend>,
{
    let postgres = matches!(conn, DbConn::Postgres(_));
    let lines: Vec<PlanLine> = Explain(query, postgres).load(conn)?;
    Ok(lines.into_iter().map(|l| l.0).collect())
}

/// The residents with these internal ids, in id order.
pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .filter(residents::id.eq_any(ids))
        .select(ResidentRow::as_select())
        .order(residents::id)
        .load(conn)
}
