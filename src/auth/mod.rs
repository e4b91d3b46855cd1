//! Authentication and authorization: passwords, tokens, sessions, and the guard that every
//! request passes.

pub mod guard;
pub mod password;
pub mod rate_limit;
pub mod refusals;
pub mod sessions;
pub mod settings;
pub mod token;
