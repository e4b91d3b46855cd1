//! How a resident's file is shown: sensitive values masked, codes as codes; and a stored
//! resident read back, its protected values decrypted.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::fields::ResidentFields;
use crate::db::certificates::{self as certs, CertificateRow};
use crate::db::residents::{HouseholdStatusRow, ResidentRow};
use crate::domain::certificate::{
    CancelReason, Category, CertificateNumber, CertificateState, CertificateStatus,
};
use crate::domain::id_number::{mask_id_number, IdNumber};
use crate::domain::resident::{
    self, mask_phone, HouseholdFlag, HouseholdStatus, ResidentStatus, Sex,
};
use crate::error::{stored_code, stored_codes, AppError};
use crate::protect::Protector;

/// The AAD context of an encrypted column of a resident.
pub fn context(column: &str, resident_public_id: &str) -> String {
    format!("residents.{column}:{resident_public_id}")
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HouseholdPeriod {
    pub status: HouseholdStatus,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// A resident as shown: its fields with the phones masked, the ID number masked, and what is
/// derived from the file.
#[derive(Debug, Clone, Serialize)]
pub struct ResidentView {
    pub id: String,
    pub id_number: String,
    pub sex: Sex,
    /// The year only: with the day, the masked ID number would give the whole number back
    /// (see [`mask_id_number`]). The day is reached by revealing the ID number.
    pub birth_year: i32,
    #[serde(flatten)]
    pub fields: ResidentFields,
    pub household_status: HouseholdStatus,
    pub household_status_since: Option<NaiveDate>,
    pub household_status_history: Vec<HouseholdPeriod>,
    pub status: ResidentStatus,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    pub id: String,
    pub number: String,
    pub category: Category,
    pub components: Vec<Category>,
    pub grade: i32,
    pub issued_on: NaiveDate,
    pub valid_until: NaiveDate,
    /// Derived for the day of the request (see [`CertificateState::on`]).
    pub status: CertificateState,
    pub cancelled_on: Option<NaiveDate>,
    pub cancel_reason: Option<CancelReason>,
}

fn corrupt(what: &str) -> AppError {
    AppError::internal(format!("stored {what} is not readable"))
}

/// Decrypts the ID number of a stored resident.
pub fn id_number(protector: &Protector, row: &ResidentRow) -> Result<IdNumber, AppError> {
    let plain = protector
        .cipher
        .decrypt(&row.id_number_enc, &context("id_number", &row.public_id))
        .map_err(|_| corrupt("ID number"))?;
    IdNumber::parse(&plain).map_err(|_| corrupt("ID number"))
}

/// Decrypts an optional protected column.
pub fn protected(
    protector: &Protector,
    row: &ResidentRow,
    column: &str,
    stored: Option<&String>,
) -> Result<Option<String>, AppError> {
    stored
        .map(|value| {
            protector
                .cipher
                .decrypt(value, &context(column, &row.public_id))
                .map_err(|_| corrupt(column))
        })
        .transpose()
}

/// The stored fields of a resident, decrypted.
pub fn stored_fields(protector: &Protector, row: &ResidentRow) -> Result<ResidentFields, AppError> {
    Ok(ResidentFields {
        name: row.name.clone(),
        town_code: row.town_code.clone(),
        village_code: row.village_code.clone(),
        address: row.address.clone(),
        phone: protected(protector, row, "phone", row.phone_enc.as_ref())?,
        guardian_name: row.guardian_name.clone(),
        guardian_phone: protected(
            protector,
            row,
            "guardian_phone",
            row.guardian_phone_enc.as_ref(),
        )?,
        household_flags: household_flags(row)?,
        work_capacity: row.work_capacity,
        registered_on: row.registered_on,
        deceased_on: row.deceased_on,
        moved_out_on: row.moved_out_on,
    })
}

pub fn household_periods(rows: &[HouseholdStatusRow]) -> Result<Vec<HouseholdPeriod>, AppError> {
    rows.iter()
        .map(|r| {
            Ok(HouseholdPeriod {
                status: stored_code(
                    "household_statuses",
                    "status",
                    &r.status,
                    HouseholdStatus::parse,
                )?,
                since: r.since,
                until: r.until,
            })
        })
        .collect()
}

pub fn resident(
    protector: &Protector,
    row: &ResidentRow,
    history: &[HouseholdStatusRow],
) -> Result<ResidentView, AppError> {
    let id_number = id_number(protector, row)?;
    let mut fields = stored_fields(protector, row)?;
    fields.phone = fields.phone.as_deref().map(mask_phone);
    fields.guardian_phone = fields.guardian_phone.as_deref().map(mask_phone);
    let periods = household_periods(history)?;
    let current = periods.iter().find(|p| p.until.is_none());
    Ok(ResidentView {
        id: row.public_id.clone(),
        id_number: id_number.masked(),
        sex: stored_code("residents", "sex", &row.sex, Sex::parse)?,
        birth_year: row.birth_date.year(),
        fields,
        household_status: current.map_or(HouseholdStatus::None, |p| p.status),
        household_status_since: current.map(|p| p.since),
        status: resident::status(row.deceased_on, row.moved_out_on),
        household_status_history: periods,
        version: row.version,
    })
}

/// The household flags of a stored resident.
pub fn household_flags(row: &ResidentRow) -> Result<Vec<HouseholdFlag>, AppError> {
    stored_codes(
        "residents",
        "household_flags",
        &row.household_flags,
        HouseholdFlag::parse,
    )
}

/// A stored certificate as shown on `today`, when certificates within `expiring_within_days` of
/// their `valid_until` are shown as expiring.
pub fn certificate(
    holder: &IdNumber,
    row: &CertificateRow,
    today: NaiveDate,
    expiring_within_days: u32,
) -> Result<CertificateView, AppError> {
    let category = certs::category(row)?;
    let number = CertificateNumber::compose(holder, category, row.grade, row.reissue as u8);
    Ok(CertificateView {
        id: row.public_id.clone(),
        number: mask_id_number(&number),
        category,
        components: certs::components(row)?,
        grade: row.grade,
        issued_on: row.issued_on,
        valid_until: row.valid_until,
        status: CertificateState::on(
            stored_code(
                "certificates",
                "status",
                &row.status,
                CertificateStatus::parse,
            )?,
            row.valid_until,
            today,
            expiring_within_days,
        ),
        cancelled_on: row.cancelled_on,
        cancel_reason: row
            .cancel_reason
            .as_deref()
            .map(|r| stored_code("certificates", "cancel_reason", r, CancelReason::parse))
            .transpose()?,
    })
}
