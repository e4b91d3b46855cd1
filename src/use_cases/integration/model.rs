//! The pure rules of the integration: application codes and their state machine, the webhook
//! signature and the retry schedule.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

crate::code_enum! {
    /// What a resident applies for (助残服务“一件事”).
    pub enum ApplicationKind: "application_kind" {
        CertificateNew = "certificate_new", "残疾人证新办";
        CertificateRenewal = "certificate_renewal", "残疾人证换领";
        LivingSubsidy = "living_subsidy", "困难残疾人生活补贴";
        NursingSubsidy = "nursing_subsidy", "重度残疾人护理补贴";
        HomeModification = "home_modification", "家庭无障碍改造";
        AssistiveDevice = "assistive_device", "辅助器具适配";
        RehabService = "rehab_service", "康复服务";
    }
}

crate::code_enum! {
    /// Where an application came in.
    pub enum Channel: "application_channel" {
        Zheliban = "zheliban", "浙里办";
        Counter = "counter", "窗口受理";
        Caseworker = "caseworker", "经办人员代办";
    }
}

crate::code_enum! {
    pub enum ApplicationStatus: "application_status" {
        Submitted = "submitted", "已提交";
        Accepted = "accepted", "已受理";
        Approved = "approved", "已批准";
        Rejected = "rejected", "不予批准";
        Withdrawn = "withdrawn", "已撤回";
    }
}

crate::code_enum! {
    /// A caseworker's decision on an application.
    pub enum Decision: "application_decision" {
        Accept = "accept", "受理";
        Approve = "approve", "批准";
        Reject = "reject", "不予批准";
    }
}

crate::code_enum! {
    /// Where a webhook event stands.
    pub enum DeliveryState: "webhook_delivery_state" {
        Pending = "pending", "待推送";
        Delivered = "delivered", "已送达";
        Failed = "failed", "推送失败";
        NoWebhook = "no_webhook", "未登记推送地址";
    }
}

/// A step asked of an application: a caseworker's decision or the client's withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Decide(Decision),
    Withdraw,
}

/// The status after `step`, or `None` when the step is not allowed from `status`:
/// submitted → accepted → approved | rejected; rejected also straight from submitted; the
/// client withdraws while nothing is decided.
pub fn next_status(status: ApplicationStatus, step: Step) -> Option<ApplicationStatus> {
    use ApplicationStatus::*;
    match (status, step) {
        (Submitted, Step::Decide(Decision::Accept)) => Some(Accepted),
        (Accepted, Step::Decide(Decision::Approve)) => Some(Approved),
        (Submitted | Accepted, Step::Decide(Decision::Reject)) => Some(Rejected),
        (Submitted | Accepted, Step::Withdraw) => Some(Withdrawn),
        _ => None,
    }
}

/// The `X-Signature` header of a webhook body sent at unix time `t`:
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// How long to wait before attempt `attempt + 1` after `attempt` failures: `base · 2^(attempt-1)`
/// capped at `max`, scaled by `jitter` (0.0 to 1.0) into its upper half, so retries of many
/// events spread out instead of arriving together.
pub fn backoff(attempt: i32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let full = base.saturating_mul(1u32 << exponent).min(max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// The fingerprint of a request for idempotency: method, route and the body as canonical JSON
/// (keys sorted, no spaces), so the same JSON sent with other spacing or key order matches.
pub fn request_hash(method: &str, route: &str, body: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(body.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationStatus::*;

    #[test]
    fn the_state_machine() {
        let accept = Step::Decide(Decision::Accept);
        let approve = Step::Decide(Decision::Approve);
        let reject = Step::Decide(Decision::Reject);
        assert_eq!(next_status(Submitted, accept), Some(Accepted));
        assert_eq!(next_status(Submitted, approve), None, "accepted first");
        assert_eq!(next_status(Accepted, approve), Some(Approved));
        assert_eq!(next_status(Submitted, reject), Some(Rejected));
        assert_eq!(next_status(Accepted, reject), Some(Rejected));
        assert_eq!(next_status(Accepted, Step::Withdraw), Some(Withdrawn));
        for done in [Approved, Rejected, Withdrawn] {
            for step in [accept, approve, reject, Step::Withdraw] {
                assert_eq!(next_status(done, step), None, "{done:?} is final");
            }
        }
    }

    #[test]
    fn signatures_are_hmac_over_time_and_body() {
        // Reference value computed independently:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let sig = signature("whsec_test", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            sig,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(sig, signature("whsec_other", 1_700_000_000, r#"{"a":1}"#));
        assert_ne!(sig, signature("whsec_test", 1_700_000_001, r#"{"a":1}"#));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(60);
        assert_eq!(backoff(1, base, max, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(2, base, max, 1.0), Duration::from_secs(10));
        assert_eq!(backoff(4, base, max, 1.0), Duration::from_secs(40));
        assert_eq!(backoff(5, base, max, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(50, base, max, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(2, base, max, 0.0), Duration::from_secs(5));
    }

    #[test]
    fn request_hashes_ignore_key_order_and_spacing() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1, "a":[1,2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":[1,2],"b":1}"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"a":[2,1],"b":1}"#).unwrap();
        assert_eq!(
            request_hash("POST", "/x", &a),
            request_hash("POST", "/x", &b)
        );
        assert_ne!(
            request_hash("POST", "/x", &a),
            request_hash("POST", "/x", &c)
        );
        assert_ne!(
            request_hash("POST", "/x", &a),
            request_hash("POST", "/y", &a)
        );
    }
}
