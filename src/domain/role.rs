//! Who may do what (DESIGN §5).

crate::code_enum! {
    /// The role of an account.
    pub enum Role: "role" {
        Admin = "admin", "管理员";
        Caseworker = "caseworker", "经办人员";
        Auditor = "auditor", "审计人员";
        Integration = "integration", "对接系统（浙里办）";
    }
}

/// Which callers a route admits. Checked for every route by the authorization middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed: health, metrics, the API document, login.
    Public,
    /// A valid access token of one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    pub const ANY_ROLE: Access = Access::Roles(Role::ALL);
    pub const ADMIN: Access = Access::Roles(&[Role::Admin]);
    /// People who sign in with a password (integration clients use client credentials).
    pub const STAFF: Access = Access::Roles(&[Role::Admin, Role::Caseworker, Role::Auditor]);
    pub const OVERSIGHT: Access = Access::Roles(&[Role::Admin, Role::Auditor]);

    pub fn admits(self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
        }
    }
}

impl Access {
    /// Who reads resident files (auditors read them masked).
    pub const FILE_READERS: Access = Access::Roles(&[Role::Admin, Role::Caseworker, Role::Auditor]);
    /// Who writes resident files.
    pub const FILE_WRITERS: Access = Access::Roles(&[Role::Admin, Role::Caseworker]);
}

/// The towns whose residents a caller may see: all of them, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Towns(Vec<String>),
}

impl Scope {
    pub fn allows(&self, town_code: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Towns(towns) => towns.iter().any(|t| t == town_code),
        }
    }

    /// The towns to restrict a query to, or `None` for no restriction.
    pub fn towns(&self) -> Option<Vec<String>> {
        match self {
            Scope::All => None,
            Scope::Towns(towns) => Some(towns.clone()),
        }
    }
}
