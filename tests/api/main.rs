//! The service's tests, in one binary so it links once. Every test starts the real app against
//! a fresh database: SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set.

mod access;
mod audit;
mod auth;
mod certificates;
mod contract;
mod district;
mod foundation;
mod hardening;
mod helpers;
mod home_modifications;
mod imports;
mod indicator_facts;
mod indicator_gaps;
mod indicators;
mod integration;
mod moves;
mod read_audit;
mod reports;
mod residents;
mod sections;
mod session;
mod stored_codes;
mod subsidies;
mod transactions;
mod users;
