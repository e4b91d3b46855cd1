//! Cross-cutting HTTP concerns: request ids, access logs and metrics.

pub mod metrics;
pub mod observe;
