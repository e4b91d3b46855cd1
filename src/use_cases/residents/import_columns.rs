//! The columns of a resident import: each column's code, the Chinese header a caseworker's
//! sheet carries (its label in the code set `import_column`, so `GET /api/v1/codes` shows it)
//! and a few other headers Excel sheets in use carry. The import reads a header by any of these
//! names; the template and the import report write the Chinese header.

crate::code_enum! {
    pub enum ImportColumn: "import_column" {
        IdNumber = "id_number", "身份证号";
        Name = "name", "姓名";
        TownCode = "town_code", "乡镇（街道）代码";
        VillageCode = "village_code", "村（社区）代码";
        Address = "address", "住址";
        Phone = "phone", "联系电话";
        GuardianName = "guardian_name", "监护人姓名";
        GuardianPhone = "guardian_phone", "监护人电话";
        HouseholdStatus = "household_status", "困难类别";
        HouseholdStatusSince = "household_status_since", "困难类别起始日期";
        HouseholdFlags = "household_flags", "家庭标识";
        WorkCapacity = "work_capacity", "劳动能力";
        RegisteredOn = "registered_on", "登记日期";
        DeceasedOn = "deceased_on", "死亡日期";
        MovedOutOn = "moved_out_on", "迁出日期";
        CertificateNumber = "certificate_number", "残疾证号";
        CertificateCategory = "certificate_category", "残疾类别";
        CertificateGrade = "certificate_grade", "残疾等级";
        CertificateComponents = "certificate_components", "多重残疾构成";
        CertificateIssuedOn = "certificate_issued_on", "发证日期";
        CertificateValidUntil = "certificate_valid_until", "有效期至";
    }
}

/// Other headers read as a column: names in common use, and those the resident list export
/// gives the same values (`镇（街道）代码`, `户籍类别`, `证件有效期至`), so a caseworker who copies
/// those columns into a sheet to import need not rename them.
pub const ALIASES: &[(&str, ImportColumn)] = &[
    ("身份证号码", ImportColumn::IdNumber),
    ("公民身份号码", ImportColumn::IdNumber),
    ("乡镇代码", ImportColumn::TownCode),
    ("镇（街道）代码", ImportColumn::TownCode),
    ("村代码", ImportColumn::VillageCode),
    ("社区代码", ImportColumn::VillageCode),
    ("村（社区）", ImportColumn::VillageCode),
    ("地址", ImportColumn::Address),
    ("家庭住址", ImportColumn::Address),
    ("电话", ImportColumn::Phone),
    ("手机号码", ImportColumn::Phone),
    ("监护人", ImportColumn::GuardianName),
    ("监护人联系电话", ImportColumn::GuardianPhone),
    ("户籍类别", ImportColumn::HouseholdStatus),
    ("救助类别", ImportColumn::HouseholdStatus),
    ("残疾人证号", ImportColumn::CertificateNumber),
    ("证件有效期至", ImportColumn::CertificateValidUntil),
];

/// The columns a file must have.
pub const REQUIRED: &[ImportColumn] = &[
    ImportColumn::IdNumber,
    ImportColumn::Name,
    ImportColumn::TownCode,
];

/// Columns of long digit strings that Excel turns into numbers (and, past 15 digits, into
/// scientific notation) unless they are formatted as text.
pub const DIGIT_STRINGS: &[ImportColumn] = &[
    ImportColumn::IdNumber,
    ImportColumn::Phone,
    ImportColumn::GuardianPhone,
    ImportColumn::CertificateNumber,
];

/// The codes of every column, in order.
pub fn codes() -> Vec<&'static str> {
    ImportColumn::ALL.iter().map(|c| c.as_str()).collect()
}

/// Every name a header may give a column: its Chinese header, then the aliases.
pub fn names() -> Vec<(&'static str, &'static str)> {
    ImportColumn::ALL
        .iter()
        .map(|c| (c.label(), c.as_str()))
        .chain(ALIASES.iter().map(|(name, c)| (*name, c.as_str())))
        .collect()
}

/// The Chinese header of a column code (a report names columns so); the code itself when it is
/// not a column.
pub fn header_of(code: &str) -> &str {
    match ImportColumn::parse(code) {
        Some(column) => column.label(),
        None => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_header_names_two_columns() {
        let mut seen = std::collections::HashMap::new();
        for (name, code) in names()
            .into_iter()
            .chain(codes().into_iter().map(|c| (c, c)))
        {
            let key = crate::csv_file::header_key(name);
            if let Some(other) = seen.insert(key, code) {
                assert_eq!(other, code, "{name} names two columns");
            }
        }
    }
}
