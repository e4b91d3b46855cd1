//! Certificate verification: given a certificate number, is it a valid certificate today, and
//! if so its category, grade, last valid day and the holder's masked name. Nothing else: the
//! answer must not tell more about a person than the certificate itself shows.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Action, AuditContext, Event};
use crate::db::{certificates as certs, residents as residents_store, DbConn};
use crate::domain::certificate::{Category, CertificateNumber};
use crate::domain::resident::mask_name;
use crate::error::AppError;
use crate::protect::Protector;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
}

const INVALID: Verification = Verification {
    valid: false,
    category: None,
    grade: None,
    valid_until: None,
    holder_name: None,
};

/// Verifies a certificate number on `today`, audited (without the number, which holds the ID
/// number).
pub fn verify(
    conn: &mut DbConn,
    ctx: &AuditContext,
    recorder: &audit::batch::Recorder,
    protector: &Protector,
    number: &str,
    today: NaiveDate,
) -> Result<Verification, AppError> {
    let parsed = CertificateNumber::parse(number).ok_or_else(|| {
        AppError::field(
            "number",
            "invalid_format",
            "a certificate number is the 18-character ID number, the category digit (1-7), the grade digit (1-4) and optionally B1-B9",
        )
    })?;
    let index = protector.index.of(&parsed.holder_prefix);
    let resident = residents_store::by_index(conn, &index)?;
    let found = match &resident {
        None => INVALID,
        Some(r) => match certs::active(conn, r.id)? {
            Some(c)
                if c.category == parsed.category.as_str()
                    && c.grade == parsed.grade
                    && c.reissue == i32::from(parsed.reissue)
                    && c.valid_until >= today =>
            {
                Verification {
                    valid: true,
                    category: Some(parsed.category),
                    grade: Some(c.grade),
                    valid_until: Some(c.valid_until),
                    holder_name: Some(mask_name(&r.name)),
                }
            }
            _ => INVALID,
        },
    };
    let mut event = Event::new(Action::CertificateVerify).changes(json!({ "valid": found.valid }));
    if let Some(r) = &resident {
        event = event.resident(r.public_id.clone());
    }
    recorder.record_read(conn, ctx, event)?;
    Ok(found)
}
