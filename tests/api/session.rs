//! Accounts and signed-in sessions for tests.

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::{json, Value};

use fenghua_registry::audit::AuditContext;
use fenghua_registry::db;
use fenghua_registry::domain::role::Role;
use fenghua_registry::use_cases::accounts::{self, NewUser};

use crate::helpers::{Answer, TestApp};

pub const PASSWORD: &str = "correct horse battery staple";
pub const JINPING: &str = "330213001";
pub const XIKOU: &str = "330213100";

/// A user made directly in the database and signed in over the API.
pub struct Session {
    pub user_id: String,
    pub username: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    /// Creates a user with the test password through the domain function (no API call); it is
    /// audited as `user_create` with no actor.
    pub async fn create_user(&self, username: &str, role: Role, towns: &[&str]) -> String {
        let new = NewUser {
            username: username.to_owned(),
            display_name: None,
            role,
            towns: towns.iter().map(|t| t.to_string()).collect(),
            password_hash: fenghua_registry::auth::password::hash(PASSWORD),
        };
        let user = db::run(&self.state.pool, move |conn| {
            accounts::create(conn, &AuditContext::default(), new)
        })
        .await
        .expect("the test user is created");
        user.id
    }

    pub async fn login(&self, username: &str, password: &str) -> Answer {
        self.post_json(
            "/api/v1/auth/login",
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Creates a user of `role` (caseworkers in `towns`) and signs it in.
    pub async fn session(&self, username: &str, role: Role, towns: &[&str]) -> Session {
        let user_id = self.create_user(username, role, towns).await;
        let answer = self.login(username, PASSWORD).await;
        assert_eq!(answer.status, 200, "login: {}", answer.text());
        let body = answer.json();
        Session {
            user_id,
            username: username.to_owned(),
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn admin(&self) -> Session {
        self.session("admin", Role::Admin, &[]).await
    }

    /// Sends `req` with the session's bearer token.
    pub async fn send_as(&self, session: &Session, req: TestRequest) -> Answer {
        self.send(req.insert_header((
            header::AUTHORIZATION,
            format!("Bearer {}", session.access_token),
        )))
        .await
    }

    pub async fn get_as(&self, session: &Session, path: &str) -> Answer {
        self.send_as(session, TestRequest::get().uri(path)).await
    }

    pub async fn post_as(&self, session: &Session, path: &str, body: &Value) -> Answer {
        self.send_as(session, TestRequest::post().uri(path).set_json(body))
            .await
    }

    /// Every audit event, oldest first, read straight from the database.
    pub async fn audit_events(&self) -> Vec<fenghua_registry::db::audit::AuditRow> {
        db::run(&self.state.pool, |conn| {
            Ok(fenghua_registry::db::audit::page_after(conn, 0, 100_000)?)
        })
        .await
        .unwrap()
    }
}

pub use crate::shared::id_number;

/// The `ETag` of an answer.
#[track_caller]
pub fn etag(answer: &Answer) -> String {
    answer
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag; status {}: {}", answer.status, answer.text()))
        .to_owned()
}

impl TestApp {
    /// `POST /api/v1/residents` as `session`.
    pub async fn create_resident(&self, session: &Session, body: &Value) -> Answer {
        self.post_as(session, "/api/v1/residents", body).await
    }

    /// Adds a village (12-digit code) under a town, as an admin.
    pub async fn create_village(&self, admin: &Session, code: &str, name: &str, town: &str) {
        let answer = self
            .post_as(
                admin,
                "/api/v1/areas",
                &json!({ "code": code, "name": name, "parent_code": town }),
            )
            .await;
        assert_eq!(answer.status, 201, "village {code}: {}", answer.text());
    }
}
