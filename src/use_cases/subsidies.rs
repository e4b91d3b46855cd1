//! The two subsidies (两项补贴): policy versions, eligibility on a day, and grants with their
//! suspensions and termination. A grant entered by mistake is voided ([`void`], see
//! [`crate::use_cases::corrections`]): the file shows it (status `void`), but eligibility's `granted`, the
//! rules of new grants (one running grant per kind, no month paid twice) and departures read
//! only the grants that count (`counted_grants_of`).

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;
use serde_json::json;

use crate::access::{load_in_scope, write_in_scope, Requester};
use crate::audit::{self, Action, AuditContext, Event, Outcome};
use crate::db::residents::{self as residents_store, ResidentRow};
use crate::db::subsidies::{self as store, GrantRow, SuspensionRow};
use crate::db::{self, certificates as certs, file_records, DbConn, WriteTx};
use crate::domain::certificate::CancelReason;
use crate::domain::eligibility::{
    decide, policy_on, CertificateFact, Decision, GrantFact, GrantStatus, Policy, Reason,
    ResidentFacts, Rules, Span, SubsidyKind,
};
use crate::domain::resident::HouseholdStatus;
use crate::domain::role::Role;
use crate::domain::text;
use crate::error::{stored_code, AppError, FieldError};
use crate::input::read_value;
use crate::use_cases::corrections::{self, VoidMark, VoidRequest, VoidTarget};
use crate::use_cases::file_rows::{change_in_file, FileRow};
use crate::use_cases::sections::kinds::OtherBenefitKind;

/// Most characters of an override's, a suspension's or an ending's reason.
const REASON_MAX: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    pub id: String,
    pub kind: SubsidyKind,
    pub effective_from: NaiveDate,
    pub monthly_amount_fen: i64,
    pub rules: Rules,
    /// When an admin withdrew the version before it took effect; it then never does.
    pub withdrawn_at: Option<String>,
    pub withdraw_reason: Option<String>,
}

impl From<&Policy> for PolicyView {
    fn from(p: &Policy) -> Self {
        PolicyView {
            id: p.id.clone(),
            kind: p.kind,
            effective_from: p.effective_from,
            monthly_amount_fen: p.monthly_amount_fen,
            rules: p.rules.clone(),
            withdrawn_at: None,
            withdraw_reason: None,
        }
    }
}

/// Reads the rules of a subsidy `kind` from JSON; the error names the field at fault
/// (`rules.<field>`).
fn read_rules(kind: SubsidyKind, value: serde_json::Value) -> Result<Rules, FieldError> {
    if !value.is_object() {
        // serde would read a struct from an array by position: only an object is rules.
        return Err(FieldError::new(
            "rules",
            "invalid",
            "the rules are a JSON object",
        ));
    }
    let in_rules = |errors: Vec<FieldError>| {
        let first = errors
            .into_iter()
            .next()
            .unwrap_or_else(|| FieldError::new("", "invalid", "the rules are a JSON object"));
        let field = if first.field.is_empty() {
            "rules".to_owned()
        } else {
            format!("rules.{}", first.field)
        };
        first.renamed(field)
    };
    match kind {
        SubsidyKind::Living => read_value(value).map(Rules::Living),
        SubsidyKind::Nursing => read_value(value).map(Rules::Nursing),
    }
    .map_err(in_rules)
}

fn policy_of(row: &store::PolicyRow) -> Result<Policy, AppError> {
    let kind = stored_code("subsidy_policies", "kind", &row.kind, SubsidyKind::parse)?;
    let value = serde_json::from_str(&row.rules).map_err(|e| AppError::internal(e.to_string()))?;
    let rules = read_rules(kind, value).map_err(|e| AppError::internal(e.message))?;
    Ok(Policy {
        id: row.public_id.clone(),
        kind,
        effective_from: row.effective_from,
        monthly_amount_fen: row.monthly_amount_fen,
        rules,
    })
}

fn version_view(row: &store::PolicyRow) -> Result<PolicyView, AppError> {
    Ok(PolicyView {
        withdrawn_at: row.withdrawn_at.map(crate::use_cases::accounts::timestamp),
        withdraw_reason: row.withdraw_reason.clone(),
        ..PolicyView::from(&policy_of(row)?)
    })
}

/// The policy versions that take effect, by kind and date: every version but the withdrawn.
pub fn policies(conn: &mut DbConn) -> Result<Vec<Policy>, AppError> {
    store::policies(conn)?
        .iter()
        .filter(|row| row.withdrawn_at.is_none())
        .map(policy_of)
        .collect()
}

/// Every policy version as listed, the withdrawn ones included, by kind and date.
pub fn policy_versions(conn: &mut DbConn) -> Result<Vec<PolicyView>, AppError> {
    store::policies(conn)?.iter().map(version_view).collect()
}

/// Withdraws a version that has not taken effect: it stays listed, with the reason, and the
/// version before it stays in force. One in effect is corrected by a new version.
pub fn withdraw_policy(
    conn: &mut DbConn,
    ctx: &AuditContext,
    today: NaiveDate,
    public_id: &str,
    reason: &str,
) -> Result<PolicyView, AppError> {
    let reason = crate::use_cases::corrections::reason(reason)?;
    db::write_transaction(conn, |conn| {
        let row = store::policies(conn)?
            .into_iter()
            .find(|r| r.public_id == public_id)
            .ok_or(AppError::NotFound)?;
        corrections::check_withdrawable(
            row.withdrawn_at.is_some(),
            row.effective_from,
            today,
            "policy_in_effect",
            "add a new version to correct it",
        )?;
        let now = db::now();
        store::withdraw_policy(conn, row.id, &reason, now)?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::PolicyWithdraw)
                .entity("subsidy_policy", public_id.to_owned())
                .changes(json!({
                    "kind": row.kind,
                    "effective_from": row.effective_from,
                    "reason": reason,
                })),
        )?;
        version_view(&store::PolicyRow {
            withdrawn_at: Some(now),
            withdraw_reason: Some(reason.clone()),
            ..row
        })
    })
}

const MAX_MONTHLY_FEN: i64 = 100_000_000;

/// Adds a policy version, in force from `effective_from` until the next one.
pub fn create_policy(
    conn: &mut DbConn,
    ctx: &AuditContext,
    kind: SubsidyKind,
    effective_from: NaiveDate,
    monthly_amount_fen: i64,
    rules: serde_json::Value,
) -> Result<PolicyView, AppError> {
    let mut errors = Vec::new();
    let rules = match read_rules(kind, rules) {
        Ok(rules) => {
            errors.extend(rules.grade_errors());
            Some(rules)
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if !(1..=MAX_MONTHLY_FEN).contains(&monthly_amount_fen) {
        errors.push(FieldError::new(
            "monthly_amount_fen",
            "out_of_range",
            "a positive amount in fen",
        ));
    }
    let Some(rules) = rules.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        if policies(conn)?
            .iter()
            .any(|p| p.kind == kind && p.effective_from == effective_from)
        {
            return Err(AppError::Conflict {
                code: "policy_exists",
                detail: "a version of this subsidy already takes effect on that day".to_owned(),
                extra: None,
            });
        }
        let public_id = uuid::Uuid::new_v4().to_string();
        let rules_json = serde_json::to_string(&rules).expect("rules serialise");
        store::insert_policy(
            conn,
            &public_id,
            kind.as_str(),
            effective_from,
            monthly_amount_fen,
            &rules_json,
        )?;
        let view = PolicyView {
            id: public_id.clone(),
            kind,
            effective_from,
            monthly_amount_fen,
            rules,
            withdrawn_at: None,
            withdraw_reason: None,
        };
        audit::append(
            conn,
            ctx,
            Event::new(Action::PolicyCreate)
                .entity("subsidy_policy", public_id)
                .changes(audit::created_of(&view)),
        )?;
        Ok(view)
    })
}

/// The facts eligibility depends on, read from the resident's file.
pub fn facts_of(conn: &mut DbConn, resident: &ResidentRow) -> Result<ResidentFacts, AppError> {
    let certificates = certs::of_resident(conn, resident.id)?
        .into_iter()
        .map(|c| {
            Ok(CertificateFact {
                category: certs::category(&c)?,
                components: certs::components(&c)?,
                grade: c.grade,
                issued_on: c.issued_on,
                valid_until: c.valid_until,
                cancelled_on: c.cancelled_on,
            })
        })
        .collect::<Result<_, AppError>>()?;
    let household = residents_store::household_history(conn, resident.id)?
        .into_iter()
        .map(|h| {
            Ok((
                stored_code(
                    "household_statuses",
                    "status",
                    &h.status,
                    HouseholdStatus::parse,
                )?,
                Span {
                    start: h.since,
                    end: h.until,
                },
            ))
        })
        .collect::<Result<_, AppError>>()?;
    let work_injury_nursing =
        file_records::counted_of_section(conn, resident.id, "other_benefits")?
            .into_iter()
            .filter(|r| r.kind == OtherBenefitKind::WorkInjuryNursing.as_str())
            .map(|r| Span {
                start: r.start_on,
                end: r.end_on,
            })
            .collect();
    Ok(ResidentFacts {
        deceased_on: resident.deceased_on,
        moved_out_on: resident.moved_out_on,
        certificates,
        household,
        work_injury_nursing,
    })
}

/// The kind of a stored grant.
fn grant_kind(grant: &GrantRow) -> Result<SubsidyKind, AppError> {
    stored_code("subsidy_grants", "kind", &grant.kind, SubsidyKind::parse)
}

fn grant_fact(grant: &GrantRow, suspensions: &[SuspensionRow]) -> Result<GrantFact, AppError> {
    Ok(GrantFact {
        kind: grant_kind(grant)?,
        start_month: grant.start_month,
        terminated_on: grant.terminated_on,
        suspensions: suspensions
            .iter()
            .filter(|s| s.grant_id == grant.id)
            .map(|s| Span {
                start: s.suspended_on,
                end: s.resumed_on.and_then(|r| r.pred_opt()),
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SuspensionView {
    pub suspended_on: NaiveDate,
    pub resumed_on: Option<NaiveDate>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    pub id: String,
    pub kind: SubsidyKind,
    /// `YYYY-MM`.
    pub start_month: String,
    pub monthly_amount_fen: i64,
    /// As of today.
    pub status: GrantStatus,
    pub eligible_at_start: bool,
    pub override_reason: Option<String>,
    pub terminated_on: Option<NaiveDate>,
    pub terminate_reason: Option<String>,
    pub suspensions: Vec<SuspensionView>,
    pub decided_by: Option<String>,
    pub version: i32,
    /// Set once the grant is voided as entered by mistake; it then counts nowhere.
    #[serde(flatten)]
    pub void: VoidMark,
}

fn grant_view(
    grant: &GrantRow,
    suspensions: &[SuspensionRow],
    today: NaiveDate,
) -> Result<GrantView, AppError> {
    Ok(GrantView {
        id: grant.public_id.clone(),
        kind: grant_kind(grant)?,
        start_month: grant.start_month.format("%Y-%m").to_string(),
        monthly_amount_fen: grant.monthly_amount_fen,
        status: if grant.voided_at.is_some() {
            GrantStatus::Void
        } else {
            grant_fact(grant, suspensions)?.status_on(today)
        },
        eligible_at_start: grant.eligible_at_start,
        override_reason: grant.override_reason.clone(),
        terminated_on: grant.terminated_on,
        terminate_reason: grant.terminate_reason.clone(),
        suspensions: suspensions
            .iter()
            .filter(|s| s.grant_id == grant.id)
            .map(|s| SuspensionView {
                suspended_on: s.suspended_on,
                resumed_on: s.resumed_on,
                reason: s.reason.clone(),
            })
            .collect(),
        decided_by: grant.decided_by.clone(),
        version: grant.version,
        void: VoidMark::of(
            grant.voided_at,
            grant.voided_by.as_deref(),
            grant.void_reason.as_deref(),
        ),
    })
}

/// A resident's grants, newest first, as shown on `today`.
fn grants_of(
    conn: &mut DbConn,
    resident_id: i64,
    today: NaiveDate,
) -> Result<Vec<GrantView>, AppError> {
    let grants = store::grants_of(conn, resident_id)?;
    let suspensions = store::suspensions_of(conn, resident_id)?;
    of_file(&grants, &suspensions, today)
}

/// A resident's grants as the file shows them on `today`, in the order of `grants`.
pub fn of_file(
    grants: &[GrantRow],
    suspensions: &[SuspensionRow],
    today: NaiveDate,
) -> Result<Vec<GrantView>, AppError> {
    grants
        .iter()
        .map(|g| grant_view(g, suspensions, today))
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct ReasonView {
    pub code: Reason,
    pub label: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubsidyEligibility {
    pub kind: SubsidyKind,
    pub eligible: bool,
    pub reasons: Vec<ReasonView>,
    pub policy: Option<PolicyView>,
    /// Whether a grant of this kind is active on the day.
    pub granted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EligibilityView {
    pub resident_id: String,
    pub as_of: NaiveDate,
    pub subsidies: Vec<SubsidyEligibility>,
}

fn explain(decision: &Decision) -> Vec<ReasonView> {
    decision
        .reasons
        .iter()
        .map(|r| ReasonView {
            code: *r,
            label: r.label(),
        })
        .collect()
}

/// Each subsidy on `as_of`: eligible or not and why, under the policy then in force.
pub fn eligibility(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    as_of: NaiveDate,
) -> Result<EligibilityView, AppError> {
    let resident = load_in_scope(conn, who, resident_id)?;
    let facts = facts_of(conn, &resident)?;
    let all = policies(conn)?;
    let suspensions = store::suspensions_of(conn, resident.id)?;
    let grants = store::counted_grants_of(conn, resident.id)?
        .iter()
        .map(|g| grant_fact(g, &suspensions))
        .collect::<Result<Vec<_>, _>>()?;
    let subsidies = SubsidyKind::ALL
        .iter()
        .map(|kind| {
            let policy = policy_on(&all, *kind, as_of);
            let decision = decide(&facts, *kind, policy, as_of);
            SubsidyEligibility {
                kind: *kind,
                eligible: decision.eligible,
                reasons: explain(&decision),
                policy: policy.map(PolicyView::from),
                granted: grants
                    .iter()
                    .any(|g| g.kind == *kind && g.status_on(as_of) == GrantStatus::Active),
            }
        })
        .collect();
    who.recorder.record_read(
        conn,
        who.audit,
        Event::new(Action::ResidentRead)
            .entity("resident", resident.public_id.clone())
            .resident(resident.public_id.clone())
            .changes(json!({ "via": "eligibility", "as_of": as_of })),
    )?;
    Ok(EligibilityView {
        resident_id: resident.public_id,
        as_of,
        subsidies,
    })
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

/// How a grant's amount stands to the policy in force: the policy's own, another amount up to
/// it (an override a caseworker may make, with a reason), or more than it (or an amount where
/// no policy gives one): an override only an admin may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AmountRule {
    Policy,
    BelowPolicy,
    AbovePolicy,
}

fn amount_rule(amount: i64, policy_amount: Option<i64>) -> AmountRule {
    match policy_amount {
        Some(p) if amount == p => AmountRule::Policy,
        Some(p) if amount < p => AmountRule::BelowPolicy,
        _ => AmountRule::AbovePolicy,
    }
}

/// A new grant as requested.
pub struct GrantRequest {
    pub kind: SubsidyKind,
    pub start_month: NaiveDate,
    pub monthly_amount_fen: Option<i64>,
    /// Needed when the resident is not eligible on the first day of the start month.
    pub override_reason: Option<String>,
}

/// Grants a subsidy. The amount is the policy's; another amount is an override with a reason,
/// audited as one, and more than the policy's only an admin may grant. A caseworker's attempt
/// at more stays in the audit trail as denied.
pub fn grant(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    request: GrantRequest,
) -> Result<GrantView, AppError> {
    let amount = request.monthly_amount_fen;
    let kind = request.kind;
    let outcome = write_grant(conn, who, resident_id, request);
    if let Err(AppError::Forbidden { .. }) = &outcome {
        let event = Event::new(Action::AccessDenied)
            .outcome(Outcome::Denied)
            .resident(resident_id.to_owned())
            .changes(json!({
                "reason": "subsidy amount above the policy's, admin only",
                "kind": kind,
                "monthly_amount_fen": amount,
            }));
        audit::append_alone(conn, who.audit, event)?;
    }
    outcome
}

fn write_grant(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    request: GrantRequest,
) -> Result<GrantView, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let start = first_of_month(request.start_month);
        let mut errors = Vec::new();
        if start < first_of_month(resident.birth_date) {
            errors.push(FieldError::new(
                "start_month",
                "before_birth",
                "the month is before the resident's birth",
            ));
        }
        let latest = first_of_month(who.today)
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(start);
        if start > latest {
            errors.push(FieldError::new(
                "start_month",
                "too_far_ahead",
                "a grant may start at the latest next month",
            ));
        }
        if let Some(left) = resident.deceased_on.or(resident.moved_out_on) {
            if start > left {
                errors.push(FieldError::new(
                    "start_month",
                    "after_departure",
                    "the resident has died or moved out",
                ));
            }
        }
        let all = policies(conn)?;
        let policy = policy_on(&all, request.kind, start);
        let policy_amount = policy.map(|p| p.monthly_amount_fen);
        let amount = request.monthly_amount_fen.or(policy_amount);
        match amount {
            None => errors.push(FieldError::new(
                "monthly_amount_fen",
                "required",
                "no policy gives an amount for that month",
            )),
            Some(a) if !(1..=MAX_MONTHLY_FEN).contains(&a) => errors.push(FieldError::new(
                "monthly_amount_fen",
                "out_of_range",
                "a positive amount in fen",
            )),
            Some(_) => {}
        }
        let facts = facts_of(conn, &resident)?;
        let decision = decide(&facts, request.kind, policy, start);
        let override_reason = request
            .override_reason
            .as_deref()
            .map(|r| text::bounded_field(r, "override_reason", REASON_MAX, &mut errors));
        let amount_rule = amount.map(|a| amount_rule(a, policy_amount));
        if !decision.eligible && override_reason.is_none() {
            let why: Vec<&str> = decision.reasons.iter().map(|r| r.label()).collect();
            errors.push(FieldError::new(
                "override_reason",
                "required_when_ineligible",
                format!("the resident is not eligible on {start} ({}); give an override reason to grant anyway", why.join("；")),
            ));
        } else if amount_rule.is_some_and(|r| r != AmountRule::Policy) && override_reason.is_none()
        {
            errors.push(FieldError::new(
                "override_reason",
                "required_when_amount_differs",
                "the amount is not the policy's for that month; give an override reason to grant it",
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let is_admin = who.audit.actor.role == Some(Role::Admin);
        if amount_rule == Some(AmountRule::AbovePolicy) && !is_admin {
            return Err(AppError::forbidden(
                "only an admin may grant more than the amount of the policy in force",
            ));
        }
        let paid_until = store::counted_grants_of(conn, resident.id)?
            .iter()
            .filter(|g| g.kind == request.kind.as_str())
            .filter_map(|g| g.terminated_on)
            .max();
        if paid_until.is_some_and(|end| start < end) {
            return Err(AppError::Conflict {
                code: "grant_overlaps",
                detail: "an earlier grant of this subsidy covers that month; start from the month of its termination or later"
                    .to_owned(),
                extra: None,
            });
        }
        if store::running(conn, resident.id, request.kind.as_str())?.is_some() {
            return Err(AppError::Conflict {
                code: "grant_exists",
                detail: "the resident already has a grant of this subsidy that is not terminated"
                    .to_owned(),
                extra: None,
            });
        }
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        let amount_overridden = amount_rule.is_some_and(|r| r != AmountRule::Policy);
        let overridden = !decision.eligible || amount_overridden;
        store::insert_grant(
            conn,
            &store::NewGrantRow {
                public_id: public_id.clone(),
                resident_id: resident.id,
                kind: request.kind.as_str().to_owned(),
                start_month: start,
                monthly_amount_fen: amount.expect("checked above"),
                eligible_at_start: decision.eligible,
                override_reason: if overridden { override_reason } else { None },
                decided_by: who.audit.actor.username.clone(),
                created_at: now,
                updated_at: now,
            },
        )
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AppError::Conflict {
                code: "grant_exists",
                detail: "the resident already has a grant of this subsidy that is not terminated"
                    .to_owned(),
                extra: None,
            },
            other => other.into(),
        })?;
        residents_store::touch(conn, resident.id, now)?;
        let grants = grants_of(conn, resident.id, who.today)?;
        let view = grants
            .into_iter()
            .find(|g| g.id == public_id)
            .ok_or(AppError::NotFound)?;
        let mut changes = audit::created_of(&view);
        changes["eligibility_reasons"] = json!(decision.reasons);
        if overridden {
            let mut what = Vec::new();
            if !decision.eligible {
                what.push("ineligible");
            }
            if amount_overridden {
                what.push("amount");
            }
            changes["override"] = json!(what);
            changes["policy_monthly_amount_fen"] = json!(policy_amount);
        }
        audit::append(
            conn,
            who.audit,
            Event::new(if overridden {
                Action::SubsidyGrantOverride
            } else {
                Action::SubsidyGrant
            })
            .entity("subsidy_grant", public_id)
            .resident(resident.public_id.clone())
            .changes(changes),
        )?;
        Ok(view)
    })
}

/// Ends every running grant of a resident whose death or move-out on `day` is being recorded,
/// in the caller's write transaction: the month of the departure is still paid, so each grant
/// ends on the first day of the month after (`terminated_on`), its terminate reason the code
/// of `reason` (`deceased` or `moved_out`). Each termination is audited as `subsidy_terminate`.
/// A suspended grant is ended all the same. Returns how many grants were ended.
pub(crate) fn end_on_departure(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    resident: &ResidentRow,
    day: NaiveDate,
    reason: CancelReason,
) -> Result<usize, AppError> {
    debug_assert!(matches!(
        reason,
        CancelReason::Deceased | CancelReason::MovedOut
    ));
    let month_after = first_of_month(day)
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(day);
    let grants = store::counted_grants_of(conn, resident.id)?;
    let suspensions = store::suspensions_of(conn, resident.id)?;
    let now = db::now();
    let mut ended = 0;
    for grant in grants.iter().filter(|g| g.terminated_on.is_none()) {
        // A grant whose first month comes after the departure never ran: it ends on its start
        // month, so it pays nothing (and never ends before it starts).
        let on = if grant.start_month > day {
            grant.start_month
        } else {
            month_after
        };
        let before = grant_view(grant, &suspensions, who.today)?;
        store::terminate(conn, grant.id, on, reason.as_str(), now)?;
        let stored =
            store::grant(conn, resident.id, &grant.public_id)?.ok_or(AppError::NotFound)?;
        let after = grant_view(&stored, &suspensions, who.today)?;
        audit::append(
            conn,
            who.audit,
            Event::new(Action::SubsidyTerminate)
                .entity("subsidy_grant", grant.public_id.clone())
                .resident(resident.public_id.clone())
                .changes(audit::diff_of(&before, &after)),
        )?;
        ended += 1;
    }
    Ok(ended)
}

#[derive(Debug, Clone)]
pub enum GrantAction {
    Suspend { on: NaiveDate, reason: String },
    Resume { on: NaiveDate },
    Terminate { on: NaiveDate, reason: String },
}

fn illegal(detail: &str) -> AppError {
    AppError::Conflict {
        code: "illegal_transition",
        detail: detail.to_owned(),
        extra: None,
    }
}

pub fn act(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    grant_id: &str,
    action: GrantAction,
) -> Result<GrantView, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let target = FileRow {
            entity_type: "subsidy_grant",
            load: &|conn| Ok(store::grant(conn, resident.id, grant_id)?),
            // Read at each view: the step may change them.
            view: &|conn, grant| {
                let suspensions = store::suspensions_of(conn, resident.id)?;
                grant_view(grant, &suspensions, who.today)
            },
        };
        change_in_file(conn, who.audit, &resident, target, |conn, grant, now| {
            take_step(conn, grant, action, who.today, now)
        })
    })
}

/// Checks and writes a step on a grant as it stands (409 for a step it does not allow, 422 for
/// a date or a reason that breaks a rule); names the action audited.
fn take_step(
    conn: &mut WriteTx<'_>,
    grant: &GrantRow,
    action: GrantAction,
    today: NaiveDate,
    now: NaiveDateTime,
) -> Result<Action, AppError> {
    if grant.voided_at.is_some() {
        return Err(corrections::voided("grant"));
    }
    if grant.terminated_on.is_some() {
        return Err(illegal("the grant is terminated"));
    }
    let suspensions = store::suspensions_of(conn, grant.resident_id)?;
    let open = suspensions
        .iter()
        .find(|s| s.grant_id == grant.id && s.resumed_on.is_none());
    let mut errors = Vec::new();
    let date_check =
        |field: &str, on: NaiveDate, not_before: NaiveDate, errors: &mut Vec<FieldError>| {
            if on < not_before {
                errors.push(FieldError::new(
                    field,
                    "too_early",
                    format!("must be on or after {not_before}"),
                ));
            } else if on > today {
                errors.push(FieldError::new(
                    field,
                    "in_future",
                    "the date is in the future",
                ));
            }
        };
    let audit_action = match &action {
        GrantAction::Suspend { on, reason } => {
            if open.is_some() {
                return Err(illegal("the grant is already suspended"));
            }
            let last_resume = suspensions
                .iter()
                .filter(|s| s.grant_id == grant.id)
                .filter_map(|s| s.resumed_on)
                .max()
                .unwrap_or(grant.start_month);
            date_check(
                "suspended_on",
                *on,
                last_resume.max(grant.start_month),
                &mut errors,
            );
            let reason = text::bounded_field(reason, "reason", REASON_MAX, &mut errors);
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            store::suspend(conn, grant.id, grant.resident_id, *on, &reason, now)?;
            Action::SubsidySuspend
        }
        GrantAction::Resume { on } => {
            let Some(open) = open else {
                return Err(illegal("the grant is not suspended"));
            };
            let day_after = open.suspended_on.succ_opt().unwrap_or(open.suspended_on);
            date_check("resumed_on", *on, day_after, &mut errors);
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            store::resume(conn, open.id, *on)?;
            Action::SubsidyResume
        }
        GrantAction::Terminate { on, reason } => {
            date_check("terminated_on", *on, grant.start_month, &mut errors);
            let reason = text::bounded_field(reason, "reason", REASON_MAX, &mut errors);
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            store::terminate(conn, grant.id, *on, &reason, now)?;
            Action::SubsidyTerminate
        }
    };
    if !matches!(action, GrantAction::Terminate { .. }) {
        store::touch_grant(conn, grant.id, now)?;
    }
    Ok(audit_action)
}

/// Voids a grant entered by mistake (see [`crate::use_cases::corrections`]): it stays in the file, marked
/// void with the reason, and no longer counts: not in payment, no bar to a new grant of the same
/// subsidy, in no indicator or reconciliation. Needs the grant's current version.
pub fn void(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    grant_id: &str,
    request: VoidRequest,
) -> Result<GrantView, AppError> {
    let reason = corrections::reason(&request.reason)?;
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let suspensions = store::suspensions_of(conn, resident.id)?;
        let target = VoidTarget {
            what: "grant",
            action: Action::SubsidyVoid,
            row: FileRow {
                entity_type: "subsidy_grant",
                load: &|conn| Ok(store::grant(conn, resident.id, grant_id)?),
                view: &|_, grant| grant_view(grant, &suspensions, who.today),
            },
            mark: store::void_grant,
        };
        corrections::void_in_file(conn, who.audit, &resident, &request, &reason, target)
    })
}
