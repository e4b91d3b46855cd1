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

/// What an integration client may do, granted per client and carried in its tokens (OAuth
/// scopes, so `resource:action` rather than a snake_case code).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ClientScope {
    #[serde(rename = "applications:write")]
    ApplicationsWrite,
    #[serde(rename = "applications:read")]
    ApplicationsRead,
    #[serde(rename = "certificates:verify")]
    CertificatesVerify,
}

impl ClientScope {
    pub const ALL: &'static [ClientScope] = &[
        ClientScope::ApplicationsWrite,
        ClientScope::ApplicationsRead,
        ClientScope::CertificatesVerify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientScope::ApplicationsWrite => "applications:write",
            ClientScope::ApplicationsRead => "applications:read",
            ClientScope::CertificatesVerify => "certificates:verify",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        ClientScope::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == code)
    }
}

/// Which callers a route admits. Checked for every route by the authorization middleware.
/// Staff sign in with a password and carry a role; integration clients use client credentials
/// and carry scopes. A route names each kind it admits, so a client token is refused by a
/// staff route and a staff token by a client route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed: health, metrics, the API document, login.
    Public,
    /// A staff access token of one of these roles.
    Roles(&'static [Role]),
    /// An integration client token holding `scope` (any client when `None`), and staff tokens
    /// of the roles in `staff` (none when empty).
    Clients {
        scope: Option<ClientScope>,
        staff: &'static [Role],
    },
}

const STAFF_ROLES: &[Role] = &[Role::Admin, Role::Caseworker, Role::Auditor];

impl Access {
    /// Anyone signed in with a password.
    pub const ANY_ROLE: Access = Access::Roles(STAFF_ROLES);
    pub const ADMIN: Access = Access::Roles(&[Role::Admin]);
    /// People who sign in with a password (integration clients use client credentials).
    pub const STAFF: Access = Access::Roles(STAFF_ROLES);
    pub const OVERSIGHT: Access = Access::Roles(&[Role::Admin, Role::Auditor]);
    /// Reference data (areas, codes): every signed-in person and every client.
    pub const REFERENCE: Access = Access::Clients {
        scope: None,
        staff: STAFF_ROLES,
    };

    /// Whether a staff token of `role` may call the route.
    pub fn admits(self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
            Access::Clients { staff, .. } => staff.contains(&role),
        }
    }

    /// Whether a client token with these scopes may call the route.
    pub fn admits_client(self, scopes: &[ClientScope]) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(_) => false,
            Access::Clients { scope: None, .. } => true,
            Access::Clients {
                scope: Some(scope), ..
            } => scopes.contains(&scope),
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
