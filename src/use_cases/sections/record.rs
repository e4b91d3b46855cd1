//! What a record of a section is: the [`Section`] each kind of record implements, how it is
//! indexed ([`Index`]) and the resident's [`Life`] its dates must fit in. The section flows
//! (the parent module) and the kinds of records ([`super::kinds`]) both build on it.

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::residents::ResidentRow;
use crate::error::FieldError;

/// What every report filters a record on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub kind: String,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
    /// Makes a record unique per resident and section (insurance per year and kind).
    pub natural_key: Option<String>,
    /// False when the record states that its fact does not hold (a year not insured).
    pub holds: bool,
}

impl Index {
    /// A record of one day.
    pub fn event(kind: &str, on: NaiveDate) -> Self {
        Index {
            kind: kind.to_owned(),
            start_on: on,
            end_on: None,
            natural_key: None,
            holds: true,
        }
    }

    /// A record of a period (`end` the last day; `None` while it runs).
    pub fn span(kind: &str, start: NaiveDate, end: Option<NaiveDate>) -> Self {
        Index {
            kind: kind.to_owned(),
            start_on: start,
            end_on: end,
            natural_key: None,
            holds: true,
        }
    }
}

/// The resident's life, which every record's dates must fit in.
#[derive(Debug, Clone, Copy)]
pub struct Life {
    pub birth: NaiveDate,
    /// The first day the resident is no longer here (death or move-out), if any.
    pub left_on: Option<NaiveDate>,
    pub today: NaiveDate,
}

impl Life {
    pub fn of(row: &ResidentRow, today: NaiveDate) -> Self {
        let left_on = match (row.deceased_on, row.moved_out_on) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Life {
            birth: row.birth_date,
            left_on,
            today,
        }
    }
}

pub trait Section: Serialize + DeserializeOwned + Clone + PartialEq + Send + 'static {
    /// The section's name in the file and the audit trail.
    const NAME: &'static str;
    /// The field that holds the record's start, for error messages.
    const START_FIELD: &'static str;

    fn index(&self) -> Index;

    /// Rules beyond the dates every record keeps.
    fn check(&self, _life: &Life, _errors: &mut Vec<FieldError>) {}

    /// Whether [`Section::check_against`] looks at the other records (they are read only then).
    const CHECKS_OTHERS: bool = false;

    /// Rules against the resident's other records of the same section.
    fn check_against(&self, _others: &[Self], _errors: &mut Vec<FieldError>) {}

    /// Whether the start date is an event of the resident's life (checked against birth,
    /// today, death and move-out). Per-year records check their year instead.
    fn dated_by_life(&self) -> bool {
        true
    }
}
