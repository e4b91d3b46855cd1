//! The authenticated caller of a request, as the guard finds it behind a token.

use crate::audit::Actor;
use crate::domain::role::{Role, Scope};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub public_id: String,
    pub username: String,
    pub role: Role,
    /// For caseworkers: the towns they may work in.
    pub towns: Vec<String>,
    pub session_id: i64,
    pub session_public_id: String,
}

impl Caller {
    /// The towns whose residents the caller may see.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Auditor => Scope::All,
            Role::Caseworker => Scope::Towns(self.towns.clone()),
            Role::Integration => Scope::Towns(Vec::new()),
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.public_id.clone()),
            username: Some(self.username.clone()),
            role: Some(self.role),
        }
    }
}
