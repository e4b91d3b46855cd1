//! The service's tests, in one binary so it links once. Every test starts the real app against
//! a fresh database: SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set.
//!
//! A test about PostgreSQL itself (roles and grants) runs on the database of
//! `shared::postgres_admin_url`: `TEST_DATABASE_URL`, or under CI (`CI` set; `.ci/run` sets
//! it) the CI database `postgres://postgres@127.0.0.1:5432/test`, so in CI it also runs in the
//! SQLite pass and fails when PostgreSQL is missing instead of passing untested. Outside CI,
//! without `TEST_DATABASE_URL`, it skips and says so.

mod access;
mod audit;
mod auth;
mod certificates;
mod contract;
mod corrections;
mod cors;
mod district;
mod file_read;
mod foundation;
mod fuzz_findings;
mod hardening;
mod helpers;
mod home_modifications;
mod imports;
mod indicator_facts;
mod indicator_gaps;
mod indicators;
mod integration;
mod limits;
mod messages;
mod moves;
mod read_audit;
mod reports;
mod residents;
mod sections;
mod session;
#[allow(dead_code)]
#[path = "../shared/mod.rs"]
mod shared;
mod stored_codes;
mod subsidies;
mod transactions;
mod users;
mod work_queues;
