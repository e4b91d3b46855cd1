//! The generator without a database: distinct valid ID numbers, files that keep the service's
//! rules, the same district for a seed, and coverage near the plan's targets with the lagging
//! towns visibly behind (by the indicator rules themselves).

use chrono::{Datelike, NaiveDate};

use super::generator::{self, District, Generator, Person, Record, StatusPeriod, Town, Village};
use crate::domain::certificate::CancelReason;
use crate::domain::eligibility::{
    GrantFact, LivingRules, NursingRules, Policy, Rules, Span, SubsidyKind,
};
use crate::domain::home_modification::{Assessment, CaseStatus};
use crate::domain::id_number::IdNumber;
use crate::domain::indicators::definition::{self, Definition, IndicatorCode};
use crate::domain::indicators::{self as indicators, Context, DefinitionSet, Mark};
use crate::domain::resident::HouseholdStatus;
use crate::error::FieldError;
use crate::use_cases::sections::kinds::{EducationStage, InsuranceKind};
use crate::use_cases::sections::{Life, Section};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    generator::ymd(y, m, d)
}

const TOWNS: &[(&str, &str)] = &[
    ("330213001", "锦屏街道"),
    ("330213002", "岳林街道"),
    ("330213003", "江口街道"),
    ("330213004", "西坞街道"),
    ("330213005", "萧王庙街道"),
    ("330213006", "方桥街道"),
    ("330213007", "尚田街道"),
    ("330213008", "莼湖街道"),
    ("330213100", "溪口镇"),
    ("330213106", "裘村镇"),
    ("330213107", "大堰镇"),
    ("330213108", "松岙镇"),
];

fn district() -> District {
    District::new(
        TOWNS
            .iter()
            .map(|(code, name)| {
                let (weight, low) = generator::town_plan(code);
                Town {
                    code: (*code).to_owned(),
                    name: (*name).to_owned(),
                    weight,
                    low,
                    villages: super::names::villages_of(code)
                        .iter()
                        .map(|(suffix, name)| Village {
                            code: format!("{code}{suffix}"),
                            name: (*name).to_owned(),
                        })
                        .collect(),
                }
            })
            .collect(),
    )
}

/// The policies the migrations seed.
fn policies() -> Vec<Policy> {
    vec![
        Policy {
            id: "living".into(),
            kind: SubsidyKind::Living,
            effective_from: day(2021, 1, 1),
            monthly_amount_fen: 30_000,
            rules: Rules::Living(LivingRules {
                household_statuses: vec![HouseholdStatus::Dibao],
                excluded_household_statuses: vec![HouseholdStatus::Tekun],
            }),
        },
        Policy {
            id: "nursing".into(),
            kind: SubsidyKind::Nursing,
            effective_from: day(2021, 1, 1),
            monthly_amount_fen: 30_000,
            rules: Rules::Nursing(NursingRules {
                grades: vec![1, 2],
                extension: None,
                excluded_household_statuses: vec![HouseholdStatus::Tekun],
                exclude_work_injury_nursing: true,
            }),
        },
    ]
}

/// The definitions version 1 as the migration seeds them.
fn definitions() -> DefinitionSet {
    let body = include_str!("../../migrations/sqlite/2026-12-01-000005_indicators/up.sql");
    let start = body.find("'[{").expect("the seeded body") + 1;
    let end = body[start..].find("}]'").expect("its end") + start + 2;
    let list: Vec<Definition> = serde_json::from_str(&body[start..end]).expect("parses");
    DefinitionSet {
        id: "v1".into(),
        version: 1,
        effective_from: day(2021, 1, 1),
        definitions: definition::check(list).expect("valid"),
        withdrawn: false,
    }
}

fn people(seed: u64, count: usize) -> (District, Vec<Person>) {
    let district = district();
    let policies = policies();
    let horizon = generator::default_horizon();
    let numbers = generator::identities(seed, count, horizon, &|_| false);
    let gen = Generator {
        district: &district,
        policies: &policies,
        horizon,
    };
    let mut rng = generator::stream(seed, 0);
    let people = numbers
        .into_iter()
        .enumerate()
        .map(|(i, number)| gen.person(&mut rng, i as i64 + 1, number))
        .collect();
    (district, people)
}

#[test]
fn identities_are_valid_distinct_and_mostly_of_fenghua() {
    let numbers = generator::identities(7, 20_000, generator::default_horizon(), &|_| false);
    let mut seen = std::collections::HashSet::new();
    let mut fenghua = 0;
    for n in &numbers {
        assert_eq!(IdNumber::parse(n.as_str()).as_ref(), Ok(n));
        assert!(seen.insert(n.as_str().to_owned()), "a repeated number");
        if n.as_str().starts_with("330213") || n.as_str().starts_with("330283") {
            fenghua += 1;
        }
    }
    assert!(fenghua > 17_000, "{fenghua} of 20000 from Fenghua");
    let again = generator::identities(7, 20_000, generator::default_horizon(), &|_| false);
    assert!(numbers == again, "the same seed gives the same numbers");
    let skipped =
        generator::identities(7, 100, generator::default_horizon(), &|n| n == &numbers[0]);
    assert!(
        !skipped.contains(&numbers[0]),
        "a taken number is not drawn"
    );
}

#[test]
fn a_seed_gives_the_same_files() {
    let (_, a) = people(11, 300);
    let (_, b) = people(11, 300);
    let digest = |p: &Vec<Person>| format!("{p:?}");
    assert_eq!(digest(&a), digest(&b));
    let (_, c) = people(12, 300);
    assert_ne!(digest(&a), digest(&c));
}

fn check_statuses(p: &Person, periods: &[StatusPeriod]) {
    assert_eq!(periods[0].since, p.registered_on);
    assert_eq!(periods.iter().filter(|s| s.until.is_none()).count(), 1);
    assert!(periods.last().unwrap().until.is_none());
    for pair in periods.windows(2) {
        let until = pair[0].until.expect("closed");
        assert!(until >= pair[0].since);
        assert_eq!(
            until.succ_opt(),
            Some(pair[1].since),
            "adjacent, no overlap"
        );
        assert_eq!(pair[1].since.day(), 1);
    }
}

#[test]
fn files_keep_the_rules_the_service_keeps() {
    let (district, people) = people(5, 4_000);
    let horizon = generator::default_horizon();
    let mut deaths = 0;
    for p in &people {
        let left = p.deceased_on.or(p.moved_out_on);
        deaths += usize::from(p.deceased_on.is_some());
        assert!(p.registered_on >= p.birth && p.registered_on <= horizon);
        check_statuses(p, &p.statuses);

        // Certificates: one active at most, each step after the last.
        let active: Vec<_> = p
            .certificates
            .iter()
            .filter(|c| c.cancelled_on.is_none())
            .collect();
        assert!(active.len() <= 1, "{p:?}");
        for pair in p.certificates.windows(2) {
            assert!(pair[1].issued_on >= pair[0].issued_on);
            assert_eq!(pair[0].cancelled_on, Some(pair[1].issued_on));
        }
        for c in &p.certificates {
            assert!(
                c.issued_on >= p.birth && c.issued_on <= horizon && c.valid_until > c.issued_on
            );
            assert!(c.cancelled_on.is_none_or(|d| d >= c.issued_on));
        }
        if let Some(day) = left {
            let last = p.certificates.last().unwrap();
            assert_eq!(last.cancelled_on, Some(day));
            assert!(matches!(
                last.cancel_reason,
                Some(CancelReason::Deceased | CancelReason::MovedOut)
            ));
        }

        // Grants: one running per kind, none starting before the last one ended.
        for kind in SubsidyKind::ALL {
            let grants: Vec<_> = p.grants.iter().filter(|g| g.kind == *kind).collect();
            assert!(grants.iter().filter(|g| g.terminated_on.is_none()).count() <= 1);
            for pair in grants.windows(2) {
                assert!(pair[1].start_month >= pair[0].terminated_on.expect("ended"));
            }
            for g in &grants {
                assert_eq!(g.start_month.day(), 1);
                assert!(g.eligible_at_start || g.override_reason.is_some());
                assert!(g.terminated_on.is_none_or(|t| t >= g.start_month));
                let mut after = g.start_month;
                for s in &g.suspensions {
                    assert!(s.suspended_on >= after);
                    assert!(s.resumed_on.is_none_or(|r| r > s.suspended_on));
                    after = s.resumed_on.unwrap_or(NaiveDate::MAX);
                }
                if left.is_some() {
                    assert!(g.terminated_on.is_some(), "a departure ends every grant");
                }
            }
        }

        // Section records: every rule a record keeps when posted.
        let life = Life {
            birth: p.birth,
            left_on: left,
            today: horizon,
        };
        let mut errors: Vec<FieldError> = Vec::new();
        let mut spells = Vec::new();
        for r in &p.records {
            match r {
                Record::RehabNeed(x) => dated(x, &life, &mut errors),
                Record::RehabService(x) => dated(x, &life, &mut errors),
                Record::AssistiveDevice(x) => dated(x, &life, &mut errors),
                Record::Employment(x) => {
                    dated(x, &life, &mut errors);
                    x.check_against(&spells, &mut errors);
                    spells.push(x.clone());
                }
                Record::Training(x) => dated(x, &life, &mut errors),
                Record::Education(x) => dated(x, &life, &mut errors),
                Record::Insurance(x) => dated(x, &life, &mut errors),
                Record::CultureService(x) => dated(x, &life, &mut errors),
                Record::Income(x) => dated(x, &life, &mut errors),
                Record::OtherBenefit(x) => dated(x, &life, &mut errors),
            }
        }
        assert!(errors.is_empty(), "{errors:?}\n{p:?}");

        // Home modification cases: steps in order.
        for c in &p.cases {
            let steps = [c.assessed_on, c.started_on, c.completed_on];
            let mut last = c.applied_on;
            for step in steps.into_iter().flatten() {
                assert!(step >= last);
                last = step;
            }
            assert!(c.cancelled_on.is_none_or(|d| d >= last));
            match c.status {
                CaseStatus::Completed => {
                    assert!(c.completed_on.is_some() && c.cost_fen.is_some());
                    assert_eq!(c.assessment, Some(Assessment::Eligible));
                }
                CaseStatus::Cancelled => assert!(c.cancel_reason.is_some()),
                CaseStatus::InProgress => assert!(c.started_on.is_some()),
                CaseStatus::Assessed => assert!(c.assessed_on.is_some()),
                CaseStatus::Applied => assert!(c.assessed_on.is_none()),
            }
        }

        // Moves: a chain ending in the current town.
        let mut town = None;
        for m in &p.moves {
            assert_ne!(m.from_town, m.to_town);
            assert!(m.moved_on >= p.registered_on && left.is_none_or(|l| m.moved_on < l));
            if let Some(t) = town {
                assert_eq!(m.from_town, t);
            }
            town = Some(m.to_town);
        }
        if let Some(t) = town {
            assert_eq!(t, p.town);
        }
        if let Some(v) = p.village {
            assert!(v < district.towns[p.town].villages.len());
        }
    }
    assert!(deaths > 100, "some residents die ({deaths})");
}

/// The rules the service applies to a posted record: its own, and its dates within the life.
fn dated<S: Section>(record: &S, life: &Life, errors: &mut Vec<FieldError>) {
    record.check(life, errors);
    if record.dated_by_life() {
        let start = record.index().start_on;
        if start < life.birth || start > life.today || life.left_on.is_some_and(|l| start > l) {
            errors.push(FieldError::new(
                S::START_FIELD,
                "out_of_life",
                "outside the life",
            ));
        }
    }
}

/// A generated resident as the indicator rules see one.
fn facts(p: &Person) -> indicators::Person {
    use indicators::rules::{Case, Insurance};
    use indicators::Record as R;
    let records = p
        .records
        .iter()
        .filter_map(|r| match r {
            Record::RehabNeed(x) => Some(R::RehabNeed(x.assessed_on)),
            Record::RehabService(x) => Some(R::RehabService(x.service_on)),
            Record::AssistiveDevice(x) => Some(R::DeviceNeed {
                needed_on: x.needed_on,
                fitted_on: x.fitted_on,
            }),
            Record::Employment(x) => Some(R::Employment(Span {
                start: x.start_on,
                end: x.end_on,
            })),
            Record::Education(x) => Some(R::Education {
                high_school: matches!(
                    x.stage,
                    EducationStage::HighSchool
                        | EducationStage::SecondaryVocational
                        | EducationStage::Higher
                ),
                span: Span {
                    start: x.start_on,
                    end: x.end_on,
                },
            }),
            Record::Insurance(x) => Some(R::Insurance {
                year: x.year,
                kind: match x.kind {
                    InsuranceKind::Pension => Insurance::Pension,
                    InsuranceKind::Medical => Insurance::Medical,
                },
                enrolled: x.enrolled,
            }),
            Record::CultureService(x) => Some(R::Culture(x.service_on)),
            Record::Income(x) => Some(R::Income {
                year: x.year,
                per_capita_fen: x.per_capita_income_fen,
            }),
            Record::Training(_) | Record::OtherBenefit(_) => None,
        })
        .collect();
    indicators::Person {
        birth_date: p.birth,
        work_capacity: p.work_capacity,
        facts: p.facts(),
        grants: p
            .grants
            .iter()
            .map(|g| GrantFact {
                kind: g.kind,
                start_month: g.start_month,
                terminated_on: g.terminated_on,
                suspensions: g
                    .suspensions
                    .iter()
                    .map(|s| Span {
                        start: s.suspended_on,
                        end: s.resumed_on.and_then(|r| r.pred_opt()),
                    })
                    .collect(),
            })
            .collect(),
        records,
        cases: p
            .cases
            .iter()
            .map(|c| Case {
                eligible_on: c
                    .assessed_on
                    .filter(|_| c.assessment == Some(Assessment::Eligible)),
                completed_on: c.completed_on,
                cancelled_on: c.cancelled_on,
            })
            .collect(),
    }
}

fn town_on(p: &Person, day: NaiveDate) -> usize {
    p.moves
        .iter()
        .filter(|m| m.moved_on > day)
        .min_by_key(|m| m.moved_on)
        .map_or(p.town, |m| m.from_town)
}

/// Rates of every resident indicator on `day`: the district, the normal towns, the lagging.
fn coverage(
    district: &District,
    people: &[Person],
    day: NaiveDate,
) -> Vec<(IndicatorCode, [f64; 3])> {
    let definitions = definitions();
    let policies = policies();
    let ctx = Context {
        day,
        definitions: &definitions,
        living: Some(&policies[0]),
        nursing: Some(&policies[1]),
    };
    let mut counts = vec![[[0i64; 2]; 3]; definition::COUNT];
    for p in people {
        let evaluation = indicators::evaluate(&facts(p), &ctx);
        let group = if district.towns[town_on(p, day)].low {
            2
        } else {
            1
        };
        for (i, mark) in evaluation.marks.iter().enumerate() {
            let (num, den) = match mark {
                Mark::Out => continue,
                Mark::Covered => (1, 1),
                Mark::Gap(_) => (0, 1),
            };
            for g in [0, group] {
                counts[i][g][0] += num;
                counts[i][g][1] += den;
            }
        }
    }
    IndicatorCode::ALL
        .iter()
        .filter(|c| c.counts_residents() && **c != IndicatorCode::IncomeGrowth)
        .map(|c| {
            let cell = counts[c.index()];
            let rate = |g: usize| 100.0 * cell[g][0] as f64 / cell[g][1].max(1) as f64;
            (*c, [rate(0), rate(1), rate(2)])
        })
        .collect()
}

#[test]
fn coverage_is_near_the_targets_with_the_lagging_towns_behind() {
    let count = std::env::var("DEMO_CALIBRATION_RESIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (district, people) = people(20_261_130, count);
    use IndicatorCode as C;
    let targets = [
        (C::LivingSubsidyCoverage, 99.0),
        (C::NursingSubsidyCoverage, 99.0),
        (C::MedicalInsuranceRate, 99.0),
        (C::PensionInsuranceRate, 99.0),
        (C::RehabServiceCoverage, 99.0),
        (C::AssistiveDeviceFittingRate, 99.0),
        (C::HomeModificationRate, 95.0),
        (C::CultureSportsCoverage, 95.0),
    ];
    // How far the lagging towns trail, summed over the days (a town's few cases of a rare
    // service make one day's gap noisy).
    let mut lag = [0.0; 8];
    let days = [day(2026, 6, 30), day(2025, 12, 31), day(2023, 3, 31)];
    for day in days {
        eprintln!("{day}: district / normal towns / lagging towns");
        let rates = coverage(&district, &people, day);
        for (code, [all, normal, lagging]) in &rates {
            eprintln!(
                "  {:<32} {all:6.2} {normal:6.2} {lagging:6.2}",
                code.as_str()
            );
        }
        let rate = |code: IndicatorCode| rates.iter().find(|(c, _)| *c == code).unwrap().1;
        for (i, (code, target)) in targets.iter().enumerate() {
            let [all, normal, lagging] = rate(*code);
            assert!(all > target - 4.0, "{code:?} {all}");
            assert!(
                normal > target - 2.0,
                "{code:?} in the normal towns: {normal}"
            );
            lag[i] += normal - lagging;
        }
        let [employment, ..] = rate(C::EmploymentRate);
        assert!(
            (50.0..75.0).contains(&employment),
            "employment {employment}"
        );
    }
    for ((code, _), lag) in targets.iter().zip(lag) {
        let lag = lag / days.len() as f64;
        assert!(
            lag > 1.0,
            "{code:?}: the lagging towns trail by {lag:.2} points"
        );
    }
}
