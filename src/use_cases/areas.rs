//! Administrative areas: villages and communities are added by an admin under their town.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Action, AuditContext, Event};
use crate::csv_file::{self, RejectedRow};
use crate::db::{self, areas, DbConn, WriteTx};
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
    db::write_transaction(conn, |conn| {
        let town = areas::level_of(conn, parent_code.trim())?;
        let is_town = town.as_deref() == Some(AreaLevel::Town.as_str());
        let row =
            checked_village(is_town, code, name, parent_code).map_err(AppError::Validation)?;
        if areas::level_of(conn, &row.code)?.is_some() {
            return Err(AppError::Conflict {
                code: "area_exists",
                detail: format!("the area {} exists", row.code),
                extra: None,
            });
        }
        insert_village(conn, ctx, &row)?;
        Ok(row)
    })
}

/// A village as it would be stored, or every rule it breaks: `parent_code` must be a town of
/// the district (`is_town` says whether it is), the code 12 digits beginning with the town's,
/// the name 1 to 50 characters.
fn checked_village(
    is_town: bool,
    code: &str,
    name: &str,
    parent_code: &str,
) -> Result<areas::AreaRow, Vec<FieldError>> {
    let (code, parent_code) = (code.trim(), parent_code.trim());
    let mut errors = Vec::new();
    if !is_town {
        errors.push(FieldError::new(
            "parent_code",
            "unknown_town",
            "not a town or street of the district",
        ));
    }
    let well_formed = code.len() == 12 && code.bytes().all(|b| b.is_ascii_digit());
    if !well_formed || !code.starts_with(parent_code) || parent_code.is_empty() {
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
            errors.push(
                FieldError::new("name", "invalid", "give a name of 1 to 50 characters")
                    .with_param("max", 50),
            );
            String::new()
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(areas::AreaRow {
        code: code.to_owned(),
        name,
        level: AreaLevel::Village.as_str().to_owned(),
        parent_code: Some(parent_code.to_owned()),
    })
}

fn insert_village(
    conn: &mut WriteTx<'_>,
    ctx: &AuditContext,
    row: &areas::AreaRow,
) -> Result<(), AppError> {
    areas::insert(conn, row)?;
    audit::append(
        conn,
        ctx,
        Event::new(Action::VillageCreate)
            .entity("area", &row.code)
            .changes(json!({ "code": {"to": row.code}, "name": {"to": row.name}, "parent_code": {"to": row.parent_code} })),
    )?;
    Ok(())
}

/// The columns of a file of villages: code, name and town (`parent_code` is accepted for
/// `town_code`, the name the API uses).
const VILLAGE_COLUMNS: &[&str] = &["code", "name", "town_code", "parent_code"];

/// What an import of villages did. `rows` = `created` + `unchanged` + rejected rows.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VillageImportReport {
    pub rows: usize,
    pub created: usize,
    pub unchanged: usize,
    pub rejected: Vec<RejectedRow>,
}

/// Adds the villages of a CSV file (`code,name,town_code`; UTF-8 or GBK) in one transaction,
/// each row checked like [`create_village`]. A village already stored with the same name and
/// town is unchanged, so the same file can be imported again; one stored differently, or a
/// code repeated in the file, is rejected (a village is renamed or moved by hand, not by a
/// file). A file that cannot be read as a whole is refused before anything is written.
pub fn import_villages(
    conn: &mut DbConn,
    ctx: &AuditContext,
    bytes: &[u8],
) -> Result<VillageImportReport, AppError> {
    let (columns, rows) = csv_file::read(bytes, VILLAGE_COLUMNS, &["code", "name"])?;
    let town_column = match (
        columns.contains(&"town_code"),
        columns.contains(&"parent_code"),
    ) {
        (true, false) => "town_code",
        (false, true) => "parent_code",
        _ => {
            return Err(AppError::bad_request(
                "malformed_csv",
                "name the village's town in one column, town_code (or parent_code)",
            ))
        }
    };
    db::write_transaction(conn, |conn| {
        let stored: HashMap<String, areas::AreaRow> = areas::all(conn)?
            .into_iter()
            .map(|a| (a.code.clone(), a))
            .collect();
        let mut report = VillageImportReport {
            rows: rows.len(),
            created: 0,
            unchanged: 0,
            rejected: Vec::new(),
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for row in &rows {
            let cell = |column: &str| row.get(column).unwrap_or_default();
            let town = cell(town_column);
            let is_town = stored
                .get(town.trim())
                .is_some_and(|a| a.level == AreaLevel::Town.as_str());
            let village = match checked_village(is_town, &cell("code"), &cell("name"), &town) {
                Ok(village) => village,
                Err(errors) => {
                    let errors = errors
                        .into_iter()
                        .map(|e| match e.field.as_str() {
                            "parent_code" => FieldError {
                                field: town_column.to_owned(),
                                ..e
                            },
                            _ => e,
                        })
                        .collect();
                    report.rejected.push(RejectedRow {
                        row: row.line,
                        errors,
                    });
                    continue;
                }
            };
            if let Some(first) = seen.insert(village.code.clone(), row.line) {
                report.rejected.push(RejectedRow {
                    row: row.line,
                    errors: vec![FieldError::new(
                        "code",
                        "repeated_in_file",
                        format!("the same code is on line {first}"),
                    )],
                });
                continue;
            }
            match stored.get(&village.code) {
                Some(existing) if *existing == village => report.unchanged += 1,
                Some(_) => report.rejected.push(RejectedRow {
                    row: row.line,
                    errors: vec![FieldError::new(
                        "code",
                        "area_exists",
                        "an area with this code exists with another name, level or town",
                    )],
                }),
                None => {
                    insert_village(conn, ctx, &village)?;
                    report.created += 1;
                }
            }
        }
        audit::append(
            conn,
            ctx,
            Event::new(Action::VillageImport).changes(json!({
                "rows": report.rows,
                "created": report.created,
                "unchanged": report.unchanged,
                "rejected": report.rejected.len(),
            })),
        )?;
        Ok(report)
    })
}
