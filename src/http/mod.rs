//! Cross-cutting HTTP concerns: request ids, access logs and metrics.

pub mod client_address;
pub mod metrics;
pub mod observe;
