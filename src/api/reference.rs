//! Reference data: the area tree and the code catalogue (the code sets of every layer).

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::db::{self, areas::AreaRow};
use crate::domain::codes::{CodeEntry, CodeSet};
use crate::error::AppResult;
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct AreaNode {
    pub code: String,
    pub name: String,
    pub level: String,
    pub children: Vec<AreaNode>,
}

/// Builds the tree from rows; rows whose parent is missing are not shown.
fn tree(rows: Vec<AreaRow>) -> Vec<AreaNode> {
    fn children_of(parent: Option<&str>, rows: &[AreaRow]) -> Vec<AreaNode> {
        rows.iter()
            .filter(|r| r.parent_code.as_deref() == parent)
            .map(|r| AreaNode {
                code: r.code.clone(),
                name: r.name.clone(),
                level: r.level.clone(),
                children: children_of(Some(&r.code), rows),
            })
            .collect()
    }
    children_of(None, &rows)
}

pub async fn areas(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let rows = db::run(&state.pool, |conn| Ok(db::areas::all(conn)?)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": tree(rows) })))
}

pub async fn codes() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "items": catalogue() }))
}

/// The sets a front-end needs to say any problem itself, in both languages, from the message
/// catalogue: problem codes and field error codes with their sentences, field names and the
/// entity types of audit events with their labels.
fn message_sets() -> Vec<CodeSet> {
    use crate::messages::{Text, AUDIT_ENTITIES, FIELD_CODES, FIELD_NAMES, PROBLEM_CODES};
    let set = |set: &'static str, table: &'static [(&'static str, Text)]| CodeSet {
        set,
        codes: table
            .iter()
            .map(|(code, text)| CodeEntry {
                code,
                label: text.zh,
                label_en: Some(text.en),
            })
            .collect(),
    };
    vec![
        set("problem", PROBLEM_CODES),
        set("field_error", FIELD_CODES),
        set("field", FIELD_NAMES),
        set("audit_entity", AUDIT_ENTITIES),
    ]
}

/// Every code set the API uses, in a stable order.
pub fn catalogue() -> Vec<CodeSet> {
    use crate::domain::area::AreaLevel;
    use crate::domain::audit::{Action, Outcome};
    use crate::domain::certificate::{
        CancelReason, Category, CertificateState, CertificateStatus, Grade,
    };
    use crate::domain::eligibility::{GrantStatus, Reason, SubsidyKind};
    use crate::domain::home_modification::{Assessment, CaseStatus};
    use crate::domain::indicators::definition::{
        Comparator, DefinitionStatus, IndicatorCode, IndicatorKind, Window,
    };
    use crate::domain::indicators::rules::{Finding, GapReason, MismatchReason};
    use crate::domain::resident::{
        HouseholdFlag, HouseholdStatus, ProtectedField, ResidentStatus, Sex,
    };
    use crate::domain::role::Role;
    use crate::domain::work_queue::WorkQueue;
    use crate::use_cases::district::FacilityKind;
    use crate::use_cases::integration::model::{
        ApplicationKind, ApplicationStatus, Channel, Decision, DeliveryState,
    };
    use crate::use_cases::residents::import_columns::ImportColumn;
    use crate::use_cases::sections::kinds::{
        CultureKind, DeviceMode, DeviceType, EducationStage, EmploymentKind, InsuranceKind,
        OtherBenefitKind, RehabType,
    };
    macro_rules! sets {
        ($($t:ty),+ $(,)?) => { vec![$(CodeSet { set: <$t>::SET, codes: <$t>::entries() }),+] };
    }
    let mut sets = sets![
        AreaLevel,
        Role,
        Sex,
        HouseholdStatus,
        HouseholdFlag,
        ResidentStatus,
        ProtectedField,
        Category,
        Grade,
        CertificateStatus,
        CertificateState,
        CancelReason,
        SubsidyKind,
        GrantStatus,
        Reason,
        RehabType,
        DeviceType,
        DeviceMode,
        EmploymentKind,
        EducationStage,
        InsuranceKind,
        CultureKind,
        OtherBenefitKind,
        CaseStatus,
        Assessment,
        FacilityKind,
        IndicatorCode,
        IndicatorKind,
        Comparator,
        Window,
        DefinitionStatus,
        GapReason,
        Finding,
        MismatchReason,
        ApplicationKind,
        Channel,
        ApplicationStatus,
        Decision,
        DeliveryState,
        WorkQueue,
        ImportColumn,
        Action,
        Outcome,
    ];
    sets.extend(message_sets());
    sets
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVillage {
    code: String,
    name: String,
    parent_code: String,
}

/// Adds a village or community (村社区) under a town.
pub async fn create_village(
    state: web::Data<AppState>,
    crate::auth::guard::RequestContext(ctx): crate::auth::guard::RequestContext,
    super::extract::ApiJson(body): super::extract::ApiJson<NewVillage>,
) -> AppResult<HttpResponse> {
    let village = db::run(&state.pool, move |conn| {
        crate::use_cases::areas::create_village(
            conn,
            &ctx,
            &body.code,
            &body.name,
            &body.parent_code,
        )
    })
    .await?;
    let mut builder = HttpResponse::Created();
    builder.insert_header(("Location", "/api/v1/areas"));
    Ok(builder.json(AreaNode {
        code: village.code,
        name: village.name,
        level: village.level,
        children: Vec::new(),
    }))
}

/// `POST /imports/areas`: adds villages and communities from a CSV file (`code,name,town_code`).
pub async fn import_villages(
    state: web::Data<AppState>,
    crate::auth::guard::RequestContext(ctx): crate::auth::guard::RequestContext,
    super::extract::CsvBody(bytes): super::extract::CsvBody,
) -> AppResult<HttpResponse> {
    let report = db::run(&state.pool, move |conn| {
        crate::use_cases::areas::import_villages(conn, &ctx, &bytes)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::catalogue;

    #[test]
    fn every_code_is_snake_case_and_labelled() {
        for set in catalogue() {
            assert!(!set.codes.is_empty(), "{} is empty", set.set);
            for entry in &set.codes {
                // Field names are the names of members and headers (`Idempotency-Key`).
                assert!(
                    set.set == "field"
                        || entry
                            .code
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{}: {}",
                    set.set,
                    entry.code
                );
                assert!(!entry.label.is_empty());
            }
        }
    }
}
