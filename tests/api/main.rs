//! The service's tests, in one binary so it links once. Every test starts the real app against
//! a fresh database: SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set.

mod access;
mod audit;
mod auth;
mod certificates;
mod contract;
mod foundation;
mod helpers;
mod imports;
mod residents;
mod session;
mod users;
