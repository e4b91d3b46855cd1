//! Frozen reports: take one, list them, read one, and check one against the data as it is now.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use serde_json::json;

use crate::access::Requester;
use crate::audit::{self, Action, Event};
use crate::db::audit::AuditRow;
use crate::db::district::FacilityRow;
use crate::db::reports::{self as store, NewSnapshotRow, SnapshotRow};
use crate::db::{self, DbConn};
use crate::domain::indicators::definition::{IndicatorCode, IndicatorKind};
use crate::domain::indicators::rules::{GapReason, Mark};
use crate::domain::role::Scope;
use crate::error::AppError;
use crate::use_cases::indicators;

use super::digest::{self, Contributions, Digests, Part};
use super::figures::{AreaData, Persons, ReportData};

const ENTITY: &str = "report_snapshots";
/// At most this many residents are named per restated figure, and events per resident.
const NAMED: usize = 50;
const EVENTS: i64 = 20;

/// A snapshot as `GET /api/v1/reports/{id}` answers it.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotView {
    pub id: String,
    pub as_of: NaiveDate,
    pub area: AreaData,
    pub definition_version: i32,
    pub taken_at: String,
    pub taken_by: Option<String>,
    /// The audit trail's last event when the figures were read.
    pub audit_seq: i64,
    pub seal: String,
    pub digests: Digests,
    pub report: ReportData,
}

/// A snapshot in a list.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSummary {
    pub id: String,
    pub as_of: NaiveDate,
    pub area: AreaData,
    pub definition_version: i32,
    pub taken_at: String,
    pub taken_by: Option<String>,
    pub seal: String,
}

/// A snapshot read back whole, for rendering.
pub struct Frozen {
    pub view: SnapshotView,
    pub persons: Persons,
    pub taken_at: NaiveDateTime,
}

pub fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The SHA-256 over every stored column (the contributions by their own SHA-256), in a fixed
/// order: what the audit event of the snapshot records, so the stored row can be checked.
fn seal(row: &NewSnapshotRow) -> String {
    let canonical = json!([
        "fenghua-report-snapshot 1",
        row.public_id,
        row.as_of,
        row.area_code,
        row.definition_version,
        rfc3339(row.taken_at),
        row.taken_by,
        row.taken_by_username,
        row.audit_seq,
        row.results,
        row.digests,
        digest::sha256_hex(row.contributions.as_bytes()),
    ]);
    digest::sha256_hex(canonical.to_string().as_bytes())
}

fn stored(row: &SnapshotRow) -> NewSnapshotRow {
    NewSnapshotRow {
        public_id: row.public_id.clone(),
        as_of: row.as_of,
        area_code: row.area_code.clone(),
        definition_version: row.definition_version,
        taken_at: row.taken_at,
        taken_by: row.taken_by.clone(),
        taken_by_username: row.taken_by_username.clone(),
        audit_seq: row.audit_seq,
        results: row.results.clone(),
        digests: row.digests.clone(),
        contributions: row.contributions.clone(),
        seal: row.seal.clone(),
    }
}

/// The report of `day` for the area with every resident's contribution, the audit head and
/// the facilities, all from one consistent read.
fn compute(
    conn: &mut DbConn,
    scope: &Scope,
    day: NaiveDate,
    area: Option<&str>,
) -> Result<(ReportData, Contributions, i64, Vec<FacilityRow>), AppError> {
    let mut contributions = Contributions::default();
    let (report, (head, facilities)) = indicators::report_visiting(
        conn,
        scope,
        day,
        area,
        |id, town, evaluation| contributions.push(id, town, evaluation),
        |conn| {
            let head = crate::db::audit::head(conn)?.map_or(0, |(seq, _)| seq);
            Ok((head, crate::db::district::facilities(conn)?))
        },
    )?;
    Ok((report, contributions, head, facilities))
}

fn town_codes(report: &ReportData) -> Vec<String> {
    report.towns().into_iter().map(|t| t.code).collect()
}

/// Freezes the report of `day` for the area (the caller's default area when `None`).
pub fn take(
    conn: &mut DbConn,
    who: &Requester,
    day: NaiveDate,
    area: Option<&str>,
) -> Result<SnapshotView, AppError> {
    let (report, contributions, audit_seq, facilities) = compute(conn, who.scope, day, area)?;
    let digests = digest::digests(&contributions, &facilities, &town_codes(&report), day);
    let mut row = NewSnapshotRow {
        public_id: uuid::Uuid::new_v4().to_string(),
        as_of: day,
        area_code: report.area.code.clone(),
        definition_version: report.definition_version,
        taken_at: db::now(),
        taken_by: who.audit.actor.user_id.clone(),
        taken_by_username: who.audit.actor.username.clone(),
        audit_seq,
        results: serde_json::to_string(&report).expect("a report serialises"),
        digests: serde_json::to_string(&digests).expect("digests serialise"),
        contributions: contributions.encode(),
        seal: String::new(),
    };
    row.seal = seal(&row);
    db::write_transaction(conn, |conn| {
        store::insert(conn, &row)?;
        audit::append(
            conn,
            who.audit,
            Event::new(Action::ReportSnapshotTake)
                .entity(ENTITY, row.public_id.clone())
                .changes(json!({
                    "as_of": day,
                    "area": row.area_code,
                    "definition_version": row.definition_version,
                    "audit_seq": audit_seq,
                    "seal": row.seal,
                })),
        )?;
        Ok::<_, AppError>(())
    })?;
    Ok(SnapshotView {
        id: row.public_id,
        as_of: day,
        area: report.area.clone(),
        definition_version: row.definition_version,
        taken_at: rfc3339(row.taken_at),
        taken_by: row.taken_by_username,
        audit_seq,
        seal: row.seal,
        digests,
        report,
    })
}

/// Whether the caller may see a snapshot of this area: admins and auditors any, a caseworker
/// those of its towns.
fn visible(scope: &Scope, area_code: &str) -> bool {
    match scope {
        Scope::All => true,
        Scope::Towns(_) => area_code != indicators::DISTRICT && scope.allows(area_code),
    }
}

/// Snapshots the caller may see, newest first, `limit` after the one with internal id `before`.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    limit: i64,
    before: Option<i64>,
) -> Result<(Vec<SnapshotSummary>, Option<i64>), AppError> {
    let areas = scope.towns();
    let rows = store::list(conn, areas.as_deref(), before, limit + 1)?;
    let names: HashMap<String, String> = crate::db::areas::all(conn)?
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect();
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let last = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(|r| SnapshotSummary {
            id: r.public_id,
            area: AreaData {
                name: names.get(&r.area_code).cloned().unwrap_or_default(),
                code: r.area_code,
            },
            as_of: r.as_of,
            definition_version: r.definition_version,
            taken_at: rfc3339(r.taken_at),
            taken_by: r.taken_by_username,
            seal: r.seal,
        })
        .collect();
    Ok((items, last))
}

fn load(conn: &mut DbConn, scope: &Scope, id: &str) -> Result<SnapshotRow, AppError> {
    store::by_public_id(conn, id)?
        .filter(|row| visible(scope, &row.area_code))
        .ok_or(AppError::NotFound)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("stored snapshot {what}: {e}"))
}

fn frozen(row: &SnapshotRow) -> Result<(Frozen, Contributions), AppError> {
    let report: ReportData =
        serde_json::from_str(&row.results).map_err(|e| corrupt("results", e))?;
    let digests: Digests = serde_json::from_str(&row.digests).map_err(|e| corrupt("digests", e))?;
    let contributions =
        Contributions::decode(&row.contributions).map_err(|e| corrupt("contributions", e))?;
    let view = SnapshotView {
        id: row.public_id.clone(),
        as_of: row.as_of,
        area: report.area.clone(),
        definition_version: row.definition_version,
        taken_at: rfc3339(row.taken_at),
        taken_by: row.taken_by_username.clone(),
        audit_seq: row.audit_seq,
        seal: row.seal.clone(),
        digests,
        report,
    };
    Ok((
        Frozen {
            view,
            persons: contributions.persons(),
            taken_at: row.taken_at,
        },
        contributions,
    ))
}

/// One snapshot, if the caller may see it.
pub fn get(conn: &mut DbConn, scope: &Scope, id: &str) -> Result<Frozen, AppError> {
    let row = load(conn, scope, id)?;
    Ok(frozen(&row)?.0)
}

// ---- verification ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every figure is made of the same rows and has the same value.
    Unchanged,
    /// At least one figure has another value now.
    Restated,
    /// Every figure has the same value, but some are made of other rows.
    InputsChanged,
}

/// One figure's values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Values {
    pub numerator: i64,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub met: Option<bool>,
}

/// Where a resident stood in a figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    /// `not_counted`, `covered`, `not_covered`, or for income growth `counted`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<GapReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub income_fen: Option<[i64; 2]>,
}

impl Standing {
    fn of(part: Option<Part>) -> Standing {
        let (status, reason, income_fen) = match part {
            None => ("not_counted", None, None),
            Some(Part::Mark(Mark::Covered)) => ("covered", None, None),
            Some(Part::Mark(Mark::Gap(r))) => ("not_covered", Some(r), None),
            Some(Part::Mark(Mark::Out)) => ("not_counted", None, None),
            Some(Part::Income { last, this }) => ("counted", None, Some([last, this])),
        };
        Standing {
            status,
            reason,
            income_fen,
        }
    }
}

/// An audit event that changed what a figure is made of, after the snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct EventRef {
    pub seq: i64,
    pub occurred_at: String,
    pub action: String,
    pub actor_username: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub changes: Option<serde_json::Value>,
}

impl From<&AuditRow> for EventRef {
    fn from(row: &AuditRow) -> Self {
        EventRef {
            seq: row.seq,
            occurred_at: rfc3339(row.occurred_at),
            action: row.action.clone(),
            actor_username: row.actor_username.clone(),
            entity_type: row.entity_type.clone(),
            entity_id: row.entity_id.clone(),
            changes: row
                .changes
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResidentChange {
    pub resident_id: String,
    pub before: Standing,
    pub after: Standing,
    /// The changes to the resident's file recorded after the snapshot, oldest first.
    pub events: Vec<EventRef>,
}

/// A figure that is not what it was.
#[derive(Debug, Clone, Serialize)]
pub struct FigureChange {
    pub code: IndicatorCode,
    pub name: String,
    /// The district or a town: whose figure.
    pub area: AreaData,
    pub old: Values,
    pub new: Values,
    /// Residents whose part in the figure changed (at most 50 named; those a caseworker may
    /// not list are counted, not named).
    pub residents: Vec<ResidentChange>,
    pub residents_total: usize,
    /// Changes of district data the figure rests on (facilities, subsidy policies, GDP
    /// growth) recorded after the snapshot.
    pub events: Vec<EventRef>,
}

/// What `GET /api/v1/reports/{id}/verify` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub id: String,
    pub as_of: NaiveDate,
    pub area: AreaData,
    pub taken_at: String,
    pub verified_at: String,
    pub status: Status,
    /// The stored snapshot still hashes to its seal, and the seal is the one the audit trail
    /// recorded when it was taken.
    pub intact: bool,
    pub definition_version: i32,
    pub restated: Vec<FigureChange>,
    pub inputs_changed: Vec<FigureChange>,
}

fn values(
    numerator: i64,
    denominator: Option<i64>,
    value: Option<f64>,
    target: Option<f64>,
    met: Option<bool>,
) -> Values {
    Values {
        numerator,
        denominator,
        value,
        target,
        met,
    }
}

/// Each figure of a report by (code, place): the area's and each town's.
fn figures_of(report: &ReportData) -> BTreeMap<(IndicatorCode, String), (AreaData, Values)> {
    let mut out = BTreeMap::new();
    for item in &report.items {
        out.insert(
            (item.code, item.area.code.clone()),
            (
                item.area.clone(),
                values(
                    item.numerator,
                    item.denominator,
                    item.value,
                    item.target,
                    item.met,
                ),
            ),
        );
        for t in item.by_town.iter().flatten() {
            // A town's count has no target of its own; its growth and rates have the area's.
            let target = (item.kind != IndicatorKind::Count)
                .then_some(item.target)
                .flatten();
            out.insert(
                (item.code, t.town_code.clone()),
                (
                    AreaData {
                        code: t.town_code.clone(),
                        name: t.town_name.clone(),
                    },
                    values(t.numerator, t.denominator, t.value, target, t.met),
                ),
            );
        }
    }
    out
}

/// The district data each indicator rests on besides the files.
fn district_actions(code: IndicatorCode) -> &'static [Action] {
    match code {
        IndicatorCode::IncomeGrowth => &[Action::GdpGrowthSet],
        IndicatorCode::LivingSubsidyCoverage | IndicatorCode::NursingSubsidyCoverage => {
            &[Action::PolicyCreate, Action::PolicyWithdraw]
        }
        IndicatorCode::HomeForDisabledCoverage
        | IndicatorCode::CareInstitutions
        | IndicatorCode::ChildRehabInstitutions => {
            &[Action::FacilityCreate, Action::FacilityUpdate]
        }
        _ => &[],
    }
}

/// A figure found changed, with the internal ids of the residents whose part changed: what
/// they were and what they are.
struct Changed {
    value_changed: bool,
    code: IndicatorCode,
    place: AreaData,
    old: Values,
    new: Values,
    residents: Vec<(i64, Option<Part>, Option<Part>)>,
}

/// Recomputes the snapshot's report from the data as it is now and compares: every figure
/// whose value or rows differ, with the residents whose part changed and the recorded changes
/// that did it. Audited.
pub fn verify(conn: &mut DbConn, who: &Requester, id: &str) -> Result<Verification, AppError> {
    let row = load(conn, who.scope, id)?;
    let (then, before) = frozen(&row)?;
    let intact = seal(&stored(&row)) == row.seal
        && store::event_of_entity(conn, Action::ReportSnapshotTake.as_str(), &row.public_id)?
            .and_then(|e| e.changes)
            .and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok())
            .is_some_and(|c| c["seal"] == row.seal.as_str());

    let area = Some(row.area_code.as_str());
    let (now_report, now, _, facilities) = compute(conn, who.scope, row.as_of, area)?;
    let towns = town_codes(&then.view.report);
    let now_digests = digest::digests(&now, &facilities, &towns, row.as_of);
    let old_digests = &then.view.digests;
    let digest_changed = |code: IndicatorCode, town: &str| {
        old_digests.get(code.as_str()).and_then(|m| m.get(town))
            != now_digests.get(code.as_str()).and_then(|m| m.get(town))
    };

    let old_figures = figures_of(&then.view.report);
    let new_figures = figures_of(&now_report);
    let district_events: Vec<AuditRow> = {
        let actions: Vec<&str> = [
            Action::GdpGrowthSet,
            Action::PolicyCreate,
            Action::PolicyWithdraw,
            Action::FacilityCreate,
            Action::FacilityUpdate,
        ]
        .iter()
        .map(|a| a.as_str())
        .collect();
        store::events_of_actions(conn, &actions, row.audit_seq, 200)?
    };

    // Each changed figure with the internal ids of the residents whose part changed.
    let mut changed: Vec<Changed> = Vec::new();
    for ((code, place), (place_area, old)) in &old_figures {
        let new = new_figures
            .get(&(*code, place.clone()))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| old.clone());
        let is_area = *place == row.area_code;
        let places: Vec<&String> = if is_area {
            towns.iter().collect()
        } else {
            vec![place]
        };
        let rows_changed = places.iter().any(|t| digest_changed(*code, t));
        if !rows_changed && new == *old {
            continue;
        }
        let mut residents: Vec<(i64, Option<Part>, Option<Part>)> = places
            .iter()
            .flat_map(|t| before.changed(&now, *code, t))
            .collect();
        residents.sort_by_key(|r| r.0);
        residents.dedup_by_key(|r| r.0);
        changed.push(Changed {
            value_changed: new != *old,
            code: *code,
            place: place_area.clone(),
            old: old.clone(),
            new,
            residents,
        });
    }

    // Name the residents: public ids, scope, and the changes recorded after the snapshot.
    let ids: BTreeSet<i64> = changed
        .iter()
        .flat_map(|c| c.residents.iter().take(NAMED).map(|r| r.0))
        .collect();
    let ids: Vec<i64> = ids.into_iter().collect();
    let mut named: HashMap<i64, (String, Vec<EventRef>)> = HashMap::new();
    for chunk in ids.chunks(500) {
        for resident in crate::db::residents::by_ids(conn, chunk)? {
            if !who.scope.allows(&resident.town_code) {
                continue;
            }
            let events = crate::db::audit::changes_of_resident(
                conn,
                &resident.public_id,
                Action::CHANGES,
                row.audit_seq,
                EVENTS,
            )?;
            named.insert(
                resident.id,
                (
                    resident.public_id,
                    events.iter().map(EventRef::from).collect(),
                ),
            );
        }
    }

    let names: HashMap<IndicatorCode, String> = then
        .view
        .report
        .items
        .iter()
        .map(|i| (i.code, i.name.clone()))
        .collect();
    let mut restated = Vec::new();
    let mut inputs_changed = Vec::new();
    for Changed {
        value_changed,
        code,
        place,
        old,
        new,
        residents,
    } in changed
    {
        let actions = district_actions(code);
        let figure = FigureChange {
            code,
            name: names.get(&code).cloned().unwrap_or_default(),
            area: place,
            old,
            new,
            residents_total: residents.len(),
            residents: residents
                .iter()
                .take(NAMED)
                .filter_map(|(id, b, a)| {
                    named.get(id).map(|(public_id, events)| ResidentChange {
                        resident_id: public_id.clone(),
                        before: Standing::of(*b),
                        after: Standing::of(*a),
                        events: events.clone(),
                    })
                })
                .collect(),
            events: district_events
                .iter()
                .filter(|e| actions.iter().any(|a| a.as_str() == e.action))
                .map(EventRef::from)
                .collect(),
        };
        if value_changed {
            restated.push(figure);
        } else {
            inputs_changed.push(figure);
        }
    }
    let status = if !restated.is_empty() {
        Status::Restated
    } else if !inputs_changed.is_empty() {
        Status::InputsChanged
    } else {
        Status::Unchanged
    };
    let verification = Verification {
        id: row.public_id.clone(),
        as_of: row.as_of,
        area: then.view.area.clone(),
        taken_at: then.view.taken_at.clone(),
        verified_at: rfc3339(db::now()),
        status,
        intact,
        definition_version: row.definition_version,
        restated,
        inputs_changed,
    };
    who.recorder.record_read(
        conn,
        who.audit,
        Event::new(Action::ReportSnapshotVerify)
            .entity(ENTITY, row.public_id.clone())
            .changes(json!({
                "status": verification.status,
                "intact": intact,
                "restated": verification.restated.len(),
                "inputs_changed": verification.inputs_changed.len(),
            })),
    )?;
    Ok(verification)
}
