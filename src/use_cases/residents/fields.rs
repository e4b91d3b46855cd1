//! The resident's editable fields and the rules they must keep, shared by create, update and
//! import so a rule is written once.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::db::{areas, DbConn};
use crate::domain::area::AreaLevel;
use crate::domain::resident::{clean_name, normalize_phone, HouseholdFlag, HouseholdStatus};
use crate::domain::role::Scope;
use crate::domain::text;
use crate::error::FieldError;

/// Every area by code: its level, parent and name. Small (the district, its towns, their
/// villages).
pub struct Areas(HashMap<String, areas::AreaRow>);

impl Areas {
    pub fn load(conn: &mut DbConn) -> diesel::QueryResult<Self> {
        Ok(Areas(
            areas::all(conn)?
                .into_iter()
                .map(|a| (a.code.clone(), a))
                .collect(),
        ))
    }

    fn level(&self, code: &str) -> Option<&str> {
        self.0.get(code).map(|a| a.level.as_str())
    }

    fn parent(&self, code: &str) -> Option<&str> {
        self.0.get(code).and_then(|a| a.parent_code.as_deref())
    }

    /// The area's name (镇 or 街道 for a town).
    pub fn name(&self, code: &str) -> Option<&str> {
        self.0.get(code).map(|a| a.name.as_str())
    }
}

/// What may be set on a resident besides the ID number and the household status: what a
/// registration, a change (a JSON merge patch of these fields, see
/// [`super::ResidentPatch`]), an import row and the stored row all carry, and what the audit
/// trail records by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentFields {
    pub name: String,
    pub town_code: String,
    pub village_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_phone: Option<String>,
    #[serde(default)]
    pub household_flags: Vec<HouseholdFlag>,
    pub work_capacity: Option<bool>,
    pub registered_on: NaiveDate,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
}

/// A household status change: the new status and the day it takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub status: HouseholdStatus,
    pub since: NaiveDate,
}

/// Free text by the one rule of [`text::clean`]; `None` (and the field's error) when it holds
/// a forbidden character.
fn free_text(errors: &mut Vec<FieldError>, field: &str, raw: &str) -> Option<String> {
    text::clean(raw)
        .map_err(|forbidden| errors.push(forbidden.field_error(field)))
        .ok()
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn error(errors: &mut Vec<FieldError>, field: &str, code: &str, message: impl Into<String>) {
    errors.push(FieldError::new(field, code, message));
}

/// A date of the resident's life: not before birth, not after today.
pub fn check_life_date(
    errors: &mut Vec<FieldError>,
    field: &str,
    date: NaiveDate,
    birth: NaiveDate,
    today: NaiveDate,
) {
    if date < birth {
        error(
            errors,
            field,
            "before_birth",
            "the date is before the resident's birth",
        );
    } else if date > today {
        error(errors, field, "in_future", "the date is in the future");
    }
}

/// The rules every resident keeps.
pub struct Rules<'a> {
    pub areas: &'a Areas,
    pub scope: &'a Scope,
    pub today: NaiveDate,
}

impl Rules<'_> {
    /// Normalises `fields` (trimmed text, phone digits, unique flags) and collects every broken
    /// rule into `errors`.
    pub fn check(
        &self,
        fields: ResidentFields,
        birth: NaiveDate,
        errors: &mut Vec<FieldError>,
    ) -> ResidentFields {
        let name = free_text(errors, "name", &fields.name).map_or(fields.name.clone(), |name| {
            clean_name(&name).unwrap_or_else(|| {
                errors.push(
                    FieldError::new("name", "invalid", "give a name of 1 to 50 characters")
                        .with_param("max", 50),
                );
                name
            })
        });
        let town_code = fields.town_code.trim().to_owned();
        if self.areas.level(&town_code) != Some(AreaLevel::Town.as_str()) {
            error(
                errors,
                "town_code",
                "unknown_town",
                "not a town or street of the district",
            );
        } else if !self.scope.allows(&town_code) {
            error(
                errors,
                "town_code",
                "out_of_scope",
                "you do not work in this town",
            );
        }
        let village_code = blank_to_none(fields.village_code);
        if let Some(village) = &village_code {
            if self.areas.level(village) != Some(AreaLevel::Village.as_str()) {
                error(
                    errors,
                    "village_code",
                    "unknown_village",
                    "not a village or community of the district",
                );
            } else if self.areas.parent(village) != Some(town_code.as_str()) {
                error(
                    errors,
                    "village_code",
                    "not_in_town",
                    "the village does not belong to the town",
                );
            }
        }
        // Free text is checked as sent, before trimming: a control character at its end is
        // refused like one inside (`text::clean`), not trimmed away.
        let address = fields.address.and_then(|raw| {
            let address = free_text(errors, "address", &raw).unwrap_or(raw);
            if address.chars().count() > 200 {
                error(errors, "address", "too_long", "use at most 200 characters");
            }
            Some(address).filter(|a| !a.is_empty())
        });
        let guardian_name = fields.guardian_name.and_then(|raw| {
            let Some(name) = free_text(errors, "guardian_name", &raw) else {
                return Some(raw);
            };
            if !name.is_empty() && clean_name(&name).is_none() {
                errors.push(
                    FieldError::new(
                        "guardian_name",
                        "invalid",
                        "give a name of 1 to 50 characters",
                    )
                    .with_param("max", 50),
                );
            }
            Some(name).filter(|n| !n.is_empty())
        });
        let mut phone_of = |field: &str, value: Option<String>| {
            blank_to_none(value).map(|raw| {
                normalize_phone(&raw).unwrap_or_else(|| {
                    error(
                        errors,
                        field,
                        "invalid_format",
                        "a mainland mobile (11 digits) or a landline with its area code",
                    );
                    raw
                })
            })
        };
        let phone = phone_of("phone", fields.phone);
        let guardian_phone = phone_of("guardian_phone", fields.guardian_phone);
        let mut household_flags = fields.household_flags;
        household_flags.sort();
        household_flags.dedup();
        check_life_date(
            errors,
            "registered_on",
            fields.registered_on,
            birth,
            self.today,
        );
        if let Some(day) = fields.deceased_on {
            check_life_date(errors, "deceased_on", day, birth, self.today);
        }
        if let Some(day) = fields.moved_out_on {
            check_life_date(errors, "moved_out_on", day, birth, self.today);
        }
        ResidentFields {
            name,
            town_code,
            village_code,
            address,
            phone,
            guardian_name,
            guardian_phone,
            household_flags,
            work_capacity: fields.work_capacity,
            registered_on: fields.registered_on,
            deceased_on: fields.deceased_on,
            moved_out_on: fields.moved_out_on,
        }
    }
}
