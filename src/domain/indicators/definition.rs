//! What each indicator is: name, kind, target and comparator, the plan's attribute (binding or
//! expected), and its parameters (age range, window, subsidy policy). A version of all 14 is
//! published as one set with the day it takes effect.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::eligibility::SubsidyKind;
use crate::error::FieldError;

crate::code_enum! {
    /// The plan's indicators, in the order of its table.
    pub enum IndicatorCode: "indicator" {
        IncomeGrowth = "income_growth", "残疾人家庭人均收入年均增速";
        LivingSubsidyCoverage = "living_subsidy_coverage", "困难残疾人生活补贴覆盖率";
        NursingSubsidyCoverage = "nursing_subsidy_coverage", "重度残疾人护理补贴覆盖率";
        HomeForDisabledCoverage = "home_for_disabled_coverage", "“残疾人之家”覆盖率";
        CareInstitutions = "care_institutions", "残疾人专业托养机构";
        ChildRehabInstitutions = "child_rehab_institutions", "规范化残疾儿童康复机构";
        PensionInsuranceRate = "pension_insurance_rate", "残疾人城乡居民基本养老保险参保率";
        MedicalInsuranceRate = "medical_insurance_rate", "残疾人城乡居民基本医疗保险参保率";
        EmploymentRate = "employment_rate", "残疾人就业率";
        HighSchoolEducationRate = "high_school_education_rate", "残疾学生接受高中阶段教育比例";
        RehabServiceCoverage = "rehab_service_coverage", "残疾人基本康复服务覆盖率";
        AssistiveDeviceFittingRate = "assistive_device_fitting_rate", "残疾人辅助器具适配率";
        HomeModificationRate = "home_modification_rate", "符合条件残疾人家庭无障碍改造率";
        CultureSportsCoverage = "culture_sports_coverage", "残疾人文体服务覆盖率";
    }
}

crate::code_enum! {
    pub enum IndicatorKind: "indicator_kind" {
        Rate = "rate", "比率";
        Count = "count", "数量";
        Growth = "growth", "增速";
    }
}

crate::code_enum! {
    pub enum Comparator: "comparator" {
        Gt = "gt", "高于";
        Gte = "gte", "不低于";
    }
}

crate::code_enum! {
    /// The period in which an event counts, ending on the as-of day.
    pub enum Window: "indicator_window" {
        YearToDate = "year_to_date", "本年1月1日至统计日";
    }
}

crate::code_enum! {
    pub enum DefinitionStatus: "definition_status" {
        Scheduled = "scheduled", "待生效";
        InEffect = "in_effect", "生效中";
        Superseded = "superseded", "已被新版本取代";
        Withdrawn = "withdrawn", "已撤回";
    }
}

/// The number of indicators; arrays indexed by [`IndicatorCode::index`] have this length.
pub const COUNT: usize = 14;

impl IndicatorCode {
    pub fn index(self) -> usize {
        self as usize
    }

    /// The kind an indicator's figure is; a definition cannot change it.
    pub fn kind(self) -> IndicatorKind {
        match self {
            IndicatorCode::IncomeGrowth => IndicatorKind::Growth,
            IndicatorCode::CareInstitutions | IndicatorCode::ChildRehabInstitutions => {
                IndicatorKind::Count
            }
            _ => IndicatorKind::Rate,
        }
    }

    /// The subsidy whose policy decides who the indicator counts.
    pub fn subsidy(self) -> Option<SubsidyKind> {
        match self {
            IndicatorCode::LivingSubsidyCoverage => Some(SubsidyKind::Living),
            IndicatorCode::NursingSubsidyCoverage => Some(SubsidyKind::Nursing),
            _ => None,
        }
    }

    /// Whether the indicator counts residents (and so has a list of those not covered).
    pub fn counts_residents(self) -> bool {
        self.kind() == IndicatorKind::Rate && self != IndicatorCode::HomeForDisabledCoverage
    }

    /// Whether a gap list exists: every rate (for the homes for the disabled, of towns).
    pub fn has_gap_list(self) -> bool {
        self.kind() == IndicatorKind::Rate
    }
}

/// One indicator's definition in a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub code: IndicatorCode,
    pub name: String,
    pub name_en: String,
    pub kind: IndicatorKind,
    pub comparator: Comparator,
    /// A percentage for rates, a number for counts; for growth `None`: the district's GDP
    /// growth of the year is the target.
    pub target: Option<f64>,
    /// 约束性 (binding) rather than 预期性 (expected).
    pub binding: bool,
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    pub window: Option<Window>,
    pub subsidy: Option<SubsidyKind>,
}

impl Definition {
    /// Whether a resident of `age` is in the indicator's age range.
    pub fn admits_age(&self, age: u32) -> bool {
        self.age_min.is_none_or(|min| age >= min) && self.age_max.is_none_or(|max| age <= max)
    }
}

/// A published version of the 14 definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionSet {
    pub id: String,
    pub version: i32,
    pub effective_from: NaiveDate,
    /// Indexed by [`IndicatorCode::index`].
    pub definitions: Vec<Definition>,
    pub withdrawn: bool,
}

impl DefinitionSet {
    pub fn get(&self, code: IndicatorCode) -> &Definition {
        &self.definitions[code.index()]
    }
}

/// The version in force on `day`: the latest not withdrawn that took effect on or before it.
pub fn in_force(sets: &[DefinitionSet], day: NaiveDate) -> Option<&DefinitionSet> {
    sets.iter()
        .filter(|s| !s.withdrawn && s.effective_from <= day)
        .max_by_key(|s| (s.effective_from, s.version))
}

/// How a version stands on `today`.
pub fn status(sets: &[DefinitionSet], set: &DefinitionSet, today: NaiveDate) -> DefinitionStatus {
    if set.withdrawn {
        DefinitionStatus::Withdrawn
    } else if set.effective_from > today {
        DefinitionStatus::Scheduled
    } else if in_force(sets, today).is_some_and(|s| s.version == set.version) {
        DefinitionStatus::InEffect
    } else {
        DefinitionStatus::Superseded
    }
}

/// Checks a submitted list of definitions and orders it by code: every indicator exactly once,
/// with its own kind and subsidy, a target in range, and a sensible age range.
pub fn check(definitions: Vec<Definition>) -> Result<Vec<Definition>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut slots: Vec<Option<Definition>> = vec![None; COUNT];
    for (i, d) in definitions.into_iter().enumerate() {
        let field = |name: &str| format!("indicators[{i}].{name}");
        if slots[d.code.index()].is_some() {
            errors.push(FieldError::new(
                field("code"),
                "duplicate",
                "each indicator is defined once",
            ));
            continue;
        }
        if d.kind != d.code.kind() {
            errors.push(FieldError::new(
                field("kind"),
                "invalid",
                format!("{} is a {} indicator", d.code, d.code.kind()),
            ));
        }
        if d.subsidy != d.code.subsidy() {
            errors.push(FieldError::new(
                field("subsidy"),
                "invalid",
                "the subsidy of an indicator is fixed by its code",
            ));
        }
        let mut d = d;
        for (name, text) in [("name", &mut d.name), ("name_en", &mut d.name_en)] {
            match crate::domain::text::clean(text) {
                Ok(cleaned) => *text = cleaned,
                Err(forbidden) => {
                    errors.push(forbidden.field_error(field(name)));
                    continue;
                }
            }
            let length = text.chars().count();
            if length == 0 || length > 100 {
                errors.push(
                    FieldError::new(field(name), "invalid", "1 to 100 characters")
                        .with_param("max", 100),
                );
            }
        }
        let target_ok = match (d.kind, d.target) {
            (IndicatorKind::Rate, Some(t)) => (0.0..=100.0).contains(&t),
            (IndicatorKind::Count, Some(t)) => t >= 0.0 && t.fract() == 0.0 && t <= 1e6,
            (IndicatorKind::Growth, None) => true,
            _ => false,
        };
        if !target_ok {
            errors.push(FieldError::new(
                field("target"),
                "out_of_range",
                "a rate's target is a percentage from 0 to 100, a count's a whole number; growth \
                 has none (the year's GDP growth is its target)",
            ));
        }
        let age_ok = |a: Option<u32>| a.is_none_or(|a| a <= 120);
        if !age_ok(d.age_min) || !age_ok(d.age_max) {
            errors.push(FieldError::new(
                field("age_min"),
                "out_of_range",
                "ages are 0 to 120",
            ));
        } else if matches!((d.age_min, d.age_max), (Some(min), Some(max)) if min > max) {
            errors.push(FieldError::new(
                field("age_max"),
                "before_min",
                "must not be below age_min",
            ));
        }
        let code = d.code;
        slots[code.index()] = Some(d);
    }
    for code in IndicatorCode::ALL {
        if slots[code.index()].is_none() {
            errors.push(FieldError::new(
                "indicators",
                "missing_indicator",
                format!("{code} is not defined"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(slots.into_iter().flatten().collect())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> Vec<Definition> {
        let body = include_str!("../../../migrations/sqlite/2026-12-01-000005_indicators/up.sql");
        let start = body.find("'[{").expect("the seeded body") + 1;
        let end = body[start..].find("}]'").expect("its end") + start + 2;
        serde_json::from_str(&body[start..end]).expect("the seeded definitions parse")
    }

    #[test]
    fn the_seeded_version_defines_every_indicator_in_table_order() {
        let checked = check(seeded()).expect("valid");
        let codes: Vec<_> = checked.iter().map(|d| d.code).collect();
        assert_eq!(codes, IndicatorCode::ALL);
        assert_eq!(
            checked[IndicatorCode::EmploymentRate.index()].age_min,
            Some(16)
        );
    }

    #[test]
    fn a_missing_duplicate_or_rekinded_indicator_is_refused() {
        let mut list = seeded();
        list.pop();
        let dup = list[1].clone();
        list.push(dup);
        list[0].kind = IndicatorKind::Rate;
        let errors = check(list).unwrap_err();
        let codes: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert!(
            codes.contains(&("indicators[0].kind", "invalid")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("indicators[13].code", "duplicate")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("indicators", "missing_indicator")),
            "{codes:?}"
        );
    }

    #[test]
    fn the_version_in_force_skips_withdrawn_and_future_ones() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let set = |version: i32, from: &str, withdrawn| DefinitionSet {
            id: version.to_string(),
            version,
            effective_from: day(from),
            definitions: Vec::new(),
            withdrawn,
        };
        let sets = [
            set(1, "2021-01-01", false),
            set(2, "2024-01-01", false),
            set(3, "2025-01-01", true),
            set(4, "2027-01-01", false),
        ];
        assert_eq!(in_force(&sets, day("2023-12-31")).unwrap().version, 1);
        assert_eq!(in_force(&sets, day("2025-06-01")).unwrap().version, 2);
        assert!(in_force(&sets, day("2020-12-31")).is_none());
        let today = day("2026-12-01");
        assert_eq!(status(&sets, &sets[0], today), DefinitionStatus::Superseded);
        assert_eq!(status(&sets, &sets[1], today), DefinitionStatus::InEffect);
        assert_eq!(status(&sets, &sets[2], today), DefinitionStatus::Withdrawn);
        assert_eq!(status(&sets, &sets[3], today), DefinitionStatus::Scheduled);
    }
}
