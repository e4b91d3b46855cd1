//! Domain types and rules, free of HTTP and SQL: once a value of these types exists it is valid.

pub mod account;
pub mod area;
pub mod codes;
pub mod role;
