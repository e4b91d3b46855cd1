//! Administrative areas: villages and communities are added by an admin under their town.

use serde_json::json;

use crate::audit::{self, Action, AuditContext, Event};
use crate::db::{self, areas, DbConn};
use crate::domain::area::AreaLevel;
use crate::domain::resident::clean_name;
use crate::error::{AppError, FieldError};

/// Adds a village: a 12-digit code that starts with its town's 9-digit code.
pub fn create_village(
    conn: &mut DbConn,
    ctx: &AuditContext,
    code: &str,
    name: &str,
    parent_code: &str,
) -> Result<areas::AreaRow, AppError> {
    let code = code.trim();
    let parent_code = parent_code.trim();
    db::write_transaction(conn, |conn| {
        let mut errors = Vec::new();
        if areas::level_of(conn, parent_code)?.as_deref() != Some(AreaLevel::Town.as_str()) {
            errors.push(FieldError::new(
                "parent_code",
                "unknown_town",
                "not a town or street of the district",
            ));
        }
        let well_formed = code.len() == 12 && code.bytes().all(|b| b.is_ascii_digit());
        if !well_formed || !code.starts_with(parent_code) {
            errors.push(FieldError::new(
                "code",
                "invalid",
                "a village code is 12 digits beginning with its town's code",
            ));
        }
        let name = match crate::domain::text::clean(name) {
            Err(forbidden) => {
                errors.push(forbidden.field_error("name"));
                String::new()
            }
            Ok(name) => clean_name(&name).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "name",
                    "invalid",
                    "give a name of 1 to 50 characters",
                ));
                String::new()
            }),
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        if areas::level_of(conn, code)?.is_some() {
            return Err(AppError::Conflict {
                code: "area_exists",
                detail: format!("the area {code} exists"),
                extra: None,
            });
        }
        let row = areas::AreaRow {
            code: code.to_owned(),
            name,
            level: AreaLevel::Village.as_str().to_owned(),
            parent_code: Some(parent_code.to_owned()),
        };
        areas::insert(conn, &row)?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::VillageCreate)
                .entity("area", code)
                .changes(json!({ "code": {"to": code}, "name": {"to": row.name}, "parent_code": {"to": parent_code} })),
        )?;
        Ok(row)
    })
}
