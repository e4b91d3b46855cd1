//! One resident's facts as the indicators read them, for every day at once: the row of the
//! `resident_facts` projection.
//!
//! A report cannot afford to join eight fact tables for every resident of the district, so the
//! storage layer keeps, per resident, everything the rules read (dated, unfiltered) in one
//! compact binary value, rewritten in the same transaction as any change to the resident's
//! rows. A report reads one row per resident and [`decode_as_of`] turns it into the
//! [`Person`] of the day with the same filters a reader of the fact tables would apply.
//!
//! The encoding is private to this module: a version byte, then LEB128 integers; days are
//! counted from 2000-01-01 (zigzag, so earlier births fit), an absent day is 0.

use chrono::{Datelike, NaiveDate};

use super::rules::{Case, Insurance, Person, Record};
use crate::domain::certificate::Category;
use crate::domain::eligibility::{CertificateFact, GrantFact, Span, SubsidyKind};
use crate::domain::resident::HouseholdStatus;

const FORMAT: u8 = 1;

/// A dated record of the file that some indicator or subsidy rule reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    RehabNeed(NaiveDate),
    RehabService(NaiveDate),
    DeviceNeed {
        needed_on: NaiveDate,
        fitted_on: Option<NaiveDate>,
    },
    Culture(NaiveDate),
    /// An insurance year's record, dated within its year.
    Insurance {
        on: NaiveDate,
        kind: Insurance,
        enrolled: bool,
    },
    Employment(Span),
    Education {
        high_school: bool,
        span: Span,
    },
    WorkInjuryNursing(Span),
    /// A household income record, dated within its year.
    Income {
        on: NaiveDate,
        per_capita_fen: i64,
    },
}

/// Everything the indicators read of one resident.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFacts {
    pub birth_date: NaiveDate,
    pub work_capacity: Option<bool>,
    /// The town now.
    pub town: String,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub certificates: Vec<CertificateFact>,
    pub household: Vec<(HouseholdStatus, Span)>,
    /// Every grant with every suspension (a suspension's span ends the day before it resumed).
    pub grants: Vec<GrantFact>,
    pub entries: Vec<Entry>,
    /// The cases assessed eligible, with the day of that assessment.
    pub cases: Vec<Case>,
    /// Moves between towns in date order: (the day, the town left).
    pub moves: Vec<(NaiveDate, String)>,
}

/// The days a report's reading depends on.
#[derive(Debug, Clone, Copy)]
pub struct AsOf {
    pub day: NaiveDate,
    /// The first day of the earliest event window ([`super::Context::earliest_window_start`]).
    pub window_start: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored indicator facts value is unreadable: {0}")]
pub struct DecodeError(&'static str);

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid day")
}

// ---- encoding --------------------------------------------------------------------------------

struct Writer(Vec<u8>);

impl Writer {
    fn unsigned(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn signed(&mut self, value: i64) {
        self.unsigned(((value << 1) ^ (value >> 63)) as u64);
    }

    fn count(&mut self, n: usize) {
        self.unsigned(n as u64);
    }

    fn code(&mut self, index: usize) {
        self.0.push(index as u8);
    }

    fn day(&mut self, day: NaiveDate) {
        self.signed((day - epoch()).num_days());
    }

    /// 0 for none, else the day's zigzag number plus one.
    fn maybe_day(&mut self, day: Option<NaiveDate>) {
        match day {
            None => self.unsigned(0),
            Some(d) => {
                let days = (d - epoch()).num_days();
                self.unsigned((((days << 1) ^ (days >> 63)) as u64) + 1)
            }
        }
    }

    fn flag(&mut self, value: bool) {
        self.0.push(value as u8);
    }

    fn text(&mut self, text: &str) {
        self.count(text.len());
        self.0.extend_from_slice(text.as_bytes());
    }

    fn span(&mut self, span: &Span) {
        self.day(span.start);
        self.maybe_day(span.end);
    }
}

fn index_of<T: PartialEq>(all: &[T], value: &T) -> usize {
    all.iter().position(|v| v == value).expect("a listed code")
}

impl StoredFacts {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(96));
        w.0.push(FORMAT);
        w.day(self.birth_date);
        w.code(match self.work_capacity {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        w.text(&self.town);
        w.maybe_day(self.deceased_on);
        w.maybe_day(self.moved_out_on);
        w.count(self.certificates.len());
        for c in &self.certificates {
            w.code(index_of(Category::ALL, &c.category));
            w.count(c.components.len());
            for component in &c.components {
                w.code(index_of(Category::ALL, component));
            }
            w.signed(c.grade.into());
            w.day(c.issued_on);
            w.day(c.valid_until);
            w.maybe_day(c.cancelled_on);
        }
        w.count(self.household.len());
        for (status, span) in &self.household {
            w.code(index_of(HouseholdStatus::ALL, status));
            w.span(span);
        }
        w.count(self.grants.len());
        for g in &self.grants {
            w.code(index_of(SubsidyKind::ALL, &g.kind));
            w.day(g.start_month);
            w.maybe_day(g.terminated_on);
            w.count(g.suspensions.len());
            for s in &g.suspensions {
                w.span(s);
            }
        }
        w.count(self.entries.len());
        for entry in &self.entries {
            match entry {
                Entry::RehabNeed(on) => {
                    w.code(0);
                    w.day(*on);
                }
                Entry::RehabService(on) => {
                    w.code(1);
                    w.day(*on);
                }
                Entry::DeviceNeed {
                    needed_on,
                    fitted_on,
                } => {
                    w.code(2);
                    w.day(*needed_on);
                    w.maybe_day(*fitted_on);
                }
                Entry::Culture(on) => {
                    w.code(3);
                    w.day(*on);
                }
                Entry::Insurance { on, kind, enrolled } => {
                    w.code(4);
                    w.day(*on);
                    w.flag(*kind == Insurance::Medical);
                    w.flag(*enrolled);
                }
                Entry::Employment(span) => {
                    w.code(5);
                    w.span(span);
                }
                Entry::Education { high_school, span } => {
                    w.code(6);
                    w.flag(*high_school);
                    w.span(span);
                }
                Entry::WorkInjuryNursing(span) => {
                    w.code(7);
                    w.span(span);
                }
                Entry::Income { on, per_capita_fen } => {
                    w.code(8);
                    w.day(*on);
                    w.signed(*per_capita_fen);
                }
            }
        }
        w.count(self.cases.len());
        for case in &self.cases {
            w.maybe_day(case.eligible_on);
            w.maybe_day(case.completed_on);
            w.maybe_day(case.cancelled_on);
        }
        w.count(self.moves.len());
        for (on, from_town) in &self.moves {
            w.day(*on);
            w.text(from_town);
        }
        w.0
    }
}

// ---- decoding --------------------------------------------------------------------------------

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.at).ok_or(DecodeError("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    #[inline(always)]
    fn unsigned(&mut self) -> Result<u64, DecodeError> {
        // Most values (counts, codes, recent days' low bytes) take one byte.
        if let Some(&b) = self.bytes.get(self.at) {
            if b < 0x80 {
                self.at += 1;
                return Ok(b.into());
            }
        }
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError("an integer too long"))
    }

    #[inline(always)]
    fn signed(&mut self) -> Result<i64, DecodeError> {
        let raw = self.unsigned()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    #[inline(always)]
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.unsigned()? as usize;
        // Every item takes at least a byte: a count beyond the rest is corruption, not a
        // reason to allocate.
        if n > self.bytes.len() - self.at {
            return Err(DecodeError("a count beyond the value"));
        }
        Ok(n)
    }

    fn code<T: Copy>(&mut self, all: &[T]) -> Result<T, DecodeError> {
        all.get(self.byte()? as usize)
            .copied()
            .ok_or(DecodeError("an unknown code"))
    }

    /// A day as its number since the epoch.
    #[inline(always)]
    fn raw_day(&mut self) -> Result<i64, DecodeError> {
        self.signed()
    }

    #[inline(always)]
    fn maybe_raw_day(&mut self) -> Result<Option<i64>, DecodeError> {
        match self.unsigned()? {
            0 => Ok(None),
            raw => {
                let raw = raw - 1;
                Ok(Some(((raw >> 1) as i64) ^ -((raw & 1) as i64)))
            }
        }
    }

    fn day(&mut self) -> Result<NaiveDate, DecodeError> {
        let raw = self.raw_day()?;
        date(raw)
    }

    fn maybe_day(&mut self) -> Result<Option<NaiveDate>, DecodeError> {
        self.maybe_raw_day()?.map(date).transpose()
    }

    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("a flag that is neither 0 nor 1")),
        }
    }

    fn text(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.count()?;
        let bytes = &self.bytes[self.at..self.at + n];
        self.at += n;
        std::str::from_utf8(bytes).map_err(|_| DecodeError("a town code that is not UTF-8"))
    }

    fn span(&mut self) -> Result<RawSpan, DecodeError> {
        Ok(RawSpan {
            start: self.raw_day()?,
            end: self.maybe_raw_day()?,
        })
    }
}

/// The number of days from 0001-01-01 to the epoch.
const EPOCH_FROM_CE: i64 = 730_120;

/// The day `raw` days after the epoch.
fn date(raw: i64) -> Result<NaiveDate, DecodeError> {
    i32::try_from(raw + EPOCH_FROM_CE)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or(DecodeError("a day out of range"))
}

fn raw(day: NaiveDate) -> i64 {
    (day - epoch()).num_days()
}

/// A span of days as numbers, compared before any date is made.
#[derive(Clone, Copy)]
struct RawSpan {
    start: i64,
    end: Option<i64>,
}

impl RawSpan {
    fn covers(&self, day: i64) -> bool {
        self.start <= day && self.end.is_none_or(|end| end >= day)
    }

    fn span(&self) -> Result<Span, DecodeError> {
        Ok(Span {
            start: date(self.start)?,
            end: self.end.map(date).transpose()?,
        })
    }
}

/// The days of [`AsOf`] as numbers, worked out once per report.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    day: i64,
    window_start: i64,
    year_start: i64,
    last_year_start: i64,
}

impl AsOf {
    pub fn bounds(&self) -> Bounds {
        let year = self.day.year();
        let first = |year| NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January");
        Bounds {
            day: raw(self.day),
            window_start: raw(self.window_start),
            year_start: raw(first(year)),
            last_year_start: raw(first(year - 1)),
        }
    }
}

/// The town of a decoded resident: now, and on the report's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Towns<'b> {
    pub current: &'b str,
    pub on_day: &'b str,
}

/// Reads a stored value into `person` (cleared first, its vectors reused) as a report on
/// the day of `bounds` sees the resident: only the facts that can count on that day — certificates
/// issued by it, household spells and suspensions in effect on it, grants started by it,
/// events of the earliest window (insurance of the day's year, incomes of that year and the
/// one before), spells of employment and benefits covering it, education started by it, cases
/// assessed eligible by it. The town on the day is the one left by the first move after it.
pub fn decode_as_of<'b>(
    bytes: &'b [u8],
    bounds: &Bounds,
    person: &mut Person,
) -> Result<Towns<'b>, DecodeError> {
    let day = bounds.day;
    let window = |on: i64| bounds.window_start <= on && on <= day;

    let p = person;
    p.facts.certificates.clear();
    p.facts.household.clear();
    p.facts.work_injury_nursing.clear();
    p.grants.clear();
    p.records.clear();
    p.cases.clear();

    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != FORMAT {
        return Err(DecodeError("an unknown format"));
    }
    p.birth_date = r.day()?;
    p.work_capacity = match r.byte()? {
        0 => None,
        1 => Some(false),
        2 => Some(true),
        _ => return Err(DecodeError("an unknown work capacity")),
    };
    let current = r.text()?;
    p.facts.deceased_on = r.maybe_day()?;
    p.facts.moved_out_on = r.maybe_day()?;
    for _ in 0..r.count()? {
        let category = r.code(Category::ALL)?;
        let mut components = Vec::new();
        for _ in 0..r.count()? {
            components.push(r.code(Category::ALL)?);
        }
        let grade = i32::try_from(r.signed()?).map_err(|_| DecodeError("a grade"))?;
        let issued_on = r.raw_day()?;
        let valid_until = r.raw_day()?;
        let cancelled_on = r.maybe_raw_day()?;
        if issued_on <= day {
            p.facts.certificates.push(CertificateFact {
                category,
                components,
                grade,
                issued_on: date(issued_on)?,
                valid_until: date(valid_until)?,
                cancelled_on: cancelled_on.map(date).transpose()?,
            });
        }
    }
    for _ in 0..r.count()? {
        let status = r.code(HouseholdStatus::ALL)?;
        let span = r.span()?;
        if span.covers(day) {
            p.facts.household.push((status, span.span()?));
        }
    }
    for _ in 0..r.count()? {
        let kind = r.code(SubsidyKind::ALL)?;
        let start_month = r.raw_day()?;
        let terminated_on = r.maybe_day()?;
        let mut suspensions = Vec::new();
        for _ in 0..r.count()? {
            let span = r.span()?;
            if span.covers(day) {
                suspensions.push(span.span()?);
            }
        }
        if start_month <= day {
            p.grants.push(GrantFact {
                kind,
                start_month: date(start_month)?,
                terminated_on,
                suspensions,
            });
        }
    }
    let mut incomes = Vec::new();
    for _ in 0..r.count()? {
        let record = match r.byte()? {
            0 => match r.raw_day()? {
                on if window(on) => Some(Record::RehabNeed(date(on)?)),
                _ => None,
            },
            1 => match r.raw_day()? {
                on if window(on) => Some(Record::RehabService(date(on)?)),
                _ => None,
            },
            2 => {
                let needed_on = r.raw_day()?;
                let fitted_on = r.maybe_raw_day()?;
                match window(needed_on) {
                    true => Some(Record::DeviceNeed {
                        needed_on: date(needed_on)?,
                        fitted_on: fitted_on.map(date).transpose()?,
                    }),
                    false => None,
                }
            }
            3 => match r.raw_day()? {
                on if window(on) => Some(Record::Culture(date(on)?)),
                _ => None,
            },
            4 => {
                let on = r.raw_day()?;
                let kind = if r.flag()? {
                    Insurance::Medical
                } else {
                    Insurance::Pension
                };
                let enrolled = r.flag()?;
                match bounds.year_start <= on && on <= day {
                    true => Some(Record::Insurance {
                        year: date(on)?.year(),
                        kind,
                        enrolled,
                    }),
                    false => None,
                }
            }
            5 => match r.span()? {
                span if span.covers(day) => Some(Record::Employment(span.span()?)),
                _ => None,
            },
            6 => {
                let high_school = r.flag()?;
                let span = r.span()?;
                match span.start <= day {
                    true => Some(Record::Education {
                        high_school,
                        span: span.span()?,
                    }),
                    false => None,
                }
            }
            7 => {
                let span = r.span()?;
                if span.covers(day) {
                    p.facts.work_injury_nursing.push(span.span()?);
                }
                None
            }
            8 => {
                let on = r.raw_day()?;
                let per_capita_fen = r.signed()?;
                if bounds.last_year_start <= on && on <= day {
                    incomes.push(Record::Income {
                        year: date(on)?.year(),
                        per_capita_fen,
                    });
                }
                None
            }
            _ => return Err(DecodeError("an unknown record kind")),
        };
        p.records.extend(record);
    }
    p.records.append(&mut incomes);
    for _ in 0..r.count()? {
        let eligible_on = r.maybe_raw_day()?;
        let completed_on = r.maybe_raw_day()?;
        let cancelled_on = r.maybe_raw_day()?;
        if eligible_on.is_some_and(|on| on <= day) {
            p.cases.push(Case {
                eligible_on: eligible_on.map(date).transpose()?,
                completed_on: completed_on.map(date).transpose()?,
                cancelled_on: cancelled_on.map(date).transpose()?,
            });
        }
    }
    let mut town_on_day = None;
    for _ in 0..r.count()? {
        let on = r.raw_day()?;
        let from_town = r.text()?;
        if town_on_day.is_none() && on > day {
            town_on_day = Some(from_town);
        }
    }
    if r.at != bytes.len() {
        return Err(DecodeError("bytes after the end"));
    }
    Ok(Towns {
        current,
        on_day: town_on_day.unwrap_or(current),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("a test day")
    }

    fn span(start: &str, end: Option<&str>) -> Span {
        Span {
            start: day(start),
            end: end.map(day),
        }
    }

    fn facts() -> StoredFacts {
        StoredFacts {
            birth_date: day("1931-02-28"),
            work_capacity: Some(true),
            town: "330213001".to_owned(),
            deceased_on: None,
            moved_out_on: Some(day("2026-09-01")),
            certificates: vec![
                CertificateFact {
                    category: Category::ALL[1],
                    components: vec![Category::ALL[0], Category::ALL[2]],
                    grade: 2,
                    issued_on: day("2020-05-01"),
                    valid_until: day("2030-04-30"),
                    cancelled_on: None,
                },
                CertificateFact {
                    category: Category::ALL[0],
                    components: vec![],
                    grade: 4,
                    issued_on: day("2026-07-01"),
                    valid_until: day("2036-06-30"),
                    cancelled_on: Some(day("2026-08-01")),
                },
            ],
            household: vec![
                (
                    HouseholdStatus::ALL[1],
                    span("2019-01-01", Some("2025-12-31")),
                ),
                (HouseholdStatus::ALL[0], span("2026-01-01", None)),
            ],
            grants: vec![GrantFact {
                kind: SubsidyKind::Nursing,
                start_month: day("2024-03-01"),
                terminated_on: None,
                suspensions: vec![span("2025-02-01", Some("2025-04-30"))],
            }],
            entries: vec![
                Entry::RehabNeed(day("2025-03-01")),
                Entry::RehabService(day("2026-03-01")),
                Entry::DeviceNeed {
                    needed_on: day("2026-02-01"),
                    fitted_on: Some(day("2026-05-01")),
                },
                Entry::Culture(day("2026-06-01")),
                Entry::Insurance {
                    on: day("2026-01-05"),
                    kind: Insurance::Medical,
                    enrolled: false,
                },
                Entry::Employment(span("2024-01-01", Some("2025-06-30"))),
                Entry::Education {
                    high_school: true,
                    span: span("2026-09-01", None),
                },
                Entry::WorkInjuryNursing(span("2023-01-01", None)),
                Entry::Income {
                    on: day("2024-12-31"),
                    per_capita_fen: -5,
                },
                Entry::Income {
                    on: day("2025-12-31"),
                    per_capita_fen: 3_600_000,
                },
            ],
            cases: vec![
                Case {
                    eligible_on: Some(day("2026-04-01")),
                    completed_on: None,
                    cancelled_on: None,
                },
                Case {
                    eligible_on: None,
                    completed_on: None,
                    cancelled_on: Some(day("2026-01-01")),
                },
            ],
            moves: vec![
                (day("2025-01-10"), "330213002".to_owned()),
                (day("2026-03-15"), "330213003".to_owned()),
            ],
        }
    }

    fn read(on: &str) -> (Person, String, String) {
        let bytes = facts().encode();
        let as_of = AsOf {
            day: day(on),
            window_start: NaiveDate::from_ymd_opt(day(on).year(), 1, 1).unwrap(),
        };
        let mut person = Person::default();
        let towns = decode_as_of(&bytes, &as_of.bounds(), &mut person).expect("decodes");
        let (current, on_day) = (towns.current.to_owned(), towns.on_day.to_owned());
        (person, current, on_day)
    }

    #[test]
    fn the_day_sees_what_a_reader_of_the_tables_would_see() {
        let (p, current, on_day) = read("2026-03-01");
        assert_eq!(p.birth_date, day("1931-02-28"));
        assert_eq!(p.work_capacity, Some(true));
        assert_eq!(p.facts.moved_out_on, Some(day("2026-09-01")));
        assert_eq!(current, "330213001");
        // The first move after the day left 330213003.
        assert_eq!(on_day, "330213003");
        // The second certificate was issued after the day.
        assert_eq!(p.facts.certificates.len(), 1);
        assert_eq!(p.facts.certificates[0].components.len(), 2);
        // Only the household spell covering the day.
        assert_eq!(p.facts.household, vec![facts().household[1]]);
        // The grant started; its suspension ended before the day.
        assert_eq!(p.grants.len(), 1);
        assert!(p.grants[0].suspensions.is_empty());
        assert_eq!(p.facts.work_injury_nursing.len(), 1);
        assert_eq!(
            p.records,
            vec![
                Record::RehabService(day("2026-03-01")),
                Record::DeviceNeed {
                    needed_on: day("2026-02-01"),
                    fitted_on: Some(day("2026-05-01")),
                },
                Record::Insurance {
                    year: 2026,
                    kind: Insurance::Medical,
                    enrolled: false,
                },
                Record::Income {
                    year: 2025,
                    per_capita_fen: 3_600_000,
                },
            ]
        );
        // The eligible case was assessed after the day; the other never was.
        assert!(p.cases.is_empty());
    }

    #[test]
    fn another_day_reuses_the_person_and_sees_its_own_facts() {
        let bytes = facts().encode();
        let mut person = Person::default();
        for (on, certificates, records, cases, town) in [
            ("2025-03-01", 1, 3, 0, "330213003"),
            ("2025-01-09", 1, 2, 0, "330213002"),
            ("2026-12-31", 2, 6, 1, "330213001"),
        ] {
            let as_of = AsOf {
                day: day(on),
                window_start: NaiveDate::from_ymd_opt(day(on).year(), 1, 1).unwrap(),
            };
            let towns = decode_as_of(&bytes, &as_of.bounds(), &mut person).expect("decodes");
            assert_eq!(person.facts.certificates.len(), certificates, "{on}");
            assert_eq!(person.records.len(), records, "{on}: {:?}", person.records);
            assert_eq!(person.cases.len(), cases, "{on}");
            assert_eq!(towns.on_day, town, "{on}");
        }
        let as_of = AsOf {
            day: day("2025-03-01"),
            window_start: day("2025-01-01"),
        };
        decode_as_of(&bytes, &as_of.bounds(), &mut person).unwrap();
        assert_eq!(person.grants[0].suspensions.len(), 1);
    }

    #[test]
    fn day_numbers_count_from_the_epoch() {
        assert_eq!(i64::from(epoch().num_days_from_ce()), EPOCH_FROM_CE);
        for on in ["1900-03-01", "2000-01-01", "2026-12-06", "2099-12-31"] {
            assert_eq!(date(raw(day(on))), Ok(day(on)));
        }
    }

    #[test]
    fn a_damaged_value_is_an_error_not_a_panic() {
        let bytes = facts().encode();
        let as_of = AsOf {
            day: day("2026-03-01"),
            window_start: day("2026-01-01"),
        };
        let mut person = Person::default();
        for cut in 0..bytes.len() {
            assert!(decode_as_of(&bytes[..cut], &as_of.bounds(), &mut person).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_as_of(&longer, &as_of.bounds(), &mut person).is_err());
        let mut unknown = bytes;
        unknown[0] = 9;
        assert!(decode_as_of(&unknown, &as_of.bounds(), &mut person).is_err());
    }
}
