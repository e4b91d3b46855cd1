//! Cross-cutting HTTP concerns: request ids, access logs, metrics, client addresses and CORS.

pub mod client_address;
pub mod cors;
pub mod metrics;
pub mod observe;
