//! Enumerations the API speaks, as stable snake_case codes with Chinese labels.
//!
//! Every enum is declared with [`code_enum!`], which also registers it in [`catalogue`], the
//! body of `GET /api/v1/codes`; a code therefore cannot exist on the wire without a label.

use serde::Serialize;

/// Declares an enum of wire codes: serde (snake_case) both ways, `as_str`, `parse`, `label`.
#[macro_export]
macro_rules! code_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $set:literal {
        $($variant:ident = $code:literal, $label:literal;)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $(#[serde(rename = $code)] $variant,)+
        }

        impl $name {
            pub const SET: &'static str = $set;
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            pub fn parse(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The value a person wrote: its code or its Chinese label (a spreadsheet cell).
            pub fn parse_code_or_label(text: &str) -> Option<Self> {
                Self::parse(text).or_else(|| Self::ALL.iter().copied().find(|v| v.label() == text))
            }

            /// Every code with its label, for a message: `none（无）, dibao（低保）`.
            pub fn choices() -> String {
                Self::ALL
                    .iter()
                    .map(|v| format!("{}（{}）", v.as_str(), v.label()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }

            pub fn entries() -> Vec<$crate::domain::codes::CodeEntry> {
                Self::ALL
                    .iter()
                    .map(|v| $crate::domain::codes::CodeEntry {
                        code: v.as_str(),
                        label: v.label(),
                        label_en: None,
                    })
                    .collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CodeEntry {
    pub code: &'static str,
    /// The Chinese label.
    pub label: &'static str,
    /// The English label, for the sets of [`crate::messages`] (errors, fields, audit entities).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_en: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct CodeSet {
    pub set: &'static str,
    pub codes: Vec<CodeEntry>,
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
    use crate::district::FacilityKind;
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
    use crate::integration::model::{
        ApplicationKind, ApplicationStatus, Channel, Decision, DeliveryState,
    };
    use crate::residents::import_columns::ImportColumn;
    use crate::sections::kinds::{
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

#[cfg(test)]
mod tests {
    use super::*;

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
