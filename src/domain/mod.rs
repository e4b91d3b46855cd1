//! Domain types and rules, free of HTTP and SQL: once a value of these types exists it is valid.
//!
//! The floor of the crate: it imports nothing of it but `error` (the `FieldError` that a
//! rule's check answers with). Reading JSON into these types is the callers' (`crate::input`).

pub mod account;
pub mod area;
pub mod audit;
pub mod certificate;
pub mod codes;
pub mod eligibility;
pub mod home_modification;
pub mod id_number;
pub mod indicators;
pub mod resident;
pub mod role;
pub mod text;
pub mod work_queue;

/// Today in the district (China Standard Time, UTC+8): the day that "not in the future" means.
pub fn today() -> chrono::NaiveDate {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("a valid offset");
    chrono::Utc::now().with_timezone(&offset).date_naive()
}
