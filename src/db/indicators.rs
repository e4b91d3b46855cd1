//! The facts the indicators read: the per-resident projection `resident_facts`, its upkeep,
//! and reading it a slice of residents at a time.
//!
//! A resident's value ([`StoredFacts`]) is made from their rows in eight tables, read for a
//! set of residents at once and merged by resident ([`load_stored`]); void rows (records,
//! grants and cases voided as entered by mistake, `crate::use_cases::corrections`) are not read, and the
//! suspensions of a void grant go with it. Triggers mark a resident
//! stale when any of those rows changes; [`refresh_stale`] rewrites the stale values inside
//! every write transaction before it commits. A bulk import writes the values of its new
//! residents from the rows it has in memory instead ([`write_new`]), which clears their marks. A report reads one value per resident in id
//! order, a slice at a time ([`read_slice`]), so memory is bounded by the slice, not by the
//! district; a resident still marked stale (a change made outside the service) is read from
//! their tables instead, so the figures never lag the rows.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::result::Error as DbError;

use super::certificates::NewCertificateRow;
use super::conn::DbConn;
use super::residents::NewResidentRow;
use super::schema::{
    certificates, file_records, grant_suspensions, home_modifications, household_statuses,
    resident_facts, resident_facts_stale, resident_moves, residents, subsidy_grants,
};
use crate::domain::certificate::Category;
use crate::domain::eligibility::{CertificateFact, GrantFact, Span, SubsidyKind};
use crate::domain::indicators::rules::{Case, Insurance};
use crate::domain::indicators::stored::{self, AsOf, Entry, StoredFacts};
use crate::domain::indicators::Person;
use crate::domain::resident::HouseholdStatus;

/// What a scan reads: the day, the first day of the earliest event window, and the towns by
/// which residents are counted (their index in this list is their town in the tally).
pub struct Scan<'a> {
    pub day: NaiveDate,
    pub window_start: NaiveDate,
    pub towns: &'a [String],
}

/// One resident as the indicators see it.
pub struct Loaded {
    pub id: i64,
    /// Index into [`Scan::towns`] of the resident's town on the day.
    pub town: usize,
    /// The town now (for the caller's scope).
    pub current_town: usize,
    pub person: Person,
}

/// The smallest and largest resident id, if there are residents.
pub fn id_bounds(conn: &mut DbConn) -> QueryResult<Option<(i64, i64)>> {
    let (lo, hi): (Option<i64>, Option<i64>) = residents::table
        .select((
            diesel::dsl::min(residents::id),
            diesel::dsl::max(residents::id),
        ))
        .first(conn)?;
    Ok(lo.zip(hi))
}

fn corrupt(what: &str, value: &str) -> DbError {
    DbError::DeserializationError(format!("unknown {what} code stored: {value:?}").into())
}

fn parse<T>(what: &str, value: &str, parse: fn(&str) -> Option<T>) -> QueryResult<T> {
    parse(value).ok_or_else(|| corrupt(what, value))
}

/// Walks rows sorted by resident id alongside the residents, handing out each one's slice.
struct Cursor<T> {
    rows: Vec<T>,
    at: usize,
}

impl<T> Cursor<T> {
    fn new(rows: Vec<T>) -> Self {
        Cursor { rows, at: 0 }
    }

    fn take(&mut self, resident: i64, key: impl Fn(&T) -> i64) -> &[T] {
        while self.at < self.rows.len() && key(&self.rows[self.at]) < resident {
            self.at += 1;
        }
        let start = self.at;
        while self.at < self.rows.len() && key(&self.rows[self.at]) == resident {
            self.at += 1;
        }
        &self.rows[start..self.at]
    }
}

type CertificateRow = (
    i64,
    String,
    Option<String>,
    i32,
    NaiveDate,
    NaiveDate,
    Option<NaiveDate>,
);
type SectionRow = (
    i64,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    bool,
    String,
);
type ResidentRow = (
    i64,
    NaiveDate,
    String,
    Option<bool>,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

/// Residents per statement when values are rebuilt: well under SQLite's bound on variables.
const REBUILD_CHUNK: usize = 1_000;

fn components(stored: &Option<String>) -> QueryResult<Vec<Category>> {
    let Some(stored) = stored else {
        return Ok(Vec::new());
    };
    let codes: Vec<String> =
        serde_json::from_str(stored).map_err(|_| corrupt("certificate components", stored))?;
    codes
        .iter()
        .map(|c| parse("disability category", c, Category::parse))
        .collect()
}

#[derive(serde::Deserialize)]
struct IncomeData {
    per_capita_income_fen: i64,
}

/// The facts of the residents `ids` (sorted, distinct) from their tables; a resident that does
/// not exist is absent from the answer.
pub fn load_stored(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, StoredFacts)>> {
    let people: Vec<ResidentRow> = residents::table
        .filter(residents::id.eq_any(ids))
        .select((
            residents::id,
            residents::birth_date,
            residents::town_code,
            residents::work_capacity,
            residents::deceased_on,
            residents::moved_out_on,
        ))
        .order(residents::id)
        .load(conn)?;
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let mut certificates = Cursor::new(
        certificates::table
            .filter(certificates::resident_id.eq_any(ids))
            .select((
                certificates::resident_id,
                certificates::category,
                certificates::components,
                certificates::grade,
                certificates::issued_on,
                certificates::valid_until,
                certificates::cancelled_on,
            ))
            .order((certificates::resident_id, certificates::id))
            .load::<CertificateRow>(conn)?,
    );
    let mut statuses = Cursor::new(
        household_statuses::table
            .filter(household_statuses::resident_id.eq_any(ids))
            .select((
                household_statuses::resident_id,
                household_statuses::status,
                household_statuses::since,
                household_statuses::until,
            ))
            .order((household_statuses::resident_id, household_statuses::id))
            .load::<(i64, String, NaiveDate, Option<NaiveDate>)>(conn)?,
    );
    let mut grants = Cursor::new(
        subsidy_grants::table
            .filter(subsidy_grants::resident_id.eq_any(ids))
            .filter(subsidy_grants::voided_at.is_null())
            .select((
                subsidy_grants::resident_id,
                subsidy_grants::id,
                subsidy_grants::kind,
                subsidy_grants::start_month,
                subsidy_grants::terminated_on,
            ))
            .order((subsidy_grants::resident_id, subsidy_grants::id))
            .load::<(i64, i64, String, NaiveDate, Option<NaiveDate>)>(conn)?,
    );
    let mut suspensions = Cursor::new(
        grant_suspensions::table
            .filter(grant_suspensions::resident_id.eq_any(ids))
            .select((
                grant_suspensions::resident_id,
                grant_suspensions::grant_id,
                grant_suspensions::suspended_on,
                grant_suspensions::resumed_on,
            ))
            .order((grant_suspensions::resident_id, grant_suspensions::id))
            .load::<(i64, i64, NaiveDate, Option<NaiveDate>)>(conn)?,
    );
    let mut records = Cursor::new(
        file_records::table
            .filter(file_records::resident_id.eq_any(ids))
            .filter(file_records::voided_at.is_null())
            .filter(file_records::section.eq_any([
                "rehab_needs",
                "rehab_services",
                "assistive_devices",
                "culture_services",
                "insurance",
                "employment",
                "education",
                "other_benefits",
                "incomes",
            ]))
            .select((
                file_records::resident_id,
                file_records::section,
                file_records::kind,
                file_records::start_on,
                file_records::end_on,
                file_records::holds,
                file_records::data,
            ))
            .order((
                file_records::resident_id,
                file_records::start_on,
                file_records::id,
            ))
            .load::<SectionRow>(conn)?,
    );
    let mut cases = Cursor::new(
        home_modifications::table
            .filter(home_modifications::resident_id.eq_any(ids))
            .filter(home_modifications::voided_at.is_null())
            .filter(home_modifications::assessment.eq("eligible"))
            .select((
                home_modifications::resident_id,
                home_modifications::assessed_on,
                home_modifications::completed_on,
                home_modifications::cancelled_on,
            ))
            .order((home_modifications::resident_id, home_modifications::id))
            .load::<(i64, Option<NaiveDate>, Option<NaiveDate>, Option<NaiveDate>)>(conn)?,
    );
    let mut moves = Cursor::new(
        resident_moves::table
            .filter(resident_moves::resident_id.eq_any(ids))
            .select((
                resident_moves::resident_id,
                resident_moves::moved_on,
                resident_moves::from_town,
            ))
            .order((
                resident_moves::resident_id,
                resident_moves::moved_on,
                resident_moves::id,
            ))
            .load::<(i64, NaiveDate, String)>(conn)?,
    );

    let mut loaded = Vec::with_capacity(people.len());
    for (id, birth_date, town, work_capacity, deceased_on, moved_out_on) in people {
        let mut facts = StoredFacts {
            birth_date,
            work_capacity,
            town,
            deceased_on,
            moved_out_on,
            certificates: Vec::new(),
            household: Vec::new(),
            grants: Vec::new(),
            entries: Vec::new(),
            cases: Vec::new(),
            moves: Vec::new(),
        };
        for (_, category, stored, grade, issued_on, valid_until, cancelled_on) in
            certificates.take(id, |r| r.0)
        {
            facts.certificates.push(CertificateFact {
                category: parse("disability category", category, Category::parse)?,
                components: components(stored)?,
                grade: *grade,
                issued_on: *issued_on,
                valid_until: *valid_until,
                cancelled_on: *cancelled_on,
            });
        }
        for (_, status, since, until) in statuses.take(id, |r| r.0) {
            facts.household.push((
                parse("household status", status, HouseholdStatus::parse)?,
                Span {
                    start: *since,
                    end: *until,
                },
            ));
        }
        let held = suspensions.take(id, |r| r.0);
        for (_, grant_id, kind, start_month, terminated_on) in grants.take(id, |r| r.0) {
            facts.grants.push(GrantFact {
                kind: parse("subsidy kind", kind, SubsidyKind::parse)?,
                start_month: *start_month,
                terminated_on: *terminated_on,
                // A suspension is in effect up to the day before it was resumed.
                suspensions: held
                    .iter()
                    .filter(|s| s.1 == *grant_id)
                    .map(|s| Span {
                        start: s.2,
                        end: s.3.and_then(|r| r.pred_opt()),
                    })
                    .collect(),
            });
        }
        for row in records.take(id, |r| r.0) {
            if let Some(entry) = entry(row)? {
                facts.entries.push(entry);
            }
        }
        // The rules see the records section by section, in the order of [`Entry`].
        facts.entries.sort_by_key(entry_rank);
        for (_, assessed_on, completed_on, cancelled_on) in cases.take(id, |r| r.0) {
            facts.cases.push(Case {
                eligible_on: *assessed_on,
                completed_on: *completed_on,
                cancelled_on: *cancelled_on,
            });
        }
        for (_, moved_on, from_town) in moves.take(id, |r| r.0) {
            facts.moves.push((*moved_on, from_town.clone()));
        }
        loaded.push((id, facts));
    }
    Ok(loaded)
}

fn entry_rank(entry: &Entry) -> u8 {
    match entry {
        Entry::RehabNeed(_) => 0,
        Entry::RehabService(_) => 1,
        Entry::DeviceNeed { .. } => 2,
        Entry::Culture(_) => 3,
        Entry::Insurance { .. } => 4,
        Entry::Employment(_) => 5,
        Entry::Education { .. } => 6,
        Entry::WorkInjuryNursing(_) => 7,
        Entry::Income { .. } => 8,
    }
}

/// What a file record tells the indicators, if anything.
fn entry(row: &SectionRow) -> QueryResult<Option<Entry>> {
    let (_, section, kind, start, end, holds, data) = row;
    let span = Span {
        start: *start,
        end: *end,
    };
    Ok(Some(match section.as_str() {
        "rehab_needs" => Entry::RehabNeed(*start),
        "rehab_services" => Entry::RehabService(*start),
        "culture_services" => Entry::Culture(*start),
        "assistive_devices" => Entry::DeviceNeed {
            needed_on: *start,
            fitted_on: *end,
        },
        "employment" => Entry::Employment(span),
        "education" => Entry::Education {
            high_school: matches!(
                kind.as_str(),
                "high_school" | "secondary_vocational" | "higher"
            ),
            span,
        },
        "insurance" => Entry::Insurance {
            on: *start,
            kind: match kind.as_str() {
                "pension" => Insurance::Pension,
                "medical" => Insurance::Medical,
                other => return Err(corrupt("insurance kind", other)),
            },
            enrolled: *holds,
        },
        // other_benefits: only the work-injury nursing allowance, which the subsidy rules read.
        "other_benefits" if kind == "work_injury_nursing" => Entry::WorkInjuryNursing(span),
        "incomes" => {
            let income: IncomeData =
                serde_json::from_str(data).map_err(|_| corrupt("income record", "…"))?;
            Entry::Income {
                on: *start,
                per_capita_fen: income.per_capita_income_fen,
            }
        }
        _ => return Ok(None),
    }))
}

/// Rewrites the value of every stale resident and clears the marks; call it inside the write
/// transaction that made them stale. Answers how many values it rewrote.
pub fn refresh_stale(conn: &mut DbConn) -> QueryResult<usize> {
    refresh_some_stale(conn, usize::MAX)
}

/// Like [`refresh_stale`], for at most about `limit` residents (a slice of a catch-up in its
/// own transaction); answers how many it rewrote (0: none was stale).
pub fn refresh_some_stale(conn: &mut DbConn, limit: usize) -> QueryResult<usize> {
    let mut done = 0;
    while done < limit {
        let ids: Vec<i64> = resident_facts_stale::table
            .select(resident_facts_stale::resident_id)
            .order(resident_facts_stale::resident_id)
            .limit(REBUILD_CHUNK as i64)
            .load(conn)?;
        if ids.is_empty() {
            break;
        }
        let values = load_stored(conn, &ids)?;
        replace(conn, &ids, &values)?;
        done += ids.len();
    }
    Ok(done)
}

/// Writes the values of the residents `ids` (at most [`REBUILD_CHUNK`]; a resident without a
/// value in `values` has none, as one that no longer exists) and clears their stale marks.
fn replace(conn: &mut DbConn, ids: &[i64], values: &[(i64, StoredFacts)]) -> QueryResult<()> {
    let values: Vec<_> = values
        .iter()
        .map(|(id, facts)| {
            (
                resident_facts::resident_id.eq(*id),
                resident_facts::facts.eq(facts.encode()),
            )
        })
        .collect();
    diesel::delete(resident_facts::table.filter(resident_facts::resident_id.eq_any(ids)))
        .execute(conn)?;
    crate::bulk_insert!(&mut *conn, resident_facts::table, &values[..]);
    diesel::delete(
        resident_facts_stale::table.filter(resident_facts_stale::resident_id.eq_any(ids)),
    )
    .execute(conn)?;
    Ok(())
}

/// A resident just written with its first household status and at most one certificate (an
/// import's new resident), as [`load_stored`] would read it back from those rows.
pub struct NewResidentFacts<'a> {
    pub id: i64,
    pub resident: &'a NewResidentRow,
    pub status: HouseholdStatus,
    pub status_since: NaiveDate,
    pub certificate: Option<&'a NewCertificateRow>,
}

/// Writes the values of residents just written ([`NewResidentFacts`]) from the rows in memory
/// instead of reading them back, and clears the stale marks their rows' triggers left: what
/// [`refresh_stale`] would do for them, without its eight reads.
pub fn write_new(conn: &mut DbConn, new: &[NewResidentFacts<'_>]) -> QueryResult<()> {
    for chunk in new.chunks(REBUILD_CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|n| n.id).collect();
        let values = chunk
            .iter()
            .map(|n| Ok((n.id, new_facts(n)?)))
            .collect::<QueryResult<Vec<_>>>()?;
        replace(conn, &ids, &values)?;
    }
    Ok(())
}

fn new_facts(new: &NewResidentFacts<'_>) -> QueryResult<StoredFacts> {
    let row = new.resident;
    let certificates = match new.certificate {
        None => Vec::new(),
        Some(c) => vec![CertificateFact {
            category: parse("disability category", &c.category, Category::parse)?,
            components: components(&c.components)?,
            grade: c.grade,
            issued_on: c.issued_on,
            valid_until: c.valid_until,
            cancelled_on: None,
        }],
    };
    Ok(StoredFacts {
        birth_date: row.birth_date,
        work_capacity: row.work_capacity,
        town: row.town_code.clone(),
        deceased_on: row.deceased_on,
        moved_out_on: row.moved_out_on,
        certificates,
        household: vec![(
            new.status,
            Span {
                start: new.status_since,
                end: None,
            },
        )],
        grants: Vec::new(),
        entries: Vec::new(),
        cases: Vec::new(),
        moves: Vec::new(),
    })
}

/// The stored values of the residents with ids in `lo..=hi`, in id order; a resident still
/// marked stale is read from their tables instead.
pub fn read_slice(conn: &mut DbConn, lo: i64, hi: i64) -> QueryResult<Vec<(i64, Vec<u8>)>> {
    let mut rows: Vec<(i64, Vec<u8>)> = resident_facts::table
        .filter(resident_facts::resident_id.between(lo, hi))
        .select((resident_facts::resident_id, resident_facts::facts))
        .order(resident_facts::resident_id)
        .load(conn)?;
    let stale: Vec<i64> = resident_facts_stale::table
        .filter(resident_facts_stale::resident_id.between(lo, hi))
        .select(resident_facts_stale::resident_id)
        .order(resident_facts_stale::resident_id)
        .load(conn)?;
    if !stale.is_empty() {
        rows.retain(|(id, _)| stale.binary_search(id).is_err());
        for chunk in stale.chunks(REBUILD_CHUNK) {
            rows.extend(
                load_stored(conn, chunk)?
                    .into_iter()
                    .map(|(id, facts)| (id, facts.encode())),
            );
        }
        rows.sort_unstable_by_key(|(id, _)| *id);
    }
    Ok(rows)
}

/// Hands `visit` each resident of `rows` ([`read_slice`]) as a report on the scan's day reads
/// them, in order (one [`Loaded`] reused for all).
pub fn visit_slice(
    scan: &Scan,
    rows: &[(i64, Vec<u8>)],
    visit: &mut dyn FnMut(&Loaded),
) -> QueryResult<()> {
    let bounds = AsOf {
        day: scan.day,
        window_start: scan.window_start,
    }
    .bounds();
    let town_index = |code: &str| {
        scan.towns
            .iter()
            .position(|t| t == code)
            .ok_or_else(|| corrupt("town", code))
    };
    let mut loaded = Loaded {
        id: 0,
        town: 0,
        current_town: 0,
        person: Person::default(),
    };
    for (id, bytes) in rows {
        let towns = stored::decode_as_of(bytes, &bounds, &mut loaded.person)
            .map_err(|e| DbError::DeserializationError(Box::new(e)))?;
        loaded.id = *id;
        loaded.current_town = town_index(towns.current)?;
        loaded.town = if towns.on_day == towns.current {
            loaded.current_town
        } else {
            town_index(towns.on_day)?
        };
        visit(&loaded);
    }
    Ok(())
}
