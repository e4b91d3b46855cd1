//! District data, kept by admins: facilities (残疾人之家, care and rehabilitation institutions)
//! and the yearly GDP growth that indicator 1 compares incomes with.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Action, AuditContext, Event};
use crate::db::district::{self as store, FacilityChanges, FacilityRow, NewFacilityRow};
use crate::db::{self, areas, DbConn};
use crate::domain::area::AreaLevel;
use crate::domain::resident::clean_name;
use crate::error::{stored_code, AppError, FieldError};
use crate::use_cases::file_rows::{check_version, written};

crate::code_enum! {
    pub enum FacilityKind: "facility_kind" {
        HomeForDisabled = "home_for_disabled", "残疾人之家";
        CareInstitution = "care_institution", "托养机构";
        ChildRehabInstitution = "child_rehab_institution", "儿童康复机构";
        RehabInstitution = "rehab_institution", "康复机构";
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facility {
    pub kind: FacilityKind,
    pub name: String,
    pub town_code: String,
    #[serde(default)]
    pub standardized: bool,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FacilityView {
    pub id: String,
    #[serde(flatten)]
    pub facility: Facility,
    pub version: i32,
}

fn view(row: FacilityRow) -> Result<FacilityView, AppError> {
    Ok(FacilityView {
        facility: Facility {
            kind: stored_code("facilities", "kind", &row.kind, FacilityKind::parse)?,
            name: row.name,
            town_code: row.town_code,
            standardized: row.standardized,
            opened_on: row.opened_on,
            closed_on: row.closed_on,
        },
        id: row.public_id,
        version: row.version,
    })
}

fn check(conn: &mut DbConn, f: &Facility, today: NaiveDate) -> Result<Facility, AppError> {
    let mut errors = Vec::new();
    let name = match crate::domain::text::clean(&f.name) {
        Err(forbidden) => {
            errors.push(forbidden.field_error("name"));
            f.name.clone()
        }
        Ok(name) => clean_name(&name).unwrap_or_else(|| {
            errors.push(
                FieldError::new("name", "invalid", "1 to 50 characters").with_param("max", 50),
            );
            name
        }),
    };
    if areas::level_of(conn, &f.town_code)?.as_deref() != Some(AreaLevel::Town.as_str()) {
        errors.push(FieldError::new(
            "town_code",
            "unknown_town",
            "not a town or street of the district",
        ));
    }
    if f.opened_on > today {
        errors.push(FieldError::new(
            "opened_on",
            "in_future",
            "the date is in the future",
        ));
    }
    if f.closed_on.is_some_and(|c| c < f.opened_on) {
        errors.push(FieldError::new(
            "closed_on",
            "before_opening",
            "must not be before the opening",
        ));
    }
    if errors.is_empty() {
        Ok(Facility { name, ..f.clone() })
    } else {
        Err(AppError::Validation(errors))
    }
}

pub fn list(conn: &mut DbConn) -> Result<Vec<FacilityView>, AppError> {
    store::facilities(conn)?.into_iter().map(view).collect()
}

pub fn create(
    conn: &mut DbConn,
    ctx: &AuditContext,
    facility: Facility,
    today: NaiveDate,
) -> Result<FacilityView, AppError> {
    db::write_transaction(conn, |conn| {
        let f = check(conn, &facility, today)?;
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        store::insert_facility(
            conn,
            &NewFacilityRow {
                public_id: public_id.clone(),
                kind: f.kind.as_str().to_owned(),
                name: f.name.clone(),
                town_code: f.town_code.clone(),
                standardized: f.standardized,
                opened_on: f.opened_on,
                closed_on: f.closed_on,
                created_at: now,
                updated_at: now,
            },
        )?;
        let created = view(store::facility(conn, &public_id)?.ok_or(AppError::NotFound)?)?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::FacilityCreate)
                .entity("facility", public_id)
                .changes(audit::created_of(&created.facility)),
        )?;
        Ok(created)
    })
}

/// Changes a facility (its fields sent replace the stored ones), at the expected version.
pub fn update(
    conn: &mut DbConn,
    ctx: &AuditContext,
    public_id: &str,
    expected_version: i32,
    changes: serde_json::Map<String, serde_json::Value>,
    today: NaiveDate,
) -> Result<FacilityView, AppError> {
    db::write_transaction(conn, |conn| {
        let row = store::facility(conn, public_id)?.ok_or(AppError::NotFound)?;
        let stored_version = row.version;
        let id = row.id;
        let before = view(row)?;
        // A change that is not a facility's fields, or breaks one of its rules, is refused as
        // such (422) whatever the version: reading the facility again would not make it valid.
        let facility: Facility = crate::input::merge_patch(&before.facility, changes)?;
        let f = check(conn, &facility, today)?;
        check_version(stored_version, expected_version)?;
        let now = db::now();
        written(store::update_facility(
            conn,
            id,
            expected_version,
            &FacilityChanges {
                kind: f.kind.as_str().to_owned(),
                name: f.name.clone(),
                town_code: f.town_code.clone(),
                standardized: f.standardized,
                opened_on: f.opened_on,
                closed_on: f.closed_on,
            },
            now,
        )?)?;
        let after = view(store::facility(conn, public_id)?.ok_or(AppError::NotFound)?)?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::FacilityUpdate)
                .entity("facility", public_id)
                .changes(audit::diff_of(&before.facility, &after.facility)),
        )?;
        Ok(after)
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct GdpGrowth {
    pub year: i32,
    /// Percent growth in basis points: 6.5% is 650.
    pub growth_bp: i32,
}

pub fn gdp_growth(conn: &mut DbConn) -> Result<Vec<GdpGrowth>, AppError> {
    Ok(store::gdp_growth(conn)?
        .into_iter()
        .map(|(year, growth_bp)| GdpGrowth { year, growth_bp })
        .collect())
}

pub fn set_gdp_growth(
    conn: &mut DbConn,
    ctx: &AuditContext,
    year: i32,
    growth_bp: i32,
    today: NaiveDate,
) -> Result<GdpGrowth, AppError> {
    let mut errors = Vec::new();
    if !(2000..=today.year()).contains(&year) {
        errors.push(FieldError::new(
            "year",
            "out_of_range",
            "a year from 2000 to this year",
        ));
    }
    if !(-5000..=5000).contains(&growth_bp) {
        errors.push(FieldError::new(
            "growth_bp",
            "out_of_range",
            "-50% to 50%, in basis points",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    db::write_transaction(conn, |conn| {
        let previous = store::set_gdp_growth(conn, year, growth_bp, db::now())?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::GdpGrowthSet)
                .entity("gdp_growth", year.to_string())
                .changes(json!({ "growth_bp": { "from": previous, "to": growth_bp } })),
        )?;
        Ok(GdpGrowth { year, growth_bp })
    })
}
