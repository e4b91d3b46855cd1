//! The audit trail: what it records, how it is searched, and that tampering is found.

use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use fenghua_registry::db::{self, DbConn};
use fenghua_registry::domain::role::Role;

use crate::helpers::{spawn_app, TestApp};
use crate::session::PASSWORD;

async fn sql(app: &TestApp, statements: impl Into<String>) -> Result<(), String> {
    let statements = statements.into();
    db::run(&app.state.pool, move |conn: &mut DbConn| {
        Ok(conn.batch_execute(&statements).map_err(|e| e.to_string()))
    })
    .await
    .unwrap()
}

async fn verify(app: &TestApp, session: &crate::session::Session) -> Value {
    let answer = app.get_as(session, "/api/v1/audit-events/verify").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// Statements that remove the append-only guard, as someone with database access could.
fn drop_guard(app: &TestApp) -> &'static str {
    if app.is_postgres() {
        "DROP TRIGGER audit_events_no_change ON audit_events"
    } else {
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete"
    }
}

#[actix_web::test]
async fn the_chain_verifies_and_an_edited_row_is_found() {
    let app = spawn_app().await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    app.login("auditor", "a wrong password!").await;
    app.login("auditor", PASSWORD).await;

    let report = verify(&app, &auditor).await;
    assert_eq!(report["valid"], true, "{report}");
    let count = app.audit_events().await.len() as i64;
    assert_eq!(report["events_checked"], count);
    assert_eq!(report["head_seq"], count);
    assert_eq!(report["first_broken"], Value::Null);

    let failed = app
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.action == "login_failed")
        .unwrap()
        .seq;
    let edit = format!("UPDATE audit_events SET outcome = 'success' WHERE seq = {failed}");

    // The table refuses changes as it stands.
    let refused = sql(&app, edit.clone()).await;
    assert!(refused.unwrap_err().contains("append-only"));
    let refused = sql(&app, "DELETE FROM audit_events WHERE seq = 2").await;
    assert!(refused.is_err());

    // Someone with database access removes the guard and rewrites the failed login.
    sql(&app, drop_guard(&app)).await.unwrap();
    sql(&app, edit).await.unwrap();
    let report = verify(&app, &auditor).await;
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["first_broken"],
        json!({"seq": failed, "problem": "hash_mismatch"})
    );
    assert_eq!(report["events_checked"], failed - 1);
}

#[actix_web::test]
async fn a_deleted_row_breaks_the_chain() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for _ in 0..3 {
        app.login("admin", PASSWORD).await;
    }
    sql(&app, drop_guard(&app)).await.unwrap();
    sql(&app, "DELETE FROM audit_events WHERE seq = 3")
        .await
        .unwrap();
    let report = verify(&app, &admin).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["first_broken"]["seq"], 4);
    assert_eq!(report["first_broken"]["problem"], "sequence_gap");
}

#[actix_web::test]
async fn concurrent_writers_keep_one_unbroken_chain() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.create_user("auditor", Role::Auditor, &[]).await;
    let attempts = (0..12).map(|i| {
        let password = if i % 3 == 0 {
            "wrong password !!"
        } else {
            PASSWORD
        };
        app.login(if i % 2 == 0 { "admin" } else { "auditor" }, password)
    });
    let answers = futures_util::future::join_all(attempts).await;
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 401));
    let report = verify(&app, &admin).await;
    assert_eq!(report["valid"], true, "{report}");
    let events = app.audit_events().await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
}

#[actix_web::test]
async fn events_are_searched_by_actor_action_and_time_and_paged() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    app.login("auditor", "wrong password !!").await;

    let page = app
        .get_as(&auditor, "/api/v1/audit-events?action=login")
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let items = page.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(items
        .iter()
        .all(|e| e["action"] == "login" && e["outcome"] == "success"));
    assert!(
        items[0]["seq"].as_i64() > items[1]["seq"].as_i64(),
        "newest first"
    );
    assert!(items.iter().all(|e| e["request_id"].is_string()));

    let mine = app
        .get_as(
            &admin,
            &format!("/api/v1/audit-events?actor={}", auditor.user_id),
        )
        .await
        .json();
    let actions: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["login_failed", "login"]);

    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let none = app
        .get_as(&admin, &format!("/api/v1/audit-events?from={future}"))
        .await
        .json();
    assert_eq!(none["items"], json!([]));

    let mut seen = 0;
    let mut next = Some("/api/v1/audit-events?limit=1".to_owned());
    while let Some(path) = next {
        let page = app.get_as(&admin, &path).await.json();
        seen += page["items"].as_array().unwrap().len();
        next = page["next_cursor"]
            .as_str()
            .map(|c| format!("/api/v1/audit-events?limit=1&cursor={c}"));
    }
    assert_eq!(seen, app.audit_events().await.len());

    for (query, field) in [
        ("action=frobnicate", "action"),
        ("actor=not-a-uuid", "actor"),
        ("from=yesterday", "from"),
        ("limit=500", "limit"),
    ] {
        let answer = app
            .get_as(&admin, &format!("/api/v1/audit-events?{query}"))
            .await;
        assert_eq!(
            answer.problem(422, "validation_failed")["errors"][0]["field"],
            field,
            "{query}"
        );
    }
}

#[actix_web::test]
async fn a_refused_change_leaves_no_event() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let before = app.audit_events().await.len();
    let taken = app
        .post_as(
            &admin,
            "/api/v1/users",
            &json!({"username": "admin", "role": "auditor", "password": PASSWORD}),
        )
        .await;
    taken.problem(409, "username_taken");
    assert_eq!(app.audit_events().await.len(), before);
}
