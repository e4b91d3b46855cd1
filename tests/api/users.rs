//! Admin user management: create, read, list, change, with optimistic concurrency.

use serde_json::{json, Value};

use fenghua_registry::domain::role::Role;

use crate::helpers::{patch, spawn_app, Answer, TestApp};
use crate::session::{Session, JINPING, PASSWORD, XIKOU};

async fn create(app: &TestApp, admin: &Session, body: Value) -> Answer {
    app.post_as(admin, "/api/v1/users", &body).await
}

/// PATCH of the user `id` with an optional `If-Match`.
async fn patch_user(
    app: &TestApp,
    admin: &Session,
    id: &str,
    if_match: Option<&str>,
    body: Value,
) -> Answer {
    patch(app, admin, &format!("/api/v1/users/{id}"), if_match, &body).await
}

async fn user_count(app: &TestApp, admin: &Session) -> usize {
    app.get_as(admin, "/api/v1/users?limit=200").await.json()["items"]
        .as_array()
        .unwrap()
        .len()
}

#[actix_web::test]
async fn an_admin_creates_a_caseworker_who_can_sign_in() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = create(
        &app,
        &admin,
        json!({
            "username": "Sun.Jiu",
            "display_name": "孙九",
            "role": "caseworker",
            "towns": [XIKOU, JINPING, XIKOU],
            "password": PASSWORD
        }),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let user = answer.json();
    assert_eq!(user["username"], "sun.jiu");
    assert_eq!(user["display_name"], "孙九");
    assert_eq!(user["towns"], json!([JINPING, XIKOU]));
    assert_eq!(user["disabled"], false);
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        answer.header("location"),
        Some(format!("/api/v1/users/{id}").as_str())
    );
    assert_eq!(answer.header("etag"), Some("\"1\""));

    let read = app.get_as(&admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(read.json(), user);
    assert_eq!(app.login("sun.jiu", PASSWORD).await.status, 200);

    let event = app
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.action == "user_create" && e.entity_id.as_deref() == Some(id))
        .expect("audited");
    assert_eq!(event.actor_username.as_deref(), Some("admin"));
    let changes = event.changes.unwrap();
    assert!(
        changes.contains("caseworker") && !changes.contains(PASSWORD),
        "{changes}"
    );
}

#[actix_web::test]
async fn invalid_users_are_refused_with_the_field_named_and_nothing_created() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let before = user_count(&app, &admin).await;
    let events_before = app.audit_events().await.len();
    let cases = [
        (
            json!({"username": "ab", "role": "auditor", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "zhou", "role": "auditor", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "zhou", "role": "auditor", "password": "Password1234"}),
            "password",
        ),
        (
            json!({"username": "zhou", "role": "caseworker", "password": PASSWORD}),
            "towns",
        ),
        (
            json!({"username": "zhou", "role": "caseworker", "towns": ["330213999"], "password": PASSWORD}),
            "towns[0]",
        ),
        (
            json!({"username": "zhou", "role": "caseworker", "towns": ["330213"], "password": PASSWORD}),
            "towns[0]",
        ),
        (
            json!({"username": "zhou", "role": "auditor", "towns": [XIKOU], "password": PASSWORD}),
            "towns",
        ),
        (
            json!({"username": "zhou", "role": "integration", "password": PASSWORD}),
            "role",
        ),
        (
            json!({"username": "zhou", "role": "superuser", "password": PASSWORD}),
            "role",
        ),
        (json!({"username": "zhou", "role": "auditor"}), "password"),
        (
            json!({"username": "zhou", "role": "auditor", "password": PASSWORD, "is_admin": true}),
            "is_admin",
        ),
        (
            json!({"username": "zhou", "role": "auditor", "password": PASSWORD, "display_name": "名".repeat(101)}),
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let answer = create(&app, &admin, body.clone()).await;
        let problem = answer.problem(422, "validation_failed");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {problem}");
    }
    assert_eq!(user_count(&app, &admin).await, before);
    assert_eq!(app.audit_events().await.len(), events_before);

    let taken = create(
        &app,
        &admin,
        json!({"username": "ADMIN", "role": "auditor", "password": PASSWORD}),
    )
    .await;
    taken.problem(409, "username_taken");
}

#[actix_web::test]
async fn updates_need_the_current_etag() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = app.create_user("qian", Role::Caseworker, &[JINPING]).await;

    patch_user(&app, &admin, &id, None, json!({"towns": [XIKOU]}))
        .await
        .problem(428, "precondition_required");
    patch_user(&app, &admin, &id, Some("\"7\""), json!({"towns": [XIKOU]}))
        .await
        .problem(412, "precondition_failed");
    patch_user(
        &app,
        &admin,
        &id,
        Some("garbage"),
        json!({"towns": [XIKOU]}),
    )
    .await
    .problem(412, "precondition_failed");
    // A change that breaks a rule is refused for it, even on a stale version.
    let stale_and_bad = patch_user(&app, &admin, &id, Some("\"7\""), json!({"towns": []})).await;
    let problem = stale_and_bad.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "towns");
    assert_eq!(problem["errors"][0]["code"], "required");

    let first = patch_user(
        &app,
        &admin,
        &id,
        Some("\"1\""),
        json!({"towns": [XIKOU], "display_name": "钱"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["towns"], json!([XIKOU]));
    assert_eq!(first.header("etag"), Some("\"2\""));
    // A second writer holding the old ETag loses, and its change is not applied.
    patch_user(
        &app,
        &admin,
        &id,
        Some("\"1\""),
        json!({"towns": [JINPING]}),
    )
    .await
    .problem(412, "precondition_failed");
    let now = app
        .get_as(&admin, &format!("/api/v1/users/{id}"))
        .await
        .json();
    assert_eq!(now["towns"], json!([XIKOU]));

    let cleared = patch_user(
        &app,
        &admin,
        &id,
        Some("\"2\""),
        json!({"display_name": null}),
    )
    .await;
    assert_eq!(cleared.json()["display_name"], Value::Null);

    let update = app
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.action == "user_update")
        .unwrap();
    let changes: Value = serde_json::from_str(&update.changes.unwrap()).unwrap();
    assert_eq!(changes["towns"], json!({"from": [JINPING], "to": [XIKOU]}));
}

#[actix_web::test]
async fn role_changes_keep_towns_consistent_and_the_last_admin_stays() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = app.create_user("zheng", Role::Caseworker, &[JINPING]).await;
    let promoted = patch_user(&app, &admin, &id, Some("\"1\""), json!({"role": "auditor"})).await;
    assert_eq!(promoted.status, 200, "{}", promoted.text());
    assert_eq!(promoted.json()["towns"], json!([]));
    patch_user(
        &app,
        &admin,
        &id,
        Some("\"2\""),
        json!({"role": "caseworker"}),
    )
    .await
    .problem(422, "validation_failed");

    let me = app.get_as(&admin, "/api/v1/me").await.json();
    let admin_id = me["id"].as_str().unwrap();
    patch_user(
        &app,
        &admin,
        admin_id,
        Some("\"1\""),
        json!({"disabled": true}),
    )
    .await
    .problem(409, "last_admin");
    patch_user(
        &app,
        &admin,
        admin_id,
        Some("\"1\""),
        json!({"role": "auditor"}),
    )
    .await
    .problem(409, "last_admin");
    // With a second admin, the first may step down.
    patch_user(&app, &admin, &id, Some("\"2\""), json!({"role": "admin"})).await;
    let answer = patch_user(
        &app,
        &admin,
        admin_id,
        Some("\"1\""),
        json!({"role": "auditor"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[actix_web::test]
async fn unknown_users_are_404() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let unknown = uuid::Uuid::new_v4();
    app.get_as(&admin, &format!("/api/v1/users/{unknown}"))
        .await
        .problem(404, "not_found");
    app.get_as(&admin, "/api/v1/users/not-a-uuid")
        .await
        .problem(404, "not_found");
    patch_user(
        &app,
        &admin,
        &unknown.to_string(),
        Some("\"1\""),
        json!({"disabled": true}),
    )
    .await
    .problem(404, "not_found");
}

#[actix_web::test]
async fn an_admin_unlocks_a_locked_account() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = app.create_user("locked.one", Role::Auditor, &[]).await;
    for _ in 0..5 {
        app.login("locked.one", "wrong password here").await;
    }
    let user = app.get_as(&admin, &format!("/api/v1/users/{id}")).await;
    assert!(user.json()["locked_until"].is_string(), "{}", user.text());
    app.login("locked.one", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let etag = user.header("etag").unwrap().to_owned();
    let unlocked = patch_user(&app, &admin, &id, Some(&etag), json!({"unlock": true})).await;
    assert_eq!(unlocked.json()["locked_until"], Value::Null);
    assert_eq!(app.login("locked.one", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn users_are_listed_in_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for i in 0..5 {
        app.create_user(&format!("user{i}"), Role::Auditor, &[])
            .await;
    }
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/users?limit=2".to_owned());
    while let Some(path) = next {
        let page = app.get_as(&admin, &path).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned()),
        );
        next = page["next_cursor"]
            .as_str()
            .map(|c| format!("/api/v1/users?limit=2&cursor={c}"));
    }
    assert_eq!(seen, ["admin", "user0", "user1", "user2", "user3", "user4"]);

    let bad = app.get_as(&admin, "/api/v1/users?limit=0").await;
    assert_eq!(
        bad.problem(422, "validation_failed")["errors"][0]["field"],
        "limit"
    );
    let bad = app.get_as(&admin, "/api/v1/users?cursor=nonsense").await;
    assert_eq!(
        bad.problem(422, "validation_failed")["errors"][0]["field"],
        "cursor"
    );
    let bad = app.get_as(&admin, "/api/v1/users?limit=abc").await;
    assert_eq!(
        bad.problem(422, "validation_failed")["errors"][0]["field"],
        "limit"
    );
    let bad = app.get_as(&admin, "/api/v1/users?sort=name").await;
    assert_eq!(
        bad.problem(422, "validation_failed")["errors"][0]["field"],
        "sort"
    );
}
