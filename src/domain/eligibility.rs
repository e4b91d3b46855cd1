//! Who qualifies for the two subsidies (两项补贴) on a given day: a pure function of the
//! resident's dated facts and the policy in force that day, so the same rules serve the API,
//! the reconciliation and the indicators, and are tested without a database.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::certificate::Category;
use super::resident::HouseholdStatus;

crate::code_enum! {
    pub enum SubsidyKind: "subsidy_kind" {
        Living = "living", "困难残疾人生活补贴";
        Nursing = "nursing", "重度残疾人护理补贴";
    }
}

crate::code_enum! {
    /// Why a resident qualifies or not. Each decision lists every reason that applies.
    pub enum Reason: "eligibility_reason" {
        NoPolicy = "no_policy", "该日期无有效政策";
        Deceased = "deceased", "已故";
        MovedOut = "moved_out", "已迁出";
        NoValidCertificate = "no_valid_certificate", "无有效残疾人证";
        HouseholdStatusQualifies = "household_status_qualifies", "家庭经济状况符合";
        HouseholdStatusNotQualifying = "household_status_not_qualifying", "家庭经济状况不符合";
        ExcludedHouseholdStatus = "excluded_household_status", "特困供养人员不享受";
        GradeQualifies = "grade_qualifies", "残疾等级符合";
        ExtensionApplies = "extension_applies", "扩面政策（三、四级智力、精神）符合";
        GradeNotCovered = "grade_not_covered", "残疾等级不在范围内";
        WorkInjuryNursingAllowance = "work_injury_nursing_allowance", "已享受工伤护理费";
    }
}

/// A certificate as eligibility sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFact {
    pub category: Category,
    pub components: Vec<Category>,
    pub grade: i32,
    pub issued_on: NaiveDate,
    pub valid_until: NaiveDate,
    /// Takes effect on that day: the certificate is no longer valid from it.
    pub cancelled_on: Option<NaiveDate>,
}

impl CertificateFact {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.issued_on <= day
            && day <= self.valid_until
            && self.cancelled_on.is_none_or(|c| day < c)
    }

    /// The categories the certificate covers: its own, or a multiple disability's parts.
    fn covers(&self, category: Category) -> bool {
        self.category == category || self.components.contains(&category)
    }
}

/// A period from `start` through `end` (the last day; `None` while open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl Span {
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|end| day <= end)
    }
}

/// The facts about one resident that eligibility depends on.
#[derive(Debug, Clone, Default)]
pub struct ResidentFacts {
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub certificates: Vec<CertificateFact>,
    pub household: Vec<(HouseholdStatus, Span)>,
    /// Periods of a work-injury nursing allowance (工伤护理费).
    pub work_injury_nursing: Vec<Span>,
}

impl ResidentFacts {
    pub fn certificate_on(&self, day: NaiveDate) -> Option<&CertificateFact> {
        self.certificates.iter().find(|c| c.valid_on(day))
    }

    pub fn household_status_on(&self, day: NaiveDate) -> HouseholdStatus {
        self.household
            .iter()
            .find(|(_, span)| span.contains(day))
            .map_or(HouseholdStatus::None, |(status, _)| *status)
    }

    /// In the base population P(D): not deceased or moved out on `day`, and a certificate
    /// valid that day. `Err` says why not.
    pub fn base_population(&self, day: NaiveDate) -> Result<&CertificateFact, Reason> {
        if self.deceased_on.is_some_and(|d| d <= day) {
            return Err(Reason::Deceased);
        }
        if self.moved_out_on.is_some_and(|d| d <= day) {
            return Err(Reason::MovedOut);
        }
        self.certificate_on(day).ok_or(Reason::NoValidCertificate)
    }
}

fn default_living_statuses() -> Vec<HouseholdStatus> {
    vec![HouseholdStatus::Dibao]
}

fn default_excluded() -> Vec<HouseholdStatus> {
    vec![HouseholdStatus::Tekun]
}

fn default_nursing_grades() -> Vec<i32> {
    vec![1, 2]
}

/// The living subsidy's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivingRules {
    #[serde(default = "default_living_statuses")]
    pub household_statuses: Vec<HouseholdStatus>,
    #[serde(default = "default_excluded")]
    pub excluded_household_statuses: Vec<HouseholdStatus>,
}

/// The nursing subsidy's extension to milder grades of some categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub grades: Vec<i32>,
    pub categories: Vec<Category>,
}

/// The nursing subsidy's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NursingRules {
    #[serde(default = "default_nursing_grades")]
    pub grades: Vec<i32>,
    /// For example grades 3–4 of intellectual and mental disabilities; `None` when off.
    #[serde(default)]
    pub extension: Option<Extension>,
    #[serde(default = "default_excluded")]
    pub excluded_household_statuses: Vec<HouseholdStatus>,
    #[serde(default = "yes")]
    pub exclude_work_injury_nursing: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Rules {
    Living(LivingRules),
    Nursing(NursingRules),
}

impl Rules {
    /// Grades outside 1–4, as field errors.
    pub fn grade_errors(&self) -> Vec<crate::error::FieldError> {
        let bad = |grades: &[i32]| grades.iter().any(|g| !(1..=4).contains(g));
        let mut errors = Vec::new();
        if let Rules::Nursing(n) = self {
            if bad(&n.grades) {
                errors.push(crate::error::FieldError::new(
                    "rules.grades",
                    "out_of_range",
                    "grades are 1 to 4",
                ));
            }
            if n.extension.as_ref().is_some_and(|x| bad(&x.grades)) {
                errors.push(crate::error::FieldError::new(
                    "rules.extension.grades",
                    "out_of_range",
                    "grades are 1 to 4",
                ));
            }
        }
        errors
    }
}

/// A policy version: the rules of one subsidy from `effective_from` until the next version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub kind: SubsidyKind,
    pub effective_from: NaiveDate,
    pub monthly_amount_fen: i64,
    pub rules: Rules,
}

/// The version of `kind` in force on `day`: the latest that took effect on or before it.
pub fn policy_on(policies: &[Policy], kind: SubsidyKind, day: NaiveDate) -> Option<&Policy> {
    policies
        .iter()
        .filter(|p| p.kind == kind && p.effective_from <= day)
        .max_by_key(|p| p.effective_from)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub kind: SubsidyKind,
    pub eligible: bool,
    pub reasons: Vec<Reason>,
}

/// Decides one subsidy for one resident on one day.
pub fn decide(
    facts: &ResidentFacts,
    kind: SubsidyKind,
    policy: Option<&Policy>,
    day: NaiveDate,
) -> Decision {
    let decision = |eligible, reasons| Decision {
        kind,
        eligible,
        reasons,
    };
    let Some(policy) = policy.filter(|p| p.kind == kind) else {
        return decision(false, vec![Reason::NoPolicy]);
    };
    let certificate = match facts.base_population(day) {
        Ok(certificate) => certificate,
        Err(reason) => return decision(false, vec![reason]),
    };
    let status = facts.household_status_on(day);
    let mut reasons = Vec::new();
    let mut eligible = true;
    match &policy.rules {
        Rules::Living(rules) => {
            if rules.household_statuses.contains(&status) {
                reasons.push(Reason::HouseholdStatusQualifies);
            } else {
                eligible = false;
                reasons.push(Reason::HouseholdStatusNotQualifying);
            }
            if rules.excluded_household_statuses.contains(&status) {
                eligible = false;
                reasons.push(Reason::ExcludedHouseholdStatus);
            }
        }
        Rules::Nursing(rules) => {
            if rules.grades.contains(&certificate.grade) {
                reasons.push(Reason::GradeQualifies);
            } else if rules.extension.as_ref().is_some_and(|x| {
                x.grades.contains(&certificate.grade)
                    && x.categories.iter().any(|c| certificate.covers(*c))
            }) {
                reasons.push(Reason::ExtensionApplies);
            } else {
                eligible = false;
                reasons.push(Reason::GradeNotCovered);
            }
            if rules.excluded_household_statuses.contains(&status) {
                eligible = false;
                reasons.push(Reason::ExcludedHouseholdStatus);
            }
            if rules.exclude_work_injury_nursing
                && facts.work_injury_nursing.iter().any(|s| s.contains(day))
            {
                eligible = false;
                reasons.push(Reason::WorkInjuryNursingAllowance);
            }
        }
    }
    decision(eligible, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn certificate(category: Category, grade: i32) -> CertificateFact {
        CertificateFact {
            category,
            components: Vec::new(),
            grade,
            issued_on: day(2020, 1, 1),
            valid_until: day(2030, 1, 1),
            cancelled_on: None,
        }
    }

    fn resident(cert: CertificateFact, status: HouseholdStatus) -> ResidentFacts {
        ResidentFacts {
            certificates: vec![cert],
            household: vec![(
                status,
                Span {
                    start: day(2019, 1, 1),
                    end: None,
                },
            )],
            ..Default::default()
        }
    }

    fn living() -> Policy {
        Policy {
            id: "l1".into(),
            kind: SubsidyKind::Living,
            effective_from: day(2021, 1, 1),
            monthly_amount_fen: 30_000,
            rules: Rules::Living(LivingRules {
                household_statuses: default_living_statuses(),
                excluded_household_statuses: default_excluded(),
            }),
        }
    }

    fn nursing(extension: bool) -> Policy {
        Policy {
            id: "n1".into(),
            kind: SubsidyKind::Nursing,
            effective_from: day(2021, 1, 1),
            monthly_amount_fen: 20_000,
            rules: Rules::Nursing(NursingRules {
                grades: default_nursing_grades(),
                extension: extension.then(|| Extension {
                    grades: vec![3, 4],
                    categories: vec![Category::Intellectual, Category::Mental],
                }),
                excluded_household_statuses: default_excluded(),
                exclude_work_injury_nursing: true,
            }),
        }
    }

    const D: fn() -> NaiveDate = || NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();

    #[test]
    fn living_subsidy_follows_the_household_status() {
        let p = living();
        let dibao = resident(certificate(Category::Physical, 4), HouseholdStatus::Dibao);
        let d = decide(&dibao, SubsidyKind::Living, Some(&p), D());
        assert!(d.eligible);
        assert_eq!(d.reasons, [Reason::HouseholdStatusQualifies]);

        for status in [HouseholdStatus::None, HouseholdStatus::Dibian] {
            let r = resident(certificate(Category::Physical, 4), status);
            let d = decide(&r, SubsidyKind::Living, Some(&p), D());
            assert!(!d.eligible);
            assert_eq!(d.reasons, [Reason::HouseholdStatusNotQualifying]);
        }
    }

    #[test]
    fn tekun_is_excluded_from_both_even_when_listed() {
        let mut p = living();
        if let Rules::Living(r) = &mut p.rules {
            r.household_statuses.push(HouseholdStatus::Tekun);
        }
        let r = resident(certificate(Category::Physical, 1), HouseholdStatus::Tekun);
        let d = decide(&r, SubsidyKind::Living, Some(&p), D());
        assert!(!d.eligible);
        assert!(d.reasons.contains(&Reason::ExcludedHouseholdStatus));
        let d = decide(&r, SubsidyKind::Nursing, Some(&nursing(false)), D());
        assert!(!d.eligible);
        assert_eq!(
            d.reasons,
            [Reason::GradeQualifies, Reason::ExcludedHouseholdStatus]
        );
    }

    #[test]
    fn nursing_subsidy_covers_grades_one_and_two() {
        let p = nursing(false);
        for grade in [1, 2] {
            let r = resident(certificate(Category::Visual, grade), HouseholdStatus::None);
            assert!(
                decide(&r, SubsidyKind::Nursing, Some(&p), D()).eligible,
                "grade {grade}"
            );
        }
        for grade in [3, 4] {
            let r = resident(
                certificate(Category::Intellectual, grade),
                HouseholdStatus::None,
            );
            let d = decide(&r, SubsidyKind::Nursing, Some(&p), D());
            assert!(!d.eligible);
            assert_eq!(d.reasons, [Reason::GradeNotCovered]);
        }
    }

    #[test]
    fn the_extension_adds_milder_intellectual_and_mental_grades_when_on() {
        let on = nursing(true);
        let off = nursing(false);
        for category in [Category::Intellectual, Category::Mental] {
            let r = resident(certificate(category, 3), HouseholdStatus::None);
            let d = decide(&r, SubsidyKind::Nursing, Some(&on), D());
            assert!(d.eligible);
            assert_eq!(d.reasons, [Reason::ExtensionApplies]);
            assert!(!decide(&r, SubsidyKind::Nursing, Some(&off), D()).eligible);
        }
        let physical = resident(certificate(Category::Physical, 3), HouseholdStatus::None);
        assert!(!decide(&physical, SubsidyKind::Nursing, Some(&on), D()).eligible);
        // A multiple disability with a mental part is covered by the extension.
        let mut multiple = certificate(Category::Multiple, 4);
        multiple.components = vec![Category::Physical, Category::Mental];
        let r = resident(multiple, HouseholdStatus::None);
        assert!(decide(&r, SubsidyKind::Nursing, Some(&on), D()).eligible);
    }

    #[test]
    fn a_work_injury_nursing_allowance_excludes_from_nursing_only_while_it_runs() {
        let mut r = resident(certificate(Category::Physical, 1), HouseholdStatus::Dibao);
        r.work_injury_nursing = vec![Span {
            start: day(2024, 1, 1),
            end: Some(day(2024, 12, 31)),
        }];
        let d = decide(&r, SubsidyKind::Nursing, Some(&nursing(false)), D());
        assert!(!d.eligible);
        assert_eq!(
            d.reasons,
            [Reason::GradeQualifies, Reason::WorkInjuryNursingAllowance]
        );
        assert!(
            decide(
                &r,
                SubsidyKind::Nursing,
                Some(&nursing(false)),
                day(2025, 1, 1)
            )
            .eligible
        );
        assert!(
            decide(&r, SubsidyKind::Living, Some(&living()), D()).eligible,
            "living is not affected"
        );
        let mut p = nursing(false);
        if let Rules::Nursing(n) = &mut p.rules {
            n.exclude_work_injury_nursing = false;
        }
        assert!(
            decide(&r, SubsidyKind::Nursing, Some(&p), D()).eligible,
            "exclusion switched off"
        );
    }

    #[test]
    fn the_base_population_needs_life_residence_and_a_valid_certificate() {
        let p = nursing(false);
        let mut r = resident(certificate(Category::Physical, 1), HouseholdStatus::None);
        r.deceased_on = Some(day(2024, 6, 30));
        assert_eq!(
            decide(&r, SubsidyKind::Nursing, Some(&p), D()).reasons,
            [Reason::Deceased]
        );
        assert!(
            decide(&r, SubsidyKind::Nursing, Some(&p), day(2024, 6, 29)).eligible,
            "death takes effect that day"
        );

        let mut r = resident(certificate(Category::Physical, 1), HouseholdStatus::None);
        r.moved_out_on = Some(day(2024, 1, 1));
        assert_eq!(
            decide(&r, SubsidyKind::Nursing, Some(&p), D()).reasons,
            [Reason::MovedOut]
        );

        let mut expired = certificate(Category::Physical, 1);
        expired.valid_until = day(2024, 6, 29);
        let r = resident(expired, HouseholdStatus::None);
        assert_eq!(
            decide(&r, SubsidyKind::Nursing, Some(&p), D()).reasons,
            [Reason::NoValidCertificate]
        );
        assert!(
            decide(&r, SubsidyKind::Nursing, Some(&p), day(2024, 6, 29)).eligible,
            "valid_until counts"
        );

        let mut cancelled = certificate(Category::Physical, 1);
        cancelled.cancelled_on = Some(day(2024, 6, 30));
        let r = resident(cancelled, HouseholdStatus::None);
        assert_eq!(
            decide(&r, SubsidyKind::Nursing, Some(&p), D()).reasons,
            [Reason::NoValidCertificate]
        );
    }

    #[test]
    fn the_household_status_is_read_on_the_day() {
        let mut r = resident(certificate(Category::Physical, 4), HouseholdStatus::Dibao);
        r.household = vec![
            (
                HouseholdStatus::Dibao,
                Span {
                    start: day(2020, 1, 1),
                    end: Some(day(2024, 6, 30)),
                },
            ),
            (
                HouseholdStatus::None,
                Span {
                    start: day(2024, 7, 1),
                    end: None,
                },
            ),
        ];
        let p = living();
        assert!(decide(&r, SubsidyKind::Living, Some(&p), day(2024, 6, 30)).eligible);
        assert!(!decide(&r, SubsidyKind::Living, Some(&p), day(2024, 7, 1)).eligible);
    }

    #[test]
    fn a_policy_change_takes_effect_on_its_day() {
        let old = nursing(false);
        let mut new = nursing(true);
        new.id = "n2".into();
        new.effective_from = day(2025, 1, 1);
        let policies = vec![old, new];
        let r = resident(certificate(Category::Mental, 3), HouseholdStatus::None);
        let before = day(2024, 12, 31);
        let after = day(2025, 1, 1);
        assert_eq!(
            policy_on(&policies, SubsidyKind::Nursing, before)
                .unwrap()
                .id,
            "n1"
        );
        assert_eq!(
            policy_on(&policies, SubsidyKind::Nursing, after)
                .unwrap()
                .id,
            "n2"
        );
        assert!(
            !decide(
                &r,
                SubsidyKind::Nursing,
                policy_on(&policies, SubsidyKind::Nursing, before),
                before
            )
            .eligible
        );
        assert!(
            decide(
                &r,
                SubsidyKind::Nursing,
                policy_on(&policies, SubsidyKind::Nursing, after),
                after
            )
            .eligible
        );

        // And a narrowing change: eligible the day before, not the day after.
        let mut narrow = living();
        narrow.id = "l2".into();
        narrow.effective_from = day(2025, 1, 1);
        if let Rules::Living(l) = &mut narrow.rules {
            l.household_statuses = vec![];
        }
        let policies = vec![living(), narrow];
        let r = resident(certificate(Category::Physical, 4), HouseholdStatus::Dibao);
        assert!(
            decide(
                &r,
                SubsidyKind::Living,
                policy_on(&policies, SubsidyKind::Living, before),
                before
            )
            .eligible
        );
        assert!(
            !decide(
                &r,
                SubsidyKind::Living,
                policy_on(&policies, SubsidyKind::Living, after),
                after
            )
            .eligible
        );
    }

    #[test]
    fn no_policy_no_subsidy() {
        let r = resident(certificate(Category::Physical, 1), HouseholdStatus::Dibao);
        assert_eq!(
            decide(&r, SubsidyKind::Living, None, D()).reasons,
            [Reason::NoPolicy]
        );
        assert!(policy_on(&[living()], SubsidyKind::Living, day(2020, 12, 31)).is_none());
        // A policy of the other kind is not used.
        assert_eq!(
            decide(&r, SubsidyKind::Living, Some(&nursing(false)), D()).reasons,
            [Reason::NoPolicy]
        );
    }
}

crate::code_enum! {
    pub enum GrantStatus: "grant_status" {
        Active = "active", "发放中";
        Suspended = "suspended", "暂停";
        Terminated = "terminated", "终止";
        NotStarted = "not_started", "未开始";
        // Shown for a grant voided as entered by mistake; the rules never see one.
        Void = "void", "已作废";
    }
}

/// A subsidy grant as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantFact {
    pub kind: SubsidyKind,
    /// The first day of the first month paid.
    pub start_month: NaiveDate,
    /// Takes effect on that day.
    pub terminated_on: Option<NaiveDate>,
    pub suspensions: Vec<Span>,
}

impl GrantFact {
    /// Where the grant stands on `day`: active when the day's month is within its months and
    /// no suspension or termination is in effect.
    pub fn status_on(&self, day: NaiveDate) -> GrantStatus {
        if self.terminated_on.is_some_and(|t| t <= day) {
            GrantStatus::Terminated
        } else if day < self.start_month {
            GrantStatus::NotStarted
        } else if self.suspensions.iter().any(|s| s.contains(day)) {
            GrantStatus::Suspended
        } else {
            GrantStatus::Active
        }
    }
}

#[cfg(test)]
mod grant_tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_grant_is_active_within_its_months_unless_suspended_or_terminated() {
        let grant = GrantFact {
            kind: SubsidyKind::Living,
            start_month: day(2024, 3, 1),
            terminated_on: Some(day(2024, 10, 15)),
            suspensions: vec![Span {
                start: day(2024, 6, 1),
                end: Some(day(2024, 6, 30)),
            }],
        };
        assert_eq!(grant.status_on(day(2024, 2, 29)), GrantStatus::NotStarted);
        assert_eq!(grant.status_on(day(2024, 3, 1)), GrantStatus::Active);
        assert_eq!(grant.status_on(day(2024, 6, 15)), GrantStatus::Suspended);
        assert_eq!(grant.status_on(day(2024, 7, 1)), GrantStatus::Active);
        assert_eq!(grant.status_on(day(2024, 10, 14)), GrantStatus::Active);
        assert_eq!(grant.status_on(day(2024, 10, 15)), GrantStatus::Terminated);
    }
}
