//! The audit trail: what it records, how it is searched, and that tampering is found.

use serde_json::{json, Value};

use fenghua_registry::audit;
use fenghua_registry::db::{self};
use fenghua_registry::domain::role::Role;

use crate::helpers::{spawn_app, try_sql, verify_chain, TestApp};
use crate::session::PASSWORD;

async fn verify_full(app: &TestApp, session: &crate::session::Session) -> Value {
    let answer = app
        .get_as(session, "/api/v1/audit-events/verify?full=true")
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// Statements that remove the append-only guard, as someone with database access could.
fn drop_guard(app: &TestApp) -> &'static str {
    if app.is_postgres() {
        "DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events"
    } else {
        "DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete"
    }
}

#[actix_web::test]
async fn the_chain_verifies_and_an_edited_row_is_found() {
    let app = spawn_app().await;
    let auditor = app.session("auditor", Role::Auditor, &[]).await;
    app.login("auditor", "a wrong password!").await;
    app.login("auditor", PASSWORD).await;

    let report = verify_chain(&app, &auditor).await;
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
    let refused = try_sql(&app, edit.clone()).await;
    assert!(refused.unwrap_err().contains("append-only"));
    let refused = try_sql(&app, "DELETE FROM audit_events WHERE seq = 2").await;
    assert!(refused.is_err());

    // Someone with database access removes the guard and rewrites the failed login.
    try_sql(&app, drop_guard(&app)).await.unwrap();
    try_sql(&app, edit).await.unwrap();
    // The edit lies before the signed checkpoint of the clean walk above and leaves the stored
    // hashes as they were: the incremental walk trusts what that walk found. The full walk
    // recomputes every hash.
    let report = verify_chain(&app, &auditor).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["from_seq"], count);
    let report = verify_full(&app, &auditor).await;
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
    try_sql(&app, drop_guard(&app)).await.unwrap();
    try_sql(&app, "DELETE FROM audit_events WHERE seq = 3")
        .await
        .unwrap();
    let report = verify_chain(&app, &admin).await;
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
    let report = verify_chain(&app, &admin).await;
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

/// The insider's rewrite: event `seq` gets another outcome, and it and every later event get
/// their links and hashes recomputed with plain SHA-256 ([`audit::link_hash`]), as anyone can
/// who can read the code and write the table but does not hold AUDIT_CHAIN_KEY.
async fn rewrite_from(app: &TestApp, seq: i64) {
    try_sql(app, drop_guard(app)).await.unwrap();
    let mut statements = String::new();
    let mut previous: Option<String> = None;
    for mut row in app
        .audit_events()
        .await
        .into_iter()
        .filter(|r| r.seq >= seq)
    {
        if row.seq == seq {
            row.outcome = if row.outcome == "success" {
                "failure"
            } else {
                "success"
            }
            .into();
        }
        if let Some(previous) = previous {
            row.prev_hash = previous;
        }
        row.hash = audit::link_hash(&row);
        statements += &format!(
            "UPDATE audit_events SET outcome = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {};\n",
            row.outcome, row.prev_hash, row.hash, row.seq
        );
        previous = Some(row.hash);
    }
    try_sql(app, statements).await.unwrap();
}

/// Events enough to edit one in the middle and have a tail after it.
async fn some_events(app: &TestApp) {
    for i in 0..6 {
        let password = if i % 2 == 0 {
            PASSWORD
        } else {
            "a wrong password!"
        };
        app.login("admin", password).await;
    }
}

#[actix_web::test]
async fn an_event_edited_and_every_later_hash_recomputed_is_named() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    some_events(&app).await;
    let checkpoint = verify_chain(&app, &admin).await;
    assert_eq!(checkpoint["valid"], true, "{checkpoint}");
    some_events(&app).await;
    let edited = 3;
    rewrite_from(&app, edited).await;

    // The plain SHA-256 chain holds: this is the rewrite the key is there to catch.
    let events = app.audit_events().await;
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert!(events.iter().all(|row| audit::link_hash(row) == row.hash));

    // The incremental walk finds the signed checkpoint's event with another hash and walks
    // the whole trail; the full walk does so at once. Both name the edited event.
    for report in [
        verify_chain(&app, &admin).await,
        verify_full(&app, &admin).await,
    ] {
        assert_eq!(report["valid"], false, "{report}");
        assert_eq!(
            report["first_broken"],
            json!({"seq": edited, "problem": "mac_mismatch"}),
            "{report}"
        );
        assert_eq!(report["events_checked"], edited - 1);
    }

    // Removing the MACs of the rewritten events does not pass them off as older ones.
    try_sql(
        &app,
        format!("UPDATE audit_events SET mac = NULL WHERE seq >= {edited}"),
    )
    .await
    .unwrap();
    let report = verify_chain(&app, &admin).await;
    assert_eq!(
        report["first_broken"],
        json!({"seq": edited, "problem": "mac_mismatch"}),
        "{report}"
    );
}

#[actix_web::test]
async fn a_rewrite_of_events_not_yet_checkpointed_is_named() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    some_events(&app).await;
    let edited = app.audit_events().await.len() as i64 - 2;
    rewrite_from(&app, edited).await;
    let report = verify_chain(&app, &admin).await;
    assert_eq!(
        report["first_broken"],
        json!({"seq": edited, "problem": "mac_mismatch"}),
        "{report}"
    );
    assert_eq!(report["from_seq"], 0);
}

#[actix_web::test]
async fn a_cut_tail_is_found_by_the_signed_checkpoint() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    some_events(&app).await;
    let report = verify_chain(&app, &admin).await;
    let head = report["head_seq"].as_i64().unwrap();
    // The insider cuts the trail and, to take the file's anchor out of the question, the
    // checkpoint file goes too: the signed checkpoint in the database still finds the cut.
    try_sql(&app, drop_guard(&app)).await.unwrap();
    try_sql(
        &app,
        format!("DELETE FROM audit_events WHERE seq > {}", head - 3),
    )
    .await
    .unwrap();
    std::fs::remove_file(fenghua_registry::audit_checkpoint::path(
        &app.state.config.data_dir,
    ))
    .unwrap();
    let report = verify_chain(&app, &admin).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(
        report["first_broken"],
        json!({"seq": head, "problem": "checkpoint_missing"}),
        "{report}"
    );
    assert_eq!(report["anchors"], json!([]));
}

#[actix_web::test]
async fn a_forged_or_removed_checkpoint_is_found() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    some_events(&app).await;
    verify_chain(&app, &admin).await;
    some_events(&app).await;
    // The insider rewrites from event 2 and writes a checkpoint at the new head, hoping the
    // incremental walk starts there: with a MAC made without the key (plain SHA-256), and
    // with the head event's own MAC copied over.
    rewrite_from(&app, 2).await;
    let head = app.audit_events().await.last().unwrap().clone();
    for mac in [
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            format!("{}\n{}", head.seq, head.hash).as_bytes(),
        )),
        head.mac.clone().unwrap(),
    ] {
        try_sql(
            &app,
            format!(
                "DELETE FROM audit_chain_checkpoints WHERE seq = {seq};
                 INSERT INTO audit_chain_checkpoints (seq, hash, mac, created_at)
                 VALUES ({seq}, '{hash}', '{mac}', '2026-12-06 00:00:00')",
                seq = head.seq,
                hash = head.hash
            ),
        )
        .await
        .unwrap();
        let report = verify_chain(&app, &admin).await;
        assert_eq!(
            report["first_broken"],
            json!({"seq": head.seq, "problem": "checkpoint_forged"}),
            "{report}"
        );
    }
    // Every checkpoint removed (the migration writes the first, so there is always one).
    try_sql(&app, "DELETE FROM audit_chain_checkpoints")
        .await
        .unwrap();
    let report = verify_chain(&app, &admin).await;
    assert_eq!(
        report["first_broken"],
        json!({"seq": 0, "problem": "checkpoint_missing"}),
        "{report}"
    );
}

#[actix_web::test]
async fn a_verification_after_a_clean_walk_starts_at_its_checkpoint() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    some_events(&app).await;
    let first = verify_chain(&app, &admin).await;
    let head = first["head_seq"].as_i64().unwrap();
    assert_eq!(first["from_seq"], 0);
    assert_eq!(first["events_checked"], head);

    some_events(&app).await;
    let total = app.audit_events().await.len() as i64;
    let second = verify_chain(&app, &admin).await;
    assert_eq!(second["valid"], true, "{second}");
    assert_eq!(
        second["from_seq"], head,
        "starts at the last signed checkpoint"
    );
    assert_eq!(
        second["events_checked"],
        total - head,
        "reads only the new events"
    );
    assert_eq!(second["head_seq"], total);

    let again = verify_chain(&app, &admin).await;
    assert_eq!(again["from_seq"], total);
    assert_eq!(again["events_checked"], 0);
    assert_eq!(again["head_seq"], total);

    let full = verify_full(&app, &admin).await;
    assert_eq!(full["valid"], true, "{full}");
    assert_eq!(full["from_seq"], 0);
    assert_eq!(full["events_checked"], total);
}

/// An existing deployment: its events have no MAC. The migration that brings the key
/// (2026-12-06-000011) starts the keyed chain at the head as it stands; the service signs that
/// start when it starts; the old events verify by their hashes, the new ones by their MACs.
#[actix_web::test]
async fn a_trail_from_before_the_key_still_verifies_after_the_upgrade() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    some_events(&app).await;
    let backend = if app.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let migration = |file: &str| {
        std::fs::read_to_string(format!(
            "{}/migrations/{backend}/2026-12-06-000011_audit_anchor/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    // Back to the trail as it was before the key: no MACs, no checkpoints; then the upgrade.
    try_sql(&app, migration("down.sql")).await.unwrap();
    try_sql(&app, migration("up.sql")).await.unwrap();
    let old = app.audit_events().await;
    assert!(old.iter().all(|row| row.mac.is_none()));
    let old_head = old.last().unwrap().seq;
    db::run(&app.state.pool, |conn| Ok(audit::anchor::sign_start(conn)?))
        .await
        .unwrap();

    let report = verify_full(&app, &admin).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["events_checked"], old_head);
    some_events(&app).await;
    let report = verify_chain(&app, &admin).await;
    assert_eq!(report["valid"], true, "{report}");
    assert!(app
        .audit_events()
        .await
        .iter()
        .all(|row| row.seq <= old_head || row.mac.is_some()));

    // A rewrite of old events recomputed up to the start is found at the start (their own
    // MACs do not exist to name them); one of new events is named.
    rewrite_from(&app, old_head + 2).await;
    let report = verify_chain(&app, &admin).await;
    assert_eq!(
        report["first_broken"],
        json!({"seq": old_head + 2, "problem": "mac_mismatch"}),
        "{report}"
    );
    rewrite_from(&app, 2).await;
    let report = verify_full(&app, &admin).await;
    assert_eq!(
        report["first_broken"],
        json!({"seq": old_head, "problem": "checkpoint_mismatch"}),
        "{report}"
    );
}

#[actix_web::test]
async fn a_checkpoint_altered_before_the_last_is_found_by_the_full_walk() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    some_events(&app).await;
    let middle = verify_chain(&app, &admin).await["head_seq"]
        .as_i64()
        .unwrap();
    some_events(&app).await;
    verify_chain(&app, &admin).await;
    // Moved to another event's hash: its MAC no longer holds.
    try_sql(
        &app,
        format!(
            "UPDATE audit_chain_checkpoints SET hash = (SELECT hash FROM audit_events WHERE seq = 1)
             WHERE seq = {middle}"
        ),
    )
    .await
    .unwrap();
    let report = verify_full(&app, &admin).await;
    assert_eq!(
        report["first_broken"],
        json!({"seq": middle, "problem": "checkpoint_forged"}),
        "{report}"
    );
}
