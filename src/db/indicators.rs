//! Reading the facts the indicators need, a slice of residents at a time.
//!
//! Every fact table is read once per report, in resident-id order, for one range of resident
//! ids at a time, and filtered in SQL to the rows that can matter on the as-of day (a fact
//! that starts after it, an event before the indicators' window, a spell that ended before
//! it). The rows are then merged by resident into [`Person`]s. Memory is bounded by the slice,
//! not by the district.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::result::Error as DbError;

use super::schema::{
    certificates, file_records, grant_suspensions, home_modifications, household_statuses,
    resident_moves, residents, subsidy_grants,
};
use super::{DbConn, MultiBackend};
use crate::domain::certificate::Category;
use crate::domain::eligibility::{CertificateFact, GrantFact, Span, SubsidyKind};
use crate::domain::indicators::rules::{Case, Insurance};
use crate::domain::indicators::{Person, Record};
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
type SectionRow = (i64, String, NaiveDate, Option<NaiveDate>, bool);
type ResidentRow = (
    i64,
    NaiveDate,
    String,
    Option<bool>,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

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

/// When a section's rows can matter on the day.
#[derive(Clone, Copy)]
enum Dated {
    /// Starting within the period.
    StartsWithin(NaiveDate, NaiveDate),
    /// Started by the day.
    StartsBy(NaiveDate),
    /// Started by the day and not ended before it.
    Covers(NaiveDate),
}

/// One section's rows for the residents `lo..=hi`, in resident order: (resident, kind, start,
/// end, holds). Each read is a range of the covering index `file_records_section`.
fn section_rows(
    conn: &mut DbConn,
    section: &'static str,
    lo: i64,
    hi: i64,
    dated: Dated,
) -> QueryResult<Vec<SectionRow>> {
    let mut query = file_records::table
        .filter(file_records::section.eq(section))
        .filter(file_records::resident_id.between(lo, hi))
        .select((
            file_records::resident_id,
            file_records::kind,
            file_records::start_on,
            file_records::end_on,
            file_records::holds,
        ))
        .order(file_records::resident_id)
        .into_boxed::<MultiBackend>();
    query = match dated {
        Dated::StartsWithin(from, to) => query.filter(file_records::start_on.between(from, to)),
        Dated::StartsBy(day) => query.filter(file_records::start_on.le(day)),
        Dated::Covers(day) => query.filter(file_records::start_on.le(day)).filter(
            file_records::end_on
                .is_null()
                .or(file_records::end_on.ge(day)),
        ),
    };
    query.load(conn)
}

fn span(row: &SectionRow) -> Span {
    Span {
        start: row.2,
        end: row.3,
    }
}

#[derive(serde::Deserialize)]
struct IncomeData {
    per_capita_income_fen: i64,
}

/// The residents with ids in `lo..=hi` and every fact of theirs that can count on the day.
pub fn load_slice(conn: &mut DbConn, scan: &Scan, lo: i64, hi: i64) -> QueryResult<Vec<Loaded>> {
    let day = scan.day;
    let people: Vec<ResidentRow> = residents::table
        .filter(residents::id.between(lo, hi))
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
            .filter(certificates::resident_id.between(lo, hi))
            .filter(certificates::issued_on.le(day))
            .select((
                certificates::resident_id,
                certificates::category,
                certificates::components,
                certificates::grade,
                certificates::issued_on,
                certificates::valid_until,
                certificates::cancelled_on,
            ))
            .order(certificates::resident_id)
            .load::<CertificateRow>(conn)?,
    );
    let mut statuses = Cursor::new(
        household_statuses::table
            .filter(household_statuses::resident_id.between(lo, hi))
            .filter(household_statuses::since.le(day))
            .filter(
                household_statuses::until
                    .is_null()
                    .or(household_statuses::until.ge(day)),
            )
            .select((
                household_statuses::resident_id,
                household_statuses::status,
                household_statuses::since,
                household_statuses::until,
            ))
            .order(household_statuses::resident_id)
            .load::<(i64, String, NaiveDate, Option<NaiveDate>)>(conn)?,
    );
    let mut grants = Cursor::new(
        subsidy_grants::table
            .filter(subsidy_grants::resident_id.between(lo, hi))
            .filter(subsidy_grants::start_month.le(day))
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
    // Only the suspensions in effect on the day matter to where a grant stands on it.
    let mut suspensions = Cursor::new(
        grant_suspensions::table
            .filter(grant_suspensions::resident_id.between(lo, hi))
            .filter(grant_suspensions::suspended_on.le(day))
            .filter(
                grant_suspensions::resumed_on
                    .is_null()
                    .or(grant_suspensions::resumed_on.gt(day)),
            )
            .select((
                grant_suspensions::resident_id,
                grant_suspensions::grant_id,
                grant_suspensions::suspended_on,
                grant_suspensions::resumed_on,
            ))
            .order(grant_suspensions::resident_id)
            .load::<(i64, i64, NaiveDate, Option<NaiveDate>)>(conn)?,
    );
    let window = Dated::StartsWithin(scan.window_start, day);
    let year_start = NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("1 January");
    let mut sections = Vec::with_capacity(8);
    for (section, dated) in [
        ("rehab_needs", window),
        ("rehab_services", window),
        ("assistive_devices", window),
        ("culture_services", window),
        ("insurance", Dated::StartsWithin(year_start, day)),
        ("employment", Dated::Covers(day)),
        ("education", Dated::StartsBy(day)),
        ("other_benefits", Dated::Covers(day)),
    ] {
        let rows = section_rows(conn, section, lo, hi, dated)?;
        sections.push((section, Cursor::new(rows)));
    }
    let last_year = NaiveDate::from_ymd_opt(day.year() - 1, 1, 1).expect("a valid year");
    let mut incomes = Cursor::new(
        file_records::table
            .filter(file_records::resident_id.between(lo, hi))
            .filter(file_records::section.eq("incomes"))
            .filter(file_records::start_on.between(last_year, day))
            .select((
                file_records::resident_id,
                file_records::start_on,
                file_records::data,
            ))
            .order(file_records::resident_id)
            .load::<(i64, NaiveDate, String)>(conn)?,
    );
    let mut cases = Cursor::new(
        home_modifications::table
            .filter(home_modifications::resident_id.between(lo, hi))
            .filter(home_modifications::assessed_on.le(day))
            .filter(home_modifications::assessment.eq("eligible"))
            .select((
                home_modifications::resident_id,
                home_modifications::assessed_on,
                home_modifications::completed_on,
                home_modifications::cancelled_on,
            ))
            .order(home_modifications::resident_id)
            .load::<(i64, Option<NaiveDate>, Option<NaiveDate>, Option<NaiveDate>)>(conn)?,
    );
    // The town on the day is the one left by the first move after it.
    let mut moves = Cursor::new(
        resident_moves::table
            .filter(resident_moves::resident_id.between(lo, hi))
            .filter(resident_moves::moved_on.gt(day))
            .select((
                resident_moves::resident_id,
                resident_moves::moved_on,
                resident_moves::from_town,
            ))
            .order((resident_moves::resident_id, resident_moves::moved_on))
            .load::<(i64, NaiveDate, String)>(conn)?,
    );

    let town_index = |code: &str| {
        scan.towns
            .iter()
            .position(|t| t == code)
            .ok_or_else(|| corrupt("town", code))
    };
    let mut loaded = Vec::with_capacity(people.len());
    for (id, birth_date, town_code, work_capacity, deceased_on, moved_out_on) in people {
        let mut person = Person {
            birth_date,
            work_capacity,
            ..Person::default()
        };
        person.facts.deceased_on = deceased_on;
        person.facts.moved_out_on = moved_out_on;
        for (_, category, stored, grade, issued_on, valid_until, cancelled_on) in
            certificates.take(id, |r| r.0)
        {
            person.facts.certificates.push(CertificateFact {
                category: parse("disability category", category, Category::parse)?,
                components: components(stored)?,
                grade: *grade,
                issued_on: *issued_on,
                valid_until: *valid_until,
                cancelled_on: *cancelled_on,
            });
        }
        for (_, status, since, until) in statuses.take(id, |r| r.0) {
            person.facts.household.push((
                parse("household status", status, HouseholdStatus::parse)?,
                Span {
                    start: *since,
                    end: *until,
                },
            ));
        }
        let held = suspensions.take(id, |r| r.0);
        for (_, grant_id, kind, start_month, terminated_on) in grants.take(id, |r| r.0) {
            person.grants.push(GrantFact {
                kind: parse("subsidy kind", kind, SubsidyKind::parse)?,
                start_month: *start_month,
                terminated_on: *terminated_on,
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
        for (section, cursor) in sections.iter_mut() {
            for row in cursor.take(id, |r| r.0) {
                let record = match *section {
                    "rehab_needs" => Record::RehabNeed(row.2),
                    "rehab_services" => Record::RehabService(row.2),
                    "culture_services" => Record::Culture(row.2),
                    "assistive_devices" => Record::DeviceNeed {
                        needed_on: row.2,
                        fitted_on: row.3,
                    },
                    "employment" => Record::Employment(span(row)),
                    "education" => Record::Education {
                        high_school: matches!(
                            row.1.as_str(),
                            "high_school" | "secondary_vocational" | "higher"
                        ),
                        span: span(row),
                    },
                    "insurance" => Record::Insurance {
                        year: row.2.year(),
                        kind: match row.1.as_str() {
                            "pension" => Insurance::Pension,
                            "medical" => Insurance::Medical,
                            other => return Err(corrupt("insurance kind", other)),
                        },
                        enrolled: row.4,
                    },
                    _ => {
                        // other_benefits: the work-injury nursing allowance, which the
                        // subsidy rules read.
                        if row.1 == "work_injury_nursing" {
                            person.facts.work_injury_nursing.push(span(row));
                        }
                        continue;
                    }
                };
                person.records.push(record);
            }
        }
        for (_, start_on, data) in incomes.take(id, |r| r.0) {
            let income: IncomeData =
                serde_json::from_str(data).map_err(|_| corrupt("income record", "…"))?;
            person.records.push(Record::Income {
                year: start_on.year(),
                per_capita_fen: income.per_capita_income_fen,
            });
        }
        for (_, assessed_on, completed_on, cancelled_on) in cases.take(id, |r| r.0) {
            person.cases.push(Case {
                eligible_on: *assessed_on,
                completed_on: *completed_on,
                cancelled_on: *cancelled_on,
            });
        }
        let current_town = town_index(&town_code)?;
        let town = match moves.take(id, |r| r.0).first() {
            Some((_, _, from_town)) => town_index(from_town)?,
            None => current_town,
        };
        loaded.push(Loaded {
            id,
            town,
            current_town,
            person,
        });
    }
    Ok(loaded)
}
