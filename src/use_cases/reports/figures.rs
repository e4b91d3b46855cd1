//! The figures a report file shows, who stands behind each, and which are suppressed.
//!
//! [`ReportData`] is the report exactly as `GET /api/v1/indicators` answers it, readable back
//! from a snapshot; every file format is rendered from it, so a live report and a frozen one
//! look alike. [`Suppression`] decides which town figures a file must not show.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::indicators::definition::{Comparator, IndicatorCode, IndicatorKind};
use crate::domain::indicators::rules::{Evaluation, Mark};
use crate::use_cases::indicators::{AreaRef, IndicatorResult, Report, TownFigure};

/// The report exactly as `GET /api/v1/indicators` answers it, and its parts; a snapshot stores
/// and reads back the same types.
pub type ReportData = Report;
pub type ItemData = IndicatorResult;
pub type TownData = TownFigure;
pub type AreaData = AreaRef;

impl ReportData {
    /// The area's towns: each town of the district's breakdown, or the one town.
    pub fn towns(&self) -> Vec<AreaData> {
        match self.items.first().and_then(|i| i.by_town.as_ref()) {
            Some(towns) => towns
                .iter()
                .map(|t| AreaData {
                    code: t.town_code.clone(),
                    name: t.town_name.clone(),
                })
                .collect(),
            None => vec![self.area.clone()],
        }
    }

    pub fn is_district(&self) -> bool {
        self.items.iter().any(|i| i.by_town.is_some())
    }

    /// The items as a page lists them: the binding targets that are missed first, then the
    /// rest, each group in the plan's order.
    pub fn missed_binding_first(&self) -> Vec<&ItemData> {
        let (missed, rest): (Vec<&ItemData>, Vec<&ItemData>) =
            self.items.iter().partition(|i| missed_binding(i));
        missed.into_iter().chain(rest).collect()
    }
}

/// A binding (约束性) target not met.
pub fn missed_binding(item: &ItemData) -> bool {
    item.binding && item.met == Some(false)
}

/// Whether an indicator's figure counts residents (and so can single one out).
pub fn counts_persons(code: IndicatorCode) -> bool {
    code.counts_residents() || code == IndicatorCode::IncomeGrowth
}

/// Whether a resident stands behind `code`'s figure: in its denominator (for income growth,
/// in its group: incomes of both years).
pub fn stands_behind(code: IndicatorCode, evaluation: &Evaluation) -> bool {
    if code == IndicatorCode::IncomeGrowth {
        evaluation.income.is_some()
    } else {
        evaluation.mark(code) != Mark::Out
    }
}

/// How many residents stand behind each town's figure of each indicator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Persons(BTreeMap<(IndicatorCode, String), i64>);

impl Persons {
    /// Counts one resident of `town` in every figure it stands behind.
    pub fn add(&mut self, town: &str, evaluation: &Evaluation) {
        for &code in IndicatorCode::ALL {
            if counts_persons(code) && stands_behind(code, evaluation) {
                self.add_n(code, town, 1);
            }
        }
    }

    pub fn add_n(&mut self, code: IndicatorCode, town: &str, n: i64) {
        *self.0.entry((code, town.to_owned())).or_default() += n;
    }

    pub fn get(&self, code: IndicatorCode, town: &str) -> i64 {
        self.0.get(&(code, town.to_owned())).copied().unwrap_or(0)
    }
}

/// The figures a file shows as suppressed: each `(indicator, area or town code)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suppression {
    pub threshold: i64,
    hidden: BTreeSet<(IndicatorCode, String)>,
}

/// What a suppressed cell shows.
pub const SUPPRESSED: &str = "*";

impl Suppression {
    /// A town's figure about 1 to `threshold − 1` residents is hidden. When only one town of
    /// an indicator's breakdown would be hidden, the district's total and the other towns
    /// would give it away, so the next smallest town is hidden too (or, lacking one, the
    /// total). A town's report (one town, no breakdown) hides its figure by the same rule.
    pub fn decide(report: &ReportData, persons: &Persons, threshold: i64) -> Suppression {
        let mut hidden = BTreeSet::new();
        let small = |n: i64| n >= 1 && n < threshold;
        for item in report.items.iter().filter(|i| counts_persons(i.code)) {
            let Some(towns) = &item.by_town else {
                if small(persons.get(item.code, &report.area.code)) {
                    hidden.insert((item.code, report.area.code.clone()));
                }
                continue;
            };
            let mut primary = 0;
            for t in towns {
                if small(persons.get(item.code, &t.town_code)) {
                    hidden.insert((item.code, t.town_code.clone()));
                    primary += 1;
                }
            }
            if primary == 1 {
                let next = towns
                    .iter()
                    .map(|t| (persons.get(item.code, &t.town_code), &t.town_code))
                    .filter(|(n, _)| *n >= threshold)
                    .min();
                match next {
                    Some((_, town)) => hidden.insert((item.code, town.clone())),
                    None => hidden.insert((item.code, report.area.code.clone())),
                };
            }
        }
        Suppression { threshold, hidden }
    }

    /// Whether the figure of `code` for the area or town `code_of_place` is hidden.
    pub fn hides(&self, code: IndicatorCode, place: &str) -> bool {
        self.hidden.contains(&(code, place.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.hidden.is_empty()
    }

    /// The sentence every file carries about it.
    pub fn notice(&self) -> String {
        format!(
            "小数抑制：为防止识别到个人，镇（街道）的某项指标涉及不足{}人时，其分子、分母、数值和是否达标均以“{SUPPRESSED}”代替；\
             仅一个镇（街道）被抑制时，另抑制一个人数最少的镇（街道），以免由合计推算。工作人员通过 JSON 接口查看完整数字。",
            self.threshold
        )
    }
}

/// One figure as a file shows it: the area's, or one town's.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub place_code: String,
    pub place_name: String,
    pub numerator: i64,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    pub met: Option<bool>,
    pub suppressed: bool,
}

/// An item's area figure, then its towns (when it has a breakdown).
pub fn shown(item: &ItemData, suppression: &Suppression) -> Vec<Shown> {
    let mut rows = vec![Shown {
        place_code: item.area.code.clone(),
        place_name: item.area.name.clone(),
        numerator: item.numerator,
        denominator: item.denominator,
        value: item.value,
        met: item.met,
        suppressed: suppression.hides(item.code, &item.area.code),
    }];
    for t in item.by_town.iter().flatten() {
        rows.push(Shown {
            place_code: t.town_code.clone(),
            place_name: t.town_name.clone(),
            numerator: t.numerator,
            denominator: t.denominator,
            value: t.value,
            met: t.met,
            suppressed: suppression.hides(item.code, &t.town_code),
        });
    }
    rows
}

/// 约束性 or 预期性.
pub fn attribute(binding: bool) -> &'static str {
    if binding {
        "约束性"
    } else {
        "预期性"
    }
}

/// 达标, 未达标, or a dash when it cannot be said.
pub fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "达标",
        Some(false) => "未达标",
        None => "—",
    }
}

/// The unit of an indicator's value.
pub fn unit(kind: IndicatorKind) -> &'static str {
    match kind {
        IndicatorKind::Count => "个",
        IndicatorKind::Rate | IndicatorKind::Growth => "%",
    }
}

/// `> 99%`, `≥ 1个`, `≥ GDP增速` …
pub fn requirement(item: &ItemData) -> String {
    let sign = match item.comparator {
        Comparator::Gt => ">",
        Comparator::Gte => "≥",
    };
    match (item.kind, item.target) {
        (IndicatorKind::Growth, Some(t)) => format!("{sign} {}%（GDP增速）", number(t)),
        (IndicatorKind::Growth, None) => format!("{sign} GDP增速（未录入）"),
        (kind, Some(t)) => format!("{sign} {}{}", number(t), unit(kind)),
        (_, None) => "—".to_owned(),
    }
}

/// A number without trailing zeros: 99, 66.67, 6.5.
pub fn number(x: f64) -> String {
    let text = format!("{x:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn item(code: IndicatorCode, towns: &[(&str, i64)]) -> ItemData {
        ItemData {
            code,
            name: "x".into(),
            name_en: "x".into(),
            kind: code.kind(),
            numerator: 0,
            denominator: Some(0),
            value: None,
            target: Some(99.0),
            comparator: Comparator::Gt,
            met: None,
            binding: true,
            definition_version: 1,
            as_of: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            area: AreaData {
                code: "330213".into(),
                name: "奉化区".into(),
            },
            by_town: Some(
                towns
                    .iter()
                    .map(|(t, n)| TownData {
                        town_code: t.to_string(),
                        town_name: t.to_string(),
                        numerator: 0,
                        denominator: Some(*n),
                        value: None,
                        met: None,
                    })
                    .collect(),
            ),
        }
    }

    fn report(items: Vec<ItemData>) -> (ReportData, Persons) {
        let mut persons = Persons::default();
        for i in &items {
            for t in i.by_town.iter().flatten() {
                persons.add_n(i.code, &t.town_code, t.denominator.unwrap());
            }
        }
        let report = ReportData {
            as_of: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            area: AreaData {
                code: "330213".into(),
                name: "奉化区".into(),
            },
            definition_version: 1,
            items,
        };
        (report, persons)
    }

    #[test]
    fn small_town_figures_are_hidden_and_a_lone_one_takes_the_next_smallest_along() {
        use IndicatorCode as C;
        let (r, p) = report(vec![
            item(
                C::MedicalInsuranceRate,
                &[("a", 3), ("b", 0), ("c", 7), ("d", 6)],
            ),
            item(
                C::EmploymentRate,
                &[("a", 2), ("b", 4), ("c", 50), ("d", 9)],
            ),
            item(
                C::CultureSportsCoverage,
                &[("a", 5), ("b", 0), ("c", 9), ("d", 6)],
            ),
            // Towns, not residents: never hidden.
            item(
                C::HomeForDisabledCoverage,
                &[("a", 1), ("b", 1), ("c", 1), ("d", 1)],
            ),
        ]);
        let s = Suppression::decide(&r, &p, 5);
        let hidden = |c, t| s.hides(c, t);
        assert!(hidden(C::MedicalInsuranceRate, "a"));
        assert!(
            !hidden(C::MedicalInsuranceRate, "b"),
            "nobody: nobody to single out"
        );
        assert!(
            hidden(C::MedicalInsuranceRate, "d"),
            "the next smallest goes along"
        );
        assert!(!hidden(C::MedicalInsuranceRate, "c"));
        assert!(!hidden(C::MedicalInsuranceRate, "330213"));
        assert!(hidden(C::EmploymentRate, "a") && hidden(C::EmploymentRate, "b"));
        assert!(
            !hidden(C::EmploymentRate, "d"),
            "two hidden already hide each other"
        );
        assert!(!hidden(C::CultureSportsCoverage, "a"), "5 is not below 5");
        assert!(!hidden(C::HomeForDisabledCoverage, "a"));
        assert!(Suppression::decide(&r, &p, 0).is_empty());
    }

    #[test]
    fn a_lone_small_town_without_a_partner_hides_the_total() {
        let (r, p) = report(vec![item(
            IndicatorCode::MedicalInsuranceRate,
            &[("a", 3), ("b", 0)],
        )]);
        let s = Suppression::decide(&r, &p, 5);
        assert!(s.hides(IndicatorCode::MedicalInsuranceRate, "a"));
        assert!(s.hides(IndicatorCode::MedicalInsuranceRate, "330213"));
    }

    #[test]
    fn missed_binding_targets_come_first_in_plan_order() {
        use IndicatorCode as C;
        let mut a = item(C::LivingSubsidyCoverage, &[]);
        a.met = Some(true);
        let mut b = item(C::PensionInsuranceRate, &[]);
        b.met = Some(false);
        b.binding = false;
        let mut c = item(C::HighSchoolEducationRate, &[]);
        c.met = Some(false);
        let mut d = item(C::HomeModificationRate, &[]);
        d.met = Some(false);
        let (r, _) = report(vec![a, b, c, d]);
        let order: Vec<IndicatorCode> = r.missed_binding_first().iter().map(|i| i.code).collect();
        assert_eq!(
            order,
            vec![
                C::HighSchoolEducationRate,
                C::HomeModificationRate,
                C::LivingSubsidyCoverage,
                C::PensionInsuranceRate
            ]
        );
    }

    #[test]
    fn numbers_drop_trailing_zeros() {
        assert_eq!(number(99.0), "99");
        assert_eq!(number(66.67), "66.67");
        assert_eq!(number(6.5), "6.5");
        assert_eq!(number(-0.001), "0");
    }
}
