//! The work queues: the lists of what waits for a caseworker in their towns.

crate::code_enum! {
    pub enum WorkQueue: "work_queue" {
        Certificates = "certificates", "证件即将到期或已过期";
        HomeModifications = "home_modifications", "无障碍改造案件久未推进";
        SuspendedGrants = "suspended_grants", "补贴暂停中";
        RehabNeeds = "rehab_needs", "康复需求未获服务";
        DeviceNeeds = "device_needs", "辅具需求未获适配";
        HouseholdEnded = "household_ended", "困难类别已终止";
    }
}

impl WorkQueue {
    /// The default of the `days` parameter, for the queues that read it: how long a
    /// home-modification case may wait in its state, and how far back an end of a household
    /// status is listed.
    pub fn default_days(self) -> Option<i64> {
        match self {
            WorkQueue::HomeModifications => Some(30),
            WorkQueue::HouseholdEnded => Some(90),
            _ => None,
        }
    }
}
