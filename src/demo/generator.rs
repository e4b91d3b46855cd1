//! One synthetic resident at a time, as structured values: identity, file, household history,
//! certificates, grants derived from the subsidy rules, section records and home-modification
//! cases. [`super::writer`] renders them to SQL.
//!
//! Everything is drawn from a seeded generator, so a seed and a resident count give the same
//! district. Dates fall in the plan period (2021 to the horizon, the last day generated), with
//! the history before it (first certificates, spells begun earlier) where a file would hold it.

use std::collections::HashSet;

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::names;
use crate::domain::certificate::{CancelReason, Category};
use crate::domain::eligibility::{
    decide, policy_on, CertificateFact, Policy, Reason, ResidentFacts, Span, SubsidyKind,
};
use crate::domain::home_modification::{Assessment, CaseStatus};
use crate::domain::id_number::{self, IdNumber};
use crate::domain::resident::{HouseholdFlag, HouseholdStatus};
use crate::use_cases::home_modifications::Item;
use crate::use_cases::sections::kinds::{
    AssistiveDevice, CultureKind, CultureService, DeviceMode, DeviceType, Education,
    EducationStage, Employment, EmploymentKind, Income, Insurance, InsuranceKind, OtherBenefit,
    OtherBenefitKind, RehabNeed, RehabService, RehabType, Training,
};

pub fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// The first day of the plan period (十四五): grants and yearly records start here.
pub fn plan_start() -> NaiveDate {
    ymd(2021, 1, 1)
}

/// The last day generated, unless today is earlier.
pub fn default_horizon() -> NaiveDate {
    ymd(2026, 11, 30)
}

/// The district's GDP growth by year, in basis points (demo figures).
pub const GDP_GROWTH_BP: &[(i32, i32)] = &[
    (2021, 870),
    (2022, 310),
    (2023, 580),
    (2024, 550),
    (2025, 530),
    (2026, 500),
];

/// The towns' shares of residents, and the three whose coverage is made visibly lower.
const TOWN_PLAN: &[(&str, u32, bool)] = &[
    ("330213001", 150, false), // 锦屏街道
    ("330213002", 130, false), // 岳林街道
    ("330213003", 80, false),  // 江口街道
    ("330213004", 70, false),  // 西坞街道
    ("330213005", 65, false),  // 萧王庙街道
    ("330213006", 50, false),  // 方桥街道
    ("330213007", 55, true),   // 尚田街道
    ("330213008", 90, false),  // 莼湖街道
    ("330213100", 110, false), // 溪口镇
    ("330213106", 60, true),   // 裘村镇
    ("330213107", 25, true),   // 大堰镇
    ("330213108", 28, false),  // 松岙镇
];

/// The share of residents of a town, and whether it is one of the lagging towns.
pub fn town_plan(code: &str) -> (u32, bool) {
    TOWN_PLAN
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or((40, false), |(_, w, low)| (*w, *low))
}

#[derive(Debug, Clone)]
pub struct Village {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Town {
    pub code: String,
    pub name: String,
    pub weight: u32,
    /// One of the towns whose coverage lags behind the targets.
    pub low: bool,
    pub villages: Vec<Village>,
}

/// The towns (with their villages) residents are spread over.
#[derive(Debug, Clone)]
pub struct District {
    pub towns: Vec<Town>,
    weights: WeightedIndex<u32>,
}

impl District {
    pub fn new(towns: Vec<Town>) -> Self {
        let weights =
            WeightedIndex::new(towns.iter().map(|t| t.weight.max(1))).expect("at least one town");
        District { towns, weights }
    }

    fn pick_town(&self, rng: &mut StdRng) -> usize {
        self.weights.sample(rng)
    }

    fn pick_village(&self, rng: &mut StdRng, town: usize) -> Option<usize> {
        let n = self.towns[town].villages.len();
        (n > 0 && rng.gen_bool(0.95)).then(|| rng.gen_range(0..n))
    }
}

/// How well a town covers its residents: the chances the file shows a service given.
#[derive(Debug, Clone, Copy)]
struct Quality {
    /// An eligible period without a grant paying (none, started late, ended wrongly).
    grant_gap: f64,
    suspension: f64,
    /// A grant not (or late) terminated when its resident stopped qualifying.
    unterminated: f64,
    medical: f64,
    pension: f64,
    employed: f64,
    high_school: f64,
    rehab_served: f64,
    device_fitted: f64,
    case_completed: f64,
    culture: f64,
    /// Income growth against the year's GDP growth, in basis points.
    income_bp: i32,
}

const NORMAL: Quality = Quality {
    grant_gap: 0.002,
    suspension: 0.015,
    unterminated: 0.01,
    medical: 0.996,
    pension: 0.994,
    employed: 0.74,
    high_school: 0.98,
    rehab_served: 0.997,
    device_fitted: 0.997,
    case_completed: 0.99,
    culture: 0.975,
    income_bp: 120,
};

const LAGGING: Quality = Quality {
    grant_gap: 0.05,
    suspension: 0.04,
    unterminated: 0.04,
    medical: 0.965,
    pension: 0.95,
    employed: 0.56,
    high_school: 0.8,
    rehab_served: 0.95,
    device_fitted: 0.94,
    case_completed: 0.88,
    culture: 0.9,
    income_bp: -150,
};

#[derive(Debug, Clone)]
pub struct Certificate {
    pub category: Category,
    pub components: Vec<Category>,
    pub grade: i32,
    pub reissue: i32,
    pub issued_on: NaiveDate,
    pub valid_until: NaiveDate,
    pub cancelled_on: Option<NaiveDate>,
    pub cancel_reason: Option<CancelReason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusPeriod {
    pub status: HouseholdStatus,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Suspension {
    pub suspended_on: NaiveDate,
    pub resumed_on: Option<NaiveDate>,
    pub reason: &'static str,
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub kind: SubsidyKind,
    pub start_month: NaiveDate,
    pub monthly_amount_fen: i64,
    pub eligible_at_start: bool,
    pub override_reason: Option<&'static str>,
    pub terminated_on: Option<NaiveDate>,
    pub terminate_reason: Option<&'static str>,
    pub suspensions: Vec<Suspension>,
}

/// A record of one of the simpler sections, as the service's section type.
#[derive(Debug, Clone)]
pub enum Record {
    RehabNeed(RehabNeed),
    RehabService(RehabService),
    AssistiveDevice(AssistiveDevice),
    Employment(Employment),
    Training(Training),
    Education(Education),
    Insurance(Insurance),
    CultureService(CultureService),
    Income(Income),
    OtherBenefit(OtherBenefit),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub status: CaseStatus,
    pub applied_on: NaiveDate,
    pub assessed_on: Option<NaiveDate>,
    pub assessment: Option<Assessment>,
    pub started_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    pub cancelled_on: Option<NaiveDate>,
    pub cancel_reason: Option<&'static str>,
    pub items: Vec<Item>,
    pub cost_fen: Option<i64>,
}

/// A move between towns; town and village indexes into the district.
#[derive(Debug, Clone)]
pub struct Move {
    pub from_town: usize,
    pub from_village: Option<usize>,
    pub to_town: usize,
    pub to_village: Option<usize>,
    pub moved_on: NaiveDate,
}

/// One resident and everything in the file.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub number: IdNumber,
    pub name: String,
    pub birth: NaiveDate,
    pub male: bool,
    /// The current town and village (after any moves).
    pub town: usize,
    pub village: Option<usize>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_phone: Option<String>,
    pub flags: Vec<HouseholdFlag>,
    pub work_capacity: Option<bool>,
    pub registered_on: NaiveDate,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub statuses: Vec<StatusPeriod>,
    pub certificates: Vec<Certificate>,
    pub grants: Vec<Grant>,
    pub records: Vec<Record>,
    pub cases: Vec<Case>,
    pub moves: Vec<Move>,
}

impl Person {
    /// The facts the subsidy rules read.
    pub fn facts(&self) -> ResidentFacts {
        ResidentFacts {
            deceased_on: self.deceased_on,
            moved_out_on: self.moved_out_on,
            certificates: self
                .certificates
                .iter()
                .map(|c| CertificateFact {
                    category: c.category,
                    components: c.components.clone(),
                    grade: c.grade,
                    issued_on: c.issued_on,
                    valid_until: c.valid_until,
                    cancelled_on: c.cancelled_on,
                })
                .collect(),
            household: self
                .statuses
                .iter()
                .map(|s| {
                    (
                        s.status,
                        Span {
                            start: s.since,
                            end: s.until,
                        },
                    )
                })
                .collect(),
            work_injury_nursing: self
                .records
                .iter()
                .filter_map(|r| match r {
                    Record::OtherBenefit(b) if b.kind == OtherBenefitKind::WorkInjuryNursing => {
                        Some(Span {
                            start: b.start_on,
                            end: b.end_on,
                        })
                    }
                    _ => None,
                })
                .collect(),
        }
    }
}

// ---- dates -----------------------------------------------------------------------------------

fn plus(day: NaiveDate, days: i64) -> NaiveDate {
    day + TimeDelta::days(days)
}

/// A day from `a` through `b` (`a` when the range is empty).
fn between(rng: &mut StdRng, a: NaiveDate, b: NaiveDate) -> NaiveDate {
    if b <= a {
        return a;
    }
    plus(a, rng.gen_range(0..=(b - a).num_days()))
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1 exists")
}

fn next_month(day: NaiveDate) -> NaiveDate {
    first_of_month(day) + Months::new(1)
}

/// The first day of a month on or after `day`.
fn month_from(day: NaiveDate) -> NaiveDate {
    if day.day() == 1 {
        day
    } else {
        next_month(day)
    }
}

fn add_years(day: NaiveDate, years: u32) -> NaiveDate {
    day.checked_add_months(Months::new(12 * years))
        .unwrap_or(NaiveDate::MAX)
}

fn sub_years(day: NaiveDate, years: u32) -> NaiveDate {
    day.checked_sub_months(Months::new(12 * years))
        .unwrap_or(NaiveDate::MIN)
}

/// Completed years, as the indicators count them (0 before birth).
fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    crate::domain::indicators::rules::age_on(birth, day) as i32
}

// ---- seeded streams --------------------------------------------------------------------------

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// An independent generator for one purpose (`salt`) of a seed.
pub fn stream(seed: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(splitmix(splitmix(seed) ^ splitmix(salt.wrapping_add(1))))
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut at = rng.gen_range(0..total);
    for (item, weight) in items {
        if at < *weight {
            return *item;
        }
        at -= weight;
    }
    items[items.len() - 1].0
}

fn one_of<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

// ---- identities ------------------------------------------------------------------------------

/// Age at the horizon: range and weight. The disabled population is old: more than half 60+.
const AGE_BANDS: &[((i32, i32), u32)] = &[
    ((0, 5), 2),
    ((6, 14), 4),
    ((15, 17), 3),
    ((18, 29), 6),
    ((30, 44), 11),
    ((45, 59), 22),
    ((60, 69), 20),
    ((70, 79), 18),
    ((80, 99), 14),
];

const OTHER_REGIONS: &[&str] = &[
    "330282", "330281", "330203", "330212", "330226", "330225", "330227", "330106", "341122",
    "510922", "522425", "362324",
];

fn birth_date(rng: &mut StdRng, horizon: NaiveDate) -> NaiveDate {
    let (lo, hi) = pick(rng, AGE_BANDS);
    let age = rng.gen_range(lo..=hi) as u32;
    let latest = sub_years(horizon, age);
    let earliest = plus(sub_years(horizon, age + 1), 1);
    between(rng, earliest, latest)
}

/// The region of first registration: 330213 for numbers issued since 2016, 330283 (奉化市)
/// before, and some from elsewhere.
fn region(rng: &mut StdRng, birth: NaiveDate) -> &'static str {
    if birth.year() >= 2016 {
        if rng.gen_bool(0.95) {
            "330213"
        } else {
            one_of(rng, OTHER_REGIONS)
        }
    } else {
        match rng.gen_range(0..100) {
            0..=77 => "330283",
            78..=87 => "330213",
            _ => one_of(rng, OTHER_REGIONS),
        }
    }
}

/// `count` distinct valid ID numbers, none for which `taken` is true (numbers already in the
/// database). Drawn from one stream of the seed, before anything else, so the chunks that
/// follow can be generated in parallel and stay deterministic.
pub fn identities(
    seed: u64,
    count: usize,
    horizon: NaiveDate,
    taken: &dyn Fn(&IdNumber) -> bool,
) -> Vec<IdNumber> {
    let mut rng = stream(seed, u64::MAX);
    let mut used: HashSet<u64> = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let birth = birth_date(&mut rng, horizon);
        let male = rng.gen_bool(0.53);
        let region = region(&mut rng, birth);
        for _ in 0..20 {
            // The sequence's last digit is the 17th of the number: odd for men.
            let sequence = rng.gen_range(1..500u16) * 2 + u16::from(male);
            let number = id_number::compose(region, birth, sequence);
            let key: u64 = number.as_str()[..17].parse().expect("17 digits");
            if used.contains(&key) || taken(&number) {
                continue;
            }
            used.insert(key);
            out.push(number);
            break;
        }
    }
    out
}

// ---- one resident ----------------------------------------------------------------------------

/// What every resident is generated against.
pub struct Generator<'a> {
    pub district: &'a District,
    pub policies: &'a [Policy],
    pub horizon: NaiveDate,
}

impl Generator<'_> {
    fn quality(&self, town: usize) -> Quality {
        if self.district.towns[town].low {
            LAGGING
        } else {
            NORMAL
        }
    }

    pub fn person(&self, rng: &mut StdRng, id: i64, number: IdNumber) -> Person {
        let horizon = self.horizon;
        let birth = number.birth_date();
        let male = number.as_str().as_bytes()[16] % 2 == 1;
        let age = age_on(birth, horizon);
        let first_town = self.district.pick_town(rng);
        let first_village = self.district.pick_village(rng, first_town);
        let name = names::person_name(rng, male, birth.year());

        // The disability.
        let category = pick(rng, category_weights(age));
        let grade = match category {
            Category::Intellectual | Category::Mental | Category::Multiple => {
                pick(rng, &[(1, 18), (2, 30), (3, 30), (4, 22)])
            }
            _ => pick(rng, &[(1, 12), (2, 20), (3, 30), (4, 38)]),
        };
        let components = if category == Category::Multiple {
            let mut parts: Vec<Category> = Vec::new();
            let wanted = if rng.gen_bool(0.8) { 2 } else { 3 };
            while parts.len() < wanted {
                let c = Category::ALL[rng.gen_range(0..6)];
                if !parts.contains(&c) {
                    parts.push(c);
                }
            }
            parts.sort();
            parts
        } else {
            Vec::new()
        };

        // Registration: the first certificate.
        let earliest_issue = horizon.min(ymd(2008, 1, 1).max(plus(birth, 180)));
        let first_issue = if earliest_issue < plan_start() && rng.gen_bool(0.7) {
            between(rng, earliest_issue, ymd(2020, 12, 31))
        } else {
            between(rng, earliest_issue.max(plan_start()), horizon)
        };
        let registered_on = first_issue;

        // Death or move-out.
        let leave_from = plus(registered_on, 30).max(plan_start());
        let mut deceased_on = None;
        let mut moved_out_on = None;
        if leave_from <= horizon {
            let death = match age {
                85.. => 0.35,
                75..=84 => 0.18,
                60..=74 => 0.07,
                _ => 0.015,
            };
            if rng.gen_bool(death) {
                deceased_on = Some(between(rng, leave_from, horizon));
            } else if rng.gen_bool(if age < 60 { 0.03 } else { 0.015 }) {
                moved_out_on = Some(between(rng, leave_from, horizon));
            }
        }
        let left_on = deceased_on.or(moved_out_on);
        // The last day anything happens in the file.
        let last_day = left_on.map_or(horizon, |left| plus(left, -1));

        let certificates = certificates(
            rng,
            category,
            &components,
            grade,
            first_issue,
            last_day,
            left_on.map(|day| {
                (
                    day,
                    if deceased_on.is_some() {
                        CancelReason::Deceased
                    } else {
                        CancelReason::MovedOut
                    },
                )
            }),
        );
        let statuses = household(rng, age, grade, registered_on, last_day);
        let current_grade = certificates.last().map_or(grade, |c| c.grade);

        let work_capacity = match age {
            16..=59 => Some(rng.gen_bool(if current_grade >= 3 { 0.72 } else { 0.22 })),
            60.. if rng.gen_bool(0.3) => Some(false),
            _ => None,
        };

        // Moves between towns.
        let mut town = first_town;
        let mut village = first_village;
        let mut moves = Vec::new();
        let move_from = plus(registered_on, 30).max(plan_start());
        if move_from <= last_day && rng.gen_bool(0.035) {
            let mut on = between(rng, move_from, last_day);
            for _ in 0..if rng.gen_bool(0.1) { 2 } else { 1 } {
                if on > last_day {
                    break;
                }
                let to = loop {
                    let t = self.district.pick_town(rng);
                    if t != town {
                        break t;
                    }
                };
                let to_village = self.district.pick_village(rng, to);
                moves.push(Move {
                    from_town: town,
                    from_village: village,
                    to_town: to,
                    to_village,
                    moved_on: on,
                });
                town = to;
                village = to_village;
                on = between(rng, plus(on, 60), plus(on, 700));
            }
        }

        let mut person = Person {
            id,
            number,
            name,
            birth,
            male,
            town,
            village,
            address: None,
            phone: None,
            guardian_name: None,
            guardian_phone: None,
            flags: Vec::new(),
            work_capacity,
            registered_on,
            deceased_on,
            moved_out_on,
            statuses,
            certificates,
            grants: Vec::new(),
            records: Vec::new(),
            cases: Vec::new(),
            moves,
        };
        self.contact(rng, &mut person, category, current_grade, age);
        let quality = self.quality(first_town);
        self.work_injury(rng, &mut person, category, grade, last_day);
        self.education(rng, &mut person, quality, current_grade, last_day);
        self.yearly(rng, &mut person, quality, category, current_grade, last_day);
        self.employment(rng, &mut person, quality, last_day);
        self.home_modification(rng, &mut person, quality, category, current_grade, last_day);
        person.grants = self.grants(rng, &person, quality);
        person
    }

    fn contact(&self, rng: &mut StdRng, p: &mut Person, category: Category, grade: i32, age: i32) {
        let town = &self.district.towns[p.town];
        if rng.gen_bool(0.85) {
            p.address = Some(match p.village.map(|v| &town.villages[v]) {
                Some(v) if v.name.ends_with('村') => {
                    format!("{}{}号", v.name, rng.gen_range(1..400))
                }
                _ => format!(
                    "{}{}弄{}号",
                    one_of(rng, names::STREETS),
                    rng.gen_range(1..120),
                    rng.gen_range(1..60)
                ),
            });
        }
        if age >= 12 && rng.gen_bool(if age >= 80 { 0.45 } else { 0.85 }) {
            p.phone = Some(mobile(rng));
        }
        let needs_guardian = age < 18
            || (matches!(category, Category::Intellectual | Category::Mental) && grade <= 2);
        if needs_guardian && rng.gen_bool(0.85) {
            let parent_year = p.birth.year() - rng.gen_range(22..36);
            let surname = p.name.chars().next().map(String::from).unwrap_or_default();
            let male = rng.gen_bool(0.5);
            let given = names::person_name(rng, male, parent_year);
            let given: String = given.chars().skip(1).collect();
            p.guardian_name = Some(format!("{surname}{given}"));
            if rng.gen_bool(0.9) {
                p.guardian_phone = Some(if rng.gen_bool(0.85) {
                    mobile(rng)
                } else {
                    format!("0574{:08}", rng.gen_range(50_000_000..90_000_000u32))
                });
            }
        }
        if rng.gen_bool(0.03) {
            p.flags.push(HouseholdFlag::MultipleDisabled);
        }
        if age < 45 && rng.gen_bool(0.04) {
            p.flags.push(HouseholdFlag::ElderlyCaringForDisabled);
        }
        if age >= 60 && rng.gen_bool(0.015) {
            p.flags.push(HouseholdFlag::BereavedElderlyDisabled);
        }
    }

    fn work_injury(
        &self,
        rng: &mut StdRng,
        p: &mut Person,
        category: Category,
        grade: i32,
        last_day: NaiveDate,
    ) {
        let age = age_on(p.birth, self.horizon);
        if grade > 2
            || !matches!(category, Category::Physical | Category::Multiple)
            || !(22..=70).contains(&age)
            || !rng.gen_bool(0.03)
        {
            return;
        }
        let from = add_years(p.birth, 18).max(ymd(2012, 1, 1));
        if from > last_day {
            return;
        }
        let start_on = between(rng, from, last_day);
        let end_on = (rng.gen_bool(0.5) && plus(start_on, 365) < self.horizon)
            .then(|| between(rng, plus(start_on, 365), self.horizon));
        p.records.push(Record::OtherBenefit(OtherBenefit {
            kind: OtherBenefitKind::WorkInjuryNursing,
            start_on,
            end_on,
        }));
    }

    /// School stages, entered in the September after the sixth birthday's school year (cut-off
    /// 31 August), kept from 2018 on.
    fn education(
        &self,
        rng: &mut StdRng,
        p: &mut Person,
        quality: Quality,
        grade: i32,
        last_day: NaiveDate,
    ) {
        if p.birth.year() < 1999 {
            return;
        }
        let school_year = p.birth.year() + 6 + i32::from(p.birth.month() >= 9);
        // Severely intellectually disabled children: half at the special school, fewer go on.
        let severe_intellectual = grade <= 2
            && matches!(
                p.certificates[0].category,
                Category::Intellectual | Category::Multiple | Category::Mental
            );
        let mut stages: Vec<(EducationStage, i32, i32, &'static str)> = Vec::new();
        if rng.gen_bool(0.45) {
            stages.push((
                EducationStage::Preschool,
                school_year - 3,
                school_year,
                "幼儿园",
            ));
        }
        let special = severe_intellectual && rng.gen_bool(0.5);
        stages.push((
            EducationStage::Compulsory,
            school_year,
            school_year + 9,
            if special {
                "奉化区特殊教育学校"
            } else {
                "奉化区实验学校"
            },
        ));
        let high = quality.high_school * if severe_intellectual { 0.92 } else { 1.0 };
        if rng.gen_bool(high) {
            let (stage, school) = if rng.gen_bool(0.55) {
                (EducationStage::HighSchool, "奉化中学")
            } else {
                (
                    EducationStage::SecondaryVocational,
                    "奉化区职业教育中心学校",
                )
            };
            stages.push((stage, school_year + 9, school_year + 12, school));
            if rng.gen_bool(0.35) {
                let years = if rng.gen_bool(0.5) { 4 } else { 3 };
                stages.push((
                    EducationStage::Higher,
                    school_year + 12,
                    school_year + 12 + years,
                    "宁波职业技术学院",
                ));
            }
        }
        for (stage, from, to, school) in stages {
            let start_on = ymd(from, 9, 1);
            let end = ymd(to, 6, 30);
            if start_on > last_day || end < ymd(2018, 1, 1) {
                continue;
            }
            p.records.push(Record::Education(Education {
                stage,
                school: Some(school.to_owned()),
                start_on,
                end_on: (end <= self.horizon).then_some(end),
            }));
        }
    }

    /// Per year of the plan period the resident is on the register: insurance, income,
    /// rehabilitation, assistive devices, culture and sports.
    fn yearly(
        &self,
        rng: &mut StdRng,
        p: &mut Person,
        quality: Quality,
        category: Category,
        grade: i32,
        last_day: NaiveDate,
    ) {
        let first_year = p.registered_on.year().max(plan_start().year());
        let last_year = last_day.year().min(self.horizon.year());
        let poor = p
            .statuses
            .iter()
            .any(|s| matches!(s.status, HouseholdStatus::Dibao | HouseholdStatus::Tekun));

        // Income: a household's per-capita disposable income, for most households.
        if rng.gen_bool(0.62) {
            let urban = self.district.towns[p.town].code.as_str() < "330213100";
            let mut income: f64 = if poor {
                rng.gen_range(1_100_000.0..2_100_000.0)
            } else if urban {
                rng.gen_range(2_800_000.0..6_000_000.0)
            } else {
                rng.gen_range(2_100_000.0..4_200_000.0)
            };
            let from = p.registered_on.year().max(2021) - 1;
            for year in from..=last_year {
                if year > from {
                    let gdp = GDP_GROWTH_BP
                        .iter()
                        .find(|(y, _)| *y == year)
                        .map_or(500, |(_, g)| *g);
                    let bp = gdp + quality.income_bp + rng.gen_range(-400..=400);
                    income *= 1.0 + f64::from(bp) / 10_000.0;
                }
                if year >= p.birth.year() {
                    p.records.push(Record::Income(Income {
                        year,
                        per_capita_income_fen: income.round() as i64,
                    }));
                }
            }
        }

        let students: Vec<Span> = p
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Education(e) => Some(Span {
                    start: e.start_on,
                    end: e.end_on,
                }),
                _ => None,
            })
            .collect();
        let need_chance = match category {
            Category::Physical => 0.42,
            Category::Intellectual | Category::Multiple => 0.4,
            Category::Mental => 0.35,
            Category::Hearing | Category::Speech => 0.2,
            Category::Visual => 0.18,
        };
        let device_chance = match category {
            Category::Physical | Category::Hearing => 0.12,
            Category::Visual => 0.1,
            Category::Multiple => 0.08,
            _ => 0.03,
        };

        for year in first_year..=last_year {
            let jan1 = ymd(year, 1, 1);
            let dec31 = ymd(year, 12, 31);
            let from = jan1.max(p.registered_on);
            let to = dec31.min(last_day);
            let government_paid = poor || grade <= 2;

            // Insurance of the year: medical for all, pension from 16 to 59 when not at school
            // all year.
            let insurance = |rng: &mut StdRng, kind, chance: f64| {
                if rng.gen_bool(chance) {
                    Some(Insurance {
                        year,
                        kind,
                        enrolled: true,
                        government_paid,
                    })
                } else {
                    rng.gen_bool(0.6).then_some(Insurance {
                        year,
                        kind,
                        enrolled: false,
                        government_paid: false,
                    })
                }
            };
            if let Some(r) = insurance(rng, InsuranceKind::Medical, quality.medical) {
                p.records.push(Record::Insurance(r));
            }
            let adult_in_year = age_on(p.birth, dec31) >= 16 && age_on(p.birth, jan1) <= 59;
            let at_school_all_year = students
                .iter()
                .any(|s| s.contains(jan1) && s.contains(dec31));
            if adult_in_year && !at_school_all_year {
                if let Some(r) = insurance(rng, InsuranceKind::Pension, quality.pension) {
                    p.records.push(Record::Insurance(r));
                }
            }
            if from > to {
                continue;
            }

            // Rehabilitation: an assessed need, served the same day as a rule.
            if rng.gen_bool(need_chance) {
                let kind = rehab_type(rng, category);
                let assessed_on = between(rng, from, to);
                p.records
                    .push(Record::RehabNeed(RehabNeed { kind, assessed_on }));
                if rng.gen_bool(quality.rehab_served) {
                    let first = if rng.gen_bool(0.92) {
                        assessed_on
                    } else {
                        plus(assessed_on, rng.gen_range(1..=7))
                    };
                    let mut days = vec![first];
                    for _ in 0..rng.gen_range(0..=2) {
                        days.push(between(rng, first, to));
                    }
                    for service_on in days.into_iter().filter(|d| *d <= to) {
                        p.records.push(Record::RehabService(RehabService {
                            kind,
                            provider: Some(one_of(rng, names::REHAB_PROVIDERS).to_owned()),
                            service_on,
                        }));
                    }
                }
            }

            // Assistive devices: fitted the day of the need as a rule.
            if rng.gen_bool(device_chance) {
                let needed_on = between(rng, from, to);
                let fitted_on = rng
                    .gen_bool(quality.device_fitted)
                    .then(|| {
                        if rng.gen_bool(0.85) {
                            needed_on
                        } else {
                            plus(needed_on, rng.gen_range(1..=5))
                        }
                    })
                    .filter(|d| *d <= self.horizon);
                p.records.push(Record::AssistiveDevice(AssistiveDevice {
                    device_type: device_type(rng, category),
                    needed_on,
                    mode: fitted_on.map(|_| {
                        pick(
                            rng,
                            &[
                                (DeviceMode::InKind, 60),
                                (DeviceMode::Voucher, 30),
                                (DeviceMode::Rental, 10),
                            ],
                        )
                    }),
                    fitted_on,
                }));
            }

            // Culture and sports: the New Year's round first (送文化), then the odd activity.
            if rng.gen_bool(quality.culture) {
                let first = if from <= ymd(year, 1, 2) {
                    between(rng, ymd(year, 1, 2), ymd(year, 2, 28).min(to))
                } else {
                    between(rng, from, plus(from, 60).min(to))
                };
                let mut days = vec![first];
                if rng.gen_bool(0.25) {
                    days.push(between(rng, first, to));
                }
                for service_on in days.into_iter().filter(|d| *d <= to) {
                    p.records.push(Record::CultureService(CultureService {
                        kind: pick(
                            rng,
                            &[
                                (CultureKind::Culture, 45),
                                (CultureKind::Sports, 30),
                                (CultureKind::Reading, 15),
                                (CultureKind::Other, 10),
                            ],
                        ),
                        activity: Some(one_of(rng, names::CULTURE_ACTIVITIES).to_owned()),
                        service_on,
                    }));
                }
            }
        }
    }

    /// Spells of work for those able to work, one after the other; some vocational training.
    fn employment(&self, rng: &mut StdRng, p: &mut Person, quality: Quality, last_day: NaiveDate) {
        if p.work_capacity != Some(true) {
            return;
        }
        let from = add_years(p.birth, 16).max(ymd(2008, 1, 1));
        if from > last_day {
            return;
        }
        if rng.gen_bool(0.05) {
            let start_on = between(
                rng,
                p.registered_on.max(plan_start()).min(last_day),
                last_day,
            );
            let end = plus(start_on, rng.gen_range(5..60));
            p.records.push(Record::Training(Training {
                course: one_of(rng, names::TRAINING_COURSES).to_owned(),
                provider: Some("奉化区残疾人职业技能培训基地".to_owned()),
                start_on,
                end_on: (end <= self.horizon).then_some(end),
                certified: rng.gen_bool(0.6),
            }));
        }
        if !rng.gen_bool(quality.employed) {
            return;
        }
        let kinds = [
            (EmploymentKind::Agriculture, 20),
            (EmploymentKind::Flexible, 25),
            (EmploymentKind::Concentrated, 10),
            (EmploymentKind::Proportional, 15),
            (EmploymentKind::SelfEmployed, 10),
            (EmploymentKind::Auxiliary, 10),
            (EmploymentKind::PublicWelfare, 10),
        ];
        let mut start_on = if from < plan_start() && rng.gen_bool(0.82) {
            between(rng, from, ymd(2020, 12, 31))
        } else {
            between(rng, from.max(plan_start()), last_day)
        };
        let mut previous = None;
        for _ in 0..2 {
            let kind = loop {
                let k = pick(rng, &kinds);
                if Some(k) != previous {
                    break k;
                }
            };
            let employer = match kind {
                EmploymentKind::Concentrated
                | EmploymentKind::Proportional
                | EmploymentKind::Auxiliary => Some(one_of(rng, names::EMPLOYERS).to_owned()),
                EmploymentKind::PublicWelfare => {
                    Some(format!("{}公益性岗位", self.district.towns[p.town].name))
                }
                _ => None,
            };
            let ends = rng.gen_bool(0.18) && plus(start_on, 180) < self.horizon;
            let end_on = ends.then(|| between(rng, plus(start_on, 180), self.horizon));
            p.records.push(Record::Employment(Employment {
                kind,
                employer,
                start_on,
                end_on,
            }));
            let Some(end) = end_on else { break };
            if !rng.gen_bool(0.55) {
                break;
            }
            start_on = plus(end, rng.gen_range(30..240));
            if start_on > last_day {
                break;
            }
            previous = Some(kind);
        }
    }

    fn home_modification(
        &self,
        rng: &mut StdRng,
        p: &mut Person,
        quality: Quality,
        category: Category,
        grade: i32,
        last_day: NaiveDate,
    ) {
        let mobility = matches!(
            category,
            Category::Physical | Category::Visual | Category::Multiple
        );
        let chance = if grade <= 2 && mobility { 0.12 } else { 0.03 };
        let from = p.registered_on.max(plan_start());
        if from > last_day || !rng.gen_bool(chance) {
            return;
        }
        let horizon = self.horizon;
        let applied_on = between(rng, from, last_day);
        let items: Vec<Item> = (0..rng.gen_range(1..=3))
            .map(|_| Item {
                name: one_of(rng, names::MODIFICATION_ITEMS).to_owned(),
                cost_fen: Some(rng.gen_range(50_000..800_000) / 100 * 100),
            })
            .collect();
        let mut case = Case {
            status: CaseStatus::Applied,
            applied_on,
            assessed_on: None,
            assessment: None,
            started_on: None,
            completed_on: None,
            cancelled_on: None,
            cancel_reason: None,
            items,
            cost_fen: None,
        };
        let cancel_at = rng.gen_bool(0.04).then(|| rng.gen_range(0..3));
        let mut last_step = applied_on;
        'steps: {
            if cancel_at == Some(0) {
                break 'steps;
            }
            let assessed_on = plus(applied_on, rng.gen_range(7..30));
            if assessed_on > horizon {
                break 'steps;
            }
            let eligible = rng.gen_bool(0.88);
            case.status = CaseStatus::Assessed;
            case.assessed_on = Some(assessed_on);
            case.assessment = Some(if eligible {
                Assessment::Eligible
            } else {
                Assessment::Ineligible
            });
            last_step = assessed_on;
            if !eligible || cancel_at == Some(1) || !rng.gen_bool(quality.case_completed) {
                break 'steps;
            }
            let started_on = plus(assessed_on, rng.gen_range(3..20));
            if started_on > horizon {
                break 'steps;
            }
            case.status = CaseStatus::InProgress;
            case.started_on = Some(started_on);
            last_step = started_on;
            if cancel_at == Some(2) {
                break 'steps;
            }
            let completed_on = plus(started_on, rng.gen_range(7..30));
            if completed_on > horizon {
                break 'steps;
            }
            case.status = CaseStatus::Completed;
            case.completed_on = Some(completed_on);
            case.cost_fen = Some(case.items.iter().filter_map(|i| i.cost_fen).sum());
        }
        if cancel_at.is_some() && case.status != CaseStatus::Completed {
            let cancelled_on = plus(last_step, rng.gen_range(5..60));
            if cancelled_on <= horizon {
                case.status = CaseStatus::Cancelled;
                case.cancelled_on = Some(cancelled_on);
                case.cancel_reason = Some(one_of(
                    rng,
                    &[
                        "申请人放弃改造",
                        "已入住养老机构",
                        "房屋拆迁",
                        "家属不同意施工",
                    ],
                ));
            }
        }
        p.cases.push(case);
    }

    /// The grants of both subsidies, following the rules: a grant from the first month the
    /// resident qualifies on its first day, terminated from the month after they stop; a
    /// certificate renewed late suspends the grant meanwhile. Some towns lag (no grant, a late
    /// start, a wrongful termination); some terminations are not recorded.
    fn grants(&self, rng: &mut StdRng, p: &Person, quality: Quality) -> Vec<Grant> {
        let facts = p.facts();
        let mut days: Vec<NaiveDate> = vec![plan_start()];
        for c in &facts.certificates {
            days.push(c.issued_on);
            days.push(plus(c.valid_until, 1));
            days.extend(c.cancelled_on);
        }
        for (_, span) in &facts.household {
            days.push(span.start);
            days.extend(span.end.map(|e| plus(e, 1)));
        }
        for span in &facts.work_injury_nursing {
            days.push(span.start);
            days.extend(span.end.map(|e| plus(e, 1)));
        }
        days.extend(p.deceased_on);
        days.extend(p.moved_out_on);
        days.extend(self.policies.iter().map(|policy| policy.effective_from));
        days.retain(|d| *d >= plan_start() && *d <= self.horizon);
        days.sort();
        days.dedup();

        let mut grants = Vec::new();
        for kind in SubsidyKind::ALL {
            // Periods in which the resident qualifies: [from, to).
            let mut periods: Vec<(NaiveDate, Option<NaiveDate>)> = Vec::new();
            let mut open: Option<NaiveDate> = None;
            for day in &days {
                let eligible =
                    decide(&facts, *kind, policy_on(self.policies, *kind, *day), *day).eligible;
                match (eligible, open) {
                    (true, None) => open = Some(*day),
                    (false, Some(from)) => {
                        periods.push((from, Some(*day)));
                        open = None;
                    }
                    _ => {}
                }
            }
            if let Some(from) = open {
                periods.push((from, None));
            }
            self.grants_of_kind(rng, p, &facts, *kind, &periods, quality, &mut grants);
        }
        grants
    }

    #[allow(clippy::too_many_arguments)]
    fn grants_of_kind(
        &self,
        rng: &mut StdRng,
        p: &Person,
        facts: &ResidentFacts,
        kind: SubsidyKind,
        periods: &[(NaiveDate, Option<NaiveDate>)],
        quality: Quality,
        grants: &mut Vec<Grant>,
    ) {
        let horizon = self.horizon;
        let eligible_on =
            |day: NaiveDate| decide(facts, kind, policy_on(self.policies, kind, day), day).eligible;
        // No grant may start before the previous one's termination.
        let mut earliest = plan_start();
        let mut i = 0;
        while i < periods.len() {
            let (from, mut to) = periods[i];
            i += 1;
            let mut start = month_from(from).max(earliest);
            if start > horizon || to.is_some_and(|to| start >= to) {
                continue;
            }
            let mut wrongly_ended = None;
            if rng.gen_bool(quality.grant_gap) {
                match rng.gen_range(0..100) {
                    0..=44 => continue,
                    45..=74 => {
                        start = start + Months::new(rng.gen_range(2..10));
                        if start > horizon || to.is_some_and(|to| start >= to) {
                            continue;
                        }
                    }
                    _ => {
                        let until = to.map_or(horizon, |to| plus(to, -1)).min(horizon);
                        if plus(start, 60) < until {
                            wrongly_ended = Some(between(rng, plus(start, 60), until));
                        }
                    }
                }
            }
            let Some(policy) = policy_on(self.policies, kind, start) else {
                continue;
            };
            let eligible_at_start = eligible_on(start);
            let mut grant = Grant {
                kind,
                start_month: start,
                monthly_amount_fen: policy.monthly_amount_fen,
                eligible_at_start,
                override_reason: (!eligible_at_start).then_some("历史发放记录迁移"),
                terminated_on: None,
                terminate_reason: None,
                suspensions: Vec::new(),
            };
            if let Some(on) = wrongly_ended {
                grant.terminated_on = Some(on);
                grant.terminate_reason = Some("年审材料未提交");
                earliest = on;
                grants.push(grant);
                // Put right some months later, for the rest of the period.
                if rng.gen_bool(0.5) {
                    let again = month_from(plus(on, rng.gen_range(60..200)));
                    if again <= horizon && to.is_none_or(|to| again < to) {
                        i -= 1;
                        earliest = again;
                    }
                }
                continue;
            }
            // A certificate renewed within three months: suspended meanwhile, then resumed.
            while let (Some(gap_from), Some(next)) = (to, periods.get(i)) {
                let certificate_gap = decide(
                    facts,
                    kind,
                    policy_on(self.policies, kind, gap_from),
                    gap_from,
                )
                .reasons
                .contains(&Reason::NoValidCertificate);
                if !certificate_gap || (next.0 - gap_from).num_days() > 92 || !rng.gen_bool(0.8) {
                    break;
                }
                grant.suspensions.push(Suspension {
                    suspended_on: gap_from,
                    resumed_on: Some(next.0),
                    reason: "残疾人证待换领",
                });
                to = next.1;
                i += 1;
            }
            // A suspension pending a check.
            let last = to.map_or(horizon, |to| plus(to, -1)).min(horizon);
            if grant.suspensions.is_empty()
                && plus(start, 30) < last
                && rng.gen_bool(quality.suspension)
            {
                let suspended_on = between(rng, plus(start, 30), last);
                let resumed_on = plus(suspended_on, rng.gen_range(30..150));
                grant.suspensions.push(Suspension {
                    suspended_on,
                    resumed_on: (resumed_on <= horizon).then_some(resumed_on),
                    reason: one_of(rng, &["待核查", "外出未年审", "信息核实中"]),
                });
            }
            if let Some(stop) = to {
                let why = decide(facts, kind, policy_on(self.policies, kind, stop), stop).reasons;
                let reason = termination_reason(&why);
                let left = p.deceased_on.is_some_and(|d| d <= stop)
                    || p.moved_out_on.is_some_and(|d| d <= stop);
                let last_period = i >= periods.len();
                let mut terminated_on = Some(next_month(stop));
                if !left && last_period && rng.gen_bool(quality.unterminated) {
                    // Not recorded, or recorded months late.
                    let late = next_month(stop) + Months::new(rng.gen_range(2..7));
                    terminated_on =
                        (rng.gen_bool(0.3) && late <= next_month(horizon)).then_some(late);
                }
                let mut reason = reason;
                // Recording a death or move-out ends every running grant from the month after.
                if let Some(departed) = p.deceased_on.or(p.moved_out_on) {
                    let ended = next_month(departed);
                    if terminated_on.is_none_or(|t| t > ended) {
                        terminated_on = Some(ended);
                        reason = if p.deceased_on.is_some() {
                            "deceased"
                        } else {
                            "moved_out"
                        };
                    }
                }
                grant.terminated_on = terminated_on;
                grant.terminate_reason = terminated_on.map(|_| reason);
                earliest = terminated_on.unwrap_or(NaiveDate::MAX);
            }
            grants.push(grant);
        }
    }
}

fn termination_reason(reasons: &[Reason]) -> &'static str {
    for reason in reasons {
        match reason {
            Reason::Deceased => return "deceased",
            Reason::MovedOut => return "moved_out",
            Reason::NoValidCertificate => return "certificate_expired",
            Reason::ExcludedHouseholdStatus => return "excluded_tekun",
            Reason::WorkInjuryNursingAllowance => return "work_injury_nursing",
            _ => {}
        }
    }
    if reasons.contains(&Reason::HouseholdStatusNotQualifying) {
        "household_status_changed"
    } else if reasons.contains(&Reason::GradeNotCovered) {
        "grade_changed"
    } else {
        "no_policy"
    }
}

fn mobile(rng: &mut StdRng) -> String {
    format!(
        "1{}{:09}",
        one_of(rng, &['3', '5', '7', '8', '9']),
        rng.gen_range(0..1_000_000_000u32)
    )
}

fn category_weights(age: i32) -> &'static [(Category, u32)] {
    use Category::*;
    match age {
        ..=17 => &[
            (Physical, 150),
            (Visual, 50),
            (Hearing, 150),
            (Speech, 60),
            (Intellectual, 350),
            (Mental, 60),
            (Multiple, 180),
        ],
        18..=59 => &[
            (Physical, 400),
            (Visual, 90),
            (Hearing, 100),
            (Speech, 20),
            (Intellectual, 140),
            (Mental, 170),
            (Multiple, 80),
        ],
        _ => &[
            (Physical, 420),
            (Visual, 150),
            (Hearing, 230),
            (Speech, 5),
            (Intellectual, 40),
            (Mental, 70),
            (Multiple, 85),
        ],
    }
}

fn rehab_type(rng: &mut StdRng, category: Category) -> RehabType {
    use RehabType::*;
    match category {
        Category::Physical => pick(
            rng,
            &[
                (PhysicalTherapy, 50),
                (CommunityRehab, 30),
                (MedicalRehab, 20),
            ],
        ),
        Category::Hearing | Category::Speech => {
            pick(rng, &[(SpeechTherapy, 70), (CommunityRehab, 30)])
        }
        Category::Intellectual => pick(rng, &[(CognitiveTraining, 70), (CommunityRehab, 30)]),
        Category::Mental => pick(rng, &[(Psychological, 50), (MedicalRehab, 50)]),
        Category::Visual => pick(rng, &[(CommunityRehab, 60), (Other, 40)]),
        Category::Multiple => one_of(rng, RehabType::ALL),
    }
}

fn device_type(rng: &mut StdRng, category: Category) -> DeviceType {
    use DeviceType::*;
    match category {
        Category::Physical => pick(
            rng,
            &[
                (Wheelchair, 40),
                (WalkingAid, 35),
                (Prosthesis, 10),
                (DailyLivingAid, 15),
            ],
        ),
        Category::Hearing => HearingAid,
        Category::Visual => pick(rng, &[(VisualAid, 70), (DailyLivingAid, 30)]),
        _ => one_of(rng, DeviceType::ALL),
    }
}

/// The certificates of a life: the first, renewals at expiry (most on time, some late, some
/// never), perhaps a re-assessment and a reissue, and the last cancelled at death or move-out.
fn certificates(
    rng: &mut StdRng,
    category: Category,
    components: &[Category],
    grade: i32,
    first_issue: NaiveDate,
    last_day: NaiveDate,
    left: Option<(NaiveDate, CancelReason)>,
) -> Vec<Certificate> {
    let event_from = plus(first_issue, 180).max(plan_start());
    let mut events: Vec<(NaiveDate, bool)> = Vec::new();
    if event_from <= last_day && rng.gen_bool(0.05) {
        events.push((between(rng, event_from, last_day), true));
    }
    if event_from <= last_day && rng.gen_bool(0.02) {
        events.push((between(rng, event_from, last_day), false));
    }
    events.sort();
    let mut events = events.into_iter().peekable();

    let mut done = Vec::new();
    let mut current = Certificate {
        category,
        components: components.to_vec(),
        grade,
        reissue: 0,
        issued_on: first_issue,
        valid_until: add_years(first_issue, 10),
        cancelled_on: None,
        cancel_reason: None,
    };
    loop {
        while events
            .peek()
            .is_some_and(|(on, _)| *on <= current.issued_on)
        {
            events.next();
        }
        let next_event = events.peek().map(|(on, _)| *on).unwrap_or(NaiveDate::MAX);
        if current.valid_until < next_event.min(last_day) {
            // Expiry comes first: renewed (on time as a rule) or left to lapse.
            if !rng.gen_bool(0.9) {
                break;
            }
            let renewed_on = if rng.gen_bool(0.85) {
                plus(current.valid_until, -rng.gen_range(0..=60))
            } else {
                plus(current.valid_until, rng.gen_range(1..=150))
            }
            .max(plus(current.issued_on, 1));
            if renewed_on > last_day {
                break;
            }
            let next = Certificate {
                issued_on: renewed_on,
                valid_until: add_years(renewed_on, 10),
                ..current.clone()
            };
            current.cancelled_on = Some(renewed_on);
            current.cancel_reason = Some(CancelReason::Renewed);
            done.push(std::mem::replace(&mut current, next));
            continue;
        }
        let Some((on, reassess)) = events.next().filter(|(on, _)| *on <= last_day) else {
            break;
        };
        let next = if reassess {
            let grade = match current.grade {
                1 => 2,
                4 => 3,
                g if rng.gen_bool(0.5) => g - 1,
                g => g + 1,
            };
            Certificate {
                grade,
                reissue: 0,
                issued_on: on,
                valid_until: add_years(on, 10),
                ..current.clone()
            }
        } else {
            Certificate {
                reissue: current.reissue + 1,
                issued_on: on,
                ..current.clone()
            }
        };
        current.cancelled_on = Some(on);
        current.cancel_reason = Some(if reassess {
            CancelReason::Reassessed
        } else {
            CancelReason::Reissued
        });
        done.push(std::mem::replace(&mut current, next));
    }
    if let Some((day, reason)) = left {
        current.cancelled_on = Some(day);
        current.cancel_reason = Some(reason);
    }
    done.push(current);
    done
}

/// The household's status from registration, changing on the first of a month now and then.
fn household(
    rng: &mut StdRng,
    age: i32,
    grade: i32,
    registered_on: NaiveDate,
    last_day: NaiveDate,
) -> Vec<StatusPeriod> {
    use HouseholdStatus::*;
    let tekun = if age >= 60 && grade <= 2 { 9 } else { 4 };
    let mut status = pick(rng, &[(None, 75), (Dibao, 13), (Dibian, 8), (Tekun, tekun)]);
    let mut periods = vec![StatusPeriod {
        status,
        since: registered_on,
        until: Option::None,
    }];
    let changes = pick(rng, &[(0, 81), (1, 15), (2, 4)]);
    for _ in 0..changes {
        let since = periods.last().expect("one period").since;
        let from = month_from(plus(since, 1).max(plan_start()));
        if from > last_day {
            break;
        }
        let months =
            (last_day.year() - from.year()) * 12 + last_day.month() as i32 - from.month() as i32;
        let on = from + Months::new(rng.gen_range(0..=months.max(0)) as u32);
        if on > last_day {
            break;
        }
        let next = match status {
            None => pick(rng, &[(Dibao, 50), (Dibian, 30), (Tekun, 20)]),
            Dibao => pick(rng, &[(None, 50), (Dibian, 30), (Tekun, 20)]),
            Dibian => pick(rng, &[(Dibao, 60), (None, 40)]),
            Tekun => pick(rng, &[(Dibao, 50), (None, 50)]),
        };
        if let Some(last) = periods.last_mut() {
            last.until = Some(plus(on, -1));
        }
        periods.push(StatusPeriod {
            status: next,
            since: on,
            until: Option::None,
        });
        status = next;
    }
    periods
}
