//! The body every correction route takes (see [`crate::use_cases::corrections`]).

use serde::Deserialize;

/// The body of a correction: a withdrawal (of a definition version or a policy version) or a
/// void (of a section record, a grant or a case), with its reason.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub(super) reason: String,
}
