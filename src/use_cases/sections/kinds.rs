//! The records of the simpler file sections: their fields, and the rules each keeps beyond the
//! dates every record keeps (see [`super::record::Section`]).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::record::{Index, Life, Section};
use crate::error::FieldError;

crate::code_enum! {
    pub enum RehabType: "rehab_type" {
        MedicalRehab = "medical_rehab", "医疗康复";
        PhysicalTherapy = "physical_therapy", "运动功能训练";
        SpeechTherapy = "speech_therapy", "言语训练";
        CognitiveTraining = "cognitive_training", "认知训练";
        Psychological = "psychological", "心理康复";
        CommunityRehab = "community_rehab", "社区康复";
        Other = "other", "其他";
    }
}

crate::code_enum! {
    pub enum DeviceType: "device_type" {
        Wheelchair = "wheelchair", "轮椅";
        WalkingAid = "walking_aid", "助行器具";
        Prosthesis = "prosthesis", "假肢矫形器";
        HearingAid = "hearing_aid", "助听器";
        VisualAid = "visual_aid", "助视器";
        DailyLivingAid = "daily_living_aid", "生活自助具";
        Other = "other", "其他";
    }
}

crate::code_enum! {
    pub enum DeviceMode: "device_mode" {
        InKind = "in_kind", "实物配发";
        Voucher = "voucher", "货币补贴";
        Rental = "rental", "租赁";
    }
}

crate::code_enum! {
    pub enum EmploymentKind: "employment_kind" {
        Concentrated = "concentrated", "集中就业";
        Proportional = "proportional", "按比例就业";
        SelfEmployed = "self_employed", "自主创业";
        Flexible = "flexible", "灵活就业";
        Auxiliary = "auxiliary", "辅助性就业";
        PublicWelfare = "public_welfare", "公益性岗位";
        Agriculture = "agriculture", "农业生产";
    }
}

impl EmploymentKind {
    /// A job with one employer or post: a person holds at most one such spell at a time. The
    /// other kinds (self-employment, flexible work, farming) may run beside anything except
    /// another spell of the same kind.
    pub fn is_exclusive(self) -> bool {
        matches!(
            self,
            EmploymentKind::Concentrated
                | EmploymentKind::Proportional
                | EmploymentKind::Auxiliary
                | EmploymentKind::PublicWelfare
        )
    }
}

crate::code_enum! {
    pub enum EducationStage: "education_stage" {
        Preschool = "preschool", "学前教育";
        Compulsory = "compulsory", "义务教育";
        HighSchool = "high_school", "普通高中";
        SecondaryVocational = "secondary_vocational", "中等职业教育";
        Higher = "higher", "高等教育";
    }
}

crate::code_enum! {
    pub enum InsuranceKind: "insurance_kind" {
        Pension = "pension", "城乡居民养老保险";
        Medical = "medical", "基本医疗保险";
    }
}

crate::code_enum! {
    pub enum CultureKind: "culture_kind" {
        Culture = "culture", "文化活动";
        Sports = "sports", "体育活动";
        Reading = "reading", "阅读服务";
        Other = "other", "其他";
    }
}

crate::code_enum! {
    pub enum OtherBenefitKind: "other_benefit_kind" {
        WorkInjuryNursing = "work_injury_nursing", "工伤护理费";
    }
}

fn span_check(errors: &mut Vec<FieldError>, field: &str, start: NaiveDate, end: Option<NaiveDate>) {
    if end.is_some_and(|end| end < start) {
        errors.push(FieldError::new(
            field,
            "before_start",
            "must not be before the start",
        ));
    }
}

fn text_check(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, max: usize) {
    if value
        .as_ref()
        .is_some_and(|v| v.trim().is_empty() || v.chars().count() > max)
    {
        errors.push(
            FieldError::new(field, "invalid", format!("1 to {max} characters"))
                .with_param("max", max),
        );
    }
}

fn year_check(errors: &mut Vec<FieldError>, year: i32, life: &Life) {
    let last = life
        .left_on
        .map_or(life.today.year(), |left| left.year().min(life.today.year()));
    if year < life.birth.year() || year > last {
        errors.push(FieldError::new(
            "year",
            "out_of_range",
            "a year of the resident's life here: from birth, not after death or move-out, not in the future",
        ));
    }
}

fn year_span(year: i32) -> (NaiveDate, Option<NaiveDate>) {
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
    (first, NaiveDate::from_ymd_opt(year, 12, 31))
}

/// 康复需求: an assessed need for a kind of rehabilitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RehabNeed {
    #[serde(rename = "type")]
    pub kind: RehabType,
    pub assessed_on: NaiveDate,
}

impl Section for RehabNeed {
    const NAME: &'static str = "rehab_needs";
    const START_FIELD: &'static str = "assessed_on";
    fn index(&self) -> Index {
        Index::event(self.kind.as_str(), self.assessed_on)
    }
}

/// 康复服务: a rehabilitation service received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RehabService {
    #[serde(rename = "type")]
    pub kind: RehabType,
    pub provider: Option<String>,
    pub service_on: NaiveDate,
}

impl Section for RehabService {
    const NAME: &'static str = "rehab_services";
    const START_FIELD: &'static str = "service_on";
    fn index(&self) -> Index {
        Index::event(self.kind.as_str(), self.service_on)
    }
    fn check(&self, _: &Life, errors: &mut Vec<FieldError>) {
        text_check(errors, "provider", &self.provider, 100);
    }
}

/// 辅助器具: a device needed and, once fitted, the day it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistiveDevice {
    pub device_type: DeviceType,
    pub needed_on: NaiveDate,
    pub fitted_on: Option<NaiveDate>,
    pub mode: Option<DeviceMode>,
}

impl Section for AssistiveDevice {
    const NAME: &'static str = "assistive_devices";
    const START_FIELD: &'static str = "needed_on";
    fn index(&self) -> Index {
        Index {
            end_on: self.fitted_on,
            ..Index::event(self.device_type.as_str(), self.needed_on)
        }
    }
    fn check(&self, life: &Life, errors: &mut Vec<FieldError>) {
        span_check(errors, "fitted_on", self.needed_on, self.fitted_on);
        if self.fitted_on.is_some_and(|d| d > life.today) {
            errors.push(FieldError::new(
                "fitted_on",
                "in_future",
                "the date is in the future",
            ));
        }
        if self.fitted_on.is_some() && self.mode.is_none() {
            errors.push(FieldError::new(
                "mode",
                "required",
                "say how the device was provided",
            ));
        }
    }
}

/// 就业: a spell of employment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Employment {
    pub kind: EmploymentKind,
    pub employer: Option<String>,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
}

impl Section for Employment {
    const NAME: &'static str = "employment";
    const START_FIELD: &'static str = "start_on";
    fn index(&self) -> Index {
        Index::span(self.kind.as_str(), self.start_on, self.end_on)
    }
    fn check(&self, _: &Life, errors: &mut Vec<FieldError>) {
        text_check(errors, "employer", &self.employer, 100);
        span_check(errors, "end_on", self.start_on, self.end_on);
    }
    const CHECKS_OTHERS: bool = true;

    fn check_against(&self, others: &[Self], errors: &mut Vec<FieldError>) {
        let overlaps = |o: &Employment| {
            let ends_after_start = o.end_on.is_none_or(|e| e >= self.start_on);
            let starts_before_end = self.end_on.is_none_or(|e| o.start_on <= e);
            ends_after_start && starts_before_end
        };
        let clash = others
            .iter()
            .filter(|o| overlaps(o))
            .any(|o| o.kind == self.kind || (o.kind.is_exclusive() && self.kind.is_exclusive()));
        if clash {
            errors.push(FieldError::new(
                "start_on",
                "overlapping_spell",
                "overlaps another spell that cannot run at the same time (one job with an employer or post at a time; no two spells of one kind)",
            ));
        }
    }
}

/// 职业培训: vocational training taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    pub course: String,
    pub provider: Option<String>,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
    #[serde(default)]
    pub certified: bool,
}

impl Section for Training {
    const NAME: &'static str = "trainings";
    const START_FIELD: &'static str = "start_on";
    fn index(&self) -> Index {
        Index::span("vocational", self.start_on, self.end_on)
    }
    fn check(&self, _: &Life, errors: &mut Vec<FieldError>) {
        text_check(errors, "course", &Some(self.course.clone()), 100);
        text_check(errors, "provider", &self.provider, 100);
        span_check(errors, "end_on", self.start_on, self.end_on);
    }
}

/// 教育: a stage of schooling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Education {
    pub stage: EducationStage,
    pub school: Option<String>,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
}

impl Section for Education {
    const NAME: &'static str = "education";
    const START_FIELD: &'static str = "start_on";
    fn index(&self) -> Index {
        Index::span(self.stage.as_str(), self.start_on, self.end_on)
    }
    fn check(&self, _: &Life, errors: &mut Vec<FieldError>) {
        text_check(errors, "school", &self.school, 100);
        span_check(errors, "end_on", self.start_on, self.end_on);
    }
}

/// 社会保险: enrolment in an insurance for a year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insurance {
    pub year: i32,
    pub kind: InsuranceKind,
    pub enrolled: bool,
    #[serde(default)]
    pub government_paid: bool,
}

impl Section for Insurance {
    const NAME: &'static str = "insurance";
    const START_FIELD: &'static str = "year";
    fn index(&self) -> Index {
        let (start_on, end_on) = year_span(self.year);
        Index {
            kind: self.kind.as_str().to_owned(),
            start_on,
            end_on,
            natural_key: Some(format!("{}:{}", self.year, self.kind.as_str())),
            holds: self.enrolled,
        }
    }
    fn check(&self, life: &Life, errors: &mut Vec<FieldError>) {
        year_check(errors, self.year, life);
        if self.government_paid && !self.enrolled {
            errors.push(FieldError::new(
                "government_paid",
                "not_enrolled",
                "only an enrolment can be paid",
            ));
        }
    }
    fn dated_by_life(&self) -> bool {
        false
    }
}

/// 文体服务: a culture or sports service or activity taken part in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CultureService {
    pub kind: CultureKind,
    pub activity: Option<String>,
    pub service_on: NaiveDate,
}

impl Section for CultureService {
    const NAME: &'static str = "culture_services";
    const START_FIELD: &'static str = "service_on";
    fn index(&self) -> Index {
        Index::event(self.kind.as_str(), self.service_on)
    }
    fn check(&self, _: &Life, errors: &mut Vec<FieldError>) {
        text_check(errors, "activity", &self.activity, 100);
    }
}

/// 家庭收入: the household's per-capita disposable income of a year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Income {
    pub year: i32,
    pub per_capita_income_fen: i64,
}

impl Section for Income {
    const NAME: &'static str = "incomes";
    const START_FIELD: &'static str = "year";
    fn index(&self) -> Index {
        let (start_on, end_on) = year_span(self.year);
        Index {
            kind: "per_capita".to_owned(),
            start_on,
            end_on,
            natural_key: Some(self.year.to_string()),
            holds: true,
        }
    }
    fn check(&self, life: &Life, errors: &mut Vec<FieldError>) {
        year_check(errors, self.year, life);
        if !(0..=10_000_000_000).contains(&self.per_capita_income_fen) {
            errors.push(FieldError::new(
                "per_capita_income_fen",
                "out_of_range",
                "0 to 100 million yuan, in fen",
            ));
        }
    }
    fn dated_by_life(&self) -> bool {
        false
    }
}

/// Other benefits that subsidy rules look at, such as a work-injury nursing allowance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherBenefit {
    pub kind: OtherBenefitKind,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
}

impl Section for OtherBenefit {
    const NAME: &'static str = "other_benefits";
    const START_FIELD: &'static str = "start_on";
    fn index(&self) -> Index {
        Index::span(self.kind.as_str(), self.start_on, self.end_on)
    }
    fn check(&self, _: &Life, errors: &mut Vec<FieldError>) {
        span_check(errors, "end_on", self.start_on, self.end_on);
    }
}

/// Every section of this kind, in the order the file shows them.
pub const SECTION_NAMES: &[&str] = &[
    RehabNeed::NAME,
    RehabService::NAME,
    AssistiveDevice::NAME,
    Employment::NAME,
    Training::NAME,
    Education::NAME,
    Insurance::NAME,
    CultureService::NAME,
    Income::NAME,
    OtherBenefit::NAME,
];
