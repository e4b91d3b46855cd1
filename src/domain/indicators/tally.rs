//! Adding residents' contributions up by town, and turning counts into figures.

use serde::Serialize;

use super::definition::{Comparator, Definition, IndicatorCode, IndicatorKind, COUNT};
use super::rules::{Evaluation, Mark};

/// A numerator over a denominator. For income growth: the sum of this year's per-capita
/// incomes over the sum of last year's, of the same residents, in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub numerator: i64,
    pub denominator: i64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.numerator += other.numerator;
        self.denominator += other.denominator;
    }
}

/// Counts per town (by the index of the town in the report's list) for every indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    towns: Vec<[Counts; COUNT]>,
}

impl Tally {
    pub fn new(towns: usize) -> Self {
        Tally {
            towns: vec![[Counts::default(); COUNT]; towns],
        }
    }

    /// Adds one resident's evaluation to its town.
    pub fn add(&mut self, town: usize, evaluation: &Evaluation) {
        let cells = &mut self.towns[town];
        for (cell, mark) in cells.iter_mut().zip(evaluation.marks.iter()) {
            match mark {
                Mark::Out => {}
                Mark::Covered => {
                    cell.numerator += 1;
                    cell.denominator += 1;
                }
                Mark::Gap(_) => cell.denominator += 1,
            }
        }
        if let Some((last_year, this_year)) = evaluation.income {
            cells[IndicatorCode::IncomeGrowth.index()].add(Counts {
                numerator: this_year,
                denominator: last_year,
            });
        }
    }

    /// Sets a town's counts of an indicator not made of residents (facilities).
    pub fn set(&mut self, town: usize, code: IndicatorCode, counts: Counts) {
        self.towns[town][code.index()] = counts;
    }

    pub fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in self.towns.iter_mut().zip(other.towns.iter()) {
            for (a, b) in mine.iter_mut().zip(theirs.iter()) {
                a.add(*b);
            }
        }
    }

    pub fn town(&self, town: usize, code: IndicatorCode) -> Counts {
        self.towns[town][code.index()]
    }

    /// The counts of an indicator over the given towns.
    pub fn over(&self, towns: &[usize], code: IndicatorCode) -> Counts {
        let mut total = Counts::default();
        for &t in towns {
            total.add(self.town(t, code));
        }
        total
    }
}

/// An indicator's figure: the counts, the value, and whether it meets the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub numerator: i64,
    /// `None` for a count.
    pub denominator: Option<i64>,
    /// A rate or growth as a percentage rounded to two decimals, a count as itself; `None`
    /// when the denominator is zero.
    pub value: Option<f64>,
    /// `None` when there is no value or no target.
    pub met: Option<bool>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The figure of `counts` under `definition`, against `target` (the definition's, or for
/// growth the year's GDP growth). Whether the target is met is decided on the exact ratio, not
/// on the rounded value, so 98.996 % does not pass "≥ 99 %".
pub fn figure(definition: &Definition, target: Option<f64>, counts: Counts) -> Figure {
    let Counts {
        numerator,
        denominator,
    } = counts;
    let compare = |lhs: f64, rhs: f64| match definition.comparator {
        Comparator::Gt => lhs > rhs,
        Comparator::Gte => lhs >= rhs,
    };
    match definition.kind {
        IndicatorKind::Count => Figure {
            numerator,
            denominator: None,
            value: Some(numerator as f64),
            met: target.map(|t| compare(numerator as f64, t)),
        },
        IndicatorKind::Rate => {
            let value =
                (denominator > 0).then(|| round2(100.0 * numerator as f64 / denominator as f64));
            Figure {
                numerator,
                denominator: Some(denominator),
                value,
                met: value
                    .and(target)
                    .map(|t| compare(100.0 * numerator as f64, t * denominator as f64)),
            }
        }
        IndicatorKind::Growth => {
            let exact = (denominator > 0)
                .then(|| 100.0 * (numerator as f64 - denominator as f64) / denominator as f64);
            Figure {
                numerator,
                denominator: Some(denominator),
                value: exact.map(round2),
                met: exact.zip(target).map(|(v, t)| compare(v, t)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::indicators::definition::Window;

    fn rate(comparator: Comparator, target: f64) -> Definition {
        Definition {
            code: IndicatorCode::MedicalInsuranceRate,
            name: "x".into(),
            name_en: "x".into(),
            kind: IndicatorKind::Rate,
            comparator,
            target: Some(target),
            binding: false,
            age_min: None,
            age_max: None,
            window: Some(Window::YearToDate),
            subsidy: None,
        }
    }

    fn counts(numerator: i64, denominator: i64) -> Counts {
        Counts {
            numerator,
            denominator,
        }
    }

    #[test]
    fn a_rate_is_met_on_its_exact_value() {
        let gt99 = rate(Comparator::Gt, 99.0);
        let f = figure(&gt99, gt99.target, counts(99, 100));
        assert_eq!((f.value, f.met), (Some(99.0), Some(false)));
        let f = figure(&gt99, gt99.target, counts(9_901, 10_000));
        assert_eq!((f.value, f.met), (Some(99.01), Some(true)));
        let gte99 = rate(Comparator::Gte, 99.0);
        // 98.996 % shows as 99.0 but does not reach 99 %.
        let f = figure(&gte99, gte99.target, counts(24_749, 25_000));
        assert_eq!((f.value, f.met), (Some(99.0), Some(false)));
        let f = figure(&gte99, gte99.target, counts(0, 0));
        assert_eq!((f.value, f.met), (None, None));
    }

    #[test]
    fn growth_compares_with_the_years_gdp_growth() {
        let mut d = rate(Comparator::Gte, 0.0);
        d.kind = IndicatorKind::Growth;
        d.target = None;
        let f = figure(&d, Some(6.5), counts(106_500, 100_000));
        assert_eq!((f.value, f.met), (Some(6.5), Some(true)));
        let f = figure(&d, None, counts(106_000, 100_000));
        assert_eq!((f.value, f.met), (Some(6.0), None));
    }
}
