//! Enumerations the API speaks, as stable snake_case codes with Chinese labels.
//!
//! Every enum is declared with [`code_enum!`], so a code cannot exist on the wire without a
//! label. The catalogue of every set, the body of `GET /api/v1/codes`, is made where the sets
//! of all layers meet: `api::reference`.

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
