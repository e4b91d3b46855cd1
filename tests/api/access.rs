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

/// A user row with the role `integration`, written directly (the users API refuses to make
/// one): clients authenticate with client credentials, so such an account gets nowhere.
async fn integration_user_session(app: &TestApp) -> Option<Session> {
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
    let answer = app.login("zheliban", PASSWORD).await;
    (answer.status == 200).then(|| {
        let body = answer.json();
        Session {
            user_id: String::new(),
            username: "zheliban".into(),
            access_token: body["access_token"].as_str().unwrap().into(),
            refresh_token: body["refresh_token"].as_str().unwrap().into(),
        }
    })
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
            Access::Roles(_) | Access::Clients { .. } => {
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
    assert!(checked >= endpoints().len() * 3);
}

/// Every route a client token may use, literally: anything else answers it 403. A route that
/// starts admitting clients must be added here on purpose.
const CLIENT_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/areas"),
    ("GET", "/api/v1/codes"),
    ("POST", "/api/v1/applications"),
    ("GET", "/api/v1/applications"),
    ("GET", "/api/v1/applications/{id}"),
    ("POST", "/api/v1/applications/{id}/withdraw"),
    ("GET", "/api/v1/application-events"),
    ("POST", "/api/v1/certificates/verify"),
];

/// The routes only clients use: every staff token is refused there.
const CLIENT_ONLY_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/applications/{id}/withdraw"),
    ("GET", "/api/v1/application-events"),
];

#[actix_web::test]
async fn client_tokens_and_staff_tokens_stay_on_their_own_routes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let staff = vec![
        ("admin", admin.access_token.clone()),
        (
            "caseworker",
            app.session("worker", Role::Caseworker, &[JINPING])
                .await
                .access_token,
        ),
        (
            "auditor",
            app.session("auditor", Role::Auditor, &[])
                .await
                .access_token,
        ),
    ];
    let all = crate::integration::register_client(
        &app,
        &admin,
        "all scopes",
        &[
            "applications:write",
            "applications:read",
            "certificates:verify",
        ],
        None,
    )
    .await;
    let verify_only =
        crate::integration::register_client(&app, &admin, "verify", &["certificates:verify"], None)
            .await;
    let target = app
        .create_user("target", Role::Caseworker, &[JINPING])
        .await;
    let is = |list: &[(&str, &str)], method: &Method, path: &str| {
        list.iter()
            .any(|(m, p)| *m == method.as_str() && *p == path)
    };
    let mut tried = 0;
    for endpoint in endpoints() {
        let path = concrete_path(endpoint.path, &target);
        let what = format!("{} {}", endpoint.method, endpoint.path);
        let public = endpoint.access == Access::Public;

        // A client holding every scope: exactly the literal list (and the public routes).
        let answer = call(&app, &endpoint.method, &path, Some(&all.token)).await;
        if public || is(CLIENT_ROUTES, &endpoint.method, endpoint.path) {
            assert!(
                answer.status != 401 && answer.status != 403,
                "{what} with a client token should be admitted, got {}: {}",
                answer.status,
                answer.text()
            );
        } else {
            answer.problem(403, "forbidden");
        }
        assert_eq!(
            endpoint
                .access
                .admits_client(fenghua_registry::domain::role::ClientScope::ALL),
            public || is(CLIENT_ROUTES, &endpoint.method, endpoint.path),
            "{what}: the route table and the literal list agree"
        );

        // A client with only `certificates:verify`.
        let answer = call(&app, &endpoint.method, &path, Some(&verify_only.token)).await;
        let admitted = public
            || (endpoint.method == Method::POST && endpoint.path == "/api/v1/certificates/verify")
            || (endpoint.method == Method::GET
                && ["/api/v1/areas", "/api/v1/codes"].contains(&endpoint.path));
        if admitted {
            assert!(
                answer.status != 401 && answer.status != 403,
                "{what}: {}",
                answer.status
            );
        } else {
            answer.problem(403, "forbidden");
        }

        // Staff tokens on the client-only routes.
        if is(CLIENT_ONLY_ROUTES, &endpoint.method, endpoint.path) {
            for (role, token) in &staff {
                let answer = call(&app, &endpoint.method, &path, Some(token)).await;
                assert_eq!(answer.status, 403, "{what} as {role}");
                answer.problem(403, "forbidden");
            }
        }
        tried += 1;
    }
    assert_eq!(tried, endpoints().len());

    // A user row with the role `integration` cannot sign in to anything.
    if let Some(session) = integration_user_session(&app).await {
        for path in ["/api/v1/me", "/api/v1/applications", "/api/v1/codes"] {
            let answer = call(&app, &Method::GET, path, Some(&session.access_token)).await;
            answer.problem(401, "invalid_token");
        }
    }
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
