//! The authorization matrix: every route × every role (and no credentials at all).
//!
//! The expected answer comes from the route's declared access rule, and the test drives the
//! real route with the real token, so a route added without a rule, or a rule the guard does not
//! enforce, fails here.

use actix_web::http::{header, Method};
use actix_web::test::TestRequest;
use diesel::prelude::*;
use serde_json::json;

use fenghua_registry::api::endpoints;
use fenghua_registry::db::{self, schema::users};
use fenghua_registry::domain::role::{Access, Role};

use crate::helpers::{spawn_app, Answer, TestApp};
use crate::session::{Session, JINPING, PASSWORD};

/// Fills a route's `{parameters}` with an object that exists.
fn concrete_path(template: &str, user_id: &str) -> String {
    template.replace("{id}", user_id)
}

async fn call(app: &TestApp, method: &Method, path: &str, token: Option<&str>) -> Answer {
    let mut req = TestRequest::default().method(method.clone()).uri(path);
    if matches!(*method, Method::POST | Method::PATCH | Method::PUT) {
        req = req.set_json(json!({}));
    }
    if let Some(token) = token {
        req = req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")));
    }
    app.send(req).await
}

/// An integration client's account. The users API refuses to make one (clients are registered
/// separately), so the test writes it directly.
async fn integration_session(app: &TestApp) -> Session {
    let hash = fenghua_registry::auth::password::hash(PASSWORD);
    db::run(&app.state.pool, move |conn| {
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        diesel::insert_into(users::table)
            .values((
                users::public_id.eq(&public_id),
                users::username.eq("zheliban"),
                users::role.eq("integration"),
                users::password_hash.eq(&hash),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
    .await
    .unwrap();
    let body = app.login("zheliban", PASSWORD).await.json();
    Session {
        user_id: String::new(),
        username: "zheliban".into(),
        access_token: body["access_token"].as_str().unwrap().into(),
        refresh_token: body["refresh_token"].as_str().unwrap().into(),
    }
}

#[actix_web::test]
async fn every_route_admits_exactly_the_roles_it_declares() {
    let app = spawn_app().await;
    let mut callers: Vec<(Option<Role>, Session)> = vec![
        (Some(Role::Admin), app.admin().await),
        (
            Some(Role::Caseworker),
            app.session("worker", Role::Caseworker, &[JINPING]).await,
        ),
        (
            Some(Role::Auditor),
            app.session("auditor", Role::Auditor, &[]).await,
        ),
        (Some(Role::Integration), integration_session(&app).await),
    ];
    let target = app
        .create_user("target", Role::Caseworker, &[JINPING])
        .await;
    let mut checked = 0;

    for endpoint in endpoints() {
        let path = concrete_path(endpoint.path, &target);
        // Signing out ends the session: give it a fresh one per caller.
        let is_logout = endpoint.path == "/api/v1/auth/logout";

        let anonymous = call(&app, &endpoint.method, &path, None).await;
        match endpoint.access {
            Access::Public => assert!(
                anonymous.status != 401 && anonymous.status != 403,
                "{} {} is public but answered {}",
                endpoint.method,
                endpoint.path,
                anonymous.status
            ),
            Access::Roles(_) => {
                assert_eq!(
                    anonymous.status, 401,
                    "{} {} without a token",
                    endpoint.method, endpoint.path
                );
                assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
            }
        }

        for (role, session) in callers.iter_mut() {
            let role = role.unwrap();
            if is_logout {
                let body = app.login(&session.username, PASSWORD).await.json();
                session.access_token = body["access_token"].as_str().unwrap().to_owned();
            }
            let answer = call(&app, &endpoint.method, &path, Some(&session.access_token)).await;
            let what = format!("{} {} as {role}", endpoint.method, endpoint.path);
            if endpoint.access.admits(role) {
                assert!(
                    answer.status != 401 && answer.status != 403,
                    "{what} should be admitted, got {}: {}",
                    answer.status,
                    answer.text()
                );
            } else {
                answer.problem(403, "forbidden");
                assert_eq!(answer.status, 403, "{what}");
            }
            if is_logout {
                let body = app.login(&session.username, PASSWORD).await.json();
                session.access_token = body["access_token"].as_str().unwrap().to_owned();
            }
            checked += 1;
        }
    }
    assert!(checked >= endpoints().len() * 4);
}

#[actix_web::test]
async fn a_refused_call_is_audited() {
    let app = spawn_app().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    app.get_as(&worker, "/api/v1/users")
        .await
        .problem(403, "forbidden");
    let events = app.audit_events().await;
    let denied = events
        .iter()
        .find(|e| e.action == "access_denied")
        .expect("the refusal is audited");
    assert_eq!(denied.actor_username.as_deref(), Some("worker"));
    assert_eq!(denied.outcome, "denied");
    assert!(denied.changes.as_deref().unwrap().contains("/api/v1/users"));
}
