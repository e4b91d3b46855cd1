//! Authentication and authorization: passwords, tokens, sessions, and the guard that every
//! request passes.

pub mod caller;
pub mod guard;
pub mod password;
pub mod rate_limit;
pub mod refusals;
pub mod session_cache;
pub mod sessions;
pub mod settings;
pub mod token;
