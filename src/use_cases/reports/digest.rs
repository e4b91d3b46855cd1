//! What a snapshot keeps of the rows behind its figures, and how a later check finds what
//! changed.
//!
//! A report is a sum of residents' contributions: each resident counted on the day adds, in
//! its town on the day, a mark to every indicator (not counted, covered, or not covered and
//! why) and, for income growth, its two years' incomes. A snapshot keeps every contribution
//! (compactly, by internal resident id) and, per indicator and town, a SHA-256 digest over the
//! contributions that make that figure. A check recomputes the contributions as the data now
//! says they were on the same day: a figure whose digest differs was made of other rows, and
//! the residents whose contribution differs are named. Facilities, which make three figures,
//! are digested the same way by their ids.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::db::district::FacilityRow;
use crate::domain::indicators::definition::{IndicatorCode, COUNT};
use crate::domain::indicators::rules::{Evaluation, GapReason, Mark};
use crate::use_cases::district::FacilityKind;

use super::figures::Persons;

const HEADER: &str = "fenghua-contributions 1";

/// How one resident counted on the day, in its town on the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contribution {
    /// The resident's internal id.
    pub id: i64,
    /// Index into [`Contributions::towns`].
    pub town: u16,
    pub marks: [Mark; COUNT],
    /// Last year's and this year's per-capita household income, in fen, when both are known.
    pub income: Option<(i64, i64)>,
}

impl Contribution {
    /// Where the resident stands in `code`'s figure of its town, if it stands in it at all.
    pub fn part(&self, code: IndicatorCode) -> Option<Part> {
        if code == IndicatorCode::IncomeGrowth {
            self.income.map(|(last, this)| Part::Income { last, this })
        } else {
            match self.marks[code.index()] {
                Mark::Out => None,
                mark => Some(Part::Mark(mark)),
            }
        }
    }
}

/// A resident's part in one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Mark(Mark),
    Income { last: i64, this: i64 },
}

/// Every contribution to a report, in resident-id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contributions {
    pub towns: Vec<String>,
    pub list: Vec<Contribution>,
}

impl Contributions {
    pub fn new(towns: Vec<String>) -> Self {
        Contributions {
            towns,
            list: Vec::new(),
        }
    }

    /// Adds a resident of `town`, unless it counts nowhere. Call in resident-id order.
    pub fn push(&mut self, id: i64, town: &str, evaluation: &Evaluation) {
        if evaluation.income.is_none() && evaluation.marks.iter().all(|m| *m == Mark::Out) {
            return;
        }
        let town = match self.towns.iter().position(|t| t == town) {
            Some(i) => i,
            None => {
                self.towns.push(town.to_owned());
                self.towns.len() - 1
            }
        };
        debug_assert!(self.list.last().is_none_or(|c| c.id < id));
        self.list.push(Contribution {
            id,
            town: town as u16,
            marks: evaluation.marks,
            income: evaluation.income,
        });
    }

    pub fn town_of(&self, c: &Contribution) -> &str {
        &self.towns[c.town as usize]
    }

    /// How many residents stand behind each town's figures.
    pub fn persons(&self) -> Persons {
        let mut persons = Persons::default();
        for c in &self.list {
            for &code in IndicatorCode::ALL {
                if super::figures::counts_persons(code) && c.part(code).is_some() {
                    persons.add_n(code, self.town_of(c), 1);
                }
            }
        }
        persons
    }

    /// As stored: a header, the towns, then a line per resident (`id town marks income`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(64 + self.list.len() * 32);
        out.push_str(HEADER);
        out.push('\n');
        out.push_str("towns");
        for t in &self.towns {
            out.push(' ');
            out.push_str(t);
        }
        out.push('\n');
        for c in &self.list {
            let marks: String = c.marks.iter().map(|m| mark_char(*m)).collect();
            let _ = write!(out, "{} {} {marks} ", c.id, c.town);
            match c.income {
                Some((last, this)) => {
                    let _ = writeln!(out, "{last}/{this}");
                }
                None => out.push_str("-\n"),
            }
        }
        out
    }

    pub fn decode(text: &str) -> Result<Contributions, String> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err("not a contributions text of version 1".into());
        }
        let towns: Vec<String> = lines
            .next()
            .and_then(|l| l.strip_prefix("towns"))
            .ok_or("no towns line")?
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let mut list = Vec::new();
        for (n, line) in lines.enumerate() {
            let bad = || format!("line {}: {line:?}", n + 3);
            let mut parts = line.split(' ');
            let mut next = || parts.next().ok_or_else(bad);
            let id: i64 = next()?.parse().map_err(|_| bad())?;
            let town: u16 = next()?.parse().map_err(|_| bad())?;
            let mark_text = next()?;
            let income_text = next()?;
            if town as usize >= towns.len() || mark_text.chars().count() != COUNT {
                return Err(bad());
            }
            let mut marks = [Mark::Out; COUNT];
            for (slot, ch) in marks.iter_mut().zip(mark_text.chars()) {
                *slot = char_mark(ch).ok_or_else(bad)?;
            }
            let income = match income_text {
                "-" => None,
                pair => {
                    let (last, this) = pair.split_once('/').ok_or_else(bad)?;
                    Some((
                        last.parse().map_err(|_| bad())?,
                        this.parse().map_err(|_| bad())?,
                    ))
                }
            };
            list.push(Contribution {
                id,
                town,
                marks,
                income,
            });
        }
        Ok(Contributions { towns, list })
    }

    /// The residents of `town` whose part in `code` differs between `self` (before) and
    /// `now`: what they were and what they are (`None`: not in that town's figure).
    pub fn changed(
        &self,
        now: &Contributions,
        code: IndicatorCode,
        town: &str,
    ) -> Vec<(i64, Option<Part>, Option<Part>)> {
        let before = self.parts_in(code, town);
        let after = now.parts_in(code, town);
        let mut ids: Vec<i64> = before.keys().chain(after.keys()).copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| {
                let (b, a) = (before.get(&id).copied(), after.get(&id).copied());
                (b != a).then_some((id, b, a))
            })
            .collect()
    }

    fn parts_in(&self, code: IndicatorCode, town: &str) -> HashMap<i64, Part> {
        let Some(t) = self.towns.iter().position(|x| x == town) else {
            return HashMap::new();
        };
        self.list
            .iter()
            .filter(|c| c.town as usize == t)
            .filter_map(|c| c.part(code).map(|p| (c.id, p)))
            .collect()
    }
}

/// Digests by indicator code, then town code.
pub type Digests = BTreeMap<String, BTreeMap<String, String>>;

/// A facility as the three facility indicators read it.
fn facility_counts(code: IndicatorCode, f: &FacilityRow, day: NaiveDate) -> bool {
    let open = f.opened_on <= day && f.closed_on.is_none_or(|c| day < c);
    open && match code {
        IndicatorCode::HomeForDisabledCoverage => f.kind == FacilityKind::HomeForDisabled.as_str(),
        IndicatorCode::CareInstitutions => f.kind == FacilityKind::CareInstitution.as_str(),
        IndicatorCode::ChildRehabInstitutions => {
            f.kind == FacilityKind::ChildRehabInstitution.as_str() && f.standardized
        }
        _ => false,
    }
}

fn is_facility_indicator(code: IndicatorCode) -> bool {
    matches!(
        code,
        IndicatorCode::HomeForDisabledCoverage
            | IndicatorCode::CareInstitutions
            | IndicatorCode::ChildRehabInstitutions
    )
}

/// The digest of every figure of every town in `towns`.
pub fn digests(
    contributions: &Contributions,
    facilities: &[FacilityRow],
    towns: &[String],
    day: NaiveDate,
) -> Digests {
    let mut by_code: Digests = BTreeMap::new();
    for &code in IndicatorCode::ALL {
        let mut hashers: BTreeMap<&str, Sha256> =
            towns.iter().map(|t| (t.as_str(), Sha256::new())).collect();
        if is_facility_indicator(code) {
            for f in facilities.iter().filter(|f| facility_counts(code, f, day)) {
                if let Some(h) = hashers.get_mut(f.town_code.as_str()) {
                    h.update(format!("{}\n", f.public_id).as_bytes());
                }
            }
        } else {
            for c in &contributions.list {
                let Some(h) = hashers.get_mut(contributions.town_of(c)) else {
                    continue;
                };
                match c.part(code) {
                    Some(Part::Mark(m)) => h.update(format!("{}:{}\n", c.id, mark_char(m))),
                    Some(Part::Income { last, this }) => {
                        h.update(format!("{}:{last}:{this}\n", c.id))
                    }
                    None => {}
                }
            }
        }
        by_code.insert(
            code.as_str().to_owned(),
            hashers
                .into_iter()
                .map(|(t, h)| (t.to_owned(), hex::encode(h.finalize())))
                .collect(),
        );
    }
    by_code
}

/// The facilities whose rows make `code`'s figure of `town` differ between two lists (ids).
pub fn facilities_changed(
    before: &[FacilityRow],
    now: &[FacilityRow],
    code: IndicatorCode,
    town: &str,
    day: NaiveDate,
) -> Vec<String> {
    let set = |rows: &[FacilityRow]| -> Vec<String> {
        rows.iter()
            .filter(|f| f.town_code == town && facility_counts(code, f, day))
            .map(|f| f.public_id.clone())
            .collect()
    };
    let (b, a) = (set(before), set(now));
    let mut out: Vec<String> = b
        .iter()
        .filter(|x| !a.contains(x))
        .chain(a.iter().filter(|x| !b.contains(x)))
        .cloned()
        .collect();
    out.sort();
    out
}

/// One character per mark; a gap's reason is kept, so a digest changes when the reason does.
fn mark_char(mark: Mark) -> char {
    match mark {
        Mark::Out => '.',
        Mark::Covered => '+',
        Mark::Gap(reason) => match reason {
            GapReason::NoGrant => 'a',
            GapReason::GrantSuspended => 'b',
            GapReason::GrantTerminated => 'c',
            GapReason::NoEnrollmentRecord => 'd',
            GapReason::NotEnrolled => 'e',
            GapReason::NoEmploymentSpell => 'f',
            GapReason::NoHighSchoolRecord => 'g',
            GapReason::NeedWithoutService => 'h',
            GapReason::DeviceNotFitted => 'i',
            GapReason::CaseNotCompleted => 'j',
            GapReason::NoCultureService => 'k',
            GapReason::NoHomeForDisabled => 'l',
        },
    }
}

fn char_mark(c: char) -> Option<Mark> {
    Some(match c {
        '.' => Mark::Out,
        '+' => Mark::Covered,
        _ => Mark::Gap(
            GapReason::ALL
                .iter()
                .copied()
                .find(|r| mark_char(Mark::Gap(*r)) == c)?,
        ),
    })
}

/// SHA-256 of a text, in hex.
pub fn sha256_hex(text: &[u8]) -> String {
    hex::encode(Sha256::digest(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(marks: &[(IndicatorCode, Mark)], income: Option<(i64, i64)>) -> Evaluation {
        let mut all = [Mark::Out; COUNT];
        for (code, mark) in marks {
            all[code.index()] = *mark;
        }
        Evaluation { marks: all, income }
    }

    #[test]
    fn contributions_survive_storage_and_skip_who_counts_nowhere() {
        use IndicatorCode as C;
        let mut c = Contributions::new(vec!["t1".into(), "t2".into()]);
        c.push(
            3,
            "t2",
            &eval(&[(C::MedicalInsuranceRate, Mark::Covered)], None),
        );
        c.push(4, "t1", &eval(&[], None));
        c.push(
            9,
            "t1",
            &eval(
                &[(C::EmploymentRate, Mark::Gap(GapReason::NoEmploymentSpell))],
                Some((100, 120)),
            ),
        );
        assert_eq!(c.list.len(), 2);
        let text = c.encode();
        assert_eq!(
            text,
            "fenghua-contributions 1\ntowns t1 t2\n3 1 .......+...... -\n9 0 ........f..... 100/120\n"
        );
        assert_eq!(Contributions::decode(&text).unwrap(), c);
        assert!(Contributions::decode("garbage").is_err());
        for reason in GapReason::ALL {
            assert_eq!(
                char_mark(mark_char(Mark::Gap(*reason))),
                Some(Mark::Gap(*reason))
            );
        }
    }

    #[test]
    fn a_changed_part_changes_only_its_figures_digest_and_is_named() {
        use IndicatorCode as C;
        let towns = vec!["t1".to_owned(), "t2".to_owned()];
        let day = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let mut before = Contributions::new(towns.clone());
        before.push(
            1,
            "t1",
            &eval(&[(C::MedicalInsuranceRate, Mark::Covered)], None),
        );
        before.push(
            2,
            "t2",
            &eval(&[(C::MedicalInsuranceRate, Mark::Covered)], None),
        );
        // Resident 1 died before the day: it counts nowhere now.
        let mut now = Contributions::new(towns.clone());
        now.push(
            2,
            "t2",
            &eval(&[(C::MedicalInsuranceRate, Mark::Covered)], None),
        );
        let (b, n) = (
            digests(&before, &[], &towns, day),
            digests(&now, &[], &towns, day),
        );
        assert_ne!(
            b["medical_insurance_rate"]["t1"],
            n["medical_insurance_rate"]["t1"]
        );
        assert_eq!(
            b["medical_insurance_rate"]["t2"],
            n["medical_insurance_rate"]["t2"]
        );
        assert_eq!(b["employment_rate"], n["employment_rate"]);
        assert_eq!(
            before.changed(&now, C::MedicalInsuranceRate, "t1"),
            vec![(1, Some(Part::Mark(Mark::Covered)), None)]
        );
        assert!(before
            .changed(&now, C::MedicalInsuranceRate, "t2")
            .is_empty());
        assert_eq!(before.persons().get(C::MedicalInsuranceRate, "t1"), 1);
    }
}
