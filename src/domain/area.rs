//! Administrative areas: the district, its towns/streets (镇街道), their villages (村社区).

crate::code_enum! {
    pub enum AreaLevel: "area_level" {
        District = "district", "区";
        Town = "town", "镇（街道）";
        Village = "village", "村（社区）";
    }
}

/// The district this registry serves: 奉化区.
pub const DISTRICT_CODE: &str = "330213";
