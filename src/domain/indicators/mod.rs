//! The district plan's 14 coverage indicators (DESIGN §4), as data and pure rules.
//!
//! [`definition`] holds what an indicator is (versioned data an admin publishes);
//! [`rules`] decides, for one resident's facts on one day, which indicators the resident counts
//! in and whether they are covered (a per-resident fold: every fact table is read once, each
//! resident contributes to every indicator at once); [`tally`] adds the contributions up by
//! town and turns them into figures; [`stored`] is one resident's facts for every day at once, in
//! the compact form the storage layer keeps per resident. Nothing here touches the database.

pub mod definition;
pub mod rules;
pub mod stored;
pub mod tally;

pub use definition::{Definition, DefinitionSet, IndicatorCode, IndicatorKind};
pub use rules::{evaluate, reconcile, Context, GapReason, Mark, Person, Record};
pub use tally::{Figure, Tally};
