//! The district plan's coverage indicators, derived from the files as of any day, for the
//! district or a town; the lists of residents not covered (gap lists) and the reconciliation of
//! the two subsidies; the versioned definitions. The rules are in
//! [`crate::domain::indicators`]; this module reads the facts and adds them up.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::Requester;
use crate::audit::{self, Action, AuditContext, Event};
use crate::db::definitions::{self as store, DefinitionRow, NewDefinitionRow};
use crate::db::indicators::{self as facts, Loaded, Scan};
use crate::db::{self, areas, district, DbConn};
use crate::domain::area::AreaLevel;
use crate::domain::eligibility::{policy_on, SubsidyKind};
use crate::domain::indicators::definition::{
    self, Comparator, Definition, DefinitionStatus, IndicatorCode, IndicatorKind,
};
use crate::domain::indicators::rules::{self, Finding, MismatchReason};
use crate::domain::indicators::tally::{self, Counts, Tally};
use crate::domain::indicators::{Context, DefinitionSet, GapReason, Mark};
use crate::domain::resident::mask_name;
use crate::domain::role::Scope;
use crate::error::{AppError, FieldError};
use crate::protect::Protector;
use crate::use_cases::corrections;
use crate::use_cases::district::FacilityKind;
use crate::use_cases::residents::view;

/// The district, whose code asks for every town.
pub const DISTRICT: &str = "330213";

/// How many resident ids one slice of a scan covers.
const SLICE: i64 = 5_000;

// ---- definitions ---------------------------------------------------------------------------

fn parse_set(row: &DefinitionRow) -> Result<DefinitionSet, AppError> {
    let list: Vec<Definition> = serde_json::from_str(&row.body)
        .map_err(|e| AppError::internal(format!("definitions v{}: {e}", row.version)))?;
    let definitions = definition::check(list)
        .map_err(|e| AppError::internal(format!("definitions v{}: {e:?}", row.version)))?;
    Ok(DefinitionSet {
        id: row.public_id.clone(),
        version: row.version,
        effective_from: row.effective_from,
        definitions,
        withdrawn: row.withdrawn_at.is_some(),
    })
}

#[derive(Debug, Serialize)]
pub struct DefinitionSetView {
    pub id: String,
    pub version: i32,
    pub effective_from: NaiveDate,
    pub status: DefinitionStatus,
    pub published_at: String,
    pub withdrawn_at: Option<String>,
    pub withdraw_reason: Option<String>,
    pub indicators: Vec<Definition>,
}

fn loaded_sets(conn: &mut DbConn) -> Result<(Vec<DefinitionRow>, Vec<DefinitionSet>), AppError> {
    let rows = store::all(conn)?;
    let sets = rows.iter().map(parse_set).collect::<Result<Vec<_>, _>>()?;
    Ok((rows, sets))
}

fn set_view(
    row: &DefinitionRow,
    set: &DefinitionSet,
    all: &[DefinitionSet],
    today: NaiveDate,
) -> DefinitionSetView {
    DefinitionSetView {
        id: row.public_id.clone(),
        version: row.version,
        effective_from: row.effective_from,
        status: definition::status(all, set, today),
        published_at: crate::use_cases::accounts::timestamp(row.published_at),
        withdrawn_at: row.withdrawn_at.map(crate::use_cases::accounts::timestamp),
        withdraw_reason: row.withdraw_reason.clone(),
        indicators: set.definitions.clone(),
    }
}

/// Every version, newest first.
pub fn definition_sets(
    conn: &mut DbConn,
    today: NaiveDate,
) -> Result<Vec<DefinitionSetView>, AppError> {
    let (rows, sets) = loaded_sets(conn)?;
    Ok(rows
        .iter()
        .zip(sets.iter())
        .map(|(row, set)| set_view(row, set, &sets, today))
        .collect())
}

/// Publishes a new version, in force from `effective_from` (after today, and after every
/// other version still standing).
pub fn publish(
    conn: &mut DbConn,
    ctx: &AuditContext,
    today: NaiveDate,
    effective_from: NaiveDate,
    indicators: Vec<Definition>,
) -> Result<DefinitionSetView, AppError> {
    db::write_transaction(conn, |conn| {
        let (rows, sets) = loaded_sets(conn)?;
        let mut errors = Vec::new();
        let latest = sets
            .iter()
            .filter(|s| !s.withdrawn)
            .map(|s| s.effective_from)
            .max();
        if effective_from <= today {
            errors.push(FieldError::new(
                "effective_from",
                "not_in_future",
                "a new version takes effect after today; a version in effect is corrected by a new one",
            ));
        } else if latest.is_some_and(|l| effective_from <= l) {
            errors.push(FieldError::new(
                "effective_from",
                "before_latest",
                "must be after the effective date of the latest version",
            ));
        }
        let checked = match definition::check(indicators) {
            Ok(list) => Some(list),
            Err(mut more) => {
                errors.append(&mut more);
                None
            }
        };
        let Some(list) = checked.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let version = rows.iter().map(|r| r.version).max().unwrap_or(0) + 1;
        let body = serde_json::to_string(&list).expect("definitions serialise");
        let public_id = uuid::Uuid::new_v4().to_string();
        store::insert(
            conn,
            &NewDefinitionRow {
                public_id: public_id.clone(),
                version,
                effective_from,
                body: body.clone(),
                published_at: db::now(),
                published_by: ctx.actor.user_id.clone(),
            },
        )?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::IndicatorDefinitionPublish)
                .entity("indicator_definitions", public_id.clone())
                .changes(json!({ "version": version, "effective_from": effective_from })),
        )?;
        let (rows, sets) = loaded_sets(conn)?;
        let i = rows
            .iter()
            .position(|r| r.public_id == public_id)
            .expect("just written");
        Ok(set_view(&rows[i], &sets[i], &sets, today))
    })
}

/// Withdraws a version that has not taken effect.
pub fn withdraw(
    conn: &mut DbConn,
    ctx: &AuditContext,
    today: NaiveDate,
    public_id: &str,
    reason: &str,
) -> Result<DefinitionSetView, AppError> {
    let reason = corrections::reason(reason)?;
    let reason = reason.as_str();
    db::write_transaction(conn, |conn| {
        let (rows, _) = loaded_sets(conn)?;
        let row = rows
            .iter()
            .find(|r| r.public_id == public_id)
            .ok_or(AppError::NotFound)?;
        corrections::check_withdrawable(
            row.withdrawn_at.is_some(),
            row.effective_from,
            today,
            "definition_in_effect",
            "publish a new version to correct it",
        )?;
        store::withdraw(conn, row.id, reason, db::now())?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::IndicatorDefinitionWithdraw)
                .entity("indicator_definitions", public_id.to_owned())
                .changes(json!({ "version": row.version, "reason": reason })),
        )?;
        let (rows, sets) = loaded_sets(conn)?;
        let i = rows
            .iter()
            .position(|r| r.public_id == public_id)
            .expect("exists");
        Ok(set_view(&rows[i], &sets[i], &sets, today))
    })
}

// ---- where and when ------------------------------------------------------------------------

/// The district's towns, in code order.
pub struct Towns {
    pub codes: Vec<String>,
    pub names: Vec<String>,
}

fn towns(conn: &mut DbConn) -> Result<(Towns, String), AppError> {
    let all = areas::all(conn)?;
    let district_name = all
        .iter()
        .find(|a| a.code == DISTRICT)
        .map_or_else(|| "奉化区".to_owned(), |a| a.name.clone());
    let (codes, names) = all
        .into_iter()
        .filter(|a| a.level == AreaLevel::Town.as_str())
        .map(|a| (a.code, a.name))
        .unzip();
    Ok((Towns { codes, names }, district_name))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaRef {
    pub code: String,
    pub name: String,
}

/// The area a figure is for: the district or one town.
pub struct Area {
    pub reference: AreaRef,
    /// Indexes of its towns in [`Towns`].
    pub towns: Vec<usize>,
    pub is_district: bool,
}

/// Checks the as-of day: not after today.
pub fn check_as_of(as_of: NaiveDate, today: NaiveDate) -> Result<NaiveDate, AppError> {
    if as_of > today {
        return Err(AppError::field(
            "as_of",
            "in_future",
            "the as-of date is after today",
        ));
    }
    Ok(as_of)
}

/// The area asked for, as the caller may see it: admins and auditors any area (the district by
/// default); a caseworker one of its towns (its only town by default), never the district.
fn resolve_area(
    towns: &Towns,
    district_name: &str,
    scope: &Scope,
    asked: Option<&str>,
) -> Result<Area, AppError> {
    let code = match (asked, scope) {
        (Some(code), _) => code.to_owned(),
        (None, Scope::All) => DISTRICT.to_owned(),
        (None, Scope::Towns(mine)) if mine.len() == 1 => mine[0].clone(),
        (None, Scope::Towns(_)) => {
            return Err(AppError::field(
                "area",
                "required",
                "name one of your towns",
            ))
        }
    };
    let area = if code == DISTRICT {
        Area {
            reference: AreaRef {
                code,
                name: district_name.to_owned(),
            },
            towns: (0..towns.codes.len()).collect(),
            is_district: true,
        }
    } else {
        let i = towns.codes.iter().position(|t| *t == code).ok_or_else(|| {
            AppError::field(
                "area",
                "unknown_area",
                "the district or one of its towns (镇街道), by code",
            )
        })?;
        Area {
            reference: AreaRef {
                code,
                name: towns.names[i].clone(),
            },
            towns: vec![i],
            is_district: false,
        }
    };
    let allowed = match scope {
        Scope::All => true,
        Scope::Towns(_) => !area.is_district && scope.allows(&area.reference.code),
    };
    if !allowed {
        return Err(AppError::forbidden(
            "a caseworker sees the figures of its own towns only",
        ));
    }
    Ok(area)
}

/// What every computation needs: the towns, the area, the definitions and policies in force.
struct Setting {
    towns: Towns,
    area: Area,
    definitions: DefinitionSet,
    policies: Vec<crate::domain::eligibility::Policy>,
    day: NaiveDate,
}

impl Setting {
    fn load(
        conn: &mut DbConn,
        scope: &Scope,
        day: NaiveDate,
        area: Option<&str>,
    ) -> Result<Setting, AppError> {
        let (towns, district_name) = towns(conn)?;
        let area = resolve_area(&towns, &district_name, scope, area)?;
        let (_, sets) = loaded_sets(conn)?;
        let definitions = definition::in_force(&sets, day).cloned().ok_or_else(|| {
            AppError::field(
                "as_of",
                "before_definitions",
                "no indicator definitions were in force on that day",
            )
        })?;
        let policies = crate::use_cases::subsidies::policies(conn)?;
        Ok(Setting {
            towns,
            area,
            definitions,
            policies,
            day,
        })
    }

    fn context(&self) -> Context<'_> {
        Context {
            day: self.day,
            definitions: &self.definitions,
            living: policy_on(&self.policies, SubsidyKind::Living, self.day),
            nursing: policy_on(&self.policies, SubsidyKind::Nursing, self.day),
        }
    }

    fn in_area(&self, town: usize) -> bool {
        self.area.towns.contains(&town)
    }

    /// Every resident, a slice at a time, in id order. The next slice is read from the
    /// database (on this connection, in its snapshot, by a second thread) while this one is
    /// evaluated, so a report takes about the longer of the two, not their sum; at most three
    /// slices are in memory.
    fn scan(&self, conn: &mut DbConn, mut visit: impl FnMut(&Loaded)) -> Result<(), AppError> {
        let Some((lo, hi)) = facts::id_bounds(conn)? else {
            return Ok(());
        };
        let scan = Scan {
            day: self.day,
            window_start: self.context().earliest_window_start(),
            towns: &self.towns.codes,
        };
        let started = std::time::Instant::now();
        let mut residents = 0usize;
        std::thread::scope(|threads| {
            let (slices, arriving) = std::sync::mpsc::sync_channel(1);
            let reader = threads.spawn(move || -> Result<(), AppError> {
                let mut start = lo;
                while start <= hi {
                    let end = start.saturating_add(SLICE - 1).min(hi);
                    let rows = facts::read_slice(conn, start, end)?;
                    if slices.send(rows).is_err() {
                        break; // the evaluation failed; its error is the answer
                    }
                    start = end + 1;
                }
                Ok(())
            });
            let evaluated = arriving.iter().try_for_each(|rows| {
                residents += rows.len();
                facts::visit_slice(&scan, &rows, &mut visit)
            });
            drop(arriving);
            let read = reader
                .join()
                .unwrap_or_else(|_| Err(AppError::internal("the indicator reader panicked")));
            read.and(evaluated.map_err(AppError::from))
        })?;
        tracing::debug!(
            residents,
            total_ms = started.elapsed().as_millis() as u64,
            "indicator scan"
        );
        Ok(())
    }
}

// ---- figures -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TownFigure {
    pub town_code: String,
    pub town_name: String,
    pub numerator: i64,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    pub met: Option<bool>,
}

/// One indicator's figure, as the API answers it and a snapshot stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorResult {
    pub code: IndicatorCode,
    pub name: String,
    pub name_en: String,
    pub kind: IndicatorKind,
    pub numerator: i64,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub comparator: Comparator,
    pub met: Option<bool>,
    pub binding: bool,
    pub definition_version: i32,
    pub as_of: NaiveDate,
    pub area: AreaRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_town: Option<Vec<TownFigure>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub as_of: NaiveDate,
    pub area: AreaRef,
    pub definition_version: i32,
    pub items: Vec<IndicatorResult>,
}

/// Counts the facilities of each town open on the day.
fn facility_tally(conn: &mut DbConn, setting: &Setting, tally: &mut Tally) -> Result<(), AppError> {
    let day = setting.day;
    let open: Vec<_> = district::facilities(conn)?
        .into_iter()
        .filter(|f| f.opened_on <= day && f.closed_on.is_none_or(|c| day < c))
        .collect();
    for (t, code) in setting.towns.codes.iter().enumerate() {
        let here = |kind: FacilityKind, standardized_only: bool| {
            open.iter()
                .filter(|f| &f.town_code == code && f.kind == kind.as_str())
                .filter(|f| f.standardized || !standardized_only)
                .count() as i64
        };
        let homes = here(FacilityKind::HomeForDisabled, false);
        tally.set(
            t,
            IndicatorCode::HomeForDisabledCoverage,
            Counts {
                numerator: (homes > 0) as i64,
                denominator: 1,
            },
        );
        tally.set(
            t,
            IndicatorCode::CareInstitutions,
            Counts {
                numerator: here(FacilityKind::CareInstitution, false),
                denominator: 0,
            },
        );
        tally.set(
            t,
            IndicatorCode::ChildRehabInstitutions,
            Counts {
                numerator: here(FacilityKind::ChildRehabInstitution, true),
                denominator: 0,
            },
        );
    }
    Ok(())
}

/// The year's district GDP growth, in percent, if entered.
fn gdp_growth(conn: &mut DbConn, year: i32) -> Result<Option<f64>, AppError> {
    Ok(district::gdp_growth(conn)?
        .into_iter()
        .find(|(y, _)| *y == year)
        .map(|(_, bp)| bp as f64 / 100.0))
}

fn results(
    setting: &Setting,
    tally: &Tally,
    gdp: Option<f64>,
    codes: &[IndicatorCode],
) -> Vec<IndicatorResult> {
    codes
        .iter()
        .map(|&code| {
            let def = setting.definitions.get(code);
            let target = if code.kind() == IndicatorKind::Growth {
                gdp
            } else {
                def.target
            };
            let area_figure = tally::figure(def, target, tally.over(&setting.area.towns, code));
            let by_town = setting.area.is_district.then(|| {
                setting
                    .area
                    .towns
                    .iter()
                    .map(|&t| {
                        let f = tally::figure(def, target, tally.town(t, code));
                        TownFigure {
                            town_code: setting.towns.codes[t].clone(),
                            town_name: setting.towns.names[t].clone(),
                            numerator: f.numerator,
                            denominator: f.denominator,
                            value: f.value,
                            // A count's target is the district's, not each town's.
                            met: if code.kind() == IndicatorKind::Count {
                                None
                            } else {
                                f.met
                            },
                        }
                    })
                    .collect()
            });
            IndicatorResult {
                code,
                name: def.name.clone(),
                name_en: def.name_en.clone(),
                kind: def.kind,
                numerator: area_figure.numerator,
                denominator: area_figure.denominator,
                value: area_figure.value,
                target,
                comparator: def.comparator,
                met: area_figure.met,
                binding: def.binding,
                definition_version: setting.definitions.version,
                as_of: setting.day,
                area: setting.area.reference.clone(),
                by_town,
            }
        })
        .collect()
}

/// Every indicator on `day` for the area.
pub fn report(
    conn: &mut DbConn,
    scope: &Scope,
    day: NaiveDate,
    area: Option<&str>,
) -> Result<Report, AppError> {
    report_visiting(conn, scope, day, area, |_, _, _| {}, |_| Ok(())).map(|(report, ())| report)
}

/// One indicator on `day` for the area.
pub fn one(
    conn: &mut DbConn,
    scope: &Scope,
    code: IndicatorCode,
    day: NaiveDate,
    area: Option<&str>,
) -> Result<IndicatorResult, AppError> {
    let mut report = report(conn, scope, day, area)?;
    Ok(report.items.swap_remove(code.index()))
}

// ---- lists of residents --------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resident_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    pub town_code: String,
    pub town_name: String,
    pub reason: GapReason,
}

#[derive(Debug, Serialize)]
pub struct GapPage {
    pub items: Vec<Gap>,
    /// The internal id of the last item, when more follow.
    #[serde(skip)]
    pub last: Option<i64>,
    pub total: i64,
}

/// Masked identities of the residents with these internal ids.
fn identities(
    conn: &mut DbConn,
    protector: &Protector,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, (String, String, String)>, AppError> {
    let rows = crate::db::residents::by_ids(conn, ids)?;
    rows.iter()
        .map(|row| {
            let id_number = view::id_number(protector, row)?;
            Ok((
                row.id,
                (
                    row.public_id.clone(),
                    mask_name(&row.name),
                    id_number.masked(),
                ),
            ))
        })
        .collect()
}

/// Whether a resident found by a scan may be listed to the caller: in the area on the day,
/// and (for a caseworker) living in one of its towns now.
fn listable(setting: &Setting, scope: &Scope, loaded: &Loaded) -> bool {
    setting.in_area(loaded.town) && scope.allows(&setting.towns.codes[loaded.current_town])
}

/// The residents in an indicator's denominator and not in its numerator (for the homes for
/// the disabled, the towns without one), a page at a time after `after`.
pub fn gaps(
    conn: &mut DbConn,
    who: &Requester,
    code: IndicatorCode,
    day: NaiveDate,
    area: Option<&str>,
    limit: i64,
    after: Option<i64>,
) -> Result<GapPage, AppError> {
    if !code.has_gap_list() {
        return Err(AppError::field(
            "code",
            "no_gap_list",
            "only rates have a list of those not covered",
        ));
    }
    let page = db::read_snapshot(conn, |conn| {
        let setting = Setting::load(conn, who.scope, day, area)?;
        if code == IndicatorCode::HomeForDisabledCoverage {
            return town_gaps(conn, &setting, limit, after);
        }
        let ctx = setting.context();
        let mut total = 0;
        let mut found: Vec<(i64, usize, GapReason)> = Vec::new();
        setting.scan(conn, |loaded| {
            if !listable(&setting, who.scope, loaded) {
                return;
            }
            if let Mark::Gap(reason) = rules::evaluate(&loaded.person, &ctx).mark(code) {
                total += 1;
                if after.is_none_or(|a| loaded.id > a) && found.len() as i64 <= limit {
                    found.push((loaded.id, loaded.town, reason));
                }
            }
        })?;
        let more = found.len() as i64 > limit;
        found.truncate(limit as usize);
        let ids: Vec<i64> = found.iter().map(|f| f.0).collect();
        let who_is = identities(conn, who.protector, &ids)?;
        let items = found
            .iter()
            .map(|(id, town, reason)| {
                let (public_id, name, id_number) = who_is[id].clone();
                Gap {
                    resident_id: Some(public_id),
                    name: Some(name),
                    id_number: Some(id_number),
                    town_code: setting.towns.codes[*town].clone(),
                    town_name: setting.towns.names[*town].clone(),
                    reason: *reason,
                }
            })
            .collect();
        Ok(GapPage {
            items,
            last: if more { ids.last().copied() } else { None },
            total,
        })
    })?;
    who.recorder.record_read(
        conn,
        who.audit,
        Event::new(Action::IndicatorGapsRead).changes(json!({
            "indicator": code,
            "as_of": day,
            "area": area.unwrap_or(DISTRICT),
            "listed": page.items.len(),
        })),
    )?;
    Ok(page)
}

/// The towns of the area without a home for the disabled open on the day. The cursor is the
/// town's position.
fn town_gaps(
    conn: &mut DbConn,
    setting: &Setting,
    limit: i64,
    after: Option<i64>,
) -> Result<GapPage, AppError> {
    let mut tally = Tally::new(setting.towns.codes.len());
    facility_tally(conn, setting, &mut tally)?;
    let missing: Vec<usize> = setting
        .area
        .towns
        .iter()
        .copied()
        .filter(|&t| {
            tally
                .town(t, IndicatorCode::HomeForDisabledCoverage)
                .numerator
                == 0
        })
        .collect();
    let total = missing.len() as i64;
    let rest: Vec<usize> = missing
        .into_iter()
        .filter(|&t| after.is_none_or(|a| t as i64 > a))
        .collect();
    let more = rest.len() as i64 > limit;
    let page: Vec<usize> = rest.into_iter().take(limit as usize).collect();
    Ok(GapPage {
        items: page
            .iter()
            .map(|&t| Gap {
                resident_id: None,
                name: None,
                id_number: None,
                town_code: setting.towns.codes[t].clone(),
                town_name: setting.towns.names[t].clone(),
                reason: GapReason::NoHomeForDisabled,
            })
            .collect(),
        last: if more {
            page.last().map(|&t| t as i64)
        } else {
            None
        },
        total,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    pub kind: SubsidyKind,
    pub eligible: i64,
    pub paid: i64,
    pub eligible_not_paid: i64,
    pub paid_not_eligible: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub kind: SubsidyKind,
    pub finding: Finding,
    pub resident_id: String,
    pub name: String,
    pub id_number: String,
    pub town_code: String,
    pub town_name: String,
    pub reasons: Vec<MismatchReason>,
}

#[derive(Debug, Serialize)]
pub struct Reconciliation {
    pub as_of: NaiveDate,
    pub area: AreaRef,
    pub summary: Vec<KindSummary>,
    pub items: Vec<Mismatch>,
    /// The position (resident, kind) of the last item, when more follow.
    #[serde(skip)]
    pub last: Option<(i64, i64)>,
}

/// The two subsidies as the rules decide them against the grants paid on `day`: eligible and
/// not paid, paid and not eligible. A page of findings after `after` (resident, kind), of
/// residents the caller may list; the summary counts the whole area on the day.
#[allow(clippy::too_many_arguments)]
pub fn reconciliation(
    conn: &mut DbConn,
    who: &Requester,
    day: NaiveDate,
    area: Option<&str>,
    kind: Option<SubsidyKind>,
    limit: i64,
    after: Option<(i64, i64)>,
) -> Result<Reconciliation, AppError> {
    let kinds: Vec<SubsidyKind> = match kind {
        Some(k) => vec![k],
        None => SubsidyKind::ALL.to_vec(),
    };
    let result = db::read_snapshot(conn, |conn| {
        let setting = Setting::load(conn, who.scope, day, area)?;
        let ctx = setting.context();
        let mut summary: Vec<KindSummary> = kinds
            .iter()
            .map(|&kind| KindSummary {
                kind,
                eligible: 0,
                paid: 0,
                eligible_not_paid: 0,
                paid_not_eligible: 0,
            })
            .collect();
        let mut found: Vec<(i64, usize, SubsidyKind, Finding, Vec<MismatchReason>)> = Vec::new();
        setting.scan(conn, |loaded| {
            if !setting.in_area(loaded.town) {
                return;
            }
            let listable = who.scope.allows(&setting.towns.codes[loaded.current_town]);
            let evaluation = rules::evaluate(&loaded.person, &ctx);
            for s in summary.iter_mut() {
                let code = match s.kind {
                    SubsidyKind::Living => IndicatorCode::LivingSubsidyCoverage,
                    SubsidyKind::Nursing => IndicatorCode::NursingSubsidyCoverage,
                };
                if evaluation.mark(code) != Mark::Out {
                    s.eligible += 1;
                }
                if loaded.person.grants.iter().any(|g| {
                    g.kind == s.kind
                        && g.status_on(day) == crate::domain::eligibility::GrantStatus::Active
                }) {
                    s.paid += 1;
                }
                let Some((finding, reasons)) = rules::reconcile(&loaded.person, s.kind, &ctx)
                else {
                    continue;
                };
                match finding {
                    Finding::EligibleNotPaid => s.eligible_not_paid += 1,
                    Finding::PaidNotEligible => s.paid_not_eligible += 1,
                }
                let position = (loaded.id, s.kind as i64);
                if listable && after.is_none_or(|a| position > a) && found.len() as i64 <= limit {
                    found.push((loaded.id, loaded.town, s.kind, finding, reasons));
                }
            }
        })?;
        let more = found.len() as i64 > limit;
        found.truncate(limit as usize);
        let last = found.last().map(|f| (f.0, f.2 as i64));
        let mut ids: Vec<i64> = found.iter().map(|f| f.0).collect();
        ids.dedup();
        let who_is = identities(conn, who.protector, &ids)?;
        let items = found
            .into_iter()
            .map(|(id, town, kind, finding, reasons)| {
                let (resident_id, name, id_number) = who_is[&id].clone();
                Mismatch {
                    kind,
                    finding,
                    resident_id,
                    name,
                    id_number,
                    town_code: setting.towns.codes[town].clone(),
                    town_name: setting.towns.names[town].clone(),
                    reasons,
                }
            })
            .collect();
        Ok(Reconciliation {
            as_of: day,
            area: setting.area.reference.clone(),
            summary,
            items,
            last: if more { last } else { None },
        })
    })?;
    who.recorder.record_read(
        conn,
        who.audit,
        Event::new(Action::SubsidyReconciliationRead).changes(json!({
            "as_of": day,
            "area": area.unwrap_or(DISTRICT),
            "kind": kind,
            "listed": result.items.len(),
        })),
    )?;
    Ok(result)
}

// ---- per-resident contributions (report snapshots, small-count suppression) ---------------

/// Every indicator on `day` for the area, as [`report`] gives them, while handing `visit` each
/// resident whose town on the day is in the area, in resident-id order: its internal id, that
/// town's code and how it counts in every indicator. `then` runs afterwards in the same
/// consistent read, for whatever else must match the figures exactly (the audit trail's head).
pub fn report_visiting<T>(
    conn: &mut DbConn,
    scope: &Scope,
    day: NaiveDate,
    area: Option<&str>,
    mut visit: impl FnMut(i64, &str, &rules::Evaluation),
    then: impl FnOnce(&mut DbConn) -> Result<T, AppError>,
) -> Result<(Report, T), AppError> {
    db::read_snapshot(conn, |conn| {
        let setting = Setting::load(conn, scope, day, area)?;
        let ctx = setting.context();
        let mut tally = Tally::new(setting.towns.codes.len());
        setting.scan(conn, |loaded| {
            let evaluation = rules::evaluate(&loaded.person, &ctx);
            tally.add(loaded.town, &evaluation);
            if setting.in_area(loaded.town) {
                visit(loaded.id, &setting.towns.codes[loaded.town], &evaluation);
            }
        })?;
        facility_tally(conn, &setting, &mut tally)?;
        let gdp = gdp_growth(conn, day.year())?;
        let report = Report {
            as_of: day,
            area: setting.area.reference.clone(),
            definition_version: setting.definitions.version,
            items: results(&setting, &tally, gdp, IndicatorCode::ALL),
        };
        let extra = then(conn)?;
        Ok((report, extra))
    })
}
