//! Each resident indicator's rule, as one function of one resident's facts on one day.
//!
//! [`evaluate`] takes everything the registry knows of a resident that the indicators look at
//! and says, for every indicator, whether the resident is in its denominator and, if so, covered
//! or not and why not. Reports add these up ([`super::tally`]); gap lists keep the residents
//! marked [`Mark::Gap`]. [`reconcile`] compares the two subsidies as decided with the grants
//! paid. The date rules are DESIGN §4's: a start counts from its day, an end (`end_on`,
//! `valid_until`) is the last day that counts, a death, move-out, cancellation, termination or
//! suspension takes effect on its day.

use chrono::{Datelike, Months, NaiveDate};

use super::definition::{DefinitionSet, IndicatorCode, Window, COUNT};
use crate::domain::eligibility::{
    decide, GrantFact, GrantStatus, Policy, Reason, ResidentFacts, Span, SubsidyKind,
};

crate::code_enum! {
    /// Why a resident in an indicator's denominator is not in its numerator.
    pub enum GapReason: "gap_reason" {
        NoGrant = "no_grant", "未发放补贴";
        GrantSuspended = "grant_suspended", "补贴已暂停";
        GrantTerminated = "grant_terminated", "补贴已终止";
        NoEnrollmentRecord = "no_enrollment_record", "无参保记录";
        NotEnrolled = "not_enrolled", "未参保";
        NoEmploymentSpell = "no_employment_spell", "未就业";
        NoHighSchoolRecord = "no_high_school_record", "无高中阶段教育记录";
        NeedWithoutService = "need_without_service", "有康复需求未获服务";
        DeviceNotFitted = "device_not_fitted", "辅助器具未适配";
        CaseNotCompleted = "case_not_completed", "无障碍改造未完成";
        NoCultureService = "no_culture_service", "未获文体服务";
        NoHomeForDisabled = "no_home_for_disabled", "无“残疾人之家”";
    }
}

crate::code_enum! {
    pub enum Finding: "reconciliation_finding" {
        EligibleNotPaid = "eligible_not_paid", "符合条件未发放";
        PaidNotEligible = "paid_not_eligible", "发放中但不符合条件";
    }
}

crate::code_enum! {
    /// Why a subsidy paid is not due, or a subsidy due is not paid.
    pub enum MismatchReason: "reconciliation_reason" {
        NoGrant = "no_grant", "未发放补贴";
        GrantSuspended = "grant_suspended", "补贴已暂停";
        GrantTerminated = "grant_terminated", "补贴已终止";
        Deceased = "deceased", "已故";
        MovedOut = "moved_out", "已迁出";
        CertificateExpired = "certificate_expired", "残疾人证已过期";
        CertificateCancelled = "certificate_cancelled", "残疾人证已注销";
        NoCertificate = "no_certificate", "无有效残疾人证";
        HouseholdStatusChanged = "household_status_changed", "家庭经济状况已变化";
        GradeChanged = "grade_changed", "残疾等级不在范围内";
        ExcludedTekun = "excluded_tekun", "特困供养人员不享受";
        WorkInjuryNursing = "work_injury_nursing", "已享受工伤护理费";
        NoPolicy = "no_policy", "该日期无有效政策";
    }
}

/// Which insurance a per-year record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insurance {
    Pension,
    Medical,
}

/// A dated record of the file, as the indicators see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    RehabNeed(NaiveDate),
    RehabService(NaiveDate),
    DeviceNeed {
        needed_on: NaiveDate,
        fitted_on: Option<NaiveDate>,
    },
    Employment(Span),
    /// `high_school` for the high-school stage or beyond (普通高中, 中职, 高等教育).
    Education {
        high_school: bool,
        span: Span,
    },
    Insurance {
        year: i32,
        kind: Insurance,
        enrolled: bool,
    },
    Culture(NaiveDate),
    Income {
        year: i32,
        per_capita_fen: i64,
    },
}

/// A barrier-free home modification case, by its dated steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The day it was assessed eligible (`None`: not assessed, or ineligible).
    pub eligible_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    pub cancelled_on: Option<NaiveDate>,
}

/// One resident's facts that the indicators read.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub birth_date: NaiveDate,
    pub work_capacity: Option<bool>,
    /// Death, move-out, certificates, household status and work-injury nursing, as the
    /// subsidy rules read them.
    pub facts: ResidentFacts,
    pub grants: Vec<GrantFact>,
    pub records: Vec<Record>,
    pub cases: Vec<Case>,
}

/// Where a resident stands in one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Not in the denominator.
    Out,
    Covered,
    Gap(GapReason),
}

impl Mark {
    fn of(covered: bool, reason: GapReason) -> Mark {
        if covered {
            Mark::Covered
        } else {
            Mark::Gap(reason)
        }
    }
}

/// What the indicators need to know besides the resident: the day, the definitions in force,
/// and the subsidy policies in force on that day.
pub struct Context<'a> {
    pub day: NaiveDate,
    pub definitions: &'a DefinitionSet,
    pub living: Option<&'a Policy>,
    pub nursing: Option<&'a Policy>,
}

impl Context<'_> {
    /// The first day on which an event counts for `code`.
    fn window_start(&self, code: IndicatorCode) -> NaiveDate {
        match self.definitions.get(code).window {
            Some(Window::YearToDate) => first_of_year(self.day),
            None => NaiveDate::MIN,
        }
    }

    /// The first day on which any indicator counts an event: where a reader of the dated
    /// records must start.
    pub fn earliest_window_start(&self) -> NaiveDate {
        [
            IndicatorCode::RehabServiceCoverage,
            IndicatorCode::AssistiveDeviceFittingRate,
            IndicatorCode::CultureSportsCoverage,
        ]
        .into_iter()
        .map(|code| self.window_start(code))
        .min()
        .expect("three indicators")
    }

    fn in_window(&self, code: IndicatorCode, on: NaiveDate) -> bool {
        self.window_start(code) <= on && on <= self.day
    }

    fn policy(&self, kind: SubsidyKind) -> Option<&Policy> {
        match kind {
            SubsidyKind::Living => self.living,
            SubsidyKind::Nursing => self.nursing,
        }
    }
}

fn first_of_year(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("1 January exists")
}

/// The first day of the month after `day`'s.
fn first_of_next_month(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).expect("day 1 exists");
    first + Months::new(1)
}

/// Age at `day` in completed years.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

/// A resident's contribution to every indicator on the context's day, indexed by
/// [`IndicatorCode::index`], and to income growth the pair of (last year's, this year's)
/// per-capita household income when both are recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub marks: [Mark; COUNT],
    pub income: Option<(i64, i64)>,
}

impl Evaluation {
    pub fn mark(&self, code: IndicatorCode) -> Mark {
        self.marks[code.index()]
    }
}

/// Every resident indicator for one resident on one day. Outside the base population P(D)
/// (dead, moved out, or no valid certificate that day) the resident counts nowhere.
pub fn evaluate(person: &Person, ctx: &Context) -> Evaluation {
    use IndicatorCode as C;
    let mut marks = [Mark::Out; COUNT];
    let day = ctx.day;
    if person.facts.base_population(day).is_err() {
        return Evaluation {
            marks,
            income: None,
        };
    }
    let age = age_on(person.birth_date, day);
    let admits = |code: IndicatorCode| ctx.definitions.get(code).admits_age(age);
    let records = &person.records;

    for code in [C::LivingSubsidyCoverage, C::NursingSubsidyCoverage] {
        let kind = code.subsidy().expect("a subsidy indicator");
        if admits(code) && decide(&person.facts, kind, ctx.policy(kind), day).eligible {
            marks[code.index()] = match grant_gap(person, kind, day) {
                None => Mark::Covered,
                Some(reason) => Mark::Gap(reason),
            };
        }
    }

    let year = day.year();
    let insured = |kind: Insurance| {
        let record = records.iter().find_map(|r| match r {
            Record::Insurance {
                year: y,
                kind: k,
                enrolled,
            } if *y == year && *k == kind => Some(*enrolled),
            _ => None,
        });
        match record {
            Some(true) => Mark::Covered,
            Some(false) => Mark::Gap(GapReason::NotEnrolled),
            None => Mark::Gap(GapReason::NoEnrollmentRecord),
        }
    };
    let in_education = records
        .iter()
        .any(|r| matches!(r, Record::Education { span, .. } if span.contains(day)));
    if admits(C::PensionInsuranceRate) && !in_education {
        marks[C::PensionInsuranceRate.index()] = insured(Insurance::Pension);
    }
    if admits(C::MedicalInsuranceRate) {
        marks[C::MedicalInsuranceRate.index()] = insured(Insurance::Medical);
    }

    if admits(C::EmploymentRate) && person.work_capacity == Some(true) {
        let employed = records
            .iter()
            .any(|r| matches!(r, Record::Employment(span) if span.contains(day)));
        marks[C::EmploymentRate.index()] = Mark::of(employed, GapReason::NoEmploymentSpell);
    }

    if admits(C::HighSchoolEducationRate) {
        let reached = records.iter().any(
            |r| matches!(r, Record::Education { high_school: true, span } if span.start <= day),
        );
        marks[C::HighSchoolEducationRate.index()] =
            Mark::of(reached, GapReason::NoHighSchoolRecord);
    }

    let rehab = C::RehabServiceCoverage;
    let needs_rehab = records
        .iter()
        .any(|r| matches!(r, Record::RehabNeed(on) if ctx.in_window(rehab, *on)));
    if admits(rehab) && needs_rehab {
        let served = records
            .iter()
            .any(|r| matches!(r, Record::RehabService(on) if ctx.in_window(rehab, *on)));
        marks[rehab.index()] = Mark::of(served, GapReason::NeedWithoutService);
    }

    let devices = C::AssistiveDeviceFittingRate;
    let mut device_needs = records.iter().filter_map(|r| match r {
        Record::DeviceNeed {
            needed_on,
            fitted_on,
        } if ctx.in_window(devices, *needed_on) => Some(fitted_on.is_some_and(|f| f <= day)),
        _ => None,
    });
    if admits(devices) {
        if let Some(first) = device_needs.next() {
            let all_fitted = first && device_needs.all(|fitted| fitted);
            marks[devices.index()] = Mark::of(all_fitted, GapReason::DeviceNotFitted);
        }
    }

    let open_cases: Vec<&Case> = person
        .cases
        .iter()
        .filter(|c| c.eligible_on.is_some_and(|e| e <= day))
        .filter(|c| c.cancelled_on.is_none_or(|on| on > day))
        .collect();
    if admits(C::HomeModificationRate) && !open_cases.is_empty() {
        let all_done = open_cases
            .iter()
            .all(|c| c.completed_on.is_some_and(|d| d <= day));
        marks[C::HomeModificationRate.index()] = Mark::of(all_done, GapReason::CaseNotCompleted);
    }

    let culture = C::CultureSportsCoverage;
    if admits(culture) {
        let served = records
            .iter()
            .any(|r| matches!(r, Record::Culture(on) if ctx.in_window(culture, *on)));
        marks[culture.index()] = Mark::of(served, GapReason::NoCultureService);
    }

    let income_of = |y: i32| {
        records.iter().find_map(|r| match r {
            Record::Income {
                year,
                per_capita_fen,
            } if *year == y => Some(*per_capita_fen),
            _ => None,
        })
    };
    let income = if admits(C::IncomeGrowth) {
        income_of(year - 1).zip(income_of(year))
    } else {
        None
    };
    Evaluation { marks, income }
}

/// Why a resident has no grant of `kind` paying on `day`, or `None` when one pays.
fn grant_gap(person: &Person, kind: SubsidyKind, day: NaiveDate) -> Option<GapReason> {
    let statuses: Vec<GrantStatus> = person
        .grants
        .iter()
        .filter(|g| g.kind == kind)
        .map(|g| g.status_on(day))
        .collect();
    if statuses.contains(&GrantStatus::Active) {
        None
    } else if statuses.contains(&GrantStatus::Suspended) {
        Some(GapReason::GrantSuspended)
    } else if statuses.contains(&GrantStatus::Terminated) {
        Some(GapReason::GrantTerminated)
    } else {
        Some(GapReason::NoGrant)
    }
}

/// Compares one subsidy as the rules decide it with the grants paid on the context's day
/// ("一个不多，一个不少"). A grant still paying in the month of a death, move-out or other
/// change is not flagged when its termination is already recorded to take effect by the first
/// day of the next month: that month is due.
pub fn reconcile(
    person: &Person,
    kind: SubsidyKind,
    ctx: &Context,
) -> Option<(Finding, Vec<MismatchReason>)> {
    let day = ctx.day;
    let decision = decide(&person.facts, kind, ctx.policy(kind), day);
    let paying: Vec<&GrantFact> = person
        .grants
        .iter()
        .filter(|g| g.kind == kind && g.status_on(day) == GrantStatus::Active)
        .collect();
    if decision.eligible {
        return grant_gap(person, kind, day)
            .map(|reason| (Finding::EligibleNotPaid, vec![gap_to_mismatch(reason)]));
    }
    let ending = first_of_next_month(day);
    let unhandled = paying
        .iter()
        .any(|g| g.terminated_on.is_none_or(|t| t > ending));
    if !unhandled {
        return None;
    }
    let reasons = decision
        .reasons
        .iter()
        .filter_map(|r| match r {
            Reason::NoPolicy => Some(MismatchReason::NoPolicy),
            Reason::Deceased => Some(MismatchReason::Deceased),
            Reason::MovedOut => Some(MismatchReason::MovedOut),
            Reason::NoValidCertificate => Some(certificate_reason(&person.facts, day)),
            Reason::HouseholdStatusNotQualifying => Some(MismatchReason::HouseholdStatusChanged),
            Reason::ExcludedHouseholdStatus => Some(MismatchReason::ExcludedTekun),
            Reason::GradeNotCovered => Some(MismatchReason::GradeChanged),
            Reason::WorkInjuryNursingAllowance => Some(MismatchReason::WorkInjuryNursing),
            Reason::HouseholdStatusQualifies
            | Reason::GradeQualifies
            | Reason::ExtensionApplies => None,
        })
        .collect();
    Some((Finding::PaidNotEligible, reasons))
}

fn gap_to_mismatch(reason: GapReason) -> MismatchReason {
    match reason {
        GapReason::GrantSuspended => MismatchReason::GrantSuspended,
        GapReason::GrantTerminated => MismatchReason::GrantTerminated,
        _ => MismatchReason::NoGrant,
    }
}

/// Why no certificate is valid on `day`: the latest issued by then was cancelled, or expired.
fn certificate_reason(facts: &ResidentFacts, day: NaiveDate) -> MismatchReason {
    let latest = facts
        .certificates
        .iter()
        .filter(|c| c.issued_on <= day)
        .max_by_key(|c| c.issued_on);
    match latest {
        Some(c) if c.cancelled_on.is_some_and(|on| on <= day) => {
            MismatchReason::CertificateCancelled
        }
        Some(c) if c.valid_until < day => MismatchReason::CertificateExpired,
        _ => MismatchReason::NoCertificate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::certificate::Category;
    use crate::domain::eligibility::{CertificateFact, LivingRules, NursingRules, Rules};
    use crate::domain::indicators::definition::Definition;
    use crate::domain::resident::HouseholdStatus;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn definitions() -> DefinitionSet {
        let body = include_str!("../../../migrations/sqlite/2026-12-01-000005_indicators/up.sql");
        let start = body.find("'[{").unwrap() + 1;
        let end = body[start..].find("}]'").unwrap() + start + 2;
        let list: Vec<Definition> = serde_json::from_str(&body[start..end]).unwrap();
        DefinitionSet {
            id: "v1".into(),
            version: 1,
            effective_from: day("2021-01-01"),
            definitions: super::super::definition::check(list).unwrap(),
            withdrawn: false,
        }
    }

    fn policies() -> (Policy, Policy) {
        let living = Policy {
            id: "l".into(),
            kind: SubsidyKind::Living,
            effective_from: day("2021-01-01"),
            monthly_amount_fen: 30_000,
            rules: Rules::Living(LivingRules {
                household_statuses: vec![HouseholdStatus::Dibao],
                excluded_household_statuses: vec![HouseholdStatus::Tekun],
            }),
        };
        let nursing = Policy {
            id: "n".into(),
            kind: SubsidyKind::Nursing,
            effective_from: day("2021-01-01"),
            monthly_amount_fen: 30_000,
            rules: Rules::Nursing(NursingRules {
                grades: vec![1, 2],
                extension: None,
                excluded_household_statuses: vec![HouseholdStatus::Tekun],
                exclude_work_injury_nursing: true,
            }),
        };
        (living, nursing)
    }

    /// Born 1980-05-10, grade 1 physical since 2020, dibao since 2020, able to work.
    fn person() -> Person {
        Person {
            birth_date: day("1980-05-10"),
            work_capacity: Some(true),
            facts: ResidentFacts {
                certificates: vec![CertificateFact {
                    category: Category::Physical,
                    components: Vec::new(),
                    grade: 1,
                    issued_on: day("2020-01-01"),
                    valid_until: day("2029-12-31"),
                    cancelled_on: None,
                }],
                household: vec![(
                    HouseholdStatus::Dibao,
                    Span {
                        start: day("2020-01-01"),
                        end: None,
                    },
                )],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn marks_on(p: &Person, on: &str) -> Evaluation {
        let defs = definitions();
        let (living, nursing) = policies();
        evaluate(
            p,
            &Context {
                day: day(on),
                definitions: &defs,
                living: Some(&living),
                nursing: Some(&nursing),
            },
        )
    }

    #[test]
    fn outside_the_base_population_a_resident_counts_nowhere() {
        let mut p = person();
        p.facts.deceased_on = Some(day("2024-03-01"));
        let before = marks_on(&p, "2024-02-29");
        assert_eq!(
            before.mark(IndicatorCode::MedicalInsuranceRate),
            Mark::Gap(GapReason::NoEnrollmentRecord)
        );
        let on_the_day = marks_on(&p, "2024-03-01");
        assert!(on_the_day.marks.iter().all(|m| *m == Mark::Out));
    }

    #[test]
    fn a_grant_covers_while_active_and_says_why_not_otherwise() {
        let mut p = person();
        let living = IndicatorCode::LivingSubsidyCoverage;
        assert_eq!(
            marks_on(&p, "2024-06-30").mark(living),
            Mark::Gap(GapReason::NoGrant)
        );
        p.grants.push(GrantFact {
            kind: SubsidyKind::Living,
            start_month: day("2024-07-01"),
            terminated_on: Some(day("2025-03-01")),
            suspensions: vec![Span {
                start: day("2024-10-15"),
                end: Some(day("2024-10-31")),
            }],
        });
        assert_eq!(
            marks_on(&p, "2024-06-30").mark(living),
            Mark::Gap(GapReason::NoGrant)
        );
        assert_eq!(marks_on(&p, "2024-07-01").mark(living), Mark::Covered);
        assert_eq!(
            marks_on(&p, "2024-10-31").mark(living),
            Mark::Gap(GapReason::GrantSuspended)
        );
        assert_eq!(marks_on(&p, "2024-11-01").mark(living), Mark::Covered);
        assert_eq!(marks_on(&p, "2025-02-28").mark(living), Mark::Covered);
        assert_eq!(
            marks_on(&p, "2025-03-01").mark(living),
            Mark::Gap(GapReason::GrantTerminated)
        );
    }

    #[test]
    fn ages_are_completed_years_and_ranges_inclusive() {
        assert_eq!(age_on(day("2008-07-01"), day("2024-06-30")), 15);
        assert_eq!(age_on(day("2008-07-01"), day("2024-07-01")), 16);
        let mut p = person();
        p.birth_date = day("1964-07-01");
        let employment = IndicatorCode::EmploymentRate;
        assert_eq!(
            marks_on(&p, "2024-06-30").mark(employment),
            Mark::Gap(GapReason::NoEmploymentSpell)
        );
        assert_eq!(marks_on(&p, "2024-07-01").mark(employment), Mark::Out);
    }

    #[test]
    fn window_events_count_from_the_first_of_january() {
        let mut p = person();
        p.records = vec![
            Record::RehabNeed(day("2024-12-20")),
            Record::RehabService(day("2024-12-28")),
            Record::RehabNeed(day("2025-02-01")),
            Record::Culture(day("2024-12-28")),
        ];
        let rehab = IndicatorCode::RehabServiceCoverage;
        assert_eq!(marks_on(&p, "2024-12-31").mark(rehab), Mark::Covered);
        assert_eq!(marks_on(&p, "2025-01-31").mark(rehab), Mark::Out);
        assert_eq!(
            marks_on(&p, "2025-02-01").mark(rehab),
            Mark::Gap(GapReason::NeedWithoutService)
        );
        assert_eq!(
            marks_on(&p, "2025-01-01").mark(IndicatorCode::CultureSportsCoverage),
            Mark::Gap(GapReason::NoCultureService)
        );
    }

    #[test]
    fn every_device_need_of_the_window_must_be_fitted() {
        let mut p = person();
        p.records = vec![
            Record::DeviceNeed {
                needed_on: day("2024-02-01"),
                fitted_on: Some(day("2024-03-01")),
            },
            Record::DeviceNeed {
                needed_on: day("2024-04-01"),
                fitted_on: Some(day("2024-09-01")),
            },
        ];
        let devices = IndicatorCode::AssistiveDeviceFittingRate;
        assert_eq!(marks_on(&p, "2024-03-15").mark(devices), Mark::Covered);
        assert_eq!(
            marks_on(&p, "2024-08-31").mark(devices),
            Mark::Gap(GapReason::DeviceNotFitted)
        );
        assert_eq!(marks_on(&p, "2024-09-01").mark(devices), Mark::Covered);
    }

    #[test]
    fn a_paid_grant_after_death_is_flagged_until_its_end_is_recorded() {
        let mut p = person();
        p.grants.push(GrantFact {
            kind: SubsidyKind::Living,
            start_month: day("2023-01-01"),
            terminated_on: None,
            suspensions: Vec::new(),
        });
        p.facts.deceased_on = Some(day("2024-05-10"));
        let defs = definitions();
        let (living, nursing) = policies();
        let ctx = Context {
            day: day("2024-05-20"),
            definitions: &defs,
            living: Some(&living),
            nursing: Some(&nursing),
        };
        assert_eq!(
            reconcile(&p, SubsidyKind::Living, &ctx),
            Some((Finding::PaidNotEligible, vec![MismatchReason::Deceased]))
        );
        p.grants[0].terminated_on = Some(day("2024-06-01"));
        assert_eq!(reconcile(&p, SubsidyKind::Living, &ctx), None);
    }
}
