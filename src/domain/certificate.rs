//! The disability certificate (残疾人证). Its number is the holder's ID number, the category
//! digit, the grade digit and, after a reissue, `B1`…`B9`.

use super::id_number::IdNumber;
use crate::error::FieldError;

crate::code_enum! {
    pub enum Category: "disability_category" {
        Visual = "visual", "视力残疾";
        Hearing = "hearing", "听力残疾";
        Speech = "speech", "言语残疾";
        Physical = "physical", "肢体残疾";
        Intellectual = "intellectual", "智力残疾";
        Mental = "mental", "精神残疾";
        Multiple = "multiple", "多重残疾";
    }
}

impl Category {
    /// The digit of the category in the certificate number (1–7).
    pub fn digit(self) -> u8 {
        match self {
            Category::Visual => 1,
            Category::Hearing => 2,
            Category::Speech => 3,
            Category::Physical => 4,
            Category::Intellectual => 5,
            Category::Mental => 6,
            Category::Multiple => 7,
        }
    }

    pub fn from_digit(digit: u8) -> Option<Self> {
        Category::ALL.iter().copied().find(|c| c.digit() == digit)
    }
}

crate::code_enum! {
    pub enum CertificateStatus: "certificate_status" {
        Active = "active", "有效";
        Cancelled = "cancelled", "注销";
    }
}

crate::code_enum! {
    /// A certificate as shown on a day: cancelled, or for one not cancelled whether its
    /// `valid_until` has passed or falls within the expiring window.
    pub enum CertificateState: "certificate_state" {
        Active = "active", "有效";
        Expiring = "expiring", "即将到期";
        Expired = "expired", "已过期";
        Cancelled = "cancelled", "注销";
    }
}

/// The expiring window when `CERTIFICATE_EXPIRING_DAYS` is not set.
pub const DEFAULT_EXPIRING_WITHIN_DAYS: u32 = 90;

impl CertificateState {
    /// The state on `today` of a certificate stored as `status`, valid through `valid_until`
    /// (its last valid day): expiring when that day is at most `expiring_within_days` away.
    pub fn on(
        status: CertificateStatus,
        valid_until: chrono::NaiveDate,
        today: chrono::NaiveDate,
        expiring_within_days: u32,
    ) -> Self {
        match status {
            CertificateStatus::Cancelled => CertificateState::Cancelled,
            CertificateStatus::Active if valid_until < today => CertificateState::Expired,
            CertificateStatus::Active
                if (valid_until - today).num_days() <= i64::from(expiring_within_days) =>
            {
                CertificateState::Expiring
            }
            CertificateStatus::Active => CertificateState::Active,
        }
    }
}

crate::code_enum! {
    pub enum CancelReason: "certificate_cancel_reason" {
        Deceased = "deceased", "死亡";
        MovedOut = "moved_out", "迁出";
        Reassessed = "reassessed", "重新评定";
        Reissued = "reissued", "补发";
        Renewed = "renewed", "换领";
        Revoked = "revoked", "撤销";
        Other = "other", "其他";
    }
}

impl CancelReason {
    /// Reasons a caseworker may give; the others are set by the certificate actions.
    pub fn is_manual(self) -> bool {
        matches!(
            self,
            CancelReason::Deceased
                | CancelReason::MovedOut
                | CancelReason::Revoked
                | CancelReason::Other
        )
    }
}

crate::code_enum! {
    /// A certificate's grade, 1 (most severe) to 4; the API sends the number, a spreadsheet
    /// may hold the label.
    pub enum Grade: "disability_grade" {
        One = "1", "一级";
        Two = "2", "二级";
        Three = "3", "三级";
        Four = "4", "四级";
    }
}

impl Grade {
    pub fn number(self) -> i32 {
        match self {
            Grade::One => 1,
            Grade::Two => 2,
            Grade::Three => 3,
            Grade::Four => 4,
        }
    }
}

/// Grades run from 1 (most severe) to 4.
pub fn valid_grade(grade: i32) -> bool {
    (1..=4).contains(&grade)
}

/// The fault of a grade out of range, named as `field`.
pub fn grade_error(field: &str, grade: i32) -> Option<FieldError> {
    (!valid_grade(grade))
        .then(|| FieldError::new(field, "out_of_range", "a grade is 1 (most severe) to 4"))
}

/// A certificate number taken apart: `^\d{17}[\dX][1-7][1-4](B[1-9])?$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNumber {
    pub holder_prefix: String,
    pub category: Category,
    pub grade: i32,
    /// 0 for an original certificate, 1–9 for reissue `B1`…`B9`.
    pub reissue: u8,
}

impl CertificateNumber {
    pub fn parse(raw: &str) -> Option<Self> {
        let value = raw.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if !(bytes.len() == 20 || bytes.len() == 22) || !value.is_ascii() {
            return None;
        }
        let prefix_ok = bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
        let category = Category::from_digit(bytes[18].wrapping_sub(b'0'))?;
        let grade = i32::from(bytes[19].wrapping_sub(b'0'));
        let reissue = if bytes.len() == 22 {
            if bytes[20] != b'B' || !(b'1'..=b'9').contains(&bytes[21]) {
                return None;
            }
            bytes[21] - b'0'
        } else {
            0
        };
        (prefix_ok && valid_grade(grade)).then(|| CertificateNumber {
            holder_prefix: value[..18].to_owned(),
            category,
            grade,
            reissue,
        })
    }

    /// The number of a certificate of `holder` with this category, grade and reissue count.
    pub fn compose(holder: &IdNumber, category: Category, grade: i32, reissue: u8) -> String {
        let suffix = if reissue == 0 {
            String::new()
        } else {
            format!("B{reissue}")
        };
        format!("{}{}{}{}", holder.as_str(), category.digit(), grade, suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_expiring_within_the_window_and_expired_after_its_last_day() {
        let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let state = |status, valid_until| CertificateState::on(status, valid_until, day(10), 5);
        use CertificateStatus::{Active, Cancelled};
        assert_eq!(state(Active, day(16)), CertificateState::Active);
        assert_eq!(state(Active, day(15)), CertificateState::Expiring);
        assert_eq!(state(Active, day(10)), CertificateState::Expiring);
        assert_eq!(state(Active, day(9)), CertificateState::Expired);
        assert_eq!(state(Cancelled, day(20)), CertificateState::Cancelled);
        assert_eq!(state(Cancelled, day(1)), CertificateState::Cancelled);
    }
    use crate::domain::id_number::compose;
    use chrono::NaiveDate;

    #[test]
    fn numbers_parse_and_compose() {
        let holder = compose("330213", NaiveDate::from_ymd_opt(1970, 5, 6).unwrap(), 35);
        let number = CertificateNumber::compose(&holder, Category::Mental, 2, 0);
        let parsed = CertificateNumber::parse(&number).unwrap();
        assert_eq!(parsed.holder_prefix, holder.as_str());
        assert_eq!(
            (parsed.category, parsed.grade, parsed.reissue),
            (Category::Mental, 2, 0)
        );
        let reissued = CertificateNumber::compose(&holder, Category::Mental, 2, 3);
        assert!(reissued.ends_with("62B3"));
        assert_eq!(CertificateNumber::parse(&reissued).unwrap().reissue, 3);
        let lower = reissued.to_lowercase();
        assert_eq!(CertificateNumber::parse(&lower).unwrap().reissue, 3);
    }

    #[test]
    fn bad_numbers_are_refused() {
        let base = "11010519491231002X";
        for bad in [
            format!("{base}8"),
            format!("{base}81"),
            format!("{base}15"),
            format!("{base}10"),
            format!("{base}41B0"),
            format!("{base}41C1"),
            format!("{base}41B"),
            "11010519491231002Y41".to_owned(),
        ] {
            assert!(CertificateNumber::parse(&bad).is_none(), "{bad}");
        }
        assert!(CertificateNumber::parse(&format!("{base}71")).is_some());
    }
}
