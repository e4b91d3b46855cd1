//! Work queues (待办): what waits for a caseworker in their towns (an admin: any town) —
//! certificates expiring or expired, home-modification cases waiting long in their state,
//! suspended grants, rehabilitation and device needs not yet served (the gap lists of those two
//! indicators), and residents whose household status ended. Each a page at a time, or whole as
//! a file; every read audited.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use crate::access::Requester;
use crate::audit::{Action, Event};
use crate::db::residents::{self as residents_store, ResidentRow};
use crate::db::{self, work_queues as store, DbConn};
use crate::domain::certificate::CertificateState;
use crate::domain::home_modification::CaseStatus;
use crate::domain::indicators::definition::IndicatorCode;
use crate::domain::work_queue::WorkQueue;
use crate::error::{stored_code, AppError};
use crate::use_cases::indicators;
use crate::use_cases::residents::fields::Areas;
use crate::use_cases::residents::view;

/// One thing waiting: whose, what (`subject_id`: the certificate, case or grant), in which
/// state, and since when.
#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub resident_id: String,
    pub name: String,
    /// Masked, as everywhere outside `reveal`.
    pub id_number: String,
    pub town_code: String,
    pub town_name: String,
    pub subject_id: Option<String>,
    /// A code: the certificate's derived status, the case's status, `suspended`, `ended`, or
    /// the gap list's reason.
    pub state: String,
    /// A code: the disability category, the subsidy, or the household status that ended.
    pub kind: Option<String>,
    /// The certificate's end of validity, the day the case entered its state, the suspension,
    /// the end of the household status.
    pub since: Option<NaiveDate>,
    /// Days from `since` to today (negative: days left before a certificate's end).
    pub days: Option<i64>,
}

/// What to list.
#[derive(Debug, Clone)]
pub struct QueueRequest {
    pub queue: WorkQueue,
    pub town: Option<String>,
    pub days: Option<i64>,
    /// After this item; `None` from the start.
    pub after: Option<Key>,
    pub limit: i64,
}

pub struct QueuePage {
    pub items: Vec<WorkItem>,
    /// The key of the page's last item when more follow.
    pub next: Option<Key>,
    pub total: i64,
}

/// A page of a queue, scoped to the requester's towns, audited.
pub fn list(
    conn: &mut DbConn,
    who: &Requester,
    asked: &QueueRequest,
) -> Result<QueuePage, AppError> {
    if let Some(town) = &asked.town {
        if !who.scope.allows(town) {
            return Err(AppError::forbidden(
                "a caseworker lists the work of their own towns",
            ));
        }
    }
    let days = match (asked.queue.default_days(), asked.days) {
        (None, Some(_)) => {
            return Err(AppError::field(
                "days",
                "not_applicable",
                "only the home_modifications and household_ended queues take days",
            ))
        }
        (Some(_), Some(d)) if !(0..=3650).contains(&d) => {
            return Err(AppError::field("days", "out_of_range", "0 to 3650 days"))
        }
        (default, asked) => asked.or(default).unwrap_or(0),
    };
    let page = match asked.queue {
        WorkQueue::RehabNeeds => gap_queue(conn, who, asked, IndicatorCode::RehabServiceCoverage)?,
        WorkQueue::DeviceNeeds => {
            gap_queue(conn, who, asked, IndicatorCode::AssistiveDeviceFittingRate)?
        }
        queue => {
            let keyed = db::read_snapshot(conn, |conn| keyed_items(conn, who, queue, days))?;
            let mut keyed: Vec<_> = keyed
                .into_iter()
                .filter(|(_, item)| asked.town.as_ref().is_none_or(|t| *t == item.town_code))
                .collect();
            let total = keyed.len() as i64;
            if let Some(after) = asked.after {
                keyed.retain(|(key, _)| *key > after);
            }
            let more = keyed.len() as i64 > asked.limit;
            keyed.truncate(asked.limit as usize);
            QueuePage {
                next: if more {
                    keyed.last().map(|(k, _)| *k)
                } else {
                    None
                },
                items: keyed.into_iter().map(|(_, item)| item).collect(),
                total,
            }
        }
    };
    let event = Event::new(Action::WorkQueueRead).changes(json!({
        "queue": asked.queue.as_str(),
        "town": asked.town,
        "days": asked.queue.default_days().map(|_| days),
        "items": page.items.len(),
    }));
    who.recorder.record_read(conn, who.audit, event)?;
    Ok(page)
}

/// The two needs queues are the gap lists of their indicators on the day.
fn gap_queue(
    conn: &mut DbConn,
    who: &Requester,
    asked: &QueueRequest,
    code: IndicatorCode,
) -> Result<QueuePage, AppError> {
    let page = indicators::gaps(
        conn,
        who,
        code,
        who.today,
        asked.town.as_deref(),
        asked.limit,
        asked.after.map(|(resident, _)| resident),
    )?;
    Ok(QueuePage {
        next: page.last.map(|id| (id, 0)),
        total: page.total,
        items: page
            .items
            .into_iter()
            .map(|gap| WorkItem {
                resident_id: gap.resident_id.unwrap_or_default(),
                name: gap.name.unwrap_or_default(),
                id_number: gap.id_number.unwrap_or_default(),
                town_code: gap.town_code,
                town_name: gap.town_name,
                subject_id: None,
                state: gap.reason.as_str().to_owned(),
                kind: None,
                since: None,
                days: None,
            })
            .collect(),
    })
}

/// An item's place in its queue: its resident's and its subject's internal ids.
pub type Key = (i64, i64);

/// An item as read, before its resident is joined: (resident, subject, subject id, state,
/// kind, since).
type Found = (i64, i64, Option<String>, String, Option<String>, NaiveDate);

/// Every item of a queue in the requester's towns, in key order. Only residents on the
/// register (neither deceased nor moved out) have work waiting.
fn keyed_items(
    conn: &mut DbConn,
    who: &Requester,
    queue: WorkQueue,
    days: i64,
) -> Result<Vec<(Key, WorkItem)>, AppError> {
    let today = who.today;
    let since_days = |since: NaiveDate| (today - since).num_days();
    let mut found: Vec<Found> = Vec::new();
    match queue {
        WorkQueue::Certificates => {
            let window = i64::from(who.certificate_expiring_days);
            let until = today + chrono::Duration::days(window);
            for c in store::certificates_ending_by(conn, until)? {
                let state = CertificateState::on(
                    crate::domain::certificate::CertificateStatus::Active,
                    c.valid_until,
                    today,
                    who.certificate_expiring_days,
                );
                found.push((
                    c.resident_id,
                    c.id,
                    Some(c.public_id),
                    state.as_str().to_owned(),
                    Some(c.category),
                    c.valid_until,
                ));
            }
        }
        WorkQueue::HomeModifications => {
            for case in store::open_cases(conn)? {
                let status = stored_code(
                    "home_modifications",
                    "status",
                    &case.status,
                    CaseStatus::parse,
                )?;
                let since = match status {
                    CaseStatus::Assessed => case.assessed_on,
                    CaseStatus::InProgress => case.started_on,
                    _ => None,
                }
                .unwrap_or(case.applied_on);
                if since_days(since) > days {
                    found.push((
                        case.resident_id,
                        case.id,
                        Some(case.public_id),
                        case.status,
                        None,
                        since,
                    ));
                }
            }
        }
        WorkQueue::SuspendedGrants => {
            for s in store::open_suspensions(conn)? {
                found.push((
                    s.resident_id,
                    s.grant_id,
                    Some(s.grant_public_id),
                    "suspended".to_owned(),
                    Some(s.kind),
                    s.suspended_on,
                ));
            }
        }
        WorkQueue::HouseholdEnded => {
            let mut last: HashMap<i64, (i64, String, Option<NaiveDate>)> = HashMap::new();
            for period in store::qualifying_statuses(conn)? {
                // In date order: the last period of each resident wins.
                last.insert(period.resident_id, (period.id, period.status, period.until));
            }
            for (resident, (id, status, until)) in last {
                if let Some(until) = until.filter(|u| *u <= today && since_days(*u) <= days) {
                    found.push((resident, id, None, "ended".to_owned(), Some(status), until));
                }
            }
        }
        WorkQueue::RehabNeeds | WorkQueue::DeviceNeeds => unreachable!("gap lists"),
    }
    let mut ids: Vec<i64> = found.iter().map(|f| f.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut residents: HashMap<i64, ResidentRow> = HashMap::new();
    for chunk in ids.chunks(10_000) {
        for row in residents_store::by_ids(conn, chunk)? {
            residents.insert(row.id, row);
        }
    }
    let areas = Areas::load(conn)?;
    let mut items = Vec::new();
    for (resident, subject, subject_id, state, kind, since) in found {
        let Some(row) = residents.get(&resident) else {
            continue;
        };
        if row.deceased_on.is_some()
            || row.moved_out_on.is_some()
            || !who.scope.allows(&row.town_code)
        {
            continue;
        }
        items.push((
            (resident, subject),
            WorkItem {
                resident_id: row.public_id.clone(),
                name: row.name.clone(),
                id_number: view::id_number(who.protector, row)?.masked(),
                town_code: row.town_code.clone(),
                town_name: areas.name(&row.town_code).unwrap_or_default().to_owned(),
                subject_id,
                state,
                kind,
                since: Some(since),
                days: Some(since_days(since)),
            },
        ));
    }
    items.sort_by_key(|(key, _)| *key);
    Ok(items)
}
