//! The resident's own record: codes, phone numbers and the rules on its dates.

use chrono::NaiveDate;

crate::code_enum! {
    pub enum Sex: "sex" {
        Male = "male", "男";
        Female = "female", "女";
    }
}

crate::code_enum! {
    /// The household's social-assistance status, dated.
    pub enum HouseholdStatus: "household_status" {
        None = "none", "无";
        Dibao = "dibao", "低保";
        Dibian = "dibian", "低边";
        Tekun = "tekun", "特困供养";
    }
}

crate::code_enum! {
    pub enum HouseholdFlag: "household_flag" {
        MultipleDisabled = "multiple_disabled", "一户多残";
        ElderlyCaringForDisabled = "elderly_caring_for_disabled", "老养残";
        BereavedElderlyDisabled = "bereaved_elderly_disabled", "失独老残";
    }
}

crate::code_enum! {
    /// Derived from the dates: deceased wins over moved out.
    pub enum ResidentStatus: "resident_status" {
        Active = "active", "在册";
        Deceased = "deceased", "已故";
        MovedOut = "moved_out", "迁出";
    }
}

crate::code_enum! {
    /// The fields kept encrypted, which `reveal` shows one at a time.
    pub enum ProtectedField: "protected_field" {
        IdNumber = "id_number", "身份证号";
        Phone = "phone", "联系电话";
        GuardianPhone = "guardian_phone", "监护人电话";
    }
}

pub fn status(deceased_on: Option<NaiveDate>, moved_out_on: Option<NaiveDate>) -> ResidentStatus {
    match (deceased_on, moved_out_on) {
        (Some(_), _) => ResidentStatus::Deceased,
        (None, Some(_)) => ResidentStatus::MovedOut,
        (None, None) => ResidentStatus::Active,
    }
}

/// A mainland phone number: a mobile (`1[3-9]` and nine digits) or a landline with its area
/// code (`0574-88881234`, `057488881234`). Spaces and dashes are dropped.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bytes = digits.as_bytes();
    let mobile = bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]);
    let landline = (10..=12).contains(&bytes.len()) && bytes[0] == b'0' && bytes[1] != b'0';
    (mobile || landline).then_some(digits)
}

/// A name as lists of residents show it: the first character, a `*` for each other one
/// (张三 → 张*, 欧阳娜娜 → 欧***).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    first + &"*".repeat(chars.count())
}

/// `138****1234`: the first three and the last four digits.
pub fn mask_phone(phone: &str) -> String {
    let n = phone.chars().count();
    if n <= 7 {
        return "*".repeat(n);
    }
    let head: String = phone.chars().take(3).collect();
    let tail: String = phone.chars().skip(n - 4).collect();
    format!("{head}{}{tail}", "*".repeat(n - 7))
}

/// A person's name: free text ([`super::text::clean`]) of 1 to 50 characters.
pub fn clean_name(raw: &str) -> Option<String> {
    let name = super::text::clean(raw).ok()?;
    (1..=50).contains(&name.chars().count()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(
            normalize_phone("138 1234 5678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            normalize_phone("0574-88881234").as_deref(),
            Some("057488881234")
        );
        assert_eq!(normalize_phone("12812345678"), None);
        assert_eq!(normalize_phone("1381234567"), None);
        assert_eq!(normalize_phone("+8613812345678"), None);
        assert_eq!(normalize_phone("88881234"), None);
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("057488881234"), "057*****1234");
    }

    #[test]
    fn names_and_status() {
        assert_eq!(clean_name("  张三 ").as_deref(), Some("张三"));
        assert_eq!(clean_name("   "), None);
        assert_eq!(clean_name(&"名".repeat(51)), None);
        assert_eq!(clean_name("张\u{202E}三"), None);
        let d = NaiveDate::from_ymd_opt(2024, 1, 1);
        assert_eq!(status(None, None), ResidentStatus::Active);
        assert_eq!(status(d, d), ResidentStatus::Deceased);
        assert_eq!(status(None, d), ResidentStatus::MovedOut);
    }
}
