//! What the registry does, one module per area of a resident's file and per task of the
//! district, each over the access policy (`crate::access`), the audit trail and storage.
//!
//! Within this folder the order of `src/lib.rs` holds too: `reports` above the use cases
//! across areas (`whole_file`, `work_queues`, `indicators`, `integration`), those above the
//! areas they gather (`residents`, `subsidies`, `home_modifications`, `sections`), and the
//! areas beside the accounts, the area tree, district data and corrections; under the areas,
//! `file_rows`, the one flow of a change to a versioned row of a resident's file.

pub mod accounts;
pub mod areas;
pub mod corrections;
pub mod district;
pub mod file_rows;
pub mod home_modifications;
pub mod indicators;
pub mod integration;
pub mod reports;
pub mod residents;
pub mod sections;
pub mod subsidies;
pub mod whole_file;
pub mod work_queues;
